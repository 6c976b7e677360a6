/**
 * Per-process samples for the saturation runbooks: the top CPU consumers by Δ(utime + stime)
 * between two readings of every `/proc/<pid>/stat`, the top RSS holders and growers from
 * `/proc/<pid>/status`, each with its identity (pid + starttime), its systemd unit (from its
 * cgroup: the last `*.service` path component) and the `ProcessGuard` verdict.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as ProcessGuard from "../process/ProcessGuard"

/** One process in a sample. */
export interface Consumer {
  readonly pid: number
  readonly starttime: number
  readonly comm: string
  /** The systemd unit whose cgroup holds it (`web.service`), when any. */
  readonly unit: string | undefined
  /** Δ(utime + stime) between the readings, clock ticks. */
  readonly cpuTicks: number
  /** Share of one CPU over the interval (ticks / (interval × CLK_TCK)). */
  readonly cpuShare: number
  /** VmRSS at the second reading, bytes. */
  readonly rssBytes: number
  /** VmRSS growth between the readings, bytes. */
  readonly rssGrowthBytes: number
  /** The current nice value. */
  readonly nice: number
  /** The current oom_score_adj. */
  readonly oomScoreAdj: number
  /** What the guard says: `Allowed`, or why not. */
  readonly verdict: ProcessGuard.Verdict["_tag"]
  readonly verdictReason: string | undefined
  /** The Kubernetes pod uid (kubepods cgroup), when any. */
  readonly podUid: string | undefined
}

/** The clock ticks per second (`getconf CLK_TCK`, 100 on Linux). */
export const CLK_TCK = 100

interface Raw {
  readonly ticks: number
  readonly starttime: number
  readonly nice: number
}

const readRaw = (procRoot: string, pid: number): Raw | undefined => {
  try {
    const stat = fs.readFileSync(`${procRoot}/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/)
    return { ticks: Number(f[11]) + Number(f[12]), starttime: Number(f[19]), nice: Number(f[16]) }
  } catch {
    return undefined
  }
}

const rssOf = (procRoot: string, pid: number): number => {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`${procRoot}/${pid}/status`, "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

const oomOf = (procRoot: string, pid: number): number => {
  try {
    return Number(fs.readFileSync(`${procRoot}/${pid}/oom_score_adj`, "utf8").trim())
  } catch {
    return 0
  }
}

/** The systemd unit of a cgroup file's text: the last `*.service` path component of any line. */
export const unitOf = (cgroup: string): string | undefined => {
  let unit: string | undefined
  for (const line of cgroup.split("\n")) {
    for (const part of line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1).split("/")) if (/^[A-Za-z0-9:_.\\@-]+\.service$/.test(part)) unit = part
  }
  return unit
}

/** A first reading of every process, to be completed by `finish`. */
export interface Reading {
  readonly at: number
  readonly procRoot: string
  readonly raw: ReadonlyMap<number, Raw & { readonly rss: number }>
}

/** Reads every process's ticks and RSS (the first half of a sample). */
export const begin = (procRoot = "/proc", at = Date.now()): Reading => {
  const raw = new Map<number, Raw & { rss: number }>()
  for (const name of fs.readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const r = readRaw(procRoot, pid)
    if (r !== undefined) raw.set(pid, { ...r, rss: rssOf(procRoot, pid) })
  }
  return { at, procRoot, raw }
}

/** Options of `finish`. */
export interface FinishOptions extends ProcessGuard.Policy {
  /** Only processes this accepts are returned (default all). */
  readonly filter?: (p: ProcessGuard.Proc) => boolean
  /** How many to return (default 5). */
  readonly top?: number
  /** Sort by CPU ticks (default) or by RSS growth then RSS. */
  readonly by?: "cpu" | "rss"
  readonly at?: number
}

/** Reads again and returns the top consumers (processes present in both readings, same starttime). */
export const finish = (first: Reading, options: FinishOptions = {}): ReadonlyArray<Consumer> => {
  const at = options.at ?? Date.now()
  const table = ProcessGuard.snapshot(first.procRoot)
  const seconds = Math.max((at - first.at) / 1000, 0.001)
  const out: Array<Consumer> = []
  for (const p of table.values()) {
    if (p.kernelThread) continue
    if (options.filter !== undefined && !options.filter(p)) continue
    const a = first.raw.get(p.pid)
    const b = readRaw(first.procRoot, p.pid)
    if (a === undefined || b === undefined || a.starttime !== b.starttime || b.starttime !== p.starttime) continue
    const rss = rssOf(first.procRoot, p.pid)
    const v = ProcessGuard.decide(table, p.pid, options)
    out.push({
      pid: p.pid,
      starttime: p.starttime,
      comm: p.comm,
      unit: unitOf(p.cgroup),
      cpuTicks: b.ticks - a.ticks,
      cpuShare: (b.ticks - a.ticks) / (seconds * CLK_TCK),
      rssBytes: rss,
      rssGrowthBytes: rss - a.rss,
      nice: b.nice,
      oomScoreAdj: oomOf(first.procRoot, p.pid),
      verdict: v._tag,
      verdictReason: v._tag === "Allowed" ? undefined : v.reason,
      podUid: v._tag === "Container" ? v.podUid : undefined
    })
  }
  const cmp = options.by === "rss"
    ? (x: Consumer, y: Consumer) => y.rssGrowthBytes - x.rssGrowthBytes || y.rssBytes - x.rssBytes || x.pid - y.pid
    : (x: Consumer, y: Consumer) => y.cpuTicks - x.cpuTicks || x.pid - y.pid
  return out.sort(cmp).slice(0, options.top ?? 5)
}
