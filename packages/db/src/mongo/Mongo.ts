/**
 * The `Mongo` service: a scoped `MongoClient` (the official `mongodb` driver) running admin
 * commands with typed errors. The URL (`BYTEPORT_MONGODB_URL`) is `Redacted`: it never reaches a
 * log, a report or an error message (driver messages are scrubbed of it and of its password).
 *
 * @since 0.1.0
 */
import { Settings } from "@byteport/core"
import { Config, Context, Effect, Layer, Redacted } from "effect"
import { type Document, MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError } from "mongodb"
import { DbConnectionError, type DbError, DbQueryError, DbTimeout, scrub } from "../DbError"

/** Settings of the {@link Mongo} service. */
export interface MongoConfig {
  /** `mongodb://user:password@host:port/?…` */
  readonly url: Redacted.Redacted<string>
  /** The driver's pool size for BytePort's own connections (default 4). */
  readonly poolMax?: number
  /** Server selection / connect timeout in ms (default 5 000). */
  readonly connectTimeoutMillis?: number
  /** Per-command budget in ms (`maxTimeMS` is not sent: admin commands ignore it; default 10 000). */
  readonly commandTimeoutMillis?: number
  /** The `appName` BytePort's connections carry (default `byteport`): its own connections are not counted. */
  readonly appName?: string
}

/** The Mongo service. */
export interface MongoApi {
  /** Runs a command on `db` (default `admin`). */
  readonly command: (command: Document, db?: string) => Effect.Effect<Document, DbError>
  /** BytePort's own appName (its connections are excluded from readings). */
  readonly appName: string
  /** The driver client, for work the service does not wrap (tests, custom probes). */
  readonly client: MongoClient
}

/** The MongoDB service (`@byteport/db/Mongo`). */
export class Mongo extends Context.Service<Mongo, MongoApi>()("@byteport/db/Mongo") {}

/** The default appName of BytePort's connections. */
export const DEFAULT_APP_NAME = "byteport"

const secretsOf = (url: string): ReadonlyArray<string> => {
  const out = [url]
  try {
    const u = new URL(url)
    if (u.password !== "") out.push(decodeURIComponent(u.password))
  } catch {
    // not a URL: the whole string is the secret
  }
  return out
}

/** Maps a driver error to a typed error (messages scrubbed of the URL and password). */
export const fromMongoError = (cause: unknown, secrets: ReadonlyArray<string>, timeoutMillis: number): DbConnectionError | DbQueryError | DbTimeout => {
  const message = scrub(cause instanceof Error ? cause.message : String(cause), secrets)
  if (cause instanceof MongoServerError) {
    return new DbQueryError({ engine: "mongodb", message, ...(cause.codeName !== undefined ? { code: cause.codeName } : {}), ...(typeof cause.code === "number" ? { errno: cause.code } : {}) })
  }
  if (cause instanceof MongoServerSelectionError || cause instanceof MongoNetworkError) {
    return new DbConnectionError({ engine: "mongodb", message, code: cause.name })
  }
  if (cause instanceof Error && /timed out/i.test(cause.message)) return new DbTimeout({ engine: "mongodb", message, timeoutMillis })
  return new DbConnectionError({ engine: "mongodb", message })
}

/** Builds the service over a new client; closed when the scope closes. */
export const make = Effect.fn("Mongo.make")(function*(config: MongoConfig) {
  const url = Redacted.value(config.url)
  const secrets = secretsOf(url)
  const timeoutMillis = config.commandTimeoutMillis ?? 10_000
  const appName = config.appName ?? DEFAULT_APP_NAME
  const client = yield* Effect.acquireRelease(
    Effect.sync(() =>
      new MongoClient(url, {
        appName,
        maxPoolSize: config.poolMax ?? 4,
        serverSelectionTimeoutMS: config.connectTimeoutMillis ?? 5_000,
        connectTimeoutMS: config.connectTimeoutMillis ?? 5_000
      })
    ),
    (c) => Effect.promise(() => c.close().catch(() => undefined))
  )
  const api: MongoApi = {
    appName,
    client,
    command: (command, db = "admin") =>
      Effect.tryPromise({
        try: () => client.db(db).command(command),
        catch: (e) => fromMongoError(e, secrets, timeoutMillis)
      }).pipe(
        Effect.timeoutOrElse({
          duration: timeoutMillis,
          orElse: () => Effect.fail(new DbTimeout({ engine: "mongodb", message: `${Object.keys(command)[0] ?? "command"} did not finish in time`, timeoutMillis }))
        })
      )
  }
  return api
})

/** The service from settings given in code. */
export const layer = (config: MongoConfig): Layer.Layer<Mongo> => Layer.effect(Mongo, make(config))

/** The service from configuration: `BYTEPORT_MONGODB_URL` (redacted), `BYTEPORT_MONGODB_POOL_MAX`, `BYTEPORT_MONGODB_CONNECT_TIMEOUT_MS`. */
export const layerConfig: Layer.Layer<Mongo, Config.ConfigError> = Layer.effect(
  Mongo,
  Effect.gen(function*() {
    const config = yield* Config.all({
      url: Config.Redacted("BYTEPORT_MONGODB_URL"),
      poolMax: Settings.positiveInt("BYTEPORT_MONGODB_POOL_MAX").pipe(Config.withDefault(4)),
      connectTimeoutMillis: Settings.positiveInt("BYTEPORT_MONGODB_CONNECT_TIMEOUT_MS").pipe(Config.withDefault(5_000))
    })
    return yield* make(config)
  })
)
