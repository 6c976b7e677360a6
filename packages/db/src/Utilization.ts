/**
 * Connection utilization, one reading per engine. Each reading carries its inputs, so a report
 * can show how the ratio was computed.
 *
 * - PostgreSQL: client backends (`pg_stat_activity.backend_type = 'client backend'`) divided by
 *   the connections ordinary roles can open, `max_connections - superuser_reserved_connections`
 *   (PostgreSQL 16+: also minus `reserved_connections`, the slots only `pg_use_reserved_connections`
 *   roles may take; `superuserReservedConnections` then holds both).
 *   Background workers, the checkpointer and the like are not counted.
 * - MySQL / MariaDB: `Threads_connected / max_connections`.
 * - pgbouncer, per pool (database, user): clients `cl_active + cl_waiting` against the database's
 *   `pool_size` (`SHOW DATABASES`, which already resolves `default_pool_size`). In transaction
 *   pooling `cl_active` counts logged-in clients that are not waiting, so the ratio can exceed 1
 *   on a healthy pool; `cl_waiting > 0` is the saturation signal, and `serverConnections /
 *   poolSize` tells how full the server side is.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { DbError, DbInvalidInput } from "./DbError"
import { NumberLike } from "./internal/schemas"
import { MySql } from "./MySql"
import { PgBouncer } from "./PgBouncer"
import { Postgres } from "./Postgres"
import * as PgBouncerStats from "./probes/PgBouncerStats"

/** The PostgreSQL reading. */
export interface PostgresUtilization {
  readonly engine: "postgres"
  readonly clientBackends: number
  readonly maxConnections: number
  readonly superuserReservedConnections: number
  /** `maxConnections - superuserReservedConnections` */
  readonly available: number
  /** `clientBackends / available` */
  readonly ratio: number
}

const PgRow = Schema.Struct({ client_backends: NumberLike, max_connections: NumberLike, reserved: NumberLike })

/** Reads PostgreSQL utilization (the probe's own session counts: it is a client backend too). */
export const postgres: Effect.Effect<PostgresUtilization, DbError, Postgres> = Postgres.use((db) =>
  db.queryAs(
    PgRow,
    `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS client_backends,
            current_setting('max_connections')::int AS max_connections,
            current_setting('superuser_reserved_connections')::int
              + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved`
  ).pipe(Effect.map(([r]) => postgresOf(r?.client_backends ?? 0, r?.max_connections ?? 0, r?.reserved ?? 0)))
)

/** Pure: the PostgreSQL reading from its inputs. */
export const postgresOf = (clientBackends: number, maxConnections: number, reserved: number): PostgresUtilization => {
  const available = Math.max(0, maxConnections - reserved)
  return {
    engine: "postgres",
    clientBackends,
    maxConnections,
    superuserReservedConnections: reserved,
    available,
    ratio: available === 0 ? 1 : clientBackends / available
  }
}

/** The MySQL reading. */
export interface MySqlUtilization {
  readonly engine: "mysql"
  readonly threadsConnected: number
  readonly maxConnections: number
  /** `threadsConnected / maxConnections` */
  readonly ratio: number
}

const MyRow = Schema.Struct({ threads_connected: NumberLike, max_connections: NumberLike })

/** Reads MySQL / MariaDB utilization. */
export const mysql: Effect.Effect<MySqlUtilization, DbError, MySql> = MySql.use((db) =>
  db.queryAs(
    MyRow,
    `SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') AS threads_connected,
            @@GLOBAL.max_connections AS max_connections`
  ).pipe(Effect.map(([r]) => {
    const threadsConnected = r?.threads_connected ?? 0
    const maxConnections = r?.max_connections ?? 0
    return { engine: "mysql" as const, threadsConnected, maxConnections, ratio: maxConnections === 0 ? 1 : threadsConnected / maxConnections }
  }))
)

/** The reading of one pgbouncer pool. */
export interface PgBouncerPoolUtilization {
  readonly engine: "pgbouncer"
  readonly database: string
  readonly user: string
  readonly clientsActive: number
  readonly clientsWaiting: number
  /** `sv_active + sv_idle + sv_used + sv_tested + sv_login` */
  readonly serverConnections: number
  readonly poolSize: number
  /** `(clientsActive + clientsWaiting) / poolSize` */
  readonly ratio: number
}

/** Pure: per-pool readings from `SHOW POOLS` and `SHOW DATABASES` rows. */
export const pgbouncerOf = (
  pools: ReadonlyArray<PgBouncerStats.PoolRow>,
  databases: ReadonlyArray<{ readonly name: string; readonly pool_size: number }>
): ReadonlyArray<PgBouncerPoolUtilization> => {
  const sizes = new Map(databases.map((d) => [d.name, d.pool_size]))
  return pools.map((p) => {
    const poolSize = sizes.get(p.database) ?? 0
    const clients = p.cl_active + p.cl_waiting
    return {
      engine: "pgbouncer" as const,
      database: p.database,
      user: p.user,
      clientsActive: p.cl_active,
      clientsWaiting: p.cl_waiting,
      serverConnections: p.sv_active + p.sv_idle + p.sv_used + (p.sv_tested ?? 0) + (p.sv_login ?? 0),
      poolSize,
      ratio: poolSize === 0 ? (clients > 0 ? Infinity : 0) : clients / poolSize
    }
  })
}

/**
 * Reads every pgbouncer pool. The pool sizes come from `SHOW DATABASES`; when that fails, from
 * `SHOW CONFIG`'s `default_pool_size` (a failed size read never hides the waiting clients);
 * only when both fail does the reading fail.
 */
export const pgbouncer: Effect.Effect<ReadonlyArray<PgBouncerPoolUtilization>, DbError | DbInvalidInput, PgBouncer> = Effect.gen(
  function*() {
    const pools = yield* PgBouncerStats.pools
    const dbs = yield* PgBouncerStats.databases.pipe(
      Effect.catch((error) =>
        PgBouncerStats.config.pipe(
          Effect.flatMap((c) => {
            const size = Number(c["default_pool_size"])
            return Number.isInteger(size) && size > 0
              ? Effect.succeed(pools.map((p) => ({ name: p.database, pool_size: size })))
              : Effect.fail(error)
          }),
          Effect.catch(() => Effect.fail(error))
        )
      )
    )
    return pgbouncerOf(pools, dbs)
  }
)

/**
 * The seed's reading of `db.connections.saturation` ("active connections exceed 80% of
 * max_connections"): client backends in any state — no walsenders, no background workers, not
 * BytePort's own sessions (its probe, and sessions whose application_name starts with the
 * agent's, default `byteport`) — divided by `max_connections` itself.
 *
 * {@link postgres} reads the same server differently: it divides by the connections ordinary
 * roles can open (`max_connections − superuser_reserved_connections`) and counts its own probe.
 * On `max_connections = 100`, `superuser_reserved_connections = 3` and 80 application sessions,
 * this reading is 80 / 100 = 80 % and `postgres` is 81 / 97 ≈ 83.5 %.
 */
export interface PostgresConnections {
  readonly engine: "postgres"
  /** Client backends, BytePort's own excluded. */
  readonly clientBackends: number
  /** BytePort's own client backends (not counted). */
  readonly own: number
  readonly maxConnections: number
  /** `clientBackends / maxConnections` */
  readonly ratio: number
}

/** Pure: the seed's reading from its inputs. */
export const connectionsOf = (clientBackends: number, own: number, maxConnections: number): PostgresConnections => ({
  engine: "postgres",
  clientBackends,
  own,
  maxConnections,
  ratio: maxConnections <= 0 ? 1 : clientBackends / maxConnections
})

const ConnRow = Schema.Struct({ client_backends: NumberLike, own: NumberLike, max_connections: NumberLike })

/** Reads the seed's reading (see {@link PostgresConnections}); `ownApplication` is BytePort's application_name prefix (default `byteport`). */
export const postgresConnections = (ownApplication = "byteport"): Effect.Effect<PostgresConnections, DbError, Postgres> =>
  Postgres.use((db) =>
    db.queryAs(
      ConnRow,
      `SELECT count(*) FILTER (WHERE NOT own)::int AS client_backends, count(*) FILTER (WHERE own)::int AS own,
              current_setting('max_connections')::int AS max_connections
         FROM (SELECT pid = pg_backend_pid()
                      OR ($1::text <> '' AND left(coalesce(application_name, ''), length($1::text)) = $1::text) AS own
                 FROM pg_stat_activity WHERE backend_type = 'client backend') s`,
      [ownApplication]
    ).pipe(Effect.map(([r]) => connectionsOf(r?.client_backends ?? 0, r?.own ?? 0, r?.max_connections ?? 0)))
  )

/**
 * The MySQL / MariaDB reading of `db.connections.saturation`: (`Threads_connected` − own) /
 * `max_connections`, where own = the threads of the agent's user (`CURRENT_USER()`: its probe
 * and pool). Give the agent its own user for this to be exact.
 */
export interface MySqlConnections {
  readonly engine: "mysql"
  readonly threadsConnected: number
  /** `threadsConnected − own` */
  readonly clientBackends: number
  /** BytePort's own threads (the agent's user; not counted). */
  readonly own: number
  readonly maxConnections: number
  /** `clientBackends / maxConnections` */
  readonly ratio: number
}

/** Pure: the MySQL reading from its inputs. */
export const mysqlConnectionsOf = (threadsConnected: number, own: number, maxConnections: number): MySqlConnections => {
  const clientBackends = Math.max(0, threadsConnected - own)
  return { engine: "mysql", threadsConnected, clientBackends, own, maxConnections, ratio: maxConnections <= 0 ? 1 : clientBackends / maxConnections }
}

const MyConnRow = Schema.Struct({ threads_connected: NumberLike, own: NumberLike, max_connections: NumberLike })

/** Reads (`Threads_connected` − own) / `max_connections` (see {@link MySqlConnections}). */
export const mysqlConnections: Effect.Effect<MySqlConnections, DbError, MySql> = MySql.use((db) =>
  db.queryAs(
    MyConnRow,
    `SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') AS threads_connected,
            (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)) AS own,
            @@GLOBAL.max_connections AS max_connections`
  ).pipe(Effect.map(([r]) => mysqlConnectionsOf(r?.threads_connected ?? 0, r?.own ?? 0, r?.max_connections ?? 0)))
)
