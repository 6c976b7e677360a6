/**
 * Watchable resources for informers: the watch path, the list call and the client-node model
 * used to turn listed objects back into wire JSON, so that objects from the initial list and
 * objects from the watch have exactly the same shape (string timestamps, wire field names).
 *
 * @since 0.1.0
 */
import type {
  CoreV1Event,
  KubernetesListObject,
  KubernetesObject,
  V1DaemonSet,
  V1Deployment,
  V1Lease,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1StatefulSet,
  V2HorizontalPodAutoscaler
} from "@kubernetes/client-node"
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js"
import type { ReadApis } from "../Kube"

/** What an informer needs to list and watch one resource. */
export interface Resource<T extends KubernetesObject> {
  /** The kind, for logs (`Pod`, `Event` …). */
  readonly kind: string
  /** The client-node model name (`V1Pod`, `CoreV1Event` …) used to serialize listed objects back to wire JSON. */
  readonly model: string
  /** The collection path, namespaced when `namespace` is given (`/api/v1/namespaces/shop/pods`, `/api/v1/pods`). */
  readonly path: (namespace: string | undefined) => string
  /** One list call (the informer's initial list and its relists). */
  readonly list: (
    apis: ReadApis,
    options: { readonly namespace: string | undefined; readonly labelSelector: string | undefined; readonly fieldSelector: string | undefined }
  ) => Promise<KubernetesListObject<T>>
}

const sel = (o: { readonly labelSelector: string | undefined; readonly fieldSelector: string | undefined }) => ({
  ...(o.labelSelector !== undefined ? { labelSelector: o.labelSelector } : {}),
  ...(o.fieldSelector !== undefined ? { fieldSelector: o.fieldSelector } : {})
})

const collection = (prefix: string, plural: string, namespaced = true) => (namespace: string | undefined) =>
  namespaced && namespace !== undefined ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${prefix}/${plural}`

/** Converts a typed client-node object (Dates, renamed fields) to wire JSON, like objects from a watch. */
export const toWire = <T extends KubernetesObject>(resource: Resource<T>, obj: T): T => ObjectSerializer.serialize(obj, resource.model, "") as T

/** Pods (core/v1). */
export const pods: Resource<V1Pod> = {
  kind: "Pod",
  model: "V1Pod",
  path: collection("/api/v1", "pods"),
  list: (apis, o) => (o.namespace !== undefined ? apis.core.listNamespacedPod({ namespace: o.namespace, ...sel(o) }) : apis.core.listPodForAllNamespaces(sel(o)))
}

/** Events (core/v1), e.g. `fieldSelector: "reason=OOMKilling"`. */
export const events: Resource<CoreV1Event> = {
  kind: "Event",
  model: "CoreV1Event",
  path: collection("/api/v1", "events"),
  list: (apis, o) => (o.namespace !== undefined ? apis.core.listNamespacedEvent({ namespace: o.namespace, ...sel(o) }) : apis.core.listEventForAllNamespaces(sel(o)))
}

/** Nodes (core/v1, cluster-scoped). */
export const nodes: Resource<V1Node> = {
  kind: "Node",
  model: "V1Node",
  path: collection("/api/v1", "nodes", false),
  list: (apis, o) => apis.core.listNode(sel(o))
}

/** Deployments (apps/v1). */
export const deployments: Resource<V1Deployment> = {
  kind: "Deployment",
  model: "V1Deployment",
  path: collection("/apis/apps/v1", "deployments"),
  list: (apis, o) => (o.namespace !== undefined ? apis.apps.listNamespacedDeployment({ namespace: o.namespace, ...sel(o) }) : apis.apps.listDeploymentForAllNamespaces(sel(o)))
}

/** ReplicaSets (apps/v1). */
export const replicaSets: Resource<V1ReplicaSet> = {
  kind: "ReplicaSet",
  model: "V1ReplicaSet",
  path: collection("/apis/apps/v1", "replicasets"),
  list: (apis, o) => (o.namespace !== undefined ? apis.apps.listNamespacedReplicaSet({ namespace: o.namespace, ...sel(o) }) : apis.apps.listReplicaSetForAllNamespaces(sel(o)))
}

/** StatefulSets (apps/v1). */
export const statefulSets: Resource<V1StatefulSet> = {
  kind: "StatefulSet",
  model: "V1StatefulSet",
  path: collection("/apis/apps/v1", "statefulsets"),
  list: (apis, o) => (o.namespace !== undefined ? apis.apps.listNamespacedStatefulSet({ namespace: o.namespace, ...sel(o) }) : apis.apps.listStatefulSetForAllNamespaces(sel(o)))
}

/** DaemonSets (apps/v1). */
export const daemonSets: Resource<V1DaemonSet> = {
  kind: "DaemonSet",
  model: "V1DaemonSet",
  path: collection("/apis/apps/v1", "daemonsets"),
  list: (apis, o) => (o.namespace !== undefined ? apis.apps.listNamespacedDaemonSet({ namespace: o.namespace, ...sel(o) }) : apis.apps.listDaemonSetForAllNamespaces(sel(o)))
}

/** HorizontalPodAutoscalers (autoscaling/v2). */
export const hpas: Resource<V2HorizontalPodAutoscaler> = {
  kind: "HorizontalPodAutoscaler",
  model: "V2HorizontalPodAutoscaler",
  path: collection("/apis/autoscaling/v2", "horizontalpodautoscalers"),
  list: (apis, o) =>
    o.namespace !== undefined
      ? apis.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: o.namespace, ...sel(o) })
      : apis.autoscaling.listHorizontalPodAutoscalerForAllNamespaces(sel(o))
}

/** PodDisruptionBudgets (policy/v1). */
export const pdbs: Resource<V1PodDisruptionBudget> = {
  kind: "PodDisruptionBudget",
  model: "V1PodDisruptionBudget",
  path: collection("/apis/policy/v1", "poddisruptionbudgets"),
  list: (apis, o) =>
    o.namespace !== undefined ? apis.policy.listNamespacedPodDisruptionBudget({ namespace: o.namespace, ...sel(o) }) : apis.policy.listPodDisruptionBudgetForAllNamespaces(sel(o))
}

/** Leases (coordination.k8s.io/v1). */
export const leases: Resource<V1Lease> = {
  kind: "Lease",
  model: "V1Lease",
  path: collection("/apis/coordination.k8s.io/v1", "leases"),
  list: (apis, o) => (o.namespace !== undefined ? apis.coordination.listNamespacedLease({ namespace: o.namespace, ...sel(o) }) : apis.coordination.listLeaseForAllNamespaces(sel(o)))
}
