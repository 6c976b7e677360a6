/**
 * Signal: a pod bound to a node has stayed Pending for `pendingMinutes` (default 5, inclusive)
 * with a container waiting in `ContainerCreating` or `PodInitializing` — the kubelet cannot set it
 * up (a ConfigMap or Secret volume that does not exist: FailedMount). The unscheduled side is
 * `PendingDetector`'s; both raise `k8s.pod.pending_too_long`, with `reason` `ContainerCreating`
 * here. From the shared pod watch, checked again every `checkInterval` (15 s, a timer, no API
 * request); once per pod. Surge pods (a Deployment rollout in progress) are ignored, as by
 * `PendingDetector`: the failed-rollout runbook owns them.
 *
 * @since 0.3.0
 */
import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node"
import { Detector } from "@byteport/core"
import { Clock, type Duration, Effect, Stream } from "effect"
import { Kube } from "../Kube"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import { pods, replicaSets } from "../informers/Resource"
import { controllerOf } from "../targets/resolve"
import { isSurge } from "./pending"
import type * as PodWire from "../probes/podWire"
import { make as signal, PodSignalTypes, podKey } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Minutes before a signal (default 5, inclusive). */
  readonly pendingMinutes?: number | undefined
  /** How often stuck pods are checked against the clock (default 15 s). */
  readonly checkInterval?: Duration.Input | undefined
  /** Detector name (default `k8s.pod.stuck-creating`). */
  readonly name?: string | undefined
}

const SETUP = new Set(["ContainerCreating", "PodInitializing"])

/** Since when (epoch ms) a bound Pending pod waits in set-up, or undefined when it does not. */
export const stuckSince = (pod: PodWire.Pod): number | undefined => {
  if ((pod.status?.phase ?? "Pending") !== "Pending" || !pod.spec.nodeName) return undefined
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
  if (statuses.length > 0 && !statuses.some((s) => SETUP.has(s.state?.waiting?.reason ?? ""))) return undefined
  if (statuses.some((s) => s.state?.running !== undefined || s.state?.terminated !== undefined)) return undefined
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "True")
  const t = scheduled?.lastTransitionTime ?? pod.metadata.creationTimestamp
  const ms = t ? Date.parse(t) : Number.NaN
  return Number.isFinite(ms) ? ms : undefined
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.stuck-creating"
  const dueMs = (options.pendingMinutes ?? 5) * 60_000
  return Detector.fromStream(name, Stream.unwrap(Effect.sync(() => {
    const watching = new Map<string, PodWire.Pod>()
    const reported = new Set<string>()
    type Input = { readonly _tag: "pod"; readonly type: string; readonly pod: PodWire.Pod } | { readonly _tag: "tick" }
    const podEvents = K8sDetector.events<V1Pod>({ name, resource: pods, namespace: options.namespace, labelSelector: options.labelSelector }).pipe(
      Stream.map((e): Input => ({ _tag: "pod", type: e.type, pod: e.object as unknown as PodWire.Pod }))
    )
    const ticks = Stream.tick(options.checkInterval ?? "15 seconds").pipe(Stream.map((): Input => ({ _tag: "tick" })))
    const check = (pod: PodWire.Pod, now: number) =>
      Effect.gen(function*() {
        const key = podKey(pod)
        const since = stuckSince(pod)
        if (since === undefined) {
          watching.delete(key)
          return []
        }
        if (reported.has(key) || now < since + dueMs) return []
        // a surge pod (a rollout in progress) is the failed-rollout runbook's, as for PendingDetector
        if (controllerOf(pod)?.kind === "ReplicaSet") {
          const kube = yield* Kube
          const ns = pod.metadata.namespace ?? kube.defaultNamespace
          const rss = yield* Informers.listOr(replicaSets, { namespace: ns }, kube.listReplicaSets({ namespace: ns })).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<V1ReplicaSet>))
          if (isSurge(pod, rss)) return []
        }
        reported.add(key)
        watching.delete(key)
        const w = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find((s) => SETUP.has(s.state?.waiting?.reason ?? ""))
        return [yield* signal(PodSignalTypes.pending, name, pod, null, {
          pendingSince: new Date(since).toISOString(),
          pendingMinutes: Math.floor(((now - since) / 60_000) * 10) / 10,
          reason: w?.state?.waiting?.reason ?? "ContainerCreating",
          message: w?.state?.waiting?.message ?? null
        })]
      }).pipe(Effect.catchCause((cause) => Effect.as(Effect.logWarning(`detector ${name}: ${String(cause)}`), [])))
    return Stream.merge(podEvents, ticks).pipe(
      Stream.mapEffect((input) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (input._tag === "tick") {
            const out = []
            for (const p of [...watching.values()]) out.push(...(yield* check(p, now)))
            return out
          }
          const key = podKey(input.pod)
          if (input.type === "delete") {
            watching.delete(key)
            reported.delete(key)
            return []
          }
          if (stuckSince(input.pod) === undefined) {
            watching.delete(key)
            return []
          }
          watching.set(key, input.pod)
          return yield* check(input.pod, now)
        })
      ),
      Stream.flatMap((xs) => Stream.fromIterable(xs))
    )
  })))
}
