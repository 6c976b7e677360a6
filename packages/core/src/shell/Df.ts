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

// ---------------------------------------------------------------------------------------------
// df -h, df -i, df -hi (the default, non-POSIX format)

/** One filesystem of `df -h` / `df -i`: every number undefined where df printed `-` (Unknown, never 0). */
export interface HumanFilesystem {
  readonly filesystem: string
  readonly mountedOn: string
  /** Bytes (`-h`, approximate: df rounds up to 2–3 significant digits) or inodes (`-i`). */
  readonly size: number | undefined
  readonly used: number | undefined
  readonly available: number | undefined
  /** `Use%` / `IUse%` (`54%` → 54); undefined for `-`. */
  readonly usePercent: number | undefined
}

/** A parsed `df -h` / `df -i`. */
export interface HumanDf {
  /** `bytes` (`-h`) or `inodes` (`-i`). */
  readonly unit: "bytes" | "inodes"
  readonly filesystems: ReadonlyArray<HumanFilesystem>
}

const HUMAN = "df -h"

const HUMAN_SUFFIX: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 }

/** A df size: `-` → undefined, `0`, `512`, `20G`, `1.5T`, `976K` (binary suffixes, as `-h` prints; `kB`/`MB` with a B are powers of 1000); NaN when malformed. */
export const humanSize = (s: string): number | undefined => {
  if (s === "-") return undefined
  const m = /^(\d+(?:[.,]\d+)?)([KMGTPE]?)(B?)$/i.exec(s)
  if (m === null) return Number.NaN
  const n = Number(m[1]!.replace(",", "."))
  const suffix = m[2]!.toUpperCase()
  const decimal = m[3]!.toUpperCase() === "B" && suffix !== ""
  const factor = decimal ? 1000 ** ["", "K", "M", "G", "T", "P", "E"].indexOf(suffix) : HUMAN_SUFFIX[suffix]!
  return Math.round(n * factor)
}

const HUMAN_ROW = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+%|-)\s+(\S.*)$/

/**
 * Parses `df -h`, `df -i` and `df -hi` (run with `LC_ALL=C`): the header decides bytes or
 * inodes; a `-` in any column (btrfs inodes, a pseudo filesystem) is Unknown (undefined), never 0.
 * A filesystem name too long for its column, printed alone on its line, is joined with the next.
 * Empty output, a foreign header or a row cut short fails naming its line.
 */
export const parseHuman = (text: string): Effect.Effect<HumanDf, P.ParseError> =>
  Effect.suspend(() => {
    const all = P.lines(text).filter((l) => l.text.trim() !== "")
    if (all.length === 0) return Effect.fail(P.at(HUMAN, 0, "", "empty output (expected the df header)"))
    const header = all[0]!
    const inodes = /^Filesystem\s+Inodes\s+IUsed\s+IFree\s+IUse%\s+Mounted on\s*$/.test(header.text)
    if (!inodes && !/^Filesystem\s+(Size|\S*-blocks)\s+Used\s+Avail(able)?\s+(Use|Capacity)%?\s+Mounted on\s*$/.test(header.text)) {
      return Effect.fail(P.at(HUMAN, header.n, header.text, "expected the header 'Filesystem Size Used Avail Use% Mounted on' or 'Filesystem Inodes IUsed IFree IUse% Mounted on' (run with LC_ALL=C)"))
    }
    const filesystems: Array<HumanFilesystem> = []
    for (let i = 1; i < all.length; i++) {
      let { n, text: line } = all[i]!
      if (/^\S+$/.test(line.trim()) && i + 1 < all.length && /^\s/.test(all[i + 1]!.text)) {
        line = `${line.trim()} ${all[i + 1]!.text.trim()}`
        n = all[i + 1]!.n
        i++
      }
      const m = HUMAN_ROW.exec(line.trim())
      if (m === null) return Effect.fail(P.at(HUMAN, n, line, "expected: filesystem, size, used, available, use%, mount point"))
      const [size, used, available] = [humanSize(m[2]!), humanSize(m[3]!), humanSize(m[4]!)]
      if ([size, used, available].some((v) => Number.isNaN(v))) return Effect.fail(P.at(HUMAN, n, line, "expected a size (20G, 512, -)"))
      if (inodes && [m[2]!, m[3]!, m[4]!].some((v) => v !== "-" && !/^\d+[KMGTPE]?$/.test(v))) return Effect.fail(P.at(HUMAN, n, line, "expected an inode count"))
      filesystems.push({
        filesystem: m[1]!,
        mountedOn: m[6]!,
        size,
        used,
        available,
        usePercent: m[5] === "-" ? undefined : Number(m[5]!.slice(0, -1))
      })
    }
    return Effect.succeed({ unit: inodes ? "inodes" : "bytes", filesystems })
  })

/** The filesystem a path lives on: the longest mount point that is a prefix of it (`/var/lib/containerd` → `/var` or `/`). */
export const filesystemOf = <F extends { readonly mountedOn: string }>(filesystems: ReadonlyArray<F>, path: string): F | undefined => {
  let best: F | undefined
  for (const f of filesystems) {
    const m = f.mountedOn
    const under = m === "/" || path === m || path.startsWith(`${m}/`)
    if (under && (best === undefined || m.length > best.mountedOn.length)) best = f
  }
  return best
}

/** The free share (0–100) of a filesystem from its use%: undefined when df printed `-` (Unknown). */
export const freePercent = (f: { readonly usePercent?: number | undefined; readonly capacityPercent?: number | undefined }): number | undefined => {
  const p = f.usePercent ?? f.capacityPercent
  return p === undefined ? undefined : 100 - p
}
