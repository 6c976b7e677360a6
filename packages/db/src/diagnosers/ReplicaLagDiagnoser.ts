/**
 * The diagnoser of `db.replica.lag`: one fresh lag reading (through the runbook's tracker) and,
 * concurrently, the evidence on both servers. Every probe is a Fact: one that fails is Unknown,
 * never a guess; I/O pressure that cannot be read is `null` (it only corroborates).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { type Duration, Effect } from "effect"
import type { Postgres } from "../Postgres"
import type * as PgActivity from "../probes/PgActivity"
import * as ReplicaLag from "../probes/ReplicaLag"

/** The facts. */
export interface ReplicaLagFacts {
  /** The lag now (LSNs on both servers). */
  readonly lag: ReplicaLag.Lag
  /** The replica's row of `pg_stat_replication` on the primary (`null`: the primary has no walsender for it). */
  readonly standby: ReplicaLag.Standby | null
  /** The replica's walreceiver (`null`: none runs). */
  readonly receiver: ReplicaLag.Receiver | null
  /** What the startup process waited on over several looks. */
  readonly startup: ReplicaLag.StartupWaits
  /** Whether replay was paused on purpose (`pg_wal_replay_pause()`). */
  readonly replayPaused: boolean
  /** Standby sessions holding the lock the startup process waits for, longest transaction first. */
  readonly blockers: ReadonlyArray<PgActivity.PgSession>
  /** While replay waits on a snapshot / tablespace / buffer-pin conflict: standby sessions holding a snapshot, oldest first. */
  readonly snapshotBlockers: ReadonlyArray<PgActivity.PgSession>
  /** Statements on the primary writing for longer than the budget, longest first. */
  readonly primaryWriters: ReadonlyArray<PgActivity.PgSession>
  /** Recovery conflicts per database on the replica. */
  readonly conflicts: ReadonlyArray<ReplicaLag.Conflicts>
  /** max_standby_streaming_delay, hot_standby_feedback … on the replica. */
  readonly settings: ReplicaLag.StandbySettings
  /** `/proc/pressure/io` where the agent runs (`null`: not readable). */
  readonly ioPressure: ReplicaLag.IoPressure | null
}

/** Diagnoser options. */
export interface Options {
  /** The tracker shared with the detector and the verifier. */
  readonly tracker: ReplicaLag.LagTracker
  /** The replica's `application_name` in `pg_stat_replication` (default: the only standby, else `walreceiver`). */
  readonly standbyName?: string
  /** A primary statement writing for longer than this is "long-running" (default 60 000 ms). */
  readonly primaryStatementMs?: number
  /** Looks at the startup process (default 10, 50 ms apart). */
  readonly startupLooks?: number
  /** Which sessions (standby blockers, primary writers) the runbook may see and act on (default all). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  /** BytePort's own application_name prefix, never a blocker (default `byteport`). */
  readonly ownApplication?: string
  /** Path of the I/O pressure file (default `/proc/pressure/io`). */
  readonly ioPressurePath?: string
  /** Per-probe timeout (default 10 s). */
  readonly timeout?: Duration.Input
}

/** The default budget of a primary statement. */
export const DEFAULT_PRIMARY_STATEMENT_MS = 60_000

/** Pure: the replica's row among the primary's standbys. */
export const standbyOf = (rows: ReadonlyArray<ReplicaLag.Standby>, name?: string): ReplicaLag.Standby | null =>
  name !== undefined ? rows.find((r) => r.application_name === name) ?? null : rows.length === 1 ? rows[0]! : rows.find((r) => r.application_name === "walreceiver") ?? null

/** The diagnoser. */
export const make = (options: Options): Diagnoser.Diagnoser<ReplicaLagFacts, Postgres | ReplicaLag.PgReplica> => {
  const scoped = (rows: ReadonlyArray<PgActivity.PgSession>) => (options.sessions === undefined ? rows : rows.filter(options.sessions))
  return Diagnoser.make<ReplicaLagFacts, Postgres | ReplicaLag.PgReplica>({
    lag: Diagnoser.probe("lag", () => ReplicaLag.poll(options.tracker)),
    standby: Diagnoser.probe("standby", () => Effect.map(ReplicaLag.standbys, (rows) => standbyOf(rows, options.standbyName))),
    receiver: Diagnoser.probe("receiver", () => ReplicaLag.onReplica(ReplicaLag.receiver)),
    startup: Diagnoser.probe("startup", () => ReplicaLag.onReplica(ReplicaLag.startupWaits(options.startupLooks ?? 10, 50))),
    replayPaused: Diagnoser.probe("replayPaused", () =>
      Effect.map(ReplicaLag.onReplica(ReplicaLag.replicaPositions), (p) => p.pause_state !== null && p.pause_state !== "not paused")),
    blockers: Diagnoser.probe("blockers", () => Effect.map(ReplicaLag.onReplica(ReplicaLag.replayBlockers), scoped)),
    snapshotBlockers: Diagnoser.probe("snapshotBlockers", () => Effect.map(ReplicaLag.onReplica(ReplicaLag.snapshotBlockers(options.ownApplication)), scoped)),
    primaryWriters: Diagnoser.probe("primaryWriters", () =>
      Effect.map(ReplicaLag.primaryWriters(options.primaryStatementMs ?? DEFAULT_PRIMARY_STATEMENT_MS), scoped)),
    conflicts: Diagnoser.probe("conflicts", () => ReplicaLag.onReplica(ReplicaLag.conflicts)),
    settings: Diagnoser.probe("settings", () => ReplicaLag.onReplica(ReplicaLag.standbySettings)),
    ioPressure: Diagnoser.probe("ioPressure", () => ReplicaLag.ioPressure(options.ioPressurePath).pipe(Effect.orElseSucceed(() => null)))
  }, { timeout: options.timeout ?? "10 seconds" })
}
