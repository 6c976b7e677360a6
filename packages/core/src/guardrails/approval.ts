/**
 * `approval`: a human must approve this plan before the action runs.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import * as Approval from "./approvalRecord"
import { attempt } from "./internal"

/** Options of `approval`. */
export interface ApprovalOptions {
  /** Name in decision records; default `approval`. */
  readonly name?: string | undefined
  /** Applies only when this holds (default: always). */
  readonly when?: ((ctx: GuardrailContext) => boolean) | undefined
  /** Why a human must decide (shown in the approval request). */
  readonly reason: string | ((ctx: GuardrailContext) => string)
}

/**
 * NeedsApproval unless an approval for this incident is recorded in the store under
 * `approval:<incidentId>` (see `Guardrail.Approval`) for this very plan (`planDigest ===
 * ctx.planDigest`) and not expired (`expiresAt > ctx.now`). A changed plan, an expired or a
 * malformed record asks again. Reading an approval takes nothing, so `acquire` equals `check`.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const approveDrains = Guardrail.approval({
 *   when: (ctx) => ctx.action.kind === "k8s.drainNode",
 *   reason: "draining a node moves every pod on it"
 * })
 * ```
 */
export const approval = (options: ApprovalOptions): Guardrail.Guardrail<never> => {
  const name = options.name ?? "approval"
  return Guardrail.make<never>({
    name,
    recheckOnResume: true,
    check: (ctx) =>
      Effect.gen(function*() {
        if (options.when) {
          const applies = attempt(name, "whether approval applies", () => options.when!(ctx))
          if (!applies.ok) return applies.result
          if (!applies.value) return Guardrail.pass
        }
        const why = attempt(name, "the reason", () => (typeof options.reason === "string" ? options.reason : options.reason(ctx)))
        const reason = why.ok ? why.value : `approval required for ${ctx.action.kind}`
        const found = yield* Approval.read(ctx.incidentId)
        switch (found._tag) {
          case "None":
            return Guardrail.needsApproval(reason)
          case "Malformed":
            return Guardrail.needsApproval(`${reason} (the recorded approval is malformed: ${found.message})`)
          case "Found": {
            const r = found.record
            if (r.planDigest !== ctx.planDigest) {
              return Guardrail.needsApproval(`${reason} (the approval by ${r.approver} was for another plan; the plan changed)`)
            }
            if (!(r.expiresAt > ctx.now)) {
              return Guardrail.needsApproval(`${reason} (the approval by ${r.approver} expired at ${new Date(r.expiresAt).toISOString()})`)
            }
            return Guardrail.pass
          }
        }
      })
  })
}
