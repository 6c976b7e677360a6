/**
 * `faults.dropAfterApply` (issue 17 §1): "applied, then the connection dropped before the
 * response". The mutation is stored and recorded with the status it would have answered; the
 * client sees a reset and no answer. Seeded schedules (`FaultSchedule`) replay from their seed.
 */
import { AppsV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeSimInstance } from "../../src/index"
import { FaultSchedule, Keys } from "../../src/index"
import { startSim } from "./helpers"

let sim: KubeSimInstance
let apps: AppsV1Api

beforeAll(async () => {
  const s = await startSim()
  sim = s.sim
  apps = s.kc.makeApiClient(AppsV1Api)
  await apps.createNamespacedDeployment({
    namespace: "default",
    body: { metadata: { name: "web" }, spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "a:1" }] } } } }
  })
})
afterAll(() => sim.close())

const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

describe("faults: applied, then the connection dropped before the response", () => {
  it("the PATCH is applied and recorded with its 200, the client gets no answer", async () => {
    const h = sim.faults.dropAfterApply({ method: "PATCH", resource: "deployments", times: 1 })
    try {
      const before = sim.recorder.count({ method: "PATCH" })
      const err = await apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 3 } } }, merge).then(() => null, (e: unknown) => e as Error)
      assert.isNotNull(err, "the client saw no answer")
      assert.match(String((err as any)?.code ?? (err as Error).message), /ECONNRESET|socket hang up|other side closed|terminated|fetch failed/i)
      assert.strictEqual((sim.store.get(Keys.deployments, "default", "web") as any).spec.replicas, 3, "applied")
      const recorded = sim.recorder.requests({ method: "PATCH" }).slice(before)
      assert.deepStrictEqual(recorded.map((r) => r.status), [200])
      assert.strictEqual(h.hits, 1)
      // the rule is spent: the next PATCH answers normally
      const ok = await apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 4 } } }, merge)
      assert.strictEqual(ok.spec?.replicas, 4)
    } finally {
      h.remove()
    }
  })

  it("a request answered with an error is never applied, so never dropped after applying", async () => {
    const e = sim.faults.error({ method: "PATCH", resource: "deployments", status: 500, times: 1 })
    const d = sim.faults.dropAfterApply({ method: "PATCH", resource: "deployments", times: 1 })
    try {
      const err = await apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { spec: { replicas: 5 } } }, merge).then(() => null, (x: unknown) => x as any)
      assert.strictEqual(err?.code, 500)
      assert.strictEqual((sim.store.get(Keys.deployments, "default", "web") as any).spec.replicas, 4)
      assert.strictEqual(d.hits, 0)
    } finally {
      e.remove()
      d.remove()
    }
  })

  it("an answer that applied nothing (a 409 on a stale resourceVersion) is sent as usual", async () => {
    const d = sim.faults.dropAfterApply({ method: "PATCH", resource: "deployments", times: 1 })
    try {
      const err = await apps.patchNamespacedDeployment({ namespace: "default", name: "web", body: { metadata: { resourceVersion: "1" }, spec: { replicas: 6 } } }, merge).then(() => null, (x: unknown) => x as any)
      assert.strictEqual(err?.code, 409)
      assert.strictEqual((sim.store.get(Keys.deployments, "default", "web") as any).spec.replicas, 4)
    } finally {
      d.remove()
    }
  })

  it("a seeded schedule covers every kind and replays from its seed", () => {
    const a = FaultSchedule.make({ seed: 42, durationMs: 10 * 60_000 })
    for (let seed = 0; seed < 50; seed++) {
      const x = FaultSchedule.make({ seed, durationMs: 4 * 60_000 })
      for (const k of FaultSchedule.kinds) assert.isTrue(x.some((i) => i.kind === k), `seed ${seed}: ${k}`)
    }
    assert.deepStrictEqual(FaultSchedule.make({ seed: 42, durationMs: 10 * 60_000 }), a)
    assert.notDeepEqual(FaultSchedule.make({ seed: 43, durationMs: 10 * 60_000 }), a)
    for (const k of FaultSchedule.kinds) assert.isTrue(a.some((x) => x.kind === k), k)
    assert.isTrue(a.every((x, i) => i === 0 || x.at >= a[i - 1]!.at))
  })
})
