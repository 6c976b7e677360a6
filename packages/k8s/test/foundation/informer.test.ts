import { assert, describe, it } from "@effect/vitest"
import { Keys } from "@byteport/kube-sim"
import type { V1Pod } from "@kubernetes/client-node"
import { Effect, Fiber, Stream } from "effect"
import * as Informer from "../../src/informers/Informer"
import * as K8sDetector from "../../src/informers/K8sDetector"
import * as Resource from "../../src/informers/Resource"
import { kubeLayer, pod, put, sim, until } from "./helpers"

const PODS = "/api/v1/namespaces/default/pods"

/** Runs an informer on default/pods in the background, collecting its events. */
const collect = (s: Parameters<typeof kubeLayer>[0], options: Informer.WatchOptions = {}) =>
  Effect.gen(function*() {
    const seen: Array<Informer.InformerEvent<V1Pod>> = []
    const fiber = yield* Informer.watch(Resource.pods, { namespace: "default", backoff: { base: "200 millis", cap: "2 seconds" }, ...options }).pipe(
      Stream.runForEach((e) => Effect.sync(() => seen.push(e))),
      Effect.provide(kubeLayer(s)),
      Effect.forkScoped
    )
    const names = (type: string) => seen.filter((e) => e.type === type).map((e) => e.object.metadata?.name)
    return { seen, fiber, names }
  })

describe("supervised informers", () => {
  it.live("lists once, then watches from the list's resourceVersion; objects are wire JSON", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "a"))
      put(s, "pods", pod("default", "b"))
      const { seen, names } = yield* collect(s)
      yield* until(() => s.openWatches === 1 && seen.length === 2, 15_000, "initial list + watch")
      assert.deepStrictEqual(names("add").sort(), ["a", "b"])
      const ts = seen[0]!.object.metadata?.creationTimestamp as unknown
      assert.strictEqual(typeof ts, "string", "listed objects are serialized back to wire JSON")
      put(s, "pods", pod("default", "c"))
      yield* until(() => names("add").includes("c"), 15_000, "watched add")
      assert.strictEqual(typeof (seen.at(-1)!.object.metadata?.creationTimestamp as unknown), "string")
      s.store.delete(Keys.pods, "default", "a")
      yield* until(() => names("delete").includes("a"), 15_000, "watched delete")
      const lists = s.recorder.requests({ path: PODS, watch: false })
      const watches = s.recorder.requests({ path: PODS, watch: true })
      assert.strictEqual(lists.length, 1)
      assert.strictEqual(watches.length, 1)
      assert.ok(watches[0]!.query.resourceVersion && watches[0]!.query.resourceVersion !== "0", "the watch resumes from the list's RV")
    }).pipe(Effect.scoped))

  it.live("label and field selectors reach both the list and the watch", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "a", { app: "web" }))
      put(s, "pods", pod("default", "b", { app: "web" }))
      put(s, "pods", pod("default", "c", { app: "db" }))
      const { names } = yield* collect(s, { labelSelector: "app=web", fieldSelector: "metadata.name=b" })
      yield* until(() => s.openWatches === 1 && names("add").length === 1, 15_000, "informer up")
      assert.deepStrictEqual(names("add"), ["b"])
      const [list, watch] = s.recorder.requests({ path: PODS })
      assert.deepStrictEqual([list!.query.labelSelector, list!.query.fieldSelector, list!.watch], ["app=web", "metadata.name=b", false])
      assert.deepStrictEqual([watch!.query.labelSelector, watch!.query.fieldSelector, watch!.watch], ["app=web", "metadata.name=b", true])
      put(s, "pods", pod("default", "d", { app: "web" }))
      s.store.delete(Keys.pods, "default", "b")
      yield* until(() => names("delete").includes("b"), 15_000, "delete of b")
      assert.deepStrictEqual(names("add"), ["b"], "d does not match the field selector")
    }).pipe(Effect.scoped))

  for (const http of [false, true]) {
    it.live(`relists after a forced 410 Gone (${http ? "HTTP 410" : "ERROR event"})`, () =>
      Effect.gen(function*() {
        const s = yield* sim()
        put(s, "pods", pod("default", "a"))
        const { names } = yield* collect(s)
        yield* until(() => s.openWatches === 1 && names("add").length === 1, 15_000, "informer up")
        const listsBefore = s.recorder.count({ path: PODS, watch: false })
        s.faults.expireNextWatch({ http })
        s.faults.dropWatches()
        yield* until(() => s.recorder.count({ path: PODS, watch: false }) === listsBefore + 1, 15_000, "relist")
        yield* until(() => s.openWatches === 1, 15_000, "watch reopened")
        // the sequence the recorder saw: watch (410) → list → watch
        const tail = s.recorder.requests({ path: PODS }).slice(-3)
        assert.deepStrictEqual(tail.map((r) => r.watch), [true, false, true])
        if (http) assert.strictEqual(tail[0]!.status, 410)
        put(s, "pods", pod("default", "after-410"))
        yield* until(() => names("add").includes("after-410"), 15_000, "new pod seen after the relist")
      }).pipe(Effect.scoped))
  }

  it.live("restarts after a dropped watch; a relist reports objects deleted while it was down", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "keep"))
      put(s, "pods", pod("default", "gone"))
      const errors: Array<unknown> = []
      const { names } = yield* collect(s, {
        onError: (e) => {
          errors.push(e)
          // while the informer is down: delete a pod and forget the watch history, so the
          // restart's watch from the old resourceVersion gets 410 and must relist
          s.store.delete(Keys.pods, "default", "gone")
          s.faults.compactHistory()
        }
      })
      yield* until(() => s.openWatches === 1 && names("add").length === 2, 15_000, "informer up")
      s.faults.dropWatches({ abrupt: true })
      yield* until(() => names("delete").includes("gone"), 15_000, "the relist reports the deletion")
      assert.strictEqual(errors.length, 1, "the abrupt drop stopped client-node's informer once")
      yield* until(() => s.openWatches === 1, 15_000, "watch reopened")
      put(s, "pods", pod("default", "later"))
      yield* until(() => names("add").includes("later"), 15_000, "watching again")
      assert.deepStrictEqual(names("delete"), ["gone"])
    }).pipe(Effect.scoped))

  it.live("keeps restarting with backoff while the list fails, then recovers", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "a"))
      const fault = s.faults.error({ verb: "list", resource: "pods", status: 500, times: 3 })
      const errors: Array<number> = []
      const { names } = yield* collect(s, { onError: () => errors.push(Date.now()) })
      yield* until(() => names("add").includes("a"), 15_000, "recovered")
      assert.strictEqual(fault.hits, 3)
      assert.strictEqual(errors.length, 3)
      // 200 ms, 400 ms, 800 ms between attempts (± scheduling)
      assert.ok(errors[2]! - errors[0]! >= 550, `backoff grows (${errors[2]! - errors[0]!} ms)`)
    }).pipe(Effect.scoped))

  it.live("interruption stops the informer and closes its watch", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      const { fiber } = yield* collect(s)
      yield* until(() => s.openWatches === 1, 15_000, "watch open")
      yield* Fiber.interrupt(fiber)
      yield* until(() => s.openWatches === 0, 15_000, "watch closed")
      const count = s.recorder.count()
      yield* Effect.sleep("300 millis")
      assert.strictEqual(s.recorder.count(), count, "no request after interruption")
    }).pipe(Effect.scoped))

  it.live("idle: zero non-watch requests while 10 virtual minutes pass", () =>
    Effect.gen(function*() {
      // "Idle" here: nothing changes in the cluster while the informer is connected. kube-sim's
      // clock is virtual (we move it 10 minutes forward in 1-minute steps), but client-node's
      // timers are real: its watch inactivity timeout (30 s by default) is shortened to 400 ms,
      // so during the ~3 real seconds of this test the informer goes through several idle
      // reconnects — exactly what 10 idle minutes look like in production (20 reconnects at
      // 30 s). client-node has no resync timer. The assertion is that after the initial list
      // every request is a watch, from the same resourceVersion (no relist, no polling).
      let virtualNow = Date.UTC(2026, 0, 1)
      const s = yield* sim({ now: () => virtualNow })
      put(s, "pods", pod("default", "a"))
      const { names } = yield* collect(s, { inactivityTimeoutMs: 400 })
      yield* until(() => s.openWatches === 1 && names("add").length === 1, 15_000, "informer up")
      const after = s.recorder.count()
      for (let minute = 0; minute < 10; minute++) {
        virtualNow += 60_000
        yield* Effect.sleep("300 millis")
      }
      const idle = s.recorder.requests().slice(after)
      assert.ok(idle.length >= 3, `several idle reconnects happened (${idle.length})`)
      assert.deepStrictEqual(idle.filter((r) => !r.watch).map((r) => `${r.method} ${r.path}`), [])
      const rvs = new Set(idle.map((r) => r.query.resourceVersion))
      assert.strictEqual(rvs.size, 1, "every reconnect resumes from the same resourceVersion")
      assert.strictEqual(s.recorder.count({ watch: false, path: PODS }), 1, "one list in total")
    }).pipe(Effect.scoped))

  it.live("K8sDetector.fromInformer maps events to Signals; a failing mapping is skipped", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "ok-1"))
      put(s, "pods", pod("default", "bad-1"))
      put(s, "pods", pod("default", "ok-2"))
      const detector = K8sDetector.fromInformer({
        name: "test.pods",
        resource: Resource.pods,
        namespace: "default",
        toSignals: (e) =>
          e.object.metadata?.name?.startsWith("bad")
            ? Effect.fail("boom")
            : Effect.succeed([{ type: "pod.seen", target: { kind: "k8s.pod", ref: `default/${e.object.metadata?.name}` }, observedAt: 0, evidence: {} }])
      })
      assert.strictEqual(detector.name, "test.pods")
      const got = yield* detector.signals.pipe(Stream.take(2), Stream.runCollect, Effect.provide(kubeLayer(s)))
      assert.deepStrictEqual(got.map((x) => (x as { target: { ref: string } }).target.ref).sort(), ["default/ok-1", "default/ok-2"])
    }).pipe(Effect.scoped))
})
