/**
 * The OOMKilled detector against a freshly started kube-sim, on the live clock (as a new user's
 * demo runs it): the simulator's clock starts at the wall clock, so its OOM kills are fresh and
 * become signals. A simulator pinned to an old start makes them history: each one dropped is
 * logged at debug level with the reason and the ages compared.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Signal } from "@byteport/core"
import { Effect, Fiber, Logger, References, Stream } from "effect"
import { startSim } from "../../../kube-sim/src/scenario/index"
import * as OomKilled from "../../src/detectors/oomKilled"
import { clusterLayer, Scenario } from "./harness"

const scenario = () => Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build()

const started = (options: { readonly now?: string } = {}) =>
  Effect.acquireRelease(Effect.promise(() => startSim({ scenario: scenario(), seed: 7, ...options })), (s) => Effect.promise(() => s.close()))

describe("OOMKilled detector and the simulator's clock", () => {
  it.live("a freshly started simulator (no fixed time): its OOM kill is a signal on the live clock", () =>
    Effect.gen(function*() {
      const s = yield* started()
      // virtual time started at the wall clock; the scenario's warm-up (pulls, first probes) moved it on a little
      assert.isAtLeast(s.now(), Date.now() - 2_000)
      assert.isBelow(s.now() - Date.now(), 5 * 60_000)
      s.advance("3m") // the undersized container is OOM-killed within 3 minutes
      const got = yield* Stream.runCollect(OomKilled.make().signals.pipe(Stream.take(1))).pipe(
        Effect.provide(clusterLayer(s)),
        Effect.timeout("20 seconds")
      )
      assert.strictEqual(got.length, 1)
      const signal = got[0] as Signal.Signal
      assert.strictEqual(signal.type, "k8s.pod.oom_killed")
      assert.strictEqual(signal.evidence["reason"], "OOMKilled")
    }).pipe(Effect.scoped), 60_000)

  it.live("a simulator pinned to an old start: the kill is dropped as stale and a debug line says why, with the ages", () =>
    Effect.gen(function*() {
      const s = yield* started({ now: "2026-01-01T00:00:00Z" })
      s.advance("3m")
      const lines: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make((o) =>
        void lines.push({
          level: o.logLevel,
          message: (Array.isArray(o.message) ? o.message : [o.message]).map(String).join(" "),
          annotations: { ...o.fiber.getRef(References.CurrentLogAnnotations) }
        })
      )
      const fiber = yield* Effect.forkChild(
        Stream.runCollect(OomKilled.make({ maxAgeMinutes: 15 }).signals.pipe(Stream.take(1))).pipe(
          Effect.provide(clusterLayer(s)),
          Effect.provide(Logger.layer([capture])),
          Effect.provideService(References.MinimumLogLevel, "Debug")
        )
      )
      for (let i = 0; i < 200 && !lines.some((l) => l.message.includes("as stale")); i++) yield* Effect.sleep("50 millis")
      const emitted = fiber.pollUnsafe()
      yield* Fiber.interrupt(fiber)
      assert.isUndefined(emitted, "no signal from a stale kill")
      const stale = lines.find((l) => l.message.includes("as stale"))
      assert.isDefined(stale, `a debug line about the drop (got: ${lines.map((l) => l.message).join(" | ")})`)
      assert.strictEqual(stale!.level, "Debug")
      assert.match(stale!.message, /dropped the OOMKilled termination of default\/api-[a-z0-9-]+\/api as stale: it finished [\d.]+ min ago .*older than maxAgeMinutes 15\.0 min/)
      assert.strictEqual(stale!.annotations["reason"], "stale")
      assert.strictEqual(stale!.annotations["maxAgeMs"], 15 * 60_000)
      const age = stale!.annotations["ageMs"] as number
      const expected = Date.now() - Date.parse(stale!.annotations["finishedAt"] as string)
      assert.isAbove(age, 15 * 60_000)
      assert.isBelow(Math.abs(age - expected), 30_000, "the age compared is now − finishedAt")
    }).pipe(Effect.scoped), 60_000)
})
