/**
 * The `MySql` service: a scoped `mysql2` pool (MySQL 8 or MariaDB) with typed errors.
 *
 * Every pooled connection gets a permanent `error` listener (mysql2's own pool only listens
 * once), so a connection killed with `KILL CONNECTION` never crashes the process; the broken
 * connection is destroyed and the next query uses a fresh one. A query that hit a lost
 * connection is retried once on a new one.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"
import mysql from "mysql2/promise"
import type { Pool, PoolConnection } from "mysql2/promise"
import { DbConnectionError, DbDecodeError, DbInvalidInput, DbQueryError, DbTimeout, scrub } from "./DbError"
import type { DbError } from "./DbError"
import * as Dsn from "./Dsn"
import { isRetriableConnectionError } from "./internal/pgErrors"
import { Settings } from "@byteport/core"

/** A result row as the driver returns it. */
export type Row = Readonly<Record<string, unknown>>

/** Settings of a {@link MySql} pool. */
export interface MySqlConfig {
  /** `mysql://user:password@host:port/database` */
  readonly url: Redacted.Redacted<string>
  /** Pool size (default 4). */
  readonly poolMax?: number
  /** Client-side statement timeout in ms (default 10 000); the connection is destroyed on expiry. */
  readonly statementTimeoutMillis?: number
  /** Connect timeout in ms (default 5 000). */
  readonly connectTimeoutMillis?: number
}

/** One checked-out connection (a MySQL thread), for work that must stay on one session. */
export interface MySqlConnection {
  /** Runs a statement on this connection. */
  readonly query: (sql: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, DbError>
  /** Runs a statement and decodes every row with `schema`. */
  readonly queryAs: <A>(schema: Schema.Decoder<A>, sql: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<A>, DbError>
  /** The server thread id of this connection (`CONNECTION_ID()`). */
  readonly threadId: number
}

/** The MySql service. */
export interface MySqlApi {
  /** Runs a statement on a pooled connection (retried once on a fresh connection if the connection was lost). */
  readonly query: (sql: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, DbError>
  /** Runs a statement and decodes every row with `schema`. */
  readonly queryAs: <A>(schema: Schema.Decoder<A>, sql: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<A>, DbError>
  /** Runs `f` with one dedicated connection, released (or destroyed if broken) afterwards. */
  readonly withConnection: <A, E, R>(f: (connection: MySqlConnection) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | DbError, R>
  /** How many asynchronous connection errors were absorbed. */
  readonly backgroundErrors: Effect.Effect<number>
  /** The database user this service connects as. */
  readonly user: string
}

/** The MySQL / MariaDB service (`@byteport/db/MySql`). */
export class MySql extends Context.Service<MySql, MySqlApi>()("@byteport/db/MySql") {}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST", "ER_CON_COUNT_ERROR", "ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR",
  "ER_SERVER_SHUTDOWN", "ER_CONNECTION_KILLED", "ER_TOO_MANY_USER_CONNECTIONS", "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR",
  "ER_CANNOT_ENQUEUE_QUERY_AFTER_FATAL_ERROR"
])

/** Maps a `mysql2` error to a typed error; `code` is the SQLSTATE, `errno` the MySQL error number. */
export const fromMySqlError = (cause: unknown, secrets: ReadonlyArray<string>, timeoutMillis: number): DbConnectionError | DbQueryError | DbTimeout => {
  const e = (cause ?? {}) as { message?: unknown; code?: unknown; errno?: unknown; sqlState?: unknown; fatal?: unknown }
  const raw = cause instanceof Error ? cause.message : typeof e.message === "string" ? e.message : String(cause)
  const name = typeof e.code === "string" ? e.code : undefined
  const sqlState = typeof e.sqlState === "string" ? e.sqlState : undefined
  const errno = typeof e.errno === "number" ? e.errno : undefined
  const message = scrub(name !== undefined && !raw.startsWith(name) ? `${name}: ${raw}` : raw, secrets)
  if (name === "PROTOCOL_SEQUENCE_TIMEOUT" || name === "ER_STATEMENT_TIMEOUT" || errno === 1969 || /connect ETIMEDOUT/.test(raw)) {
    return new DbTimeout({ engine: "mysql", message, timeoutMillis })
  }
  if (
    (name !== undefined && CONNECTION_CODES.has(name)) || sqlState?.startsWith("08") === true ||
    sqlState?.startsWith("28") === true || (e.fatal === true && errno === undefined)
  ) {
    return new DbConnectionError({ engine: "mysql", message, ...(name !== undefined ? { code: name } : {}) })
  }
  return new DbQueryError({
    engine: "mysql",
    message,
    ...(sqlState !== undefined ? { code: sqlState } : name !== undefined ? { code: name } : {}),
    ...(errno !== undefined ? { errno } : {})
  })
}

/** Builds the service over a new pool; the pool is closed when the scope closes. */
export const make = Effect.fn("MySql.make")(function*(config: MySqlConfig) {
  const dsn = yield* Dsn.parse(config.url)
  const password = Redacted.value(dsn.password)
  const secrets = [password]
  const timeoutMillis = config.statementTimeoutMillis ?? 10_000
  const context = yield* Effect.context<never>()
  let backgroundErrors = 0
  const onBackgroundError = (err: unknown) => {
    backgroundErrors++
    const message = scrub(err instanceof Error ? err.message : String(err), secrets)
    Effect.runForkWith(context)(Effect.logDebug(`mysql: connection error absorbed: ${message}`))
  }
  const pool: Pool = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const p = mysql.createPool({
        host: dsn.host,
        port: dsn.port,
        user: dsn.user,
        password,
        database: dsn.database,
        connectionLimit: config.poolMax ?? 4,
        connectTimeout: config.connectTimeoutMillis ?? 5_000,
        maxIdle: config.poolMax ?? 4,
        idleTimeout: 30_000,
        enableKeepAlive: true,
        multipleStatements: false,
        dateStrings: false,
        supportBigNumbers: true,
        bigNumberStrings: false
      })
      const core = (p as unknown as { pool: NodeJS.EventEmitter }).pool
      core.on("connection", (conn: NodeJS.EventEmitter) => {
        conn.on("error", onBackgroundError)
      })
      core.on("error", onBackgroundError)
      return p
    }),
    (p) => Effect.promise(() => p.end().catch(() => undefined))
  )
  const toError = (cause: unknown) => fromMySqlError(cause, secrets, timeoutMillis)

  const runOn = (conn: PoolConnection, sql: string, params?: ReadonlyArray<unknown>) =>
    Effect.tryPromise({
      try: () => conn.query({ sql, timeout: timeoutMillis, ...(params !== undefined ? { values: params as Array<unknown> } : {}) }),
      catch: toError
    }).pipe(
      Effect.map(([rows]) => (Array.isArray(rows) ? rows as ReadonlyArray<Row> : [rows as unknown as Row])),
      Effect.timeoutOrElse({
        duration: timeoutMillis + 2_000,
        orElse: () => Effect.fail(new DbTimeout({ engine: "mysql", message: "statement did not finish in time", timeoutMillis }))
      })
    )

  const withConn = <A, E, R>(f: (conn: PoolConnection) => Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => pool.getConnection(), catch: toError }),
      f,
      (conn, exit) =>
        Effect.sync(() => {
          const broken = exit._tag === "Failure" && exit.cause.reasons.some((r) =>
            r._tag !== "Fail" ||
            (typeof r.error === "object" && r.error !== null && "_tag" in r.error &&
              (r.error._tag === "DbConnectionError" || r.error._tag === "DbTimeout"))
          )
          try {
            if (broken) conn.destroy()
            else conn.release()
          } catch {
            // already gone
          }
        })
    )

  const decodeRows = <A>(schema: Schema.Decoder<A>) => {
    const decode = Schema.decodeUnknownEffect(Schema.Array(schema))
    return (rows: ReadonlyArray<Row>) =>
      decode(rows).pipe(Effect.mapError((e) => new DbDecodeError({ engine: "mysql", message: scrub(String(e).slice(0, 500), secrets) })))
  }

  const query = (sql: string, params?: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Row>, DbError> =>
    withConn((conn) => runOn(conn, sql, params)).pipe(Effect.retry({ times: 1, while: (e) => isRetriableConnectionError(e) }))

  return MySql.of({
    query,
    queryAs: (schema, sql, params) => query(sql, params).pipe(Effect.flatMap(decodeRows(schema))),
    withConnection: (f) =>
      withConn((conn) => {
        const q = (sql: string, params?: ReadonlyArray<unknown>) => runOn(conn, sql, params)
        return f({
          query: q,
          queryAs: (schema, sql, params) => q(sql, params).pipe(Effect.flatMap(decodeRows(schema))),
          threadId: conn.threadId
        })
      }),
    backgroundErrors: Effect.sync(() => backgroundErrors),
    user: dsn.user
  })
})

/** A layer from explicit settings. */
export const layer = (config: MySqlConfig): Layer.Layer<MySql, DbInvalidInput> => Layer.effect(MySql, make(config))

/**
 * A layer from configuration: `BYTEPORT_MYSQL_URL` (redacted), `BYTEPORT_MYSQL_POOL_MAX`,
 * `BYTEPORT_MYSQL_STATEMENT_TIMEOUT_MS`, `BYTEPORT_MYSQL_CONNECT_TIMEOUT_MS`.
 */
export const layerConfig = Layer.effect(
  MySql,
  Effect.gen(function*() {
    const config = yield* Config.all({
      url: Config.Redacted("BYTEPORT_MYSQL_URL"),
      poolMax: Settings.positiveInt("BYTEPORT_MYSQL_POOL_MAX").pipe(Config.withDefault(4)),
      statementTimeoutMillis: Settings.positiveInt("BYTEPORT_MYSQL_STATEMENT_TIMEOUT_MS").pipe(Config.withDefault(10_000)),
      connectTimeoutMillis: Settings.positiveInt("BYTEPORT_MYSQL_CONNECT_TIMEOUT_MS").pipe(Config.withDefault(5_000))
    })
    return yield* make(config)
  })
)
