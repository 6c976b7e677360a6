/**
 * `statfs(2)` of a mount (node:fs `statfs`), in bytes and inodes, with df's Use%:
 * used / (used + available), rounded up — root's reserved blocks count as neither, exactly as
 * `df` prints it — and the inode usage the same way.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as HostError from "../HostError"

const N = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** A decoded statfs. */
export const Usage = Schema.Struct({
  /** The path that was asked about. */
  path: Schema.String,
  /** The filesystem's magic number (`0x01021994` is tmpfs, `0xEF53` ext4). */
  type: N,
  /** Block size, bytes. */
  blockSize: N,
  totalBytes: N,
  /** totalBytes − free bytes (blocks − bfree). */
  usedBytes: N,
  /** Bytes available to unprivileged users (bavail). */
  availableBytes: N,
  /** df's Use%: ceil(100 × used / (used + available)); 0 for an empty filesystem. */
  usedPercent: N,
  totalInodes: N,
  usedInodes: N,
  freeInodes: N,
  /** df -i's IUse%: ceil(100 × used / total); 0 when the filesystem reports no inodes (btrfs, some tmpfs). */
  inodeUsedPercent: N
})
/** A decoded statfs. */
export type Usage = typeof Usage.Type

/** ceil(100 × part / whole) as df computes it (integer arithmetic; 0 when whole is 0). */
export const percentUp = (part: bigint, whole: bigint): number => {
  if (whole <= 0n) return 0
  const hundred = part * 100n
  return Number(hundred / whole + (hundred % whole === 0n ? 0n : 1n))
}

/** Computes a Usage from raw statfs numbers (exposed for tests and recorded values). */
export const fromRaw = (path: string, s: { readonly type: bigint; readonly bsize: bigint; readonly blocks: bigint; readonly bfree: bigint; readonly bavail: bigint; readonly files: bigint; readonly ffree: bigint }): Effect.Effect<Usage, HostError.HostReadError> => {
  const used = s.blocks - s.bfree
  const iused = s.files - s.ffree
  const raw = {
    path,
    type: Number(s.type),
    blockSize: Number(s.bsize),
    totalBytes: Number(s.blocks * s.bsize),
    usedBytes: Number(used * s.bsize),
    availableBytes: Number(s.bavail * s.bsize),
    usedPercent: percentUp(used, used + s.bavail),
    totalInodes: Number(s.files),
    usedInodes: Number(iused),
    freeInodes: Number(s.ffree),
    inodeUsedPercent: percentUp(iused, s.files)
  }
  return Schema.decodeUnknownEffect(Usage)(raw).pipe(
    Effect.mapError((e) => new HostError.HostReadError({ path, op: "statfs", message: `statfs ${path}: ${e.message}` }))
  )
}

/** statfs of the filesystem holding `path`. */
export const read = (path: string): Effect.Effect<Usage, HostError.HostReadError> =>
  Effect.tryPromise({ try: () => fs.promises.statfs(path, { bigint: true }), catch: (e) => HostError.fromError(path, "statfs", e) }).pipe(
    Effect.flatMap((s) => fromRaw(path, s))
  )

/** Whether a Usage is over a used-% floor, counting free inodes ≤ `inodeFreePercent` (default 5) as over. */
export const isOver = (u: Usage, floorPercent: number, inodeFreePercent = 5): boolean =>
  u.usedPercent >= floorPercent || (u.totalInodes > 0 && u.freeInodes * 100 <= u.totalInodes * inodeFreePercent)
