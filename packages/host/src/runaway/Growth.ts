/**
 * The runaway detector's growth window: a consumer's RSS growth rate between consecutive samples
 * (MiB per minute) strictly over `growthMiBPerMinute` in **every** interval for `windowSeconds`
 * continuous seconds fires; one interval at or under the rate (a plateau, a GC) resets the window,
 * and so does a new process identity (pid + starttime: a restart starts afresh). With samples every
 * 30 s and the defaults (10 MiB/min, 600 s): 599 s of growth does not fire, 600 s does; exactly
 * 10 MiB/min resets, 10.1 counts.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as ProcessGuard from "../process/ProcessGuard"
import { unitOf } from "../saturation/ProcSample"
import * as Sustained from "../saturation/Sustained"

/** One reading of one consumer. */
export interface Reading {
  /** The systemd unit it belongs to. */
  readonly unit: string
  readonly pid: number
  readonly starttime: number
  readonly comm: string
  readonly rssBytes: number
}

/** The growth settings. */
export interface GrowthSettings {
  /** `BYTEPORT_RUNAWAY_GROWTH_MIB_PER_MINUTE` (10). */
  readonly growthMiBPerMinute: number
  /** `BYTEPORT_RUNAWAY_WINDOW_SECONDS` (600). */
  readonly windowSeconds: number
}

/** Per-consumer state. */
export interface Track {
  readonly pid: number
  readonly starttime: number
  readonly rssBytes: number
  readonly at: number
  /** RSS at the start of the current run over the rate. */
  readonly runStartRss: number
  readonly window: Sustained.State
}

/** What one reading did. */
export interface Step {
  readonly track: Track
  readonly sustained: boolean
  /** The rate of the last interval, MiB/min (undefined on a first reading). */
  readonly rateMiBPerMinute: number | undefined
  /** How long growth has lasted, ms. */
  readonly forMs: number
  /** RSS growth over the run, bytes. */
  readonly grownBytes: number
}

const MiB = 1024 * 1024

/** Pure: one reading of a consumer at `at`. */
export const step = (track: Track | undefined, at: number, r: Reading, s: GrowthSettings): Step => {
  const fresh = track === undefined || track.pid !== r.pid || track.starttime !== r.starttime
  if (fresh) {
    const window = Sustained.step(Sustained.initial, at, undefined, s.growthMiBPerMinute, s.windowSeconds * 1000)
    return { track: { pid: r.pid, starttime: r.starttime, rssBytes: r.rssBytes, at, runStartRss: r.rssBytes, window: window.state }, sustained: false, rateMiBPerMinute: undefined, forMs: 0, grownBytes: 0 }
  }
  const minutes = (at - track.at) / 60_000
  const rate = minutes > 0 ? (r.rssBytes - track.rssBytes) / MiB / minutes : undefined
  const w = Sustained.step(track.window, at, rate, s.growthMiBPerMinute, s.windowSeconds * 1000)
  const runStartRss = w.state.since === undefined ? r.rssBytes : track.window.since === undefined ? track.rssBytes : track.runStartRss
  return {
    track: { pid: r.pid, starttime: r.starttime, rssBytes: r.rssBytes, at, runStartRss, window: w.state },
    sustained: w.sustained,
    rateMiBPerMinute: rate,
    forMs: w.forMs,
    grownBytes: w.state.since === undefined ? 0 : r.rssBytes - runStartRss
  }
}

/** Options of `readUnits`. */
export interface ReadOptions {
  /** `/proc` (default). */
  readonly procRoot?: string
  /** Only processes this accepts are read (default all). */
  readonly filter?: (p: ProcessGuard.Proc) => boolean
}

const rssOf = (procRoot: string, pid: number): number | undefined => {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`${procRoot}/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** Reads the largest-RSS process of every systemd unit (its cgroup's last `*.service`), kernel threads excluded. */
export const readUnits = (options: ReadOptions = {}): ReadonlyArray<Reading> => {
  const procRoot = options.procRoot ?? "/proc"
  const best = new Map<string, Reading>()
  for (const p of ProcessGuard.snapshot(procRoot).values()) {
    if (p.kernelThread) continue
    if (options.filter !== undefined && !options.filter(p)) continue
    const unit = unitOf(p.cgroup)
    if (unit === undefined) continue
    const rss = rssOf(procRoot, p.pid)
    if (rss === undefined) continue
    const cur = best.get(unit)
    if (cur === undefined || rss > cur.rssBytes) best.set(unit, { unit, pid: p.pid, starttime: p.starttime, comm: p.comm, rssBytes: rss })
  }
  return [...best.values()]
}
