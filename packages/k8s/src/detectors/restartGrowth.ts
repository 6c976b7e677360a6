/**
 * Signal 5: restart growth — a container's `restartCount` increased (an informer on pods). The
 * first sighting of a container only records its count. The evidence carries the last
 * termination's reason and exit code, so a consumer can tell an OOM kill from a liveness kill.
 * k8s.oom.six-signal does not subscribe to it by default (OOMKilled already covers its restarts;
 * restarts of other causes belong to the crash-loop runbooks); it is exported for composition.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import { Effect } from "effect"
import type { Kube } from "../Kube"
import * as Wire from "../probes/wire"
import { podKey, podStateDetector } from "./podSignals"
import { podSignal, SignalTypes } from "./signals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly name?: string | undefined
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.oom.restart-growth"
  return podStateDetector(name, options, () => new Map<string, number>(), (pod: Wire.Pod, _type, counts) =>
    Effect.gen(function*() {
      const out = []
      for (const cs of Wire.runningStatuses(pod)) {
        const key = `${podKey(pod)}/${cs.name}`
        const before = counts.get(key)
        counts.set(key, cs.restartCount)
        if (before === undefined || cs.restartCount <= before) continue
        const t = cs.lastState?.terminated
        out.push(yield* podSignal(SignalTypes.restartGrowth, name, pod, cs.name, {
          from: before,
          restartCount: cs.restartCount,
          reason: t?.reason ?? null,
          exitCode: t?.exitCode ?? null
        }))
      }
      return out
    }))
}
