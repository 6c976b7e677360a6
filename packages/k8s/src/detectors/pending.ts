/**
 * Signal: an unscheduled pod has been Pending for `pendingMinutes` (default 5, inclusive) — from
 * the shared pod watch, checked again every `checkInterval` (default 15 s, a timer, no API
 * request). Pending counts from the `PodScheduled=False` transition, else the pod's creation.
 *
 * Ignored, because someone is already acting on them:
 * - gated pods (`spec.schedulingGates`, or `PodScheduled=False/SchedulingGated`);
 * - nominated pods (`status.nominatedNodeName`: preemption is making room);
 * - autoscaler-awaited pods (a `TriggeredScaleUp` Event within `autoscalerGraceMinutes`, default 15,
 *   from the shared Event watch);
 * - surge pods (a pod of a Deployment's ReplicaSet while another ReplicaSet of that Deployment
 *   still has pods: a rollout in progress, the failed-rollout runbook's business; read from the
 *   shared ReplicaSet watch).
 *
 * Once per pod; the signal targets the whole workload and carries the scheduler's message.
 *
 * @since 0.1.0
 */
import type { CoreV1Event, V1Pod, V1ReplicaSet } from "@kubernetes/client-node"
import { Detector } from "@byteport/core"
import { Clock, Duration, Effect, Stream } from "effect"
import { Kube } from "../Kube"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import { deployments, events, pods, replicaSets } from "../informers/Resource"
import type * as PodWire from "../probes/podWire"
import { controllerOf } from "../targets/resolve"
import { make as signal, PodSignalTypes, podKey } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Minutes Pending before a signal (default 5, inclusive). */
  readonly pendingMinutes?: number | undefined
  /** A `TriggeredScaleUp` Event younger than this makes the pod autoscaler-awaited (default 15). */
  readonly autoscalerGraceMinutes?: number | undefined
  /** How often Pending pods are checked against the clock (default 15 s). */
  readonly checkInterval?: Duration.Input | undefined
  /** Detector name (default `k8s.pod.pending`). */
  readonly name?: string | undefined
}

/** The defaults. */
export const defaults = { pendingMinutes: 5, autoscalerGraceMinutes: 15 } as const

/** Why a Pending pod is not reported. */
export type IgnoreReason = "gated" | "nominated" | "autoscaler-awaited" | "surge"

/** What the detector makes of a pod at a time. */
export type PendingState =
  | { readonly _tag: "NotPending" }
  | { readonly _tag: "Ignored"; readonly why: IgnoreReason }
  | { readonly _tag: "Young"; readonly since: number; readonly dueAt: number }
  | { readonly _tag: "Overdue"; readonly since: number; readonly minutes: number; readonly reason: string | null; readonly message: string | null }

const scheduledCondition = (pod: PodWire.Pod) => pod.status?.conditions?.find((c) => c.type === "PodScheduled")

/** Whether the pod is Pending and unscheduled (no node). */
export const isUnscheduled = (pod: PodWire.Pod): boolean =>
  (pod.status?.phase ?? "Pending") === "Pending" && (pod.spec.nodeName === undefined || pod.spec.nodeName === "") && pod.metadata.name !== ""

/** Since when (epoch ms) the pod is Pending: the `PodScheduled=False` transition, else its creation. */
export const pendingSince = (pod: PodWire.Pod): number => {
  const c = scheduledCondition(pod)
  const t = (c?.status === "False" ? c.lastTransitionTime : undefined) ?? pod.metadata.creationTimestamp
  return t ? Date.parse(t) : Number.NaN
}

/** Whether scheduling gates hold the pod. */
export const isGated = (pod: PodWire.Pod): boolean =>
  (pod.spec.schedulingGates?.length ?? 0) > 0 || scheduledCondition(pod)?.reason === "SchedulingGated"

/**
 * The state of a pod at `now` (pure). `context` says what only other objects tell: whether the
 * autoscaler is awaited and whether the pod is a surge pod.
 */
export const stateOf = (
  pod: PodWire.Pod,
  now: number,
  context: { readonly autoscalerAwaited: boolean; readonly surge: boolean },
  settings: { readonly pendingMinutes: number } = defaults
): PendingState => {
  if (!isUnscheduled(pod)) return { _tag: "NotPending" }
  if (isGated(pod)) return { _tag: "Ignored", why: "gated" }
  if (pod.status?.nominatedNodeName) return { _tag: "Ignored", why: "nominated" }
  if (context.autoscalerAwaited) return { _tag: "Ignored", why: "autoscaler-awaited" }
  if (context.surge) return { _tag: "Ignored", why: "surge" }
  const since = pendingSince(pod)
  const dueAt = since + settings.pendingMinutes * 60_000
  if (!Number.isFinite(since) || now < dueAt) return { _tag: "Young", since, dueAt }
  const c = scheduledCondition(pod)
  return { _tag: "Overdue", since, minutes: (now - since) / 60_000, reason: c?.reason ?? null, message: c?.message ?? null }
}

/**
 * Whether a pod is a surge pod: its ReplicaSet belongs to a Deployment that has another
 * ReplicaSet with pods (a rollout in progress). `replicaSets` are the namespace's.
 */
export const isSurge = (pod: PodWire.Pod, rss: ReadonlyArray<V1ReplicaSet>): boolean => {
  const owner = controllerOf(pod)
  if (owner?.kind !== "ReplicaSet") return false
  const mine = rss.find((r) => r.metadata?.name === owner.name)
  const deployment = mine ? controllerOf(mine) : undefined
  if (deployment?.kind !== "Deployment") return false
  return rss.some((r) => r.metadata?.name !== owner.name && controllerOf(r)?.kind === "Deployment" && controllerOf(r)?.name === deployment.name && (r.status?.replicas ?? 0) > 0)
}

type Input =
  | { readonly _tag: "pod"; readonly type: "add" | "update" | "delete"; readonly pod: PodWire.Pod }
  | { readonly _tag: "scaleUp"; readonly event: CoreV1Event }
  | { readonly _tag: "tick" }

/** The detector (its stream also holds the ReplicaSet and Deployment watches for surge checks). */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.pending"
  const settings = { pendingMinutes: options.pendingMinutes ?? defaults.pendingMinutes }
  const graceMs = (options.autoscalerGraceMinutes ?? defaults.autoscalerGraceMinutes) * 60_000
  const main = Stream.unwrap(Effect.sync(() => {
    const pending = new Map<string, PodWire.Pod>()
    const reported = new Set<string>()
    const scaleUps = new Map<string, number>()
    const podEvents = K8sDetector.events<V1Pod>({ name, resource: pods, namespace: options.namespace, labelSelector: options.labelSelector }).pipe(
      Stream.map((e): Input => ({ _tag: "pod", type: e.type, pod: e.object as unknown as PodWire.Pod }))
    )
    const scaleUpEvents = K8sDetector.events<CoreV1Event>({ name: `${name}.scale-up`, resource: events, namespace: options.namespace, fieldSelector: "reason=TriggeredScaleUp" }).pipe(
      Stream.filter((e) => e.type !== "delete"),
      Stream.map((e): Input => ({ _tag: "scaleUp", event: e.object }))
    )
    const ticks = Stream.tick(options.checkInterval ?? "15 seconds").pipe(Stream.map((): Input => ({ _tag: "tick" })))
    const check = (pod: PodWire.Pod, now: number) =>
      Effect.gen(function*() {
        const key = podKey(pod)
        if (reported.has(key)) return []
        const at = scaleUps.get(key) ?? scaleUps.get(`${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`)
        const autoscalerAwaited = at !== undefined && now - at <= graceMs
        // cheap checks first: only an overdue pod costs a (cached) ReplicaSet read
        const first = stateOf(pod, now, { autoscalerAwaited, surge: false }, settings)
        if (first._tag !== "Overdue") {
          if (first._tag === "NotPending") pending.delete(key)
          return []
        }
        const kube = yield* Kube
        const ns = pod.metadata.namespace ?? kube.defaultNamespace
        const rss = controllerOf(pod)?.kind === "ReplicaSet"
          ? yield* Informers.listOr(replicaSets, { namespace: ns }, kube.listReplicaSets({ namespace: ns })).pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<V1ReplicaSet>))
          : []
        const s = stateOf(pod, now, { autoscalerAwaited, surge: isSurge(pod, rss) }, settings)
        if (s._tag !== "Overdue") return []
        reported.add(key)
        pending.delete(key)
        return [yield* signal(PodSignalTypes.pending, name, pod, null, {
          pendingSince: new Date(s.since).toISOString(),
          pendingMinutes: Math.floor(s.minutes * 10) / 10,
          reason: s.reason,
          message: s.message
        })]
      }).pipe(Effect.catchCause((cause) => Effect.as(Effect.logWarning(`detector ${name}: ${String(cause)}`), [])))
    return Stream.mergeAll([podEvents, scaleUpEvents, ticks], { concurrency: "unbounded" }).pipe(
      Stream.mapEffect((input) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          switch (input._tag) {
            case "scaleUp": {
              const o = input.event.involvedObject
              if (o?.kind === "Pod" && o.name) {
                const t = input.event.lastTimestamp ?? input.event.eventTime ?? input.event.firstTimestamp
                const at = t ? new Date(t as unknown as string).getTime() : now
                scaleUps.set(o.uid ?? `${o.namespace ?? "default"}/${o.name}`, Number.isFinite(at) ? at : now)
              }
              return []
            }
            case "pod": {
              const key = podKey(input.pod)
              if (input.type === "delete") {
                pending.delete(key)
                reported.delete(key)
                scaleUps.delete(key)
                return []
              }
              if (!isUnscheduled(input.pod)) {
                pending.delete(key)
                return []
              }
              pending.set(key, input.pod)
              return yield* check(input.pod, now)
            }
            case "tick": {
              const out = []
              for (const pod of [...pending.values()]) out.push(...(yield* check(pod, now)))
              return out
            }
          }
        })
      ),
      Stream.flatMap((xs) => Stream.fromIterable(xs))
    )
  }))
  return Detector.merge(name, [
    Detector.fromStream(name, main),
    K8sDetector.holding(`${name}.cache`, [replicaSets, deployments], { namespace: options.namespace })
  ])
}
