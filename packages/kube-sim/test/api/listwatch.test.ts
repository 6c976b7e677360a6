import { CoreV1Api, ListWatch, makeInformer, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node"
import type { KubeConfig, V1Pod } from "@kubernetes/client-node"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { Keys } from "../../src/index"
import { apiError, podManifest, startSim, until } from "./helpers"

let sim: KubeSimInstance
let kc: KubeConfig
let core: CoreV1Api
const aborts: Array<AbortController> = []

beforeAll(async () => {
  const s = await startSim({ bookmarkIntervalMs: 100, historySize: 50 })
  sim = s.sim
  kc = s.kc
  core = kc.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: "lw" } } })
  for (let i = 0; i < 12; i++) {
    await core.createNamespacedPod({
      namespace: "lw",
      body: podManifest(`p-${String(i).padStart(2, "0")}`, { app: i % 2 === 0 ? "even" : "odd", idx: String(i) }, i < 3 ? { nodeName: "node-a" } : {})
    })
  }
})
afterEach(() => {
  for (const a of aborts.splice(0)) a.abort()
})
afterAll(() => sim.close())

const watchEvents = async (path: string, query: Record<string, string | number | boolean | undefined>) => {
  const events: Array<{ type: string; name: string; rv: string; obj: any }> = []
  let done: unknown = "open"
  const ac = await new Watch(kc).watch(
    path,
    query,
    (type, obj) => events.push({ type, name: obj?.metadata?.name, rv: obj?.metadata?.resourceVersion, obj }),
    (err) => {
      done = err ?? null
    }
  )
  aborts.push(ac)
  return { events, ac, done: () => done }
}

describe("list", () => {
  it("filters by label and field selectors (full syntax) and rejects unsupported field labels", async () => {
    const even = await core.listNamespacedPod({ namespace: "lw", labelSelector: "app=even,idx notin (0,2)" })
    assert.deepStrictEqual(even.items.map((p) => p.metadata!.name), ["p-04", "p-06", "p-08", "p-10"])
    const onNode = await core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-a" })
    assert.deepStrictEqual(onNode.items.map((p) => p.metadata!.name), ["p-00", "p-01", "p-02"])
    const byName = await core.listNamespacedPod({ namespace: "lw", fieldSelector: "metadata.name=p-05" })
    assert.strictEqual(byName.items.length, 1)
    const notPending = await core.listNamespacedPod({ namespace: "lw", fieldSelector: "status.phase!=Pending" })
    assert.strictEqual(notPending.items.length, 0)
    const bad = await apiError(() => core.listNamespacedPod({ namespace: "lw", fieldSelector: "spec.bogus=1" }))
    assert.strictEqual(bad.code, 400)
    assert.strictEqual(bad.body.message, "field label not supported: spec.bogus")
  })

  it("paginates with limit/continue and remainingItemCount", async () => {
    const names: Array<string> = []
    let cont: string | undefined
    let pages = 0
    do {
      const page = await core.listNamespacedPod({ namespace: "lw", limit: 5, ...(cont ? { _continue: cont } : {}) })
      names.push(...page.items.map((p) => p.metadata!.name!))
      if (pages === 0) assert.strictEqual(page.metadata!.remainingItemCount, 7)
      cont = page.metadata!._continue
      pages++
    } while (cont)
    assert.strictEqual(pages, 3)
    assert.deepStrictEqual(names, Array.from({ length: 12 }, (_, i) => `p-${String(i).padStart(2, "0")}`))
    const sel = await core.listNamespacedPod({ namespace: "lw", labelSelector: "app=odd", limit: 4 })
    assert.strictEqual(sel.items.length, 4)
    const rest = await core.listNamespacedPod({ namespace: "lw", labelSelector: "app=odd", limit: 4, _continue: sel.metadata!._continue! })
    assert.deepStrictEqual(rest.items.map((p) => p.metadata!.name), ["p-09", "p-11"])
    assert.isUndefined(rest.metadata!._continue)
    const badCont = await apiError(() => core.listNamespacedPod({ namespace: "lw", limit: 4, _continue: "garbage" }))
    assert.strictEqual(badCont.code, 400)
  })

  it("a continue token older than the history window is 410 Expired with a fresh token", async () => {
    const first = await core.listNamespacedPod({ namespace: "lw", limit: 5 })
    sim.store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "churn", namespace: "default" } })
    for (let i = 0; i < 60; i++) {
      sim.store.mutate(Keys.configmaps, "default", "churn", (c) => {
        c["data"] = { i: String(i) }
      })
    }
    const e = await apiError(() => core.listNamespacedPod({ namespace: "lw", limit: 5, _continue: first.metadata!._continue! }))
    assert.strictEqual(e.code, 410)
    assert.strictEqual(e.body.reason, "Expired")
    assert.match(e.body.message, /^The provided continue parameter is too old/)
    const next = await core.listNamespacedPod({ namespace: "lw", limit: 5, _continue: e.body.metadata.continue })
    assert.strictEqual(next.items[0]!.metadata!.name, "p-05")
  })
})

describe("watch", () => {
  it("without a resourceVersion sends the current state as ADDED, then live events", async () => {
    const w = await watchEvents("/api/v1/namespaces/lw/pods", { labelSelector: "app=even" })
    await until(() => w.events.length === 6, 3000, "initial ADDED")
    assert.isTrue(w.events.every((e) => e.type === "ADDED"))
    await core.patchNamespacedPod({ namespace: "lw", name: "p-00", body: { metadata: { annotations: { touched: "1" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
    await until(() => w.events.length === 7, 3000, "MODIFIED")
    assert.deepInclude(w.events[6]!, { type: "MODIFIED", name: "p-00" })
  })

  it("replays every change after a resourceVersion, then goes live; selector transitions become ADDED/DELETED", async () => {
    const list = await core.listNamespacedPod({ namespace: "lw" })
    const rv = list.metadata!.resourceVersion!
    const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    await core.patchNamespacedPod({ namespace: "lw", name: "p-01", body: { metadata: { labels: { app: "even" } } } }, merge)
    await core.deleteNamespacedPod({ namespace: "lw", name: "p-11" })
    const w = await watchEvents("/api/v1/namespaces/lw/pods", { resourceVersion: rv, labelSelector: "app=odd" })
    await until(() => w.events.length === 2, 3000, "replay")
    assert.deepStrictEqual(w.events.map((e) => `${e.type}:${e.name}`), ["DELETED:p-01", "DELETED:p-11"])
    await core.patchNamespacedPod({ namespace: "lw", name: "p-01", body: { metadata: { labels: { app: "odd" } } } }, merge)
    await until(() => w.events.length === 3, 3000, "live ADDED")
    assert.deepInclude(w.events[2]!, { type: "ADDED", name: "p-01" })
    assert.isTrue(Number(w.events[2]!.rv) > Number(rv))
  })

  it("sends BOOKMARKs with allowWatchBookmarks and the initial-events-end bookmark with sendInitialEvents", async () => {
    const w = await watchEvents("/api/v1/namespaces/lw/pods", {
      allowWatchBookmarks: true,
      sendInitialEvents: true,
      resourceVersionMatch: "NotOlderThan",
      fieldSelector: "metadata.name=p-03"
    })
    await until(() => w.events.filter((e) => e.type === "BOOKMARK").length >= 2, 3000, "bookmarks")
    assert.deepInclude(w.events[0]!, { type: "ADDED", name: "p-03" })
    assert.strictEqual(w.events[1]!.type, "BOOKMARK")
    assert.strictEqual(w.events[1]!.obj.metadata.annotations["k8s.io/initial-events-end"], "true")
    assert.strictEqual(w.events[1]!.obj.kind, "Pod")
    assert.strictEqual(w.events[2]!.obj.metadata.resourceVersion, String(sim.store.resourceVersion))
  })

  it("answers 410 Expired (ERROR event, stream closed) for a resourceVersion older than the history", async () => {
    for (let i = 0; i < 60; i++) {
      sim.store.mutate(Keys.pods, "lw", "p-05", (p) => {
        p.metadata.annotations = { n: String(i) }
      })
    }
    const w = await watchEvents("/api/v1/namespaces/lw/pods", { resourceVersion: "2" })
    await until(() => w.done() !== "open", 3000, "stream end")
    assert.strictEqual(w.events.length, 1)
    assert.strictEqual(w.events[0]!.type, "ERROR")
    assert.strictEqual(w.events[0]!.obj.code, 410)
    assert.strictEqual(w.events[0]!.obj.reason, "Expired")
    assert.match(w.events[0]!.obj.message, /^too old resource version: 2 \(\d+\)$/)
  })

  it("closes after timeoutSeconds", async () => {
    const w = await watchEvents("/api/v1/namespaces/lw/pods", { timeoutSeconds: 1, resourceVersion: String(sim.store.resourceVersion) })
    await until(() => w.done() !== "open", 3000, "timeout close")
    assert.strictEqual(w.done(), null)
  })
})

describe("informer", () => {
  it("lists, then watches from the list RV; add/update/delete reach the handlers", async () => {
    const informer = makeInformer(kc, "/api/v1/namespaces/lw/pods", () => core.listNamespacedPod({ namespace: "lw" }))
    const seen = { add: 0, update: 0, delete: 0 }
    informer.on("add", () => seen.add++)
    informer.on("update", () => seen.update++)
    informer.on("delete", () => seen.delete++)
    await informer.start()
    try {
      const initial = informer.list().length
      assert.strictEqual(seen.add, initial)
      await core.createNamespacedPod({ namespace: "lw", body: podManifest("inf-1") })
      await core.patchNamespacedPod({ namespace: "lw", name: "inf-1", body: { metadata: { labels: { x: "y" } } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
      await core.deleteNamespacedPod({ namespace: "lw", name: "inf-1" })
      await until(() => seen.delete === 1, 3000, "delete event")
      assert.strictEqual(seen.add, initial + 1)
      assert.strictEqual(seen.update, 1)
      const watches = sim.recorder.requests({ path: "/api/v1/namespaces/lw/pods", watch: true })
      assert.isTrue(watches.length >= 1)
      assert.notStrictEqual(watches.at(-1)!.query["resourceVersion"], "")
    } finally {
      await informer.stop()
    }
  })

  it("relists after a forced 410 (as an ERROR event and as HTTP 410); the recorder shows the second list", async () => {
    for (const http of [false, true]) {
      const lists = () => sim.recorder.count({ method: "GET", path: "/api/v1/namespaces/lw/pods", watch: false })
      // the ListWatch makeInformer builds, without its wall-clock back-off between reconnects
      // (1 s, then doubling): the test checks what the client asks the server, not how long it waits
      const informer = new ListWatch<V1Pod>("/api/v1/namespaces/lw/pods", new Watch(kc), () => core.listNamespacedPod({ namespace: "lw" }), false, undefined, undefined, {
        delayFn: async () => {}
      })
      const errors: Array<unknown> = []
      informer.on("error", (e) => errors.push(e))
      const before = lists()
      await informer.start()
      try {
        assert.strictEqual(lists(), before + 1)
        sim.faults.expireNextWatch({ http })
        sim.faults.dropWatches()
        await until(() => lists() === before + 2, 5000, "relist")
        await core.createNamespacedPod({ namespace: "lw", body: podManifest(`after-410-${http}`) })
        await until(() => informer.get(`after-410-${http}`, "lw") !== undefined, 5000, "informer sees new pod")
        assert.deepStrictEqual(errors, [])
      } finally {
        await informer.stop()
      }
    }
  })
})
