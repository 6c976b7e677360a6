/**
 * Signal 1: a container terminated with reason `OOMKilled` (an informer on pods; no polling).
 * Each termination is emitted once (keyed by pod uid, container and `finishedAt`); on the
 * informer's initial list only terminations younger than `maxAgeMinutes` are emitted, so an
 * agent that starts next to an old crash loop still sees a live one but not history. A dropped
 * termination is logged at debug level with the reason and both ages (`Effect.logDebug`; raise
 * `References.MinimumLogLevel` to `"Debug"` to see it).
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Kube } from "../Kube"
import * as Wire from "../probes/wire"
import { isStale, podKey, podStateDetector } from "./podSignals"
import { logStale, podSignal, SignalTypes } from "./signals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Terminations older than this on the initial list are history, not signals (default 15). */
  readonly maxAgeMinutes?: number | undefined
  /** Informer name (default `k8s.oom.oom-killed`). */
  readonly name?: string | undefined
}

/** The OOMKilled terminations of a pod: container, finishedAt, exit code, restart count. */
export const oomTerminations = (pod: Wire.Pod): ReadonlyArray<{ readonly container: string; readonly finishedAt: string; readonly exitCode: number | null; readonly restartCount: number }> =>
  Wire.runningStatuses(pod).flatMap((cs) => {
    const t = cs.state?.terminated?.reason === "OOMKilled" ? cs.state.terminated : cs.lastState?.terminated?.reason === "OOMKilled" ? cs.lastState.terminated : undefined
    return t ? [{ container: cs.name, finishedAt: t.finishedAt ?? "", exitCode: t.exitCode ?? null, restartCount: cs.restartCount }] : []
  })

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.oom.oom-killed"
  const maxAgeMs = (options.maxAgeMinutes ?? 15) * 60_000
  return podStateDetector(name, options, () => new Set<string>(), (pod: Wire.Pod, type, seen) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const out = []
      for (const t of oomTerminations(pod)) {
        const key = `${podKey(pod)}/${t.container}/${t.finishedAt}`
        if (seen.has(key)) continue
        seen.add(key)
        const ageMs = now - Date.parse(t.finishedAt)
        if (isStale(type, Date.parse(t.finishedAt), now, maxAgeMs)) {
          yield* logStale(name, "OOMKilled termination", pod, t, { ageMs, maxAgeMs, now })
          continue
        }
        out.push(yield* podSignal(SignalTypes.oomKilled, name, pod, t.container, { reason: "OOMKilled", exitCode: t.exitCode, finishedAt: t.finishedAt, restartCount: t.restartCount }))
      }
      return out
    }))
}
