import { assert, describe, it } from "@effect/vitest"
import { Keys, MemoryStore, PodLogs, StoreError } from "../../src/store/index"
import type { KubeObject, WatchEvent } from "../../src/store/index"

const pod = (name: string, labels: Record<string, string> = {}, nodeName?: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", labels },
  spec: { containers: [{ name: "app", image: "nginx:1.27" }], ...(nodeName ? { nodeName } : {}) }
})

const catchError = (f: () => unknown): StoreError => {
  try {
    f()
  } catch (e) {
    if (e instanceof StoreError) return e
    throw e
  }
  throw new Error("expected a StoreError")
}

describe("MemoryStore", () => {
  it("assigns rv, uid, timestamps from the injected clock and defaults", () => {
    const store = MemoryStore.make({ now: () => Date.UTC(2026, 0, 1, 12, 0, 0), seed: 7 })
    const p = store.create(Keys.pods, pod("a"))
    assert.strictEqual(p.metadata.resourceVersion, "1")
    assert.strictEqual(p.metadata.creationTimestamp, "2026-01-01T12:00:00Z")
    assert.match(p.metadata.uid!, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.strictEqual((p["spec"] as any).restartPolicy, "Always")
    assert.strictEqual((p["spec"] as any).containers[0].imagePullPolicy, "IfNotPresent")
    assert.strictEqual(store.resourceVersion, 1)
    const e = catchError(() => store.create(Keys.pods, pod("a")))
    assert.strictEqual(e.code, 409)
    assert.strictEqual(e.reason, "AlreadyExists")
    assert.strictEqual(e.message, 'pods "a" already exists')
  })

  it("is deterministic for a seed (uids and generateName)", () => {
    const mk = () => {
      const s = MemoryStore.make({ seed: 42 })
      return s.create(Keys.pods, { ...pod(""), metadata: { name: "", generateName: "web-", namespace: "default" } })
    }
    const a = mk()
    const b = mk()
    assert.strictEqual(a.metadata.uid, b.metadata.uid)
    assert.strictEqual(a.metadata.name, b.metadata.name)
    assert.match(a.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
  })

  it("conflicts on stale rv, skips no-op writes, bumps generation on spec change only", () => {
    const store = MemoryStore.make()
    const d = store.create(Keys.deployments, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "default" },
      spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "x:1" }] } } }
    })
    assert.strictEqual(d.metadata.generation, 1)
    const same = store.update(Keys.deployments, d)
    assert.strictEqual(same.metadata.resourceVersion, d.metadata.resourceVersion)
    const withStatus = store.mutate(Keys.deployments, "default", "web", (o) => {
      o["status"] = { replicas: 1 }
    })!
    assert.strictEqual(withStatus.metadata.generation, 1)
    const scaled = store.mutate(Keys.deployments, "default", "web", (o) => {
      ;(o["spec"] as any).replicas = 3
    })!
    assert.strictEqual(scaled.metadata.generation, 2)
    const e = catchError(() => store.update(Keys.deployments, d))
    assert.strictEqual(e.reason, "Conflict")
    assert.include(e.message, 'Operation cannot be fulfilled on deployments.apps "web": the object has been modified')
  })

  it("fans out ordered events even when a listener writes, and replays history; 410 beyond it", () => {
    const store = MemoryStore.make({ historySize: 3 })
    const seen: Array<string> = []
    store.subscribe((key, ev: WatchEvent, info) => {
      seen.push(`${info.resourceVersion}:${key.resource}:${ev.type}`)
      if (key.resource === "pods" && ev.type === "ADDED") {
        store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${ev.object.metadata.name}`, namespace: "default" } })
      }
    })
    store.create(Keys.pods, pod("a"))
    store.create(Keys.pods, pod("b"))
    assert.deepStrictEqual(seen, ["1:pods:ADDED", "2:configmaps:ADDED", "3:pods:ADDED", "4:configmaps:ADDED"])
    assert.deepStrictEqual(store.eventsSince(2)!.map((r) => r.rv), [3, 4])
    assert.isUndefined(store.eventsSince(0))
    store.compact()
    assert.isUndefined(store.eventsSince(3))
    assert.deepStrictEqual(store.eventsSince(4), [])
  })

  it("lists with label and field selectors, sorted", () => {
    const store = MemoryStore.make()
    store.create(Keys.pods, pod("b", { app: "web", tier: "fe" }, "n1"))
    store.create(Keys.pods, pod("a", { app: "web" }, "n2"))
    store.create(Keys.pods, pod("c", { app: "db" }))
    assert.deepStrictEqual(store.list(Keys.pods, { labelSelector: "app=web" }).map((p) => p.metadata.name), ["a", "b"])
    assert.deepStrictEqual(store.list(Keys.pods, { labelSelector: "app in (web,db),!tier" }).map((p) => p.metadata.name), ["a", "c"])
    assert.deepStrictEqual(store.list(Keys.pods, { fieldSelector: "spec.nodeName=n1" }).map((p) => p.metadata.name), ["b"])
    assert.deepStrictEqual(store.list(Keys.pods, { fieldSelector: "spec.nodeName=" }).map((p) => p.metadata.name), ["c"])
    assert.deepStrictEqual(store.list(Keys.pods, { labelSelector: "app in(db), tier notin (fe)" }).map((p) => p.metadata.name), ["c"])
    assert.deepStrictEqual(store.list(Keys.pods, { labelSelector: "app == web, tier" }).map((p) => p.metadata.name), ["b"])
    assert.deepStrictEqual(store.list(Keys.pods, { fieldSelector: "spec.nodeName!=n1,metadata.namespace==default" }).map((p) => p.metadata.name), ["a", "c"])
    assert.throws(() => store.list(Keys.pods, { labelSelector: "app in (web" }), /unable to parse requirement/)
    assert.throws(() => store.list(Keys.pods, { labelSelector: "Bad Key=1" }), /unable to parse requirement/)
  })

  it("deletes pods immediately in API mode and gracefully when a kubelet is installed", () => {
    const store = MemoryStore.make({ now: () => 1_000_000 })
    store.create(Keys.pods, pod("bound", {}, "n1"))
    store.create(Keys.pods, pod("unbound"))
    assert.isTrue(store.requestDelete(Keys.pods, "default", "bound").deleted)
    store.create(Keys.pods, pod("bound", {}, "n1"))
    store.gracefulDeletion = true
    const r = store.requestDelete(Keys.pods, "default", "bound")
    assert.isFalse(r.deleted)
    assert.strictEqual(r.object.metadata.deletionGracePeriodSeconds, 30)
    assert.strictEqual(r.object.metadata.deletionTimestamp, new Date(1_030_000).toISOString().replace(".000", ""))
    assert.isTrue(store.requestDelete(Keys.pods, "default", "unbound").deleted)
    assert.isTrue(store.requestDelete(Keys.pods, "default", "bound", { gracePeriodSeconds: 0 }).deleted)
    assert.isUndefined(store.get(Keys.pods, "default", "bound"))
  })

  it("holds objects with finalizers until the finalizers are removed", () => {
    const store = MemoryStore.make()
    store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "f", namespace: "default", finalizers: ["x/y"] } })
    const r = store.requestDelete(Keys.configmaps, "default", "f")
    assert.isFalse(r.deleted)
    assert.isString(r.object.metadata.deletionTimestamp)
    store.mutate(Keys.configmaps, "default", "f", (o) => {
      o.metadata.finalizers = []
    })
    assert.isUndefined(store.get(Keys.configmaps, "default", "f"))
  })
})

describe("PodLogs", () => {
  it("appends, rotates, tails", () => {
    const logs = PodLogs.make({ now: () => 0 })
    logs.append("default", "p", "app", "one")
    logs.append("default", "p", "app", "two")
    assert.isUndefined(logs.read("default", "p", "app", { previous: true }))
    logs.rotate("default", "p", "app")
    logs.append("default", "p", "app", "three")
    assert.strictEqual(logs.read("default", "p", "app"), "three\n")
    assert.strictEqual(logs.read("default", "p", "app", { previous: true, tailLines: 1 }), "two\n")
  })
})
