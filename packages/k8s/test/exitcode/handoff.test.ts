/**
 * core's `oom.observed` hand-off is owned by both OOM runbooks: k8s.oom.six-signal (the family's
 * default, so a Catalog with its defaults routes the crash-loop runbook's hand-off somewhere) and
 * k8s.oom.exit-137. The evidence names a workload container; both examine the workload's pod
 * with the latest OOMKilled termination.
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as OomObserved from "../../src/probes/oomObserved"
import * as ExitCodeRemediator from "../../src/remediators/exitCode"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"
import * as OomSixSignal from "../../src/runbooks/k8s.oom.six-signal"
import { firstSignal, mutations, podsOf, runWithSim, Scenario, services, sim } from "./harness"

describe("oom.observed", () => {
  it("both OOM runbooks own it", () => {
    assert.include(OomSixSignal.make().signals, OomObserved.TYPE)
    assert.include(OomExit137.make({ probeTimeout: "2 minutes" }).signals, OomObserved.TYPE)
  })

  it.effect("six-signal and exit-137 resolve the workload container to its latest OOM-killed pod (observe: nothing written)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", replicas: 2 })).build())
      s.advance("8m")
      const exit137 = OomExit137.make({ probeTimeout: "2 minutes" })
      const { handOff, latest } = yield* runWithSim(s, Effect.gen(function*() {
        const crash = yield* firstSignal(exit137, (x) => x.type === "k8s.pod.oom_killed")
        const pods = podsOf(s, "api")
        const handOff = yield* ExitCodeRemediator.oomObserved(crash, { subject: { pod: pods.find((p: any) => p.metadata.name === crash.evidence["pod"]), container: "api" }, owner: null, refs: [] }, s.now())
        const latest = [...pods].sort((a: any, b: any) => OomObserved.lastOomKillAt(b, "api") - OomObserved.lastOomKillAt(a, "api"))[0].metadata.name
        return { handOff, latest }
      }).pipe(Effect.provide(services(s))))
      const before = mutations(s).real.length
      // each runbook with its own store (one incident per target and store at a time)
      const six: any = yield* runWithSim(s, Runbook.handle(OomSixSignal.make({ probeTimeout: "2 minutes" }), handOff, { mode: "observe" }).pipe(Effect.provide(services(s))), { settleMs: 10 })
      const e137: any = yield* runWithSim(s, Runbook.handle(exit137, handOff, { mode: "observe" }).pipe(Effect.provide(services(s))), { settleMs: 10 })
      for (const r of [six, e137]) {
        const pod = Fact.value(r.facts.pod) as any
        assert.strictEqual(pod?.pod, latest, `${r.runbook} examined the latest OOM-killed pod: ${JSON.stringify(r.facts.pod)}`)
        assert.strictEqual(pod?.container, "api")
      }
      assert.strictEqual(e137.classification?.class, "oom_killed")
      assert.strictEqual(mutations(s).real.length - before, 0, "observe writes nothing")
    }).pipe(Effect.scoped), 90_000)
})
