import { Metrics } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { harness, podsOf, prom, type Harness } from "./helpers"

let h: Harness
beforeAll(async () => {
  h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "api", replicas: 2, memoryLimit: "1Gi", memory: { kind: "steady", bytes: "300Mi" }, requestRate: 100, behaviour: { cpu: { baseCores: 0.05, coresPerRps: 0.002 } } }] }).build() })
  h.sim.advance("5m")
})
afterAll(() => h.sim.close())

describe("metrics.k8s.io", () => {
  it("serves PodMetrics and NodeMetrics to client-node's Metrics client (kubectl top)", async () => {
    const m = new Metrics(h.kc)
    const pods = await m.getPodMetrics("default")
    assert.strictEqual(pods.kind, "PodMetricsList")
    const api = pods.items.filter((p) => p.metadata.name.startsWith("api-"))
    assert.strictEqual(api.length, 2)
    assert.strictEqual(api[0]!.containers[0]!.usage.memory, `${300 * 1024}Ki`)
    // 0.05 + 0.002 × 50 rps per pod = 150m
    assert.strictEqual(api[0]!.containers[0]!.usage.cpu, "150000000n")
    const one = (await (await fetch(`${h.sim.url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${api[0]!.metadata.name}`)).json()) as any
    assert.strictEqual(one.kind, "PodMetrics")
    assert.deepStrictEqual(one.containers, api[0]!.containers)
    const nodes = await m.getNodeMetrics()
    assert.deepStrictEqual(nodes.items.map((n) => n.metadata.name), ["node-1", "node-2", "node-3"])
    assert.match(nodes.items[0]!.usage.memory, /^\d+Ki$/)
    const apis = (await (await fetch(`${h.sim.url}/apis`)).json()) as any
    assert.isTrue(apis.groups.some((g: any) => g.name === "metrics.k8s.io"))
    const missing = await fetch(`${h.sim.url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope`)
    assert.strictEqual(missing.status, 404)
  })
})

describe("Prometheus API", () => {
  it("instant vector: working set per pod matches metrics.k8s.io; restarts counter; the real response shape", async () => {
    const r = await prom(h, 'container_memory_working_set_bytes{namespace="default",container="api"}')
    assert.strictEqual(r.status, 200)
    assert.strictEqual(r.body.status, "success")
    assert.strictEqual(r.body.data.resultType, "vector")
    assert.strictEqual(r.body.data.result.length, 2)
    const s = r.body.data.result[0]
    assert.strictEqual(s.metric.__name__, "container_memory_working_set_bytes")
    assert.include((await podsOf(h, "api")).map((p) => p.metadata!.name), s.metric.pod)
    assert.strictEqual(s.value[0], h.sim.now() / 1000)
    assert.approximately(Number(s.value[1]), 300 * 2 ** 20, 300 * 2 ** 20 * 0.006)
    const restarts = await prom(h, 'sum(kube_pod_container_status_restarts_total{container="api"})')
    assert.strictEqual(restarts.body.data.result[0].value[1], "0")
    const rate = await prom(h, 'sum(rate(http_requests_total{workload="api"}[5m]))')
    assert.approximately(Number(rate.body.data.result[0].value[1]), 100, 2)
  })

  it("query_range returns a matrix; POST form bodies work; unsupported queries are 400 bad_data", async () => {
    const end = h.sim.now() / 1000
    const u = new URL(`${h.sim.prometheusUrl}/api/v1/query_range`)
    u.searchParams.set("query", 'sum by (pod) (container_memory_working_set_bytes{container="api"})')
    u.searchParams.set("start", String(end - 120))
    u.searchParams.set("end", String(end))
    u.searchParams.set("step", "30s")
    const r = (await (await fetch(u)).json()) as any
    assert.strictEqual(r.data.resultType, "matrix")
    assert.strictEqual(r.data.result.length, 2)
    assert.strictEqual(r.data.result[0].values.length, 5)
    assert.deepStrictEqual(Object.keys(r.data.result[0].metric), ["pod"])
    const post = await fetch(`${h.sim.prometheusUrl}/api/v1/query`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ query: "count(kube_pod_container_status_ready{container=\"api\"} == 1)" }).toString() })
    assert.strictEqual(((await post.json()) as any).data.result[0].value[1], "2")
    for (const bad of ["topk(3, up)", "rate(x)", "sum(x[5m] offset 1m)", "foo{bar=}", ""]) {
      const res = await prom(h, bad)
      assert.strictEqual(res.status, 400, bad)
      assert.strictEqual(res.body.status, "error")
      assert.strictEqual(res.body.errorType, "bad_data")
      assert.isString(res.body.error)
    }
  })
})

describe("simulator control over HTTP", () => {
  it("reads the clock, advances it and serves node host facts", async () => {
    const before = (await (await fetch(`${h.sim.url}/_sim/clock`)).json()) as any
    assert.strictEqual(Date.parse(before.now), h.sim.now())
    const adv = await fetch(`${h.sim.url}/_sim/advance`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ by: "90s" }) })
    assert.strictEqual(adv.status, 200)
    assert.strictEqual(Date.parse(((await adv.json()) as any).now), Date.parse(before.now) + 90_000)
    const bad = await fetch(`${h.sim.url}/_sim/advance`, { method: "POST", body: JSON.stringify({ by: "soon" }) })
    assert.strictEqual(bad.status, 400)
    const host = (await (await fetch(`${h.sim.url}/_sim/nodes/node-1/host`)).json()) as any
    assert.deepInclude(host, { kubelet: "active", runtime: "active", runtimeName: "containerd" })
    assert.strictEqual((await fetch(`${h.sim.url}/_sim/nodes/nope/host`)).status, 404)
  })
})
