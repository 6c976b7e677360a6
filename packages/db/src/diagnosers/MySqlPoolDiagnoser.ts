/**
 * The diagnosis of a MySQL / MariaDB pool-exhaustion signal, as the same {@link PoolFacts} the
 * `db.pool.six-class` classifier reads for PostgreSQL, so one classifier serves both engines:
 *
 * - utilization: `Threads_connected` over `max_connections`;
 * - sessions: PROCESSLIST + INNODB_TRX rows mapped to the PostgreSQL session shape — `Sleep` with
 *   an open transaction is `idle in transaction`, `Sleep` is `idle`, a statement is `active`
 *   (`Lock` wait when its transaction is in LOCK WAIT); `rolsuper` is SUPER / CONNECTION ADMIN
 *   (unknown privileges count as superuser); ages come from TIME_MS (MariaDB) or TIME (MySQL);
 * - application_name: MySQL has no application name without performance_schema (off in
 *   MariaDB), so the **user** stands in for it (a batch job with its own user shows as a fan-out);
 * - lock chains: InnoDB row-lock waits (`INNODB_LOCK_WAITS`) fill `blocking_pids` and
 *   `lock_wait_ms`; metadata-lock waits count as waits with unknown blockers;
 * - pgbouncer: always `null` (none in front of MySQL).
 *
 * The idle-in-transaction trend samples INNODB_TRX, which InnoDB refreshes only after 100 ms
 * without readers: keep `trendInterval` well above that (default 1 second).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import type { DbError } from "../DbError"
import { NullableNumber, NumberLike } from "../internal/schemas"
import { MySql } from "../MySql"
import type { PgSession } from "../probes/PgActivity"
import * as MySqlActivity from "../probes/MySqlActivity"
import * as PoolSettings from "../probes/PoolSettings"
import * as Utilization from "../Utilization"
import { lastDeployOf, trendOf } from "./PoolDiagnoser"
import type { Options, PoolFacts } from "./PoolDiagnoser"

/** One InnoDB lock wait: which connection waits on which, and for how long (ms). */
export const LockWait = Schema.Struct({ waiting_id: NumberLike, blocking_id: NumberLike, wait_ms: NullableNumber })
/** One InnoDB lock wait. */
export type LockWait = typeof LockWait.Type

/**
 * The SQL of the InnoDB lock waits: MariaDB (and MySQL 5.7) `information_schema.INNODB_LOCK_WAITS`
 * (what `sys.innodb_lock_waits` reads there; the agent needs no grant on `sys`), MySQL 8
 * `performance_schema.data_lock_waits`; the waiting and blocking threads from `INNODB_TRX`.
 */
export const lockWaitsSql = (mariadb: boolean): string => `
SELECT r.trx_mysql_thread_id AS waiting_id, b.trx_mysql_thread_id AS blocking_id,
       TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000 AS wait_ms
  FROM ${mariadb ? "information_schema.INNODB_LOCK_WAITS" : "performance_schema.data_lock_waits"} w
  JOIN information_schema.INNODB_TRX r ON r.trx_id = w.${mariadb ? "requesting_trx_id" : "REQUESTING_ENGINE_TRANSACTION_ID"}
  JOIN information_schema.INNODB_TRX b ON b.trx_id = w.${mariadb ? "blocking_trx_id" : "BLOCKING_ENGINE_TRANSACTION_ID"}`

/** The lock waits (see {@link lockWaitsSql}). */
export const lockWaits: Effect.Effect<ReadonlyArray<LockWait>, DbError, MySql> = Effect.gen(function*() {
  const mariadb = yield* MySqlActivity.isMariaDb
  return yield* MySql.use((db) => db.queryAs(LockWait, lockWaitsSql(mariadb)))
})

/** Pure: lock waits by waiting connection: its blockers and how long it has waited. */
export const waitsByConnection = (rows: ReadonlyArray<LockWait>): ReadonlyMap<number, { readonly blockers: ReadonlyArray<number>; readonly waitMs: number | null }> => {
  const out = new Map<number, { blockers: Array<number>; waitMs: number | null }>()
  for (const r of rows) {
    const w = out.get(r.waiting_id) ?? { blockers: [], waitMs: r.wait_ms }
    if (!w.blockers.includes(r.blocking_id)) w.blockers.push(r.blocking_id)
    out.set(r.waiting_id, w)
  }
  return out
}

/** Is this PROCESSLIST state a wait on a metadata or table lock (`Waiting for table metadata lock`)? */
export const isLockWaitState = (state: string | null): boolean => state !== null && /^Waiting for .*lock/i.test(state)

/**
 * Pure: a MySQL connection in the PostgreSQL session shape the classifier reads. `waits` (from
 * {@link waitsByConnection}) fills `blocking_pids` and `lock_wait_ms` for InnoDB row-lock
 * waits; a metadata-lock wait (an `ALTER` queue) counts as a lock wait whose blockers and wait
 * start are unknown, so `LockChain` never charges it and never acts on it.
 */
export const asPgSession = (
  s: MySqlActivity.MySqlSession,
  privileges: MySqlActivity.Privileges,
  waits: ReadonlyMap<number, { readonly blockers: ReadonlyArray<number>; readonly waitMs: number | null }> = new Map()
): PgSession => {
  const inTrx = s.trx_id !== null
  const wait = waits.get(s.id)
  const metadataWait = isLockWaitState(s.state)
  const lockWait = s.trx_state === "LOCK WAIT" || wait !== undefined || metadataWait
  const state = s.command === "Sleep"
    ? (inTrx ? "idle in transaction" : "idle")
    : s.command === "Query" || s.command === "Execute"
    ? "active"
    : s.command.toLowerCase()
  const host = s.host === null ? null : s.host.replace(/:\d+$/, "")
  return {
    pid: s.id,
    usename: s.user,
    rolsuper: MySqlActivity.isSuperuser(privileges, s.user) !== false,
    datname: s.db,
    application_name: s.user ?? "",
    client_addr: host,
    backend_start: null,
    xact_start: s.trx_started,
    query_start: state === "active" ? new Date(s.command_started_ms) : null,
    state_change: new Date(s.command_started_ms),
    state,
    wait_event_type: lockWait ? "Lock" : state === "active" ? null : "Client",
    wait_event: lockWait ? (metadataWait ? s.state : "row lock") : state === "active" ? (s.state === "" ? null : s.state) : "Sleep",
    query: s.info,
    query_id: null,
    blocking_pids: wait?.blockers ?? [],
    backend_start_us: null,
    xact_start_us: null,
    query_start_us: null,
    xact_age_ms: s.trx_age_s === null ? null : s.trx_age_s * 1000,
    query_age_ms: state === "active" ? s.command_ms : null,
    state_age_ms: s.command_ms,
    lock_wait_ms: wait?.waitMs ?? null
  }
}

/** The MySQL diagnoser (same options as the PostgreSQL one). */
export const make = (options: Options = {}): Diagnoser.Diagnoser<PoolFacts, MySql> => {
  const samples = Math.max(2, options.trendSamples ?? 3)
  const interval = options.trendInterval ?? "1 second"
  return Diagnoser.make<PoolFacts, MySql>({
    utilization: Diagnoser.probe("utilization", () =>
      Effect.map(Utilization.mysql, (u) => ({ engine: "mysql", ratio: u.ratio, clientBackends: u.threadsConnected, available: u.maxConnections }))),
    sessions: Diagnoser.probe("processlist", () =>
      Effect.gen(function*() {
        const [rows, privs, waits] = yield* Effect.all([
          MySqlActivity.sessions,
          // privileges only say who is a superuser: unreadable, every user counts as one (never
          // killed), and the sessions stay known
          MySqlActivity.privileges.pipe(Effect.orElseSucceed((): MySqlActivity.Privileges => ({ superusers: new Set(), visible: new Set() }))),
          // lock waits only refine the sessions (chains); unreadable, every waiter stays unresolved
          lockWaits.pipe(Effect.orElseSucceed(() => []))
        ])
        return rows.map((r) => asPgSession(r, privs, waitsByConnection(waits)))
      })),
    idleInTxTrend: Diagnoser.probe("idle_in_tx_trend", () =>
      Effect.gen(function*() {
        const out: Array<number> = []
        for (let i = 0; i < samples; i++) {
          if (i > 0) yield* Effect.sleep(interval)
          out.push((yield* MySqlActivity.sessions).filter(MySqlActivity.isSleepingInTransaction).length)
        }
        return trendOf(out, yield* Clock.currentTimeMillis)
      })),
    lastDeploy: Diagnoser.probe("last_deploy", lastDeployOf(options)),
    pgbouncer: Diagnoser.probe("pgbouncer", () => Effect.succeed(null)),
    poolSettings: Diagnoser.probe("pool_settings", (signal) =>
      options.appEnv === undefined
        ? Effect.succeed(null)
        : Effect.map(options.appEnv(signal), (env) => (env === null ? null : PoolSettings.fromEnv(env))))
  }, { timeout: options.timeout ?? "10 seconds" })
}

