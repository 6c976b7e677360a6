/**
 * Parser for `free -b` (procps), both layouts: the current one (`shared buff/cache available`)
 * and the old one (`shared buffers cached` with a `-/+ buffers/cache:` row).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** The `Mem:` row, in bytes. Columns the installed procps does not print are undefined. */
export interface Memory {
  readonly total: number
  readonly used: number
  readonly free: number
  readonly shared: number | undefined
  /** `buff/cache` (current layout) or `buffers + cached` (old layout). */
  readonly buffCache: number | undefined
  /** `available` (current layout); undefined in the old layout. */
  readonly available: number | undefined
}

/** The `Swap:` row, in bytes. */
export interface Swap {
  readonly total: number
  readonly used: number
  readonly free: number
}

/** A parsed `free -b`. */
export interface Free {
  readonly mem: Memory
  /** Undefined when free printed no Swap row. */
  readonly swap: Swap | undefined
}

const NAME = "free -b"

const KNOWN = new Set(["total", "used", "free", "shared", "buff/cache", "buffers", "cache", "cached", "available"])

/**
 * Parses `free -b` output by its header's column names. Fails naming the line for empty output, a
 * header alone (no `Mem:` row), a localized header or row label (run it with `LC_ALL=C`), a
 * value that is not an integer number of bytes (`free -h`'s `7.7Gi`, `7,7Gi`), or a row cut short.
 */
export const parse = (text: string): Effect.Effect<Free, P.ParseError> =>
  Effect.suspend(() => {
    const all = P.lines(text).filter((l) => l.text.trim() !== "")
    if (all.length === 0) return Effect.fail(P.at(NAME, 0, "", "empty output"))
    const header = all[0]!
    const columns = header.text.trim().split(/\s+/)
    if (!columns.every((c) => KNOWN.has(c)) || columns[0] !== "total") {
      return Effect.fail(P.at(NAME, header.n, header.text, "expected the header 'total used free shared buff/cache available' (run with LC_ALL=C)"))
    }
    let mem: Memory | undefined
    let swap: Swap | undefined
    for (const { n, text: line } of all.slice(1)) {
      const [label, ...values] = line.trim().split(/\s+/)
      if (label === "-/+") continue // old layout: "-/+ buffers/cache:" (derived values)
      if (label === "Total:") continue // free -t
      if (label !== "Mem:" && label !== "Swap:" && label !== "Low:" && label !== "High:") {
        return Effect.fail(P.at(NAME, n, line, "expected a Mem: or Swap: row (run with LC_ALL=C)"))
      }
      const nums: Record<string, number> = {}
      for (let i = 0; i < values.length; i++) {
        const v = P.int(values[i]!)
        if (v === undefined) return Effect.fail(P.at(NAME, n, line, `${columns[i] ?? `column ${i + 2}`} is not an integer number of bytes (run free -b)`))
        if (i < columns.length) nums[columns[i]!] = v
      }
      const need = label === "Mem:" ? columns.length : 3
      if (values.length < need) return Effect.fail(P.at(NAME, n, line, `expected ${need} values, got ${values.length}`))
      if (label === "Mem:") {
        const cached = nums["cached"] ?? nums["cache"]
        mem = {
          total: nums["total"]!,
          used: nums["used"]!,
          free: nums["free"]!,
          shared: nums["shared"],
          buffCache: nums["buff/cache"] ?? (nums["buffers"] !== undefined && cached !== undefined ? nums["buffers"] + cached : undefined),
          available: nums["available"]
        }
      } else if (label === "Swap:") {
        swap = { total: nums["total"]!, used: nums["used"]!, free: nums["free"]! }
      }
    }
    if (mem === undefined) return Effect.fail(P.at(NAME, 0, "", "no Mem: row"))
    return Effect.succeed({ mem, swap })
  })
