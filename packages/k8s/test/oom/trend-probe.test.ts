import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import * as Metrics from "../../src/metrics/Metrics"
import * as Prometheus from "../../src/metrics/Prometheus"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import { record, type Recording, seriesOf } from "./trendRecordings"

// The probe against a loopback Prometheus serving a recording (query_range over HTTP, the shape
// Prometheus answers): a window that cannot decide is widened until it can, and an undecided
// trend is never a plateau.

const L = 512 * 2 ** 20
const hour = 3600

interface Served { readonly ranges: Array<{ readonly query: string; readonly start: number; readonly end: number; readonly step: number }> }

/** A Prometheus-compatible query_range endpoint over two recorded series (memory, rps), resampled at the requested step. */
const prometheus = (memory: unknown, rps: unknown) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ url: string; server: http.Server; served: Served }>((resolve) => {
        const served: Served = { ranges: [] }
        const server = http.createServer(async (req, res) => {
          // Prometheus takes the parameters in the URL or as a form body (the client POSTs)
          let body = ""
          for await (const chunk of req) body += chunk
          const u = new URL(req.url ?? "/", "http://x")
          const params = new URLSearchParams([...u.searchParams, ...new URLSearchParams(body)])
          const q = params.get("query") ?? ""
          const start = Number(params.get("start"))
          const end = Number(params.get("end"))
          const step = Number(params.get("step")?.replace(/s$/, ""))
          served.ranges.push({ query: q, start, end, step })
          const src = (q.includes("container_memory_working_set_bytes") ? memory : rps) as { data: { result: Array<{ metric: object; values: Array<[number, string]> }> } }
          const result = src.data.result.map((s) => ({
            metric: s.metric,
            values: s.values.filter(([t]) => t >= start && t <= end && Math.round(t - (s.values[0]?.[0] ?? 0)) % Math.max(1, Math.round(step)) === 0)
          }))
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "success", data: { resultType: "matrix", result } }))
        })
        server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, server, served }))
      })
    ),
    (p) => Effect.promise(() => new Promise<void>((r) => p.server.close(() => r())))
  )

const probeAt = (rec: Recording, endSeconds: number) =>
  Effect.gen(function*() {
    const out = record(rec)
    const prom = yield* prometheus(out.memory, out.rps)
    yield* TestClock.setTime(endSeconds * 1000)
    const layer = Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: prom.url, timeout: "10 seconds" })))
    const trend = yield* MemoryTrend.probe({ namespace: "shop", workload: "app", container: "app", limitBytes: L }).pipe(Effect.provide(layer))
    return { trend, served: prom.served, memory: seriesOf(out.memory) }
  })

/** The instant 2 min after the latest kill in a recording (s). */
const afterLastKill = (memory: ReturnType<typeof seriesOf>) => {
  const pts = memory[0]!.points
  let cut = 0
  for (let i = 1; i < pts.length; i++) if (pts[i]![1] < pts[i - 1]![1] * 0.8) cut = i
  return Math.round(pts[cut]![0] / 1000) + 120
}

describe("memory trend probe: an undecided window is widened, never read as a plateau", () => {
  it.effect("a noisy plateau the last 60 min cannot tell from a slow leak: widened until the level shows → plateau", () =>
    Effect.scoped(Effect.gen(function*() {
      const rec: Recording = { kind: "plateau", limitBytes: L, level: 0.95, killEverySeconds: 45 * 60, stepSeconds: 15, noise: "allocator", durationSeconds: 24 * hour, seed: 4 }
      const start0 = 1_767_225_600
      const end = start0 + 24 * hour
      const { trend, served, memory } = yield* probeAt(rec, end)
      // the runbook's first window alone: undecided (neither plateau nor growth)
      const first = MemoryTrend.analyse({ workingSet: [{ labels: memory[0]!.labels, points: memory[0]!.points.filter((p) => p[0] > (end - hour) * 1000) }], requestRate: [], limitBytes: L })
      assert.isFalse(first.decided, JSON.stringify(first.growth))
      assert.isFalse(first.facts.plateau)
      const mem = served.ranges.filter((r) => r.query.includes("container_memory_working_set_bytes"))
      // 60 min, then 4 h (both undecided for this recording), then 16 h at a 45 s step
      assert.deepStrictEqual(mem.map((r) => [(r.end - r.start) / 60, r.step]), [[60, 15], [240, 15], [960, 45]])
      assert.isTrue(trend.plateau, JSON.stringify({ trend, windows: mem.map((r) => (r.end - r.start) / 60) }))
      assert.isFalse(trend.risingAcrossRestarts)
    })))

  for (const noise of ["traffic", "allocator", "none"] as const) {
    it.effect(`a leak filling the limit in 9 h (noise ${noise}) seen 2 min after an OOM kill → never a plateau`, () =>
      Effect.scoped(Effect.gen(function*() {
        const rec: Recording = { kind: "leak", limitBytes: L, fillSeconds: 9 * hour, stepSeconds: 15, noise, durationSeconds: 40 * hour, seed: 11 }
        const end = afterLastKill(seriesOf(record(rec).memory))
        const { trend, served } = yield* probeAt(rec, end)
        assert.isFalse(trend.plateau, JSON.stringify({ trend, windows: served.ranges.map((r) => (r.end - r.start) / 60) }))
        assert.isAbove(trend.slopeBytesPerMinute, 0)
      })))
  }
})
