/**
 * The disk floor of the cleanup runbooks: a filesystem is "under the floor" when df's Use% is
 * below `floorPercent` (default 80, the seed's "free-space floor" read as used %) and more than 5 %
 * of its inodes are free. `check()` is the core `Check` (`host.disk.below-floor`) that a plan's
 * `Plan.until(DiskFloor.ref(mount), …)` stops on; `measure` runs one step and reports the bytes it
 * gained as the statfs delta (never a sum of file sizes: a deleted file that stays open frees
 * nothing).
 *
 * @since 0.1.0
 */
import { Check, Plan, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import type * as HostError from "./HostError"
import * as Statfs from "./readers/Statfs"

/** The check kind. */
export const CHECK = "host.disk.below-floor"
/** The default floor, used %. */
export const DEFAULT_FLOOR_PERCENT = 80
/** Free inodes at or below this percentage count as over the floor. */
export const INODE_FREE_PERCENT = 5

/** The check reference for a mount (target `host.mount:<mount>`). */
export const ref = (mount: string, floorPercent = DEFAULT_FLOOR_PERCENT): Plan.CheckRef =>
  Plan.check(CHECK, TargetRef.make("host.mount", mount), { mount, floorPercent }, `${mount} below ${floorPercent}% used`)

/** Whether a usage is under the floor (used % below it and more than 5 % inodes free). */
export const below = (u: Statfs.Usage, floorPercent = DEFAULT_FLOOR_PERCENT): boolean => !Statfs.isOver(u, floorPercent, INODE_FREE_PERCENT)

/** The `host.disk.below-floor` check: statfs of `params.mount` against `params.floorPercent`. Never fails (a statfs error is ok: false). */
export const check = (): Check.Check =>
  Check.make(CHECK, (r) =>
    Check.safely(
      CHECK,
      Effect.gen(function*() {
        const mount = typeof r.params["mount"] === "string" ? r.params["mount"] : r.target.ref
        const floor = typeof r.params["floorPercent"] === "number" ? r.params["floorPercent"] : DEFAULT_FLOOR_PERCENT
        const u = yield* Statfs.read(mount)
        return {
          name: CHECK,
          ok: below(u, floor),
          detail: `${mount}: ${u.usedPercent}% used (floor ${floor}%), ${u.freeInodes}/${u.totalInodes} inodes free`,
          observed: { usedPercent: u.usedPercent, usedBytes: u.usedBytes, freeInodes: u.freeInodes, totalInodes: u.totalInodes }
        }
      })
    ))

/** What one step gained, measured on the filesystem. */
export interface Measured<A> {
  readonly value: A
  /** usedBytes before − usedBytes after (negative if the filesystem grew meanwhile). */
  readonly bytesFreed: number
  readonly before: Statfs.Usage
  readonly after: Statfs.Usage
}

/** Runs `step` between two statfs readings of `mount`: its gain is the statfs delta. */
export const measure = <A, E, R>(mount: string, step: Effect.Effect<A, E, R>): Effect.Effect<Measured<A>, E | HostError.HostReadError, R> =>
  Effect.gen(function*() {
    const before = yield* Statfs.read(mount)
    const value = yield* step
    const after = yield* Statfs.read(mount)
    return { value, bytesFreed: before.usedBytes - after.usedBytes, before, after }
  })
