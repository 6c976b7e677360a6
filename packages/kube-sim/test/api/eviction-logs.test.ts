import { CoreV1Api, Log, PatchStrategy, PolicyV1Api, setHeaderOptions } from "@kubernetes/client-node"
import type { KubeConfig } from "@kubernetes/client-node"
import { PassThrough } from "node:stream"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { Keys } from "../../src/index"
import { apiError, podManifest, startSim, until } from "./helpers"

let sim: KubeSimInstance
let kc: KubeConfig
let core: CoreV1Api
let policy: PolicyV1Api
const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)

const makeReady = async (name: string, ready = true) => {
  await core.patchNamespacedPodStatus(
    {
      namespace: "default",
      name,
      body: { status: { phase: "Running", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] } }
    },
    smp
  )
}

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  kc = s.kc
  core = kc.makeApiClient(CoreV1Api)
  policy = kc.makeApiClient(PolicyV1Api)
  const rs = sim.store.create(Keys.replicasets, {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web-rs", namespace: "default" },
    spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } }
  })
  const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-rs", uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true }
  for (const n of ["web-1", "web-2", "web-3"]) {
    const body = podManifest(n, { app: "web" }, { nodeName: "node-1" })
    await core.createNamespacedPod({ namespace: "default", body: { ...body, metadata: { ...body.metadata, ownerReferences: [owner] } } })
    await makeReady(n)
  }
})
afterAll(() => sim.close())

const evict = (name: string) =>
  core.createNamespacedPodEviction({ namespace: "default", name, body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name, namespace: "default" } } })

describe("eviction with PodDisruptionBudgets", () => {
  it("maintains PDB status and answers 429 with the DisruptionBudget cause when no disruption is allowed", async () => {
    await policy.createNamespacedPodDisruptionBudget({ namespace: "default", body: { metadata: { name: "web-pdb" }, spec: { minAvailable: 3, selector: { matchLabels: { app: "web" } } } } })
    const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace: "default", name: "web-pdb" })
    assert.deepInclude(pdb.status!, { currentHealthy: 3, desiredHealthy: 3, disruptionsAllowed: 0, expectedPods: 3, observedGeneration: 1 })
    assert.strictEqual(pdb.status!.conditions![0]!.reason, "InsufficientPods")
    const e = await apiError(() => evict("web-1"))
    assert.strictEqual(e.code, 429)
    assert.deepStrictEqual(e.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Cannot evict pod as it would violate the pod's disruption budget.",
      reason: "TooManyRequests",
      details: { causes: [{ reason: "DisruptionBudget", message: "The disruption budget web-pdb needs 3 healthy pods and has 3 currently" }] },
      code: 429
    })
    assert.isDefined(sim.store.get(Keys.pods, "default", "web-1"))
  })

  it("allows the eviction once the budget permits it (maxUnavailable), then blocks the next one", async () => {
    await policy.patchNamespacedPodDisruptionBudget(
      { namespace: "default", name: "web-pdb", body: { spec: { minAvailable: null, maxUnavailable: "34%" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    )
    const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace: "default", name: "web-pdb" })
    assert.deepInclude(pdb.status!, { desiredHealthy: 1, disruptionsAllowed: 2, expectedPods: 3, observedGeneration: 2 })
    const ok = await evict("web-1")
    assert.strictEqual(ok.kind, "Status")
    assert.isUndefined(sim.store.get(Keys.pods, "default", "web-1"))
    await evict("web-2")
    const after = await policy.readNamespacedPodDisruptionBudget({ namespace: "default", name: "web-pdb" })
    assert.deepInclude(after.status!, { currentHealthy: 1, desiredHealthy: 1, disruptionsAllowed: 0, expectedPods: 3 })
    const blocked = await apiError(() => evict("web-3"))
    assert.strictEqual(blocked.code, 429)
    assert.strictEqual(blocked.body.details.causes[0].message, "The disruption budget web-pdb needs 1 healthy pods and has 1 currently")
  })

  it("graceful deletion: an evicted bound pod gets deletionTimestamp + grace when a kubelet is installed", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podManifest("web-4", { app: "api" }, { nodeName: "node-1", terminationGracePeriodSeconds: 20 }) })
    await makeReady("web-4")
    sim.store.gracefulDeletion = true
    try {
      await evict("web-4")
      const p = await core.readNamespacedPod({ namespace: "default", name: "web-4" })
      assert.strictEqual(p.metadata!.deletionGracePeriodSeconds, 20)
      assert.instanceOf(p.metadata!.deletionTimestamp, Date)
      // the kubelet finalises with store.delete
      sim.store.delete(Keys.pods, "default", "web-4")
      // gracePeriodSeconds=0 deletes a bound pod immediately
      await core.createNamespacedPod({ namespace: "default", body: podManifest("web-5", {}, { nodeName: "node-1" }) })
      await core.deleteNamespacedPod({ namespace: "default", name: "web-5", gracePeriodSeconds: 0 })
      assert.isUndefined(sim.store.get(Keys.pods, "default", "web-5"))
    } finally {
      sim.store.gracefulDeletion = false
    }
  })

  it("error shapes: 404 for a missing pod, 400 for a name mismatch, 500 for two PDBs; pending pods bypass the PDB", async () => {
    assert.strictEqual((await apiError(() => evict("nope"))).code, 404)
    const mismatch = await apiError(() =>
      core.createNamespacedPodEviction({ namespace: "default", name: "web-3", body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "other" } } })
    )
    assert.strictEqual(mismatch.code, 400)
    assert.strictEqual(mismatch.body.message, "name in URL does not match name in Eviction object")
    await policy.createNamespacedPodDisruptionBudget({ namespace: "default", body: { metadata: { name: "second" }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "web" } } } } })
    const two = await apiError(() => evict("web-3"))
    assert.strictEqual(two.code, 500)
    assert.strictEqual(two.body.message, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
    await core.createNamespacedPod({ namespace: "default", body: podManifest("web-pending", { app: "web" }) })
    await evict("web-pending")
    assert.isUndefined(sim.store.get(Keys.pods, "default", "web-pending"))
    await policy.deleteNamespacedPodDisruptionBudget({ namespace: "default", name: "second" })
  })

  it("dryRun eviction checks the budget but deletes nothing", async () => {
    await policy.patchNamespacedPodDisruptionBudget(
      { namespace: "default", name: "web-pdb", body: { spec: { maxUnavailable: 3 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    )
    assert.strictEqual((await policy.readNamespacedPodDisruptionBudget({ namespace: "default", name: "web-pdb" })).status!.disruptionsAllowed, 1)
    const rv = sim.store.resourceVersion
    await core.createNamespacedPodEviction({ namespace: "default", name: "web-3", dryRun: "All", body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "web-3" } } })
    assert.isDefined(sim.store.get(Keys.pods, "default", "web-3"))
    assert.strictEqual(sim.store.resourceVersion, rv)
  })
})

describe("pods/log", () => {
  it("serves text/plain logs with container, previous and tailLines; the real 400s", async () => {
    await core.createNamespacedPod({
      namespace: "default",
      body: { metadata: { name: "logger" }, spec: { containers: [{ name: "app", image: "a:1" }, { name: "side", image: "b:1" }] } }
    })
    for (const l of ["starting", "allocating 300Mi"]) sim.logs.append("default", "logger", "app", l)
    sim.logs.rotate("default", "logger", "app")
    sim.logs.append("default", "logger", "app", "restarted", "2026-11-28T08:00:00Z")
    sim.logs.append("default", "logger", "side", "sidecar up")
    const ambiguous = await apiError(() => core.readNamespacedPodLog({ namespace: "default", name: "logger" }))
    assert.strictEqual(ambiguous.code, 400)
    assert.strictEqual(ambiguous.body.message, "a container name must be specified for pod logger, choose one of: [app side]")
    assert.strictEqual(await core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "app" }), "restarted\n")
    assert.strictEqual(await core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "app", previous: true }), "starting\nallocating 300Mi\n")
    assert.strictEqual(await core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "app", previous: true, tailLines: 1 }), "allocating 300Mi\n")
    const noPrev = await apiError(() => core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "side", previous: true }))
    assert.strictEqual(noPrev.code, 400)
    assert.strictEqual(noPrev.body.message, 'previous terminated container "side" in pod "logger" not found')
    const wrong = await apiError(() => core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "nope" }))
    assert.strictEqual(wrong.body.message, "container nope is not valid for pod logger")
    const ts = await core.readNamespacedPodLog({ namespace: "default", name: "logger", container: "app", timestamps: true })
    assert.strictEqual(ts, "2026-11-28T08:00:00.000000000Z restarted\n")
    const res = await fetch(`${sim.url}/api/v1/namespaces/default/pods/logger/log?container=side`)
    assert.strictEqual(res.headers.get("content-type"), "text/plain")
  })

  it("reports a waiting container and serves the last instance during CrashLoopBackOff", async () => {
    await core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "waiter" }, spec: { containers: [{ name: "app", image: "nginx:bad" }] } } })
    sim.store.mutate(Keys.pods, "default", "waiter", (p) => {
      p["status"] = { phase: "Pending", containerStatuses: [{ name: "app", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } }] }
    })
    const e = await apiError(() => core.readNamespacedPodLog({ namespace: "default", name: "waiter" }))
    assert.strictEqual(e.body.message, 'container "app" in pod "waiter" is waiting to start: trying and failing to pull image')
    sim.logs.append("default", "waiter", "app", "boom")
    sim.logs.rotate("default", "waiter", "app")
    sim.store.mutate(Keys.pods, "default", "waiter", (p) => {
      p["status"] = {
        phase: "Running",
        containerStatuses: [{ name: "app", ready: false, restartCount: 1, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 137, reason: "OOMKilled" } } }]
      }
    })
    assert.strictEqual(await core.readNamespacedPodLog({ namespace: "default", name: "waiter" }), "boom\n")
  })

  it("follows a log with client-node's Log class", async () => {
    await core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "follow" }, spec: { containers: [{ name: "app", image: "a:1" }] } } })
    sim.logs.append("default", "follow", "app", "first")
    const out = new PassThrough()
    let text = ""
    out.on("data", (c: Buffer) => (text += c.toString()))
    let ended = false
    out.on("end", () => (ended = true))
    await new Log(kc).log("default", "follow", "app", out, { follow: true })
    await until(() => text === "first\n", 3000, "first line")
    sim.logs.append("default", "follow", "app", "second")
    await until(() => text === "first\nsecond\n", 3000, "followed line")
    const rec = sim.recorder.requests({ path: "/api/v1/namespaces/default/pods/follow/log" })[0]!
    assert.strictEqual(rec.query["follow"], "true")
    // the stream ends when the pod goes away
    sim.store.delete(Keys.pods, "default", "follow")
    await until(() => ended, 3000, "follow stream end")
  })
})
