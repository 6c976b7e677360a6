/**
 * Both runbooks' detectors ride the shared watches: with seven-class and restart-loop detecting
 * together on a healthy cluster, one watch per kind is opened, and 10 idle virtual minutes send
 * no other request and raise no signal.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as SevenClass from "../../src/runbooks/k8s.crashloop.seven-class"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import { runWithSim, Scenario, sevenServices, sim } from "./harness"

describe("seven-class and restart-loop detectors: idle", () => {
  it.effect("10 idle virtual minutes: 0 non-watch requests, one watch per kind, no signal", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with({ workloads: [{ name: "api", replicas: 2, image: "registry.example.com/shop/api:1.4.2" }] }).build())
      const rbs = [SevenClass.make(), RestartLoop.make()]
      const { reads, signals } = yield* runWithSim(s, Effect.gen(function*() {
        const seen: Array<unknown> = []
        const fibers = []
        for (const rb of rbs) fibers.push(yield* Effect.forkChild(Stream.runForEach(rb.detector!.signals, (x) => Effect.sync(() => seen.push(x)))))
        yield* Effect.sleep("2 minutes")
        const from = s.api.recorder.requests().length
        yield* Effect.sleep("10 minutes")
        const reads = s.api.recorder.requests().slice(from).filter((r) => !r.watch)
        for (const f of fibers) yield* Fiber.interrupt(f)
        return { reads, signals: seen }
      }).pipe(Effect.provide(sevenServices(s))), { max: "20 minutes" })
      assert.deepStrictEqual(reads.map((r) => `${r.method} ${r.path}`), [])
      assert.strictEqual(signals.length, 0)
      const watches = s.api.recorder.requests().filter((r) => r.watch).map((r) => r.path.split("?")[0]!)
      for (const kind of ["pods", "deployments", "replicasets", "events"]) {
        assert.strictEqual(watches.filter((p) => p.endsWith(`/${kind}`)).length, 1, `one ${kind} watch: ${watches.join(", ")}`)
      }
    }).pipe(Effect.scoped), 60_000)
})
