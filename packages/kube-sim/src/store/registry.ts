/**
 * The resource registry: one entry per group/version/resource. Discovery documents, routing,
 * field-selector validation, defaulting and the strategic-merge-patch key table are all derived
 * from it, so adding a kind is one `define(...)` line.
 */
import type { KubeObject, ResourceKey } from "./types"

/** The description of one served resource. */
export interface ResourceType {
  readonly group: string
  readonly version: string
  /** Plural resource name, e.g. `pods`. */
  readonly resource: string
  readonly singular: string
  readonly kind: string
  readonly listKind: string
  readonly namespaced: boolean
  readonly shortNames: ReadonlyArray<string>
  /** Subresources served, e.g. `status`, `scale`, `log`, `eviction`. */
  readonly subresources: ReadonlyArray<string>
  /** Field-selector labels accepted besides metadata.name / metadata.namespace. */
  readonly selectableFields: ReadonlyArray<string>
  /** Whether writes to the main resource ignore `status` (true when a status subresource exists). */
  readonly hasStatus: boolean
  /** Categories (e.g. `all`) used by `kubectl get all`. */
  readonly categories: ReadonlyArray<string>
  /** Whether `metadata.generation` is tracked (bumped on spec changes). */
  readonly tracksGeneration: boolean
  /** A CRD's `additionalPrinterColumns` (custom resources only). */
  readonly printerColumns?: ReadonlyArray<{ readonly name: string; readonly type: string; readonly jsonPath: string; readonly priority?: number }>
  /** Served from a CustomResourceDefinition (not built in). */
  readonly custom?: boolean
  /** A custom type served from another version's storage (conversion strategy None). */
  readonly storageVersion?: string
}

/** `group/version` (or `version` for the core group). */
export const groupVersion = (key: { group: string; version: string }): string =>
  key.group === "" ? key.version : `${key.group}/${key.version}`

/** A stable string for a ResourceKey. */
export const keyString = (key: ResourceKey): string => `${key.group}/${key.version}/${key.resource}`

/** `pods` or `deployments.apps`, as used in Status messages. */
export const qualifiedResource = (key: ResourceKey): string =>
  key.group === "" ? key.resource : `${key.resource}.${key.group}`

interface Def {
  gv: string
  resource: string
  kind: string
  namespaced?: boolean
  short?: Array<string>
  sub?: Array<string>
  fields?: Array<string>
  categories?: Array<string>
  generation?: boolean
}

const define = (d: Def): ResourceType => {
  const [group, version] = d.gv.includes("/") ? (d.gv.split("/") as [string, string]) : ["", d.gv]
  const sub = d.sub ?? []
  return {
    group,
    version,
    resource: d.resource,
    singular: d.kind.toLowerCase(),
    kind: d.kind,
    listKind: `${d.kind}List`,
    namespaced: d.namespaced ?? true,
    shortNames: d.short ?? [],
    subresources: sub,
    selectableFields: d.fields ?? [],
    hasStatus: sub.includes("status"),
    categories: d.categories ?? [],
    tracksGeneration: d.generation ?? false
  }
}

const POD_FIELDS = [
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.schedulerName",
  "spec.serviceAccountName",
  "spec.hostNetwork",
  "status.phase",
  "status.podIP",
  "status.nominatedNodeName"
]
const CORE_EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type"
]
const NEW_EVENT_FIELDS = [
  "regarding.kind",
  "regarding.namespace",
  "regarding.name",
  "regarding.uid",
  "regarding.apiVersion",
  "regarding.resourceVersion",
  "regarding.fieldPath",
  "reason",
  "reportingController",
  "type"
]

/** Every resource kube-sim serves. */
export const RESOURCES: ReadonlyArray<ResourceType> = [
  define({ gv: "v1", resource: "namespaces", kind: "Namespace", namespaced: false, short: ["ns"], sub: ["status"], fields: ["status.phase"] }),
  define({ gv: "v1", resource: "pods", kind: "Pod", short: ["po"], sub: ["status", "log", "eviction"], fields: POD_FIELDS, categories: ["all"] }),
  define({ gv: "v1", resource: "nodes", kind: "Node", namespaced: false, short: ["no"], sub: ["status"], fields: ["spec.unschedulable"] }),
  define({ gv: "v1", resource: "events", kind: "Event", short: ["ev"], fields: CORE_EVENT_FIELDS }),
  define({ gv: "v1", resource: "services", kind: "Service", short: ["svc"], sub: ["status"], categories: ["all"], fields: ["spec.clusterIP", "spec.type"] }),
  define({ gv: "v1", resource: "configmaps", kind: "ConfigMap", short: ["cm"] }),
  define({ gv: "v1", resource: "secrets", kind: "Secret", fields: ["type"] }),
  define({ gv: "v1", resource: "persistentvolumeclaims", kind: "PersistentVolumeClaim", short: ["pvc"], sub: ["status"] }),
  define({ gv: "v1", resource: "persistentvolumes", kind: "PersistentVolume", namespaced: false, short: ["pv"], sub: ["status"] }),
  define({ gv: "v1", resource: "serviceaccounts", kind: "ServiceAccount", short: ["sa"] }),
  define({ gv: "v1", resource: "endpoints", kind: "Endpoints", short: ["ep"] }),
  define({ gv: "apps/v1", resource: "deployments", kind: "Deployment", short: ["deploy"], sub: ["status", "scale"], categories: ["all"], generation: true }),
  define({ gv: "apps/v1", resource: "replicasets", kind: "ReplicaSet", short: ["rs"], sub: ["status", "scale"], categories: ["all"], generation: true }),
  define({ gv: "apps/v1", resource: "statefulsets", kind: "StatefulSet", short: ["sts"], sub: ["status", "scale"], categories: ["all"], generation: true }),
  define({ gv: "apps/v1", resource: "daemonsets", kind: "DaemonSet", short: ["ds"], sub: ["status"], categories: ["all"], generation: true }),
  define({ gv: "apps/v1", resource: "controllerrevisions", kind: "ControllerRevision" }),
  define({ gv: "policy/v1", resource: "poddisruptionbudgets", kind: "PodDisruptionBudget", short: ["pdb"], sub: ["status"], generation: true }),
  define({ gv: "autoscaling/v2", resource: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", short: ["hpa"], sub: ["status"], categories: ["all"], generation: true }),
  define({ gv: "coordination.k8s.io/v1", resource: "leases", kind: "Lease" }),
  define({ gv: "events.k8s.io/v1", resource: "events", kind: "Event", short: ["ev"], fields: NEW_EVENT_FIELDS }),
  define({ gv: "batch/v1", resource: "jobs", kind: "Job", sub: ["status"], categories: ["all"], generation: true }),
  define({ gv: "batch/v1", resource: "cronjobs", kind: "CronJob", short: ["cj"], sub: ["status"], categories: ["all"], generation: true }),
  define({ gv: "discovery.k8s.io/v1", resource: "endpointslices", kind: "EndpointSlice", fields: ["addressType"] }),
  define({ gv: "networking.k8s.io/v1", resource: "ingresses", kind: "Ingress", short: ["ing"], sub: ["status"], generation: true }),
  define({ gv: "networking.k8s.io/v1", resource: "ingressclasses", kind: "IngressClass", namespaced: false, generation: true }),
  define({ gv: "apiextensions.k8s.io/v1", resource: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false, short: ["crd", "crds"], sub: ["status"], categories: ["api-extensions"], generation: true }),
  define({ gv: "rbac.authorization.k8s.io/v1", resource: "roles", kind: "Role" }),
  define({ gv: "rbac.authorization.k8s.io/v1", resource: "rolebindings", kind: "RoleBinding" }),
  define({ gv: "rbac.authorization.k8s.io/v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false }),
  define({ gv: "rbac.authorization.k8s.io/v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false })
]

const byKey = new Map<string, ResourceType>(RESOURCES.map((r) => [keyString(r), r]))

/** Looks up a built-in resource type. */
export const lookup = (key: ResourceKey): ResourceType | undefined => byKey.get(keyString(key))

/** The built-in resource type of a group/version and kind. */
export const byKind = (apiVersion: string, kind: string): ResourceType | undefined =>
  RESOURCES.find((r) => groupVersion(r) === apiVersion && r.kind === kind)

const gvsOf = (types: ReadonlyArray<ResourceType>): Array<{ group: string; version: string }> => {
  const seen = new Set<string>()
  const out: Array<{ group: string; version: string }> = []
  for (const r of types) {
    const gv = groupVersion(r)
    if (!seen.has(gv)) {
      seen.add(gv)
      out.push({ group: r.group, version: r.version })
    }
  }
  return out
}

/** All built-in group versions, core first. */
export const groupVersions = (): Array<{ group: string; version: string }> => gvsOf(RESOURCES)

/**
 * The resource types one simulator serves: the built-in list plus the custom resources its
 * CustomResourceDefinitions define (each store has its own, so simulators in one process do not
 * see each other's CRDs). Custom types keep their CRD's version order (the preferred version first).
 */
export class TypeRegistry {
  private readonly custom = new Map<string, ResourceType>()
  private cache: ReadonlyArray<ResourceType> | undefined

  /** Every served type, built-ins first. */
  all(): ReadonlyArray<ResourceType> {
    if (this.custom.size === 0) return RESOURCES
    return (this.cache ??= [...RESOURCES, ...this.custom.values()])
  }

  /** The type of a key (built-in or custom). */
  lookup(key: ResourceKey): ResourceType | undefined {
    return byKey.get(keyString(key)) ?? this.custom.get(keyString(key))
  }

  /** The type served at group/version/resource. */
  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.lookup({ group, version, resource })
  }

  /** The type of a group/version and kind. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.all().find((r) => groupVersion(r) === apiVersion && r.kind === kind)
  }

  /** Served group versions, core first. */
  groupVersions(): Array<{ group: string; version: string }> {
    return gvsOf(this.all())
  }

  /** Serve a custom type (replacing one at the same key). Built-in keys cannot be replaced. */
  add(type: ResourceType): void {
    if (byKey.has(keyString(type))) return
    this.custom.set(keyString(type), { ...type, custom: true })
    this.cache = undefined
  }

  /** Stop serving a custom type. */
  remove(key: ResourceKey): void {
    if (this.custom.delete(keyString(key))) this.cache = undefined
  }

  /** The custom types currently served. */
  customTypes(): ReadonlyArray<ResourceType> {
    return [...this.custom.values()]
  }
}

/** The built-in types only (what a store without CRDs serves). */
export const BUILTIN_TYPES = new TypeRegistry()

/** Shorthand ResourceKeys for the common kinds (controllers use these). */
export const Keys = {
  namespaces: { group: "", version: "v1", resource: "namespaces" },
  pods: { group: "", version: "v1", resource: "pods" },
  nodes: { group: "", version: "v1", resource: "nodes" },
  events: { group: "", version: "v1", resource: "events" },
  services: { group: "", version: "v1", resource: "services" },
  endpoints: { group: "", version: "v1", resource: "endpoints" },
  configmaps: { group: "", version: "v1", resource: "configmaps" },
  secrets: { group: "", version: "v1", resource: "secrets" },
  persistentvolumeclaims: { group: "", version: "v1", resource: "persistentvolumeclaims" },
  persistentvolumes: { group: "", version: "v1", resource: "persistentvolumes" },
  deployments: { group: "apps", version: "v1", resource: "deployments" },
  replicasets: { group: "apps", version: "v1", resource: "replicasets" },
  statefulsets: { group: "apps", version: "v1", resource: "statefulsets" },
  daemonsets: { group: "apps", version: "v1", resource: "daemonsets" },
  controllerrevisions: { group: "apps", version: "v1", resource: "controllerrevisions" },
  poddisruptionbudgets: { group: "policy", version: "v1", resource: "poddisruptionbudgets" },
  horizontalpodautoscalers: { group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers" },
  leases: { group: "coordination.k8s.io", version: "v1", resource: "leases" },
  eventsV1: { group: "events.k8s.io", version: "v1", resource: "events" },
  serviceaccounts: { group: "", version: "v1", resource: "serviceaccounts" },
  endpointslices: { group: "discovery.k8s.io", version: "v1", resource: "endpointslices" },
  ingresses: { group: "networking.k8s.io", version: "v1", resource: "ingresses" },
  ingressclasses: { group: "networking.k8s.io", version: "v1", resource: "ingressclasses" },
  customresourcedefinitions: { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" },
  roles: { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles" },
  rolebindings: { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings" },
  clusterroles: { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles" },
  clusterrolebindings: { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings" }
} as const satisfies Record<string, ResourceKey>

/** Whether an object's `spec` (or template) changed in a way that bumps generation. */
export const specOf = (obj: KubeObject): unknown => obj["spec"]
