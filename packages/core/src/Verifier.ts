/**
 * A Verifier checks recovery after the plan ran and returns a Verdict. Verification schedules
 * are data (the seed's: retry once at 15 s; retry once at 60 s; re-poll at 30/90/180 s; every
 * 15 s up to 90 s): offsets from the last applied action, so check windows start there. A retry
 * re-checks and never re-acts.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"
import type { Action } from "./Action"
import type { Classification } from "./Classification"
import type * as Fact from "./Fact"
import type { Outcome } from "./Outcome"
import type { Plan } from "./Plan"
import type { Signal } from "./Signal"
import * as V from "./Verdict"

/** What a verifier sees. */
export interface VerifyContext<F> {
  readonly incidentId: string
  readonly signal: Signal
  readonly facts: Fact.Facts<F>
  readonly classification: Classification
  readonly plan: Plan
  readonly outcomes: ReadonlyArray<Outcome>
  /** The actions that were applied, in order. */
  readonly applied: ReadonlyArray<Action>
  /** Epoch ms of the last applied action: "0 OOMKill events since the fix" counts from here. */
  readonly since: number
  /** 1 for the first check, 2 for the first retry … */
  readonly attempt: number
}

/** A verifier. Verifiers never fail: an error is an Inconclusive verdict. */
export type Verifier<F, R = never> = (ctx: VerifyContext<F>) => Effect.Effect<V.Verdict, never, R>

/** When to check, as offsets (ms) from the last applied action. */
export interface VerifySchedule {
  readonly offsets: ReadonlyArray<number>
  readonly description: string
}

const ms = (d: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d))

/** Check right away, and once more after `delay` if the first check fails ("retry once at 15 s"). */
export const retryOnce = (delay: Duration.Input): VerifySchedule => ({
  offsets: [0, ms(delay)],
  description: `check, then retry once at ${Duration.format(Duration.fromInputUnsafe(delay))}`
})

/** Check once, after `delay` ("once at 60 s"). */
export const once = (delay: Duration.Input): VerifySchedule => ({
  offsets: [ms(delay)],
  description: `check once at ${Duration.format(Duration.fromInputUnsafe(delay))}`
})

/** Check at each offset until recovered ("re-poll at 30 s / 90 s / 180 s"). */
export const at = (offsets: ReadonlyArray<Duration.Input>): VerifySchedule => ({
  offsets: offsets.map(ms),
  description: `re-poll at ${offsets.map((o) => Duration.format(Duration.fromInputUnsafe(o))).join(" / ")}`
})

/** Check every `interval` up to `upTo` ("poll every 15 s for up to 90 s"). */
export const every = (interval: Duration.Input, upTo: Duration.Input): VerifySchedule => {
  const i = ms(interval)
  const max = ms(upTo)
  const offsets: Array<number> = []
  for (let t = i; t <= max; t += i) offsets.push(t)
  return { offsets, description: `every ${Duration.format(Duration.fromInputUnsafe(interval))} up to ${Duration.format(Duration.fromInputUnsafe(upTo))}` }
}

/** The seed's schedules, by name. */
export const schedules = {
  /** "retry once at 15s" */
  retryOnceAt15s: retryOnce("15 seconds"),
  /** "retry once at 60s" */
  retryOnceAt60s: retryOnce("60 seconds"),
  /** "re-poll utilization at 30s/90s/180s" */
  repoll30_90_180: at(["30 seconds", "90 seconds", "180 seconds"]),
  /** "poll health endpoint every 15 s for up to 90 s" */
  every15sUpTo90s: every("15 seconds", "90 seconds")
} as const

/**
 * Runs a verifier on a schedule: sleeps until `since + offset` for each offset and checks,
 * stopping at the first Recovered. Returns every verdict, in order (the last one decides).
 */
export const runSchedule = <F, R>(
  verifier: Verifier<F, R>,
  schedule: VerifySchedule,
  ctx: Omit<VerifyContext<F>, "attempt">
): Effect.Effect<ReadonlyArray<V.Verdict>, never, R> =>
  Effect.gen(function*() {
    const verdicts: Array<V.Verdict> = []
    let attempt = 0
    for (const offset of schedule.offsets) {
      attempt++
      const now = yield* Clock.currentTimeMillis
      const wait = ctx.since + offset - now
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      const verdict = yield* verifier({ ...ctx, attempt }).pipe(
        Effect.catchCause((cause) =>
          Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.succeed(V.inconclusive(`verifier died: ${String(cause)}`, t)))
        )
      )
      verdicts.push(verdict)
      if (verdict._tag === "Recovered") break
    }
    return verdicts
  })

/** A verifier made of named checks: Recovered when all pass. */
export const fromChecks = <F, R>(
  checks: (ctx: VerifyContext<F>) => Effect.Effect<ReadonlyArray<V.CheckResult>, unknown, R>
): Verifier<F, R> =>
(ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    return yield* checks(ctx).pipe(
      Effect.map((results) => V.fromChecks(results, now)),
      Effect.catchCause((cause) => Effect.succeed(V.inconclusive(`checks could not run: ${String(cause)}`, now)))
    )
  })
