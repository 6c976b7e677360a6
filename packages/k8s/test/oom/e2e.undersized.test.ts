import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect, Stream } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { Kube } from "../../src/Kube"
import { runWithSim, Scenario, servicesLayer, sim } from "./harness"

describe("k8s.oom.six-signal e2e: undersized_limit", () => {
  it.effect("bumps the limit ×1.5, the rollout completes and the OOMs stop; verification passes", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("6m")
      const runbook = OomRunbook.make()
      const program = Effect.gen(function*() {
        const signal = yield* Stream.runHead(runbook.detector!.signals)
        assert.strictEqual(signal._tag, "Some")
        const report = yield* Runbook.handle(runbook, signal._tag === "Some" ? (signal.value as any) : undefined, { mode: "auto" })
        return report
      })
      const report: any = yield* runWithSim(s, program.pipe(Effect.provide(servicesLayer(s))), { max: "20 minutes" })
      console.log(JSON.stringify(report.timeline, null, 1), JSON.stringify(report.classification), JSON.stringify(report.facts.trend))
      assert.strictEqual(report.status, "recovered")
    }).pipe(Effect.scoped), 60_000)
})
