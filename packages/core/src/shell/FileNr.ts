/**
 * Parser for `/proc/sys/fs/file-nr` (`cat /proc/sys/fs/file-nr`): allocated file handles, the
 * unused (free) allocated ones (always 0 since Linux 2.6), and the maximum (`fs.file-max`, which
 * may be 2^63-1: the numbers are bigints).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** `/proc/sys/fs/file-nr`. */
export interface FileNr {
  readonly allocated: bigint
  readonly unused: bigint
  readonly max: bigint
  /** Handles in use: allocated − unused. */
  readonly inUse: bigint
  /** In use as a share of the maximum, 0–100 (a float; 0 when max is 0). */
  readonly usedPercent: number
}

const NAME = "/proc/sys/fs/file-nr"

/** Parses the one line of three whitespace-separated decimal integers. Anything else (two numbers, a sign, text, more lines) fails naming the line. */
export const parse = (text: string): Effect.Effect<FileNr, P.ParseError> =>
  Effect.suspend(() => {
    const all = P.lines(text).filter((l) => l.text.trim() !== "")
    if (all.length === 0) return Effect.fail(P.at(NAME, 0, "", "empty output"))
    if (all.length > 1) return Effect.fail(P.at(NAME, all[1]!.n, all[1]!.text, "expected one line"))
    const { n, text: line } = all[0]!
    const parts = line.trim().split(/\s+/)
    if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) return Effect.fail(P.at(NAME, n, line, "expected three integers: allocated, unused, max"))
    const [allocated, unused, max] = parts.map((p) => BigInt(p)) as [bigint, bigint, bigint]
    const inUse = allocated >= unused ? allocated - unused : 0n
    // scale to keep 6 decimals without losing the bigint range
    const usedPercent = max === 0n ? 0 : Number((inUse * 100_000_000n) / max) / 1_000_000
    return Effect.succeed({ allocated, unused, max, inUse, usedPercent })
  })
