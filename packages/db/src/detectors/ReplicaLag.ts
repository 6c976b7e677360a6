/**
 * The detector of `db.replica.lag`: "replica lag exceeding 30 seconds for more than 60
 * seconds". Each poll reads the replica's replayed LSN and the primary's current LSN
 * (`ReplicaLag.poll`, lag as defined there); the signal fires when the lag has been **over**
 * the threshold (default 30 s; exactly 30 s is not over) at every poll for **more than** the hold
 * (default 60 s; exactly 60 s is not more), counted from the first poll over the threshold.
 * A poll at or under the threshold, or one that fails, restarts the count.
 *
 * @since 0.1.0
 */
import { Detector, Signal } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Effect, Schedule } from "effect"
import type { DbError } from "../DbError"
import type { Postgres } from "../Postgres"
import * as ReplicaLag from "../probes/ReplicaLag"

/** The signal type. */
export const SIGNAL_TYPE = "db.replica.lag"

/** The seed's thresholds: lag over 30 s, held for more than 60 s. */
export const DEFAULT_THRESHOLD_MS = 30_000
/** The seed's hold. */
export const DEFAULT_HOLD_MS = 60_000

/** Detector options. */
export interface Options {
  /** The replica the signal is about (never a DSN), e.g. `TargetRef.make("database", "orders-replica-1")`. */
  readonly target: TargetRef.TargetRef
  /** The primary (kills of primary statements act on it). */
  readonly primary: TargetRef.TargetRef
  /** Lag that must be exceeded, ms (default 30 000). */
  readonly thresholdMs?: number
  /** How long it must be exceeded, ms, strictly more (default 60 000). */
  readonly holdMs?: number
  /** Poll schedule (default every 5 seconds). */
  readonly schedule?: Schedule.Schedule<unknown>
  /** The tracker shared with the verifier (default: a new one). */
  readonly tracker?: ReplicaLag.LagTracker
}

/** The state of the hold: since when the lag has been over the threshold at every poll. */
export interface HoldState {
  readonly overSince: number | undefined
}

/** Pure: the next hold state and whether it fires, for one lag reading. */
export const step = (state: HoldState, lag: ReplicaLag.Lag, thresholdMs = DEFAULT_THRESHOLD_MS, holdMs = DEFAULT_HOLD_MS): { readonly state: HoldState; readonly heldMs: number; readonly fires: boolean } => {
  if (!(lag.lagMs > thresholdMs)) return { state: { overSince: undefined }, heldMs: 0, fires: false }
  const overSince = state.overSince ?? lag.at
  const heldMs = lag.at - overSince
  return { state: { overSince }, heldMs, fires: heldMs > holdMs }
}

/** Pure: the signal of a firing reading. */
export const signalOf = (lag: ReplicaLag.Lag, heldMs: number, options: Options): Signal.Signal => {
  const thresholdMs = options.thresholdMs ?? DEFAULT_THRESHOLD_MS
  const holdMs = options.holdMs ?? DEFAULT_HOLD_MS
  return Signal.make({
    type: SIGNAL_TYPE,
    target: options.target,
    observedAt: lag.at,
    source: "db.ReplicaLag",
    evidence: {
      engine: "postgres",
      primary: { kind: options.primary.kind, ref: options.primary.ref },
      lagMs: lag.lagMs,
      heldMs,
      thresholdMs,
      holdMs,
      sinceFirstSample: lag.sinceFirstSample,
      primaryLsn: lag.primaryLsn,
      receiveLsn: lag.receiveLsn,
      replayLsn: lag.replayLsn,
      unreceivedBytes: lag.unreceivedBytes,
      unreplayedBytes: lag.unreplayedBytes,
      reasons: [
        `replica ${lag.sinceFirstSample ? "at least " : ""}${(lag.lagMs / 1000).toFixed(1)} s behind (> ${thresholdMs / 1000} s) for ${(heldMs / 1000).toFixed(1)} s (> ${holdMs / 1000} s): replayed ${lag.replayLsn ?? "?"}, primary at ${lag.primaryLsn}`
      ]
    }
  })
}

/**
 * A stateful poller: each call polls both servers once and returns the signals (none, or one
 * when the hold is complete). The state lives in the returned closure.
 */
export const poller = (options: Options): Effect.Effect<ReadonlyArray<Signal.Signal>, DbError, Postgres | ReplicaLag.PgReplica> => {
  const tracker = options.tracker ?? ReplicaLag.makeTracker()
  let state: HoldState = { overSince: undefined }
  return Effect.gen(function*() {
    const lag = yield* ReplicaLag.poll(tracker).pipe(Effect.tapError(() => Effect.sync(() => (state = { overSince: undefined }))))
    const next = step(state, lag, options.thresholdMs, options.holdMs)
    state = next.state
    return next.fires ? [signalOf(lag, next.heldMs, options)] : []
  })
}

/** The detector (polls every 5 s by default). */
export const make = (options: Options): Detector.Detector<never, Postgres | ReplicaLag.PgReplica> =>
  Detector.poll("db.replica.lag", {
    schedule: options.schedule ?? Schedule.spaced("5 seconds"),
    poll: poller(options)
  })
