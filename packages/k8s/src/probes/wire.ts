/**
 * Schemas of the wire JSON BytePort reads for k8s.oom.six-signal, exactly as `kubectl get -o json`,
 * informers and the API return it (only the fields read are declared; others pass through).
 * Decoding a malformed object fails with a SchemaError naming the bad field's path.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const Str = Schema.String
const opt = Schema.optionalKey
/** A field kubectl may print as `null` (timestamps of evicted or never-started containers). */
const nullable = <S extends Schema.Top>(s: S) => Schema.optionalKey(Schema.NullOr(s))

/** `metadata` (the fields read). */
export const ObjectMeta = Schema.Struct({
  name: Str,
  namespace: opt(Str),
  uid: opt(Str),
  resourceVersion: opt(Str),
  creationTimestamp: nullable(Str),
  labels: opt(Schema.Record(Str, Str)),
  annotations: opt(Schema.Record(Str, Str)),
  ownerReferences: opt(Schema.Array(Schema.Struct({ kind: Str, name: Str, controller: opt(Schema.Boolean) })))
})

/** A container's env entry (`valueFrom` entries carry no literal value). */
export const EnvVar = Schema.Struct({ name: Str, value: opt(Str), valueFrom: opt(Schema.Unknown) })

/** `resources.limits` / `resources.requests` (quantities as strings). */
export const ResourceList = Schema.Record(Str, Schema.Union([Str, Schema.Number]))

/** A container of a pod spec. */
export const Container = Schema.Struct({
  name: Str,
  image: opt(Str),
  env: opt(Schema.Array(EnvVar)),
  resources: opt(Schema.Struct({ limits: opt(ResourceList), requests: opt(ResourceList) })),
  /** `Always` on an init container makes it a native sidecar (Kubernetes ≥ 1.29). */
  restartPolicy: opt(Str)
})

/** A terminated container state. */
export const Terminated = Schema.Struct({
  reason: opt(Str),
  message: nullable(Str),
  exitCode: opt(Schema.Number),
  finishedAt: nullable(Str),
  startedAt: nullable(Str)
})

/** A container state. */
export const ContainerState = Schema.Struct({
  terminated: opt(Terminated),
  running: opt(Schema.Struct({ startedAt: nullable(Str) })),
  waiting: opt(Schema.Struct({ reason: opt(Str), message: nullable(Str) }))
})

/** A container status. */
export const ContainerStatus = Schema.Struct({
  name: Str,
  restartCount: Schema.Number,
  ready: Schema.Boolean,
  state: opt(ContainerState),
  lastState: opt(ContainerState)
})

/** A Pod (core/v1). */
export const Pod = Schema.Struct({
  metadata: ObjectMeta,
  spec: Schema.Struct({ nodeName: opt(Str), containers: Schema.Array(Container), initContainers: opt(Schema.Array(Container)) }),
  status: opt(Schema.Struct({
    phase: opt(Str),
    /** `Evicted` for a pod the kubelet evicted under node pressure. */
    reason: opt(Str),
    qosClass: opt(Str),
    containerStatuses: opt(Schema.Array(ContainerStatus)),
    initContainerStatuses: opt(Schema.Array(ContainerStatus)),
    conditions: opt(Schema.Array(Schema.Struct({ type: Str, status: Str })))
  }))
})

/** A Pod. */
export type Pod = typeof Pod.Type

/** A Node (core/v1). */
export const Node = Schema.Struct({
  metadata: ObjectMeta,
  spec: opt(Schema.Struct({ unschedulable: opt(Schema.Boolean) })),
  status: opt(Schema.Struct({
    allocatable: opt(ResourceList),
    capacity: opt(ResourceList),
    conditions: opt(Schema.Array(Schema.Struct({ type: Str, status: Str, lastTransitionTime: nullable(Str), reason: opt(Str) })))
  }))
})

/** A Node. */
export type Node = typeof Node.Type

/** A HorizontalPodAutoscaler (autoscaling/v2). */
export const Hpa = Schema.Struct({
  metadata: ObjectMeta,
  spec: Schema.Struct({
    scaleTargetRef: Schema.Struct({ kind: Str, name: Str, apiVersion: opt(Str) }),
    minReplicas: opt(Schema.Number),
    maxReplicas: Schema.Number
  }),
  status: opt(Schema.Struct({ currentReplicas: opt(Schema.Number), desiredReplicas: opt(Schema.Number) }))
})

/** A HorizontalPodAutoscaler. */
export type Hpa = typeof Hpa.Type

/** A Deployment or StatefulSet (the fields read). */
export const Workload = Schema.Struct({
  kind: opt(Str),
  metadata: ObjectMeta,
  spec: opt(Schema.Struct({ replicas: opt(Schema.Number) })),
  status: opt(Schema.Struct({ readyReplicas: opt(Schema.Number), replicas: opt(Schema.Number), updatedReplicas: opt(Schema.Number) }))
})

/** A Deployment or StatefulSet. */
export type Workload = typeof Workload.Type

/** A ReplicaSet (its revision annotation and creation time). */
export const ReplicaSet = Schema.Struct({ metadata: ObjectMeta })

/** A ReplicaSet. */
export type ReplicaSet = typeof ReplicaSet.Type

/** A list (`kubectl get … -o json` of several objects). */
export const List = <S extends Schema.Top>(item: S) => Schema.Struct({ items: Schema.Array(item) })

/** metrics.k8s.io/v1beta1 PodMetrics. */
export const PodMetrics = Schema.Struct({
  metadata: Schema.Struct({ name: Str, namespace: opt(Str) }),
  timestamp: nullable(Str),
  window: opt(Str),
  containers: Schema.Array(Schema.Struct({ name: Str, usage: Schema.Struct({ memory: opt(Str), cpu: opt(Str) }) }))
})

/** PodMetrics. */
export type PodMetrics = typeof PodMetrics.Type

/** The pod fields that tell a native sidecar from an init container. */
export interface SidecarSpec {
  readonly spec: { readonly initContainers?: ReadonlyArray<{ readonly name: string; readonly restartPolicy?: string | undefined }> | undefined }
}

/**
 * Whether init container `name` is a native sidecar: an init container with `restartPolicy:
 * Always`, which the kubelet keeps running (and restarts in place) beside the main containers.
 */
export const isSidecar = (pod: SidecarSpec, name: string): boolean =>
  (pod.spec.initContainers ?? []).some((c) => c.name === name && c.restartPolicy === "Always")

/**
 * The statuses of a pod's long-running containers: its main containers, then its native
 * sidecars. Crash loops, restarts and OOM kills are read from these; run-to-completion init
 * containers are left to the init-failure rules.
 */
export const runningStatuses = <S extends { readonly name: string }>(
  pod: SidecarSpec & { readonly status?: { readonly containerStatuses?: ReadonlyArray<S> | undefined; readonly initContainerStatuses?: ReadonlyArray<S> | undefined } | undefined }
): ReadonlyArray<S> => [
  ...(pod.status?.containerStatuses ?? []),
  ...(pod.status?.initContainerStatuses ?? []).filter((s) => isSidecar(pod, s.name))
]
