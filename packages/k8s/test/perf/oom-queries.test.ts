/**
 * Issue 17 §3: one k8s.oom.six-signal diagnosis makes only the memory trend's Prometheus range
 * queries (working set + request rate per window). A container metrics-server has no sample of
 * (crash-loop back-off after the kill) takes its last working set from the trend's series, never
 * from a third, per-pod range query. Counted at the Metrics service (a count, never a time).
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact } from "@byteport/core"
import { Effect, Layer } from "effect"
import { Metrics } from "../../src/metrics/Metrics"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { firstSignal, runWithSim, Scenario, servicesLayer, sim } from "../oom/harness"

describe("OOM diagnosis: Prometheus queries per incident (issue 17 §3)", () => {
  it.effect("undersized limit, the pod in back-off: the working set comes from the trend's series; range queries = 2 per trend window", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 1 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "128Mi", replicas: 1 })).build())
      s.advance("20m")
      const calls: Array<string> = []
      const counting = Layer.effect(
        Metrics,
        Effect.map(Effect.service(Metrics), (m) => ({
          ...m,
          memorySeries: (sel: Parameters<typeof m.memorySeries>[0], range: Parameters<typeof m.memorySeries>[1]) =>
            Effect.suspend(() => (calls.push(sel.pod !== undefined ? `memory pod=${sel.pod}` : `memory prefix=${sel.podPrefix}`), m.memorySeries(sel, range))),
          requestRate: (w: Parameters<typeof m.requestRate>[0], range: Parameters<typeof m.requestRate>[1]) =>
            Effect.suspend(() => (calls.push(`rps ${w.workload}`), m.requestRate(w, range)))
        }))
      )
      const runbook = OomRunbook.make()
      const { facts, pod } = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook)
        // in back-off metrics-server has no sample of the container: the fallback is exercised
        const pod = String(signal.evidence["pod"])
        calls.length = 0
        const facts = yield* OomRunbook.diagnose()(signal).pipe(Effect.provide(counting))
        return { facts, pod }
      }).pipe(Effect.provide(servicesLayer(s))))
      const ws = Fact.value(facts.workingSet)
      assert.ok(ws && ws.bytes !== null && ws.bytes > 100 * 2 ** 20, `a last working set is known: ${JSON.stringify(facts.workingSet)}`)
      assert.deepStrictEqual(calls.filter((c) => c.startsWith("memory pod=")), [], `no per-pod range query for ${pod}: ${calls.join(", ")}`)
      const windows = calls.filter((c) => c.startsWith("memory prefix=")).length
      assert.ok(windows >= 1)
      assert.strictEqual(calls.length, 2 * windows, calls.join(", "))
    }).pipe(Effect.scoped), 90_000)

  it.effect("the fallback still reads Prometheus for a pod the trend's series do not cover", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 1 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "128Mi", replicas: 1 })).build())
      s.advance("20m")
      const pod = (s.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "default", labelSelector: "app=api" }) as Array<any>)[0]
      const ws = yield* runWithSim(s, OomRunbook.workingSetOrLast({ namespace: "default", pod: pod.metadata.name, container: "api" } as never, Effect.succeed([])).pipe(Effect.provide(servicesLayer(s))))
      assert.ok(ws.bytes !== null, "read from its own range query")
    }).pipe(Effect.scoped), 90_000)
})
