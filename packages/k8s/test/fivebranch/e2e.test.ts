/**
 * k8s.crashloop.five-branch end to end on kube-sim (real client-node), each class alone, auto
 * mode, the effect read from cluster state.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { deploymentOf, handleFirst, mark, podsOf, ready, restarts, Scenario, sim, writesSince } from "./world"

const c3 = () => Scenario.cluster({ nodes: 3 })

describe("k8s.crashloop.five-branch e2e per class (auto)", () => {
  it.effect("oom_at_startup: ×1.5 via PatchMemoryLimit; no startup OOMs afterwards; verified held", () =>
    Effect.gen(function*() {
      // start-up demand 1.1× the 256Mi limit: OOMKilled within seconds; 73% of the bumped 384Mi
      const s = yield* sim(c3().with(Scenario.crashloop.oomAtStartup({ name: "api", limit: "256Mi", workload: { memory: { kind: "plateau", plateauBytes: Math.round(256 * 2 ** 20 * 1.1), rampSeconds: 8 } } })).build())
      s.advance("3m")
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "oom_at_startup", JSON.stringify(report.classification))
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "384Mi")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      const r0 = restarts(s, "api")
      s.advance("15m")
      assert.strictEqual(restarts(s, "api"), r0, "no startup OOMs after the bump")
      assert.isTrue(podsOf(s, "api").every(ready))
    }).pipe(Effect.scoped), 120_000)
})
