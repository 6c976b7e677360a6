/**
 * Signal 3: a runtime OOM marker — a container that terminated with a reason other than
 * OOMKilled (and a non-zero exit code) whose log tail shows its runtime ran out of memory: a JVM
 * exiting 3 after `java.lang.OutOfMemoryError` (`-XX:+ExitOnOutOfMemoryError`), V8's "Reached heap
 * limit" (exit 134), Go's "fatal error: runtime: out of memory" (exit 2), Python's `MemoryError`
 * (exit 1). These never reach the kernel's OOM killer, so no OOMKilled reason marks them.
 *
 * It runs on the shared pod watch (no watch of its own). For each new termination (container,
 * finishedAt/restart) it reads the terminated instance's log tail once — `previous` for a
 * restarted container (`lastState`), the current log for one that has not restarted (`state`) —
 * and signals when a marker is found. Terminations older than `maxAgeMinutes` on the initial list
 * are history. A log read that fails is logged and retried on the pod's next update.
 *
 * @since 0.2.0
 */
import { Detector } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Kube } from "../Kube"
import * as OomMarkers from "../probes/oomMarkers"
import * as Wire from "../probes/wire"
import { isStale, podKey, podStateDetector } from "./podSignals"
import { logStale, podSignal, SignalTypes } from "./signals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Terminations older than this on the initial list are history, not signals (default 15). */
  readonly maxAgeMinutes?: number | undefined
  /** Log lines read per termination (default 200). */
  readonly tailLines?: number | undefined
  /** Detector name (default `k8s.oom.runtime-oom-marker`). */
  readonly name?: string | undefined
}

/** A termination that may hide a runtime OOM. */
export interface Candidate {
  readonly container: string
  readonly reason: string | null
  readonly exitCode: number
  readonly finishedAt: string | null
  readonly restartCount: number
  /** The terminated instance is the previous one (the container restarted). */
  readonly previous: boolean
}

/**
 * The terminations of a pod worth a log read: reason other than OOMKilled (the OOMKilled detector
 * has those) and a non-zero exit code (a clean exit is no OOM). A container that restarted
 * reports it in `lastState`, one that has not in `state`.
 */
export const candidates = (pod: Wire.Pod): ReadonlyArray<Candidate> =>
  Wire.runningStatuses(pod).flatMap((cs) => {
    const now = cs.state?.terminated
    const last = cs.lastState?.terminated
    const t = now ?? last
    if (!t || t.reason === "OOMKilled" || t.exitCode === undefined || t.exitCode === 0) return []
    // a pod evicted under node pressure has no log to read (ContainerStatusUnknown): the node signal covers it
    if (t.reason === "ContainerStatusUnknown") return []
    return [{ container: cs.name, reason: t.reason ?? null, exitCode: t.exitCode, finishedAt: t.finishedAt ?? null, restartCount: cs.restartCount, previous: now === undefined }]
  })

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.oom.runtime-oom-marker"
  const maxAgeMs = (options.maxAgeMinutes ?? 15) * 60_000
  return podStateDetector(name, options, () => new Set<string>(), (pod: Wire.Pod, type, seen) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const out = []
      for (const c of candidates(pod)) {
        const key = `${podKey(pod)}/${c.container}/${c.finishedAt ?? `restart-${c.restartCount}`}`
        if (seen.has(key)) continue
        const ageMs = c.finishedAt ? now - Date.parse(c.finishedAt) : 0
        if (c.finishedAt && isStale(type, Date.parse(c.finishedAt), now, maxAgeMs)) {
          seen.add(key)
          yield* logStale(name, "terminated container", pod, { container: c.container, finishedAt: c.finishedAt }, { ageMs, maxAgeMs, now })
          continue
        }
        const markers = yield* OomMarkers.probe(pod.metadata.namespace ?? "default", pod.metadata.name, c.container, { previous: c.previous, tailLines: options.tailLines ?? 200 })
        seen.add(key)
        const m = markers[markers.length - 1]
        if (!m) continue
        out.push(yield* podSignal(SignalTypes.runtimeOomMarker, name, pod, c.container, {
          reason: c.reason,
          exitCode: c.exitCode,
          finishedAt: c.finishedAt,
          restartCount: c.restartCount,
          runtime: m.runtime,
          marker: m.line
        }))
      }
      return out
    }))
}
