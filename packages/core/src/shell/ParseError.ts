/**
 * The one error of every node-tool output parser: which parser, which line (1-based) or JSON
 * path, what was expected, and the offending line (redacted, cut to 200 characters).
 *
 * @since 0.2.0
 */
import { Effect, Schema } from "effect"
import { Redactor } from "@byteport/core"

/** Output a parser could not read. */
export class ParseError extends Schema.TaggedError<ParseError>()("ParseError", {
  /** The parser (`df -P`, `free -b`, `journalctl -o json` …). */
  parser: Schema.String,
  /** The 1-based line the problem is on (0: the output as a whole, e.g. empty output). */
  line: Schema.Number,
  /** For JSON documents: the path of the bad value (`containers[2].state`). */
  path: Schema.optionalKey(Schema.String),
  /** The offending line, redacted and cut to 200 characters. */
  text: Schema.String,
  message: Schema.String
}) {}

const MAX_TEXT = 200

/** Builds a ParseError naming a line; the line's text is redacted and cut. */
export const at = (parser: string, line: number, text: string, problem: string, path?: string): ParseError => {
  const redacted = Redactor.defaultRedactor.redactString(text)
  const cut = redacted.length > MAX_TEXT ? `${redacted.slice(0, MAX_TEXT)}…` : redacted
  const where = line === 0 ? "" : ` line ${line}`
  return new ParseError({
    parser,
    line,
    ...(path !== undefined ? { path } : {}),
    text: cut,
    message: `${parser}:${where}${path !== undefined ? ` at ${path}` : ""}: ${problem}${line === 0 || cut.length === 0 ? "" : `: ${JSON.stringify(cut)}`}`
  })
}

/** The lines of a command's output with their 1-based numbers (a trailing newline adds no line; CRLF accepted). */
export const lines = (text: string): Array<{ readonly n: number; readonly text: string }> => {
  const raw = text.split("\n")
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop()
  return raw.map((t, i) => ({ n: i + 1, text: t.endsWith("\r") ? t.slice(0, -1) : t }))
}

/** Parses a JSON document, failing with a ParseError naming the line of a syntax error. */
export const json = (parser: string, text: string): Effect.Effect<unknown, ParseError> =>
  Effect.suspend(() => {
    if (text.trim().length === 0) return Effect.fail(at(parser, 0, "", "empty output"))
    try {
      return Effect.succeed(JSON.parse(text) as unknown)
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e)
      const end = text.trimEnd().length
      const pos = /position (\d+)/.exec(message)
      // V8 names a position for most errors; none for "Unexpected end" (truncated) or a bad first token
      const offset = pos ? Number(pos[1]) : /Unexpected end/.test(message) ? end : text.length - text.trimStart().length
      const truncated = offset >= end
      const line = text.slice(0, Math.min(offset, end)).split("\n").length
      const lineText = text.split("\n")[line - 1] ?? ""
      return Effect.fail(at(parser, line, lineText, truncated ? "truncated JSON" : "invalid JSON"))
    }
  })

/** Parses a non-negative decimal integer (digits only), or undefined. */
export const int = (s: string): number | undefined => (/^\d+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined)

/** Formats a Schema issue path (`containers[2].state`). */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("")
