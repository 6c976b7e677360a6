/**
 * `perMinuteCap`: a hard cap of units per 60 s whose excess is rejected and escalated
 * ("kills_per_minute_cap (default 20) backend terminations per minute — rejects excess over
 * cap and escalates").
 *
 * @since 0.1.0
 */
import type * as Guardrail from "../Guardrail"
import type { GuardrailContext } from "../Guardrail"
import { type Count, formatMs } from "./internal"
import { windowGuardrail } from "./window"

/** Options of `perMinuteCap`. */
export interface PerMinuteCapOptions {
  /** Name in decision records and in the Deny reason (e.g. `kills_per_minute_cap`); default `per_minute_cap`. */
  readonly name?: string | undefined
  /** The budget's key (see `Guardrail.keys`). */
  readonly key: (ctx: GuardrailContext) => string
  /** Units per minute: a number or a `Config` (e.g. `Config.Int("kills_per_minute_cap").pipe(Config.withDefault(20))`). */
  readonly max: Count
  /** Units one action takes (default 1): an action terminating N sessions takes N. */
  readonly weight?: ((ctx: GuardrailContext) => number) | undefined
}

/** The cap's window: one minute. */
export const perMinuteWindowMs = 60_000

/**
 * Like `rateLimit` over 60 s, with weighted acquires, and a Deny that says the excess is rejected
 * and must be escalated. A batch is all-or-nothing: an action asking for more units than remain is
 * denied whole (a planner that wants partial progress plans one action per unit).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { Guardrail } from "@byteport/core"
 * const killsPerMinute = Guardrail.perMinuteCap({
 *   name: "kills_per_minute_cap",
 *   key: Guardrail.keys.perTarget("pg-terminate"),
 *   max: Config.Int("kills_per_minute_cap").pipe(Config.withDefault(20)),
 *   weight: (ctx) => Array.isArray(ctx.action.params["pids"]) ? ctx.action.params["pids"].length : 1
 * })
 * ```
 */
export const perMinuteCap = (options: PerMinuteCapOptions): Guardrail.Guardrail<never> => {
  const name = options.name ?? "per_minute_cap"
  return windowGuardrail({
    name,
    key: options.key,
    max: options.max,
    windowMs: perMinuteWindowMs,
    weight: options.weight,
    denied: (d) =>
      `${name} ${d.max} reached: ${d.count} used in the last minute for ${d.key}, ${d.weight} more requested; ` +
      `the excess is rejected and escalated` +
      (d.retryAfterMs !== undefined ? ` (capacity frees in ${formatMs(d.retryAfterMs)})` : ""),
    oversized: (d) =>
      `${name} ${d.max} exceeded by one action of ${d.weight} units for ${d.key}; the excess is rejected and escalated`
  })
}
