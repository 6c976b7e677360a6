/**
 * Parser for `ps -eo pid,ppid,rss,pcpu,comm` style output: the header names the columns, every
 * column but the last is one token, the last (`COMMAND`, from `comm` or `args`) is the rest of
 * the line and may contain spaces.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** One process. Columns the command line did not ask for are undefined. */
export interface Process {
  readonly pid: number
  /** `PPID`. */
  readonly ppid: number | undefined
  /** `RSS`, in KiB (as ps prints it). */
  readonly rssKiB: number | undefined
  /** `VSZ`, in KiB. */
  readonly vszKiB: number | undefined
  /** `%CPU` (`pcpu`). A decimal comma (`0,5` under a German locale) is read as a point. */
  readonly cpuPercent: number | undefined
  /** `%MEM` (`pmem`). */
  readonly memPercent: number | undefined
  /** `USER`. */
  readonly user: string | undefined
  /** `ELAPSED` (`etimes`), in seconds. */
  readonly elapsedSeconds: number | undefined
  /** `STAT`. */
  readonly stat: string | undefined
  /** `COMMAND` / `CMD` / `COMM` (`comm` or `args`). */
  readonly command: string | undefined
  /** Every column by its header name, raw. */
  readonly columns: Readonly<Record<string, string>>
}

const NAME = "ps"

const INTEGER = new Set(["PID", "PPID", "RSS", "RSZ", "VSZ"])
const PERCENT = new Set(["%CPU", "%MEM"])

/** A percentage: digits with at most one decimal point or comma. */
const percent = (s: string): number | undefined => (/^\d+(?:[.,]\d+)?$/.test(s) ? Number(s.replace(",", ".")) : undefined)

/** Elapsed time: seconds (`etimes`) or `[[dd-]hh:]mm:ss` (`etime`). */
const elapsed = (s: string): number | undefined => {
  const secs = P.int(s)
  if (secs !== undefined) return secs
  const m = /^(?:(?:(\d+)-)?(\d+):)?(\d{1,2}):(\d{2})$/.exec(s)
  if (m === null) return undefined
  return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3_600 + Number(m[3]) * 60 + Number(m[4])
}

/**
 * Parses ps output with a header (`ps -eo pid,ppid,rss,pcpu,comm`; also `pmem`, `vsz`, `user`,
 * `etimes`, `stat`, `args`). Needs a `PID` column. Fails naming the line for empty output, a
 * header without PID, a row cut short, or a number that is not one (`1.2.3`, `-`). A header alone
 * is no processes.
 */
export const parse = (text: string): Effect.Effect<ReadonlyArray<Process>, P.ParseError> =>
  Effect.suspend(() => {
    const all = P.lines(text).filter((l) => l.text.trim() !== "")
    if (all.length === 0) return Effect.fail(P.at(NAME, 0, "", "empty output (expected a header)"))
    const header = all[0]!
    const names = header.text.trim().split(/\s+/)
    if (!names.includes("PID")) return Effect.fail(P.at(NAME, header.n, header.text, "expected a header with a PID column (run with LC_ALL=C)"))
    const processes: Array<Process> = []
    for (const { n, text: line } of all.slice(1)) {
      const t = line.trim()
      const cells: Array<string> = []
      let rest = t
      for (let i = 0; i < names.length - 1; i++) {
        const m = /^(\S+)(?:\s+|$)/.exec(rest)
        if (m === null) return Effect.fail(P.at(NAME, n, line, `expected ${names.length} columns (row cut short)`))
        cells.push(m[1]!)
        rest = rest.slice(m[0].length)
      }
      cells.push(rest)
      if (rest.length === 0) return Effect.fail(P.at(NAME, n, line, `expected ${names.length} columns (row cut short)`))
      const columns: Record<string, string> = {}
      const values: Record<string, number> = {}
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!
        const cell = cells[i] ?? ""
        columns[name] = cell
        if (INTEGER.has(name)) {
          const v = P.int(cell)
          if (v === undefined) return Effect.fail(P.at(NAME, n, line, `${name} is not an integer`))
          values[name] = v
        } else if (name === "ELAPSED") {
          const v = elapsed(cell)
          if (v === undefined) return Effect.fail(P.at(NAME, n, line, "ELAPSED is neither seconds (etimes) nor [[dd-]hh:]mm:ss (etime)"))
          values[name] = v
        } else if (PERCENT.has(name)) {
          const v = percent(cell)
          if (v === undefined) return Effect.fail(P.at(NAME, n, line, `${name} is not a percentage`))
          values[name] = v
        }
      }
      const command = columns["COMMAND"] ?? columns["CMD"] ?? columns["COMM"]
      processes.push({
        pid: values["PID"]!,
        ppid: values["PPID"],
        rssKiB: values["RSS"] ?? values["RSZ"],
        vszKiB: values["VSZ"],
        cpuPercent: values["%CPU"],
        memPercent: values["%MEM"],
        user: columns["USER"],
        elapsedSeconds: values["ELAPSED"],
        stat: columns["STAT"],
        command,
        columns
      })
    }
    return Effect.succeed(processes)
  })
