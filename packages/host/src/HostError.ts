/**
 * The typed errors of @byteport/host's readers: a file that could not be read (`HostReadError`).
 * Text that was read but could not be understood fails with core's `ParseError`
 * (`@byteport/core/shell`), which names the reader, the line and the offending text.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"

/** A host file or syscall (`/proc/meminfo`, `statfs`, `lstat` …) failed. */
export class HostReadError extends Schema.TaggedError<HostReadError>()("HostReadError", {
  /** The path that was read. */
  path: Schema.String,
  /** The operation (`read`, `statfs`, `lstat`, `readdir`). */
  op: Schema.String,
  /** The errno code (`ENOENT`, `EACCES` …), when there is one. */
  code: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/** Builds a HostReadError from a thrown Node error. */
export const fromError = (path: string, op: string, e: unknown): HostReadError => {
  const code = typeof e === "object" && e !== null && "code" in e && typeof e.code === "string" ? e.code : undefined
  const text = e instanceof Error ? e.message : String(e)
  return new HostReadError({ path, op, ...(code !== undefined ? { code } : {}), message: `${op} ${path}: ${text}` })
}

/** Reads a text file (a /proc file is read in one go), failing with a HostReadError. */
export const readText = (path: string): Effect.Effect<string, HostReadError> =>
  Effect.tryPromise({ try: () => fs.promises.readFile(path, "utf8"), catch: (e) => fromError(path, "read", e) })
