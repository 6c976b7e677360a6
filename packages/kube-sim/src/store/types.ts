/**
 * The in-process contract between kube-sim's object store (owned by the API-server side)
 * and its controllers (scheduler, kubelet, deployment controller, …). Controllers never
 * speak HTTP: they read and write through this interface, which bumps the global
 * resourceVersion and notifies watchers exactly like an HTTP write would.
 */

/** A Kubernetes object as plain JSON (apiVersion, kind, metadata, spec, status …). */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  [key: string]: unknown
}

/** The subset of ObjectMeta the simulator manages itself. */
export interface ObjectMeta {
  name: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: Array<OwnerReference>
  finalizers?: Array<string>
  generateName?: string
  [key: string]: unknown
}

/** An ownerReference as the API serves it. */
export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

/** Identifies a resource type: group ("" for core), version and plural resource name. */
export interface ResourceKey {
  group: string
  version: string
  resource: string
}

/** A watch event as it goes on the wire. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR"
  object: KubeObject
}

/** Options for an in-process list. */
export interface ListOptions {
  namespace?: string
  labelSelector?: string
  fieldSelector?: string
}

/**
 * The object store. Every mutation assigns the next global resourceVersion and is fanned
 * out to watchers. `update` with a resourceVersion set on the object is conditional
 * (throws a Conflict StoreError when stale).
 */
export interface ObjectStore {
  get(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined
  list(key: ResourceKey, options?: ListOptions): Array<KubeObject>
  create(key: ResourceKey, obj: KubeObject): KubeObject
  update(key: ResourceKey, obj: KubeObject): KubeObject
  /** Read-modify-write without a precondition (controllers use it for status). */
  mutate(key: ResourceKey, namespace: string | undefined, name: string, f: (obj: KubeObject) => void): KubeObject | undefined
  delete(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined
  /** Subscribe to all changes of every resource (controllers); returns an unsubscribe. */
  subscribe(listener: (key: ResourceKey, event: WatchEvent) => void): () => void
  /** The current global resourceVersion. */
  readonly resourceVersion: number
}
