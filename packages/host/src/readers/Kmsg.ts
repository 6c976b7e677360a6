/**
 * OOM kills from the kernel log (`/dev/kmsg`): the `oom-kill:` summary line (constraint, memcg,
 * task, pid, uid) and the `Killed process` line (RSS figures), each record
 * `prio,seq,usec,flags;message`. `parseLine` is pure; `oomKills` streams a kmsg file (the live
 * `/dev/kmsg` blocks for new records, so the stream follows it).
 *
 * @since 0.1.0
 */
import { Cause, Effect, Queue, Stream } from "effect"
import * as fs from "node:fs"
import * as HostError from "../HostError"

/** One kmsg record's header. */
export interface Record {
  /** Syslog priority (facility × 8 + level). */
  readonly priority: number
  readonly seq: number
  /** Microseconds since boot (monotonic). */
  readonly usec: number
  readonly message: string
}

/** An OOM kill, from the `oom-kill:` line (and the `Killed process` line's figures when that is the line seen). */
export interface OomKill {
  readonly seq: number
  readonly usec: number
  readonly pid: number
  /** The killed task's comm. */
  readonly task: string
  /** `CONSTRAINT_MEMCG` (a cgroup limit), `CONSTRAINT_NONE` (the whole machine) …; undefined on a `Killed process` line. */
  readonly constraint?: string
  /** The cgroup whose limit was hit (`oom_memcg=`). */
  readonly oomMemcg?: string
  /** The cgroup of the killed task (`task_memcg=`). */
  readonly taskMemcg?: string
  readonly uid?: number
  /** anon-rss in bytes (`Killed process` line). */
  readonly anonRssBytes?: number
  /** Whether the kill was inside a memory cgroup (`Memory cgroup out of memory` / CONSTRAINT_MEMCG). */
  readonly memcg: boolean
  /** Which line this came from. */
  readonly line: "oom-kill" | "killed-process"
}

/** Splits a kmsg record (`prio,seq,usec,flags[,…];message`); undefined for continuation lines (` KEY=value`) or junk. */
export const parseRecord = (line: string): Record | undefined => {
  const semi = line.indexOf(";")
  if (semi < 0) return undefined
  const head = line.slice(0, semi).split(",")
  if (head.length < 3) return undefined
  const [p, s, u] = head.map(Number) as [number, number, number]
  if (![p, s, u].every((n) => Number.isInteger(n) && n >= 0)) return undefined
  return { priority: p, seq: s, usec: u, message: line.slice(semi + 1) }
}

const kv = (text: string): ReadonlyMap<string, string> =>
  new Map(text.split(",").map((part) => {
    const i = part.indexOf("=")
    return i < 0 ? [part, ""] as const : [part.slice(0, i), part.slice(i + 1)] as const
  }))

/** Parses one kmsg line into an OomKill when it is an `oom-kill:` or `Killed process` line. */
export const parseLine = (line: string): OomKill | undefined => {
  const r = parseRecord(line)
  if (r === undefined) return undefined
  const m = r.message
  if (m.startsWith("oom-kill:")) {
    const f = kv(m.slice("oom-kill:".length))
    const pid = Number(f.get("pid"))
    const task = f.get("task")
    if (!Number.isInteger(pid) || pid <= 0 || task === undefined) return undefined
    const constraint = f.get("constraint")
    const uid = Number(f.get("uid"))
    return {
      seq: r.seq,
      usec: r.usec,
      pid,
      task,
      ...(constraint !== undefined ? { constraint } : {}),
      ...(f.get("oom_memcg") !== undefined ? { oomMemcg: f.get("oom_memcg")! } : {}),
      ...(f.get("task_memcg") !== undefined ? { taskMemcg: f.get("task_memcg")! } : {}),
      ...(Number.isInteger(uid) ? { uid } : {}),
      memcg: constraint === "CONSTRAINT_MEMCG",
      line: "oom-kill"
    }
  }
  const k = /^(Memory cgroup out of memory: |Out of memory(?: \([^)]*\))?: )Killed process (\d+) \((.*)\) total-vm:\d+kB, anon-rss:(\d+)kB/.exec(m)
  if (k === null) return undefined
  return {
    seq: r.seq,
    usec: r.usec,
    pid: Number(k[2]),
    task: k[3]!,
    anonRssBytes: Number(k[4]) * 1024,
    memcg: k[1]!.startsWith("Memory cgroup"),
    line: "killed-process"
  }
}

/** Parses a whole recorded kmsg text: one OomKill per kill (the `oom-kill:` line preferred; a lone `Killed process` line counts). */
export const parse = (text: string): ReadonlyArray<OomKill> => {
  const out: Array<OomKill> = []
  for (const line of text.split("\n")) {
    const k = parseLine(line)
    if (k === undefined) continue
    const prev = out[out.length - 1]
    if (prev !== undefined && prev.pid === k.pid && prev.line !== k.line) {
      out[out.length - 1] = prev.line === "oom-kill" ? { ...prev, ...(k.anonRssBytes !== undefined ? { anonRssBytes: k.anonRssBytes } : {}) } : { ...k, ...(prev.anonRssBytes !== undefined ? { anonRssBytes: prev.anonRssBytes } : {}) }
    } else out.push(k)
  }
  return out
}

/** Options of `oomKills`. */
export interface StreamOptions {
  /** Only records after this monotonic µs (skip what was logged before the watch began). */
  readonly sinceUsec?: number
}

/**
 * The OOM kills of a kmsg file as a Stream (default `/dev/kmsg`, which blocks for new records: the
 * stream follows the kernel log until interrupted). One element per `oom-kill:` line (the line every
 * kernel ≥ 4.19 prints once per kill).
 */
export const oomKills = (path = "/dev/kmsg", options: StreamOptions = {}): Stream.Stream<OomKill, HostError.HostReadError> =>
  Stream.callback<OomKill, HostError.HostReadError>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const input = fs.createReadStream(path, { encoding: "utf8" })
        let rest = ""
        input.on("data", (chunk) => {
          const lines = (rest + String(chunk)).split("\n")
          rest = lines.pop() ?? ""
          for (const line of lines) {
            const k = parseLine(line)
            if (k !== undefined && k.line === "oom-kill" && k.usec > (options.sinceUsec ?? -1)) Queue.offerUnsafe(queue, k)
          }
        })
        input.on("end", () => {
          const k = parseLine(rest)
          if (k !== undefined && k.line === "oom-kill" && k.usec > (options.sinceUsec ?? -1)) Queue.offerUnsafe(queue, k)
          Queue.endUnsafe(queue)
        })
        input.on("error", (e) => Queue.failCauseUnsafe(queue, Cause.fail(HostError.fromError(path, "read", e))))
        return input
      }),
      (input) => Effect.sync(() => input.destroy())
    )
  )
