/**
 * A recorded incident loads verbatim (issue 9 item 9): a `kubectl get -o json` List from a real
 * cluster — nulls in finishedAt/startedAt/lastProbeTime/template creationTimestamp, managedFields,
 * ownerReferences, recorded uids, resourceVersions and statuses — read back through the real
 * client-node and kubectl as recorded, with the clock at the capture time.
 */
import { AppsV1Api, CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys, KubeSim, MemoryStore, Recording } from "../../src/index"
import type { KubeObject, KubeSimInstance } from "../../src/index"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

const text = readFileSync(join(import.meta.dirname, "../fixtures/recorded-oom-incident.json"), "utf8")
const recorded = JSON.parse(text) as { items: Array<KubeObject> }
const byName = (kind: string, name: string) => recorded.items.find((o) => o.kind === kind && o.metadata.name === name)!
const CAPTURED = Date.parse("2026-02-14T03:41:09Z") // the latest timestamp in the recording

let sims: Array<KubeSimInstance> = []
afterEach(async () => {
  for (const s of sims) await s.close()
  sims = []
})
const start = async (options: Parameters<typeof KubeSim.start>[0] = {}) => {
  const sim = await KubeSim.start({ seed: 3, recording: { objects: text }, ...options })
  sims.push(sim)
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  return { sim, kc }
}

describe("kube-sim: a recording loads verbatim", () => {
  it("the store keeps every recorded field, null and resourceVersion (create would rewrite uid and creationTimestamp)", () => {
    const store = MemoryStore.make({ now: () => CAPTURED, seed: 1 })
    const r = Recording.load(store, recorded)
    assert.strictEqual(r.loaded, 4)
    assert.deepStrictEqual(r.namespacesCreated, ["shop"])
    assert.deepStrictEqual(r.skipped.map((s) => s.kind), ["CiliumEndpoint"])
    for (const o of recorded.items.filter((o) => o.kind !== "CiliumEndpoint")) {
      const key = o.kind === "Pod" ? Keys.pods : o.kind === "Deployment" ? Keys.deployments : Keys.replicasets
      assert.strictEqual(JSON.stringify(store.get(key, "shop", o.metadata.name)), JSON.stringify(o), `${o.kind} ${o.metadata.name}`)
    }
    // the store's resourceVersion continues after the recording's newest one
    assert.strictEqual(store.resourceVersion, 48211955)
    const created = store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after", namespace: "shop" } })
    assert.strictEqual(created.metadata.resourceVersion, "48211956")
    // the create path, for contrast, rewrites identity: the reason a load path exists
    const other = MemoryStore.make({ now: () => CAPTURED, seed: 1 })
    const pod = byName("Pod", "checkout-6d9c7b8f5d-x7k2p")
    const viaCreate = other.create(Keys.pods, pod)
    assert.notStrictEqual(viaCreate.metadata.uid, pod.metadata.uid)
    assert.notStrictEqual(viaCreate.metadata.creationTimestamp, pod.metadata.creationTimestamp)
  })

  it("the capture time is the latest recorded timestamp, or the one given", () => {
    assert.strictEqual(Recording.latestTimestamp(text), CAPTURED)
    assert.strictEqual(Recording.latestTimestamp({ items: [] }), undefined)
  })

  it("client-node reads back the recorded pods, owners and managedFields; the clock starts at the capture time", async () => {
    const before = Date.now()
    const { sim, kc } = await start()
    assert.strictEqual(sim.capturedAt, CAPTURED)
    assert.strictEqual(sim.loaded?.loaded, 4)
    const core = kc.makeApiClient(CoreV1Api)
    const apps = kc.makeApiClient(AppsV1Api)
    const pods = await core.listNamespacedPod({ namespace: "shop" })
    assert.deepStrictEqual(pods.items.map((p) => p.metadata?.name).sort(), ["checkout-6d9c7b8f5d-q4wzr", "checkout-6d9c7b8f5d-x7k2p"])
    for (const p of pods.items) {
      // the client's typed object, as JSON (Dates print with milliseconds): exactly the recorded object
      const want = byName("Pod", p.metadata!.name!)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(p)), normalizeDates(want), p.metadata!.name!)
    }
    const evicted = pods.items.find((p) => p.metadata?.name === "checkout-6d9c7b8f5d-q4wzr")!
    const t = evicted.status!.containerStatuses![0]!.state!.terminated!
    assert.strictEqual(t.reason, "ContainerStatusUnknown")
    assert.isNull(t.finishedAt ?? null)
    assert.isNull(t.startedAt ?? null)
    assert.strictEqual(evicted.status!.reason, "Evicted")
    const oom = pods.items.find((p) => p.metadata?.name === "checkout-6d9c7b8f5d-x7k2p")!
    assert.strictEqual(oom.metadata!.uid, "0b6f3c2a-9d8e-4f17-b2c4-6e1a7d5f8c93")
    assert.strictEqual(oom.metadata!.ownerReferences![0]!.uid, "a3e9f0b2-1c44-4d2e-8f61-0b7d2c9e4a51")
    assert.strictEqual(oom.status!.containerStatuses![0]!.lastState!.terminated!.reason, "OOMKilled")
    assert.strictEqual(oom.metadata!.resourceVersion, "48211955")
    const dep = await apps.readNamespacedDeployment({ namespace: "shop", name: "checkout" })
    assert.strictEqual(dep.metadata!.uid, "5f0c1d7e-7a43-4c1b-9a55-2f8f4c3b9e10")
    assert.strictEqual(dep.metadata!.generation, 9)
    assert.deepStrictEqual(dep.metadata!.managedFields!.map((m) => m.manager), ["argocd-controller", "kube-controller-manager"])
    assert.strictEqual(dep.metadata!.creationTimestamp!.toISOString(), "2025-11-03T09:14:27.000Z")
    assert.strictEqual(dep.status!.unavailableReplicas, 1)
    // the owner chain resolves through the recorded uids
    const rs = await apps.readNamespacedReplicaSet({ namespace: "shop", name: "checkout-6d9c7b8f5d" })
    assert.strictEqual(rs.metadata!.ownerReferences![0]!.uid, dep.metadata!.uid)
    // the clock: a write now is stamped at the capture time (plus the real time since the start)
    const cm = await core.createNamespacedConfigMap({ namespace: "shop", body: { metadata: { name: "probe" } } })
    const stamped = cm.metadata!.creationTimestamp!.getTime()
    assert.isAtLeast(stamped, CAPTURED - 1000)
    assert.isAtMost(stamped, CAPTURED + (Date.now() - before) + 1000)
  })

  it("a watch resumes from the recorded resourceVersion (the List's version is the recording's newest)", async () => {
    const { kc } = await start()
    const core = kc.makeApiClient(CoreV1Api)
    const list = await core.listNamespacedPod({ namespace: "shop" })
    assert.strictEqual(list.metadata!.resourceVersion, "48211955")
    const events: Array<string> = []
    const w = new Watch(kc)
    const req = await w.watch("/api/v1/namespaces/shop/pods", { resourceVersion: list.metadata!.resourceVersion }, (type, obj) => events.push(`${type} ${obj.metadata.name}`), () => {})
    await core.deleteNamespacedPod({ namespace: "shop", name: "checkout-6d9c7b8f5d-q4wzr" })
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    req.abort()
    assert.deepStrictEqual(events, ["DELETED checkout-6d9c7b8f5d-q4wzr"])
  })

  it("an explicit capture time wins over the recorded timestamps", async () => {
    const { sim } = await start({ recording: { objects: recorded.items, capturedAt: "2026-02-14T04:00:00Z" } })
    assert.strictEqual(sim.capturedAt, Date.parse("2026-02-14T04:00:00Z"))
    assert.isAtLeast(sim.store.now(), Date.parse("2026-02-14T04:00:00Z"))
  })

  const k = kubectlAvailable() ? it : it.skip
  k("kubectl get -o json prints the recorded objects back, nulls included", async () => {
    const { sim } = await start()
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-rec-"))
    const kubeconfig = join(dir, "kubeconfig")
    writeFileSync(kubeconfig, sim.kubeconfig())
    const { run, cleanup } = runner(kubeconfig)
    try {
      const got = await run(["get", "pods,deployments,replicasets", "-n", "shop", "-o", "json", "--show-managed-fields"])
      assert.strictEqual(got.code, 0, got.stderr)
      const items = (JSON.parse(got.stdout) as { items: Array<KubeObject> }).items
      assert.strictEqual(items.length, 4)
      for (const o of items) assert.deepStrictEqual(o, byName(o.kind!, o.metadata.name), `${o.kind} ${o.metadata.name}`)
      const wide = await run(["get", "pods", "-n", "shop"])
      assert.match(wide.stdout, /checkout-6d9c7b8f5d-x7k2p\s+0\/1\s+CrashLoopBackOff\s+4/)
    } finally {
      cleanup()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** RFC 3339 seconds as client-node serializes Dates (milliseconds added). */
const normalizeDates = (v: unknown): unknown => {
  if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(v)) return v.replace("Z", ".000Z")
  if (Array.isArray(v)) return v.map(normalizeDates)
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeDates(x)]))
  return v
}
