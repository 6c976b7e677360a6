import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as Remediator from "../../src/remediators/oom"
import { advance, firstSignal, runWithSim, Scenario, servicesLayer, sim } from "./harness"

const pods = (s: any): Array<any> => (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp)
const restarts = (s: any) => pods(s).reduce((a, p) => a + (p.status.containerStatuses?.[0]?.restartCount ?? 0), 0)

describe("k8s.oom.six-signal e2e: scale-out through an HPA with headroom", () => {
  // Requests ramp from 50 to 360 rps over 5 minutes on 2 replicas (the HPA scales on CPU only, so it
  // does not follow the requests): at 200 rps each pod needs 0.35 + 0.0065 × 100 = 1.0× the 512Mi
  // limit and both are OOM-killed. The runbook takes the first OOMKilled signal and classifies
  // traffic_spike itself from the Prometheus correlation (the working set followed the ramp); with
  // a scale-out factor of 3 (BYTEPORT_OOM_SCALE_OUT_FACTOR) it raises minReplicas 2 → 6, and 6
  // Ready pods take 60 rps each (≈ 74% of the limit). Both nodes already hold the image, so the 4
  // pods the raise adds start and turn Ready in the same instant and share the 360 rps (90 each,
  // ≈ 94% of the limit) until the crash-looping replicas rejoin after their back-off.
  it.effect("classified traffic_spike from the request-rate correlation: minReplicas raised (annotated), pods added, OOMs stop → recovered", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.oom.trafficSpike({ name: "api", limit: "512Mi", spikeRps: 360, rampSeconds: 300, workload: { hpa: { min: 2, max: 10, cpuUtilization: 10_000 } } })).build())
      s.advance("3m") // the ramp starts at 3 minutes; the detector waits for the first OOMKill
      const runbook = OomRunbook.make({ remediation: { ...Remediator.defaults, scaleOutFactor: 3 } })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "traffic_spike", JSON.stringify(report.facts.trend))
      assert.isAtLeast(report.facts.trend.value.rpsCorrelation, 0.7, "classified from the working set following the request rate")
      assert.deepStrictEqual(report.outcomes.map((o: any) => [o.kind, o.status]), [["k8s.raiseHpaMinReplicas", "applied"]])
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit"), "scale-out, not a bump")
      const hpa = s.api.store.get({ group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers" }, "default", "api") as any
      assert.strictEqual(hpa.spec.minReplicas, 6)
      assert.strictEqual(hpa.metadata.annotations["byteport.io/previous-min-replicas"], "2")
      assert.match(hpa.metadata.annotations["byteport.io/scale-out-reason"], /traffic_spike/)
      const deployment = s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", "api") as any
      assert.strictEqual(deployment.spec.replicas, 6, "the HPA scaled the Deployment out")
      assert.strictEqual(deployment.spec.template.spec.containers[0].resources.limits.memory, "512Mi", "the limit is unchanged")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts))
      // the checks held for 5 minutes: 11 polls, every one passing
      assert.strictEqual(report.verdicts.length, 11)
      assert.isTrue(report.verdicts.every((v: any) => v._tag === "Recovered" && v.checks.every((c: any) => c.ok)), JSON.stringify(report.verdicts.map((v: any) => v.checks)))
      assert.isUndefined(report.escalation)
      const ready = pods(s).filter((p) => p.status.conditions?.find((c: any) => c.type === "Ready")?.status === "True")
      assert.strictEqual(ready.length, 6, "six Ready replicas share the traffic")
      const r0 = restarts(s)
      yield* advance(s, "10 minutes")
      assert.strictEqual(restarts(s), r0, "no OOMKill after the scale-out")
    }).pipe(Effect.scoped), 60_000)
})
