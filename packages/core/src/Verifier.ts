/**
 * A Verifier checks recovery after the plan ran and returns a Verdict. Verification schedules
 * are data (the seed's: retry once at 15 s; retry once at 60 s; re-poll at 30/90/180 s; every
 * 15 s up to 90 s): offsets from the last applied action, so check windows start there. A retry
 * re-checks and never re-acts. `hold` turns each check into a window ("0 OOMKill events in last
 * 5 min"): polls every N s for D, Recovered only when every poll of the window passed.
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

/**
 * A hold window: poll every `everyMs` for `forMs` (a poll at the start, one every `everyMs`, and
 * one at the end). The window passes only when every poll passes; the first poll that does not
 * ends it at once with that poll's verdict.
 */
export interface HoldWindow {
  readonly everyMs: number
  readonly forMs: number
}

/**
 * When to check. `offsets` (ms from the last applied action) start the attempts: the first check
 * and its retries. `polls`: `"until"` (the default) stops at the first attempt that recovers;
 * `"all"` (a re-poll) runs every attempt and records each, the last one's verdict deciding. With
 * `hold`, every attempt is a hold window; a retry starts `offsets[k] - offsets[k-1]` after the
 * scheduled time of the poll that failed the previous window ("retry once at 15 s" → 15 s after
 * the failing poll). A window never starts in the past: when verification begins late (a resumed
 * incident), the window starts then and still lasts its full length.
 */
export interface VerifySchedule {
  readonly offsets: ReadonlyArray<number>
  readonly description: string
  readonly polls?: "until" | "all"
  readonly hold?: HoldWindow
}

const ms = (d: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d))
const fmt = (d: Duration.Input) => Duration.format(Duration.fromInputUnsafe(d))

/** Check right away, and once more after `delay` if the first check fails ("retry once at 15 s"). */
export const retryOnce = (delay: Duration.Input): VerifySchedule => ({
  offsets: [0, ms(delay)],
  description: `check, then retry once at ${fmt(delay)}`
})

/** Check once, after `delay` ("once at 60 s"). */
export const once = (delay: Duration.Input): VerifySchedule => ({
  offsets: [ms(delay)],
  description: `check once at ${fmt(delay)}`
})

/**
 * Re-poll at each offset ("re-poll at 30 s / 90 s / 180 s"): every poll runs and is recorded,
 * whatever the earlier ones said; the verdict is the last poll's.
 */
export const at = (offsets: ReadonlyArray<Duration.Input>): VerifySchedule => ({
  offsets: offsets.map(ms),
  description: `re-poll at ${offsets.map(fmt).join(" / ")}`,
  polls: "all"
})

/** Check every `interval` up to `upTo`, stopping at the first Recovered ("poll every 15 s for up to 90 s"). */
export const every = (interval: Duration.Input, upTo: Duration.Input): VerifySchedule => {
  const i = ms(interval)
  const max = ms(upTo)
  if (!(i > 0) || !Number.isFinite(max)) throw new RangeError(`Verifier.every: the interval must be positive and the bound finite (got ${String(interval)}, ${String(upTo)})`)
  const offsets: Array<number> = []
  for (let t = i; t <= max; t += i) offsets.push(t)
  return { offsets, description: `every ${fmt(interval)} up to ${fmt(upTo)}` }
}

/**
 * Holds the checks of `schedule` over a window: each attempt polls every `window.every` for
 * `window.for`; Recovered only when the window ends with every poll passing; a failing (or
 * inconclusive) poll ends the window at once; then the schedule's retry rule starts a new window.
 * `every` must be positive and `for` at least `every`, both finite; anything else is a RangeError.
 *
 * @example
 * // "0 OOMKill events in last 5 min", retried once 15 s after a failed window
 * Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "30 seconds", for: "5 minutes" })
 */
export const hold = (schedule: VerifySchedule, window: { readonly every: Duration.Input; readonly for: Duration.Input }): VerifySchedule => {
  const everyMs = ms(window.every)
  const forMs = ms(window.for)
  if (!(everyMs > 0) || !Number.isFinite(everyMs) || !Number.isFinite(forMs) || !(forMs >= everyMs)) {
    throw new RangeError(`Verifier.hold: every must be positive and for at least every, both finite (got every ${String(window.every)}, for ${String(window.for)})`)
  }
  return {
    ...schedule,
    hold: { everyMs, forMs },
    description: `hold every ${fmt(everyMs)} for ${fmt(forMs)}; ${schedule.description}`
  }
}

/** The seed's schedules, by name. */
export const schedules = {
  /** "retry once at 15s" */
  retryOnceAt15s: retryOnce("15 seconds"),
  /** "retry once at 60s" */
  retryOnceAt60s: retryOnce("60 seconds"),
  /** "re-poll utilization at 30s/90s/180s": every poll recorded, the last one decides */
  repoll30_90_180: at(["30 seconds", "90 seconds", "180 seconds"]),
  /** "poll health endpoint every 15 s for up to 90 s" */
  every15sUpTo90s: every("15 seconds", "90 seconds")
} as const

/** The offsets (ms from the window's start) of a hold window's polls: 0, every, 2·every … and `forMs`. */
export const windowOffsets = (w: HoldWindow): ReadonlyArray<number> => {
  const out: Array<number> = []
  for (let t = 0; t < w.forMs; t += w.everyMs) out.push(t)
  out.push(w.forMs)
  return out
}

const sleepUntil = (t: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => (t > now ? Effect.sleep(Duration.millis(t - now)) : Effect.void))

/**
 * Runs a verifier on a schedule from `ctx.since` (see {@link VerifySchedule}) and returns every
 * poll's verdict, in order, each with its `poll` position; the last one decides. `onPoll` sees
 * each verdict as it is taken (to journal it). A verifier that dies gives an Inconclusive poll.
 */
export const runSchedule = <F, R, E = never, R2 = never>(
  verifier: Verifier<F, R>,
  schedule: VerifySchedule,
  ctx: Omit<VerifyContext<F>, "attempt">,
  onPoll: (verdict: V.Verdict) => Effect.Effect<void, E, R2> = () => Effect.void
): Effect.Effect<ReadonlyArray<V.Verdict>, E, R | R2> =>
  Effect.gen(function*() {
    const verdicts: Array<V.Verdict> = []
    const check = (attempt: number, poll: V.Poll) =>
      Effect.gen(function*() {
        yield* sleepUntil(ctx.since + poll.offsetMs)
        const verdict = yield* verifier({ ...ctx, attempt }).pipe(
          Effect.catchCause((cause) =>
            Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.succeed(V.inconclusive(`verifier died: ${String(cause)}`, t)))
          )
        )
        const withPoll: V.Verdict = { ...verdict, poll }
        verdicts.push(withPoll)
        yield* onPoll(withPoll)
        return withPoll
      })
    const w = schedule.hold
    let previousEnd = ctx.since
    for (let k = 0; k < schedule.offsets.length; k++) {
      const attempt = k + 1
      const offset = schedule.offsets[k]!
      if (!w) {
        const v = yield* check(attempt, { attempt, poll: 1, offsetMs: offset })
        if (v._tag === "Recovered" && schedule.polls !== "all") break
        continue
      }
      // A window is observed, never reconstructed: one whose start is already past (a resumed
      // incident whose last action was long ago) starts now and still holds for its full length.
      const now = yield* Clock.currentTimeMillis
      const due = k === 0 ? ctx.since + offset : Math.max(ctx.since + offset, previousEnd + offset - schedule.offsets[k - 1]!)
      const start = Math.max(due, now)
      let passed = true
      let index = 0
      for (const at of windowOffsets(w)) {
        index++
        previousEnd = start + at
        const v = yield* check(attempt, {
          attempt,
          poll: index,
          offsetMs: start + at - ctx.since,
          window: { everyMs: w.everyMs, forMs: w.forMs, startedAt: start }
        })
        if (v._tag !== "Recovered") {
          passed = false
          break
        }
      }
      if (passed && schedule.polls !== "all") break
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
