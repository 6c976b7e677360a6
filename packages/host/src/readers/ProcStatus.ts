/**
 * Reader for `/proc/<pid>/status`: name, state, uids and the memory lines the memory runbooks
 * use (VmRSS, RssAnon, RssFile, RssShmem), in bytes. Kernel threads have no Vm/Rss lines: those
 * fields are undefined.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { ParseError } from "@byteport/core/shell"
import * as HostError from "../HostError"
import * as Parse from "../internal/parse"

const NAME = "/proc/<pid>/status"
const Bytes = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** A decoded `/proc/<pid>/status`. */
export const ProcStatus = Schema.Struct({
  /** The `Name:` line (the comm, at most 15 bytes; escapes as the kernel prints them). */
  name: Schema.String,
  /** The state letter (`R`, `S`, `D`, `Z` …). */
  state: Schema.String,
  pid: Bytes,
  ppid: Bytes,
  /** Real uid. */
  uid: Bytes,
  vmRss: Schema.optionalKey(Bytes),
  rssAnon: Schema.optionalKey(Bytes),
  rssFile: Schema.optionalKey(Bytes),
  rssShmem: Schema.optionalKey(Bytes)
})
/** A decoded `/proc/<pid>/status`. */
export type ProcStatus = typeof ProcStatus.Type

const KB = { VmRSS: "vmRss", RssAnon: "rssAnon", RssFile: "rssFile", RssShmem: "rssShmem" } as const

/** Parses the text of `/proc/<pid>/status`. A memory line that is not `N kB`, or a missing Name/State/Pid/PPid/Uid line, fails. */
export const parse = (text: string): Effect.Effect<ProcStatus, ParseError> =>
  Effect.gen(function*() {
    const raw: Record<string, unknown> = {}
    for (const l of Parse.lines(text)) {
      const i = l.text.indexOf(":")
      if (i < 0) continue
      const key = l.text.slice(0, i)
      const value = l.text.slice(i + 1).replace(/^\s+/, "")
      if (key === "Name") raw["name"] = value
      else if (key === "State") raw["state"] = value.slice(0, 1)
      else if (key === "Pid" || key === "PPid" || key === "Uid") {
        const n = Parse.int(value.split(/\s+/)[0] ?? "")
        if (n === undefined) return yield* Parse.at(NAME, l.n, l.text, "expected an integer")
        raw[key === "Pid" ? "pid" : key === "PPid" ? "ppid" : "uid"] = n
      } else if (key in KB) {
        const m = /^(\d+) kB$/.exec(value.trim())
        const n = m ? Parse.int(m[1]!) : undefined
        if (n === undefined) return yield* Parse.at(NAME, l.n, l.text, "expected `N kB`")
        raw[KB[key as keyof typeof KB]] = n * 1024
      }
    }
    for (const k of ["name", "state", "pid", "ppid", "uid"]) {
      if (!(k in raw)) return yield* Parse.at(NAME, 0, "", `missing ${k}`)
    }
    return yield* Schema.decodeUnknownEffect(ProcStatus)(raw).pipe(Effect.mapError((e) => Parse.at(NAME, 0, "", e.message)))
  })

/** Reads and parses `/proc/<pid>/status` (`procRoot` for a recorded tree). */
export const read = (pid: number, procRoot = "/proc"): Effect.Effect<ProcStatus, HostError.HostReadError | ParseError> =>
  Effect.flatMap(HostError.readText(`${procRoot}/${pid}/status`), parse)
