/**
 * Pod logs: the kubelet controller appends lines per container; the API server serves them on
 * `pods/{name}/log` (`container`, `previous`, `tailLines`, `sinceSeconds`, `timestamps`, `follow`).
 */

/** Options for `PodLogs.append`. */
export interface AppendOptions {
  /** Append to the previous (terminated) instance's buffer instead of the current one. */
  readonly previous?: boolean
  /** Timestamp of the line (epoch ms); defaults to the logs' clock. */
  readonly time?: number
}

/** Options for `PodLogs.read`. */
export interface ReadOptions {
  readonly previous?: boolean
  readonly tailLines?: number
  readonly sinceSeconds?: number
  readonly timestamps?: boolean
  readonly limitBytes?: number
}

/** One log line. */
export interface LogLine {
  readonly time: number
  readonly line: string
}

/** The log source the kubelet writes and the API server reads. */
export interface PodLogs {
  /**
   * Appends one line (without a trailing newline) to a container's current (or previous) log.
   * The fifth argument may also be the line's timestamp as an RFC 3339 string.
   */
  append(namespace: string, pod: string, container: string, line: string, options?: AppendOptions | string): void
  /**
   * On container termination/restart: the current log becomes `previous` and the current log
   * starts empty. (While a container waits after a termination, e.g. CrashLoopBackOff, a log
   * read without `previous` serves this previous buffer, as the kubelet serves the last instance.)
   */
  rotate(namespace: string, pod: string, container: string): void
  /** Reads a container's log as text (each line ends with "\n"); `undefined` if `previous` is asked and absent. */
  read(namespace: string, pod: string, container: string, options?: ReadOptions): string | undefined
  /** Whether a previous-instance log exists. */
  hasPrevious(namespace: string, pod: string, container: string): boolean
  /** Drops every log of a pod (on pod deletion). */
  remove(namespace: string, pod: string): void
  /** Follows a container's current log; returns an unsubscribe. */
  follow(namespace: string, pod: string, container: string, onLine: (line: LogLine) => void): () => void
}

interface Buffers {
  current: Array<LogLine>
  previous: Array<LogLine> | undefined
}

const fmt = (l: LogLine, timestamps: boolean): string =>
  timestamps ? `${new Date(l.time).toISOString().replace("Z", "000000Z")} ${l.line}\n` : `${l.line}\n`

/** Creates an in-memory PodLogs (lines per buffer capped at `maxLines`, default 10,000). */
export const make = (options: { now?: () => number; maxLines?: number } = {}): PodLogs => {
  const now = options.now ?? Date.now
  const maxLines = options.maxLines ?? 10_000
  const bufs = new Map<string, Buffers>()
  const followers = new Map<string, Set<(l: LogLine) => void>>()
  const id = (ns: string, pod: string, c: string) => `${ns}/${pod}/${c}`
  const get = (k: string): Buffers => {
    let b = bufs.get(k)
    if (!b) {
      b = { current: [], previous: undefined }
      bufs.set(k, b)
    }
    return b
  }
  return {
    append(ns, pod, container, line, optsOrTime = {}) {
      const opts: AppendOptions = typeof optsOrTime === "string" ? { time: Date.parse(optsOrTime) } : optsOrTime
      const k = id(ns, pod, container)
      const b = get(k)
      const entry = { time: opts.time ?? now(), line }
      const target = opts.previous ? (b.previous ??= []) : b.current
      target.push(entry)
      if (target.length > maxLines) target.splice(0, target.length - maxLines)
      if (!opts.previous) for (const f of followers.get(k) ?? []) f(entry)
    },
    rotate(ns, pod, container) {
      const b = get(id(ns, pod, container))
      b.previous = b.current
      b.current = []
    },
    read(ns, pod, container, opts = {}) {
      const b = bufs.get(id(ns, pod, container))
      let lines = opts.previous ? b?.previous : b?.current ?? []
      if (lines === undefined) return undefined
      if (opts.sinceSeconds !== undefined) {
        const from = now() - opts.sinceSeconds * 1000
        lines = lines.filter((l) => l.time >= from)
      }
      if (opts.tailLines !== undefined) lines = opts.tailLines <= 0 ? [] : lines.slice(-opts.tailLines)
      let text = lines.map((l) => fmt(l, opts.timestamps ?? false)).join("")
      if (opts.limitBytes !== undefined) text = Buffer.from(text).subarray(0, opts.limitBytes).toString()
      return text
    },
    hasPrevious(ns, pod, container) {
      return bufs.get(id(ns, pod, container))?.previous !== undefined
    },
    remove(ns, pod) {
      const prefix = `${ns}/${pod}/`
      for (const k of [...bufs.keys()]) if (k.startsWith(prefix)) bufs.delete(k)
    },
    follow(ns, pod, container, onLine) {
      const k = id(ns, pod, container)
      let set = followers.get(k)
      if (!set) {
        set = new Set()
        followers.set(k, set)
      }
      set.add(onLine)
      return () => {
        set.delete(onLine)
      }
    }
  }
}
