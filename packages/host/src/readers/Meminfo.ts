/**
 * Reader for `/proc/meminfo`: every `Key: value [kB]` line, in bytes, and the figures the memory
 * runbooks use (MemTotal, MemAvailable, Cached, Shmem …), Schema-decoded.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ParseError } from "@byteport/core/shell"
import * as HostError from "../HostError"
import * as Parse from "../internal/parse"

const NAME = "/proc/meminfo"
const Bytes = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** The figures every Linux ≥ 3.14 prints (bytes). */
export const Meminfo = Schema.Struct({
  memTotal: Bytes,
  memFree: Bytes,
  memAvailable: Bytes,
  buffers: Bytes,
  cached: Bytes,
  shmem: Bytes,
  swapTotal: Bytes,
  swapFree: Bytes,
  /** Every line, by its key (`MemTotal`, `HugePages_Total` …): kB lines in bytes, counts as printed. */
  all: Schema.Record(Schema.String, Bytes)
})
/** A decoded `/proc/meminfo`. */
export type Meminfo = typeof Meminfo.Type

const REQUIRED = { memTotal: "MemTotal", memFree: "MemFree", memAvailable: "MemAvailable", buffers: "Buffers", cached: "Cached", shmem: "Shmem", swapTotal: "SwapTotal", swapFree: "SwapFree" } as const

/** Parses the text of `/proc/meminfo`. A line that is not `Key: N [kB]`, or a missing required key, fails naming it. */
export const parse = (text: string): Effect.Effect<Meminfo, ParseError> =>
  Effect.gen(function*() {
    const all: Record<string, number> = {}
    for (const l of Parse.lines(text)) {
      if (l.text.trim() === "") continue
      const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(l.text)
      const n = m ? Parse.int(m[2]!) : undefined
      if (m === null || n === undefined) return yield* Parse.at(NAME, l.n, l.text, "expected `Key: N [kB]`")
      all[m[1]!] = m[3] === "kB" ? n * 1024 : n
    }
    const out: Record<string, unknown> = { all }
    for (const [field, key] of Object.entries(REQUIRED)) {
      const v = all[key]
      if (v === undefined) return yield* Parse.at(NAME, 0, "", `missing ${key}`)
      out[field] = v
    }
    return yield* Schema.decodeUnknownEffect(Meminfo)(out).pipe(
      Effect.mapError((e) => Parse.at(NAME, 0, "", e.message))
    )
  })

/** Reads and parses `/proc/meminfo` (or `path`, for a recorded copy). */
export const read = (path = "/proc/meminfo"): Effect.Effect<Meminfo, HostError.HostReadError | ParseError> =>
  Effect.flatMap(HostError.readText(path), parse)

/** Used memory as a fraction of MemTotal: (MemTotal − MemAvailable) / MemTotal. */
export const usedFraction = (m: Meminfo): number => (m.memTotal === 0 ? 0 : (m.memTotal - m.memAvailable) / m.memTotal)
