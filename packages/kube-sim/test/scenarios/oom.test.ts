import { CustomObjectsApi } from "@kubernetes/client-node"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { cs, harness, podsOf, prom, ready, smp, type Harness } from "../controllers/helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const oomKills = async (h: Harness, app: string) =>
  (await podsOf(h, app)).reduce((a, p) => a + (p.status?.containerStatuses ?? []).reduce((b, c) => b + c.restartCount, 0), 0)

const bumpMemory = (h: Harness, limit: string) =>
  h.apps.patchNamespacedDeployment({
    name: "api",
    namespace: "default",
    body: { spec: { template: { spec: { containers: [{ name: "api", resources: { limits: { memory: limit }, requests: { memory: limit } } }] } } } }
  }, smp)

describe("OOM family", () => {
  it("undersized limit: OOMKilled (137, lastState) until a strategic-merge memory bump; after the rollout no new OOMKilled", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build() })
    h.sim.advance("10m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(pods.length, 2)
    for (const p of pods) {
      const s = cs(p)
      assert.isAtLeast(s.restartCount, 2)
      assert.strictEqual(s.lastState!.terminated!.reason, "OOMKilled")
      assert.strictEqual(s.lastState!.terminated!.exitCode, 137)
    }
    // working set sits at the limit (cgroup cap) before each kill
    const ws = await prom(h, 'max_over_time(container_memory_working_set_bytes{container="api"}[10m])')
    assert.strictEqual(ws.status, 200)
    assert.isAtLeast(Number(ws.body.data.result[0].value[1]), 0.95 * 512 * 2 ** 20)
    await bumpMemory(h, "768Mi")
    h.sim.advance("3m")
    const after = await podsOf(h, "api")
    assert.strictEqual(after.length, 2)
    for (const p of after) assert.strictEqual(p.spec!.containers[0]!.resources!.limits!["memory"], "768Mi")
    h.sim.advance("30m")
    const later = await podsOf(h, "api")
    for (const p of later) {
      assert.strictEqual(cs(p).restartCount, 0, "no OOM after the bump")
      assert.isTrue(ready(p))
    }
    const d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.strictEqual(d.metadata!.annotations!["deployment.kubernetes.io/revision"], "2")
    assert.strictEqual(d.status!.readyReplicas, 2)
  })

  it("leak: still OOMs after the same bump, later", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.oom.leak({ name: "api", limit: "512Mi", minutesToLimit: 10 })).build() })
    h.sim.advance("25m")
    assert.isAtLeast(await oomKills(h, "api"), 2)
    await bumpMemory(h, "768Mi")
    h.sim.advance("3m")
    const fresh = await podsOf(h, "api")
    for (const p of fresh) assert.strictEqual(cs(p).restartCount, 0)
    h.sim.advance("30m")
    const later = await podsOf(h, "api")
    for (const p of later) {
      assert.isAtLeast(cs(p).restartCount, 1, "the leak outgrows the bigger limit too")
      assert.strictEqual(cs(p).lastState!.terminated!.reason, "OOMKilled")
    }
  })
})

describe("OOM family (traffic, heap flag, node pressure)", () => {
  it("traffic spike: memory follows requests; the HPA is capped; raising minReplicas adds pods at once and stops the OOMs", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.oom.trafficSpike({ name: "api", spikeAfterSeconds: 120 })).build() })
    const h0 = await h.hpa.readNamespacedHorizontalPodAutoscaler({ name: "api", namespace: "default" })
    assert.strictEqual(h0.status!.currentReplicas, 2)
    h.sim.advance("8m")
    const hpa = await h.hpa.readNamespacedHorizontalPodAutoscaler({ name: "api", namespace: "default" })
    assert.strictEqual(hpa.status!.desiredReplicas, 3)
    assert.deepInclude(hpa.status!.conditions!.find((c) => c.type === "ScalingLimited"), { status: "True", reason: "TooManyReplicas" })
    assert.isAtLeast(await oomKills(h, "api"), 1)
    // RSS correlates with requests: the offered request rate is visible at the ingress
    const rate = await prom(h, 'sum(rate(nginx_ingress_controller_requests{service="api"}[2m]))')
    assert.isAbove(Number(rate.body.data.result[0].value[1]), 200)
    await h.hpa.patchNamespacedHorizontalPodAutoscaler({ name: "api", namespace: "default", body: { spec: { minReplicas: 8, maxReplicas: 10 } } }, smp)
    await new Promise((r) => setTimeout(r, 5))
    h.sim.settle()
    const d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.strictEqual(d.spec!.replicas, 8, "raised minReplicas scales up right away")
    const events = await h.core.listNamespacedEvent({ namespace: "default", fieldSelector: "reason=SuccessfulRescale" })
    assert.isTrue(events.items.some((e) => e.message === "New size: 8; reason: Current number of replicas below Spec.MinReplicas"))
    h.sim.advance("2m")
    const calm = h.sim.now()
    h.sim.advance("20m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(pods.length, 8)
    for (const p of pods) {
      const last = cs(p).lastState?.terminated?.finishedAt
      assert.isTrue(last === undefined || last.getTime() <= calm, `${p.metadata!.name} stopped OOMing`)
      assert.isTrue(ready(p))
    }
  })

  it("traffic spike with rampSeconds: memory follows the ramp; OOMs start once rate/2 pods passes the limit; 6 replicas absorb it", async () => {
    // 0.35 × limit + 0.0065 × limit per rps: the limit is reached at 100 rps per pod, i.e. 200 rps over
    // 2 pods, 145 s into a 300 s ramp from 50 to 360 rps; 360 rps over 6 pods needs 74% of the limit.
    // Both nodes hold the image, so the 4 added pods turn Ready together (90 rps each, under the limit)
    h = await harness({ scenario: Scenario.cluster({ nodes: 2 }).with(Scenario.oom.trafficSpike({ name: "api", spikeAfterSeconds: 120, spikeRps: 360, rampSeconds: 300, workload: { hpa: { min: 2, max: 10, cpuUtilization: 10_000 } } })).build() })
    assert.include(h.sim.incidents[0]!.description, "over 300s")
    h.sim.advance("135s")
    assert.strictEqual(await oomKills(h, "api"), 0, "below the limit while rate/2 < 100 rps")
    h.sim.advance("30s")
    assert.isAtLeast(await oomKills(h, "api"), 2, "both replicas OOM-killed just after 145 s of ramp")
    h.sim.advance("4m")
    const rate = await prom(h, 'sum(rate(nginx_ingress_controller_requests{service="api"}[1m]))')
    assert.isAbove(Number(rate.body.data.result[0].value[1]), 300, "the ramp reached its top")
    await h.hpa.patchNamespacedHorizontalPodAutoscaler({ name: "api", namespace: "default", body: { spec: { minReplicas: 6 } } }, smp)
    await new Promise((r) => setTimeout(r, 5))
    h.sim.advance("5m")
    const calm = h.sim.now()
    h.sim.advance("10m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(pods.length, 6)
    for (const p of pods) {
      const last = cs(p).lastState?.terminated?.finishedAt
      assert.isTrue(last === undefined || last.getTime() <= calm, `${p.metadata!.name} stopped OOMing`)
      assert.isTrue(ready(p))
    }
  })

  it("runtime heap flag: JAVA_TOOL_OPTIONS=-Xmx2g OOMs a 1Gi container; a 2Gi limit does not cure it, a smaller -Xmx does", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.oom.runtimeHeapFlag({ name: "api", runtime: "jvm", heap: "2Gi", limit: "1Gi" })).build() })
    h.sim.advance("10m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(cs(pods[0]!).lastState!.terminated!.reason, "OOMKilled")
    assert.deepInclude(pods[0]!.spec!.containers[0]!.env!, { name: "JAVA_TOOL_OPTIONS", value: "-Xmx2g -XX:+UseG1GC" })
    const logs = await h.core.readNamespacedPodLog({ name: pods[0]!.metadata!.name!, namespace: "default", container: "api", previous: true })
    assert.include(logs, "Picked up JAVA_TOOL_OPTIONS: -Xmx2g")
    await bumpMemory(h, "2Gi")
    h.sim.advance("20m")
    assert.isAtLeast(Math.max(...(await podsOf(h, "api")).map((p) => cs(p).restartCount)), 1, "heap 2g + overhead > 2Gi")
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: { spec: { template: { spec: { containers: [{ name: "api", env: [{ name: "JAVA_TOOL_OPTIONS", value: "-Xmx1g" }] }] } } } } }, smp)
    h.sim.advance("3m")
    h.sim.advance("30m")
    for (const p of await podsOf(h, "api")) assert.strictEqual(cs(p).restartCount, 0)
  })

  it("node pressure: MemoryPressure on the node, the healthy pod (<70% of its limit) is OOM-killed there; cordon + eviction reschedules it elsewhere", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.oom.nodePressure({ name: "api", node: "node-2" })).build() })
    h.sim.advance("2m")
    const node = await h.core.readNode({ name: "node-2" })
    assert.deepInclude(node.status!.conditions!.find((c) => c.type === "MemoryPressure"), { status: "True", reason: "KubeletHasInsufficientMemory" })
    assert.isTrue(node.spec!.taints!.some((t) => t.key === "node.kubernetes.io/memory-pressure" && t.effect === "NoSchedule"))
    const onNode = (await podsOf(h, "api")).filter((p) => p.spec!.nodeName === "node-2")
    assert.strictEqual(onNode.length, 1)
    const victim = onNode[0]!
    assert.strictEqual(cs(victim).lastState!.terminated!.reason, "OOMKilled")
    // the workload itself is healthy: 40% of its 1Gi limit (metrics.k8s.io, as kubectl top reads it)
    const healthy = (await podsOf(h, "api")).find((p) => p.spec!.nodeName !== "node-2")!
    const pm = await h.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: "metrics.k8s.io", version: "v1beta1", namespace: "default", plural: "pods", name: healthy.metadata!.name! })
    assert.strictEqual((pm as any).containers[0].usage.memory, `${Math.round((0.4 * 2 ** 30) / 1024)}Ki`)
    const sysoom = await h.core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.kind=Node,reason=SystemOOM" })
    assert.isAtLeast(sysoom.items.length, 1)
    // cordon, then evict (kubectl drain does both)
    await h.core.patchNode({ name: "node-2", body: { spec: { unschedulable: true } } }, smp)
    await h.core.createNamespacedPodEviction({ name: victim.metadata!.name!, namespace: "default", body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: victim.metadata!.name!, namespace: "default" } } })
    h.sim.advance("2m")
    const pods = await podsOf(h, "api")
    assert.strictEqual(pods.length, 3)
    assert.isFalse(pods.some((p) => p.spec!.nodeName === "node-2"))
    assert.isTrue(pods.every(ready))
  })
})
