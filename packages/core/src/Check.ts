/**
 * A Check is a named, registered condition that plans reference as data (`Until`, `WaitFor`,
 * `Fallback on check`): "disk usage below 80%", "the dependency is healthy".
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { CheckRef } from "./Plan"
import type { CheckResult } from "./Verdict"

/** What a check gets besides its ref. */
export interface CheckContext {
  readonly incidentId: string
  /** Epoch ms of the last applied action (check windows start there). */
  readonly since: number
}

/** A registered check kind. Checks never fail: a check that cannot tell returns ok: false with why. */
export interface Check<R = never> {
  readonly kind: string
  readonly run: (ref: CheckRef, ctx: CheckContext) => Effect.Effect<CheckResult, never, R>
}

/** Builds a Check. */
export const make = <R = never>(
  kind: string,
  run: (ref: CheckRef, ctx: CheckContext) => Effect.Effect<CheckResult, never, R>
): Check<R> => ({ kind, run })

/** Runs an effect as a check: its failure or defect becomes a failed CheckResult. */
export const safely = <R>(name: string, eff: Effect.Effect<CheckResult, unknown, R>): Effect.Effect<CheckResult, never, R> =>
  eff.pipe(Effect.catchCause((cause) => Effect.succeed({ name, ok: false, detail: `check could not run: ${String(cause)}` })))
