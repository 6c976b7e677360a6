/**
 * The verifier of `db.replica.lag`: the lag (LSNs on both servers, through the runbook's
 * tracker) below the threshold (default 30 s), **held**: polled every 10 s for 60 s, Recovered
 * only when every poll of the window passed; a failing poll ends the window and a new one starts
 * 10 s later, until the deadline (default 5 minutes after the last action; the last window must
 * start by then). A reading that cannot be taken is Inconclusive, never Recovered.
 *
 * @since 0.1.0
 */
import { Check, Plan, Verdict, Verifier } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Postgres } from "../Postgres"
import * as ReplicaLag from "../probes/ReplicaLag"

/** The seed's bar: lag under 30 s. */
export const DEFAULT_MAX_LAG_MS = 30_000

/** Schedule options (ms). */
export interface ScheduleOptions {
  /** Poll interval inside a window (default 10 000). */
  readonly everyMs?: number
  /** Window length (default 60 000: the seed's 60 s). */
  readonly holdMs?: number
  /** Windows start until this long after the last action (default 300 000). */
  readonly deadlineMs?: number
}

/** The schedule: hold windows of `holdMs`, one starting every `everyMs` after a failed one, up to the deadline. */
export const schedule = (options: ScheduleOptions = {}): Verifier.VerifySchedule => {
  const every = options.everyMs ?? 10_000
  const hold = options.holdMs ?? 60_000
  const deadline = options.deadlineMs ?? 300_000
  const offsets: Array<number> = []
  for (let t = 0; t <= deadline; t += every) offsets.push(t)
  return Verifier.hold(
    { offsets, description: `a window starting every ${every / 1000} s after a failed one, the last by ${deadline / 1000} s` },
    { every: `${every} millis`, for: `${hold} millis` }
  )
}

/** The verifier: lag below `maxLagMs`. */
export const make = (tracker: ReplicaLag.LagTracker, maxLagMs: number = DEFAULT_MAX_LAG_MS): Verifier.Verifier<unknown, Postgres | ReplicaLag.PgReplica> => () =>
  Effect.gen(function*() {
    const lag = yield* ReplicaLag.poll(tracker)
    return Verdict.fromChecks([{
      name: "replica lag below bar",
      ok: lag.lagMs < maxLagMs,
      detail: `${(lag.lagMs / 1000).toFixed(1)} s ${lag.lagMs < maxLagMs ? "<" : ">="} ${maxLagMs / 1000} s (replayed ${lag.replayLsn ?? "?"}, primary ${lag.primaryLsn})`,
      observed: { lagMs: lag.lagMs, primaryLsn: lag.primaryLsn, replayLsn: lag.replayLsn, receiveLsn: lag.receiveLsn }
    }], lag.at)
  }).pipe(Effect.catchCause(() => Effect.map(Clock.currentTimeMillis, (at) => Verdict.inconclusive("replica lag could not be read", at))))

/** The check kind the standby-conflict plan re-polls between terminations. */
export const REPLAY_CHECK = "db.replica.replay_unblocked"

/** The check reference: WAL replay on the replica no longer waits on a conflicting standby query. */
export const replayCheckRef = (target: TargetRef.TargetRef): Plan.CheckRef =>
  Plan.check(REPLAY_CHECK, target, {}, "WAL replay on the replica no longer waits on a conflicting standby query")

/**
 * The `db.replica.replay_unblocked` check (register it with the handlers, `ReplicaLagRunbook.checks()`):
 * three looks at the replica's startup process, 50 ms apart, none waiting on `Lock` or a snapshot /
 * tablespace / buffer-pin conflict. Never fails:
 * a look that cannot be taken is `ok: false`.
 */
export const replayCheck = (): Check.Check<ReplicaLag.PgReplica> =>
  Check.make(REPLAY_CHECK, () =>
    Check.safely(
      REPLAY_CHECK,
      Effect.map(ReplicaLag.onReplica(ReplicaLag.startupWaits(3, 50)), (w) => ({
        name: REPLAY_CHECK,
        ok: w.samples > 0 && w.lock === 0 && w.conflict === 0,
        detail: w.samples === 0 ? "no startup process (not in recovery)" : `startup process waits: ${JSON.stringify(w.counts)}`,
        observed: { lock: w.lock, samples: w.samples }
      }))
    ))
