/**
 * Typed errors of @byteport/tls. Messages name hosts, ports and file paths, never file contents:
 * a certificate or key file that fails to parse is reported by its path alone.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The TCP connection was refused (nothing listens on the port). */
export class TlsConnectionRefused extends Schema.TaggedError<TlsConnectionRefused>()("TlsConnectionRefused", {
  host: Schema.String,
  port: Schema.Number,
  message: Schema.String,
  /** The Node error code (`ECONNREFUSED`, `EHOSTUNREACH` …). */
  code: Schema.optional(Schema.String)
}) {}

/** The connection or the handshake took longer than its budget. */
export class TlsTimeout extends Schema.TaggedError<TlsTimeout>()("TlsTimeout", {
  host: Schema.String,
  port: Schema.Number,
  message: Schema.String,
  timeoutMillis: Schema.Number
}) {}

/** The TCP connection opened but the TLS handshake failed (not TLS, no shared cipher, reset …). */
export class TlsHandshakeFailed extends Schema.TaggedError<TlsHandshakeFailed>()("TlsHandshakeFailed", {
  host: Schema.String,
  port: Schema.Number,
  message: Schema.String,
  code: Schema.optional(Schema.String)
}) {}

/** A certificate or key file could not be read or parsed. The message names the path, never the content. */
export class CertFileError extends Schema.TaggedError<CertFileError>()("CertFileError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** Any error of an inspection (handshake). */
export type InspectError = TlsConnectionRefused | TlsTimeout | TlsHandshakeFailed
