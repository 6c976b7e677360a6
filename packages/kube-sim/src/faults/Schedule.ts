/**
 * Seeded fault schedules (issue 17 §1): a reproducible list of incidents at virtual-time offsets
 * — 410 on watches, 429 with Retry-After, 500s at a rate, dropped watches, an apiserver restart,
 * and "applied, then the connection dropped before the response" — played against a running
 * simulator as its virtual time passes. The same seed gives the same schedule.
 *
 * ```ts
 * const schedule = Schedule.make({ seed: 42, durationMs: 20 * 60_000 })
 * const player = Schedule.player(sim.api, schedule)
 * // in the test's time loop, after each virtual step:
 * await player.at(elapsedMs)
 * ```
 */
import { seeded } from "../store/random"
import type { FaultHandle, FaultMatch, Faults } from "./Faults"

/** One scheduled incident, `at` ms of virtual time after the schedule's start. */
export type Incident =
  | { readonly at: number; readonly kind: "watch410"; readonly count: number; readonly http: boolean }
  | { readonly at: number; readonly kind: "throttle429"; readonly times: number; readonly retryAfterSeconds: number }
  | { readonly at: number; readonly kind: "errors500"; readonly rate: number; readonly forMs: number }
  | { readonly at: number; readonly kind: "dropWatches"; readonly abrupt: boolean }
  | { readonly at: number; readonly kind: "restart" }
  | { readonly at: number; readonly kind: "dropAfterApply"; readonly rate: number; readonly forMs: number }

/** The incident kinds. */
export type Kind = Incident["kind"]

/** Every incident kind, in the order the schedule cycles through them. */
export const kinds: ReadonlyArray<Kind> = ["watch410", "throttle429", "errors500", "dropWatches", "restart", "dropAfterApply"]

/** Options of `make`. */
export interface ScheduleOptions {
  /** The seed (printed by the test; the same seed replays the same schedule). */
  readonly seed: number
  /** Virtual time the schedule covers (ms). */
  readonly durationMs: number
  /** Mean gap between incidents (ms, default 30 s). */
  readonly meanGapMs?: number
  /** Kinds to draw from (default all); each one occurs at least once when the duration allows. */
  readonly kinds?: ReadonlyArray<Kind>
  /** Which requests 429s and 500s hit (default: every request but watches is not expressible, so all requests). */
  readonly errorsOn?: FaultMatch
  /** Which requests are dropped after applying (default: PATCH requests). */
  readonly dropOn?: FaultMatch
}

/** A seeded schedule: the incidents, oldest first. */
export const make = (o: ScheduleOptions): ReadonlyArray<Incident> => {
  const random = seeded(o.seed ^ 0x5c4ed)
  const pool = o.kinds ?? kinds
  const gap = o.meanGapMs ?? 30_000
  const out: Array<Incident> = []
  // the first pass covers every kind once, in a seeded order (Fisher–Yates), then kinds are drawn at random
  const first = [...pool]
  for (let i = first.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[first[i], first[j]] = [first[j]!, first[i]!]
  }
  let at = Math.floor(random() * gap)
  for (let i = 0; at < o.durationMs; i++) {
    const kind = i < first.length ? first[i]! : pool[Math.floor(random() * pool.length)]!
    out.push(incident(kind, at, random))
    at += Math.max(1_000, Math.floor(gap * (0.5 + random())))
  }
  return out
}

const incident = (kind: Kind, at: number, random: () => number): Incident => {
  switch (kind) {
    case "watch410":
      return { at, kind, count: 1 + Math.floor(random() * 3), http: random() < 0.5 }
    case "throttle429":
      return { at, kind, times: 1 + Math.floor(random() * 5), retryAfterSeconds: 1 + Math.floor(random() * 3) }
    case "errors500":
      return { at, kind, rate: 0.1 + random() * 0.3, forMs: 5_000 + Math.floor(random() * 15_000) }
    case "dropWatches":
      return { at, kind, abrupt: random() < 0.5 }
    case "restart":
      return { at, kind }
    case "dropAfterApply":
      return { at, kind, rate: 0.5 + random() * 0.5, forMs: 10_000 + Math.floor(random() * 30_000) }
  }
}

/** What a player needs of the simulator: its faults and its restart. */
export interface Target {
  readonly faults: Faults
  restart(options?: { downtimeMs?: number }): Promise<void>
}

/** Plays a schedule against a simulator as virtual time passes. */
export interface Player {
  /** Fires every incident due at `elapsedMs` (virtual ms since the start) and ends rules whose time is over. */
  at(elapsedMs: number): Promise<void>
  /** Incidents fired so far, by kind. */
  readonly fired: Readonly<Record<Kind, number>>
  /** Requests answered with a fault so far: 429s, 500s, and responses dropped after applying. */
  readonly hits: { readonly throttled: number; readonly errors: number; readonly droppedAfterApply: number }
  /** Removes every rule still active. */
  stop(): void
}

/** A player for `schedule` on `target` (`errorsOn` / `dropOn` as in `make`'s options). */
export const player = (target: Target, schedule: ReadonlyArray<Incident>, options: Pick<ScheduleOptions, "errorsOn" | "dropOn"> = {}): Player => {
  const pending = [...schedule]
  const active: Array<{ readonly until: number; readonly handle: FaultHandle }> = []
  const handles: Array<{ readonly kind: Kind; readonly handle: FaultHandle }> = []
  const track = (kind: Kind, handle: FaultHandle) => (handles.push({ kind, handle }), handle)
  const sum = (kind: Kind) => handles.filter((h) => h.kind === kind).reduce((n, h) => n + h.handle.hits, 0)
  const fired = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>
  const errorsOn = options.errorsOn ?? {}
  const dropOn = options.dropOn ?? { method: "PATCH" }
  return {
    fired,
    get hits() {
      return { throttled: sum("throttle429"), errors: sum("errors500"), droppedAfterApply: sum("dropAfterApply") }
    },
    at: async (elapsed) => {
      for (let i = active.length - 1; i >= 0; i--) {
        if (active[i]!.until <= elapsed) active.splice(i, 1)[0]!.handle.remove()
      }
      while (pending.length > 0 && pending[0]!.at <= elapsed) {
        const x = pending.shift()!
        fired[x.kind]++
        switch (x.kind) {
          case "watch410":
            target.faults.expireNextWatch({ count: x.count, http: x.http })
            break
          case "throttle429":
            track(x.kind, target.faults.error({ ...errorsOn, status: 429, times: x.times, retryAfterSeconds: x.retryAfterSeconds }))
            break
          case "errors500":
            active.push({ until: elapsed + x.forMs, handle: track(x.kind, target.faults.error({ ...errorsOn, status: 500, rate: x.rate })) })
            break
          case "dropWatches":
            target.faults.dropWatches({ abrupt: x.abrupt })
            break
          case "restart":
            await target.restart()
            break
          case "dropAfterApply":
            active.push({ until: elapsed + x.forMs, handle: track(x.kind, target.faults.dropAfterApply({ ...dropOn, rate: x.rate })) })
            break
        }
      }
    },
    stop: () => {
      for (const a of active.splice(0)) a.handle.remove()
    }
  }
}
