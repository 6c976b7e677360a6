/**
 * `MemoryTrend.trendAt` (what `OomFixture.decode` reads a recording with) and `MemoryTrend.probe`
 * (the runbook's live probe) share one decision path, `MemoryTrend.widening`: the same windows,
 * the first that decides. Here the probe reads a Metrics service that answers each asked range
 * with the recorded samples inside it (an oracle independent of `trendAt`'s slicing: the
 * recordings are at steps no finer than any window's, so nothing is thinned), over leaks and
 * plateaus at several steps, noises and capture instants. Any divergence fails.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Metrics from "../../src/metrics/Metrics"
import type * as Prometheus from "../../src/metrics/Prometheus"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import { record, type Recording, seriesOf } from "./trendRecordings"

const L = 512 * 2 ** 20
const hour = 3600
const start0 = 1_767_225_600

/** Prometheus over recorded series: every recorded sample inside the asked range (ends included). */
const served = (memory: ReadonlyArray<Prometheus.Series>, rps: ReadonlyArray<Prometheus.Series>): Metrics.MetricsShape => {
  const inside = (s: Prometheus.Series, r: Prometheus.Range): Prometheus.Series => ({ labels: s.labels, points: s.points.filter((p) => p[0] >= r.start && p[0] <= r.end) })
  return {
    source: "prometheus",
    workingSet: () => Effect.die("unused"),
    nodeUsage: () => Effect.die("unused"),
    memorySeries: (_s, r) => Effect.succeed(memory.map((s) => inside(s, r)).filter((s) => s.points.length > 0)),
    requestRate: (_w, r) => Effect.succeed(rps[0] ? inside(rps[0], r) : { labels: {}, points: [] })
  } as Metrics.MetricsShape
}

describe("MemoryTrend.trendAt (decode) and MemoryTrend.probe (live) never diverge", () => {
  it("the windows: 60 min → 4 h → 16 h → 24 h ending at the capture time, each near 1,440 samples", () => {
    const w = MemoryTrend.windowsOf(10_000_000_000)
    assert.deepStrictEqual(w.map((x) => [x.minutes, Duration.toSeconds(x.range.step), x.range.end, x.range.end - x.range.start]), [
      [60, 15, 10_000_000_000, 60 * 60_000],
      [240, 15, 10_000_000_000, 240 * 60_000],
      [960, 45, 10_000_000_000, 960 * 60_000],
      [1440, 60, 10_000_000_000, 1440 * 60_000]
    ])
    assert.deepStrictEqual(MemoryTrend.windowsOf(0, { ...MemoryTrend.defaults, maxLookbackMinutes: 60 }).map((x) => x.minutes), [60])
  })

  const table: Array<Recording> = []
  for (const stepSeconds of [60, 600]) {
    for (const seed of [1, 2]) {
      table.push({ kind: "leak", limitBytes: L, fillSeconds: 3 * hour, stepSeconds, noise: "traffic", durationSeconds: 30 * hour, seed })
      table.push({ kind: "leak", limitBytes: L, fillSeconds: 9 * hour, stepSeconds, noise: "allocator", durationSeconds: 30 * hour, seed })
      table.push({ kind: "plateau", limitBytes: L, level: 0.9, killEverySeconds: 45 * 60, stepSeconds, noise: "traffic", durationSeconds: 30 * hour, seed })
      table.push({ kind: "plateau", limitBytes: L, level: 0.95, killEverySeconds: 0, stepSeconds, noise: "none", durationSeconds: 30 * hour, seed })
    }
  }
  for (const rec of table) {
    const name = `${rec.kind} ${rec.fillSeconds ? `${rec.fillSeconds / hour} h` : `${rec.level}`} ${rec.noise}, ${rec.stepSeconds} s step, seed ${rec.seed}`
    it.effect(`${name}: equal trend facts at every capture instant`, () =>
      Effect.gen(function*() {
        const out = record(rec)
        const memory = seriesOf(out.memory)
        const rps = seriesOf(out.rps)
        const decided: Array<string> = []
        // capture instants: early (less than a window of history), mid-recording (the recording goes on after it), the end
        for (const at of [start0 + 40 * 60, start0 + 3 * hour, start0 + 13 * hour + 7 * 60, start0 + 26 * hour, start0 + rec.durationSeconds]) {
          const now = at * 1000
          const decoded = MemoryTrend.trendAt({ workingSet: memory, requestRate: rps, limitBytes: L }, now)
          yield* TestClock.setTime(now)
          const live = yield* MemoryTrend.probe({ namespace: "shop", workload: "app", container: "app", limitBytes: L }).pipe(
            Effect.provide(Layer.succeed(Metrics.Metrics, served(memory, rps)))
          )
          assert.deepStrictEqual(decoded, live, `${name} at ${at - start0} s`)
          decided.push(JSON.stringify(decoded))
        }
        // samples after the capture time are never read: the recording cut at `now` gives the same trend
        const now = (start0 + 13 * hour + 7 * 60) * 1000
        const cut = (s: ReadonlyArray<Prometheus.Series>) => s.map((x) => ({ labels: x.labels, points: x.points.filter((p) => p[0] <= now) }))
        assert.deepStrictEqual(MemoryTrend.trendAt({ workingSet: cut(memory), requestRate: cut(rps), limitBytes: L }, now), MemoryTrend.trendAt({ workingSet: memory, requestRate: rps, limitBytes: L }, now))
        assert.isAtLeast(decided.length, 5)
      }))
  }
})
