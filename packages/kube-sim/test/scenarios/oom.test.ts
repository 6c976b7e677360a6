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
