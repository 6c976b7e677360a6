import { AppsV1Api, AutoscalingV2Api, CoordinationV1Api, CoreV1Api, Health, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import type { KubeConfig, V1Deployment } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { apiError, podManifest, startSim } from "./helpers"

let sim: KubeSimInstance
let core: CoreV1Api
let apps: AppsV1Api
let kc: KubeConfig

beforeAll(async () => {
  const s = await startSim({ now: () => Date.UTC(2026, 10, 28, 8, 0, 0) })
  sim = s.sim
  kc = s.kc
  core = s.kc.makeApiClient(CoreV1Api)
  apps = s.kc.makeApiClient(AppsV1Api)
})
afterAll(() => sim.close())

const deployment = (name: string, replicas = 2) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          { name: "app", image: "registry.local/app:1.0", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }], ports: [{ containerPort: 8080 }] },
          { name: "sidecar", image: "registry.local/side:1.0" }
        ]
      }
    }
  }
})

describe("discovery", () => {
  it("serves /version, /api, /apis and resource lists with pods/eviction as policy/v1 Eviction", async () => {
    const v = (await (await fetch(`${sim.url}/version`)).json()) as any
    assert.strictEqual(v.minor, "32")
    const api = (await (await fetch(`${sim.url}/api`)).json()) as any
    assert.deepStrictEqual(api.versions, ["v1"])
    const apis = (await (await fetch(`${sim.url}/apis`)).json()) as any
    const names = apis.groups.map((g: any) => g.name)
    for (const g of ["apps", "policy", "autoscaling", "coordination.k8s.io", "events.k8s.io"]) assert.include(names, g)
    const v1 = await core.getAPIResources()
    const ev = v1.resources.find((r) => r.name === "pods/eviction")!
    assert.deepInclude(ev, { group: "policy", version: "v1", kind: "Eviction" })
    const appsRes = await apps.getAPIResources()
    assert.deepInclude(appsRes.resources.find((r) => r.name === "deployments/scale")!, { group: "autoscaling", version: "v1", kind: "Scale" })
  })
})

describe("generic clients", () => {
  it("KubernetesObjectApi discovers plurals and creates/reads/patches (SMP by default)/deletes", async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc)
    await objects.create(deployment("generic"))
    const read = await objects.read<V1Deployment>({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "generic", namespace: "default" } })
    assert.strictEqual(read.spec!.replicas, 2)
    const patched = await objects.patch<V1Deployment>({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "generic", namespace: "default" },
      spec: { template: { spec: { containers: [{ name: "sidecar", image: "registry.local/side:2.0" }] } } } as any
    })
    assert.deepStrictEqual(patched.spec!.template.spec!.containers.map((c) => `${c.name}=${c.image}`), ["app=registry.local/app:1.0", "sidecar=registry.local/side:2.0"])
    assert.strictEqual(sim.recorder.requests({ method: "PATCH", path: "/apis/apps/v1/namespaces/default/deployments/generic" })[0]!.contentType, "application/strategic-merge-patch+json")
    assert.isAtLeast(sim.recorder.count({ method: "GET", path: "/apis/apps/v1" }), 1)
    await objects.delete({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "generic", namespace: "default" } })
    assert.strictEqual((await apiError(() => apps.readNamespacedDeployment({ namespace: "default", name: "generic" }))).code, 404)
  })

  it("Health reports livez and readyz", async () => {
    const h = new Health(kc)
    assert.isTrue(await h.livez({}))
    assert.isTrue(await h.readyz({}))
  })
})

describe("CRUD through client-node", () => {
  it("creates with uid/creationTimestamp/rv and generateName; reads typed; 404 and 409 shapes", async () => {
    const created = await core.createNamespacedPod({ namespace: "default", body: podManifest("crud-a", { app: "a" }) })
    assert.isString(created.metadata!.uid)
    assert.strictEqual(created.metadata!.creationTimestamp!.toISOString(), "2026-11-28T08:00:00.000Z")
    assert.strictEqual(Number(created.metadata!.resourceVersion), sim.store.resourceVersion)
    assert.strictEqual(created.status!.phase, "Pending")
    const gen = await core.createNamespacedPod({ namespace: "default", body: { ...podManifest(""), metadata: { generateName: "gen-" } } as any })
    assert.match(gen.metadata!.name!, /^gen-[a-z0-9]{5}$/)
    const got = await core.readNamespacedPod({ namespace: "default", name: "crud-a" })
    assert.strictEqual(got.spec!.containers[0]!.image, "registry.local/app:1.0")

    const nf = await apiError(() => core.readNamespacedPod({ namespace: "default", name: "nope" }))
    assert.strictEqual(nf.code, 404)
    assert.deepStrictEqual(nf.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "pods" },
      code: 404
    })
    const dup = await apiError(() => core.createNamespacedPod({ namespace: "default", body: podManifest("crud-a") }))
    assert.strictEqual(dup.code, 409)
    assert.strictEqual(dup.body.reason, "AlreadyExists")
    assert.strictEqual(dup.body.message, 'pods "crud-a" already exists')
    const missingNs = await apiError(() => core.createNamespacedPod({ namespace: "ghost", body: podManifest("x") }))
    assert.strictEqual(missingNs.code, 404)
    assert.strictEqual(missingNs.body.message, 'namespaces "ghost" not found')
  })

  it("rejects invalid objects with 422 Invalid and field causes", async () => {
    const bad = await apiError(() => core.createNamespacedPod({ namespace: "default", body: { apiVersion: "v1", kind: "Pod", metadata: { name: "Bad_Name" }, spec: { containers: [] } } }))
    assert.strictEqual(bad.code, 422)
    assert.strictEqual(bad.body.reason, "Invalid")
    assert.match(bad.body.message, /^Pod "Bad_Name" is invalid: \[metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/)
    assert.deepInclude(bad.body.details.causes, { reason: "FieldValueRequired", message: "Required value", field: "spec.containers" })
    const d = deployment("mismatch")
    d.spec.template.metadata.labels = { app: "other" }
    const mm = await apiError(() => apps.createNamespacedDeployment({ namespace: "default", body: d }))
    assert.strictEqual(mm.code, 422)
    assert.include(mm.body.message, 'Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value')
  })

  it("replace with a stale resourceVersion gives 409 Conflict; generation bumps only on spec change", async () => {
    const d = await apps.createNamespacedDeployment({ namespace: "default", body: deployment("web") })
    assert.strictEqual(d.metadata!.generation, 1)
    assert.strictEqual(d.spec!.strategy!.type, "RollingUpdate")
    const upd = { ...d, metadata: { ...d.metadata, labels: { app: "web", tier: "fe" } } }
    const r1 = await apps.replaceNamespacedDeployment({ namespace: "default", name: "web", body: upd })
    assert.strictEqual(r1.metadata!.generation, 1)
    assert.notStrictEqual(r1.metadata!.resourceVersion, d.metadata!.resourceVersion)
    const stale = await apiError(() => apps.replaceNamespacedDeployment({ namespace: "default", name: "web", body: { ...d, spec: { ...d.spec!, replicas: 5 } } }))
    assert.strictEqual(stale.code, 409)
    assert.strictEqual(stale.body.reason, "Conflict")
    assert.strictEqual(
      stale.body.message,
      'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again'
    )
    assert.deepStrictEqual(stale.body.details, { name: "web", group: "apps", kind: "deployments" })
    const r2 = await apps.replaceNamespacedDeployment({ namespace: "default", name: "web", body: { ...r1, spec: { ...r1.spec!, replicas: 5 } } })
    assert.strictEqual(r2.metadata!.generation, 2)
    // status is ignored on the main resource, written through /status
    const withStatus = await apps.replaceNamespacedDeployment({ namespace: "default", name: "web", body: { ...r2, status: { replicas: 99 } } })
    assert.isUndefined(withStatus.status?.replicas)
    const st = await apps.replaceNamespacedDeploymentStatus({ namespace: "default", name: "web", body: { ...withStatus, status: { replicas: 3, observedGeneration: 2 } } })
    assert.strictEqual(st.status!.replicas, 3)
    assert.strictEqual(st.metadata!.generation, 2)
  })

  it("no-op writes keep the resourceVersion", async () => {
    const cm = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "noop" }, data: { a: "1" } } })
    const rv = sim.store.resourceVersion
    const again = await core.replaceNamespacedConfigMap({ namespace: "default", name: "noop", body: cm })
    assert.strictEqual(again.metadata!.resourceVersion, cm.metadata!.resourceVersion)
    assert.strictEqual(sim.store.resourceVersion, rv)
  })

  it("deletes: immediate in API mode, Status for apps, 404 afterwards, deletecollection by label", async () => {
    await core.createNamespacedPod({ namespace: "default", body: podManifest("del-1", { batch: "x" }) })
    await core.createNamespacedPod({ namespace: "default", body: podManifest("del-2", { batch: "x" }) })
    await core.createNamespacedPod({ namespace: "default", body: podManifest("del-3", { batch: "y" }) })
    const gone = await core.deleteNamespacedPod({ namespace: "default", name: "del-3" })
    assert.strictEqual(gone.metadata!.name, "del-3")
    assert.strictEqual((await apiError(() => core.readNamespacedPod({ namespace: "default", name: "del-3" }))).code, 404)
    await core.deleteCollectionNamespacedPod({ namespace: "default", labelSelector: "batch=x" })
    const left = await core.listNamespacedPod({ namespace: "default", labelSelector: "batch" })
    assert.strictEqual(left.items.length, 0)
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("todelete") })
    const st = await apps.deleteNamespacedDeployment({ namespace: "default", name: "todelete" })
    assert.strictEqual(st.status, "Success")
  })

  it("propagationPolicy Foreground/Orphan adds the GC finalizer when a garbage collector is installed", async () => {
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("fg") })
    sim.store.garbageCollector = true
    try {
      await apps.deleteNamespacedDeployment({ namespace: "default", name: "fg", propagationPolicy: "Foreground" })
      const d = await apps.readNamespacedDeployment({ namespace: "default", name: "fg" })
      assert.deepStrictEqual(d.metadata!.finalizers, ["foregroundDeletion"])
      assert.instanceOf(d.metadata!.deletionTimestamp, Date)
      // the GC removes the finalizer when the dependents are gone: then the object goes
      sim.store.mutate({ group: "apps", version: "v1", resource: "deployments" }, "default", "fg", (o) => {
        o.metadata.finalizers = []
      })
      assert.strictEqual((await apiError(() => apps.readNamespacedDeployment({ namespace: "default", name: "fg" }))).code, 404)
    } finally {
      sim.store.garbageCollector = false
    }
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("fg") })
    await apps.deleteNamespacedDeployment({ namespace: "default", name: "fg", propagationPolicy: "Orphan" })
    assert.strictEqual((await apiError(() => apps.readNamespacedDeployment({ namespace: "default", name: "fg" }))).code, 404)
    const bad = await apiError(() => apps.deleteNamespacedDeployment({ namespace: "default", name: "web", propagationPolicy: "Sideways" }))
    assert.strictEqual(bad.code, 400)
  })

  it("serves every listed kind: nodes, services, configmaps, secrets, PVCs, PVs, statefulsets, daemonsets, HPAs v2, leases", async () => {
    const s = await startSim()
    try {
      const c = s.kc.makeApiClient(CoreV1Api)
      const a = s.kc.makeApiClient(AppsV1Api)
      const hpa = s.kc.makeApiClient(AutoscalingV2Api)
      const coord = s.kc.makeApiClient(CoordinationV1Api)
      await c.createNode({ body: { metadata: { name: "node-1", labels: { "kubernetes.io/hostname": "node-1" } }, status: { conditions: [{ type: "Ready", status: "True" }] } } })
      assert.strictEqual((await c.readNode({ name: "node-1" })).status!.conditions![0]!.type, "Ready")
      await c.createNamespacedService({ namespace: "default", body: { metadata: { name: "svc" }, spec: { selector: { app: "x" }, ports: [{ port: 80 }] } } })
      assert.strictEqual((await c.readNamespacedService({ namespace: "default", name: "svc" })).spec!.ports![0]!.targetPort, 80)
      await c.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "s" }, stringData: { k: "v" } } })
      assert.strictEqual((await c.readNamespacedSecret({ namespace: "default", name: "s" })).type, "Opaque")
      await c.createNamespacedPersistentVolumeClaim({ namespace: "default", body: { metadata: { name: "pvc" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } })
      await c.createPersistentVolume({ body: { metadata: { name: "pv" }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/tmp" } } } })
      assert.strictEqual((await c.listPersistentVolume()).items.length, 1)
      const sts = deployment("db") as any
      sts.kind = "StatefulSet"
      sts.spec.serviceName = "db"
      await a.createNamespacedStatefulSet({ namespace: "default", body: sts })
      const ds = deployment("agent") as any
      ds.kind = "DaemonSet"
      delete ds.spec.replicas
      await a.createNamespacedDaemonSet({ namespace: "default", body: ds })
      assert.strictEqual((await a.listDaemonSetForAllNamespaces()).items.length, 1)
      const h = await hpa.createNamespacedHorizontalPodAutoscaler({
        namespace: "default",
        body: {
          metadata: { name: "web" },
          spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 2, maxReplicas: 5, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }] }
        }
      })
      assert.strictEqual(h.spec!.metrics![0]!.resource!.target.averageUtilization, 70)
      const badHpa = await apiError(() => hpa.createNamespacedHorizontalPodAutoscaler({ namespace: "default", body: { metadata: { name: "bad" }, spec: { scaleTargetRef: { kind: "Deployment", name: "x" }, minReplicas: 5, maxReplicas: 2 } } }))
      assert.strictEqual(badHpa.code, 422)
      const lease = await coord.createNamespacedLease({ namespace: "kube-node-lease", body: { metadata: { name: "node-1" }, spec: { holderIdentity: "node-1", leaseDurationSeconds: 40 } } })
      assert.strictEqual(lease.spec!.holderIdentity, "node-1")
      const scale = await a.readNamespacedStatefulSetScale({ namespace: "default", name: "db" })
      assert.strictEqual(scale.spec!.replicas, 2)
      assert.strictEqual(scale.status!.selector, "app=db")
    } finally {
      await s.sim.close()
    }
  })

  it("scale subresource reads and patches spec.replicas as autoscaling/v1 Scale", async () => {
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("scaled", 3) })
    const s = await apps.readNamespacedDeploymentScale({ namespace: "default", name: "scaled" })
    assert.strictEqual(s.kind, "Scale")
    assert.strictEqual(s.apiVersion, "autoscaling/v1")
    assert.strictEqual(s.spec!.replicas, 3)
    assert.strictEqual(s.status!.selector, "app=scaled")
    const p = await apps.patchNamespacedDeploymentScale(
      { namespace: "default", name: "scaled", body: { spec: { replicas: 4 } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    )
    assert.strictEqual(p.spec!.replicas, 4)
    const d = await apps.readNamespacedDeployment({ namespace: "default", name: "scaled" })
    assert.strictEqual(d.spec!.replicas, 4)
    assert.strictEqual(d.metadata!.generation, 2)
    const r = await apps.replaceNamespacedDeploymentScale({ namespace: "default", name: "scaled", body: { metadata: { name: "scaled" }, spec: { replicas: 1 } } })
    assert.strictEqual(r.spec!.replicas, 1)
    const neg = await apiError(() =>
      apps.patchNamespacedDeploymentScale({ namespace: "default", name: "scaled", body: { spec: { replicas: -1 } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))
    )
    assert.strictEqual(neg.code, 422)
  })
})
