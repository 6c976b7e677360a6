/**
 * The signal types of the pod-family detectors (crash loops, restart loops, image pulls, config
 * errors, init failures, evictions, long Pending) and their evidence schemas. Every signal targets
 * the pod's workload (`k8s.workload`, narrowed to the container where one is at fault), so ten
 * crash-looping replicas of one Deployment are one incident; the pod, node and the kubelet's
 * reason go into the evidence. `decodeEvidence(type, evidence)` checks a signal's evidence
 * against its schema (runbooks and tests use it; a bad field is named).
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Detector, type Signal } from "@byteport/core"
import { Clock, Effect, Schema, Stream } from "effect"
import * as K8sDetector from "../informers/K8sDetector"
import { pods } from "../informers/Resource"
import type { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import type { InvalidTargetRef } from "../targets/Targets"
import { workloadRefOf } from "../targets/resolve"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"

/** The signal types. */
export const PodSignalTypes = {
  /** A container (or init container) waits in CrashLoopBackOff. */
  crashLoopBackOff: "k8s.pod.crash_loop_back_off",
  /** A container restarted at least `restarts` times within `windowMinutes` (default 3 in 10). */
  restartLoop: "k8s.pod.restart_loop",
  /** A container waits in ErrImagePull, ImagePullBackOff, InvalidImageName or ErrImageNeverPull. */
  imagePull: "k8s.pod.image_pull_failed",
  /** A container waits in CreateContainerConfigError (a missing ConfigMap, Secret or key). */
  configError: "k8s.pod.create_container_config_error",
  /** An init container failed (`Init:Error`, `Init:CrashLoopBackOff`, `Init:ErrImagePull` …). */
  initFailure: "k8s.pod.init_failed",
  /** The kubelet evicted the pod (phase Failed, reason Evicted). */
  evicted: "k8s.pod.evicted",
  /** An unscheduled pod has been Pending longer than `pendingMinutes` (default 5). */
  pending: "k8s.pod.pending_too_long"
} as const

/** A pod-family signal type. */
export type PodSignalType = typeof PodSignalTypes[keyof typeof PodSignalTypes]

const Str = Schema.String
const NStr = Schema.NullOr(Schema.String)
const NNum = Schema.NullOr(Schema.Number)

/** The evidence every pod signal carries. */
export const BaseEvidence = Schema.Struct({ namespace: Str, pod: Str, container: NStr, node: NStr })

/** The evidence schema of each signal type. */
export const Evidence = {
  [PodSignalTypes.crashLoopBackOff]: BaseEvidence.mapFields((f) => ({
    ...f, init: Schema.Boolean, restartCount: Schema.Number, message: NStr, lastReason: NStr, lastExitCode: NNum, lastFinishedAt: NStr
  })),
  [PodSignalTypes.restartLoop]: BaseEvidence.mapFields((f) => ({
    ...f, restarts: Schema.Number, windowMinutes: Schema.Number, restartCount: Schema.Number, lastReason: NStr, lastExitCode: NNum
  })),
  [PodSignalTypes.imagePull]: BaseEvidence.mapFields((f) => ({ ...f, init: Schema.Boolean, reason: Str, message: NStr, image: NStr })),
  [PodSignalTypes.configError]: BaseEvidence.mapFields((f) => ({ ...f, init: Schema.Boolean, reason: Str, message: NStr })),
  [PodSignalTypes.initFailure]: BaseEvidence.mapFields((f) => ({ ...f, status: Str, reason: NStr, exitCode: NNum, restartCount: Schema.Number, message: NStr })),
  [PodSignalTypes.evicted]: BaseEvidence.mapFields((f) => ({ ...f, reason: Str, message: NStr })),
  [PodSignalTypes.pending]: BaseEvidence.mapFields((f) => ({ ...f, pendingSince: Str, pendingMinutes: Schema.Number, reason: NStr, message: NStr }))
} as const

/** The evidence of a signal type. */
export type EvidenceOf<T extends PodSignalType> = typeof Evidence[T]["Type"]

/** Checks a signal's evidence against its type's schema (fails naming the bad field). */
export const decodeEvidence = <T extends PodSignalType>(type: T, evidence: unknown): Effect.Effect<EvidenceOf<T>, Schema.SchemaError> =>
  Schema.decodeUnknownEffect(Evidence[type] as unknown as Schema.Codec<EvidenceOf<T>, unknown>)(evidence)

type Flat = Record<string, string | number | boolean | null>

/**
 * A pod-family signal: the target is the pod's workload, narrowed to `container` when given
 * (a container at fault); `null` targets the whole workload (an evicted or Pending pod).
 */
export const make = <T extends PodSignalType>(
  type: T,
  source: string,
  pod: PodWire.Pod,
  container: string | null,
  evidence: Omit<EvidenceOf<T>, "namespace" | "pod" | "container" | "node">
): Effect.Effect<Signal.Signal, KubeError | InvalidTargetRef, Kube> =>
  Effect.gen(function*() {
    const target = yield* workloadRefOf(pod, container === null ? {} : { container })
    const observedAt = yield* Clock.currentTimeMillis
    const base: Flat = { namespace: pod.metadata.namespace ?? "default", pod: pod.metadata.name, container, node: pod.spec.nodeName ?? null }
    return { type, target, observedAt, source, evidence: { ...base, ...(evidence as Flat) } }
  })

/**
 * All statuses of a pod, init containers first, each with whether it is a run-to-completion init
 * container (a native sidecar, `restartPolicy: Always`, is long-running: `init` false).
 */
export const statusesOf = (pod: PodWire.Pod): ReadonlyArray<{ readonly init: boolean; readonly status: PodWire.ContainerStatus }> => [
  ...(pod.status?.initContainerStatuses ?? []).map((status) => ({ init: !Wire.isSidecar(pod, status.name), status })),
  ...(pod.status?.containerStatuses ?? []).map((status) => ({ init: false, status }))
]

/** The metadata a pod key is made of. */
export interface PodIdentity {
  readonly metadata: { readonly uid?: string | undefined; readonly namespace?: string | undefined; readonly name: string }
}

/** The key of a pod (its uid, else namespace/name). */
export const podKey = (pod: PodIdentity): string => pod.metadata.uid ?? `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`

/** Drops every entry of `seen` that belongs to a pod (the pod key itself, or keys starting with it and `/`). */
export const forget = (seen: Set<string> | Map<string, unknown>, pod: PodIdentity): void => {
  const key = podKey(pod)
  const prefix = `${key}/`
  for (const k of [...seen.keys()]) if (k === key || k.startsWith(prefix)) seen.delete(k)
}

/**
 * Whether a finding of an informer event is history rather than a signal: an `add` (the
 * informer's initial list, or a pod first seen) whose finding happened at `at` (epoch ms) more
 * than `maxAgeMs` before `now`. An unknown time (NaN) is never stale.
 */
export const isStale = (eventType: string, at: number, now: number, maxAgeMs: number): boolean =>
  eventType === "add" && Number.isFinite(at) && now - at > maxAgeMs

/**
 * A detector on the shared pod watch with per-pod state: `state()` is made once per running
 * detector; a deleted pod's entries are dropped (`forget`: the pod key and keys under it) and
 * every other event goes to `onPod(pod, eventType, state)`.
 */
export const podStateDetector = <S extends Set<string> | Map<string, unknown>, P extends PodIdentity, R = never>(
  name: string,
  options: PodDetectorOptions,
  state: () => S,
  onPod: (pod: P, eventType: "add" | "update", state: S) => Effect.Effect<ReadonlyArray<Signal.Signal>, unknown, Kube | R> | ReadonlyArray<Signal.Signal>
): Detector.Detector<never, Kube | R> =>
  Detector.fromStream(name, Stream.unwrap(Effect.sync(() => {
    const s = state()
    return K8sDetector.signals<V1Pod, Kube | R>({
      name,
      resource: pods,
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      toSignals: (event) => {
        const pod = event.object as unknown as P
        if (event.type === "delete") {
          forget(s, pod)
          return []
        }
        return onPod(pod, event.type, s)
      }
    })
  })))

/** A waiting container a detector reports: its pod, status, whether it is an init container. */
export interface Waiting {
  readonly init: boolean
  readonly status: PodWire.ContainerStatus
  readonly reason: string
  readonly message: string | null
}

/**
 * The containers of a pod waiting with one of `reasons` (init containers only when `init` is
 * true, main containers only when false, both when undefined).
 */
export const waitingIn = (pod: PodWire.Pod, reasons: ReadonlySet<string>, init?: boolean): ReadonlyArray<Waiting> =>
  statusesOf(pod).flatMap(({ init: isInit, status }) => {
    const w = status.state?.waiting
    if (init !== undefined && init !== isInit) return []
    return w?.reason !== undefined && reasons.has(w.reason) ? [{ init: isInit, status, reason: w.reason, message: w.message ?? null }] : []
  })

/**
 * Episodes: a condition reported once until it clears. `enter(key)` is true the first time a key
 * is seen active; `clear(key)` re-arms it. Per-pod keys are dropped when the pod is deleted.
 */
export class Episodes {
  /** `active`: the keys of the active episodes (a detector's per-pod state; a new set by default). */
  constructor(private readonly active: Set<string> = new Set<string>()) {}
  /** True when `key` was not active (report it); marks it active. */
  enter(key: string): boolean {
    if (this.active.has(key)) return false
    this.active.add(key)
    return true
  }
  /** Re-arms `key`. */
  clear(key: string): void {
    this.active.delete(key)
  }
  /** Whether `key` is active. */
  has(key: string): boolean {
    return this.active.has(key)
  }
  /** Drops every key of a pod. */
  forgetPod(pod: PodWire.Pod): void {
    forget(this.active, pod)
  }
}

/** The options every pod episode detector takes. */
export interface PodDetectorOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (each detector has its default). */
  readonly name?: string | undefined
}

/**
 * A pod detector on the shared watch that reports episodes: `scan(pod, episodes)` returns what a
 * pod event newly shows (it updates `episodes`), `toSignal` turns each finding into a signal; a
 * deleted pod's episodes are dropped. One `Episodes` per running detector.
 */
export const episodeDetector = <A>(
  defaultName: string,
  options: PodDetectorOptions,
  scan: (pod: PodWire.Pod, episodes: Episodes) => ReadonlyArray<A>,
  toSignal: (name: string, pod: PodWire.Pod, finding: A) => Effect.Effect<Signal.Signal, KubeError | InvalidTargetRef, Kube>
): Detector.Detector<never, Kube> => {
  const name = options.name ?? defaultName
  return podStateDetector(name, options, () => new Set<string>(), (pod: PodWire.Pod, _type, active) =>
    Effect.forEach(scan(pod, new Episodes(active)), (finding) => toSignal(name, pod, finding)))
}
