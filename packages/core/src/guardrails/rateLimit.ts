/**
 * `rateLimit`: at most `max` actions per sliding `window` for each key ("1 bump/pod/24h",
 * "max 1 rollback/deployment/hour", "max 3 restarts/hour").
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import type * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import { type Count, formatMs, misconfigured, positiveMillis, show } from "./internal"
import { windowGuardrail } from "./window"

/** Options of `rateLimit`. */
export interface RateLimitOptions {
  /** Name in decision records; defaults to `rate_limit(<max>/<window>)`. */
  readonly name?: string | undefined
  /** The budget's key (see `Guardrail.keys`). Guardrails building the same key share the budget. */
  readonly key: (ctx: GuardrailContext) => string
  /** Actions (units) allowed per window: a number or a `Config` (e.g. `Config.Int("max_restarts_per_hour")`). */
  readonly max: Count
  /** The sliding window. */
  readonly window: Duration.Input
  /** Units one action takes (default 1), e.g. the number of sessions a batch terminates. */
  readonly weight?: ((ctx: GuardrailContext) => number) | undefined
}

/**
 * A counted sliding window in the GuardrailStore. `check` peeks (Deny with `retryAfterMs` when the
 * window is full, never a write); `acquire` takes the units atomically; its `release` refunds them.
 * Invalid options give a guardrail that denies every action, naming the problem.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * // max 1 rollback per deployment per hour
 * const oneRollbackPerHour = Guardrail.rateLimit({
 *   name: "rollback_per_deployment_per_hour",
 *   key: Guardrail.keys.perTargetKind("rollback"),
 *   max: 1,
 *   window: "1 hour"
 * })
 * ```
 */
export const rateLimit = (options: RateLimitOptions): Guardrail.Guardrail<never> => {
  const windowMs = positiveMillis(options.window)
  const windowText = windowMs === undefined ? show(options.window) : formatMs(windowMs)
  const name = options.name ?? `rate_limit(${typeof options.max === "number" ? options.max : "config"}/${windowText})`
  if (windowMs === undefined) return misconfigured(name, `window must be a positive finite duration (got ${windowText})`)
  return windowGuardrail({
    name,
    key: options.key,
    max: options.max,
    windowMs,
    weight: options.weight,
    denied: (d) =>
      `${name}: ${d.count} of ${d.max} used in the last ${windowText} for ${d.key}` +
      (d.weight > 1 ? ` (${d.weight} requested)` : "") +
      (d.retryAfterMs !== undefined ? `; retry in ${formatMs(d.retryAfterMs)}` : ""),
    oversized: (d) => `${name}: one action asks for ${d.weight} units, more than the ${d.max} allowed per ${windowText} for ${d.key}`
  })
}
