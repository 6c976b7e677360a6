import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as NotReadyDetector from "../../src/detectors/nodeNotReady"
import { clusterLayer, runWithSim, Scenario, sim } from "./harness"
import * as SimShell from "./simNodeShell"

const readyCond = (s: any, name: string) => s.api.store.get({ group: "", version: "v1", resource: "nodes" }, undefined, name)?.status?.conditions?.find((c: any) => c.type === "Ready")

describe("k8s.node.not-ready detector", () => {
  it.effect("signals once Ready has been False/Unknown for 60 s (not before), with kubelet and kernel evidence from the node", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advanceUntil(() => readyCond(s, "node-2")?.status === "Unknown", "5m", "1s")
      const since = Date.parse(readyCond(s, "node-2").lastTransitionTime)
      const log: Array<string> = []
      const det = NotReadyDetector.make({ tick: "1 second" })
      const signal: any = yield* runWithSim(s, Stream.runHead(det.signals).pipe(Effect.map((o: any) => o.value)), { step: "1 second" }).pipe(
        Effect.provide(Layer.mergeAll(clusterLayer(s), SimShell.layer(s, log)))
      )
      const age = signal.observedAt - since
      assert.isAtLeast(age, 60_000, `signalled ${age} ms after the transition`)
      assert.isAtMost(age, 63_000)
      assert.strictEqual(signal.type, "k8s.node.not_ready")
      assert.strictEqual(signal.target.kind, "k8s.node")
      assert.strictEqual(signal.evidence.node, "node-2")
      assert.strictEqual(signal.evidence.ready, "Unknown")
      assert.strictEqual(signal.evidence.kubeletActive, "inactive")
      assert.strictEqual(signal.evidence.kubeletFailed, "inactive")
      assert.strictEqual(signal.evidence.kernel, "clean")
      assert.include(log, "node-2: systemctl is-active kubelet")
    }).pipe(Effect.scoped), 60_000)

  it.effect("the threshold is configurable, and without a NodeShell the evidence says unknown", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "hardware" })).build())
      s.advanceUntil(() => readyCond(s, "node-2")?.status === "Unknown", "5m", "1s")
      const since = Date.parse(readyCond(s, "node-2").lastTransitionTime)
      const det = NotReadyDetector.make({ tick: "1 second", notReadySeconds: 120 })
      const signal: any = yield* runWithSim(s, Stream.runHead(det.signals).pipe(Effect.map((o: any) => o.value)), { step: "1 second" }).pipe(Effect.provide(clusterLayer(s)))
      const age = signal.observedAt - since
      assert.isAtLeast(age, 120_000)
      assert.isAtMost(age, 123_000)
      assert.strictEqual(signal.evidence.kubeletActive, "unknown")
      assert.strictEqual(signal.evidence.hostCommands, "no NodeShell")
    }).pipe(Effect.scoped), 60_000)
})
