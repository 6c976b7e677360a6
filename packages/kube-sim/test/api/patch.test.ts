import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { apiError, startSim } from "./helpers"

let sim: KubeSimInstance
let core: CoreV1Api
let apps: AppsV1Api

const dep = (name: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          {
            name: "app",
            image: "registry.local/app:1.0",
            env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
            ports: [{ containerPort: 8080, name: "http" }, { containerPort: 9090, name: "metrics" }],
            resources: { limits: { memory: "128Mi" } }
          },
          { name: "sidecar", image: "registry.local/side:1.0" }
        ],
        volumes: [{ name: "data", emptyDir: {} }],
        tolerations: [{ key: "a", operator: "Exists" }]
      }
    }
  }
})

const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
const jsonPatch = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch)
const apply = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply)

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  core = s.kc.makeApiClient(CoreV1Api)
  apps = s.kc.makeApiClient(AppsV1Api)
  await apps.createNamespacedDeployment({ namespace: "default", body: dep("web") })
  await core.createNode({
    body: {
      metadata: { name: "node-1" },
      status: { conditions: [{ type: "Ready", status: "True" }, { type: "MemoryPressure", status: "False" }] }
    }
  })
})
afterAll(() => sim.close())

/** A strategic merge patch of the web Deployment's pod template spec. */
const patchTemplate = (spec: Record<string, unknown>) =>
  apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { template: { spec } } } }, smp)

describe("PATCH content types", () => {
  it("an object body sent with client-node's default (json-patch) gets the apiserver's 400", async () => {
    const e = await apiError(() => apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 3 } } }))
    assert.strictEqual(e.code, 400)
    assert.strictEqual(e.body.reason, "BadRequest")
    assert.strictEqual(e.body.message, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    assert.strictEqual(sim.recorder.requests({ method: "PATCH", status: 400 })[0]!.contentType, "application/json-patch+json")
  })

  it("strategic merge merges containers by name, env by name, ports by containerPort; $patch: delete removes", async () => {
    const out = await patchTemplate({
      containers: [
        {
          name: "app",
          env: [{ name: "B", value: "20" }, { name: "C", value: "3" }, { name: "A", $patch: "delete" }],
          ports: [{ containerPort: 9090, name: "prom" }],
          resources: { limits: { memory: "256Mi" } }
        }
      ]
    })
    const cs = out.spec!.template.spec!.containers
    assert.deepStrictEqual(cs.map((c) => c.name), ["app", "sidecar"])
    assert.strictEqual(cs[0]!.image, "registry.local/app:1.0")
    assert.deepStrictEqual(cs[0]!.env, [{ name: "B", value: "20" }, { name: "C", value: "3" }])
    assert.deepStrictEqual(cs[0]!.ports!.map((p) => [p.containerPort, p.name]), [[8080, "http"], [9090, "prom"]])
    assert.strictEqual(cs[0]!.resources!.limits!["memory"], "256Mi")
    assert.strictEqual(out.metadata!.generation, 2)
    assert.deepStrictEqual(out.spec!.template.spec!.volumes!.map((v) => v.name), ["data"])
  })

  it("strategic merge: $patch: replace on a list, tolerations replaced (no merge key), null deletes a field", async () => {
    const out = await patchTemplate({
      volumes: [{ name: "cache", emptyDir: {} }, { $patch: "replace" }],
      tolerations: [{ key: "b", operator: "Exists" }],
      containers: [{ name: "sidecar", $patch: "delete" }, { name: "app", resources: null }]
    })
    const spec = out.spec!.template.spec!
    assert.deepStrictEqual(spec.volumes!.map((v) => v.name), ["cache"])
    assert.deepStrictEqual(spec.tolerations!.map((t) => t.key), ["b"])
    assert.deepStrictEqual(spec.containers.map((c) => c.name), ["app"])
    // resources is defaulted back to {} by the server, like the apiserver
    assert.deepStrictEqual(spec.containers[0]!.resources, {})
  })

  it("node status: merge patch replaces conditions, strategic merge merges them by type", async () => {
    const smpOut = await core.patchNodeStatus({ name: "node-1", body: { status: { conditions: [{ type: "MemoryPressure", status: "True" }] } } }, smp)
    assert.deepStrictEqual(smpOut.status!.conditions!.map((c) => `${c.type}=${c.status}`), ["Ready=True", "MemoryPressure=True"])
    const mergeOut = await core.patchNodeStatus({ name: "node-1", body: { status: { conditions: [{ type: "Ready", status: "False" }] } } }, merge)
    assert.deepStrictEqual(mergeOut.status!.conditions!.map((c) => `${c.type}=${c.status}`), ["Ready=False"])
    // cordon the way kubectl does it
    const cordoned = await core.patchNode({ name: "node-1", body: { spec: { unschedulable: true } } }, smp)
    assert.isTrue(cordoned.spec!.unschedulable)
    const un = await core.patchNode({ name: "node-1", body: { spec: { unschedulable: null } } }, smp)
    assert.isUndefined(un.spec!.unschedulable)
  })

  it("json-patch applies ops with a passing test; a failing test is 422 and changes nothing", async () => {
    const before = await apps.readNamespacedDeployment({ namespace: "default", name: "web" })
    // the same three ops, then one that differs
    const withLast = (last: Record<string, unknown>) =>
      apps.patchNamespacedDeployment(
        {
          namespace: "default",
          name: "web",
          body: [
            { op: "test", path: "/spec/replicas", value: 2 },
            { op: "replace", path: "/spec/replicas", value: 3 },
            { op: "add", path: "/metadata/annotations", value: { "a/b": "c" } },
            last
          ]
        },
        jsonPatch
      )
    const typeErr = await apiError(() => withLast({ op: "copy", from: "/metadata/annotations/a~1b", path: "/metadata/labels" }))
    // copying a string onto /metadata/labels cannot be decoded: 400 with the decoder's text, nothing stored
    assert.strictEqual(typeErr.code, 400)
    assert.strictEqual(typeErr.body.message, "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string")
    assert.strictEqual((await apps.readNamespacedDeployment({ namespace: "default", name: "web" })).spec!.replicas, 2)
    const good = await withLast({ op: "move", from: "/metadata/annotations/a~1b", path: "/metadata/annotations/moved" })
    assert.strictEqual(good.spec!.replicas, 3)
    assert.deepStrictEqual(good.metadata!.annotations, { moved: "c" })
    const rv = sim.store.resourceVersion
    const failed = await apiError(() =>
      apps.patchNamespacedDeployment(
        { namespace: "default", name: "web", body: [{ op: "test", path: "/spec/replicas", value: 7 }, { op: "replace", path: "/spec/replicas", value: 0 }] },
        jsonPatch
      )
    )
    assert.strictEqual(failed.code, 422)
    assert.strictEqual(failed.body.reason, "Invalid")
    assert.strictEqual(failed.body.message, "the server rejected our request due to an error in our request")
    assert.deepStrictEqual(failed.body.details.causes, [{ reason: "UnexpectedServerResponse", message: "testing value /spec/replicas failed: test failed" }])
    const missing = await apiError(() =>
      apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: [{ op: "replace", path: "/spec/nope/x", value: 1 }] }, jsonPatch)
    )
    assert.strictEqual(missing.code, 422)
    assert.strictEqual(sim.store.resourceVersion, rv)
    assert.strictEqual((await apps.readNamespacedDeployment({ namespace: "default", name: "web" })).spec!.replicas, 3)
    assert.notStrictEqual(before.metadata!.resourceVersion, good.metadata!.resourceVersion)
  })

  it("a patch carrying a stale resourceVersion is 409", async () => {
    const e = await apiError(() =>
      apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { metadata: { resourceVersion: "1" }, spec: { replicas: 9 } } }, merge)
    )
    assert.strictEqual(e.code, 409)
    assert.strictEqual(e.body.reason, "Conflict")
  })

  it("server-side apply: requires fieldManager, creates (201) when absent, merges when present", async () => {
    const noFm = await apiError(() =>
      core.patchNamespacedConfigMap({ namespace: "default", name: "applied", body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { a: "1" } } }, apply)
    )
    assert.strictEqual(noFm.code, 400)
    const created = await core.patchNamespacedConfigMap(
      { namespace: "default", name: "applied", fieldManager: "byteport", body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { a: "1" } } },
      apply
    )
    assert.deepStrictEqual(created.data, { a: "1" })
    assert.strictEqual(sim.recorder.requests({ method: "PATCH", contentType: "application/apply-patch+yaml" }).at(-1)!.status, 201)
    const updated = await core.patchNamespacedConfigMap(
      { namespace: "default", name: "applied", fieldManager: "byteport", body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "applied" }, data: { b: "2" } } },
      apply
    )
    assert.deepStrictEqual(updated.data, { a: "1", b: "2" })
    // YAML bodies are accepted too
    const res = await fetch(`${sim.url}/api/v1/namespaces/default/configmaps/applied?fieldManager=kubectl`, {
      method: "PATCH",
      headers: { "Content-Type": "application/apply-patch+yaml" },
      body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  c: '3'\n"
    })
    assert.strictEqual(res.status, 200)
    assert.deepStrictEqual(((await res.json()) as any).data, { a: "1", b: "2", c: "3" })
  })

  it("unknown patch content types are 415 UnsupportedMediaType", async () => {
    const res = await fetch(`${sim.url}/api/v1/namespaces/default/configmaps/applied`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: "{}"
    })
    assert.strictEqual(res.status, 415)
    const body = (await res.json()) as any
    assert.strictEqual(body.reason, "UnsupportedMediaType")
    assert.include(body.message, "application/strategic-merge-patch+json")
  })

  it("pod spec updates other than images are forbidden (422), image changes are allowed", async () => {
    await core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "p" }, spec: { containers: [{ name: "app", image: "x:1" }] } } })
    const e = await apiError(() =>
      core.patchNamespacedPod({ namespace: "default", name: "p", body: { spec: { containers: [{ name: "app", resources: { limits: { memory: "1Gi" } } }] } } }, smp)
    )
    assert.strictEqual(e.code, 422)
    assert.include(e.body.message, "pod updates may not change fields other than")
    const ok = await core.patchNamespacedPod({ namespace: "default", name: "p", body: { spec: { containers: [{ name: "app", image: "x:2" }] } } }, smp)
    assert.strictEqual(ok.spec!.containers[0]!.image, "x:2")
  })
})

describe("dryRun=All", () => {
  it("create, replace, patch and delete validate and answer but store nothing: no RV bump, no event", async () => {
    const events: Array<string> = []
    const unsub = sim.store.subscribe((_k, e) => events.push(`${e.type}:${e.object.metadata.name}`))
    const rv = sim.store.resourceVersion
    const c = await core.createNamespacedConfigMap({ namespace: "default", dryRun: "All", body: { metadata: { name: "dry" }, data: { a: "1" } } })
    assert.strictEqual(c.metadata!.name, "dry")
    assert.isString(c.metadata!.uid)
    assert.strictEqual((await apiError(() => core.readNamespacedConfigMap({ namespace: "default", name: "dry" }))).code, 404)
    const p = await apps.patchNamespacedDeployment({ namespace: "default", name: "web", dryRun: "All", body: { spec: { replicas: 10 } } }, merge)
    assert.strictEqual(p.spec!.replicas, 10)
    assert.strictEqual((await apps.readNamespacedDeployment({ namespace: "default", name: "web" })).spec!.replicas, 3)
    const bad = await apiError(() => apps.patchNamespacedDeployment({ namespace: "default", name: "web", dryRun: "All", body: { spec: { replicas: -1 } } }, merge))
    assert.strictEqual(bad.code, 422)
    await core.deleteNamespacedPod({ namespace: "default", name: "p", dryRun: "All" })
    assert.strictEqual((await core.readNamespacedPod({ namespace: "default", name: "p" })).metadata!.name, "p")
    const cur = await apps.readNamespacedDeployment({ namespace: "default", name: "web" })
    await apps.replaceNamespacedDeployment({ namespace: "default", name: "web", dryRun: "All", body: { ...cur, spec: { ...cur.spec!, replicas: 1 } } })
    assert.strictEqual(sim.store.resourceVersion, rv)
    assert.deepStrictEqual(events, [])
    assert.strictEqual(sim.recorder.count({ dryRun: true }), 5)
    unsub()
  })
})
