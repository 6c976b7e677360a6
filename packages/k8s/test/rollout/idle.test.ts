/**
 * The detector reads the shared watches' caches: on an idle cluster (no rollout in the last 30
 * minutes, no canary) its polls send no request to the API server, nor to Prometheus.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"
import { rolloutServices, runWithSim, Scenario, sim } from "./harness"

describe("k8s.deploy.failed-rollout detector: idle", () => {
  it.effect("10 idle virtual minutes: 0 non-watch requests after the caches synced, no signal", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with({ workloads: [{ name: "api", replicas: 2, image: "registry.example.com/shop/api:1.4.2", service: true, requestRate: 50 }] }).build())
      const rb = FailedRollout.make()
      const { reads, signals } = yield* runWithSim(s, Effect.gen(function*() {
        const seen: Array<unknown> = []
        const fiber = yield* Effect.forkChild(Stream.runForEach(rb.detector!.signals, (x) => Effect.sync(() => seen.push(x))))
        yield* Effect.sleep("2 minutes") // the watches list once and sync
        const from = s.api.recorder.requests().length
        yield* Effect.sleep("10 minutes")
        const reads = s.api.recorder.requests().slice(from).filter((r) => !r.watch)
        yield* Fiber.interrupt(fiber)
        return { reads, signals: seen }
      }).pipe(Effect.provide(rolloutServices(s))), { max: "20 minutes" })
      assert.deepStrictEqual(reads.map((r) => `${r.method} ${r.path}`), [])
      assert.strictEqual(signals.length, 0)
      const watches = s.api.recorder.requests().filter((r) => r.watch).map((r) => r.path)
      for (const kind of ["deployments", "replicasets", "events", "pods"]) assert.isTrue(watches.some((p) => p.endsWith(`/${kind}`)), `a ${kind} watch is open`)
    }).pipe(Effect.scoped), 60_000)
})
