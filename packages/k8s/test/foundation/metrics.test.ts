import { assert, describe, it } from "@effect/vitest"
import { Diagnoser } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
// kube-sim's controllers half (scenarios, metrics sampler, Prometheus routes) is not part of its
// package entry point yet; tests reach it by path.
import { Scenario, startSim } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as Metrics from "../../src/metrics/Metrics"
import * as Prometheus from "../../src/metrics/Prometheus"

const MiB = 2 ** 20

const simWithOom = Effect.acquireRelease(
  Effect.promise(async () => {
    const sim = await startSim({ now: "2026-01-01T00:00:00Z", scenario: Scenario.cluster({ nodes: 2 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build() })
    sim.advance("10m")
    return sim
  }),
  (sim) => Effect.promise(() => sim.close())
)

/** A loopback HTTP server answering every request with `status` and `body`. */
const stubServer = (status: number, body: string) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<http.Server>((resolve) => {
          const s = http.createServer((_req, res) => {
            res.writeHead(status, { "Content-Type": "application/json" })
            res.end(body)
          })
          s.listen(0, "127.0.0.1", () => resolve(s))
        })
    ),
    (s) => Effect.promise(() => new Promise<void>((r) => s.close(() => r())))
  ).pipe(Effect.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`))

describe("Metrics", () => {
  it.live("Prometheus: working set, node usage, memory series and request rate from kube-sim's Prometheus API", () =>
    Effect.gen(function*() {
      const sim = yield* simWithOom
      const layer = Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: sim.prometheusUrl })))
      const kube = yield* Kube.Kube.pipe(Effect.provide(Kube.layerFromString(sim.kubeconfig())), Effect.orDie)
      const pods = yield* kube.listPods({ namespace: "default", labelSelector: "app=api" })
      assert.strictEqual(pods.length, 2)
      const pod = pods[0]!.metadata!.name!
      yield* Effect.gen(function*() {
        const m = yield* Metrics.Metrics
        assert.strictEqual(m.source, "prometheus")
        const ws = yield* m.workingSet({ namespace: "default", pod })
        assert.deepStrictEqual(ws.map((c) => c.container), ["api"])
        assert.isAbove(ws[0]!.bytes, 100 * MiB)
        assert.isAtMost(ws[0]!.bytes, 512 * MiB, "a container's working set is capped by its limit")
        const node = pods[0]!.spec!.nodeName!
        const usage = yield* m.nodeUsage(node)
        assert.strictEqual(usage.node, node)
        assert.isAbove(usage.memoryBytes, ws[0]!.bytes, "the node uses at least its pod's memory")
        assert.isAtLeast(usage.cpuCores, 0)
        const end = sim.now()
        const series = yield* m.memorySeries({ namespace: "default", podPrefix: "api-", container: "api" }, { start: end - 10 * 60_000, end, step: "1 minute" })
        assert.sameMembers(series.map((s) => s.labels.pod), pods.map((p) => p.metadata!.name))
        for (const s of series) {
          assert.isAtLeast(s.points.length, 8)
          assert.isAtMost(Math.max(...s.points.map(([, v]) => v)), 512 * MiB)
          assert.ok(s.points.every(([t], i) => i === 0 || t > s.points[i - 1]![0]), "points are in time order")
        }
        const rate = yield* m.requestRate({ namespace: "default", workload: "api" }, { start: end - 5 * 60_000, end, step: "1 minute" })
        assert.isAbove(rate.points.length, 0)
        const last = rate.points.at(-1)![1]
        assert.isAbove(last, 0)
        assert.isBelow(last, 100, "the scenario serves 40 rps")
      }).pipe(Effect.provide(layer))
      // the same pod through metrics-server (metrics.k8s.io) agrees on the container and the cap
      yield* Effect.gen(function*() {
        const m = yield* Metrics.Metrics
        assert.strictEqual(m.source, "metrics-server")
        const ws = yield* m.workingSet({ namespace: "default", pod })
        assert.deepStrictEqual(ws.map((c) => c.container), ["api"])
        assert.isAbove(ws[0]!.bytes, 100 * MiB)
        assert.isAtMost(ws[0]!.bytes, 512 * MiB)
        const usage = yield* m.nodeUsage(pods[0]!.spec!.nodeName!)
        assert.isAbove(usage.memoryBytes, 0)
        const e = yield* Effect.flip(m.memorySeries({ namespace: "default", pod }, { start: 0, end: 1 }))
        assert.strictEqual(e._tag, "MetricsUnsupported")
      }).pipe(Effect.provide(Metrics.layerMetricsServer), Effect.provide(Kube.layerFromString(sim.kubeconfig())), Effect.orDie)
    }).pipe(Effect.scoped), 60_000)

  it.live("Prometheus errors are typed: bad PromQL, unreachable, 503, not Prometheus JSON", () =>
    Effect.gen(function*() {
      const sim = yield* simWithOom
      const prom = Prometheus.make({ url: sim.prometheusUrl })
      const bad = yield* Effect.flip(prom.query("sum(rate(x[5m]"))
      assert.strictEqual(bad._tag, "PrometheusQueryError")
      if (bad._tag === "PrometheusQueryError") assert.strictEqual(bad.errorType, "bad_data")
      // a port nobody listens on
      const closed = yield* stubServer(200, "{}")
      const url = closed
      const unreachableUrl = url.replace(/:\d+$/, ":1")
      const down = yield* Effect.flip(Prometheus.make({ url: unreachableUrl, timeout: "2 seconds" }).query("up"))
      assert.strictEqual(down._tag, "PrometheusUnavailable")
      assert.strictEqual(down.status, 0)
      const s503 = yield* stubServer(503, "Service Unavailable")
      const busy = yield* Effect.flip(Prometheus.make({ url: s503 }).query("up"))
      assert.strictEqual(busy._tag, "PrometheusUnavailable")
      assert.strictEqual(busy.status, 503)
      const junk = yield* Effect.flip(Prometheus.make({ url: closed }).query("up"))
      assert.strictEqual(junk._tag, "PrometheusQueryError")
      if (junk._tag === "PrometheusQueryError") assert.strictEqual(junk.errorType, "decode")
      // the Metrics service passes them through, typed
      const e = yield* Effect.flip(
        Effect.flatMap(Metrics.Metrics, (m) => m.workingSet({ namespace: "default", pod: "x" })).pipe(
          Effect.provide(Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: unreachableUrl }))))
        )
      )
      assert.strictEqual(e._tag, "PrometheusUnavailable")
    }).pipe(Effect.scoped), 60_000)

  it.live("a Diagnoser probe over an unreachable Prometheus yields an Unknown fact naming PrometheusUnavailable", () =>
    Effect.gen(function*() {
      const url = (yield* stubServer(200, "{}")).replace(/:\d+$/, ":1")
      const diagnose = Diagnoser.make<{ readonly workingSet: number }, Metrics.Metrics>({
        workingSet: Diagnoser.probe("workingSet", () =>
          Effect.flatMap(Metrics.Metrics, (m) => m.workingSet({ namespace: "shop", pod: "web-1" })).pipe(Effect.map((ws) => ws[0]?.bytes ?? 0)))
      })
      const facts = yield* diagnose({ type: "t", target: { kind: "k8s.pod", ref: "c/shop/web-1" }, observedAt: 0, evidence: {} }).pipe(
        Effect.provide(Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url, timeout: "2 seconds" }))))
      )
      const f = facts.workingSet
      assert.strictEqual(f._tag, "Unknown")
      if (f._tag === "Unknown") assert.include(f.reason, "PrometheusUnavailable")
    }).pipe(Effect.scoped))

  it("escapes label values and quantities parse", () => {
    assert.strictEqual(Prometheus.escapeLabel('a"b\\c'), 'a\\"b\\\\c')
    assert.strictEqual(Metrics.defaultQueries.workingSet({ namespace: "n", pod: 'p"', container: "c" }), 'container_memory_working_set_bytes{namespace="n",pod="p\\"",container="c"}')
    assert.strictEqual(Metrics.parseQuantity("512Mi"), 512 * MiB)
    assert.strictEqual(Metrics.parseQuantity("250m"), 0.25)
    assert.strictEqual(Metrics.parseQuantity("123456Ki"), 123456 * 1024)
    assert.strictEqual(Metrics.parseQuantity("1500n"), 1.5e-6)
    assert.isNaN(Metrics.parseQuantity("12Q"))
  })
})
