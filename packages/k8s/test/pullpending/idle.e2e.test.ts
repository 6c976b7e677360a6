/**
 * Both runbooks' detectors together on a healthy kube-sim: one watch per kind (the shared
 * informers; nodes for the fit check), then 10 idle virtual minutes with zero non-watch requests
 * and no signal.
 */
import { Detector } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { scenario } from "../../../kube-sim/src/scenario/index"
import * as ImagePull from "../../src/runbooks/k8s.image-pull"
import * as Pending from "../../src/runbooks/k8s.pending"
import { until } from "../foundation/helpers"
import { clusterLayer, sim } from "../oom/harness"

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

describe("k8s.image-pull + k8s.pending detectors: shared watches, idle", () => {
  it.effect("one watch per kind, then 10 idle virtual minutes with zero non-watch requests and no signal", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 3, workloads: [{ name: "web", replicas: 2 }] }))
      s.advance("2m")
      s.api.recorder.clear()
      yield* TestClock.setTime(s.now())
      const all = Detector.merge("pull+pending", [ImagePull.make().detector!, Pending.make().detector!] as Array<Detector.Detector<never, any>>)
      const seen: Array<unknown> = []
      const fiber = yield* Stream.runForEach(all.signals, (x) => Effect.sync(() => void seen.push(x))).pipe(Effect.provide(clusterLayer(s)), Effect.forkChild)
      const KINDS = ["/api/v1/events", "/api/v1/nodes", "/api/v1/pods", "/apis/apps/v1/deployments", "/apis/apps/v1/replicasets"]
      yield* until(() => s.api.openWatches >= KINDS.length, 20_000, "five watches open")
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

  it.effect("a surge pod stuck in ContainerCreating (a rollout in progress) is ignored: the failed-rollout runbook's", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 3, workloads: [{ name: "api", replicas: 2, image: "registry.example.com/shop/api:1.4.2" }] }))
      s.advance("2m")
      yield* TestClock.setTime(s.now())
      const seen: Array<any> = []
      const fiber = yield* Stream.runForEach(Pending.make().detector!.signals, (x) => Effect.sync(() => void seen.push(x))).pipe(Effect.provide(clusterLayer(s)), Effect.forkChild)
      yield* until(() => s.api.openWatches >= 4, 20_000, "watches open")
      const r = yield* Effect.promise(() => fetch(`${s.url}/apis/apps/v1/namespaces/default/deployments/api`, {
        method: "PATCH",
        headers: { "content-type": "application/strategic-merge-patch+json" },
        body: JSON.stringify({ spec: { template: { spec: { volumes: [{ name: "cfg", configMap: { name: "gone" } }], containers: [{ name: "api", volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }] }] } } } })
      }))
      assert.strictEqual(r.status, 200)
      for (let i = 0; i < 48; i++) {
        s.advance(10_000)
        yield* TestClock.adjust("10 seconds")
        yield* realDelay(10)
      }
      const stuck = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.status?.phase === "Pending" && p.spec.nodeName)
      assert.isAbove(stuck.length, 0, "the new revision's pod is stuck in ContainerCreating")
      assert.deepStrictEqual(seen, [], "8 minutes stuck, but a surge pod: no signal")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.scoped), 90_000)
})
