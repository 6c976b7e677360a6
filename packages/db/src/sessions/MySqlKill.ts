/**
 * Guarded `KILL CONNECTION` / `KILL QUERY` for MySQL and MariaDB.
 *
 * MySQL's KILL is not conditional: it names a thread id, nothing else. So the guard re-reads the
 * thread right before the KILL, on the same dedicated connection and in the statement just before
 * it: same thread id, same user, same command begun at the same server time (`command_started_ms`:
 * any statement the client sent since the read, a COMMIT included, moves it), the same open
 * InnoDB transaction (`trx_id`; INNODB_TRX is a cache refreshed only after 100 ms without
 * readers, so it can lag, which is why the exact command start is checked too), the same statement (MariaDB `QUERY_ID`, else the same text) for a query, not a
 * superuser (SUPER or CONNECTION ADMIN, or privileges the viewer cannot see), not a protected
 * user, not this connection. Only if all of that holds is the KILL sent.
 *
 * **Row-lock safety** (`noRowLocks`, off by default; `db.connections.saturation` turns it on):
 * the re-check also refuses (`holds_row_locks`) a thread whose open InnoDB transaction has locked
 * or modified rows (`INNODB_TRX.trx_rows_locked` / `trx_rows_modified` > 0: an UPDATE or a
 * `SELECT … FOR UPDATE` in it) or blocks another transaction (a `blocking_trx_id` in MariaDB's
 * `information_schema.INNODB_LOCK_WAITS`, what `sys.innodb_lock_waits` reads there; MySQL 8:
 * `performance_schema.data_lock_waits`). A plain SELECT in a transaction locks no rows.
 *
 * Residual race: between that re-check and the KILL (one loopback round trip on an idle
 * connection, well under a millisecond on a LAN) the session can still COMMIT and start new
 * work, which the KILL would then hit. Thread ids are not reused while the server runs, so the
 * KILL can never reach a different client. On MariaDB, a query cancel uses `KILL QUERY ID
 * <query_id>`, which names the statement itself and so has no such window.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { DbInvalidInput } from "../DbError"
import type { DbError } from "../DbError"
import { NumberLike } from "../internal/schemas"
import { MySql } from "../MySql"
import * as MySqlActivity from "../probes/MySqlActivity"

/** Users never killed by default. */
export const DEFAULT_PROTECTED_USERS: ReadonlyArray<string> = ["root", "mysql.sys", "mariadb.sys", "system user", "event_scheduler", "pgbouncer", "admin-proxy"]

/** What the thread must still be for the KILL to be sent. */
export interface Target {
  readonly id: number
  readonly user: string | null
  /** The command it was chosen in: `Sleep` (idle in transaction) or `Query`. */
  readonly command: string
  /** Server time the chosen command / idle period began (`command_started_ms`). */
  readonly commandStartedMs?: number | null
  /** How long it had been in that command when read (`command_ms`); sets the tolerance. */
  readonly commandMs?: number | null
  /** The open transaction it was chosen in (required for a connection kill of an idle-in-transaction session). */
  readonly trxId?: string | null
  /** MariaDB's statement id (for a query kill). */
  readonly queryId?: string | null
  /** The statement text it was chosen for (for a query kill on MySQL). */
  readonly info?: string | null
}

/** Guard options. */
export interface Options {
  /** Users never killed (default {@link DEFAULT_PROTECTED_USERS}). */
  readonly protectedUsers?: ReadonlyArray<string>
  /**
   * Refuse a thread whose open transaction holds row locks (rows locked or modified in
   * `INNODB_TRX`) or blocks another (`INNODB_LOCK_WAITS`), checked in the re-check right before
   * the KILL (default false).
   */
  readonly noRowLocks?: boolean
}

const RowLocks = Schema.Struct({ rows_locked: NumberLike, rows_modified: NumberLike, blocks: NumberLike })

/** The SQL of the row-lock re-check for one thread (`?` = its id). */
export const rowLocksSql = (mariadb: boolean): string => `
SELECT t.trx_rows_locked AS rows_locked, t.trx_rows_modified AS rows_modified,
       EXISTS (SELECT 1 FROM ${mariadb ? "information_schema.INNODB_LOCK_WAITS" : "performance_schema.data_lock_waits"} w
                WHERE w.${mariadb ? "blocking_trx_id" : "BLOCKING_ENGINE_TRANSACTION_ID"} = t.trx_id) AS blocks
  FROM information_schema.INNODB_TRX t
 WHERE t.trx_mysql_thread_id = ?`

/** One row of the row-lock re-check ({@link rowLocksSql}). */
export interface RowLocks {
  readonly rows_locked: number
  readonly rows_modified: number
  /** 1 when the transaction is a `blocking_trx_id` of some lock wait, else 0. */
  readonly blocks: number
}

/** Pure: does the re-check row refuse the KILL? Rows locked, rows modified, or blocking another transaction: each alone is enough. */
export const holdsRowLocks = (l: RowLocks): boolean => l.rows_locked > 0 || l.rows_modified > 0 || l.blocks > 0

/** Why a KILL was not sent. */
export type Refusal = "gone" | "changed" | "superuser" | "privileges_unknown" | "protected_user" | "own_session" | "holds_row_locks"

/** The result of a guarded KILL. */
export type Result =
  | { readonly _tag: "Killed"; readonly id: number; readonly kind: "connection" | "query" }
  | { readonly _tag: "Refused"; readonly id: number; readonly reason: Refusal }

/** The {@link Target} of a probed session. */
export const targetOf = (s: MySqlActivity.MySqlSession): Target => ({
  id: s.id,
  user: s.user,
  command: s.command,
  commandStartedMs: s.command_started_ms,
  commandMs: s.command_ms,
  trxId: s.trx_id,
  queryId: s.query_id,
  info: s.info
})

const kill = (kind: "connection" | "query") => (target: Target, options: Options = {}): Effect.Effect<Result, DbError | DbInvalidInput, MySql> =>
  Effect.gen(function*() {
    if (!Number.isSafeInteger(target.id) || target.id <= 0) {
      return yield* new DbInvalidInput({ message: `not a MySQL thread id: ${String(target.id)}` })
    }
    const db = yield* MySql
    const mariadb = yield* MySqlActivity.isMariaDb
    const privs = yield* MySqlActivity.privileges
    const protectedUsers = options.protectedUsers ?? DEFAULT_PROTECTED_USERS
    return yield* db.withConnection((conn) =>
      Effect.gen(function*() {
        const refuse = (reason: Refusal): Result => ({ _tag: "Refused", id: target.id, reason })
        if (target.id === conn.threadId) return refuse("own_session")
        // the re-check, immediately followed by the KILL on the same connection
        const rows = yield* conn.queryAs(
          MySqlActivity.MySqlSession,
          `${MySqlActivity.sessionsSql(mariadb)} AND p.ID = ?`,
          [target.id]
        )
        const now = rows[0]
        if (now === undefined) return refuse("gone")
        const superuser = MySqlActivity.isSuperuser(privs, now.user)
        if (superuser === true) return refuse("superuser")
        if (superuser === undefined) return refuse("privileges_unknown")
        if (protectedUsers.includes(now.user ?? "")) return refuse("protected_user")
        if (now.user !== target.user || now.command !== target.command) return refuse("changed")
        if (
          target.commandStartedMs != null &&
          Math.abs(now.command_started_ms - target.commandStartedMs) > MySqlActivity.commandStartToleranceMs(mariadb, target.commandMs ?? 0)
        ) return refuse("changed")
        if (target.trxId !== undefined && target.trxId !== null && now.trx_id !== target.trxId) return refuse("changed")
        if (kind === "connection" && target.command === "Sleep" && (target.trxId ?? null) !== now.trx_id) return refuse("changed")
        if (kind === "query") {
          if (target.queryId != null && now.query_id !== target.queryId) return refuse("changed")
          if (target.info != null && now.info !== target.info) return refuse("changed")
        }
        if (options.noRowLocks === true) {
          const locks = yield* conn.queryAs(RowLocks, rowLocksSql(mariadb), [target.id])
          if (locks.some(holdsRowLocks)) return refuse("holds_row_locks")
        }
        const statement = kind === "connection"
          ? `KILL CONNECTION ${target.id}`
          : mariadb && now.query_id !== null
          ? `KILL QUERY ID ${Number(now.query_id)}`
          : `KILL QUERY ${target.id}`
        const sent = yield* conn.query(statement).pipe(
          Effect.as(true),
          Effect.catchTag("DbQueryError", (e) => (e.errno === 1094 || e.errno === 1957 ? Effect.succeed(false) : Effect.fail(e)))
        )
        return sent ? { _tag: "Killed", id: target.id, kind } as const : refuse("gone")
      })
    )
  })

/** `KILL CONNECTION` after the guard's re-check (see module docs for the residual race). */
export const killConnection: (target: Target, options?: Options) => Effect.Effect<Result, DbError | DbInvalidInput, MySql> = kill("connection")

/** `KILL QUERY` (MariaDB: `KILL QUERY ID`) after the guard's re-check. */
export const killQuery: (target: Target, options?: Options) => Effect.Effect<Result, DbError | DbInvalidInput, MySql> = kill("query")
