/**
 * metrics-server's working set of a container against its limit (`kubectl top pod --containers`).
 * A container metrics-server has no sample for (not running: crash-loop back-off) gives
 * `bytes: null`: the pod cannot be shown healthy, so node_pressure does not match on it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { WorkingSetFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Quantity from "../Quantity"
import type * as Wire from "./wire"

/** The working set of `container` in a PodMetrics object (null when absent). */
export const workingSetFrom = (metrics: Wire.PodMetrics | undefined, container: string): WorkingSetFacts => {
  const c = metrics?.containers.find((x) => x.name === container)
  return { bytes: Quantity.parse(c?.usage.memory) ?? null }
}

/** The share of the limit a working set uses (null when either is unknown). */
export const ratio = (ws: WorkingSetFacts, limitBytes: number | null): number | null =>
  ws.bytes === null || !limitBytes ? null : ws.bytes / limitBytes

/** Reads the one pod's PodMetrics from metrics.k8s.io (never the namespace's list; 404 → no sample). */
export const probe = (namespace: string, pod: string, container: string): Effect.Effect<WorkingSetFacts, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const list = yield* kube.podMetrics(namespace, pod)
    const m = list.items.find((i) => i.metadata.name === pod) as unknown as Wire.PodMetrics | undefined
    return workingSetFrom(m, container)
  })
