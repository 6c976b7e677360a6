/**
 * Issue 17 §3, idle requests: ≤ 1 request per watch per 5 minutes. Each watch asks for bookmarks
 * and a server-side lifetime (`timeoutSeconds` 540 by default) instead of client-node's 30 s
 * re-open of a silent watch. The watch timers are real time, so the windows are scaled: the
 * server's bookmarks every 100 ms, the inactivity timeout 400 ms (the ratio of 1 min to 3 min
 * is kept loose), kube-sim's recorder the witness.
 */
import { assert, describe, it } from "@effect/vitest"
import type { V1Pod } from "@kubernetes/client-node"
import { Effect, Stream } from "effect"
import * as Informer from "../../src/informers/Informer"
import * as Resource from "../../src/informers/Resource"
import { kubeLayer, pod, put, sim, until } from "../foundation/helpers"

const PODS = "/api/v1/namespaces/default/pods"

const run = (s: Parameters<typeof kubeLayer>[0], options: Informer.WatchOptions) =>
  Effect.gen(function*() {
    const seen: Array<Informer.InformerEvent<V1Pod>> = []
    yield* Informer.watch(Resource.pods, { namespace: "default", ...options }).pipe(
      Stream.runForEach((e) => Effect.sync(() => seen.push(e))),
      Effect.provide(kubeLayer(s)),
      Effect.forkScoped
    )
    return seen
  })

describe("idle watches (issue 17 §3)", () => {
  it.live("the watch asks for bookmarks and a 540 s server-side lifetime by default", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "a"))
      yield* run(s, {})
      yield* until(() => s.openWatches === 1, 15_000, "watching")
      const [w] = s.recorder.requests({ path: PODS, watch: true })
      assert.strictEqual(w!.query["allowWatchBookmarks"], "true")
      assert.strictEqual(w!.query["timeoutSeconds"], String(Informer.defaultWatchTimeoutSeconds))
      assert.isAtLeast(Informer.defaultWatchTimeoutSeconds, 300, "≤ 1 request per watch per 5 minutes")
      assert.isAbove(Informer.defaultInactivityTimeoutMs, 60_000, "above the apiserver's one-minute bookmark interval")
    }).pipe(Effect.scoped))

  it.live("bookmarks keep an idle watch open past the inactivity timeout: no re-open while idle", () =>
    Effect.gen(function*() {
      const s = yield* sim({ bookmarkIntervalMs: 100 })
      put(s, "pods", pod("default", "a"))
      const seen = yield* run(s, { inactivityTimeoutMs: 400 })
      yield* until(() => s.openWatches === 1 && seen.length === 1, 15_000, "informer up")
      const after = s.recorder.count()
      // five inactivity timeouts of silence, bookmarks only
      yield* Effect.sleep("2 seconds")
      assert.deepStrictEqual(s.recorder.requests().slice(after).map((r) => `${r.method} ${r.path}`), [], "no request at all while idle")
      assert.strictEqual(s.openWatches, 1)
    }).pipe(Effect.scoped))

  it.live("the server ends a watch after timeoutSeconds; it resumes from the last resourceVersion (a watch, never a list)", () =>
    Effect.gen(function*() {
      const s = yield* sim({ bookmarkIntervalMs: 100 })
      put(s, "pods", pod("default", "a"))
      const seen = yield* run(s, { watchTimeoutSeconds: 1 })
      yield* until(() => s.openWatches === 1 && seen.length === 1, 15_000, "informer up")
      yield* until(() => s.recorder.count({ path: PODS, watch: true }) >= 2, 15_000, "re-opened after the server's timeout")
      assert.strictEqual(s.recorder.count({ path: PODS, watch: false }), 1, "one list in total")
      assert.strictEqual(seen.length, 1, "nothing re-emitted")
    }).pipe(Effect.scoped))
})
