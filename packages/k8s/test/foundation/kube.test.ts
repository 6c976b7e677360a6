import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Kube from "../../src/Kube"
import * as KubePatch from "../../src/KubePatch"
import { deployment, kubeLayer, pod, put, sim } from "./helpers"

const patchesOf = (s: { recorder: { requests: (f: object) => Array<{ contentType: string | undefined; body: string; dryRun: boolean; query: Record<string, string> }> } }) =>
  s.recorder.requests({ method: "PATCH" })

describe("Kube service against kube-sim", () => {
  it.live("reads typed objects and decodes 404 into KubeNotFound", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web"))
      put(s, "pods", pod("default", "web-1", { app: "web" }))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      const d = yield* kube.getDeployment("default", "web")
      assert.strictEqual(d.spec?.replicas, 2)
      assert.instanceOf(d.metadata?.creationTimestamp, Date)
      const pods = yield* kube.listPods({ namespace: "default", labelSelector: "app=web" })
      assert.deepStrictEqual(pods.map((p) => p.metadata?.name), ["web-1"])
      const err = yield* Effect.flip(kube.getPod("default", "nope"))
      assert.strictEqual(err._tag, "KubeNotFound")
      assert.strictEqual(err.status, 404)
      assert.strictEqual(err.reason, "NotFound")
      assert.include(err.message, "nope")
      assert.strictEqual(err.operation, "get Pod default/nope")
    }).pipe(Effect.scoped))

  it.live("pod logs (current and previous), HPAs, PDBs and an accepted dry-run eviction", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", { ...pod("default", "logger"), status: { phase: "Running" } })
      for (const l of ["starting", "allocating 300Mi"]) s.logs.append("default", "logger", "app", l)
      s.logs.rotate("default", "logger", "app")
      s.logs.append("default", "logger", "app", "restarted")
      put(s, "horizontalpodautoscalers", {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "web", namespace: "default" },
        spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 2, maxReplicas: 6, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }] }
      })
      put(s, "poddisruptionbudgets", { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "web", namespace: "default" }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "web" } } } })
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      assert.strictEqual(yield* kube.podLogs("default", "logger", { container: "app" }), "restarted\n")
      assert.strictEqual(yield* kube.podLogs("default", "logger", { container: "app", previous: true, tailLines: 1 }), "allocating 300Mi\n")
      const hpa = yield* kube.getHpa("default", "web")
      assert.strictEqual(hpa.spec?.maxReplicas, 6)
      assert.strictEqual(hpa.spec?.metrics?.[0]?.resource?.target.averageUtilization, 70)
      assert.deepStrictEqual((yield* kube.listHpas()).map((h) => h.metadata?.name), ["web"])
      assert.strictEqual((yield* kube.listPdbs({ namespace: "default" }))[0]?.spec?.maxUnavailable, 1)
      yield* kube.evict("default", "logger", { dryRun: true })
      const ev = s.recorder.requests({ method: "POST", path: "/api/v1/namespaces/default/pods/logger/eviction" })
      assert.strictEqual(ev.length, 1)
      assert.strictEqual(ev[0]!.dryRun, true)
      assert.strictEqual((yield* kube.getPod("default", "logger")).metadata?.name, "logger", "a dry-run eviction deletes nothing")
    }).pipe(Effect.scoped))

  it.live("follows list pages to the end", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      for (let i = 0; i < 7; i++) put(s, "pods", pod("default", `p-${i}`))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      const pods = yield* kube.listPods({ namespace: "default", pageSize: 3 })
      assert.strictEqual(pods.length, 7)
      assert.strictEqual(s.recorder.count({ method: "GET", path: "/api/v1/namespaces/default/pods" }), 3)
    }).pipe(Effect.scoped))

  it.live("sends every patch with its content type and precondition; dryRun=All in dry run", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web"))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      const d = yield* kube.getDeployment("default", "web")
      const rv = d.metadata!.resourceVersion!
      const dry = yield* kube.patch("Deployment", { namespace: "default", name: "web" }, KubePatch.strategic(rv, { spec: { replicas: 5 } }), { dryRun: true })
      assert.strictEqual(dry.spec?.replicas, 5, "the server answers with the would-be object")
      assert.strictEqual((yield* kube.getDeployment("default", "web")).spec?.replicas, 2, "dry run persisted nothing")
      const merged = yield* kube.patch("Deployment", { namespace: "default", name: "web" }, KubePatch.merge(rv, { spec: { replicas: 3 } }))
      assert.strictEqual(merged.spec?.replicas, 3)
      const rv2 = merged.metadata!.resourceVersion!
      const jsonPatched = yield* kube.patch(
        "Deployment",
        { namespace: "default", name: "web" },
        KubePatch.json(KubePatch.testResourceVersion(rv2), { op: "replace", path: "/spec/replicas", value: 4 })
      )
      assert.strictEqual(jsonPatched.spec?.replicas, 4)
      const reqs = patchesOf(s)
      assert.deepStrictEqual(reqs.map((r) => r.contentType), [
        "application/strategic-merge-patch+json",
        "application/merge-patch+json",
        "application/json-patch+json"
      ])
      assert.deepStrictEqual(reqs.map((r) => r.dryRun), [true, false, false])
      assert.strictEqual(JSON.parse(reqs[0]!.body).metadata.resourceVersion, rv)
      assert.strictEqual(JSON.parse(reqs[1]!.body).metadata.resourceVersion, rv)
      assert.deepStrictEqual(JSON.parse(reqs[2]!.body)[0], { op: "test", path: "/metadata/resourceVersion", value: rv2 })
      assert.strictEqual(reqs[1]!.query.fieldManager, "byteport")
    }).pipe(Effect.scoped))

  it.live("a stale resourceVersion is KubeConflict (409); a failed test op is KubeInvalid (422)", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web"))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      const d = yield* kube.getDeployment("default", "web")
      const rv = d.metadata!.resourceVersion!
      yield* kube.patch("Deployment", { namespace: "default", name: "web" }, KubePatch.merge(rv, { spec: { replicas: 3 } }))
      const conflict = yield* Effect.flip(kube.patch("Deployment", { namespace: "default", name: "web" }, KubePatch.strategic(rv, { spec: { replicas: 9 } })))
      assert.strictEqual(conflict._tag, "KubeConflict")
      assert.strictEqual(conflict.status, 409)
      assert.strictEqual(conflict.reason, "Conflict")
      const invalid = yield* Effect.flip(
        kube.patch("Deployment", { namespace: "default", name: "web" }, KubePatch.json(KubePatch.test("/spec/replicas", 2), { op: "replace", path: "/spec/replicas", value: 9 }))
      )
      assert.strictEqual(invalid._tag, "KubeInvalid")
      assert.strictEqual(invalid.status, 422)
      assert.strictEqual((yield* kube.getDeployment("default", "web")).spec?.replicas, 3)
    }).pipe(Effect.scoped))

  it.live("refuses a patch without a precondition before sending anything", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web"))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      // values built from `any` bypass the types: the run-time check still refuses them
      const noRv: any = { type: "merge", body: { spec: { replicas: 1 } } }
      const noTest: any = { type: "json", ops: [{ op: "replace", path: "/spec/replicas", value: 1 }] }
      for (const p of [noRv, noTest]) {
        const e = yield* Effect.flip(kube.patch("Deployment", { namespace: "default", name: "web" }, p))
        assert.strictEqual(e._tag, "KubeBadRequest")
        assert.strictEqual(e.reason, "MissingPrecondition")
      }
      assert.strictEqual(s.recorder.count({ method: "PATCH" }), 0)
      // @ts-expect-error a merge body without metadata.resourceVersion does not type-check
      const bad: KubePatch.KubePatch = { type: "merge", body: { spec: {} } }
      // @ts-expect-error a JSON patch must start with a test op
      const bad2: KubePatch.KubePatch = { type: "json", ops: [{ op: "remove", path: "/spec" }] }
      assert.ok(bad && bad2)
    }).pipe(Effect.scoped))

  it.live("429 carries retryAfterSeconds; 500 and 503 are KubeUnavailable; 403 is KubeForbidden", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "web-1"))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      s.faults.error({ verb: "get", resource: "pods", status: 429, retryAfterSeconds: 7, times: 1 })
      const throttled = yield* Effect.flip(kube.getPod("default", "web-1"))
      assert.strictEqual(throttled._tag, "KubeTooManyRequests")
      if (throttled._tag === "KubeTooManyRequests") assert.strictEqual(throttled.retryAfterSeconds, 7)
      s.faults.error({ verb: "get", resource: "pods", status: 500, times: 1 })
      const internal = yield* Effect.flip(kube.getPod("default", "web-1"))
      assert.strictEqual(internal._tag, "KubeUnavailable")
      assert.strictEqual(internal.status, 500)
      s.faults.error({ verb: "list", resource: "pods", status: 503, times: 1 })
      assert.strictEqual((yield* Effect.flip(kube.listPods({ namespace: "default" })))._tag, "KubeUnavailable")
      s.faults.error({ verb: "get", resource: "pods", status: 403, times: 1 })
      assert.strictEqual((yield* Effect.flip(kube.getPod("default", "web-1")))._tag, "KubeForbidden")
      // and the fault is gone afterwards
      assert.strictEqual((yield* kube.getPod("default", "web-1")).metadata?.name, "web-1")
    }).pipe(Effect.scoped))

  it.live("an eviction blocked by a PDB is KubeTooManyRequests with the budget cause", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", { ...pod("default", "db-0", { app: "db" }), status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } })
      put(s, "poddisruptionbudgets", { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "db", namespace: "default" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "db" } } } })
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      yield* Effect.sleep("100 millis")
      const e = yield* Effect.flip(kube.evict("default", "db-0"))
      assert.strictEqual(e._tag, "KubeTooManyRequests")
      if (e._tag === "KubeTooManyRequests") assert.strictEqual(e.causes[0]?.reason, "DisruptionBudget")
    }).pipe(Effect.scoped))

  it.live("a server that is gone is KubeUnavailable", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      const layer = kubeLayer(s)
      yield* Effect.promise(() => s.close())
      const e = yield* Effect.flip(Effect.flatMap(Kube.Kube, (k) => k.getPod("default", "x")).pipe(Effect.provide(layer)))
      assert.strictEqual(e._tag, "KubeUnavailable")
      assert.strictEqual(e.status, 0)
    }).pipe(Effect.scoped))

  it.live("an invalid object is KubeInvalid with its causes; a slow server is KubeUnavailable (Timeout)", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      const kube = yield* Kube.Kube.pipe(Effect.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "300 millis" }))))
      const invalid = yield* Effect.flip(kube.createLease("default", { metadata: { name: "Not_A_Valid_Name" }, spec: {} }))
      assert.strictEqual(invalid._tag, "KubeInvalid")
      if (invalid._tag === "KubeInvalid") {
        assert.isAbove(invalid.causes.length, 0)
        assert.strictEqual(invalid.causes[0]?.field, "metadata.name")
      }
      s.faults.latency({ verb: "get", resource: "pods", ms: 1500, times: 1 })
      const slow = yield* Effect.flip(kube.getPod("default", "x"))
      assert.strictEqual(slow._tag, "KubeUnavailable")
      assert.strictEqual(slow.reason, "Timeout")
    }).pipe(Effect.scoped))

  it.live("exec refused before the upgrade fails with a typed error, not a crash", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "web-1"))
      const kube = yield* Kube.Kube.pipe(Effect.provide(kubeLayer(s)))
      // no node assigned: the apiserver's 400 on the WebSocket upgrade
      const e = yield* Effect.flip(kube.exec("default", "web-1", "app", ["cat", "/proc/meminfo"]))
      assert.strictEqual(e._tag, "KubeBadRequest")
      assert.strictEqual(e.status, 400)
      assert.include(e.operation, "exec in Pod default/web-1")
      const missing = yield* Effect.flip(kube.exec("default", "nope", "app", ["true"]))
      assert.strictEqual(missing._tag, "KubeNotFound")
      assert.strictEqual(missing.status, 404)
    }).pipe(Effect.scoped))

  it.live("layerDefault reads the kubeconfig file named by KUBECONFIG", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "pods", pod("default", "from-file"))
      const dir = mkdtempSync(join(tmpdir(), "byteport-kube-"))
      const path = join(dir, "config")
      s.writeKubeconfig(path)
      const kube = yield* Kube.Kube.pipe(
        Effect.provide(Kube.layerDefault),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { KUBECONFIG: path } })))
      )
      assert.strictEqual(kube.clusterName, "kube-sim")
      assert.strictEqual((yield* kube.getPod("default", "from-file")).metadata?.name, "from-file")
      rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped))

  it.live("a kubeconfig that cannot be loaded is KubeConfigError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.asVoid(Kube.Kube).pipe(Effect.provide(Kube.layerFromFile("/nonexistent/kubeconfig"))))
      assert.strictEqual(e._tag, "KubeConfigError")
      const e2 = yield* Effect.flip(Effect.asVoid(Kube.Kube).pipe(Effect.provide(Kube.layerInCluster())))
      assert.strictEqual(e2._tag, "KubeConfigError")
    }))
})
