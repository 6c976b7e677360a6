/**
 * Connection strings (DSNs) parsed into their parts, so that drivers get discrete options and
 * the password stays inside a `Redacted` until the moment a socket is opened.
 *
 * @since 0.1.0
 */
import { Effect, Redacted } from "effect"
import { DbInvalidInput } from "./DbError"

/** The parts of a `postgres://` or `mysql://` URL. */
export interface Dsn {
  readonly scheme: "postgres" | "mysql"
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly database: string
  /** The query string parameters (e.g. `application_name`, `sslmode`). */
  readonly params: Readonly<Record<string, string>>
}

/** Parses a DSN. The error message never contains the password. */
export const parse = (dsn: Redacted.Redacted<string>): Effect.Effect<Dsn, DbInvalidInput> =>
  Effect.suspend(() => {
    let url: URL
    try {
      url = new URL(Redacted.value(dsn))
    } catch {
      return Effect.fail(new DbInvalidInput({ message: "the database URL is not a valid URL" }))
    }
    const proto = url.protocol.replace(/:$/, "")
    const scheme = proto === "postgres" || proto === "postgresql" ? "postgres" : proto === "mysql" ? "mysql" : undefined
    if (scheme === undefined) {
      return Effect.fail(new DbInvalidInput({ message: `unsupported database URL scheme "${proto}" (postgres://, mysql://)` }))
    }
    const port = url.port === "" ? (scheme === "postgres" ? 5432 : 3306) : Number(url.port)
    const params: Record<string, string> = {}
    url.searchParams.forEach((v, k) => {
      params[k] = v
    })
    return Effect.succeed({
      scheme,
      host: url.hostname,
      port,
      user: decodeURIComponent(url.username),
      password: Redacted.make(decodeURIComponent(url.password)),
      database: decodeURIComponent(url.pathname.replace(/^\//, "")),
      params
    } satisfies Dsn)
  })
