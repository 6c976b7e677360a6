/**
 * `Metrics.httpStats`: per-revision HTTP numbers through Prometheus (kube-sim's), each revision
 * by its ReplicaSet's pod names; metrics-server cannot answer it (a typed MetricsUnsupported, an
 * Unknown fact); the OOM methods are unchanged beside it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Kube from "../../src/Kube"
import * as Metrics from "../../src/metrics/Metrics"
import { clusterLayer, Scenario, sim, split } from "./harness"

describe("Metrics.httpStats", () => {
  it.effect("per revision: the new ReplicaSet's 5xx and p95 apart from the old one's; the memory series still answer", () =>
    Effect.gen(function*() {
      const sc = split(Scenario.rollout.errorSpike({ name: "api", errorRatio: 0.2 }))
      const s = yield* sim(sc.initial)
      s.advance("10m")
      s.apply(sc.rollout)
      s.advance("5m")
      const rs = (s.api.store.list({ group: "apps", version: "v1", resource: "replicasets" }) as Array<any>)
        .sort((a, b) => Number(a.metadata.annotations["deployment.kubernetes.io/revision"]) - Number(b.metadata.annotations["deployment.kubernetes.io/revision"]))
        .map((r) => r.metadata.name as string)
      const now = s.now()
      yield* TestClock.setTime(now)
      yield* Effect.gen(function*() {
      const m = yield* Metrics.Metrics
      const start = Date.parse((s.api.store.get({ group: "apps", version: "v1", resource: "replicasets" }, "default", rs[1]!) as any).metadata.creationTimestamp)
      const before = yield* m.httpStats!({ namespace: "default", podPrefixes: [rs[0]!] }, { end: start, seconds: 600 })
      const after = yield* m.httpStats!({ namespace: "default", podPrefixes: [rs[1]!] }, { end: now, seconds: 240 })
      assert.isAbove(before.requests, 0)
      assert.approximately(before.errorRatio!, 0.002, 0.0005)
      assert.approximately(after.errorRatio!, 0.2, 0.01)
      assert.isAbove(after.p95Seconds!, 0.05)
      // no pods of that name: no traffic, no ratio (never 0%)
      const none = yield* m.httpStats!({ namespace: "default", podPrefixes: ["api-doesnotexist"] }, { end: now, seconds: 240 })
      assert.deepStrictEqual(none, { requests: 0, errors: 0, errorRatio: null, p95Seconds: null })
      const mem = yield* m.memorySeries({ namespace: "default", podPrefix: "api-" }, { start: now - 300_000, end: now, step: "30 seconds" })
      assert.isAbove(mem.length, 0)
      }).pipe(Effect.provide(clusterLayer(s)))
    }).pipe(Effect.scoped), 60_000)

  it.effect("metrics-server has no per-revision history: MetricsUnsupported", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 1 }).build())
      const layer = Metrics.layerMetricsServer.pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig()))))
      const r = yield* Effect.flip(Effect.flatMap(Metrics.Metrics, (m) => m.httpStats!({ namespace: "default", podPrefixes: ["api-x"] }, { end: s.now(), seconds: 60 }))).pipe(Effect.provide(layer))
      assert.strictEqual(r._tag, "MetricsUnsupported")
    }).pipe(Effect.scoped), 30_000)
})

