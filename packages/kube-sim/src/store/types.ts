/**
 * The in-process contract between kube-sim's object store (owned by the API-server side)
 * and its controllers (scheduler, kubelet, deployment controller, …). Controllers never
 * speak HTTP: they read and write through this interface, which bumps the global
 * resourceVersion and notifies watchers exactly like an HTTP write would.
 *
 * Compatible additions (API-server side, documented here for the controllers side):
 * - `StoreError` (thrown by create/update/delete) with `reason` NotFound | AlreadyExists |
 *   Conflict | Invalid | Expired and the HTTP `code`.
 * - `ObjectStore.gracefulDeletion` (default false): when a kubelet controller is installed it sets
 *   this to true; then `requestDelete` of a pod bound to a node with a grace period > 0 only sets
 *   `deletionTimestamp` + `deletionGracePeriodSeconds` (MODIFIED) and the kubelet finalises it
 *   with `store.delete` once the grace period has passed on the virtual clock. When false (pure
 *   API mode) pod deletes are immediate.
 * - `ObjectStore.requestDelete(key, ns, name, { gracePeriodSeconds })`: the API-style delete
 *   (finalizers and graceful pod deletion honoured). `delete` stays the unconditional removal.
 * - The `subscribe` listener gets a third argument `info` with the event's resourceVersion and,
 *   for MODIFIED/DELETED, the previous state `oldObject`.
 * - Objects handed to `subscribe` listeners are frozen (read-only); `get`/`list` return fresh
 *   copies the caller may change and pass back to `update`.
 * - `ObjectStore.now()`: the injected clock (epoch ms) used for every timestamp the store writes.
 * - Deleting an object whose `metadata.finalizers` is non-empty only sets `deletionTimestamp`;
 *   once an update empties `finalizers` (and `deletionGracePeriodSeconds` is 0 or absent) the
 *   object is removed.
 * - `ObjectStore.garbageCollector` (default false): set by a garbage-collector installer. When true,
 *   a DELETE with `propagationPolicy=Foreground|Orphan` adds the `foregroundDeletion`/`orphan`
 *   finalizer in the same write that sets `deletionTimestamp` (the GC removes it when done);
 *   when false (no GC) those policies delete like Background.
 * - `DeleteRequestOptions.addFinalizers`: finalizers added atomically with the deletion request.
 * - Pod logs: see `./logs.ts` (`PodLogs`).
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

/** Extra facts about a store change, passed to `subscribe` listeners. */
export interface ChangeInfo {
  /** The global resourceVersion assigned to this change. */
  readonly resourceVersion: number
  /** The state before the change (MODIFIED and DELETED only). */
  readonly oldObject?: KubeObject
}

/** Options for an in-process list. */
export interface ListOptions {
  namespace?: string
  labelSelector?: string
  fieldSelector?: string
}

/** Options for `requestDelete`. */
export interface DeleteRequestOptions {
  /** Pod grace period; defaults to the pod's `spec.terminationGracePeriodSeconds` (30). */
  gracePeriodSeconds?: number
  /** Validate only: nothing is stored, no resourceVersion bump, no event. */
  dryRun?: boolean
  /** Finalizers to add in the same write as the deletion request (e.g. `foregroundDeletion`). */
  addFinalizers?: ReadonlyArray<string>
}

/** The reason of a StoreError, as it appears in the Status body. */
export type StoreErrorReason = "NotFound" | "AlreadyExists" | "Conflict" | "Invalid" | "Expired" | "BadRequest"

/** A typed error thrown by the store (mapped 1:1 to an apiserver Status by the HTTP layer). */
export class StoreError extends Error {
  /** Status reason. */
  readonly reason: StoreErrorReason
  /** HTTP status code. */
  readonly code: number
  /** The resource key involved. */
  readonly key: ResourceKey | undefined
  /** The object name involved. */
  readonly objectName: string | undefined
  constructor(reason: StoreErrorReason, message: string, key?: ResourceKey, name?: string) {
    super(message)
    this.name = "StoreError"
    this.reason = reason
    this.code = reason === "NotFound"
      ? 404
      : reason === "AlreadyExists" || reason === "Conflict"
      ? 409
      : reason === "Invalid"
      ? 422
      : reason === "Expired"
      ? 410
      : 400
    this.key = key
    this.objectName = name
  }
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
  subscribe(listener: (key: ResourceKey, event: WatchEvent, info: ChangeInfo) => void): () => void
  /** The current global resourceVersion. */
  readonly resourceVersion: number
  /** Graceful pod deletion on (kubelet installed) or off (pure API mode: immediate deletes). */
  gracefulDeletion: boolean
  /** A garbage collector is installed (Foreground/Orphan deletes then add their finalizers). */
  garbageCollector: boolean
  /**
   * The API-style delete: honours finalizers and graceful pod deletion. Returns the object as
   * it is after the request (with `deletionTimestamp` when the deletion is pending) and whether
   * it is gone. Throws a NotFound StoreError when absent.
   */
  requestDelete(key: ResourceKey, namespace: string | undefined, name: string, options?: DeleteRequestOptions): { object: KubeObject; deleted: boolean }
  /** The injected clock (epoch ms). */
  now(): number
}
