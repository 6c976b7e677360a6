/**
 * PostgreSQL streaming-replication probes for `db.replica.lag`: the replica's connection
 * (`PgReplica`), the LSNs read on both servers, the lag as a time, and the evidence the
 * classifier weighs (pg_stat_replication, pg_stat_wal_receiver, the startup process' waits,
 * the standby sessions that block replay, recovery conflicts, settings, /proc/pressure/io).
 *
 * **Lag.** The lag is the time since the primary first reached a WAL position (LSN) the replica
 * has not replayed. The `LagTracker` records the primary's `pg_current_wal_lsn()` at each poll
 * (agent clock); with the replica's `pg_last_wal_replay_lsn()` read just before, the lag is
 * `now − (time of the earliest recorded primary LSN above the replayed one)`, and 0 when the
 * replica has replayed everything the primary has written ("no WAL to replay" is no lag). It is
 * a lower bound precise to one poll interval; a tracker that has just started cannot look back
 * further than its first sample (`sinceFirstSample`).
 *
 * Not `now() − pg_last_xact_replay_timestamp()`: on an idle primary it grows without bound
 * although nothing is left to replay. Not `pg_stat_replication.replay_lag`: it is measured from
 * the standby's replies and stays frozen at its last value while replay stalls (both seen on
 * PostgreSQL 15). Both are still read as evidence.
 *
 * The connecting roles need `pg_monitor` (BytePort's `byteport_agent` has it) on both servers.
 *
 * @since 0.1.0
 */
import { Clock, Config, Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs/promises"
import type { DbError } from "../DbError"
import { NullableNumber, NullableString, NumberLike } from "../internal/schemas"
import * as Pg from "../Postgres"
import { Postgres, type PostgresApi, type PostgresConfig } from "../Postgres"
import * as PgActivity from "./PgActivity"

/** The replica's connection (a `Postgres` service of its own). */
export class PgReplica extends Context.Service<PgReplica, PostgresApi>()("@byteport/db/PgReplica") {}

/** A `PgReplica` layer from explicit settings. */
export const replicaLayer = (config: PostgresConfig) => Layer.effect(PgReplica, Pg.make(config))

/** A `PgReplica` layer from configuration: `BYTEPORT_PG_REPLICA_URL` (redacted), `BYTEPORT_PG_APPLICATION_NAME` (byteport). */
export const replicaLayerConfig = Layer.effect(
  PgReplica,
  Effect.gen(function*() {
    const url = yield* Config.Redacted("BYTEPORT_PG_REPLICA_URL")
    const applicationName = yield* Config.String("BYTEPORT_PG_APPLICATION_NAME").pipe(Config.withDefault("byteport"))
    return yield* Pg.make({ url, applicationName })
  })
)

/** Runs `effect` with `Postgres` bound to the replica. */
export const onReplica = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, Postgres> | PgReplica> =>
  PgReplica.use((db) => Effect.provideService(effect, Postgres, db)) as Effect.Effect<A, E, Exclude<R, Postgres> | PgReplica>

// ---------------------------------------------------------------------------------------- LSNs

/** Pure: an LSN (`16/B374D848`) as a byte position. */
export const lsnToBigInt = (lsn: string): bigint => {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim())
  if (m === null) throw new RangeError(`not an LSN: ${JSON.stringify(lsn)}`)
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`)
}

/** Pure: bytes from `b` up to `a` (0 when `a` is not ahead). */
export const lsnDiff = (a: string | null, b: string | null): number => {
  if (a === null || b === null) return 0
  const d = lsnToBigInt(a) - lsnToBigInt(b)
  return d > 0n ? Number(d) : 0
}

/** The replica's positions. */
export const ReplicaPositions = Schema.Struct({
  in_recovery: Schema.Boolean,
  /** WAL received and flushed by the walreceiver (`pg_last_wal_receive_lsn()`). */
  receive_lsn: NullableString,
  /** WAL replayed (`pg_last_wal_replay_lsn()`). */
  replay_lsn: NullableString,
  /** `pg_get_wal_replay_pause_state()`: `not paused`, `pause requested`, `paused`. */
  pause_state: NullableString,
  /** ms since `pg_last_xact_replay_timestamp()` (evidence only: grows on an idle primary). */
  replay_timestamp_age_ms: NullableNumber,
  /**
   * The classic reading, as the PostgreSQL docs and most monitoring compute it: 0 when everything
   * received is replayed ("no WAL to replay"), else `now() − pg_last_xact_replay_timestamp()`
   * (evidence only: it misses WAL not yet received, and counts from the last replayed commit,
   * which may be long before the primary's next write).
   */
  replay_timestamp_lag_ms: NullableNumber
})
/** The replica's positions. */
export type ReplicaPositions = typeof ReplicaPositions.Type

/** Reads the replica's positions (run against the replica). */
export const replicaPositions: Effect.Effect<ReplicaPositions, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    ReplicaPositions,
    `SELECT pg_is_in_recovery() AS in_recovery, pg_last_wal_receive_lsn()::text AS receive_lsn,
            pg_last_wal_replay_lsn()::text AS replay_lsn,
            CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause_state,
            (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_timestamp_age_ms,
            CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
                 ELSE (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 END AS replay_timestamp_lag_ms`
  )
).pipe(Effect.map((rows) => rows[0]!))

const PrimaryLsn = Schema.Struct({ lsn: Schema.String })

/** The primary's current WAL position (`pg_current_wal_lsn()`). */
export const primaryLsn: Effect.Effect<string, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(PrimaryLsn, "SELECT pg_current_wal_lsn()::text AS lsn")
).pipe(Effect.map((rows) => rows[0]!.lsn))

// ---------------------------------------------------------------------------------------- lag

/** One poll of both servers. */
export interface Sample {
  /** Agent clock, epoch ms, when the primary's LSN was read. */
  readonly at: number
  readonly primaryLsn: string
  readonly receiveLsn: string | null
  readonly replayLsn: string | null
}

/** The lag at one poll. */
export interface Lag {
  readonly at: number
  /** The lag in ms (0: the replica has replayed everything the primary wrote). */
  readonly lagMs: number
  /** True when the earliest unreplayed LSN was already there at the tracker's first sample (the lag is at least this). */
  readonly sinceFirstSample: boolean
  readonly primaryLsn: string
  readonly receiveLsn: string | null
  readonly replayLsn: string | null
  /** Bytes the replica has not received (primary − receive). */
  readonly unreceivedBytes: number
  /** Bytes received but not replayed (receive − replay). */
  readonly unreplayedBytes: number
}

/**
 * The primary's WAL positions over time, to turn "not replayed up to LSN x" into "behind since
 * time t". Keep one per (primary, replica) pair and feed every poll of both to it (detector and
 * verifier share one). In memory; bounded (`maxSamples`, default 100 000: a day at 1 s polls).
 */
export interface LagTracker {
  /** Records a poll and returns the lag it shows. */
  readonly record: (sample: Sample) => Lag
  /** Samples kept (for tests and reports). */
  readonly size: () => number
}

/** Pure core of the tracker: the lag of `sample` given the earlier samples (oldest first, pruned). */
export const lagOf = (history: ReadonlyArray<Sample>, sample: Sample): Lag => {
  const replay = sample.replayLsn === null ? null : lsnToBigInt(sample.replayLsn)
  const unreceivedBytes = lsnDiff(sample.primaryLsn, sample.receiveLsn)
  const unreplayedBytes = lsnDiff(sample.receiveLsn, sample.replayLsn)
  const base = { at: sample.at, primaryLsn: sample.primaryLsn, receiveLsn: sample.receiveLsn, replayLsn: sample.replayLsn, unreceivedBytes, unreplayedBytes }
  const all = [...history, sample]
  if (replay !== null && lsnToBigInt(sample.primaryLsn) <= replay) return { ...base, lagMs: 0, sinceFirstSample: false }
  const first = all.findIndex((s) => replay === null || lsnToBigInt(s.primaryLsn) > replay)
  const since = all[first]!
  return { ...base, lagMs: Math.max(0, sample.at - since.at), sinceFirstSample: first === 0 }
}

/** A new tracker. */
export const makeTracker = (options: { readonly maxSamples?: number } = {}): LagTracker => {
  const max = Math.max(2, options.maxSamples ?? 100_000)
  let history: Array<Sample> = []
  return {
    record: (sample) => {
      const lag = lagOf(history, sample)
      // Samples the replica has replayed past can no longer start a lag: keep the newest of them
      // (so the tracker still knows it looked back that far) and everything after.
      const replay = sample.replayLsn === null ? null : lsnToBigInt(sample.replayLsn)
      history.push(sample)
      if (replay !== null) {
        let lastReplayed = -1
        for (let i = 0; i < history.length; i++) if (lsnToBigInt(history[i]!.primaryLsn) <= replay) lastReplayed = i
        if (lastReplayed > 0) history = history.slice(lastReplayed)
      }
      if (history.length > max) history = history.slice(history.length - max)
      return lag
    },
    size: () => history.length
  }
}

/** One poll: the replica's positions, then the primary's LSN, recorded in `tracker`. */
export const poll = (tracker: LagTracker): Effect.Effect<Lag & { readonly replica: ReplicaPositions }, DbError, Postgres | PgReplica> =>
  Effect.gen(function*() {
    const replica = yield* onReplica(replicaPositions)
    const lsn = yield* primaryLsn
    const at = yield* Clock.currentTimeMillis
    const lag = tracker.record({ at, primaryLsn: lsn, receiveLsn: replica.receive_lsn, replayLsn: replica.replay_lsn })
    return { ...lag, replica }
  })

// ---------------------------------------------------------------------------------------- evidence

/** One standby of the primary, as `pg_stat_replication` shows it. */
export const Standby = Schema.Struct({
  pid: Schema.Number,
  application_name: Schema.String,
  client_addr: NullableString,
  state: NullableString,
  sync_state: NullableString,
  sent_lsn: NullableString,
  write_lsn: NullableString,
  flush_lsn: NullableString,
  replay_lsn: NullableString,
  write_lag_ms: NullableNumber,
  flush_lag_ms: NullableNumber,
  replay_lag_ms: NullableNumber,
  /** ms since the standby's last reply (`reply_time`). */
  reply_age_ms: NullableNumber
})
/** One standby of the primary. */
export type Standby = typeof Standby.Type

/** `pg_stat_replication` on the primary (walsenders). */
export const standbys: Effect.Effect<ReadonlyArray<Standby>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    Standby,
    `SELECT pid, coalesce(application_name, '') AS application_name, host(client_addr) AS client_addr, state, sync_state,
            sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
            (extract(epoch FROM write_lag) * 1000)::float8 AS write_lag_ms,
            (extract(epoch FROM flush_lag) * 1000)::float8 AS flush_lag_ms,
            (extract(epoch FROM replay_lag) * 1000)::float8 AS replay_lag_ms,
            (extract(epoch FROM clock_timestamp() - reply_time) * 1000)::float8 AS reply_age_ms
       FROM pg_stat_replication ORDER BY pid`
  )
)

/** The replica's walreceiver (`pg_stat_wal_receiver`; no row when it is not running). */
export const Receiver = Schema.Struct({
  status: Schema.String,
  written_lsn: NullableString,
  flushed_lsn: NullableString,
  latest_end_lsn: NullableString,
  /** ms since the last message from the primary. */
  last_msg_age_ms: NullableNumber,
  sender_host: NullableString,
  sender_port: NullableNumber
})
/** The replica's walreceiver. */
export type Receiver = typeof Receiver.Type

/** The walreceiver row (run against the replica); `null` when none runs. */
export const receiver: Effect.Effect<Receiver | null, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    Receiver,
    `SELECT status, written_lsn::text, flushed_lsn::text, latest_end_lsn::text,
            (extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000)::float8 AS last_msg_age_ms,
            sender_host, sender_port FROM pg_stat_wal_receiver`
  )
).pipe(Effect.map((rows) => rows[0] ?? null))

/** One look at the replica's startup process (the one that replays WAL). */
export const StartupWait = Schema.Struct({
  pid: Schema.Number,
  wait_event_type: NullableString,
  wait_event: NullableString
})
/** One look at the startup process. */
export type StartupWait = typeof StartupWait.Type

/** The startup process' current wait (run against the replica); `null` when there is none (not in recovery). */
export const startupWait: Effect.Effect<StartupWait | null, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(StartupWait, "SELECT pid, wait_event_type, wait_event FROM pg_stat_activity WHERE backend_type = 'startup'")
).pipe(Effect.map((rows) => rows[0] ?? null))

/** What the startup process waited on over several looks. */
export interface StartupWaits {
  readonly pid: number | null
  readonly samples: number
  /** Counts by `wait_event_type/wait_event` (`CPU` when it waited on nothing). */
  readonly counts: Readonly<Record<string, number>>
  /** Samples waiting on a heavyweight lock (`Lock/*`). */
  readonly lock: number
  /** Samples waiting on I/O (`IO/*`, e.g. `IO/WALRead`, `IO/DataFileRead`). */
  readonly io: number
  /** Samples waiting for a conflicting standby query that is not a lock: its snapshot (`IPC/RecoveryConflictSnapshot`), a tablespace (`IPC/RecoveryConflictTablespace`) or a buffer pin (`BufferPin`). */
  readonly conflict: number
  /** Samples waiting on anything else (e.g. a recovery pause, `IPC/RecoveryPause`). */
  readonly other: number
}

/** The startup process' wait events that mean a conflicting standby query, other than a lock. */
export const CONFLICT_WAITS: ReadonlyArray<string> = ["IPC/RecoveryConflictSnapshot", "IPC/RecoveryConflictTablespace", "BufferPin/BufferPin"]

/** Pure: tallies looks at the startup process. */
export const tallyStartup = (looks: ReadonlyArray<StartupWait | null>): StartupWaits => {
  const counts: Record<string, number> = {}
  let lock = 0
  let io = 0
  let conflict = 0
  let other = 0
  let pid: number | null = null
  for (const w of looks) {
    if (w === null) continue
    pid = w.pid
    const key = w.wait_event_type === null ? "CPU" : `${w.wait_event_type}/${w.wait_event ?? ""}`
    counts[key] = (counts[key] ?? 0) + 1
    if (w.wait_event_type === "Lock") lock++
    else if (w.wait_event_type === "IO") io++
    else if (CONFLICT_WAITS.includes(key)) conflict++
    else if (w.wait_event_type !== null && w.wait_event_type !== "Activity") other++
  }
  return { pid, samples: looks.filter((w) => w !== null).length, counts, lock, io, conflict, other }
}

/** `n` looks at the startup process, `intervalMs` apart (run against the replica). */
export const startupWaits = (n = 10, intervalMs = 50): Effect.Effect<StartupWaits, DbError, Postgres> =>
  Effect.gen(function*() {
    const looks: Array<StartupWait | null> = []
    for (let i = 0; i < n; i++) {
      if (i > 0) yield* Effect.sleep(intervalMs)
      looks.push(yield* startupWait)
    }
    return tallyStartup(looks)
  })

/**
 * The SQL behind {@link replayBlockers}: client sessions holding a granted lock on the very lock
 * tag the startup process waits for. `pg_blocking_pids(startup)` returns `{}` for the startup
 * process on PostgreSQL 15, so the tag is matched in `pg_locks` (every tag column, NULL-safe).
 */
export const REPLAY_BLOCKERS_SQL = `
WITH waits AS (
  SELECT l.* FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
   WHERE s.backend_type = 'startup' AND NOT l.granted
), holders AS (
  SELECT DISTINCT h.pid, h.mode FROM pg_locks h JOIN waits w
      ON h.granted AND h.pid <> w.pid
     AND h.locktype = w.locktype
     AND h.database IS NOT DISTINCT FROM w.database AND h.relation IS NOT DISTINCT FROM w.relation
     AND h.page IS NOT DISTINCT FROM w.page AND h.tuple IS NOT DISTINCT FROM w.tuple
     AND h.virtualxid IS NOT DISTINCT FROM w.virtualxid AND h.transactionid IS NOT DISTINCT FROM w.transactionid
     AND h.classid IS NOT DISTINCT FROM w.classid AND h.objid IS NOT DISTINCT FROM w.objid
     AND h.objsubid IS NOT DISTINCT FROM w.objsubid
)
SELECT s.* FROM (${PgActivity.SESSIONS_SQL}) s WHERE s.pid IN (SELECT pid FROM holders) ORDER BY s.xact_age_ms DESC NULLS LAST, s.pid`

/** The standby sessions blocking replay (run against the replica), longest transaction first. */
export const replayBlockers: Effect.Effect<ReadonlyArray<PgActivity.PgSession>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(PgActivity.PgSession, REPLAY_BLOCKERS_SQL)
)

/**
 * The SQL behind {@link snapshotBlockers}: while the startup process waits on a snapshot,
 * tablespace or buffer-pin conflict, the client sessions holding a snapshot (`backend_xmin`),
 * oldest transaction first. Which of them the replayed record conflicts with is not exposed by
 * PostgreSQL; the classifier keeps those whose transaction is older than the lag (they took their
 * snapshot before replay stalled). BytePort's own sessions (`application_name` starting with
 * `$1`) are left out.
 */
export const SNAPSHOT_BLOCKERS_SQL = `
SELECT s.* FROM (${PgActivity.SESSIONS_SQL}) s
 WHERE s.pid IN (SELECT a.pid FROM pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.backend_xmin IS NOT NULL)
   AND NOT starts_with(lower(s.application_name), lower($1::text))
   AND EXISTS (SELECT 1 FROM pg_stat_activity st WHERE st.backend_type = 'startup'
                AND (st.wait_event IN ('RecoveryConflictSnapshot', 'RecoveryConflictTablespace') OR st.wait_event_type = 'BufferPin'))
 ORDER BY s.xact_age_ms DESC NULLS LAST, s.pid`

/** Snapshot holders while replay waits on a non-lock conflict (run against the replica); empty otherwise. */
export const snapshotBlockers = (ownApplication = "byteport"): Effect.Effect<ReadonlyArray<PgActivity.PgSession>, DbError, Postgres> =>
  Postgres.use((db) => db.queryAs(PgActivity.PgSession, SNAPSHOT_BLOCKERS_SQL, [ownApplication]))

/** Recovery conflicts that cancelled standby queries, per database (`pg_stat_database_conflicts`). */
export const Conflicts = Schema.Struct({
  datname: Schema.String,
  tablespace: NumberLike,
  lock: NumberLike,
  snapshot: NumberLike,
  bufferpin: NumberLike,
  deadlock: NumberLike
})
/** Recovery conflicts per database. */
export type Conflicts = typeof Conflicts.Type

/** `pg_stat_database_conflicts` (run against the replica). */
export const conflicts: Effect.Effect<ReadonlyArray<Conflicts>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    Conflicts,
    `SELECT datname, confl_tablespace AS tablespace, confl_lock AS lock, confl_snapshot AS snapshot, confl_bufferpin AS bufferpin,
            confl_deadlock AS deadlock FROM pg_stat_database_conflicts WHERE datname IS NOT NULL ORDER BY datname`
  )
)

/** The replica settings that decide what a conflicting standby query does to replay. */
export const StandbySettings = Schema.Struct({
  max_standby_streaming_delay: Schema.String,
  max_standby_archive_delay: Schema.String,
  hot_standby_feedback: Schema.String,
  wal_receiver_status_interval: Schema.String
})
/** The replica's standby settings. */
export type StandbySettings = typeof StandbySettings.Type

/** Reads the standby settings (run against the replica). */
export const standbySettings: Effect.Effect<StandbySettings, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    StandbySettings,
    `SELECT current_setting('max_standby_streaming_delay') AS max_standby_streaming_delay,
            current_setting('max_standby_archive_delay') AS max_standby_archive_delay,
            current_setting('hot_standby_feedback') AS hot_standby_feedback,
            current_setting('wal_receiver_status_interval') AS wal_receiver_status_interval`
  )
).pipe(Effect.map((rows) => rows[0]!))

/** Statements on the primary running longer than `minMs` that write (they hold a transaction id), longest first. */
export const primaryWriters = (minMs: number): Effect.Effect<ReadonlyArray<PgActivity.PgSession>, DbError, Postgres> =>
  Effect.gen(function*() {
    const sessions = yield* PgActivity.sessions
    const xids = yield* Postgres.use((db) =>
      db.queryAs(Schema.Struct({ pid: Schema.Number }), "SELECT pid FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND state = 'active'")
    )
    const writing = new Set(xids.map((r) => r.pid))
    return PgActivity.longRunningOf(sessions, minMs).filter((s) => writing.has(s.pid))
  })

/** `/proc/pressure/io` (Linux PSI): the share of time some / all tasks stalled on I/O, over 10 s and 60 s. */
export interface IoPressure {
  readonly someAvg10: number
  readonly someAvg60: number
  readonly fullAvg10: number
  readonly fullAvg60: number
}

/** Pure: parses `/proc/pressure/io`. */
export const parseIoPressure = (text: string): IoPressure => {
  const line = (kind: string) => {
    const l = text.split("\n").find((x) => x.startsWith(`${kind} `)) ?? ""
    const num = (k: string) => Number(new RegExp(`${k}=([0-9.]+)`).exec(l)?.[1] ?? "NaN")
    return { avg10: num("avg10"), avg60: num("avg60") }
  }
  const some = line("some")
  const full = line("full")
  if (!Number.isFinite(some.avg10)) throw new RangeError("no `some avg10=` line in /proc/pressure/io")
  return { someAvg10: some.avg10, someAvg60: some.avg60, fullAvg10: Number.isFinite(full.avg10) ? full.avg10 : 0, fullAvg60: Number.isFinite(full.avg60) ? full.avg60 : 0 }
}

/** Reads I/O pressure from `path` (default `/proc/pressure/io`: meaningful when the agent runs on the replica's host). */
export const ioPressure = (path = "/proc/pressure/io"): Effect.Effect<IoPressure, Error> =>
  Effect.tryPromise({ try: () => fs.readFile(path, "utf8"), catch: (e) => new Error(`cannot read ${path}: ${String(e)}`) }).pipe(
    Effect.flatMap((text) => Effect.try({ try: () => parseIoPressure(text), catch: (e) => new Error(String(e)) }))
  )
