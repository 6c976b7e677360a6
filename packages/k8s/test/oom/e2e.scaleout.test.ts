import { assert, describe, it } from "@effect/vitest"
import { Classification, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as Remediator from "../../src/remediators/oom"
import { firstSignal, runWithSim, Scenario, servicesLayer, sim } from "./harness"

describe("k8s.oom.six-signal e2e: scale-out through an HPA with headroom", () => {
  // The trend probe cannot separate this scenario's crash-loop cascade from its traffic cleanly
  // (r ≈ 0.6), so the classification is given; plan, guardrails, handler and verifier are real.
  // With 400 rps and every replica crash-looping, each pod that turns Ready alone takes all the
  // traffic and is OOM-killed again: scale-out adds pods, but only a bump could stop the cascade.
  // The verifier sees it and the incident escalates after the retry.
  it.effect("given traffic_spike: minReplicas raised (annotated) and pods added; the cascade keeps them un-Ready → escalation", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.trafficSpike({ name: "api", limit: "512Mi", workload: { hpa: { min: 2, max: 10, cpuUtilization: 10_000 } } })).build())
      s.advance("6m")
      const base = OomRunbook.make({ remediation: { ...Remediator.defaults, scaleOutFactor: 3 } })
      const runbook = { ...base, classify: () => Classification.classified("traffic_spike", 0.86, ["given by the test"], {}) }
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.deepStrictEqual(report.outcomes.map((o: any) => [o.kind, o.status]), [["k8s.raiseHpaMinReplicas", "applied"]])
      const hpa = s.api.store.get({ group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers" }, "default", "api") as any
      assert.strictEqual(hpa.spec.minReplicas, 6)
      assert.strictEqual(hpa.metadata.annotations["byteport.io/previous-min-replicas"], "2")
      assert.match(hpa.metadata.annotations["byteport.io/scale-out-reason"], /traffic_spike/)
      const deployment = s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", "api") as any
      assert.isAtLeast(deployment.spec.replicas, 6, "the HPA scaled the Deployment out")
      const pods = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp)
      assert.isAtLeast(pods.length, 6, "pods added")
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(report.verdicts.length, 2)
      assert.isTrue(report.verdicts.every((v: any) => v._tag === "NotRecovered" && /replicas Ready/.test(v.reason)))
    }).pipe(Effect.scoped), 60_000)
})
