/**
 * Parser for `journalctl -o json`: one JSON object per line. A field's value is a string, a byte
 * array (non-UTF-8 or binary data), `null` (a field larger than journalctl's limit; use `--all`)
 * or, for a field set several times, an array of those.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import * as P from "./ParseError"

/** One journal entry. */
export interface Entry {
  /** `__REALTIME_TIMESTAMP`: microseconds since the epoch. */
  readonly realtimeMicros: number
  /** The same, as a Date (millisecond precision). */
  readonly time: Date
  /** `MESSAGE` as text (byte arrays decoded as UTF-8; several values joined by newlines); `undefined` when absent or elided (`null`). */
  readonly message: string | undefined
  /** `PRIORITY` (0 emerg … 7 debug). */
  readonly priority: number | undefined
  /** `_SYSTEMD_UNIT`. */
  readonly unit: string | undefined
  /** `SYSLOG_IDENTIFIER`. */
  readonly identifier: string | undefined
  /** `_PID`. */
  readonly pid: number | undefined
  /** `_HOSTNAME`. */
  readonly hostname: string | undefined
  /** `__CURSOR`, to resume reading after this entry (`--after-cursor`). */
  readonly cursor: string | undefined
  /** Every field as text (byte arrays decoded; multiple values joined by newlines; `null` omitted). */
  readonly fields: Readonly<Record<string, string>>
}

/** Options of `parse`. */
export interface ParseOptions {
  /**
   * The output was cut (`Result.stdoutTruncated`): drop an incomplete last line instead of failing
   * on it. Default false.
   */
  readonly truncated?: boolean
}

const NAME = "journalctl -o json"

const isBytes = (v: unknown): v is ReadonlyArray<number> =>
  Array.isArray(v) && v.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b <= 255)

/** A field value as text, undefined for null, or an error message. */
const fieldText = (v: unknown): string | undefined | { readonly error: string } => {
  if (v === null) return undefined
  if (typeof v === "string") return v
  if (isBytes(v)) return new TextDecoder().decode(Uint8Array.from(v))
  if (Array.isArray(v)) {
    const parts: Array<string> = []
    for (const x of v) {
      if (typeof x === "string") parts.push(x)
      else if (isBytes(x)) parts.push(new TextDecoder().decode(Uint8Array.from(x)))
      else if (x !== null) return { error: "expected a string, a byte array or null" }
    }
    return parts.join("\n")
  }
  return { error: "expected a string, a byte array or null" }
}

/**
 * Parses `journalctl -o json` output. Blank lines and journalctl's `-- No entries --` are skipped;
 * empty output is no entries. Every entry needs `__REALTIME_TIMESTAMP`; a line that is not a JSON
 * object, or a field of the wrong shape, fails naming the line.
 */
export const parse = (text: string, options: ParseOptions = {}): Effect.Effect<ReadonlyArray<Entry>, P.ParseError> =>
  Effect.suspend(() => {
    const entries: Array<Entry> = []
    const all = P.lines(text)
    const lastIncomplete = options.truncated === true && !text.endsWith("\n")
    for (let i = 0; i < all.length; i++) {
      const { n, text: line } = all[i]!
      const t = line.trim()
      if (t === "" || t === "-- No entries --") continue
      let doc: unknown
      try {
        doc = JSON.parse(t)
      } catch {
        if (lastIncomplete && i === all.length - 1) break
        return Effect.fail(P.at(NAME, n, line, t.startsWith("{") ? "truncated or invalid JSON" : "expected one JSON object per line (-o json)"))
      }
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return Effect.fail(P.at(NAME, n, line, "expected a JSON object"))
      const fields: Record<string, string> = {}
      for (const [k, v] of Object.entries(doc)) {
        const f = fieldText(v)
        if (typeof f === "object") return Effect.fail(P.at(NAME, n, line, `${k}: ${f.error}`, k))
        if (f !== undefined) fields[k] = f
      }
      const ts = fields["__REALTIME_TIMESTAMP"]
      if (ts === undefined) return Effect.fail(P.at(NAME, n, line, "missing __REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"))
      const micros = P.int(ts)
      if (micros === undefined) return Effect.fail(P.at(NAME, n, line, "__REALTIME_TIMESTAMP is not an integer", "__REALTIME_TIMESTAMP"))
      const num = (k: string): number | undefined => (fields[k] !== undefined ? P.int(fields[k]) : undefined)
      entries.push({
        realtimeMicros: micros,
        time: new Date(Math.floor(micros / 1000)),
        message: fields["MESSAGE"],
        priority: num("PRIORITY"),
        unit: fields["_SYSTEMD_UNIT"],
        identifier: fields["SYSLOG_IDENTIFIER"],
        pid: num("_PID"),
        hostname: fields["_HOSTNAME"],
        cursor: fields["__CURSOR"],
        fields
      })
    }
    return Effect.succeed(entries)
  })

// ---------------------------------------------------------------------------------------------
// the kernel log (journalctl -k, journalctl -k -b -1)

/** What the kernel log says about the machine, each finding with its lines (as printed). */
export interface KernelFindings {
  /** The global OOM killer ran (the whole machine was out of memory): `Out of memory: Killed process …`, `oom-kill:constraint=CONSTRAINT_NONE`. */
  readonly globalOom: ReadonlyArray<string>
  /** A cgroup (container) OOM kill: `Memory cgroup out of memory: …`, `constraint=CONSTRAINT_MEMCG`. Not a node fault. */
  readonly cgroupOom: ReadonlyArray<string>
  /** Machine-check and other hardware errors: `[Hardware Error]`, `mce: … Machine check events logged`, EDAC uncorrected errors. */
  readonly hardwareErrors: ReadonlyArray<string>
  /** `Kernel panic - not syncing` (read it from the previous boot: `journalctl -k -b -1`). */
  readonly panics: ReadonlyArray<string>
}

const CGROUP_OOM = [/Memory cgroup out of memory/i, /constraint=CONSTRAINT_MEMCG/]
const GLOBAL_OOM = [/(^|[\s:\]])Out of memory: Kill(ed)? process/, /constraint=CONSTRAINT_NONE/]
const HARDWARE = [/\[Hardware Error\]/i, /Machine check events logged/i, /mce: .*(CPU \d+: Machine Check|Uncorrected)/i, /EDAC .*(UE|uncorrected)/i]
const PANIC = [/Kernel panic - not syncing/]

/**
 * Classifies kernel log lines (`journalctl -k` in the short format, or each entry's MESSAGE from
 * `-o json`): a global OOM (not a cgroup OOM: `Memory cgroup out of memory` and
 * `CONSTRAINT_MEMCG` lines are container kills), hardware errors, kernel panics.
 */
export const kernelFindings = (lines: ReadonlyArray<string>): KernelFindings => {
  const globalOom: Array<string> = []
  const cgroupOom: Array<string> = []
  const hardwareErrors: Array<string> = []
  const panics: Array<string> = []
  for (const raw of lines) {
    for (const line of raw.split("\n")) {
      if (CGROUP_OOM.some((r) => r.test(line))) cgroupOom.push(line)
      else if (GLOBAL_OOM.some((r) => r.test(line))) globalOom.push(line)
      if (HARDWARE.some((r) => r.test(line))) hardwareErrors.push(line)
      if (PANIC.some((r) => r.test(line))) panics.push(line)
    }
  }
  return { globalOom, cgroupOom, hardwareErrors, panics }
}

/**
 * Whether a `journalctl` failure means "no such boot / no journal" (`-b -1` on a machine without a
 * persistent journal or a previous boot): the fact is Unknown, not "no panic".
 */
export const noJournal = (stderr: string): boolean =>
  /No such boot ID in journal|Data from the specified boot .* is not available|no persistent journal was found|No journal files were (found|opened)/i.test(stderr)

/** Lines of `journalctl` in a plain format (short, cat): journalctl's own `-- No entries --` / `-- Boot … --` / `-- Logs begin … --` markers dropped. */
export const plainLines = (text: string): ReadonlyArray<string> =>
  P.lines(text).map((l) => l.text).filter((l) => l.trim() !== "" && !/^-- (No entries|Boot [0-9a-f]+|Logs begin|Journal begins|Reboot) ?.*--$/.test(l.trim()))
