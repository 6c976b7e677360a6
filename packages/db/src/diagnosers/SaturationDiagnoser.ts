/**
 * The diagnoser of `db.connections.saturation` (PostgreSQL): the seed's reading, every client
 * session, the top wait events (the pre-termination audit) and the sessions whose open
 * transaction may hold row locks (a `backend_xid`, or in some backend's `pg_blocking_pids()`),
 * each as a Fact (a probe that fails is Unknown, never a guess).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { MySql } from "../MySql"
import { NumberLike } from "../internal/schemas"
import { Postgres } from "../Postgres"
import * as MySqlActivity from "../probes/MySqlActivity"
import * as MySqlPoolDiagnoser from "./MySqlPoolDiagnoser"
import * as PgActivity from "../probes/PgActivity"
import * as Utilization from "../Utilization"

/** The facts. */
export interface SaturationFacts {
  readonly utilization: Utilization.PostgresConnections | Utilization.MySqlConnections
  readonly sessions: ReadonlyArray<PgActivity.PgSession>
  readonly waitEvents: ReadonlyArray<PgActivity.WaitEventCount>
  /** pids of client sessions that may hold row locks (`backend_xid IS NOT NULL`, or blocking another backend). */
  readonly rowLockHolders: ReadonlyArray<number>
}

/** Diagnoser options. */
export interface Options {
  /** Which sessions the runbook may see (default every client session). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  /** BytePort's own application_name prefix (default `byteport`). */
  readonly ownApplication?: string
  /** Per-probe timeout (default 10 s). */
  readonly timeout?: Duration.Input
}

const Pid = Schema.Struct({ pid: Schema.Number })
const MyId = Schema.Struct({ id: NumberLike })

/** pids of client sessions that may hold row locks: a transaction id, or in some backend's `pg_blocking_pids()`. */
export const rowLockHolders: Effect.Effect<ReadonlyArray<number>, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    Pid,
    `SELECT a.pid FROM pg_stat_activity a
      WHERE a.backend_type = 'client backend'
        AND (a.backend_xid IS NOT NULL
             OR EXISTS (SELECT 1 FROM pg_stat_activity b WHERE b.pid <> a.pid AND a.pid = ANY(pg_blocking_pids(b.pid))))
      ORDER BY a.pid`
  ).pipe(Effect.map((rows) => rows.map((r) => r.pid)))
)

/** The diagnoser. */
export const make = (options: Options = {}): Diagnoser.Diagnoser<SaturationFacts, Postgres> =>
  Diagnoser.make<SaturationFacts, Postgres>({
    utilization: Diagnoser.probe("utilization", () => Utilization.postgresConnections(options.ownApplication)),
    sessions: Diagnoser.probe("sessions", () =>
      Effect.map(PgActivity.sessions, (rows) => (options.sessions === undefined ? rows : rows.filter(options.sessions)))),
    waitEvents: Diagnoser.probe("waitEvents", () => PgActivity.topWaitEvents(5)),
    rowLockHolders: Diagnoser.probe("rowLockHolders", () => rowLockHolders)
  }, { timeout: options.timeout ?? "10 seconds" })

/** MySQL / MariaDB thread ids whose open transaction holds row locks (rows locked / modified, or blocking another). */
export const mysqlRowLockHolders: Effect.Effect<ReadonlyArray<number>, DbError, MySql> = Effect.gen(function*() {
  const mariadb = yield* MySqlActivity.isMariaDb
  const rows = yield* MySql.use((db) =>
    db.queryAs(
      MyId,
      `SELECT t.trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX t
        WHERE t.trx_rows_locked > 0 OR t.trx_rows_modified > 0
           OR EXISTS (SELECT 1 FROM ${mariadb ? "information_schema.INNODB_LOCK_WAITS" : "performance_schema.data_lock_waits"} w
                       WHERE w.${mariadb ? "blocking_trx_id" : "BLOCKING_ENGINE_TRANSACTION_ID"} = t.trx_id)`
    )
  )
  return rows.map((r) => r.id)
})

/**
 * The MySQL / MariaDB diagnoser: `Utilization.mysqlConnections`, the threads as sessions
 * (`Sleep` with an open InnoDB transaction = idle in transaction, idle since the PROCESSLIST
 * time), wait events counted from those sessions, and the row-lock holders (INNODB_TRX).
 */
export const mysql = (options: Options = {}): Diagnoser.Diagnoser<SaturationFacts, MySql> =>
  Diagnoser.make<SaturationFacts, MySql>({
    utilization: Diagnoser.probe("utilization", () => Utilization.mysqlConnections),
    sessions: Diagnoser.probe("sessions", () =>
      Effect.gen(function*() {
        const [rows, privs, waits] = yield* Effect.all([
          MySqlActivity.sessions,
          MySqlActivity.privileges,
          MySqlPoolDiagnoser.lockWaits.pipe(Effect.orElseSucceed(() => []))
        ])
        const all = rows.map((r) => MySqlPoolDiagnoser.asPgSession(r, privs, MySqlPoolDiagnoser.waitsByConnection(waits)))
        return options.sessions === undefined ? all : all.filter(options.sessions)
      })),
    waitEvents: Diagnoser.probe("waitEvents", () =>
      Effect.map(MySqlActivity.sessions, (rows) => {
        const counts = new Map<string, PgActivity.WaitEventCount>()
        for (const r of rows) {
          const key = `${r.command}|${r.state ?? ""}`
          const c = counts.get(key)
          counts.set(key, { wait_event_type: r.command, wait_event: r.state ?? "", count: (c?.count ?? 0) + 1 })
        }
        return [...counts.values()].sort((a, b) => b.count - a.count).slice(0, 5)
      })),
    rowLockHolders: Diagnoser.probe("rowLockHolders", () => mysqlRowLockHolders)
  }, { timeout: options.timeout ?? "10 seconds" })
