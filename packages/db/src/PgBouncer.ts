/**
 * The `PgBouncer` service: pgbouncer's admin console (the virtual `pgbouncer` database).
 *
 * The admin console speaks only the simple query protocol: a parameterised (extended protocol)
 * statement makes pgbouncer drop the connection. So this service sends fixed, whitelisted
 * command texts only (`SHOW POOLS`, `RELOAD`, `PAUSE db` ...), builds them from validated
 * identifiers, and never passes parameters. Each call uses its own short-lived connection, so a
 * dropped admin connection never poisons later calls.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"
import pg from "pg"
import { DbInvalidInput, DbTimeout, scrub } from "./DbError"
import type { DbError } from "./DbError"
import * as Dsn from "./Dsn"
import { fromPgError } from "./internal/pgErrors"
import { Settings } from "@byteport/core"

/** A row of an admin console result. */
export type Row = Readonly<Record<string, unknown>>

/** The `SHOW` commands this service issues. */
export type ShowCommand = "POOLS" | "STATS" | "CONFIG" | "DATABASES" | "CLIENTS" | "SERVERS" | "VERSION" | "USERS" | "LISTS"

const SHOW: ReadonlySet<string> = new Set(["POOLS", "STATS", "CONFIG", "DATABASES", "CLIENTS", "SERVERS", "VERSION", "USERS", "LISTS"])

/** Settings of the {@link PgBouncer} service. */
export interface PgBouncerConfig {
  /** `postgres://admin:password@host:port/pgbouncer` */
  readonly adminUrl: Redacted.Redacted<string>
  /** Path of pgbouncer.ini, for the pool-size editor (optional). */
  readonly iniPath?: string
  /** Per-command timeout in ms (default 5 000). */
  readonly timeoutMillis?: number
}

/** The PgBouncer admin console service. */
export interface PgBouncerApi {
  /** `SHOW <what>`; rows as the console returns them (counters may be strings). */
  readonly show: (what: ShowCommand) => Effect.Effect<ReadonlyArray<Row>, DbError | DbInvalidInput>
  /** `RELOAD`: re-read pgbouncer.ini. */
  readonly reload: Effect.Effect<void, DbError>
  /** `PAUSE <database>`. */
  readonly pause: (database: string) => Effect.Effect<void, DbError | DbInvalidInput>
  /** `RESUME <database>`. */
  readonly resume: (database: string) => Effect.Effect<void, DbError | DbInvalidInput>
  /** The configured pgbouncer.ini path, if any. */
  readonly iniPath: Option.Option<string>
}

/** The pgbouncer admin console service (`@byteport/db/PgBouncer`). */
export class PgBouncer extends Context.Service<PgBouncer, PgBouncerApi>()("@byteport/db/PgBouncer") {}

/** A database or user name the console accepts without quoting. */
export const isIdentifier = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_$.-]{0,62}$/.test(name)

/** Builds the service (no connection is held between calls). */
export const make = Effect.fn("PgBouncer.make")(function*(config: PgBouncerConfig) {
  const dsn = yield* Dsn.parse(config.adminUrl)
  const password = Redacted.value(dsn.password)
  const secrets = [password]
  const timeoutMillis = config.timeoutMillis ?? 5_000
  const toError = (cause: unknown) => fromPgError("pgbouncer", cause, secrets, timeoutMillis)

  // One simple-protocol statement on a fresh admin connection.
  const run = (text: string): Effect.Effect<ReadonlyArray<Row>, DbError> =>
    Effect.acquireUseRelease(
      Effect.tryPromise({
        try: async () => {
          const client = new pg.Client({
            host: dsn.host,
            port: dsn.port,
            user: dsn.user,
            password,
            database: dsn.database || "pgbouncer",
            connectionTimeoutMillis: timeoutMillis
          })
          client.on("error", () => undefined)
          try {
            await client.connect()
          } catch (e) {
            client.end().catch(() => undefined)
            throw e
          }
          return client
        },
        catch: toError
      }),
      (client) =>
        Effect.tryPromise({ try: () => client.query(text), catch: toError }).pipe(
          Effect.map((r) => r.rows as ReadonlyArray<Row>),
          Effect.timeoutOrElse({
            duration: timeoutMillis,
            orElse: () => Effect.fail(new DbTimeout({ engine: "pgbouncer", message: `${text} did not finish in time`, timeoutMillis }))
          })
        ),
      (client) => Effect.promise(() => client.end().catch(() => undefined))
    )

  const validated = (verb: string, database: string) =>
    isIdentifier(database)
      ? Effect.succeed(`${verb} ${database}`)
      : Effect.fail(new DbInvalidInput({ message: `not a valid pgbouncer database name: ${JSON.stringify(database.slice(0, 64))}` }))

  return PgBouncer.of({
    show: (what) =>
      SHOW.has(what)
        ? run(`SHOW ${what}`)
        : Effect.fail(new DbInvalidInput({ message: `unsupported admin command SHOW ${scrub(String(what)).slice(0, 32)}` })),
    reload: Effect.asVoid(run("RELOAD")),
    pause: (database) => validated("PAUSE", database).pipe(Effect.flatMap(run), Effect.asVoid),
    resume: (database) => validated("RESUME", database).pipe(Effect.flatMap(run), Effect.asVoid),
    iniPath: Option.fromNullishOr(config.iniPath)
  })
})

/** A layer from explicit settings. */
export const layer = (config: PgBouncerConfig): Layer.Layer<PgBouncer, DbInvalidInput> => Layer.effect(PgBouncer, make(config))

/**
 * A layer from configuration: `BYTEPORT_PGBOUNCER_ADMIN_URL` (redacted), `BYTEPORT_PGBOUNCER_INI`
 * (optional), `BYTEPORT_PGBOUNCER_TIMEOUT_MS`.
 */
export const layerConfig = Layer.effect(
  PgBouncer,
  Effect.gen(function*() {
    const config = yield* Config.all({
      adminUrl: Config.Redacted("BYTEPORT_PGBOUNCER_ADMIN_URL"),
      iniPath: Config.option(Config.String("BYTEPORT_PGBOUNCER_INI")),
      timeoutMillis: Settings.positiveInt("BYTEPORT_PGBOUNCER_TIMEOUT_MS").pipe(Config.withDefault(5_000))
    })
    return yield* make({
      adminUrl: config.adminUrl,
      timeoutMillis: config.timeoutMillis,
      ...(Option.isSome(config.iniPath) ? { iniPath: config.iniPath.value } : {})
    })
  })
)
