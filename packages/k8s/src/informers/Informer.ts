/**
 * Informers as Effect Streams, under a supervisor.
 *
 * `Informer.watch(Resource.pods, { namespace })` lists once, then watches from the list's
 * resourceVersion (client-node's `ListWatch`), and emits every add, update and delete as an
 * `InformerEvent`. It never polls: after the initial list, the only requests are watches.
 *
 * Supervision (client-node's informer stops for good on most errors):
 * - a watch the server closes normally (`timeoutSeconds`, default 540 s), or one silent past the
 *   inactivity timeout (default 3 min; bookmarks, requested with `allowWatchBookmarks`, keep an
 *   idle watch alive), reconnects from the last resourceVersion (client-node does this itself;
 *   still only watch requests);
 * - `410 Gone` (an ERROR event or HTTP 410) clears the resourceVersion, and client-node relists:
 *   objects that vanished meanwhile are emitted as deletes, the others as adds/updates;
 * - any other error (connection refused or reset, 5xx on list or watch) stops client-node's
 *   informer; the supervisor restarts it after a backoff (default 1 s × 2^N, cap 60 s, reset
 *   after a healthy run) from the last resourceVersion, so nothing is re-emitted unless a relist
 *   is needed;
 * - interrupting the stream stops the informer and aborts its watch (no request is left open).
 *
 * Objects are wire JSON in both the initial list and the watch (RFC 3339 string timestamps,
 * wire field names): listed objects are serialized back through client-node's model serializer.
 *
 * @example
 * ```ts
 * import { Informer, Resource } from "@byteport/k8s"
 * Informer.watch(Resource.events, { fieldSelector: "reason=OOMKilling" }).pipe(
 *   Stream.filter((e) => e.type !== "delete"),
 *   Stream.runForEach((e) => Effect.log(e.object.message))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { ApiException, ListWatch, Watch } from "@kubernetes/client-node"
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node"
import { Backoff } from "@byteport/core"
import { Effect, Queue, Stream } from "effect"
import { Kube } from "../Kube"
import * as KubeError from "../KubeError"
import type { Resource } from "./Resource"
import { toWire } from "./Resource"

/** One change seen by an informer. */
export type InformerEvent<T> =
  | { readonly type: "add"; readonly object: T }
  | { readonly type: "update"; readonly object: T }
  | { readonly type: "delete"; readonly object: T }

/** Options of `watch`. */
export interface WatchOptions {
  /** Watch one namespace (default: all namespaces; ignored for cluster-scoped resources). */
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Restart backoff after an error that stopped the informer (default 1 s × 2^N, cap 60 s). */
  readonly backoff?: Backoff.Options | undefined
  /** A name for logs (default the resource kind). */
  readonly name?: string | undefined
  /**
   * Called on each (re)connection attempt, before the list or watch request (for metrics and
   * tests). Runs synchronously inside client-node's callback.
   */
  readonly onConnect?: (() => void) | undefined
  /**
   * The watch inactivity timeout (default `defaultInactivityTimeoutMs`, 3 minutes; client-node's
   * own is 30 s): a watch that receives nothing, not even a bookmark, for this long is closed and
   * reopened from the last resourceVersion (a watch request, never a list).
   */
  readonly inactivityTimeoutMs?: number | undefined
  /**
   * The server-side lifetime of each watch request (`timeoutSeconds`, default
   * `defaultWatchTimeoutSeconds`, 540 s): the apiserver ends the watch, which reopens from the last
   * resourceVersion. With bookmarks (`allowWatchBookmarks=true`, sent about once a minute) keeping
   * an idle watch alive, an idle cluster costs one request per watch per 9 minutes.
   */
  readonly watchTimeoutSeconds?: number | undefined
  /** Called with each error that stopped the informer, before the supervisor restarts it. */
  readonly onError?: ((error: unknown) => void) | undefined
}

/** The default watch inactivity timeout: 3 minutes (three bookmark intervals of the apiserver). */
export const defaultInactivityTimeoutMs = 180_000

/** The default server-side watch lifetime (`timeoutSeconds`): 9 minutes (client-go picks 5–10). */
export const defaultWatchTimeoutSeconds = 540

/** The default restart backoff: 1 s, doubling, capped at 60 s. */
export const defaultBackoff: Backoff.Options = { base: "1 second", factor: 2, cap: "60 seconds" }

/**
 * A client-node Watch that refuses to open a connection once closed. client-node's informer can
 * start a watch after `stop()` when `stop()` lands while its list request is in flight; this
 * closes that window so an interrupted stream never leaves a watch open.
 */
class ClosableWatch extends Watch {
  closed = false
  constructor(kc: KubeConfig, inactivityTimeoutMs: number, private readonly watchTimeoutSeconds: number, private readonly onWatch: () => void) {
    super(kc)
    ;(this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityTimeoutMs
  }
  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void
  ): Promise<AbortController> {
    if (this.closed) {
      const c = new AbortController()
      c.abort()
      return c
    }
    // client-node calls watch() after it has emitted every object of the list (or on a resume
    // from a resourceVersion): the informer's view is complete up to here
    this.onWatch()
    // bookmarks keep an idle watch alive past the inactivity timeout; the server ends it after
    // timeoutSeconds (never client-node's 30 s re-open of a silent watch)
    const params = { allowWatchBookmarks: true, timeoutSeconds: this.watchTimeoutSeconds, ...queryParams }
    const controller = await super.watch(path, params, callback, done)
    if (this.closed) controller.abort()
    return controller
  }
}

const describe = (e: unknown): string => {
  if (e instanceof ApiException) {
    const k = KubeError.fromUnknown("informer", e)
    return `${k._tag} ${k.status} ${k.reason}: ${k.message}`
  }
  if (e instanceof Error) {
    const code = (e as { statusCode?: unknown; code?: unknown }).statusCode ?? (e as { code?: unknown }).code
    return `${e.name}: ${e.message}${code !== undefined ? ` (${String(code)})` : ""}`
  }
  return String(e)
}

/** Marks the point where everything listed has been emitted and the watch starts (`supervised` only). */
export interface Synced {
  readonly type: "synced"
}

/** Watches a resource as a Stream of add/update/delete events, supervised (see the module doc). */
export const watch = <T extends KubernetesObject>(resource: Resource<T>, options: WatchOptions = {}): Stream.Stream<InformerEvent<T>, never, Kube> =>
  supervised(resource, options).pipe(Stream.filter((e): e is InformerEvent<T> => e.type !== "synced"))

/**
 * `watch`, plus a `synced` marker each time a watch request starts: after it, every object of
 * the list (or relist) has been emitted, so a cache built from the events is complete (the
 * shared `Informers` use it to tell when they can answer reads).
 */
export const supervised = <T extends KubernetesObject>(resource: Resource<T>, options: WatchOptions = {}): Stream.Stream<InformerEvent<T> | Synced, never, Kube> =>
  Stream.unwrap(
    Effect.gen(function*() {
      const kube = yield* Kube
      const resolved = Backoff.resolve(options.backoff ?? defaultBackoff)
      const backoff = resolved instanceof Backoff.InvalidBackoff ? (Backoff.resolve(defaultBackoff) as Backoff.Resolved) : resolved
      const name = options.name ?? resource.kind
      const listOptions = { namespace: options.namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector }
      return Stream.callback<InformerEvent<T> | Synced>((queue) =>
        Effect.gen(function*() {
          const w = new ClosableWatch(kube.kubeConfig, options.inactivityTimeoutMs ?? defaultInactivityTimeoutMs, options.watchTimeoutSeconds ?? defaultWatchTimeoutSeconds, () =>
            Queue.offerUnsafe(queue, { type: "synced" }))
          const listFn = () =>
            resource.list(kube.readApis, listOptions).then((list) => ({ ...list, items: list.items.map((o) => toWire(resource, o)) }))
          const informer = new ListWatch<T>(resource.path(options.namespace), w, listFn, false, options.labelSelector, options.fieldSelector)
          let stopped = false
          let healthy = false
          const failures = yield* Queue.unbounded<unknown>()
          const emit = (type: InformerEvent<T>["type"]) => (object: T) => {
            healthy = true
            Queue.offerUnsafe(queue, { type, object })
          }
          informer.on("add", emit("add"))
          informer.on("update", emit("update"))
          informer.on("delete", emit("delete"))
          informer.on("connect", () => options.onConnect?.())
          informer.on("error", (err) => {
            if (!stopped) Queue.offerUnsafe(failures, err)
          })
          yield* Effect.addFinalizer(() =>
            Effect.promise(async () => {
              stopped = true
              w.closed = true
              await informer.stop()
            })
          )
          yield* Effect.gen(function*() {
            let attempt = 0
            for (;;) {
              healthy = false
              const startedAt = Date.now()
              // start() reports most failures through the error callback; a rejection is one too
              yield* Effect.tryPromise({ try: () => informer.start(), catch: (e) => e }).pipe(
                Effect.catch((e) => Effect.sync(() => Queue.offerUnsafe(failures, e)))
              )
              const err = yield* Queue.take(failures)
              options.onError?.(err)
              if (healthy || Date.now() - startedAt >= backoff.capMs) attempt = 0
              const delayMs = Backoff.delayMillisOf(backoff, attempt++)
              yield* Effect.logWarning(`informer ${name}: ${describe(err)}; restarting in ${delayMs} ms`)
              yield* Effect.sleep(delayMs)
              // errors that arrived while waiting belong to the run that just failed
              yield* Queue.clear(failures)
            }
          }).pipe(Effect.forkScoped)
        })
      )
    })
  )
