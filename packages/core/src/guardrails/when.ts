/**
 * `when`: apply a guardrail only to the actions a predicate selects.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import { attempt, noAcquisition } from "./internal"

/**
 * Applies `guardrail` only when `predicate` holds; other actions pass (and take nothing). A
 * predicate that throws is a Deny. The name is the wrapped guardrail's.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const onlyForDrains = Guardrail.when(
 *   (ctx) => ctx.action.kind === "k8s.drainNode",
 *   Guardrail.rateLimit({ key: Guardrail.keys.perKind("drain"), max: 1, window: "30 minutes" })
 * )
 * ```
 */
export const when = <R>(predicate: (ctx: GuardrailContext) => boolean, guardrail: Guardrail.Guardrail<R>): Guardrail.Guardrail<R> => {
  const applies = (ctx: GuardrailContext) => attempt(guardrail.name, "whether it applies", () => predicate(ctx))
  return {
    name: guardrail.name,
    check: (ctx) => {
      const a = applies(ctx)
      if (!a.ok) return Effect.succeed(a.result)
      return a.value ? guardrail.check(ctx) : Effect.succeed(Guardrail.pass)
    },
    acquire: (ctx) => {
      const a = applies(ctx)
      if (!a.ok) return Effect.succeed(noAcquisition(a.result))
      return a.value ? guardrail.acquire(ctx) : Effect.succeed(noAcquisition(Guardrail.pass))
    },
    ...(guardrail.recheckOnResume ? { recheckOnResume: true } : {})
  }
}

/** Selects actions by kind, for `when`: `Guardrail.when(Guardrail.isKind("pg.terminateBackend"), g)`. */
export const isKind = (...kinds: ReadonlyArray<string>) => (ctx: GuardrailContext): boolean => kinds.includes(ctx.action.kind)
