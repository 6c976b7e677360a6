/**
 * Signal 2: a node reports `MemoryPressure` (an informer on nodes). Emitted when the condition
 * becomes True (or is True on first sight); the target is the node (`k8s.node`).
 *
 * @since 0.1.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { Detector } from "@byteport/core"
import { Clock, Effect, Stream } from "effect"
import { Kube } from "../Kube"
import * as K8sDetector from "../informers/K8sDetector"
import { nodes } from "../informers/Resource"
import { hasCondition } from "../probes/nodeFacts"
import type * as Wire from "../probes/wire"
import * as Targets from "../targets/Targets"
import { SignalTypes } from "./signals"

/** The detector. */
export const make = (options: { readonly name?: string | undefined; readonly labelSelector?: string | undefined } = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.oom.memory-pressure"
  return Detector.fromStream(
    name,
    Stream.unwrap(Effect.sync(() => {
      const pressured = new Set<string>()
      return K8sDetector.signals<V1Node, Kube>({
        name,
        resource: nodes,
        labelSelector: options.labelSelector,
        toSignals: (event) =>
          Effect.gen(function*() {
            const node = event.object as unknown as Wire.Node
            const n = node.metadata.name
            if (event.type === "delete") {
              pressured.delete(n)
              return []
            }
            const now = hasCondition(node, "MemoryPressure")
            const before = pressured.has(n)
            if (now) pressured.add(n)
            else pressured.delete(n)
            if (!now || before) return []
            const kube = yield* Kube
            const cond = node.status?.conditions?.find((c) => c.type === "MemoryPressure")
            return [{
              type: SignalTypes.memoryPressure,
              target: Targets.node({ cluster: kube.clusterName, name: n }),
              observedAt: yield* Clock.currentTimeMillis,
              source: name,
              evidence: { node: n, since: cond?.lastTransitionTime ?? null, reason: cond?.reason ?? null }
            }]
          })
      })
    }))
  )
}
