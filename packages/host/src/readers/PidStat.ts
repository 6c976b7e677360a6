/**
 * Reader for `/proc/<pid>/stat`. The comm field is in parentheses and may itself contain `)`,
 * spaces and `(` (a binary named `x) y (z`), so the line is split at the LAST `)`: what lies
 * between the first `(` and it is the comm, the rest are the numeric fields.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ParseError } from "@byteport/core/shell"
import * as HostError from "../HostError"
import * as Parse from "../internal/parse"

const NAME = "/proc/<pid>/stat"
const Int = Schema.Number.check(Schema.isInt())
const NonNeg = Int.check(Schema.isGreaterThanOrEqualTo(0))

/** The fields of `/proc/<pid>/stat` the runbooks use (see proc(5)). */
export const PidStat = Schema.Struct({
  pid: NonNeg,
  /** The command name, as between the parentheses (may contain `)`, spaces, `(`). */
  comm: Schema.String,
  /** The state letter. */
  state: Schema.String,
  ppid: NonNeg,
  pgrp: Int,
  session: Int,
  /** Flags (PF_KTHREAD = 0x00200000 marks a kernel thread). */
  flags: NonNeg,
  /** User-mode time, clock ticks. */
  utime: NonNeg,
  /** Kernel-mode time, clock ticks. */
  stime: NonNeg,
  priority: Int,
  nice: Int,
  numThreads: NonNeg,
  /** Start time after boot, clock ticks: with the pid, identifies one process across pid reuse. */
  starttime: NonNeg,
  /** Virtual memory size, bytes. */
  vsize: NonNeg,
  /** Resident set, pages. */
  rssPages: Int
})
/** A decoded `/proc/<pid>/stat`. */
export type PidStat = typeof PidStat.Type

/** Whether the process is a kernel thread (PF_KTHREAD). */
export const isKernelThread = (s: PidStat): boolean => (s.flags & 0x00200000) !== 0

/** Parses one `/proc/<pid>/stat` line, splitting at the last `)`. */
export const parse = (text: string): Effect.Effect<PidStat, ParseError> =>
  Effect.gen(function*() {
    const line = text.replace(/\n$/, "")
    const open = line.indexOf("(")
    const close = line.lastIndexOf(")")
    if (open < 0 || close < open) return yield* Parse.at(NAME, 1, line, "expected `pid (comm) state …`")
    const pid = Parse.int(line.slice(0, open).trim())
    const comm = line.slice(open + 1, close)
    const rest = line.slice(close + 1).trim().split(/\s+/)
    // rest[0] is field 3 (state); field k is rest[k - 3]
    const f = (k: number) => Parse.sint(rest[k - 3] ?? "")
    if (pid === undefined || rest.length < 22) return yield* Parse.at(NAME, 1, line, "expected at least 24 fields")
    const raw = {
      pid, comm, state: rest[0],
      ppid: f(4), pgrp: f(5), session: f(6), flags: f(9), utime: f(14), stime: f(15),
      priority: f(18), nice: f(19), numThreads: f(20), starttime: f(22), vsize: f(23), rssPages: f(24)
    }
    return yield* Schema.decodeUnknownEffect(PidStat)(raw).pipe(Effect.mapError((e) => Parse.at(NAME, 1, line, e.message)))
  })

/** Reads and parses `/proc/<pid>/stat` (`procRoot` for a recorded tree). */
export const read = (pid: number, procRoot = "/proc"): Effect.Effect<PidStat, HostError.HostReadError | ParseError> =>
  Effect.flatMap(HostError.readText(`${procRoot}/${pid}/stat`), parse)
