/**
 * Signal: the kubelet evicted a pod (phase `Failed`, reason `Evicted`, the eviction manager's
 * message naming the starved resource), from the pod informer's shared watch. Once per pod. The
 * signal targets the whole workload (no container is at fault); on the informer's initial list
 * only evictions younger than `maxAgeMinutes` are signals (evicted pods linger until garbage
 * collected).
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import { isStale, make as signal, PodSignalTypes, podKey, podStateDetector } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Evictions older than this on the initial list are history (default 15). */
  readonly maxAgeMinutes?: number | undefined
  /** Detector name (default `k8s.pod.evicted`). */
  readonly name?: string | undefined
}

/** Whether a pod was evicted by the kubelet. */
export const isEvicted = (pod: PodWire.Pod): boolean => pod.status?.phase === "Failed" && pod.status.reason === "Evicted"

/** When the pod was evicted: its Ready condition's last transition, else its start, else creation (epoch ms or NaN). */
export const evictedAt = (pod: PodWire.Pod): number => {
  const t = pod.status?.conditions?.find((c) => c.type === "Ready" || c.type === "DisruptionTarget")?.lastTransitionTime ?? pod.status?.startTime ?? pod.metadata.creationTimestamp
  return t ? Date.parse(t) : Number.NaN
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.evicted"
  const maxAgeMs = (options.maxAgeMinutes ?? 15) * 60_000
  return podStateDetector(name, options, () => new Set<string>(), (pod: PodWire.Pod, type, seen) =>
    Effect.gen(function*() {
      if (!isEvicted(pod) || seen.has(podKey(pod))) return []
      seen.add(podKey(pod))
      if (isStale(type, evictedAt(pod), yield* Clock.currentTimeMillis, maxAgeMs)) return []
      return [yield* signal(PodSignalTypes.evicted, name, pod, null, { reason: "Evicted", message: pod.status?.message ?? null })]
    }))
}
