/**
 * MySQL / MariaDB session probes from `information_schema` only (MariaDB ships
 * performance_schema off, so nothing here depends on it):
 *
 * - `PROCESSLIST` joined with `INNODB_TRX`: an idle-in-transaction connection shows as
 *   `COMMAND = 'Sleep'` exactly like an idle one; an open InnoDB transaction (`trx_id`) tells
 *   them apart. (InnoDB starts the transaction at the first statement that touches a table.)
 *   INNODB_TRX is served from a cache InnoDB refreshes only when nobody has read it for 100 ms
 *   (so a reader polling faster than that keeps seeing old data); poll it no more often. The
 *   `command_started_ms` column (server time the current command began, from PROCESSLIST's
 *   TIME_MS on MariaDB or TIME on MySQL) is exact and changes whenever the client sends anything,
 *   so it is what the kill guard uses to tell "still the same idle session".
 * - `USER_PRIVILEGES`: users holding SUPER or CONNECTION ADMIN (`CONNECTION_ADMIN` on MySQL 8)
 *   count as superusers. A viewer without SELECT on the `mysql` schema sees only its own
 *   grants; users it cannot see are reported as unknown, and the kill guard protects them.
 *
 * The connecting user needs PROCESS (to see every thread) and SELECT on `mysql.*`.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { NullableDate, NullableNumber, NullableString, NumberLike } from "../internal/schemas"
import { MySql } from "../MySql"

/** One connection (thread) with its open InnoDB transaction, if any. */
export const MySqlSession = Schema.Struct({
  id: NumberLike,
  user: NullableString,
  host: NullableString,
  db: NullableString,
  command: Schema.String,
  /** Seconds in the current command (for Sleep: idle time). */
  time_s: NumberLike,
  state: NullableString,
  info: NullableString,
  /** Milliseconds in the current command (TIME_MS on MariaDB, TIME × 1000 on MySQL). */
  command_ms: NumberLike,
  /** Server time (ms since the epoch) at which the current command (or the idle period) began. */
  command_started_ms: NumberLike,
  /** MariaDB's statement id (`KILL QUERY ID` kills exactly that statement); null on MySQL. */
  query_id: NullableString,
  /** The open InnoDB transaction id, as text; null when there is none. */
  trx_id: NullableString,
  trx_state: NullableString,
  trx_started: NullableDate,
  trx_age_s: NullableNumber,
  trx_rows_locked: NullableNumber,
  trx_tables_locked: NullableNumber
})
/** One connection (thread). */
export type MySqlSession = typeof MySqlSession.Type

const Flavor = Schema.Struct({ v: Schema.String })

/** Is the server MariaDB? */
export const isMariaDb: Effect.Effect<boolean, DbError, MySql> = MySql.use((db) =>
  db.queryAs(Flavor, "SELECT VERSION() AS v").pipe(Effect.map(([r]) => /mariadb/i.test(r?.v ?? "")))
)

/** The SQL behind {@link sessions}; `mariadb` adds PROCESSLIST.QUERY_ID. */
export const sessionsSql = (mariadb: boolean): string => `
SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command, p.TIME AS time_s,
       p.STATE AS state, p.INFO AS info, ${mariadb ? "CAST(p.QUERY_ID AS CHAR)" : "NULL"} AS query_id,
       ${mariadb ? "p.TIME_MS" : "p.TIME * 1000"} AS command_ms,
       ${mariadb ? "ROUND(UNIX_TIMESTAMP(NOW(6)) * 1000 - p.TIME_MS)" : "(UNIX_TIMESTAMP(NOW()) - p.TIME) * 1000"} AS command_started_ms,
       CAST(t.trx_id AS CHAR) AS trx_id, t.trx_state, t.trx_started,
       TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS trx_age_s, t.trx_rows_locked, t.trx_tables_locked
  FROM information_schema.PROCESSLIST p
  LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
 WHERE p.ID <> CONNECTION_ID() AND p.COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID')`

/**
 * How far apart two readings of `command_started_ms` of one unchanged command may be. A new
 * command moves it by at least the time the session had been in its command when first read
 * (`commandMsAtRead`), so the tolerance is half of that, within [2 ms, 250 ms] on MariaDB
 * (TIME_MS) and [2 ms, 1 500 ms] on MySQL (whole seconds).
 */
export const commandStartToleranceMs = (mariadb: boolean, commandMsAtRead: number): number =>
  Math.max(2, Math.min(mariadb ? 250 : 1_500, commandMsAtRead / 2))

/** Every client connection except the probe's own. */
export const sessions: Effect.Effect<ReadonlyArray<MySqlSession>, DbError, MySql> = Effect.gen(function*() {
  const db = yield* MySql
  const mariadb = yield* isMariaDb
  return yield* db.queryAs(MySqlSession, sessionsSql(mariadb))
})

/** Is this connection idle inside an open transaction? */
export const isSleepingInTransaction = (s: MySqlSession): boolean => s.command === "Sleep" && s.trx_id !== null

/** The state breakdown of MySQL connections. */
export interface Breakdown {
  readonly total: number
  /** Sleep without an open transaction. */
  readonly idle: number
  /** Sleep with an open InnoDB transaction. */
  readonly idleInTransaction: number
  /** Running a statement (not waiting on a row lock). */
  readonly active: number
  /** In a transaction whose state is LOCK WAIT. */
  readonly waiting: number
  readonly other: number
  readonly byUser: Readonly<Record<string, number>>
}

/** Pure: the breakdown of a list of connections. */
export const breakdownOf = (rows: ReadonlyArray<MySqlSession>): Breakdown => {
  let idle = 0, idleInTransaction = 0, active = 0, waiting = 0, other = 0
  const byUser: Record<string, number> = {}
  for (const s of rows) {
    if (s.trx_state === "LOCK WAIT") waiting++
    else if (isSleepingInTransaction(s)) idleInTransaction++
    else if (s.command === "Sleep") idle++
    else if (s.command === "Query" || s.command === "Execute") active++
    else other++
    const u = s.user ?? ""
    byUser[u] = (byUser[u] ?? 0) + 1
  }
  return { total: rows.length, idle, idleInTransaction, active, waiting, other, byUser }
}

/** Pure: connections sleeping inside a transaction for at least `thresholdSeconds` (default 30), oldest first. */
export const idleInTransactionOf = (rows: ReadonlyArray<MySqlSession>, thresholdSeconds = 30): ReadonlyArray<MySqlSession> =>
  rows.filter((s) => isSleepingInTransaction(s) && s.time_s >= thresholdSeconds).sort((a, b) => b.time_s - a.time_s)

/** Pure: statements running for at least `budgetSeconds` (default 120), longest first. */
export const longRunningOf = (rows: ReadonlyArray<MySqlSession>, budgetSeconds = 120): ReadonlyArray<MySqlSession> =>
  rows.filter((s) => s.command === "Query" && s.time_s >= budgetSeconds).sort((a, b) => b.time_s - a.time_s)

/** What the viewer can tell about users' privileges. */
export interface Privileges {
  /** Users (names only; any host) holding SUPER or CONNECTION ADMIN. */
  readonly superusers: ReadonlySet<string>
  /** Every user the viewer saw any global privilege row for. */
  readonly visible: ReadonlySet<string>
}

const PrivRow = Schema.Struct({ grantee: Schema.String, privilege_type: Schema.String })

/** `'user'@'host'` → `user` */
export const userOfGrantee = (grantee: string): string => {
  const m = /^'((?:[^']|'')*)'@/.exec(grantee)
  return m === null ? grantee : (m[1] ?? "").replace(/''/g, "'")
}

/** Reads SUPER / CONNECTION ADMIN holders from information_schema.USER_PRIVILEGES. */
export const privileges: Effect.Effect<Privileges, DbError, MySql> = MySql.use((db) =>
  db.queryAs(PrivRow, "SELECT GRANTEE AS grantee, PRIVILEGE_TYPE AS privilege_type FROM information_schema.USER_PRIVILEGES")
).pipe(Effect.map((rows) => privilegesOf(rows)))

/** Pure: privileges from USER_PRIVILEGES rows. */
export const privilegesOf = (rows: ReadonlyArray<{ readonly grantee: string; readonly privilege_type: string }>): Privileges => {
  const superusers = new Set<string>()
  const visible = new Set<string>()
  for (const r of rows) {
    const user = userOfGrantee(r.grantee)
    visible.add(user)
    const p = r.privilege_type.toUpperCase().replace(/_/g, " ")
    if (p === "SUPER" || p === "CONNECTION ADMIN") superusers.add(user)
  }
  return { superusers, visible }
}

/** `true`: superuser, `false`: not, `undefined`: the viewer cannot tell (treat as protected). */
export const isSuperuser = (privs: Privileges, user: string | null): boolean | undefined =>
  user === null ? undefined : privs.superusers.has(user) ? true : privs.visible.has(user) ? false : undefined
