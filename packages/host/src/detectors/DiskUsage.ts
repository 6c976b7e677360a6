/**
 * The detector of `host.disk.cleanup`: polls statfs of the configured mounts and emits a
 * `host.disk.usage` Signal (target `host.mount:<mount>`) for each mount over the threshold: df's
 * Use% at or above it (default 80, the floor), or ≤ 5 % of its inodes free.
 *
 * @since 0.1.0
 */
import { Detector, Signal, TargetRef } from "@byteport/core"
import { Clock, Effect, Schedule } from "effect"
import * as DiskFloor from "../DiskFloor"
import * as Statfs from "../readers/Statfs"

/** The signal type. */
export const SIGNAL_TYPE = "host.disk.usage"

/** Detector options. */
export interface Options {
  /** The mounts to watch (any path on each filesystem). */
  readonly mounts: ReadonlyArray<string>
  /** Used % at or above which a mount fires (default 80, the floor). */
  readonly thresholdPercent?: number
  /** Poll schedule (default every 60 seconds). */
  readonly schedule?: Schedule.Schedule<unknown>
}

/** Pure: the signal of one reading, if it is over the threshold. */
export const signalOf = (u: Statfs.Usage, thresholdPercent: number, observedAt: number): Signal.Signal | undefined =>
  DiskFloor.below(u, thresholdPercent) ? undefined : Signal.make({
    type: SIGNAL_TYPE,
    target: TargetRef.make("host.mount", u.path),
    observedAt,
    source: "host.DiskUsage",
    evidence: {
      usedPercent: u.usedPercent,
      thresholdPercent,
      usedBytes: u.usedBytes,
      totalBytes: u.totalBytes,
      freeInodes: u.freeInodes,
      totalInodes: u.totalInodes,
      reasons: [`${u.path}: ${u.usedPercent}% used (threshold ${thresholdPercent}%), ${u.freeInodes}/${u.totalInodes} inodes free`]
    }
  })

/** One poll of every mount (a mount that cannot be read is skipped). */
export const poll = (options: Options): Effect.Effect<ReadonlyArray<Signal.Signal>> =>
  Effect.gen(function*() {
    const at = yield* Clock.currentTimeMillis
    const out: Array<Signal.Signal> = []
    for (const m of options.mounts) {
      const u = yield* Effect.option(Statfs.read(m))
      if (u._tag === "None") continue
      const s = signalOf(u.value, options.thresholdPercent ?? DiskFloor.DEFAULT_FLOOR_PERCENT, at)
      if (s) out.push(s)
    }
    return out
  })

/** The statfs poll detector. */
export const make = (options: Options): Detector.Detector<never> =>
  Detector.poll("host.disk.usage/statfs", { schedule: options.schedule ?? Schedule.spaced("60 seconds"), poll: poll(options) })
