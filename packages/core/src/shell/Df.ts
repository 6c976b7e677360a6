/**
 * Parser for `df -P` (POSIX output: one line per filesystem, never wrapped). Also reads `df -P -B1`
 * / `-k` (the block size comes from the header) and `df -P -i` (inodes).
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** One filesystem. */
export interface Filesystem {
  readonly filesystem: string
  /** Where it is mounted; may contain spaces. */
  readonly mountedOn: string
  /** Size, in `blockSize` units (inodes with `-i`). */
  readonly total: number
  readonly used: number
  readonly available: number
  /** The capacity column (`54%` → 54); undefined when df prints `-` (a size-0 filesystem). */
  readonly capacityPercent: number | undefined
  /** The sizes in bytes (total × blockSize …); undefined for inodes. */
  readonly totalBytes: number | undefined
  readonly usedBytes: number | undefined
  readonly availableBytes: number | undefined
}

/** A parsed `df -P`. */
export interface Df {
  /** `blocks` (with `blockSize` bytes each) or `inodes` (`df -P -i`). */
  readonly unit: "blocks" | "inodes"
  /** The block size from the header (`1024-blocks` → 1024, `1-blocks` / `1B-blocks` → 1); 1 for inodes. */
  readonly blockSize: number
  readonly filesystems: ReadonlyArray<Filesystem>
}

const NAME = "df -P"

// Filesystem (may contain spaces), three integers, capacity (N% or -), mount point (rest, may contain spaces)
const ROW = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(\S.*)$/

const SUFFIX: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, KB: 1000, MB: 1000 ** 2, GB: 1000 ** 3 }

const blockSizeOf = (header: string): { readonly unit: "blocks" | "inodes"; readonly blockSize: number } | undefined => {
  if (/\bInodes\s+IUsed\s+IFree\s+IUse%/.test(header)) return { unit: "inodes", blockSize: 1 }
  const m = /\b(\d+)([KMG]?B?)?-blocks\b/.exec(header)
  if (m === null) return undefined
  const suffix = m[2] === "B" ? "" : (m[2] ?? "")
  const factor = SUFFIX[suffix]
  return factor === undefined ? undefined : { unit: "blocks", blockSize: Number(m[1]) * factor }
}

/**
 * Parses `df -P` output. The first line must be the header naming the block size (`1024-blocks`,
 * `512-blocks`, `1-blocks`) or the inode columns: df run in another language, or `-h`, fails
 * naming the line (run it with `LC_ALL=C`). Empty output fails; a header alone is no filesystems.
 * A row that is cut short or has a non-integer size fails naming its line.
 */
export const parse = (text: string): Effect.Effect<Df, P.ParseError> =>
  Effect.suspend(() => {
    const all = P.lines(text).filter((l) => l.text.trim() !== "")
    if (all.length === 0) return Effect.fail(P.at(NAME, 0, "", "empty output (expected the df -P header)"))
    const header = all[0]!
    const unit = blockSizeOf(header.text)
    if (unit === undefined || !/^Filesystem\s/.test(header.text)) {
      return Effect.fail(P.at(NAME, header.n, header.text, "expected the header 'Filesystem N-blocks Used Available Capacity Mounted on' (run with LC_ALL=C, without -h)"))
    }
    const filesystems: Array<Filesystem> = []
    for (const { n, text: line } of all.slice(1)) {
      const m = ROW.exec(line.trimStart())
      if (m === null) return Effect.fail(P.at(NAME, n, line, "expected: filesystem, three integers, capacity (N%), mount point"))
      const [total, used, available] = [P.int(m[2]!), P.int(m[3]!), P.int(m[4]!)]
      if (total === undefined || used === undefined || available === undefined) return Effect.fail(P.at(NAME, n, line, "size out of range"))
      const bytes = (v: number): number | undefined => (unit.unit === "inodes" ? undefined : v * unit.blockSize)
      filesystems.push({
        filesystem: m[1]!,
        mountedOn: m[6]!,
        total,
        used,
        available,
        capacityPercent: m[5] === "-" ? undefined : Number(m[5]!.slice(0, -1)),
        totalBytes: bytes(total),
        usedBytes: bytes(used),
        availableBytes: bytes(available)
      })
    }
    return Effect.succeed({ unit: unit.unit, blockSize: unit.blockSize, filesystems })
  })
