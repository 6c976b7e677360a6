/**
 * Signal: a restart loop — a container restarted at least `restarts` times (default 3) within
 * `windowMinutes` (default 10), from the pod informer's shared watch (no polling). Each growth of
 * `restartCount` counts at the last termination's `finishedAt` (the observation time when the
 * runtime gave none). The first sighting of a container records its count only: restarts before
 * the agent started are not timed, so they never count. Reported once per crossing: after a
 * signal, the container re-arms when its restarts within the window drop below the threshold.
 *
 * Thresholds are inclusive: a restart exactly `windowMinutes` old still counts.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import { make as signal, PodSignalTypes, podKey, podStateDetector } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Restarts that make a loop (default 3). */
  readonly restarts?: number | undefined
  /** The window they must fall in (default 10 minutes). */
  readonly windowMinutes?: number | undefined
  /** Detector name (default `k8s.pod.restart-loop`). */
  readonly name?: string | undefined
}

/** The defaults: 3 restarts in 10 minutes. */
export const defaults = { restarts: 3, windowMinutes: 10 } as const

/** The restart times within the window ending at `now` (inclusive: a restart exactly `windowMs` old counts). */
export const inWindow = (times: ReadonlyArray<number>, now: number, windowMs: number): ReadonlyArray<number> =>
  times.filter((t) => now - t <= windowMs && t <= now)

/** A container's restart history as the detector keeps it. */
export interface History {
  count: number
  times: Array<number>
  armed: boolean
}

/** A restart loop found by `observe`. */
export interface Loop {
  readonly container: string
  readonly restarts: number
  readonly restartCount: number
  readonly lastReason: string | null
  readonly lastExitCode: number | null
}

/**
 * Feeds one pod observation at `now` into the histories (pure apart from `histories`), returning
 * the containers that now loop: at least `restarts` restarts within the window, reported once
 * per crossing.
 */
export const observe = (
  pod: PodWire.Pod,
  now: number,
  histories: Map<string, History>,
  settings: { readonly restarts: number; readonly windowMinutes: number } = defaults
): ReadonlyArray<Loop> => {
  const windowMs = settings.windowMinutes * 60_000
  const out: Array<Loop> = []
  for (const cs of Wire.runningStatuses(pod)) {
    const key = `${podKey(pod)}/${cs.name}`
    const h = histories.get(key)
    if (h === undefined) {
      histories.set(key, { count: cs.restartCount, times: [], armed: true })
      continue
    }
    const t = cs.lastState?.terminated
    if (cs.restartCount > h.count) {
      const finished = t?.finishedAt ? Date.parse(t.finishedAt) : Number.NaN
      const at = Number.isFinite(finished) && finished <= now ? finished : now
      for (let i = h.count; i < cs.restartCount; i++) h.times.push(at)
    }
    h.count = cs.restartCount
    h.times = [...inWindow(h.times, now, windowMs)]
    if (h.times.length < settings.restarts) {
      h.armed = true
      continue
    }
    if (!h.armed) continue
    h.armed = false
    out.push({ container: cs.name, restarts: h.times.length, restartCount: cs.restartCount, lastReason: t?.reason ?? null, lastExitCode: t?.exitCode ?? null })
  }
  return out
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.restart-loop"
  const settings = { restarts: options.restarts ?? defaults.restarts, windowMinutes: options.windowMinutes ?? defaults.windowMinutes }
  return podStateDetector(name, options, () => new Map<string, History>(), (pod: PodWire.Pod, _type, histories) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return yield* Effect.forEach(observe(pod, now, histories, settings), (l) =>
        signal(PodSignalTypes.restartLoop, name, pod, l.container, {
          restarts: l.restarts,
          windowMinutes: settings.windowMinutes,
          restartCount: l.restartCount,
          lastReason: l.lastReason,
          lastExitCode: l.lastExitCode
        }))
    }))
}
