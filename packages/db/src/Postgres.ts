/**
 * The `Postgres` service: a small, scoped `pg` pool with typed errors.
 *
 * - Every pooled client gets an `error` listener, and so does the pool: a backend terminated by
 *   `pg_terminate_backend` (or a server restart) never crashes the process. The broken client is
 *   discarded and the next query opens a fresh connection; a query that hit a dead connection
 *   is retried once on a new one.
 * - Statements run with a server-side `statement_timeout` and a client-side backstop; a timed-out
 *   client is destroyed, never handed back to the pool. Through pgbouncer (`viaPgBouncer`), which
 *   refuses the startup parameter, the client-side timeout alone applies.
 * - Queries without parameters use the simple query protocol; with parameters, the extended one.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"
import pg from "pg"
import { DbConnectionError, DbDecodeError, DbInvalidInput, DbQueryError, DbTimeout, scrub } from "./DbError"
import type { DbError } from "./DbError"
import * as Dsn from "./Dsn"
import { fromPgError, isRetriableConnectionError } from "./internal/pgErrors"
import { scopedPool } from "./internal/pool"
import { Settings } from "@byteport/core"

/** A result row as the driver returns it. */
export type Row = Readonly<Record<string, unknown>>

/** Settings of a {@link Postgres} pool. */
export interface PostgresConfig {
  /** `postgres://user:password@host:port/database` */
  readonly url: Redacted.Redacted<string>
  /** `application_name` of BytePort's own sessions (default `byteport`). */
  readonly applicationName?: string
  /** Pool size (default 4). */
  readonly poolMax?: number
  /** Server-side statement_timeout and client-side backstop, in ms (default 10 000). */
  readonly statementTimeoutMillis?: number
  /** Connect timeout in ms (default 5 000). */
  readonly connectTimeoutMillis?: number
  /**
   * The URL points at pgbouncer (default false). pgbouncer refuses a `statement_timeout` startup
   * parameter, so none is sent and the client-side timeout alone bounds a statement (a timed-out
   * connection is destroyed).
   */
  readonly viaPgBouncer?: boolean
}

/** One checked-out connection, for work that must stay on one session (transactions). */
export interface PgConnection {
  /** Runs a statement on this connection. */
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, DbError>
  /** Runs a statement and decodes every row with `schema`. */
  readonly queryAs: <A>(
    schema: Schema.Decoder<A>,
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<A>, DbError>
  /** The server pid of this session (`pg_backend_pid()`). */
  readonly processId: number | undefined
}

/** The Postgres service. */
export interface PostgresApi {
  /** Runs a statement on a pooled connection (retried once on a fresh connection if the connection was lost). */
  readonly query: (text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, DbError>
  /** Runs a statement and decodes every row with `schema`. */
  readonly queryAs: <A>(
    schema: Schema.Decoder<A>,
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<A>, DbError>
  /** Runs `f` with one dedicated connection, returned to the pool (or destroyed if broken) afterwards. */
  readonly withConnection: <A, E, R>(
    f: (connection: PgConnection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DbError, R>
  /** How many asynchronous client/pool errors were absorbed (terminated backends, lost sockets). */
  readonly backgroundErrors: Effect.Effect<number>
  /** The database user this service connects as. */
  readonly user: string
}

/** The PostgreSQL service (`@byteport/db/Postgres`). */
export class Postgres extends Context.Service<Postgres, PostgresApi>()("@byteport/db/Postgres") {}

const describeRows = (issue: unknown): string => String(issue).slice(0, 500)

/** Builds the service over a new pool; the pool is closed when the scope closes. */
export const make = Effect.fn("Postgres.make")(function*(config: PostgresConfig) {
  const dsn = yield* Dsn.parse(config.url)
  const password = Redacted.value(dsn.password)
  const secrets = [password]
  const statementTimeoutMillis = config.statementTimeoutMillis ?? 10_000
  const connectTimeoutMillis = config.connectTimeoutMillis ?? 5_000
  const context = yield* Effect.context<never>()
  let backgroundErrors = 0
  const onBackgroundError = (err: unknown) => {
    backgroundErrors++
    const message = scrub(err instanceof Error ? err.message : String(err), secrets)
    Effect.runForkWith(context)(Effect.logDebug(`postgres: connection error absorbed: ${message}`))
  }
  const pool = yield* scopedPool({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    password,
    database: dsn.database,
    max: config.poolMax ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: connectTimeoutMillis,
    ...(config.viaPgBouncer === true ? {} : { statement_timeout: statementTimeoutMillis }),
    application_name: config.applicationName ?? dsn.params.application_name ?? "byteport"
  }, onBackgroundError)

  const toError = (cause: unknown) => fromPgError("postgres", cause, secrets, statementTimeoutMillis)

  const checkout = Effect.tryPromise({ try: () => pool.connect(), catch: toError })

  const runOn = (client: pg.PoolClient, text: string, params?: ReadonlyArray<unknown>) =>
    Effect.tryPromise({
      try: () =>
        params === undefined || params.length === 0
          ? client.query(text)
          : client.query(text, params as Array<unknown>),
      catch: toError
    }).pipe(
      Effect.map((r) => (Array.isArray(r) ? (r.at(-1)?.rows ?? []) : r.rows) as ReadonlyArray<Row>),
      Effect.timeoutOrElse({
        duration: config.viaPgBouncer === true ? statementTimeoutMillis : statementTimeoutMillis + 2_000,
        orElse: () =>
          Effect.fail(new DbTimeout({ engine: "postgres", message: "statement did not finish in time", timeoutMillis: statementTimeoutMillis }))
      })
    )

  // Releases a client: broken or timed-out clients are destroyed, never reused.
  const release = (client: pg.PoolClient, failed: boolean) =>
    Effect.sync(() => {
      try {
        client.release(failed ? true : undefined)
      } catch {
        // already released
      }
    })

  const withClient = <A, E, R>(f: (client: pg.PoolClient) => Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(checkout, f, (client, exit) =>
      release(
        client,
        exit._tag === "Failure" && exit.cause.reasons.some((r) =>
          r._tag !== "Fail" ||
          (typeof r.error === "object" && r.error !== null && "_tag" in r.error &&
            (r.error._tag === "DbConnectionError" || r.error._tag === "DbTimeout"))
        )
      ))

  const decodeRows = <A>(schema: Schema.Decoder<A>) => {
    const decode = Schema.decodeUnknownEffect(Schema.Array(schema))
    return (rows: ReadonlyArray<Row>) =>
      decode(rows).pipe(
        Effect.mapError((e) => new DbDecodeError({ engine: "postgres", message: scrub(describeRows(e), secrets) }))
      )
  }

  const query = (text: string, params?: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<Row>, DbError> =>
    withClient((client) => runOn(client, text, params)).pipe(
      Effect.retry({ times: 1, while: (e) => isRetriableConnectionError(e) })
    )

  const makeConnection = (client: pg.PoolClient): PgConnection => {
    const q = (text: string, params?: ReadonlyArray<unknown>) => runOn(client, text, params)
    return {
      query: q,
      queryAs: (schema, text, params) => q(text, params).pipe(Effect.flatMap(decodeRows(schema))),
      processId: (client as unknown as { processID?: number }).processID
    }
  }

  return Postgres.of({
    query,
    queryAs: (schema, text, params) => query(text, params).pipe(Effect.flatMap(decodeRows(schema))),
    withConnection: (f) => withClient((client) => f(makeConnection(client))),
    backgroundErrors: Effect.sync(() => backgroundErrors),
    user: dsn.user
  })
})

/** A layer from explicit settings. */
export const layer = (config: PostgresConfig): Layer.Layer<Postgres, DbInvalidInput> =>
  Layer.effect(Postgres, make(config))

/**
 * A layer from configuration: `BYTEPORT_PG_URL` (redacted), `BYTEPORT_PG_APPLICATION_NAME`,
 * `BYTEPORT_PG_POOL_MAX`, `BYTEPORT_PG_STATEMENT_TIMEOUT_MS`, `BYTEPORT_PG_CONNECT_TIMEOUT_MS`,
 * `BYTEPORT_PG_VIA_PGBOUNCER` (false).
 */
export const layerConfig = Layer.effect(
  Postgres,
  Effect.gen(function*() {
    const config = yield* Config.all({
      url: Config.Redacted("BYTEPORT_PG_URL"),
      applicationName: Config.String("BYTEPORT_PG_APPLICATION_NAME").pipe(Config.withDefault("byteport")),
      poolMax: Settings.positiveInt("BYTEPORT_PG_POOL_MAX").pipe(Config.withDefault(4)),
      statementTimeoutMillis: Settings.positiveInt("BYTEPORT_PG_STATEMENT_TIMEOUT_MS").pipe(Config.withDefault(10_000)),
      connectTimeoutMillis: Settings.positiveInt("BYTEPORT_PG_CONNECT_TIMEOUT_MS").pipe(Config.withDefault(5_000)),
      viaPgBouncer: Config.Boolean("BYTEPORT_PG_VIA_PGBOUNCER").pipe(Config.withDefault(false))
    })
    return yield* make(config)
  })
)

/** Re-exported so callers can match on them without a second import. */
export { DbConnectionError, DbInvalidInput, DbQueryError, DbTimeout }
