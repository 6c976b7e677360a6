/**
 * The restart budget of a service, shared by every runbook that restarts it: `host.memory.five-class`
 * and `host.memory.runaway` count their restarts (made, or requested from the owner through a
 * hand-off) under one key per service, so together they restart a service at most
 * `max` (default 3) times in any hour. `key` is that key; `guardrail` is the `Guardrail.rateLimit`
 * both register; `used` peeks at the count without taking from it.
 *
 * @example
 * ```ts
 * import { RestartBudget } from "@byteport/host"
 * // five-class's restart and runaway's both draw from this budget
 * const g = RestartBudget.guardrail({ name: "restarts_per_service(3/1h)", max: 3 })
 * ```
 *
 * @since 0.1.0
 */
import { Guardrail, GuardrailStore, TargetRef } from "@byteport/core"
import { Clock, Effect } from "effect"

/** The window of the budget. */
export const WINDOW_MS = 3600_000

/** The default budget: 3 restarts per service per hour (the seed's "max 3 restarts/hour"). */
export const DEFAULT_MAX = 3

/** The budget key of a service (`host.unit:<unit>` for systemd, the workload for Kubernetes / Render). */
export const key = (service: TargetRef.TargetRef): string => `host.service.restarts:${TargetRef.key(service)}`

/** The guardrail key function: the budget of the action's target. */
export const keyOf = (ctx: Guardrail.GuardrailContext): string => key(ctx.action.target)

/** The rate limit on the shared budget: at most `max` restarts of a service per hour, whichever runbook asks. */
export const guardrail = (options: { readonly name: string; readonly max?: number }): Guardrail.Guardrail<never> =>
  Guardrail.rateLimit({ name: options.name, key: keyOf, max: options.max ?? DEFAULT_MAX, window: "1 hour" })

/** The restarts of a service in the last hour (a peek, never a write). */
export const used = (service: TargetRef.TargetRef): Effect.Effect<number, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const now = yield* Clock.currentTimeMillis
    return (yield* store.peekWindow(key(service), WINDOW_MS, now)).count
  })
