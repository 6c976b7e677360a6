/** Image IDs per restart and autoscaler-awaited Pending pods, live on kube-sim. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Pending from "../../src/detectors/pending"
import * as ImageIds from "../../src/probes/imageIds"
import { clusterLayer, runWithSim, Scenario, sim } from "../oom/harness"

const PODS = { group: "", version: "v1", resource: "pods" }
const EVENTS = { group: "", version: "v1", resource: "events" }
const c3 = () => Scenario.cluster({ nodes: 3 })

describe("ImageIds.track on the shared pod watch", () => {
  it.effect("records the pulled digest at each restart of a crash-looping container", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.panicOnBoot({ name: "api" })).build())
      const program = Effect.gen(function*() {
        const history = yield* ImageIds.track({ namespace: "default" })
        const until = Effect.gen(function*() {
          for (;;) {
            const pods = s.api.store.list(PODS, { namespace: "default" }) as Array<any>
            const p = pods.find((x) => history.of(x.metadata.uid, "api").length >= 3)
            if (p) return history.of(p.metadata.uid, "api")
            yield* Effect.sleep("1 second")
          }
        })
        return yield* until
      }).pipe(Effect.scoped)
      const entries = yield* runWithSim(s, program.pipe(Effect.provide(clusterLayer(s))), { max: "30 minutes" })
      const counts = entries.map((e) => e.restartCount)
      assert.deepStrictEqual(counts, [...counts].sort((a, b) => a - b), "one entry per restart, in order")
      for (const e of entries) assert.match(e.digest ?? "", /^sha256:[0-9a-f]{64}$/)
      assert.isFalse(ImageIds.rePushed(entries), "one digest: no re-push")
    }).pipe(Effect.scoped), 60_000)
})

describe("PendingDetector: an autoscaler-awaited pod is not reported", () => {
  it.effect("a TriggeredScaleUp Event on the pod silences it; its sibling without one is reported", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.pending.insufficientMemory({ name: "batch", replicas: 2 })).build())
      s.advance("30s")
      const pods = (s.api.store.list(PODS, { namespace: "default" }) as Array<any>).filter((p) => p.metadata.name.startsWith("batch-"))
      assert.isAtLeast(pods.length, 2, "two Pending replicas")
      const awaited = pods[0]
      s.api.store.create(EVENTS, {
        apiVersion: "v1", kind: "Event",
        metadata: { name: `${awaited.metadata.name}.scaleup`, namespace: "default" },
        involvedObject: { kind: "Pod", name: awaited.metadata.name, namespace: "default", uid: awaited.metadata.uid },
        reason: "TriggeredScaleUp", type: "Normal", source: { component: "cluster-autoscaler" },
        message: "pod triggered scale-up: [{workers 3->4 (max: 10)}]",
        firstTimestamp: new Date(s.now()).toISOString(), lastTimestamp: new Date(s.now()).toISOString(), count: 1
      } as any)
      const program = Effect.gen(function*() {
        const seen: Array<any> = []
        const fiber = yield* Stream.runForEach(Pending.make({ checkInterval: "5 seconds" }).signals, (x) => Effect.sync(() => void seen.push(x))).pipe(Effect.forkChild)
        yield* Effect.sleep("8 minutes")
        yield* Fiber.interrupt(fiber)
        return seen
      })
      const seen = yield* runWithSim(s, program.pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes", step: "5 seconds" })
      const reported = seen.map((x) => x.evidence.pod)
      assert.notInclude(reported, awaited.metadata.name, "autoscaler-awaited")
      assert.include(reported, pods[1].metadata.name, "its sibling without a scale-up is reported")
    }).pipe(Effect.scoped), 60_000)
})
