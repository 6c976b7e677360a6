/**
 * The simulator's virtual clock. It starts at the wall clock unless a start is given (a
 * scenario's `start`, `startSim({ now })`). Time only moves when `advanceTo` is called; timers
 * fire in (time, insertion) order, so the same sequence of calls from the same start always
 * yields the same state.
 */

/** A timer registered on the virtual clock. */
export interface Timer {
  readonly at: number
  readonly seq: number
  readonly fn: () => void
}

/**
 * A fixed start some tests and scenarios pin virtual time to: 2026-01-01T00:00:00Z. It is not the
 * default any more: an unpinned clock starts at the wall clock (see `wallClockStart`).
 */
export const DEFAULT_EPOCH_MS = Date.UTC(2026, 0, 1, 0, 0, 0)

/**
 * The default start of virtual time: the wall clock, truncated to the second (Kubernetes
 * timestamps have second precision). Starting "now" keeps the simulator's timestamps fresh for
 * freshness filters (a detector that drops events older than a few minutes sees a just-started
 * simulator's OOM kills) and makes ages in kubectl read naturally.
 */
export const wallClockStart = (): number => Math.floor(Date.now() / 1000) * 1000

/** Parse a clock start option (Date, ISO string or epoch milliseconds); none → the wall clock. */
export const parseEpoch = (now: Date | string | number | undefined): number => {
  if (now === undefined) return wallClockStart()
  if (typeof now === "number") return now
  const ms = now instanceof Date ? now.getTime() : Date.parse(now)
  if (!Number.isFinite(ms)) throw new RangeError(`invalid clock start: ${String(now)}`)
  return ms
}

/** A deterministic virtual clock with one-shot timers and de-duplicated wake-ups. */
export class VirtualClock {
  private t: number
  private seq = 0
  private timers: Array<Timer> = []
  private wakeups = new Set<number>()

  /** Create a clock starting at `start` (epoch ms; default: the wall clock, to the second). */
  constructor(start: number = wallClockStart()) {
    this.t = start
  }

  /** Current virtual time in epoch milliseconds. */
  now(): number {
    return this.t
  }

  /** RFC 3339 timestamp with second precision (the format Kubernetes uses for metav1.Time). */
  iso(t: number = this.t): string {
    return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")
  }

  /** RFC 3339 timestamp with microsecond precision (metav1.MicroTime). */
  isoMicro(t: number = this.t): string {
    return new Date(t).toISOString().replace(/Z$/, "000Z")
  }

  /** Run `fn` when virtual time reaches `at` (immediately on the next advance if `at` is past). */
  schedule(at: number, fn: () => void): void {
    this.timers.push({ at, seq: this.seq++, fn })
  }

  /** Ask the owner to run a reconcile pass at time `at` (idempotent per instant). */
  wakeAt(at: number): void {
    if (!Number.isFinite(at)) return
    const ms = Math.ceil(at)
    if (ms <= this.t) return
    this.wakeups.add(ms)
  }

  /** The earliest pending timer or wake-up time, if any. */
  next(): number | undefined {
    let best: number | undefined
    for (const t of this.timers) if (best === undefined || t.at < best) best = t.at
    for (const w of this.wakeups) if (best === undefined || w < best) best = w
    return best
  }

  /**
   * Move time forward to `target`, stopping at every timer or wake-up on the way. At each
   * stop the due timers run, then `onStop()` (the controllers' settle). Returns the number of stops.
   */
  advanceTo(target: number, onStop: () => void): number {
    let stops = 0
    for (;;) {
      const next = this.next()
      if (next === undefined || next > target) break
      this.t = Math.max(this.t, next)
      this.wakeups.delete(next)
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at || a.seq - b.seq)
      this.timers = this.timers.filter((x) => x.at > this.t)
      for (const d of due) d.fn()
      onStop()
      stops++
    }
    this.t = Math.max(this.t, target)
    onStop()
    return stops
  }
}

/** Parse a duration such as 250, "10s", "5m", "1h30m", "2d" into milliseconds. */
export const parseDuration = (d: number | string): number => {
  if (typeof d === "number") {
    if (!Number.isFinite(d) || d < 0) throw new RangeError(`invalid duration: ${d}`)
    return d
  }
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g
  let total = 0
  let consumed = 0
  for (const m of d.matchAll(re)) {
    const n = Number(m[1])
    const unit = m[2]
    total += n * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : unit === "h" ? 3_600_000 : 86_400_000)
    consumed += m[0].length
  }
  if (consumed === 0 || consumed !== d.trim().length) throw new RangeError(`invalid duration: ${JSON.stringify(d)}`)
  return total
}
