import { assert, describe, it } from "@effect/vitest"
import { Keys } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import type { KubernetesObject, V1Pod } from "@kubernetes/client-node"
import { Effect, Fiber, Layer, type Scope, Stream } from "effect"
import * as Informer from "../../src/informers/Informer"
import * as Informers from "../../src/informers/Informers"
import * as K8sDetector from "../../src/informers/K8sDetector"
import * as Resource from "../../src/informers/Resource"
import * as Kube from "../../src/Kube"
import { kubeLayer, pod, put, sim, until } from "./helpers"

const ALL_PODS = "/api/v1/pods"

type Seen = Array<Informer.InformerEvent<KubernetesObject>>

/** Runs a stream in the background, collecting its events. */
const collect = <T extends KubernetesObject>(stream: Stream.Stream<Informer.InformerEvent<T>, unknown, Kube.Kube>) =>
  Effect.gen(function*() {
    const seen: Seen = []
    const fiber = yield* stream.pipe(
      Stream.runForEach((e) => Effect.sync(() => void seen.push(e))),
      Effect.forkScoped
    )
    return { seen, fiber }
  })

const names = (seen: Seen, type?: string) => seen.filter((e) => type === undefined || e.type === type).map((e) => e.object.metadata?.name)
const trace = (seen: Seen) => seen.map((e) => `${e.type} ${e.object.metadata?.name}`)

/** The state a subscriber's events add up to: name → resourceVersion. */
const view = (seen: Seen) => {
  const m = new Map<string, string>()
  for (const e of seen) {
    if (e.type === "delete") m.delete(e.object.metadata!.name!)
    else m.set(e.object.metadata!.name!, e.object.metadata!.resourceVersion!)
  }
  return Object.fromEntries([...m.entries()].sort())
}

/** What the simulator holds: name → resourceVersion of the pods of `namespace`. */
const storeView = (s: KubeSimInstance, namespace = "default") =>
  Object.fromEntries(
    s.store.list(Keys.pods, { namespace }).map((p) => [p.metadata.name, p.metadata.resourceVersion] as const).sort((a, b) => a[0].localeCompare(b[0]))
  )

/** A scoped Informers registry with a short restart backoff, plus Kube. */
const services = (s: KubeSimInstance, options: Informers.Options = {}) =>
  Layer.merge(kubeLayer(s), Informers.layer({ backoff: { base: "100 millis", cap: "1 second" }, ...options }))

const labelled = (name: string, app: string) => pod("default", name, { app })

/** Runs `body` against a fresh simulator with Kube and a scoped Informers registry. */
const withSim = <A>(body: (s: KubeSimInstance) => Effect.Effect<A, unknown, Kube.Kube | Scope.Scope>, options: Informers.Options | ((s: KubeSimInstance) => Informers.Options) = {}) =>
  Effect.gen(function*() {
    const s = yield* sim()
    return yield* body(s).pipe(Effect.scoped, Effect.provide(services(s, typeof options === "function" ? options(s) : options)))
  }).pipe(Effect.scoped)

describe("shared informers (one list+watch per kind)", () => {
  it.live("two subscribers share one list and one watch and see the same events", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a"))
        const one = yield* collect(Informers.subscribe(Resource.pods))
        const two = yield* collect(Informers.subscribe(Resource.pods))
        yield* until(() => s.openWatches === 1 && one.seen.length === 1 && two.seen.length === 1, 15_000, "both subscribed")
        put(s, "pods", pod("default", "b"))
        s.store.mutate(Keys.pods, "default", "a", (p) => {
          p.metadata.labels = { touched: "yes" }
        })
        s.store.delete(Keys.pods, "default", "b")
        yield* until(() => names(one.seen, "delete").includes("b") && names(two.seen, "delete").includes("b"), 15_000, "the delete")
        assert.deepStrictEqual(trace(one.seen), ["add a", "add b", "update a", "delete b"])
        assert.deepStrictEqual(trace(two.seen), trace(one.seen))
        assert.deepStrictEqual(two.seen.map((e) => e.object.metadata?.resourceVersion), one.seen.map((e) => e.object.metadata?.resourceVersion))
        assert.strictEqual(s.recorder.count({ path: ALL_PODS, watch: false }), 1, "one list")
        assert.strictEqual(s.recorder.count({ path: ALL_PODS, watch: true }), 1, "one watch")
        assert.strictEqual(s.recorder.count(), 2, "nothing else")
        const status = yield* Informers.status
        assert.deepStrictEqual(status.map((w) => [w.path, w.subscribers, w.synced, w.objects]), [[ALL_PODS, 2, true, 1]])
      })
    ))

  it.live("a late subscriber gets the cached objects as adds, then live changes, with no request of its own", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a"))
        put(s, "pods", pod("shop", "b"))
        const first = yield* collect(Informers.subscribe(Resource.pods))
        yield* until(() => s.openWatches === 1 && first.seen.length === 2, 15_000, "first subscriber synced")
        const before = s.recorder.count()
        const late = yield* collect(Informers.subscribe(Resource.pods, { namespace: "shop" }))
        yield* until(() => late.seen.length === 1, 15_000, "replay")
        assert.deepStrictEqual(trace(late.seen), ["add b"], "only its namespace")
        put(s, "pods", pod("shop", "c"))
        put(s, "pods", pod("default", "d"))
        yield* until(() => names(first.seen).includes("d") && names(late.seen).includes("c"), 15_000, "live changes")
        assert.deepStrictEqual(trace(late.seen), ["add b", "add c"])
        assert.strictEqual(s.recorder.count(), before, "the late subscriber made no request")
      })
    ))

  it.live("selectors on the client give the same events as a server-filtered watch (objects entering and leaving the selection)", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", labelled("w1", "web"))
        put(s, "pods", labelled("d1", "db"))
        put(s, "pods", pod("shop", "w2", { app: "web" }))
        const selectors = { namespace: "default", labelSelector: "app in (web,api)", fieldSelector: "metadata.name!=ignored" }
        const shared = yield* collect(K8sDetector.events({ name: "shared", resource: Resource.pods, ...selectors }))
        const dedicated = yield* collect(K8sDetector.events({ name: "dedicated", resource: Resource.pods, ...selectors, shared: false }))
        yield* until(() => s.openWatches === 2 && shared.seen.length === 1 && dedicated.seen.length === 1, 15_000, "both up")
        put(s, "pods", labelled("ignored", "web"))
        s.store.mutate(Keys.pods, "default", "d1", (p) => void (p.metadata.labels = { app: "api" })) // enters
        s.store.mutate(Keys.pods, "default", "w1", (p) => void (p.metadata.labels = { app: "db" })) // leaves
        s.store.mutate(Keys.pods, "default", "d1", (p) => void (p.metadata.annotations = { x: "1" })) // changes
        s.store.delete(Keys.pods, "default", "d1")
        put(s, "pods", labelled("last", "web"))
        yield* until(() => names(shared.seen).includes("last") && names(dedicated.seen).includes("last"), 15_000, "all changes")
        assert.deepStrictEqual(trace(dedicated.seen), ["add w1", "add d1", "delete w1", "update d1", "delete d1", "add last"])
        assert.deepStrictEqual(trace(shared.seen), trace(dedicated.seen))
        const sharedRequests = s.recorder.requests({ path: ALL_PODS })
        assert.strictEqual(sharedRequests.length, 2, "the shared watch is cluster-wide and unfiltered: one list, one watch")
        assert.isTrue(sharedRequests.every((r) => r.query.labelSelector === undefined))
      })
    ))

  it.live("unsubscribing the last subscriber stops the watch; the next subscriber starts a new list+watch", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a"))
        const one = yield* collect(Informers.subscribe(Resource.pods))
        const two = yield* collect(Informers.subscribe(Resource.pods, { namespace: "default" }))
        yield* until(() => s.openWatches === 1 && one.seen.length === 1 && two.seen.length === 1, 15_000, "subscribed")
        yield* Fiber.interrupt(one.fiber)
        yield* Effect.sleep("200 millis")
        assert.strictEqual(s.openWatches, 1, "still watched for the second subscriber")
        put(s, "pods", pod("default", "b"))
        yield* until(() => names(two.seen).includes("b"), 15_000, "the second still sees changes")
        yield* Fiber.interrupt(two.fiber)
        yield* until(() => s.openWatches === 0, 15_000, "the watch stopped")
        assert.deepStrictEqual(yield* Informers.status, [], "nothing left open")
        const count = s.recorder.count()
        yield* Effect.sleep("300 millis")
        assert.strictEqual(s.recorder.count(), count, "no request after the last unsubscribe")
        const three = yield* collect(Informers.subscribe(Resource.pods))
        yield* until(() => s.openWatches === 1 && three.seen.length === 2, 15_000, "a new watch")
        assert.strictEqual(s.recorder.count({ path: ALL_PODS, watch: false }), 2, "the new watch listed again")
      })
    ))

  for (const drop of ["410 ERROR event", "HTTP 410", "abrupt disconnect"] as const) {
    it.live(`watch lost (${drop}) while objects change → relist; every subscriber converges, no event lost`, () => {
      let armed: (() => void) | undefined
      return withSim(
        (s) =>
          Effect.gen(function*() {
            put(s, "pods", pod("default", "keep"))
            put(s, "pods", pod("default", "gone"))
            put(s, "pods", pod("default", "changed"))
            const one = yield* collect(Informers.subscribe(Resource.pods))
            const two = yield* collect(Informers.subscribe(Resource.pods, { namespace: "default" }))
            yield* until(() => s.openWatches === 1 && one.seen.length === 3 && two.seen.length === 3, 15_000, "subscribed")
            // on the reconnection: change the cluster while nobody watches, and forget the history,
            // so the watch from the old resourceVersion gets 410 and the informer must relist
            armed = () => {
              s.store.delete(Keys.pods, "default", "gone")
              put(s, "pods", pod("default", "new"))
              s.store.mutate(Keys.pods, "default", "changed", (p) => void (p.metadata.labels = { v: "2" }))
              s.faults.compactHistory()
            }
            if (drop === "410 ERROR event") s.faults.expireNextWatch()
            if (drop === "HTTP 410") s.faults.expireNextWatch({ http: true })
            s.faults.dropWatches(drop === "abrupt disconnect" ? { abrupt: true } : {})
            yield* until(() => names(one.seen, "delete").includes("gone") && names(two.seen, "delete").includes("gone") && names(two.seen).includes("new"), 15_000, "relist")
            yield* until(() => s.openWatches === 1, 15_000, "watching again")
            put(s, "pods", pod("default", "after"))
            yield* until(() => names(one.seen).includes("after") && names(two.seen).includes("after"), 15_000, "live again")
            assert.deepStrictEqual(view(one.seen), storeView(s), "the first subscriber's view is the cluster's")
            assert.deepStrictEqual(view(two.seen), storeView(s), "the second subscriber's view is the cluster's")
            assert.deepStrictEqual(trace(two.seen), trace(one.seen))
            assert.includeMembers(trace(one.seen), ["delete gone", "add new", "update changed"])
            assert.strictEqual(s.recorder.count({ path: ALL_PODS, watch: false }), 2, "exactly one relist, shared")
            const cache = yield* Effect.flatMap(Effect.service(Informers.Informers), (i) => i.cache(Resource.pods))
            assert.isTrue(cache._tag === "Some")
          }),
        (s) => ({
          onConnect: () => {
            const f = armed
            armed = undefined
            f?.()
          },
          onError: () => void s
        })
      )
    })
  }

  it.live("cache reads: getOr/listOr/eventsFor answer from a synced cache without a request, and read the API otherwise", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a", { app: "web" }))
        put(s, "pods", pod("default", "b", { app: "db" }))
        put(s, "nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "node-1" } })
        put(s, "events", {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: "a.1", namespace: "default" },
          involvedObject: { kind: "Pod", name: "a", namespace: "default" },
          reason: "OOMKilling",
          message: "killed"
        })
        put(s, "events", {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: "b.1", namespace: "default" },
          involvedObject: { kind: "Pod", name: "b", namespace: "default" },
          reason: "Pulled",
          message: "pulled"
        })
        const kube = yield* Kube.Kube
        // nothing watched yet: the reads go to the API (and come back as wire JSON)
        const viaApi = yield* Informers.getOr(Resource.pods, "default", "a", kube.getPod("default", "a"))
        assert.strictEqual(typeof (viaApi.metadata?.creationTimestamp as unknown), "string")
        assert.strictEqual(s.recorder.count({ path: "/api/v1/namespaces/default/pods/a" }), 1)
        const before = s.recorder.count()
        yield* Informers.hold([Resource.pods, Resource.nodes, Resource.events])
        yield* until(() => s.openWatches === 3, 15_000, "held")
        yield* until(() => s.recorder.count() === before + 6, 15_000, "three lists and three watches")
        assert.deepStrictEqual((yield* Informers.status).map((w) => w.synced), [true, true, true])
        const afterHold = s.recorder.count()
        const a = yield* Informers.getOr(Resource.pods, "default", "a", Effect.die("not from the API"))
        assert.strictEqual(a.metadata?.name, "a")
        const node = yield* Informers.getOr(Resource.nodes, undefined, "node-1", Effect.die("not from the API"))
        assert.strictEqual(node.metadata?.name, "node-1")
        const web = yield* Informers.listOr(Resource.pods, { namespace: "default", labelSelector: "app=web" }, Effect.die("not from the API"))
        assert.deepStrictEqual(web.map((p) => p.metadata?.name), ["a"])
        const evs = yield* Informers.eventsFor({ kind: "Pod", name: "a", namespace: "default" })
        assert.deepStrictEqual(evs.map((e) => e.reason), ["OOMKilling"])
        assert.deepStrictEqual(yield* Informers.eventsFor({ kind: "Pod", name: "b", namespace: "default" }, { reason: "OOMKilling" }), [])
        assert.strictEqual(s.recorder.count(), afterHold, "cache reads make no request")
        // a miss falls back to the API (an object newer than the cache)
        const missing = yield* Informers.getOr(Resource.pods, "default", "zzz", kube.getPod("default", "zzz")).pipe(Effect.flip)
        assert.strictEqual(missing._tag, "KubeNotFound")
        assert.strictEqual(s.recorder.count(), afterHold + 1)
        // a kind nobody watches is read from the API
        put(s, "deployments", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" }, spec: { selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "x" }] } } } })
        const list = yield* Informers.listOr(Resource.deployments, { namespace: "default" }, kube.listDeployments({ namespace: "default" }))
        assert.deepStrictEqual(list.map((d) => d.metadata?.name), ["web"])
        assert.strictEqual(s.recorder.count({ path: "/apis/apps/v1/namespaces/default/deployments", watch: false }), 1)
      })
    ))

  it.live("a cache that has not synced yet (its list is in flight) is never read: listOr waits for the sync, then answers from the cache", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a"))
        put(s, "pods", pod("default", "b"))
        s.faults.latency({ verb: "list", pathPrefix: ALL_PODS, ms: 1500, times: 1 })
        const sub = yield* collect(Informers.subscribe(Resource.pods))
        yield* until(() => s.recorder.count({ path: ALL_PODS, watch: false }) === 1, 15_000, "the shared list is in flight")
        assert.deepStrictEqual((yield* Informers.status).map((w) => w.synced), [false])
        const kube = yield* Kube.Kube
        const list = yield* Informers.listOr(Resource.pods, { namespace: "default" }, kube.listPods({ namespace: "default" }))
        assert.deepStrictEqual(list.map((p) => p.metadata?.name).sort(), ["a", "b"])
        assert.deepStrictEqual((yield* Informers.status).map((w) => w.synced), [true], "answered only once synced")
        assert.strictEqual(s.recorder.count({ path: "/api/v1/namespaces/default/pods", watch: false }), 0, "no API read behind the starting watch")
        yield* until(() => sub.seen.length === 2 && s.openWatches === 1, 15_000, "synced")
      })
    ))

  it.live("with syncWaitMs: 0 a cache that has not synced yet is never read: listOr goes to the API and sees everything", () =>
    withSim((s) =>
      Effect.gen(function*() {
        put(s, "pods", pod("default", "a"))
        put(s, "pods", pod("default", "b"))
        s.faults.latency({ verb: "list", pathPrefix: ALL_PODS, ms: 1500, times: 1 })
        const sub = yield* collect(Informers.subscribe(Resource.pods))
        yield* until(() => s.recorder.count({ path: ALL_PODS, watch: false }) === 1, 15_000, "the shared list is in flight")
        assert.deepStrictEqual((yield* Informers.status).map((w) => w.synced), [false])
        const kube = yield* Kube.Kube
        const list = yield* Informers.listOr(Resource.pods, { namespace: "default" }, kube.listPods({ namespace: "default" }))
        assert.deepStrictEqual(list.map((p) => p.metadata?.name).sort(), ["a", "b"])
        assert.strictEqual(s.recorder.count({ path: "/api/v1/namespaces/default/pods", watch: false }), 1, "read from the API")
        yield* until(() => sub.seen.length === 2 && s.openWatches === 1, 15_000, "synced")
        assert.deepStrictEqual((yield* Informers.status).map((w) => w.synced), [true])
      }), { syncWaitMs: 0 }
    ))

  it.live("a registry limited to a namespace watches that namespace; a subscriber elsewhere gets its own shared watch", () =>
    withSim(
      (s) =>
        Effect.gen(function*() {
          put(s, "pods", pod("shop", "a"))
          put(s, "pods", pod("default", "b"))
          const one = yield* collect(Informers.subscribe(Resource.pods))
          const two = yield* collect(Informers.subscribe(Resource.pods, { namespace: "shop" }))
          const other = yield* collect(Informers.subscribe(Resource.pods, { namespace: "default" }))
          const nodes = yield* collect(Informers.subscribe(Resource.nodes, { namespace: "shop" }))
          yield* until(() => s.openWatches === 3 && one.seen.length === 1 && two.seen.length === 1 && other.seen.length === 1, 15_000, "up")
          assert.deepStrictEqual(names(one.seen), ["a"])
          assert.deepStrictEqual(names(other.seen), ["b"])
          assert.strictEqual(nodes.seen.length, 0)
          const watched = s.recorder.requests({ watch: true }).map((r) => r.path).sort()
          assert.deepStrictEqual(watched, ["/api/v1/namespaces/default/pods", "/api/v1/namespaces/shop/pods", "/api/v1/nodes"])
        }),
      { namespace: "shop" }
    ))

  it.live("an invalid selector fails the subscription with InvalidSelector (no request)", () =>
    withSim((s) =>
      Effect.gen(function*() {
        const err = yield* Informers.subscribe(Resource.pods, { labelSelector: "app in (web" }).pipe(Stream.runDrain, Effect.flip)
        assert.strictEqual(err._tag, "InvalidSelector")
        assert.strictEqual(s.recorder.count(), 0)
      })
    ))
})
