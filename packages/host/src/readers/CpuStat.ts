/**
 * Reader for the `cpu` lines of `/proc/stat`: the aggregate line and one per CPU, in clock ticks
 * (user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice), and the busy
 * fraction between two samples (1 − Δ(idle+iowait)/Δtotal).
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ParseError } from "@byteport/core/shell"
import * as HostError from "../HostError"
import * as Parse from "../internal/parse"

const NAME = "/proc/stat"
const Ticks = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** One `cpu` / `cpuN` line, in clock ticks (fields a kernel does not print are 0). */
export const CpuTimes = Schema.Struct({
  /** `cpu` for the aggregate, `cpu0`, `cpu1` … */
  name: Schema.String,
  user: Ticks,
  nice: Ticks,
  system: Ticks,
  idle: Ticks,
  iowait: Ticks,
  irq: Ticks,
  softirq: Ticks,
  steal: Ticks,
  guest: Ticks,
  guestNice: Ticks
})
/** One decoded cpu line. */
export type CpuTimes = typeof CpuTimes.Type

/** The cpu lines of `/proc/stat`. */
export interface CpuStat {
  /** The aggregate `cpu` line. */
  readonly total: CpuTimes
  /** The `cpuN` lines, in order. */
  readonly cpus: ReadonlyArray<CpuTimes>
}

const FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guestNice"] as const

/** Parses `/proc/stat`, keeping the cpu lines. A cpu line with fewer than 4 or non-integer fields fails naming it; no aggregate line fails. */
export const parse = (text: string): Effect.Effect<CpuStat, ParseError> =>
  Effect.gen(function*() {
    let total: CpuTimes | undefined
    const cpus: Array<CpuTimes> = []
    for (const l of Parse.lines(text)) {
      const parts = l.text.trim().split(/\s+/)
      const name = parts[0] ?? ""
      if (!/^cpu\d*$/.test(name)) continue
      const nums = parts.slice(1).map(Parse.int)
      if (nums.length < 4 || nums.some((n) => n === undefined)) return yield* Parse.at(NAME, l.n, l.text, "expected `cpuN` and at least 4 integer tick counts")
      const raw: Record<string, unknown> = { name }
      FIELDS.forEach((f, i) => (raw[f] = nums[i] ?? 0))
      const times = yield* Schema.decodeUnknownEffect(CpuTimes)(raw).pipe(Effect.mapError((e) => Parse.at(NAME, l.n, l.text, e.message)))
      if (name === "cpu") total = times
      else cpus.push(times)
    }
    if (total === undefined) return yield* Parse.at(NAME, 0, "", "no aggregate `cpu` line")
    return { total, cpus }
  })

/** Reads and parses `/proc/stat` (or `path`). */
export const read = (path = "/proc/stat"): Effect.Effect<CpuStat, HostError.HostReadError | ParseError> =>
  Effect.flatMap(HostError.readText(path), parse)

/** All ticks of a line (guest time is already inside user/nice, so it is not added again). */
export const totalTicks = (t: CpuTimes): number => t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal

/** Busy fraction between two samples: 1 − Δ(idle+iowait)/Δtotal (0 when no tick elapsed). */
export const busyFraction = (before: CpuTimes, after: CpuTimes): number => {
  const dt = totalTicks(after) - totalTicks(before)
  if (dt <= 0) return 0
  return 1 - (after.idle + after.iowait - before.idle - before.iowait) / dt
}

/** Steal fraction between two samples: Δsteal/Δtotal. */
export const stealFraction = (before: CpuTimes, after: CpuTimes): number => {
  const dt = totalTicks(after) - totalTicks(before)
  return dt <= 0 ? 0 : (after.steal - before.steal) / dt
}
