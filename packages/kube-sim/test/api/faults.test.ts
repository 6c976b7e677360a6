import { AppsV1Api, CoreV1Api, makeInformer, PatchStrategy, setHeaderOptions, Watch } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { Keys } from "../../src/index"
import { apiError, podManifest, startSim, until } from "./helpers"
import type { KubeConfig } from "@kubernetes/client-node"
import { connect } from "node:net"

let sim: KubeSimInstance
let kc: KubeConfig
let core: CoreV1Api
let apps: AppsV1Api

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  kc = s.kc
  core = kc.makeApiClient(CoreV1Api)
  apps = kc.makeApiClient(AppsV1Api)
  await apps.createNamespacedDeployment({
    namespace: "default",
    body: {
      metadata: { name: "web" },
      spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } }
    }
  })
})
afterAll(() => sim.close())

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

describe("faults", () => {
  it("adds latency to matching requests only", async () => {
    const h = sim.faults.latency({ verb: "list", resource: "pods", ms: 250 })
    try {
      // Both requests start together and meet the same machine load: the unmatched one must not
      // wait for the delay, so it answers first (no absolute upper bound on a loaded machine).
      const t = performance.now()
      const order: Array<string> = []
      const slow = core.listNamespacedPod({ namespace: "default" }).then(() => {
        order.push("pods")
        return performance.now() - t
      })
      const fast = core.listNamespacedConfigMap({ namespace: "default" }).then(() => order.push("configmaps"))
      const [elapsed] = await Promise.all([slow, fast])
      assert.isAtLeast(elapsed, 240, "the matching request waited for the delay")
      assert.deepStrictEqual(order, ["configmaps", "pods"])
      assert.strictEqual(h.hits, 1)
    } finally {
      h.remove()
    }
  })

  it("answers 429 with Retry-After a limited number of times, then lets requests through", async () => {
    const h = sim.faults.error({ verb: "patch", resource: "deployments", status: 429, times: 2, retryAfterSeconds: 3 })
    const patch = () => apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 2 } } }, merge)
    for (let i = 0; i < 2; i++) {
      const e = await apiError(patch)
      assert.strictEqual(e.code, 429)
      assert.strictEqual(e.body.reason, "TooManyRequests")
      assert.strictEqual(e.body.details.retryAfterSeconds, 3)
      assert.strictEqual(e.headers["retry-after"], "3")
    }
    assert.strictEqual((await patch()).spec!.replicas, 2)
    assert.strictEqual(h.hits, 2)
    assert.strictEqual(sim.recorder.count({ method: "PATCH", status: 429 }), 2)
  })

  it("injects 409 and 500 by path prefix and method", async () => {
    const c = sim.faults.error({ method: "PUT", pathPrefix: "/apis/apps/v1/namespaces/default/deployments/web", status: 409, times: 1 })
    const cur = await apps.readNamespacedDeployment({ namespace: "default", name: "web" })
    const e = await apiError(() => apps.replaceNamespacedDeployment({ namespace: "default", name: "web", body: cur }))
    assert.strictEqual(e.code, 409)
    assert.strictEqual(e.body.reason, "Conflict")
    c.remove()
    const s = sim.faults.error({ pathPattern: /\/configmaps$/, status: 500 })
    const e500 = await apiError(() => core.listNamespacedConfigMap({ namespace: "default" }))
    assert.strictEqual(e500.code, 500)
    assert.strictEqual(e500.body.reason, "InternalError")
    s.remove()
    await core.listNamespacedConfigMap({ namespace: "default" })
  })

  it("injects 403 with the RBAC authorizer's message", async () => {
    const h = sim.faults.error({ verb: "patch", resource: "deployments", status: 403, user: "system:serviceaccount:byteport:remediator" })
    const e = await apiError(() => apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 2 } } }, merge))
    h.remove()
    assert.strictEqual(e.code, 403)
    assert.strictEqual(e.body.reason, "Forbidden")
    assert.strictEqual(
      e.body.message,
      'deployments.apps "web" is forbidden: User "system:serviceaccount:byteport:remediator" cannot patch resource "deployments" in API group "apps" in the namespace "default"'
    )
    const ev = sim.faults.error({ subresource: "eviction", status: 403 })
    const e2 = await apiError(() => core.createNamespacedPodEviction({ namespace: "default", name: "x", body: { metadata: { name: "x" } } }))
    ev.remove()
    assert.include(e2.body.message, 'cannot create resource "pods/eviction" in API group ""')
  })

  it("requires the bearer token when started with one (401 Unauthorized otherwise)", async () => {
    const secured = await startSim({ token: "s3cret" })
    try {
      const ok = secured.kc.makeApiClient(CoreV1Api)
      assert.isArray((await ok.listNamespace()).items)
      const res = await fetch(`${secured.sim.url}/api/v1/namespaces`)
      assert.strictEqual(res.status, 401)
      assert.deepStrictEqual(await res.json(), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 })
      const wrong = await fetch(`${secured.sim.url}/api/v1/namespaces`, { headers: { Authorization: "Bearer nope" } })
      assert.strictEqual(wrong.status, 401)
    } finally {
      await secured.sim.close()
    }
  })

  it("serves HTTPS with a self-signed certificate carried in the kubeconfig", async () => {
    const secure = await startSim({ tls: true, token: "t0k" })
    try {
      assert.match(secure.sim.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      assert.include(secure.sim.kubeconfig(), "certificate-authority-data: ")
      assert.notInclude(secure.sim.kubeconfig(), "insecure-skip-tls-verify")
      const c = secure.kc.makeApiClient(CoreV1Api)
      assert.isTrue((await c.listNamespace()).items.some((n) => n.metadata!.name === "default"))
      const kcBad = new (await import("@kubernetes/client-node")).KubeConfig()
      kcBad.loadFromString(secure.sim.kubeconfig({ token: "wrong" }))
      const e = await apiError(() => kcBad.makeApiClient(CoreV1Api).listNamespace())
      assert.strictEqual(e.code, 401)
    } finally {
      await secure.sim.close()
    }
  })

  it("applies a rate with a seeded RNG: the same seed gives the same failures", async () => {
    const pattern = async (seed: number) => {
      const other = await startSim({ seed })
      try {
        const c = other.kc.makeApiClient(CoreV1Api)
        other.sim.faults.error({ verb: "list", status: 500, rate: 0.5 })
        const out: Array<boolean> = []
        for (let i = 0; i < 30; i++) out.push(await c.listNamespacedPod({ namespace: "default" }).then(() => true, () => false))
        return out
      } finally {
        await other.sim.close()
      }
    }
    const a = await pattern(7)
    const b = await pattern(7)
    assert.deepStrictEqual(a, b)
    const failures = a.filter((x) => !x).length
    assert.isAtLeast(failures, 5)
    assert.isAtMost(failures, 25)
  })

  it("drops watch connections: an informer reconnects from its last RV without relisting", async () => {
    const informer = makeInformer(kc, "/api/v1/namespaces/default/pods", () => core.listNamespacedPod({ namespace: "default" }))
    sim.recorder.clear()
    await informer.start()
    try {
      await until(() => sim.openWatches === 1, 3000, "watch open")
      const rvBefore = sim.recorder.requests({ watch: true }).at(-1)!.query["resourceVersion"]
      assert.strictEqual(sim.faults.dropWatches(), 1)
      await until(() => sim.recorder.count({ watch: true }) === 2, 5000, "rewatch")
      assert.strictEqual(sim.recorder.requests({ watch: true })[1]!.query["resourceVersion"], rvBefore)
      assert.strictEqual(sim.recorder.count({ path: "/api/v1/namespaces/default/pods", watch: false }), 1)
      await core.createNamespacedPod({ namespace: "default", body: podManifest("after-drop") })
      await until(() => informer.get("after-drop", "default") !== undefined, 3000, "event after reconnect")
    } finally {
      await informer.stop()
    }
  })

  it("an abrupt drop surfaces as a connection error to a raw watch", async () => {
    let done: unknown = "open"
    await new Watch(kc).watch("/api/v1/namespaces/default/pods", { resourceVersion: String(sim.store.resourceVersion) }, () => {}, (err) => (done = err ?? null))
    await until(() => sim.openWatches >= 1, 3000, "watch open")
    sim.faults.dropWatches({ abrupt: true })
    await until(() => done !== "open", 3000, "watch end")
    assert.instanceOf(done, Error)
  })

  it("compacting the history makes a resume from an old RV get 410", async () => {
    const rv = sim.store.resourceVersion
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "c1" } } })
    sim.faults.compactHistory()
    const events: Array<any> = []
    let done: unknown = "open"
    await new Watch(kc).watch("/api/v1/namespaces/default/configmaps", { resourceVersion: String(rv) }, (t, o) => events.push({ t, o }), (e) => (done = e ?? null))
    await until(() => done !== "open", 3000, "410 close")
    assert.strictEqual(events[0].t, "ERROR")
    assert.strictEqual(events[0].o.code, 410)
  })

  it("restart: closes connections and watches, keeps state, RV and the port", async () => {
    const port = sim.port
    const rv = sim.store.resourceVersion
    let done: unknown = "open"
    await new Watch(kc).watch("/api/v1/namespaces/default/pods", { resourceVersion: String(rv) }, () => {}, (e) => (done = e ?? null))
    await until(() => sim.openWatches >= 1, 3000, "watch open")
    await sim.restart()
    await until(() => done !== "open", 3000, "watch closed by restart")
    assert.strictEqual(sim.port, port)
    assert.strictEqual(sim.openWatches, 0)
    const d = await apps.readNamespacedDeployment({ namespace: "default", name: "web" })
    assert.strictEqual(d.spec!.replicas, 2)
    assert.strictEqual(sim.store.resourceVersion, rv)
  })
})

describe("restart with downtime", () => {
  it("refuses connections during the downtime, then serves the same state", async () => {
    const r = await startSim()
    try {
      const c = r.kc.makeApiClient(CoreV1Api)
      await c.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "kept" } } })
      const t0 = performance.now()
      const restarting = r.sim.restart({ downtimeMs: 400 })
      // restart closes the listener before it returns: a connection attempted now is refused, with
      // no wall-clock window to hit (a stalled event loop cannot let the port reopen first)
      const during = await new Promise<string>((ok) => {
        const socket = connect(r.sim.port, "127.0.0.1")
        socket.on("connect", () => {
          socket.destroy()
          ok("connected")
        })
        socket.on("error", (e: NodeJS.ErrnoException) => ok(e.code ?? e.message))
      })
      assert.strictEqual(during, "ECONNREFUSED")
      await restarting
      assert.isAtLeast(performance.now() - t0, 390, "the port stayed closed for the downtime")
      assert.strictEqual((await c.readNamespacedConfigMap({ namespace: "default", name: "kept" })).metadata!.name, "kept")
    } finally {
      await r.sim.close()
    }
  })
})

describe("slow watchers", () => {
  it("a watcher that stops reading is dropped with 410 once its buffer passes the limit", async () => {
    const { request } = await import("node:http")
    // a short history keeps memory flat however many writes the kernel's socket buffers absorb
    const slow = await startSim({ watchBufferLimitBytes: 256 * 1024, historySize: 4 })
    try {
      let received = ""
      const req = request(`${slow.sim.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${slow.sim.store.resourceVersion}`)
      const res = await new Promise<import("node:http").IncomingMessage>((ok) => {
        req.on("response", ok)
        req.end()
      })
      res.pause()
      await until(() => slow.sim.openWatches === 1, 3000, "watch open")
      // Loopback buffers whatever the kernel allows before the server's own buffer grows: up to
      // tcp_wmem max + tcp_rmem max (4 MiB + 32 MiB on a common Linux), more when tuned, and how
      // much of that a run gets depends on receive-buffer autotuning (so on timing). Write 1 MiB
      // events until the watch is dropped, with a bound far above any socket buffering.
      slow.sim.store.create(Keys.configmaps, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "big", namespace: "default" } })
      let written = 0
      for (let i = 0; slow.sim.openWatches === 1 && written < 1024 * 2 ** 20; i++) {
        const big = String(i % 10).repeat(2 ** 20)
        slow.sim.store.mutate(Keys.configmaps, "default", "big", (c) => {
          c["data"] = { big }
        })
        written += big.length
        await new Promise((r) => setImmediate(r))
      }
      assert.strictEqual(slow.sim.openWatches, 0, `still open after ${written} bytes`)
      res.setEncoding("utf8")
      res.on("data", (c: string) => (received += c))
      res.resume()
      await new Promise((r) => res.on("end", r))
      const last = JSON.parse(received.trim().split("\n").at(-1)!)
      assert.strictEqual(last.type, "ERROR")
      assert.strictEqual(last.object.code, 410)
    } finally {
      await slow.sim.close()
    }
  })
})

describe("recorder", () => {
  it("records method, path, query, content type, dryRun and watch; filters and clears", async () => {
    sim.recorder.clear()
    await apps.patchNamespacedDeployment({ namespace: "default", name: "web", dryRun: "All", body: { spec: { replicas: 5 } } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch))
    await core.listNamespacedPod({ namespace: "default", labelSelector: "app=web" })
    const patches = sim.recorder.requests({ method: "PATCH", pathPrefix: "/apis/apps/v1/" })
    assert.strictEqual(patches.length, 1)
    assert.deepInclude(patches[0]!, {
      method: "PATCH",
      path: "/apis/apps/v1/namespaces/default/deployments/web",
      contentType: "application/strategic-merge-patch+json",
      dryRun: true,
      watch: false,
      status: 200
    })
    assert.deepStrictEqual(JSON.parse(patches[0]!.body), { spec: { replicas: 5 } })
    assert.strictEqual(sim.recorder.count({ query: { labelSelector: "app=web" } }), 1)
    assert.strictEqual(sim.recorder.count({ watch: true }), 0)
    sim.recorder.clear()
    assert.strictEqual(sim.recorder.count(), 0)
  })
})
