/**
 * PostgreSQL session probes over `pg_stat_activity` (joined with `pg_roles` for `rolsuper`):
 * every client backend as a typed row, the state breakdown, the top wait events and the
 * queries running over a budget. Ages are computed by the server (`now() - ...`), so they do not
 * depend on the agent's clock.
 *
 * The connecting role should be a member of `pg_monitor` (or `pg_read_all_stats`) to see the
 * query text and state of other roles' sessions.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { NullableDate, NullableNumber, NullableString, NumberLike } from "../internal/schemas"
import { Postgres } from "../Postgres"

/** One client backend, as `pg_stat_activity` shows it (names as in the view). */
export const PgSession = Schema.Struct({
  pid: Schema.Number,
  usename: NullableString,
  rolsuper: Schema.Boolean,
  datname: NullableString,
  application_name: Schema.String,
  client_addr: NullableString,
  backend_start: NullableDate,
  xact_start: NullableDate,
  query_start: NullableDate,
  state_change: NullableDate,
  state: NullableString,
  wait_event_type: NullableString,
  wait_event: NullableString,
  query: NullableString,
  /** `pg_stat_activity.query_id` (a fingerprint; needs compute_query_id), as text. */
  query_id: NullableString,
  /** `pg_blocking_pids(pid)`: the sessions this one waits for. */
  blocking_pids: Schema.Array(Schema.Number),
  /** `backend_start` as exact microseconds since the epoch (text): the identity used by conditional kills. */
  backend_start_us: NullableString,
  /** `xact_start` in exact microseconds since the epoch (text). */
  xact_start_us: NullableString,
  /** `query_start` in exact microseconds since the epoch (text). */
  query_start_us: NullableString,
  /** Milliseconds since `xact_start` (null outside a transaction). */
  xact_age_ms: NullableNumber,
  /** Milliseconds since `query_start`. */
  query_age_ms: NullableNumber,
  /** Milliseconds since `state_change`. */
  state_age_ms: NullableNumber,
  /**
   * Milliseconds this session has been waiting for the lock it waits on now (`pg_locks.waitstart`,
   * PostgreSQL 14+; MySQL: `INNODB_TRX.trx_wait_started`); null when it waits on no lock or the
   * wait start is unknown; absent in rows read before it existed. `sessions/LockChain` subtracts
   * it from `query_age_ms` to get a waiter's own running time.
   */
  lock_wait_ms: Schema.optionalKey(NullableNumber)
})
/** One client backend. */
export type PgSession = typeof PgSession.Type

/** SQL: a timestamptz as exact microseconds since the epoch, as text (JS Dates keep only milliseconds). */
export const US = (column: string): string => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`

/** The SQL behind {@link sessions} (exported for fixtures and docs). */
export const SESSIONS_SQL = `
SELECT a.pid, a.usename, coalesce(r.rolsuper, false) AS rolsuper, a.datname,
       coalesce(a.application_name, '') AS application_name, host(a.client_addr) AS client_addr,
       a.backend_start, a.xact_start, a.query_start, a.state_change, a.state,
       a.wait_event_type, a.wait_event, a.query, a.query_id::text AS query_id,
       pg_blocking_pids(a.pid) AS blocking_pids,
       ${US("a.backend_start")} AS backend_start_us, ${US("a.xact_start")} AS xact_start_us,
       ${US("a.query_start")} AS query_start_us,
       (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS xact_age_ms,
       (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 AS query_age_ms,
       (extract(epoch FROM clock_timestamp() - a.state_change) * 1000)::float8 AS state_age_ms,
       (extract(epoch FROM clock_timestamp() - lw.waitstart) * 1000)::float8 AS lock_wait_ms
  FROM pg_stat_activity a
  LEFT JOIN pg_roles r ON r.oid = a.usesysid
  LEFT JOIN (SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid) lw ON lw.pid = a.pid
 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
 ORDER BY a.pid`

/**
 * {@link SESSIONS_SQL} for servers without `pg_stat_activity.query_id` or `pg_locks.waitstart`
 * (PostgreSQL 13 and older): both read as null, every other column as usual.
 */
export const SESSIONS_SQL_COMPAT = SESSIONS_SQL
  .replace("a.query_id::text AS query_id", "NULL::text AS query_id")
  .replace("(extract(epoch FROM clock_timestamp() - lw.waitstart) * 1000)::float8 AS lock_wait_ms", "NULL::float8 AS lock_wait_ms")
  .replace("\n  LEFT JOIN (SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid) lw ON lw.pid = a.pid", "")

/**
 * Every client backend except the probe's own session. A server without one of the newer
 * columns (SQLSTATE 42703, undefined_column) is read with {@link SESSIONS_SQL_COMPAT}: a missing
 * query_id never hides the sessions.
 */
export const sessions: Effect.Effect<ReadonlyArray<PgSession>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(PgSession, SESSIONS_SQL).pipe(
    Effect.catchIf((e) => e._tag === "DbQueryError" && e.code === "42703", () => db.queryAs(PgSession, SESSIONS_SQL_COMPAT))
  )
)

/** The state breakdown of client backends. `active` excludes sessions waiting on a lock (`waiting`). */
export const Breakdown = Schema.Struct({
  total: Schema.Number,
  active: Schema.Number,
  waiting: Schema.Number,
  idle: Schema.Number,
  idleInTransaction: Schema.Number,
  idleInTransactionAborted: Schema.Number,
  other: Schema.Number,
  /** Client backends by application_name. */
  byApplication: Schema.Record(Schema.String, Schema.Number),
  /** Client backends by user. */
  byUser: Schema.Record(Schema.String, Schema.Number)
})
/** The state breakdown of client backends. */
export type Breakdown = typeof Breakdown.Type

/** Is this session waiting on a heavyweight lock? */
export const isWaitingOnLock = (s: PgSession): boolean => s.state === "active" && s.wait_event_type === "Lock"

/** Pure: the breakdown of a list of sessions. */
export const breakdownOf = (rows: ReadonlyArray<PgSession>): Breakdown => {
  const b = { total: 0, active: 0, waiting: 0, idle: 0, idleInTransaction: 0, idleInTransactionAborted: 0, other: 0 }
  const byApplication: Record<string, number> = {}
  const byUser: Record<string, number> = {}
  for (const s of rows) {
    b.total++
    if (isWaitingOnLock(s)) b.waiting++
    else if (s.state === "active") b.active++
    else if (s.state === "idle") b.idle++
    else if (s.state === "idle in transaction") b.idleInTransaction++
    else if (s.state === "idle in transaction (aborted)") b.idleInTransactionAborted++
    else b.other++
    byApplication[s.application_name] = (byApplication[s.application_name] ?? 0) + 1
    const user = s.usename ?? ""
    byUser[user] = (byUser[user] ?? 0) + 1
  }
  return { ...b, byApplication, byUser }
}

/** The state breakdown, read live. */
export const breakdown: Effect.Effect<Breakdown, DbError, Postgres> = Effect.map(sessions, breakdownOf)

/** A wait event and how many non-idle client backends are in it. */
export const WaitEventCount = Schema.Struct({
  wait_event_type: Schema.String,
  wait_event: Schema.String,
  count: NumberLike
})
/** A wait event and its count. */
export type WaitEventCount = typeof WaitEventCount.Type

/** The `limit` most frequent wait events among non-idle client backends. */
export const topWaitEvents = (limit = 10): Effect.Effect<ReadonlyArray<WaitEventCount>, DbError, Postgres> =>
  Postgres.use((db) =>
    db.queryAs(
      WaitEventCount,
      `SELECT wait_event_type, wait_event, count(*)::int AS count
         FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND state IS DISTINCT FROM 'idle'
          AND wait_event IS NOT NULL AND pid <> pg_backend_pid()
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT $1`,
      [Math.max(1, Math.floor(limit))]
    ))

/** Sessions whose current statement has been running longer than `budgetMillis` (default 120 s), longest first. */
export const longRunningQueries = (budgetMillis = 120_000): Effect.Effect<ReadonlyArray<PgSession>, DbError, Postgres> =>
  Effect.map(sessions, (rows) => longRunningOf(rows, budgetMillis))

/** Pure: the active sessions over the budget, longest first. */
export const longRunningOf = (rows: ReadonlyArray<PgSession>, budgetMillis: number): ReadonlyArray<PgSession> =>
  rows
    .filter((s) => s.state === "active" && (s.query_age_ms ?? 0) > budgetMillis)
    .sort((a, b) => (b.query_age_ms ?? 0) - (a.query_age_ms ?? 0))

/** Pure: idle-in-transaction sessions (aborted ones too) idle for longer than `thresholdMillis` (default 30 s), oldest first. */
export const idleInTransactionOf = (rows: ReadonlyArray<PgSession>, thresholdMillis = 30_000): ReadonlyArray<PgSession> =>
  rows
    .filter((s) => (s.state === "idle in transaction" || s.state === "idle in transaction (aborted)") && (s.state_age_ms ?? 0) > thresholdMillis)
    .sort((a, b) => (b.state_age_ms ?? 0) - (a.state_age_ms ?? 0))
