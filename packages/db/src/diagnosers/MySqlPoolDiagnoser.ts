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
 * - pgbouncer: always `null` (none in front of MySQL).
 *
 * The idle-in-transaction trend samples INNODB_TRX, which InnoDB refreshes only after 100 ms
 * without readers: keep `trendInterval` well above that (default 1 second).
 *
 * @since 0.1.0
 */
import { Diagnoser } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { MySql } from "../MySql"
import type { PgSession } from "../probes/PgActivity"
import * as MySqlActivity from "../probes/MySqlActivity"
import * as PoolSettings from "../probes/PoolSettings"
import * as Utilization from "../Utilization"
import { deployFromEvidence, trendOf } from "./PoolDiagnoser"
import type { Options, PoolFacts } from "./PoolDiagnoser"

/** Pure: a MySQL connection in the PostgreSQL session shape the classifier reads. */
export const asPgSession = (s: MySqlActivity.MySqlSession, privileges: MySqlActivity.Privileges): PgSession => {
  const inTrx = s.trx_id !== null
  const lockWait = s.trx_state === "LOCK WAIT"
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
    wait_event: lockWait ? "row lock" : state === "active" ? (s.state === "" ? null : s.state) : "Sleep",
    query: s.info,
    query_id: null,
    blocking_pids: [],
    backend_start_us: null,
    xact_start_us: null,
    query_start_us: null,
    xact_age_ms: s.trx_age_s === null ? null : s.trx_age_s * 1000,
    query_age_ms: state === "active" ? s.command_ms : null,
    state_age_ms: s.command_ms
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
        const [rows, privs] = yield* Effect.all([MySqlActivity.sessions, MySqlActivity.privileges])
        return rows.map((r) => asPgSession(r, privs))
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
    lastDeploy: Diagnoser.probe("last_deploy", (signal) =>
      options.lastDeploy === undefined ? Effect.succeed(deployFromEvidence(signal)) : options.lastDeploy(signal)),
    pgbouncer: Diagnoser.probe("pgbouncer", () => Effect.succeed(null)),
    poolSettings: Diagnoser.probe("pool_settings", (signal) =>
      options.appEnv === undefined
        ? Effect.succeed(null)
        : Effect.map(options.appEnv(signal), (env) => (env === null ? null : PoolSettings.fromEnv(env))))
  }, { timeout: options.timeout ?? "10 seconds" })
}

