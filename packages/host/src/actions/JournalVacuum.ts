/**
 * journald vacuum through a core `Shell`: `journalctl [--directory=<dir>] --vacuum-size=200M`
 * (the cleanup's step) or `--vacuum-time=7d` (the reclaim's). journalctl removes **archived**
 * journal files only (`<name>@<seqnum id>-<seqnum>-<realtime>.journal`, `*.journal~`): the active
 * file is never touched.
 *
 * dry_run runs nothing: it lists the archived files the vacuum would remove (read from the
 * directories). `observe` reads the same: no archived file over the limit → Applied, some →
 * NotApplied. Without `directory`, journalctl's own directories (`/var/log/journal`,
 * `/run/log/journal`) are read.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"
import * as fs from "node:fs"
import * as nodePath from "node:path"

const res = (detail: string, result: ActionHandler.HandlerResult["result"]): ActionHandler.HandlerResult => ({ detail, result })

/** The action kind. */
export const KIND = "host.journal.vacuum"

/** The cleanup's default limit (`--vacuum-size=200M`). */
export const DEFAULT_VACUUM_SIZE = "200M"
/** The reclaim's default age (`--vacuum-time=7d`). */
export const DEFAULT_VACUUM_TIME = "7d"

/** journalctl's default journal directories (when no `directory` is given). */
export const DEFAULT_DIRECTORIES: ReadonlyArray<string> = ["/var/log/journal", "/run/log/journal"]

/** Params: a size limit or an age (exactly one), an optional journal directory, the journalctl binary. */
export const Params = Schema.Struct({
  vacuumSize: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\d+[KMGT]?$/))),
  vacuumTime: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\d+(s|min|h|d|weeks|months|years)?$/))),
  directory: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^\//))),
  journalctl: Schema.optionalKey(Schema.String)
}).check(Schema.makeFilter((p) => (p.vacuumSize === undefined) !== (p.vacuumTime === undefined) || "exactly one of vacuumSize and vacuumTime"))
/** Params: a size limit or an age (exactly one), an optional journal directory, the journalctl binary. */
export type Params = typeof Params.Type

/** Pure: the argv. */
export const argv = (p: Params): ReadonlyArray<string> => [
  p.journalctl ?? "journalctl",
  ...(p.directory !== undefined ? [`--directory=${p.directory}`] : []),
  p.vacuumSize !== undefined ? `--vacuum-size=${p.vacuumSize}` : `--vacuum-time=${p.vacuumTime}`
]

/** journalctl's vacuum summary line (on stderr): `Vacuuming done, freed <size> of archived journals from|on <dir>.` */
export const FREED = /Vacuuming done, freed (\S+) of archived journals (?:from|on) /

/** An archived journal file name (journald's rotation names, or a file journald found corrupt). */
export const isArchived = (name: string): boolean => /@[^/]*\.journal$/.test(name) || name.endsWith(".journal~")

/**
 * The realtime (epoch ms) journald put in an archived file's name
 * (`<name>@<seqnum id>-<head seqnum>-<head realtime µs, hex>.journal`): what `--vacuum-time` compares.
 */
export const realtimeOf = (name: string): number | undefined => {
  const m = /@[0-9a-f]{32}-[0-9a-f]{16}-([0-9a-f]{16})\.journal$/.exec(name)
  return m ? Number(BigInt(`0x${m[1]}`) / 1000n) : undefined
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }
const TUNITS: Record<string, number> = { "": 1e3, s: 1e3, min: 60e3, h: 3600e3, d: 86400e3, weeks: 7 * 86400e3, months: 30 * 86400e3, years: 365 * 86400e3 }

/** Pure: a size argument in bytes (`200M` → 209715200). */
export const sizeBytes = (s: string): number => {
  const m = /^(\d+)([KMGT]?)$/.exec(s)
  return m ? Number(m[1]) * UNITS[m[2]!]! : NaN
}
/** Pure: a time argument in ms (`7d` → 604800000). */
export const timeMs = (s: string): number => {
  const m = /^(\d+)(s|min|h|d|weeks|months|years)?$/.exec(s)
  return m ? Number(m[1]) * TUNITS[m[2] ?? ""]! : NaN
}

interface JFile {
  readonly path: string
  readonly bytes: number
  readonly mtimeMs: number
  readonly archived: boolean
}

const journalFiles = (dirs: ReadonlyArray<string>): Array<JFile> => {
  const out: Array<JFile> = []
  const walk = (dir: string, depth: number) => {
    let names: Array<string>
    try {
      names = fs.readdirSync(dir)
    } catch {
      return
    }
    for (const n of names) {
      const p = nodePath.join(dir, n)
      let s: fs.Stats
      try {
        s = fs.lstatSync(p)
      } catch {
        continue
      }
      if (s.isDirectory() && depth < 1) walk(p, depth + 1)
      else if (s.isFile() && (n.endsWith(".journal") || n.endsWith(".journal~"))) {
        out.push({ path: p, bytes: s.blocks * 512, mtimeMs: realtimeOf(n) ?? s.mtimeMs, archived: isArchived(n) })
      }
    }
  }
  for (const d of dirs) walk(d, 0)
  return out
}

/**
 * Pure over a listing: the archived files a vacuum would remove — by size, oldest first until the
 * total of all journal files is under the limit; by time, those older than the age.
 */
export const wouldRemove = (p: Params, now: number, dirs?: ReadonlyArray<string>): ReadonlyArray<{ readonly path: string; readonly bytes: number }> => {
  const files = journalFiles(dirs ?? (p.directory !== undefined ? [p.directory] : DEFAULT_DIRECTORIES))
  const archived = files.filter((f) => f.archived).sort((a, b) => a.mtimeMs - b.mtimeMs)
  if (p.vacuumTime !== undefined) {
    const age = timeMs(p.vacuumTime)
    return archived.filter((f) => now - f.mtimeMs > age)
  }
  const limit = sizeBytes(p.vacuumSize!)
  let total = files.reduce((n, f) => n + f.bytes, 0)
  const out: Array<JFile> = []
  for (const f of archived) {
    if (total <= limit) break
    out.push(f)
    total -= f.bytes
  }
  return out
}

/** The `host.journal.vacuum` handler: journalctl through the given Shell. */
export const spec = (shell: Shell.ShellShape): Measured.Spec<Params> => ({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const cmd = argv(p)
        if (ctx.dryRun) {
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const files = wouldRemove(p, now)
          return res(`would run ${Shell.formatArgv(cmd)}: ${files.length} archived journal file(s), ${files.reduce((n, f) => n + f.bytes, 0)} bytes`, { dryRun: true, argv: [...cmd], files: files.map((f) => f.path) })
        }
        const r = yield* Measured.run(shell, KIND, cmd, { timeout: "5 minutes" })
        // journalctl reports on stderr: "Vacuuming done, freed 8.0M of archived journals from /dir."
        const freed = FREED.exec(r.stderr)?.[1]
        return res(`${Shell.formatArgv(cmd)}: ${freed !== undefined ? `freed ${freed} of archived journals` : "done"}`, { dryRun: false, argv: [...cmd], ...(freed !== undefined ? { freed } : {}) })
      }),
    observe: (p) =>
      Effect.clockWith((c) => c.currentTimeMillis).pipe(Effect.map((now) => {
        const left = wouldRemove(p, now)
        return left.length === 0 ? ActionHandler.applied("no archived journal file over the limit") : ActionHandler.notApplied(`${left.length} archived journal file(s) still over the limit`)
      }))
})

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (shell: Shell.ShellShape): ActionHandler.ActionHandler => Measured.handlerOf(spec(shell))
