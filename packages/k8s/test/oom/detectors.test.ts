import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as OomKilled from "../../src/detectors/oomKilled"
import * as RestartGrowth from "../../src/detectors/restartGrowth"
import * as WorkingSetHigh from "../../src/detectors/workingSetHigh"
import * as MemoryPressure from "../../src/detectors/memoryPressure"
import { clusterLayer, runWithSim, Scenario, sim } from "./harness"

const take = (signals: Stream.Stream<unknown, never, any>, n: number) => Stream.runCollect(signals.pipe(Stream.take(n))) as Effect.Effect<Array<any>, never, any>

describe("OOM detectors on kube-sim (informers, real client)", () => {
  it.effect("OOMKilled: one signal per termination, targeting the workload container, with the pod in the evidence", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("3m")
      const got = yield* runWithSim(s, take(OomKilled.make().signals, 4).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      assert.strictEqual(got.length, 4)
      for (const g of got) {
        assert.strictEqual(g.type, "k8s.pod.oom_killed")
        assert.strictEqual(g.target.kind, "k8s.workload")
        assert.match(g.target.ref, /\/default\/Deployment\/api\/api$/)
        assert.strictEqual(g.evidence.reason, "OOMKilled")
        assert.strictEqual(g.evidence.exitCode, 137)
      }
      const keys = got.map((g) => `${g.evidence.pod}/${g.evidence.finishedAt}`)
      assert.strictEqual(new Set(keys).size, 4, "each termination once")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a liveness kill (exit 137, reason Error) is restart growth, not an OOMKilled signal", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.probeMisconfigured({ name: "api" })).build())
      const program = Effect.gen(function*() {
        const oom = yield* Effect.forkChild(take(OomKilled.make().signals, 1))
        const growth = yield* take(RestartGrowth.make().signals, 1)
        const oomSeen = oom.pollUnsafe()
        return { growth, oomSeen }
      })
      const { growth, oomSeen } = yield* runWithSim(s, program.pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      assert.strictEqual(growth[0].type, "k8s.pod.restart_growth")
      assert.strictEqual(growth[0].evidence.exitCode, 137)
      assert.strictEqual(growth[0].evidence.reason, "Error")
      assert.isAbove(growth[0].evidence.restartCount, growth[0].evidence.from)
      assert.isUndefined(oomSeen, "no OOMKilled signal")
    }).pipe(Effect.scoped), 60_000)

  it.effect("working set ≥ 90% of the limit (metrics-server poll)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      const got = yield* runWithSim(s, take(WorkingSetHigh.make({ interval: "15 seconds" }).signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      assert.strictEqual(got[0].type, "k8s.pod.working_set_high")
      assert.isAtLeast(got[0].evidence.ratio, 0.9)
      assert.strictEqual(got[0].evidence.limitBytes, 512 * 2 ** 20)
    }).pipe(Effect.scoped), 60_000)

  it.effect("MemoryPressure: the node, once, when the condition turns True", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.nodePressure({ name: "api", node: "node-2" })).build())
      const got = yield* runWithSim(s, take(MemoryPressure.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      assert.strictEqual(got[0].type, "k8s.node.memory_pressure")
      assert.strictEqual(got[0].target.kind, "k8s.node")
      assert.strictEqual(got[0].evidence.node, "node-2")
    }).pipe(Effect.scoped), 60_000)
})
