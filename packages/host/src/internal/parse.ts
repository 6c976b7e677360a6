// Small helpers for the readers: core's ParseError (exported from @byteport/core/shell), built the same way.
import { ParseError } from "@byteport/core/shell"

const MAX_TEXT = 200

/** Builds a ParseError naming a line (0: the text as a whole). */
export const at = (parser: string, line: number, text: string, problem: string): ParseError => {
  const cut = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text
  const where = line === 0 ? "" : ` line ${line}`
  return new ParseError({
    parser,
    line,
    text: cut,
    message: `${parser}:${where}: ${problem}${line === 0 || cut.length === 0 ? "" : `: ${JSON.stringify(cut)}`}`
  })
}

/** 1-based numbered lines; a trailing newline adds no line. */
export const lines = (text: string): Array<{ readonly n: number; readonly text: string }> => {
  const raw = text.split("\n")
  if (raw.length > 0 && raw[raw.length - 1] === "") raw.pop()
  return raw.map((t, i) => ({ n: i + 1, text: t }))
}

/** A non-negative decimal integer, or undefined. */
export const int = (s: string): number | undefined => (/^\d+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined)

/** A possibly negative decimal integer, or undefined. */
export const sint = (s: string): number | undefined => (/^-?\d+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : undefined)
