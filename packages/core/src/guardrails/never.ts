/**
 * `never`: a hard prohibition ("never terminate a superuser", "never delete a PersistentVolume",
 * "never bump memory on a genuine_memory_leak").
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import { attempt } from "./internal"

/**
 * Denies whenever `predicate` holds. A predicate that throws is a Deny too (the prohibition
 * could not be ruled out). `reason` may be computed from the context.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const neverDeletePv = Guardrail.never(
 *   (ctx) => ctx.action.kind === "k8s.delete" && ctx.action.target.kind === "k8s/PersistentVolume",
 *   "never delete a PersistentVolume"
 * )
 * ```
 */
export const never = (
  predicate: (ctx: GuardrailContext) => boolean,
  reason: string | ((ctx: GuardrailContext) => string),
  options?: { readonly name?: string | undefined }
): Guardrail.Guardrail<never> => {
  const name = options?.name ?? (typeof reason === "string" ? `never: ${reason}` : "never")
  return Guardrail.make({
    name,
    recheckOnResume: true,
    check: (ctx) =>
      Effect.sync(() => {
        const holds = attempt(name, "the predicate", () => predicate(ctx))
        if (!holds.ok) return holds.result
        if (!holds.value) return Guardrail.pass
        const why = attempt(name, "the reason", () => (typeof reason === "string" ? reason : reason(ctx)))
        return why.ok ? Guardrail.deny(why.value) : why.result
      })
  })
}
