/**
 * Shared informers: one list+watch per resource kind per cluster, shared by every detector and
 * read by the probes that can answer from it.
 *
 * - **Ref-counted per kind.** The first subscriber to a kind starts its supervised informer
 *   (`Informer.supervised`: one list, then a watch from the list's resourceVersion; a watch that
 *   ends or times out resumes from the last resourceVersion; `410 Gone` relists, reporting
 *   objects that vanished meanwhile as deletes); later subscribers join it; when the last one
 *   unsubscribes, the watch is stopped and the cache dropped.
 * - **The same view as a dedicated watch.** Each subscriber's namespace, label selector and field
 *   selector are applied on the client (`Selectors`). A late subscriber first receives every
 *   cached object it selects as an `add` (as a fresh informer's list would), then the live
 *   changes; an object that starts or stops matching its selectors arrives as `add` / `delete`.
 * - **A cache for reads.** Once a kind has synced (its list has been emitted and the watch has
 *   started), `getOr` / `listOr` / `eventsFor` answer from the cache and make no request; before
 *   that, or for a kind nobody watches, they read the API. A `get` that misses the cache reads
 *   the API too (an object created a moment ago may not have arrived yet).
 * - **Scope.** By default the shared watches are cluster-wide (objects of every namespace, then
 *   filtered per subscriber); an agent allowed to read only one namespace sets
 *   `Informers.layer({ namespace })`: subscribers in that namespace (or in none) share its
 *   watches, a subscriber naming another namespace gets a shared watch of its own.
 *
 * `Informers` is a Context Reference: without a layer, one default registry shares watches per
 * `Kube` service instance (watches stop when their last subscriber ends). `Informers.layer(options)`
 * gives a scoped registry with options (restart backoff, watch inactivity timeout, hooks) whose
 * watches all stop when the layer is released.
 *
 * @example
 * ```ts
 * import { Informers, Resource } from "@byteport/k8s"
 * // two subscribers, one watch on /api/v1/pods
 * const crashing = Informers.subscribe(Resource.pods, { namespace: "shop", labelSelector: "tier=web" })
 * const all = Informers.subscribe(Resource.pods)
 * // a read that makes no request while the pods are watched
 * const pod = Informers.getOr(Resource.pods, "shop", "web-1", Effect.flatMap(Kube.Kube, (k) => k.getPod("shop", "web-1")))
 * ```
 *
 * @since 0.1.0
 */
import type { CoreV1Event, KubernetesObject } from "@kubernetes/client-node"
import type { Backoff } from "@byteport/core"
import { Context, Duration, Effect, Fiber, Layer, Option, Queue, Scope, Semaphore, Stream } from "effect"
import { Kube, type KubeShape } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Informer from "./Informer"
import { events, type Resource, toWire } from "./Resource"
import * as Selectors from "./Selectors"

/** Options of a registry (`layer`). */
export interface Options {
  /**
   * The namespace shared watches of namespaced kinds are limited to (default: all namespaces).
   * Cluster-scoped kinds (nodes) are always watched cluster-wide.
   */
  readonly namespace?: string | undefined
  /** Restart backoff after an error that stopped an informer (default 1 s × 2^N, cap 60 s). */
  readonly backoff?: Backoff.Options | undefined
  /** client-node's watch inactivity timeout (default 30 s; a timeout resumes with a watch, never a list). */
  readonly inactivityTimeoutMs?: number | undefined
  /** Called on each (re)connection attempt of a shared watch, before its list or watch request. */
  readonly onConnect?: ((kind: string) => void) | undefined
  /** Called with each error that stopped a shared informer, before it is restarted. */
  readonly onError?: ((kind: string, error: unknown) => void) | undefined
  /**
   * How long a cache read waits for a watch that is running but has not listed yet (just
   * started, or relisting after a 410) before it reads the API instead (default 5000 ms; 0: never wait).
   */
  readonly syncWaitMs?: number | undefined
}

/** Options of `subscribe`: the view a dedicated watch would have had. */
export interface SubscribeOptions extends Selectors.SelectorOptions {}

/** One shared watch, for `status`. */
export interface WatchStatus {
  /** The resource kind (`Pod`, `Event` …). */
  readonly kind: string
  /** The collection path watched (`/api/v1/pods`, `/api/v1/namespaces/shop/events` …). */
  readonly path: string
  /** Subscribers (streams) and holders (`hold`) keeping it open. */
  readonly subscribers: number
  /** Whether the list has been emitted and the watch started (reads are answered from the cache). */
  readonly synced: boolean
  /** Objects in the cache. */
  readonly objects: number
}

/** A synced cache of one kind (objects are wire JSON). */
export interface Cache<T> {
  /** The object, when cached. */
  readonly get: (namespace: string | undefined, name: string) => T | undefined
  /** The cached objects a selector selects. */
  readonly list: (selector: Selectors.Selector) => ReadonlyArray<T>
}

/** The Informers service. */
export interface InformersShape {
  /**
   * The add/update/delete events of a kind as the subscriber's selectors see them, from the
   * shared watch of that kind (started by the first subscriber, stopped after the last).
   */
  readonly subscribe: <T extends KubernetesObject>(resource: Resource<T>, options?: SubscribeOptions) => Stream.Stream<Informer.InformerEvent<T>, Selectors.InvalidSelector, Kube>
  /** Keeps the shared watches of `resources` open (their caches warm) for the scope. */
  readonly hold: (resources: ReadonlyArray<Resource<KubernetesObject>>, options?: { readonly namespace?: string | undefined }) => Effect.Effect<void, never, Kube | Scope.Scope>
  /** The synced cache of a kind covering `namespace` (undefined: all namespaces), if any. */
  readonly cache: <T extends KubernetesObject>(resource: Resource<T>, namespace?: string | undefined) => Effect.Effect<Option.Option<Cache<T>>, never, Kube>
  /** The shared watches open for the current Kube service. */
  readonly status: Effect.Effect<ReadonlyArray<WatchStatus>, never, Kube>
}

interface Subscriber {
  readonly selector: Selectors.Selector
  readonly matched: Set<string>
  /** Absent for holders: they keep the watch open and receive nothing. */
  readonly offer: ((e: Informer.InformerEvent<KubernetesObject>) => void) | undefined
}

interface Entry {
  readonly path: string
  readonly kind: string
  readonly objects: Map<string, KubernetesObject>
  synced: boolean
  readonly subscribers: Set<Subscriber>
  fiber: Fiber.Fiber<void> | undefined
  /** Readers waiting for the (re)sync of a watch already running. */
  readonly onSync: Set<() => void>
}

const keyOf = (o: KubernetesObject): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`

const deliver = (sub: Subscriber, obj: KubernetesObject, removed: boolean): void => {
  if (sub.offer === undefined) return
  const key = keyOf(obj)
  const had = sub.matched.has(key)
  if (removed) {
    if (had) {
      sub.matched.delete(key)
      sub.offer({ type: "delete", object: obj })
    }
    return
  }
  if (sub.selector.matches(obj)) {
    sub.matched.add(key)
    sub.offer({ type: had ? "update" : "add", object: obj })
  } else if (had) {
    // it no longer matches: a server-filtered watch would say DELETED
    sub.matched.delete(key)
    sub.offer({ type: "delete", object: obj })
  }
}

const apply = (entry: Entry, e: Informer.InformerEvent<KubernetesObject> | Informer.Synced): void => {
  if (e.type === "synced") {
    entry.synced = true
    const waiting = [...entry.onSync]
    entry.onSync.clear()
    for (const wake of waiting) wake()
    return
  }
  const key = keyOf(e.object)
  if (e.type === "delete") entry.objects.delete(key)
  else entry.objects.set(key, e.object)
  for (const sub of entry.subscribers) deliver(sub, e.object, e.type === "delete")
}

const isClusterScoped = (resource: Resource<KubernetesObject>): boolean => resource.path(undefined) === resource.path("x")

/**
 * Builds a registry. Shared watches run in `scope` when given (all stop when it closes), else
 * as detached fibers (each stops with its last subscriber).
 */
export const makeUnsafe = (options: Options = {}, scope?: Scope.Scope): InformersShape => {
  const syncWait = options.syncWaitMs ?? 5000
  const registries = new WeakMap<KubeShape, Map<string, Entry>>()
  const lock = Semaphore.makeUnsafe(1)
  const registryOf = (kube: KubeShape) => {
    let r = registries.get(kube)
    if (r === undefined) {
      r = new Map()
      registries.set(kube, r)
    }
    return r
  }
  /** The namespace the shared watch serving a subscriber in `namespace` covers. */
  const watchNamespace = (resource: Resource<KubernetesObject>, namespace: string | undefined): string | undefined => {
    if (isClusterScoped(resource)) return undefined
    if (options.namespace === undefined) return undefined
    return namespace === undefined || namespace === options.namespace ? options.namespace : namespace
  }

  const run = (kube: KubeShape, entry: Entry, resource: Resource<KubernetesObject>, namespace: string | undefined): Effect.Effect<void> =>
    Informer.supervised(resource, {
      namespace,
      name: `shared ${resource.kind}${namespace !== undefined ? ` in ${namespace}` : ""}`,
      backoff: options.backoff,
      inactivityTimeoutMs: options.inactivityTimeoutMs,
      onConnect: options.onConnect ? () => options.onConnect?.(resource.kind) : undefined,
      onError: options.onError ? (err) => options.onError?.(resource.kind, err) : undefined
    }).pipe(
      Stream.runForEach((e) => Effect.sync(() => apply(entry, e))),
      Effect.provideService(Kube, kube)
    )

  const acquire = (kube: KubeShape, resource: Resource<KubernetesObject>, sub: Subscriber): Effect.Effect<Entry> =>
    lock.withPermits(1)(
      Effect.gen(function*() {
        const namespace = watchNamespace(resource, sub.selector.namespace)
        const path = resource.path(namespace)
        const registry = registryOf(kube)
        let entry = registry.get(path)
        const created = entry === undefined
        if (entry === undefined) {
          entry = { path, kind: resource.kind, objects: new Map(), synced: false, subscribers: new Set(), fiber: undefined, onSync: new Set() }
          registry.set(path, entry)
        }
        const e = entry
        // join and replay in one step: no change can slip between the snapshot and the live events
        yield* Effect.sync(() => {
          e.subscribers.add(sub)
          for (const obj of e.objects.values()) deliver(sub, obj, false)
        })
        if (created) {
          yield* Effect.logDebug(`informers: starting the shared watch of ${path}`)
          const program = run(kube, e, resource, namespace)
          e.fiber = scope !== undefined ? yield* Effect.forkIn(program, scope) : yield* Effect.forkDetach(program)
        }
        return e
      })
    )

  const release = (kube: KubeShape, entry: Entry, sub: Subscriber): Effect.Effect<void> =>
    lock.withPermits(1)(
      Effect.gen(function*() {
        entry.subscribers.delete(sub)
        if (entry.subscribers.size > 0) return
        const registry = registryOf(kube)
        if (registry.get(entry.path) === entry) registry.delete(entry.path)
        const fiber = entry.fiber
        entry.fiber = undefined
        entry.objects.clear()
        entry.synced = false
        yield* Effect.logDebug(`informers: stopping the shared watch of ${entry.path}`)
        if (fiber !== undefined) yield* Fiber.interrupt(fiber)
      })
    )

  const join = (resource: Resource<KubernetesObject>, sub: Subscriber): Effect.Effect<void, never, Kube | Scope.Scope> =>
    Effect.flatMap(Effect.service(Kube), (kube) =>
      Effect.asVoid(Effect.acquireRelease(acquire(kube, resource, sub), (entry) => release(kube, entry, sub)))
    )

  return {
    subscribe: <T extends KubernetesObject>(resource: Resource<T>, o: SubscribeOptions = {}) =>
      Stream.unwrap(
        Effect.sync(() => {
          const selector = Selectors.make(o)
          if (selector instanceof Selectors.InvalidSelector) return Stream.fail(selector)
          return Stream.callback<Informer.InformerEvent<T>, never, Kube>((queue) =>
            join(resource, {
              selector,
              matched: new Set(),
              offer: (e) => void Queue.offerUnsafe(queue, e as Informer.InformerEvent<T>)
            })
          )
        })
      ),
    hold: (resources, o = {}) =>
      Effect.forEach(resources, (r) => join(r, { selector: Selectors.makeUnsafe({ namespace: o.namespace }), matched: new Set(), offer: undefined }), { discard: true }),
    cache: <T extends KubernetesObject>(resource: Resource<T>, namespace?: string | undefined) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const registry = registryOf(kube)
        const candidates = isClusterScoped(resource) ? [resource.path(undefined)] : namespace === undefined ? [resource.path(undefined)] : [resource.path(undefined), resource.path(namespace)]
        const synced = () => candidates.map((p) => registry.get(p)).find((e) => e !== undefined && e.synced)
        let entry = synced()
        // A watch of this kind is running but has not listed yet (it started a moment ago, or it
        // relists after a 410): wait for its sync, bounded, rather than read the API behind it.
        const starting = entry === undefined ? candidates.map((p) => registry.get(p)).find((e) => e !== undefined && e.subscribers.size > 0) : undefined
        if (starting !== undefined && syncWait > 0) {
          yield* Effect.callback<void>((resume) => {
            const wake = () => resume(Effect.void)
            starting.onSync.add(wake)
            return Effect.sync(() => void starting.onSync.delete(wake))
          }).pipe(Effect.timeoutOption(Duration.millis(syncWait)))
          entry = synced()
        }
        if (entry === undefined) return Option.none<Cache<T>>()
        const e = entry
        return Option.some<Cache<T>>({
          get: (ns, name) => e.objects.get(`${isClusterScoped(resource) ? "" : ns ?? ""}/${name}`) as T | undefined,
          list: (selector) => [...e.objects.values()].filter((o) => selector.matches(o)) as Array<T>
        })
      }),
    status: Effect.map(Effect.service(Kube), (kube) =>
      [...registryOf(kube).values()].map((e) => ({ kind: e.kind, path: e.path, subscribers: e.subscribers.size, synced: e.synced, objects: e.objects.size }))
    )
  }
}

/** The Informers service (a Reference: a default registry is used when no layer provides one). */
export const Informers: Context.Reference<InformersShape> = Context.Reference<InformersShape>("@byteport/k8s/Informers", {
  defaultValue: () => makeUnsafe()
})

/** A scoped registry: its shared watches all stop when the layer is released. */
export const layer = (options: Options = {}): Layer.Layer<never> =>
  Layer.effect(Informers, Effect.map(Effect.scope, (scope) => makeUnsafe(options, scope)))

/** `subscribe` of the current registry (see `InformersShape.subscribe`). */
export const subscribe = <T extends KubernetesObject>(resource: Resource<T>, options?: SubscribeOptions): Stream.Stream<Informer.InformerEvent<T>, Selectors.InvalidSelector, Kube> =>
  Stream.unwrap(Effect.map(Effect.service(Informers), (i) => i.subscribe(resource, options)))

/** `hold` of the current registry: keeps the shared watches of `resources` open for the scope. */
export const hold = (resources: ReadonlyArray<Resource<KubernetesObject>>, options?: { readonly namespace?: string | undefined }): Effect.Effect<void, never, Kube | Scope.Scope> =>
  Effect.flatMap(Effect.service(Informers), (i) => i.hold(resources, options))

/** The shared watches open for the current Kube service. */
export const status: Effect.Effect<ReadonlyArray<WatchStatus>, never, Kube> = Effect.flatMap(Effect.service(Informers), (i) => i.status)

/**
 * One object as wire JSON: from the synced cache of its kind when it is there, else `read` (an
 * API read; its typed result is converted to wire JSON).
 */
export const getOr = <T extends KubernetesObject, E, R>(
  resource: Resource<T>,
  namespace: string | undefined,
  name: string,
  read: Effect.Effect<T, E, R>
): Effect.Effect<T, E, R | Kube> =>
  Effect.gen(function*() {
    const informers = yield* Informers
    const cache = yield* informers.cache(resource, namespace)
    const hit = Option.isSome(cache) ? cache.value.get(namespace, name) : undefined
    if (hit !== undefined) return hit
    return toWire(resource, yield* read)
  })

/**
 * The objects a selector selects, as wire JSON: from the synced cache of their kind when one
 * covers the namespace, else `read` (an API list; its typed results are converted to wire JSON).
 */
export const listOr = <T extends KubernetesObject, E, R>(
  resource: Resource<T>,
  selector: Selectors.SelectorOptions,
  read: Effect.Effect<ReadonlyArray<T>, E, R>
): Effect.Effect<ReadonlyArray<T>, E, R | Kube> =>
  Effect.gen(function*() {
    const informers = yield* Informers
    const compiled = Selectors.make(selector)
    const cache = yield* informers.cache(resource, selector.namespace)
    if (Option.isSome(cache) && !(compiled instanceof Selectors.InvalidSelector)) return cache.value.list(compiled)
    return (yield* read).map((o) => toWire(resource, o))
  })

/** The object an Event is about (`involvedObject`). */
export interface InvolvedObject {
  readonly kind: string
  readonly name: string
  readonly namespace?: string | undefined
  readonly uid?: string | undefined
}

/**
 * The core/v1 Events about one object (by `involvedObject` kind, name and uid when given;
 * optionally one `reason`), as wire JSON: from the events cache when synced, else one list.
 */
export const eventsFor = (
  involved: InvolvedObject,
  options: { readonly reason?: string | undefined } = {}
): Effect.Effect<ReadonlyArray<CoreV1Event>, KubeError, Kube> => {
  const fieldSelector = [
    `involvedObject.kind=${involved.kind}`,
    `involvedObject.name=${involved.name}`,
    ...(involved.uid !== undefined ? [`involvedObject.uid=${involved.uid}`] : []),
    ...(options.reason !== undefined ? [`reason=${options.reason}`] : [])
  ].join(",")
  return listOr(events, { namespace: involved.namespace, fieldSelector }, Effect.flatMap(Effect.service(Kube), (k) => k.listEvents({ namespace: involved.namespace, fieldSelector })))
}
