/**
 * The signal types of k8s.oom.six-signal and how a pod becomes a Signal: the target is the
 * pod's workload narrowed to the container (`k8s.workload`), so ten OOM-killed replicas of one
 * Deployment are one incident; the pod, node and termination go into the evidence.
 *
 * @since 0.1.0
 */
import type { Signal } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import type { InvalidTargetRef } from "../targets/Targets"
import { workloadRefOf } from "../targets/resolve"
import type * as Wire from "../probes/wire"

/** The signal types. */
export const SignalTypes = {
  /** A container terminated with reason OOMKilled. */
  oomKilled: "k8s.pod.oom_killed",
  /** A node reports MemoryPressure. */
  memoryPressure: "k8s.node.memory_pressure",
  /** A container's restart count grew. */
  restartGrowth: "k8s.pod.restart_growth",
  /** A container's working set is at or above a share of its limit (metrics-server). */
  workingSetHigh: "k8s.pod.working_set_high",
  /** A runtime OOM marker in the previous container's log. */
  runtimeOomMarker: "k8s.pod.runtime_oom_marker",
  /** A rising memory trend (Prometheus). */
  memoryTrend: "k8s.pod.memory_trend"
} as const

/** Builds a pod signal targeting its workload/container. */
export const podSignal = (
  type: string,
  source: string,
  pod: Wire.Pod,
  container: string,
  evidence: Record<string, string | number | boolean | null>
): Effect.Effect<Signal.Signal, KubeError | InvalidTargetRef, Kube> =>
  Effect.gen(function*() {
    const target = yield* workloadRefOf(pod, { container })
    const observedAt = yield* Clock.currentTimeMillis
    return {
      type,
      target,
      observedAt,
      source,
      evidence: {
        namespace: pod.metadata.namespace ?? "default",
        pod: pod.metadata.name,
        container,
        node: pod.spec.nodeName ?? null,
        ...evidence
      }
    }
  })

const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`

/**
 * A termination dropped as history (`what`: "OOMKilled termination" …), at debug level, with the reason and the ages compared: a
 * detector that stays silent says why (e.g. a simulator whose clock is far from the agent's).
 */
export const logStale = (
  detector: string,
  what: string,
  pod: Wire.Pod,
  t: { readonly container: string; readonly finishedAt: string },
  ages: { readonly ageMs: number; readonly maxAgeMs: number; readonly now: number }
) =>
  Effect.logDebug(
    `${detector}: dropped the ${what} of ${pod.metadata.namespace ?? "default"}/${pod.metadata.name}/${t.container} as stale: ` +
      `it finished ${minutes(ages.ageMs)} ago (finishedAt ${t.finishedAt}, now ${new Date(ages.now).toISOString()}), ` +
      `older than maxAgeMinutes ${minutes(ages.maxAgeMs)}; only terminations younger than that on the informer's initial list are signals`
  ).pipe(Effect.annotateLogs({
    detector,
    reason: "stale",
    pod: `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`,
    container: t.container,
    finishedAt: t.finishedAt,
    ageMs: ages.ageMs,
    maxAgeMs: ages.maxAgeMs
  }))
