/**
 * The seed's caps hold across runbooks: after k8s.crashloop.seven-class raised a limit, a
 * k8s.restart-loop.container incident on the same container within 24 h is denied its bump
 * (the kind's 1 bump per pod per day, in the shared GuardrailStore) and escalates; one patch only.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as SevenClass from "../../src/runbooks/k8s.crashloop.seven-class"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import { deploymentOf, fast, firstSignal, mutations, runWithSim, Scenario, sevenServices, sim } from "./harness"

describe("seven-class and restart-loop share the bump budget", () => {
  it.effect("a second bump within 24 h is denied from the other runbook; the limit is raised once", () =>
    Effect.gen(function*() {
      // needs 1.7× its limit: ×1.5 is not enough, so the loop goes on after the first bump
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.oomAtStartup({ name: "api", workload: { memory: { kind: "plateau", plateauBytes: Math.round(256 * 2 ** 20 * 1.7), rampSeconds: 8 } } as any })).build())
      const api = (type: string) => (x: any) => x.type === type && String(x.evidence?.pod ?? "").startsWith("api-")
      const { first, second } = yield* runWithSim(s, Effect.gen(function*() {
        const seven = SevenClass.make({ verify: fast })
        const first: any = yield* Runbook.handle(seven, yield* firstSignal(seven as any, api("k8s.pod.crash_loop_back_off")), { mode: "auto" })
        yield* Effect.sleep("10 minutes") // past the first incident's lease cooldown (5 min): a new incident, not a duplicate
        const loop = RestartLoop.make({ verify: fast })
        const second: any = yield* Runbook.handle(loop, yield* firstSignal(loop as any, api("k8s.pod.crash_loop_back_off")), { mode: "auto" })
        return { first, second }
      }).pipe(Effect.provide(sevenServices(s))) as Effect.Effect<any>, { max: "90 minutes" })
      assert.strictEqual(first.classification.class, "oom_at_startup")
      assert.strictEqual(first.outcomes[0]?.status, "applied", JSON.stringify(first.outcomes))
      assert.notStrictEqual(first.status, "recovered", "1.5× was not enough: verification fails")
      assert.strictEqual(second.classification?.class, "oom")
      assert.strictEqual(second.status, "escalated")
      const denial = (second.decisions ?? []).find((d: any) => d.decision === "deny")
      assert.isDefined(denial, JSON.stringify(second.escalation?.reason))
      assert.match(`${denial.guardrail} ${denial.reason}`, /per.?pod|24 ?h|bump/i)
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].resources.limits.memory, "384Mi")
      const patches = mutations(s).real.filter((r) => r.method === "PATCH" && r.path.endsWith("/deployments/api"))
      assert.strictEqual(patches.length, 1, "one bump")
    }).pipe(Effect.scoped), 180_000)
})
