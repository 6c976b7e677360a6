import { DbConnectionError, DbQueryError, DbTimeout, scrub } from "../DbError"
import type { Engine } from "../DbError"

/** Node / driver error codes that mean the connection itself is gone or unreachable. */
const NODE_CONNECTION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST", "PROTOCOL_SEQUENCE_TIMEOUT", "ER_CON_COUNT_ERROR", "ER_ACCESS_DENIED_ERROR",
  "ER_DBACCESS_DENIED_ERROR", "ER_SERVER_SHUTDOWN", "ER_CONNECTION_KILLED", "ER_TOO_MANY_USER_CONNECTIONS"
])

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

/**
 * Maps an error thrown by `pg` (or the Node socket under it) to a typed error. Errors at ERROR
 * severity are query errors (the session survives); otherwise SQLSTATE classes 08 (connection
 * exception), 28 (invalid authorization), 53300 (too many connections) and 57P0x (admin
 * shutdown / terminated backend) and socket errors are connection errors; a statement timeout
 * is a DbTimeout.
 */
export const fromPgError = (
  engine: Engine,
  cause: unknown,
  secrets: ReadonlyArray<string>,
  statementTimeoutMillis: number
): DbConnectionError | DbQueryError | DbTimeout => {
  const e = (cause ?? {}) as { message?: unknown; code?: unknown; severity?: unknown }
  const raw = cause instanceof Error ? cause.message : str(e.message) ?? String(cause)
  const message = scrub(raw, secrets)
  const code = str(e.code)
  if (code === "57014" && /statement timeout/i.test(raw)) {
    return new DbTimeout({ engine, message, timeoutMillis: statementTimeoutMillis })
  }
  if (/timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(raw)) {
    return new DbTimeout({ engine, message, timeoutMillis: statementTimeoutMillis })
  }
  // A server error at ERROR severity leaves the connection usable (pgbouncer answers "admin
  // access needed" with 08P01 at ERROR): a query error. FATAL / PANIC end the session.
  if (code !== undefined && e.severity === "ERROR") {
    return new DbQueryError({ engine, message, code })
  }
  if (
    code !== undefined &&
    (code.startsWith("08") || code.startsWith("28") || code === "53300" || code.startsWith("57P") ||
      NODE_CONNECTION_CODES.has(code))
  ) {
    return new DbConnectionError({ engine, message, code })
  }
  if (code === undefined && /Connection terminated|not queryable|Client has encountered a connection error|socket|ended/i.test(raw)) {
    return new DbConnectionError({ engine, message })
  }
  return new DbQueryError({ engine, message, ...(code !== undefined ? { code } : {}) })
}

/** Is this a connection error worth one retry on a fresh connection (not an auth failure)? */
export const isRetriableConnectionError = (e: { readonly _tag: string; readonly code?: string | undefined }): boolean =>
  e._tag === "DbConnectionError" && !(e.code ?? "").startsWith("28") && e.code !== "ER_ACCESS_DENIED_ERROR"
