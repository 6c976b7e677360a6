/** Pod facts read live from kube-sim through the real client: previous logs and Events. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PodEvents from "../../src/probes/events"
import * as Messages from "../../src/probes/messages"
import * as PodLogs from "../../src/probes/podLogs"
import { clusterLayer, Scenario, sim } from "../oom/harness"

const PODS = { group: "", version: "v1", resource: "pods" }
const c3 = () => Scenario.cluster({ nodes: 3 })

describe("pod facts on kube-sim", () => {
  it.effect("previous log of a panicking container: Known and redacted; Unknown without a previous instance or a pod", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.panicOnBoot({ name: "api" })).with(Scenario.crashloop.missingConfigMap({ name: "cfg" })).build())
      s.advance("8m")
      const pods = s.api.store.list(PODS, { namespace: "default" }) as Array<any>
      const looping = pods.find((p) => p.metadata.name.startsWith("api-") && p.status?.containerStatuses?.[0]?.restartCount > 0)!
      const waiting = pods.find((p) => p.metadata.name.startsWith("cfg-"))!
      const program = Effect.gen(function*() {
        const log = yield* PodLogs.previous("default", looping.metadata.name, "api")
        assert.strictEqual(log._tag, "Known")
        if (log._tag === "Known") assert.match(log.value.lines.join("\n"), /panic/)
        const none = yield* PodLogs.previous("default", waiting.metadata.name, waiting.spec.containers[0].name)
        assert.strictEqual(none._tag, "Unknown")
        if (none._tag === "Unknown") assert.match(none.reason, /no previous instance/)
        const gone = yield* PodLogs.previous("default", "api-gone-12345", "api")
        assert.strictEqual(gone._tag, "Unknown")
        if (gone._tag === "Unknown") assert.match(gone.reason, /the pod is gone/)
        const events = yield* PodEvents.forPod({ namespace: "default", name: looping.metadata.name, uid: looping.metadata.uid })
        const backOff = events.find((e) => e.reason === "BackOff")
        assert.isDefined(backOff)
        assert.strictEqual(backOff!.container, "api")
        assert.deepStrictEqual(Messages.backOff(backOff!.message), { _tag: "Restart", container: "api", pod: looping.metadata.name, namespace: "default", uid: looping.metadata.uid })
        const cfgEvents = yield* PodEvents.forPod({ namespace: "default", name: waiting.metadata.name })
        const failed = cfgEvents.find((e) => e.reason === "Failed")!
        assert.deepStrictEqual(Messages.configError(failed.message), { kind: "ConfigMap", name: "api-config", namespace: null, key: null })
      })
      yield* program.pipe(Effect.provide(clusterLayer(s)))
    }).pipe(Effect.scoped), 60_000)
})
