/**
 * Typed errors of @byteport/db. Messages never carry a password or a DSN: every message built
 * from a driver error passes through {@link scrub} first.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The engine an error came from. */
export const Engine = Schema.Literals(["postgres", "mysql", "pgbouncer", "mongodb"])
/** The engine an error came from. */
export type Engine = typeof Engine.Type

/** A connection could not be opened, or was lost (refused, auth failure, terminated backend). */
export class DbConnectionError extends Schema.TaggedError<DbConnectionError>()("DbConnectionError", {
  engine: Engine,
  message: Schema.String,
  /** SQLSTATE (PostgreSQL / MySQL) or Node error code (ECONNREFUSED), when known. */
  code: Schema.optional(Schema.String)
}) {}

/** The server rejected a statement. `code` is the SQLSTATE (e.g. `42501`) or the MySQL error name. */
export class DbQueryError extends Schema.TaggedError<DbQueryError>()("DbQueryError", {
  engine: Engine,
  message: Schema.String,
  code: Schema.optional(Schema.String),
  /** MySQL's numeric error number (e.g. 1094), when the engine is MySQL. */
  errno: Schema.optional(Schema.Number)
}) {}

/** A statement or a connection attempt took longer than its budget. */
export class DbTimeout extends Schema.TaggedError<DbTimeout>()("DbTimeout", {
  engine: Engine,
  message: Schema.String,
  timeoutMillis: Schema.Number
}) {}

/** Rows the server returned did not have the expected shape. */
export class DbDecodeError extends Schema.TaggedError<DbDecodeError>()("DbDecodeError", {
  engine: Engine,
  message: Schema.String
}) {}

/** Refused input (a bad identifier, an unknown admin command) before anything was sent. */
export class DbInvalidInput extends Schema.TaggedError<DbInvalidInput>()("DbInvalidInput", {
  message: Schema.String
}) {}

/** Any error a database call of this package can fail with. */
export type DbError = DbConnectionError | DbQueryError | DbTimeout | DbDecodeError

/**
 * Removes credentials from a message: the given secrets wherever they occur, the password part
 * of any `scheme://user:password@host` URL, and `password=...` key/value pairs.
 */
export const scrub = (message: string, secrets: ReadonlyArray<string> = []): string => {
  let out = message
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join("***")
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret && encoded.length > 0) out = out.split(encoded).join("***")
  }
  return out
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@\s]*@/gi, "$1:***@")
    .replace(/(password\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, "$1***")
}
