/**
 * Signal 5: restart growth — a container's `restartCount` increased (an informer on pods). The
 * first sighting of a container only records its count. The evidence carries the last
 * termination's reason and exit code, so a consumer can tell an OOM kill from a liveness kill.
 * k8s.oom.six-signal does not subscribe to it by default (OOMKilled already covers its restarts;
 * restarts of other causes belong to the crash-loop runbooks); it is exported for composition.
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Detector } from "@byteport/core"
import { Effect, Stream } from "effect"
import { Kube } from "../Kube"
import * as K8sDetector from "../informers/K8sDetector"
import { pods } from "../informers/Resource"
import * as Wire from "../probes/wire"
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
  return Detector.fromStream(
    name,
    Stream.unwrap(Effect.sync(() => {
      const counts = new Map<string, number>()
      return K8sDetector.signals<V1Pod, Kube>({
        name,
        resource: pods,
        namespace: options.namespace,
        labelSelector: options.labelSelector,
        toSignals: (event) =>
          Effect.gen(function*() {
            const pod = event.object as unknown as Wire.Pod
            const uid = pod.metadata.uid ?? pod.metadata.name
            if (event.type === "delete") {
              for (const k of [...counts.keys()]) if (k.startsWith(`${uid}/`)) counts.delete(k)
              return []
            }
            const out = []
            for (const cs of Wire.runningStatuses(pod)) {
              const key = `${uid}/${cs.name}`
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
          })
      })
    }))
  )
}
