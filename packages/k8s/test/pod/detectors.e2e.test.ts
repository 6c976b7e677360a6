/**
 * The pod-family detectors on kube-sim through the real client and the shared watches, on
 * virtual time: each signal from its scenario, its evidence checked against the exported
 * schema; Pending on each side of 5 minutes; and all seven detectors idle for 10 virtual minutes
 * with zero non-watch requests.
 */
import { Detector } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as ConfigError from "../../src/detectors/configError"
import * as CrashLoop from "../../src/detectors/crashLoop"
import * as Evicted from "../../src/detectors/evicted"
import * as ImagePull from "../../src/detectors/imagePull"
import * as InitFailure from "../../src/detectors/initFailure"
import * as Pending from "../../src/detectors/pending"
import { decodeEvidence, type PodSignalType, PodSignalTypes } from "../../src/detectors/podSignals"
import * as Restarts from "../../src/detectors/restarts"
import { scenario } from "../../../kube-sim/src/scenario/index"
import { until } from "../foundation/helpers"
import { clusterLayer, runWithSim, Scenario, sim } from "../oom/harness"

const take = (signals: Stream.Stream<unknown, never, any>, n: number) => Stream.runCollect(signals.pipe(Stream.take(n))) as Effect.Effect<Array<any>, never, any>
const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))
const c3 = () => Scenario.cluster({ nodes: 3 })

const checkEvidence = (type: PodSignalType, signal: any) =>
  Effect.gen(function*() {
    assert.strictEqual(signal.type, type)
    yield* decodeEvidence(type, signal.evidence).pipe(Effect.orDie)
  })

describe("pod-family detectors on kube-sim (shared informers, real client)", () => {
  it.effect("CrashLoopBackOff: one signal per container, targeting the workload container, with the last termination", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.probeMisconfigured({ name: "api" })).build())
      const got = yield* runWithSim(s, take(CrashLoop.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.crashLoopBackOff, got[0])
      assert.match(got[0].target.ref, /\/default\/Deployment\/api\/api$/)
      assert.strictEqual(got[0].evidence.lastExitCode, 137)
      assert.strictEqual(got[0].evidence.lastReason, "Error")
    }).pipe(Effect.scoped), 60_000)

  it.effect("restart loop: 3 restarts within 10 minutes of a liveness-killed container", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.probeMisconfigured({ name: "api" })).build())
      const got = yield* runWithSim(s, take(Restarts.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.restartLoop, got[0])
      assert.isAtLeast(got[0].evidence.restarts, 3)
      assert.strictEqual(got[0].evidence.windowMinutes, 10)
    }).pipe(Effect.scoped), 60_000)

  it.effect("ErrImagePull of a bad tag: once per container and image, with the runtime's message", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.badImageTag({ name: "api" })).build())
      const got = yield* runWithSim(s, take(ImagePull.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.imagePull, got[0])
      assert.match(got[0].evidence.message, /not found/)
      assert.match(got[0].evidence.image, /:1\.4\.3-rc0$/)
    }).pipe(Effect.scoped), 60_000)

  it.effect("CreateContainerConfigError names the missing ConfigMap", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.missingConfigMap({ name: "api" })).build())
      const got = yield* runWithSim(s, take(ConfigError.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.configError, got[0])
      assert.strictEqual(got[0].evidence.message, 'configmap "api-config" not found')
    }).pipe(Effect.scoped), 60_000)

  it.effect("Init:* failure of a migration init container", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.failedInit({ name: "api" })).build())
      const got = yield* runWithSim(s, take(InitFailure.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.initFailure, got[0])
      assert.match(got[0].evidence.status, /^Init:(Error|CrashLoopBackOff)$/)
      assert.strictEqual(got[0].evidence.container, "migrate")
    }).pipe(Effect.scoped), 60_000)

  it.effect("Evicted under node memory pressure: the workload, not a container", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.node.memoryPressure({ node: "node-2" })).build())
      const got = yield* runWithSim(s, take(Evicted.make().signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "60 minutes", step: "5 seconds" })
      yield* checkEvidence(PodSignalTypes.evicted, got[0])
      assert.strictEqual(got[0].evidence.container, null)
      assert.match(got[0].evidence.message, /low on resource: memory/)
    }).pipe(Effect.scoped), 90_000)

  it.effect("Pending: no signal at 4:59, one at 5:00 (+ the check interval) with the scheduler's message", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.pending.insufficientMemory({ name: "batch" })).build())
      const got = yield* runWithSim(s, take(Pending.make({ checkInterval: "5 seconds" }).signals, 1).pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      yield* checkEvidence(PodSignalTypes.pending, got[0])
      const since = Date.parse(got[0].evidence.pendingSince)
      assert.isAtLeast(got[0].observedAt - since, 5 * 60_000, "never before 5 minutes")
      assert.isBelow(got[0].observedAt - since, 5 * 60_000 + 10_000, "within one check interval (+ step) after 5 minutes")
      assert.match(got[0].evidence.message, /Insufficient memory/)
      assert.match(got[0].target.ref, /\/default\/Deployment\/batch$/)
    }).pipe(Effect.scoped), 60_000)

  it.effect("all seven detectors: one watch per kind, then 10 idle virtual minutes with zero non-watch requests and no signal", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 3, workloads: [{ name: "web", replicas: 2 }] }))
      s.advance("2m")
      s.api.recorder.clear()
      yield* TestClock.setTime(s.now())
      const all = Detector.merge("pods", [CrashLoop.make(), Restarts.make(), ImagePull.make(), ConfigError.make(), InitFailure.make(), Evicted.make(), Pending.make()].map((d) => d as Detector.Detector<never, any>))
      const seen: Array<unknown> = []
      const fiber = yield* Stream.runForEach(all.signals, (x) => Effect.sync(() => void seen.push(x))).pipe(Effect.provide(clusterLayer(s)), Effect.forkChild)
      const KINDS = ["/api/v1/events", "/api/v1/pods", "/apis/apps/v1/deployments", "/apis/apps/v1/replicasets"]
      yield* until(() => s.api.openWatches >= KINDS.length, 20_000, "four watches open")
      yield* realDelay(300)
      const startup = s.api.recorder.requests()
      assert.deepStrictEqual(startup.filter((r) => r.watch).map((r) => r.path).sort(), KINDS, "exactly one watch per kind")
      const mark = startup.at(-1)!.seq
      for (let i = 0; i < 60; i++) {
        s.advance(10_000)
        yield* TestClock.adjust("10 seconds")
        yield* realDelay(15)
      }
      const idle = s.api.recorder.requests().filter((r) => r.seq > mark)
      assert.deepStrictEqual(idle.filter((r) => !r.watch).map((r) => `${r.method} ${r.path}`), [], "zero non-watch requests")
      assert.deepStrictEqual(seen, [], "a healthy cluster raises nothing")
      assert.strictEqual(s.api.openWatches, KINDS.length, "still one watch per kind")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.scoped), 90_000)
})
