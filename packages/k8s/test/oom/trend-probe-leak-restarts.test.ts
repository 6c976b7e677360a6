/**
 * Found by the replay corpus (`leak-3h-60s-step`): the trend probe stopped widening as soon as its
 * window showed growth, so a slow leak (3 h to the limit) read through the default 60 min window
 * was "growing" inside one lifetime with 0 restarts — never `genuine_memory_leak` (which needs the
 * rise across 3+ restarts), only Unclassified. Growth is decided only once the window shows the
 * restarts a leak needs (`leakMinRestarts`, the classifier's threshold); until then the probe
 * widens, up to `maxLookbackMinutes`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Metrics from "../../src/metrics/Metrics"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import { record, seriesOf } from "./trendRecordings"

const L = 512 * 2 ** 20
const hour = 3600

/** Metrics answering from one recording: the points inside the asked range. */
const recorded = (memory: unknown, rps: unknown, asked: Array<number>) => {
  const ws = seriesOf(memory)
  const rr = seriesOf(rps)
  const within = (pts: ReadonlyArray<readonly [number, number]>, r: { readonly start: number; readonly end: number }) => pts.filter((p) => p[0] >= r.start && p[0] <= r.end)
  return Layer.succeed(Metrics.Metrics, {
    source: "prometheus",
    workingSet: () => Effect.succeed([]),
    nodeUsage: () => Effect.die("unused"),
    memorySeries: (_s, r) => {
      asked.push((r.end - r.start) / 60_000)
      return Effect.succeed(ws.map((s) => ({ labels: s.labels, points: within(s.points, r) })))
    },
    requestRate: (_w, r) => Effect.succeed({ labels: {}, points: within(rr[0]?.points ?? [], r) })
  } as Metrics.MetricsShape)
}

describe("memory trend probe: growth is decided only with the restarts a leak needs", () => {
  it.effect("a leak filling the limit in 3 h (60 s step): the 60 min window grows inside one lifetime → widened until 3+ restarts show → rising across restarts", () =>
    Effect.gen(function*() {
      const out = record({ kind: "leak", limitBytes: L, fillSeconds: 3 * hour, stepSeconds: 60, noise: "allocator", durationSeconds: 14 * hour, seed: 5 })
      const pts = seriesOf(out.memory)[0]!.points
      const end = pts[pts.length - 1]![0]
      // the first window alone shows growth but too few restarts for a leak
      const first = MemoryTrend.analyse({ workingSet: [{ labels: {}, points: pts.filter((p) => p[0] > end - hour * 1000) }], requestRate: [], limitBytes: L })
      assert.isTrue(first.growth.growing, JSON.stringify(first.growth))
      assert.isBelow(first.facts.restarts, 3)
      assert.isFalse(first.decided, "growth without the restarts a leak needs does not decide the window")
      const asked: Array<number> = []
      yield* TestClock.setTime(end)
      const trend = yield* MemoryTrend.probe({ namespace: "shop", workload: "app", container: "app", limitBytes: L }).pipe(Effect.provide(recorded(out.memory, out.rps, asked)))
      assert.isAtLeast(asked.length, 2, `widened: ${asked.join(", ")} min`)
      assert.isAtLeast(trend.restarts, 3, JSON.stringify({ trend, asked }))
      assert.isTrue(trend.risingAcrossRestarts, JSON.stringify({ trend, asked }))
      assert.isFalse(trend.plateau)
    }))

  it.effect("the threshold follows the classifier's: leakMinRestarts 1 decides the first window that shows one restart", () =>
    Effect.gen(function*() {
      const out = record({ kind: "leak", limitBytes: L, fillSeconds: 40 * 60, stepSeconds: 15, noise: "none", durationSeconds: 6 * hour, seed: 6 })
      const pts = seriesOf(out.memory)[0]!.points
      const end = pts[pts.length - 1]![0]
      const asked: Array<number> = []
      yield* TestClock.setTime(end)
      yield* MemoryTrend.probe({ namespace: "shop", workload: "app", container: "app", limitBytes: L }, { ...MemoryTrend.defaults, leakMinRestarts: 1 }).pipe(Effect.provide(recorded(out.memory, out.rps, asked)))
      assert.deepStrictEqual(asked, [60])
    }))
})
