import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { firstSignal, mutations, runWithSim, Scenario, servicesLayer, sim } from "./harness"

// issue 9 item 1 end to end: a leak that needs hours to fill its limit, OOM-killed in kube-sim and
// handled in auto mode by the real runbook (Prometheus trend through the real client): never a
// plateau, never a bump. The old rule (slope > 1% of the peak per minute) read these as plateaus
// at the limit → undersized_limit → patchMemoryLimit.

const deploymentOf = (s: any, name: string) => s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name)

describe("k8s.oom.six-signal e2e: slow leaks", () => {
  for (const [minutesToLimit, advance] of [[180, "190m"], [540, "550m"]] as const) {
    it.effect(`a leak filling its limit in ${minutesToLimit / 60} h: OOM-killed, not a plateau, no bump`, () =>
      Effect.gen(function*() {
        const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.leak({ name: "api", limit: "512Mi", minutesToLimit })).build())
        s.advance(advance)
        const runbook = OomRunbook.make()
        const before = mutations(s).real.length
        const report: any = yield* runWithSim(s, Effect.gen(function*() {
          const signal = yield* firstSignal(runbook)
          return yield* Runbook.handle(runbook, signal, { mode: "auto" })
        }).pipe(Effect.provide(servicesLayer(s))))
        const why = JSON.stringify({ trend: report.facts.trend, classification: report.classification })
        assert.strictEqual(report.facts.trend._tag, "Known", why)
        assert.isFalse(report.facts.trend.value.plateau, why)
        assert.isAbove(report.facts.trend.value.slopeBytesPerMinute, 0, why)
        assert.notInclude(["undersized_limit", "traffic_spike"], report.classification?.class ?? report.classification?._tag, why)
        assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit"), why)
        assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "512Mi")
        assert.strictEqual(mutations(s).real.length - before, 0, "nothing written to the cluster")
      }).pipe(Effect.scoped), 120_000)
  }
})
