import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Kube from "../../src/Kube"
import { deployment, kubeLayer, put, sim } from "./helpers"

describe("EventRecorder", () => {
  it.live("records a core/v1 Event on the acted-on object, with uid and resourceVersion; nothing in dry run", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web"))
      const layer = EventRecorder.layer({ instance: "agent-1" }).pipe(Layer.provideMerge(kubeLayer(s)))
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const d = yield* kube.getDeployment("default", "web")
        assert.strictEqual(yield* EventRecorder.recordEvent(d, "RolloutRestarted", "restarted for a leak hand-off", { dryRun: true }), "skipped-dry-run")
        assert.strictEqual(s.recorder.count({ method: "POST" }), 0)
        assert.strictEqual(yield* EventRecorder.recordEvent(d, "RolloutRestarted", "restarted for a leak hand-off"), "recorded")
        const events = yield* kube.listEvents({ namespace: "default", fieldSelector: "involvedObject.name=web" })
        assert.strictEqual(events.length, 1)
        const e = events[0]!
        assert.strictEqual(e.reason, "RolloutRestarted")
        assert.strictEqual(e.type, "Normal")
        assert.strictEqual(e.source?.component, "byteport")
        assert.strictEqual(e.reportingComponent, "byteport")
        assert.strictEqual(e.reportingInstance, "agent-1")
        assert.strictEqual(e.involvedObject.kind, "Deployment")
        assert.strictEqual(e.involvedObject.uid, d.metadata?.uid)
        assert.strictEqual(e.involvedObject.resourceVersion, d.metadata?.resourceVersion)
        // a refused event never fails the caller
        s.faults.error({ method: "POST", resource: "events", status: 500, times: 1 })
        assert.strictEqual(yield* EventRecorder.recordEvent(d, "X", "y", { type: "Warning" }), "failed")
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped))
})
