import { assert, describe, it } from "@effect/vitest"
import { type Classification, Fact } from "@byteport/core"
import { Effect } from "effect"
import * as path from "node:path"
import * as OomClassifier from "../../src/classifiers/oom"
import type { Series } from "../../src/metrics/Prometheus"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import * as OomFixture from "../../src/probes/oomFixture"
import * as Remediator from "../../src/remediators/oom"
import { record, type Recording, seriesOf } from "./trendRecordings"

// issue 9 item 1: a slow leak is not a plateau. Leaks that fill the limit in 20 min, 3 h and 9 h,
// at 15 s, 60 s and 600 s steps, with and without traffic noise, and true plateaus at 85–99% of
// the limit with noise — through the runbook's own classifier and remediator: zero leaks read as
// a plateau or planned a memory bump, every plateau still bumped.

const base = path.join(import.meta.dirname, "../../fixtures/oom/undersized_limit")
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const min = 60
const hour = 3600
const minute = (s: number) => (s >= hour ? `${s / hour}h` : `${s / min}min`)

/** The last 60 min a runbook would query at the moment of the latest OOM kill (+2 min), at a 15 s or 60 s step. */
const window = (ws: ReadonlyArray<Series>): ReadonlyArray<Series> => {
  const pts = ws[0]!.points
  let cut = 0
  for (let i = 1; i < pts.length; i++) if (pts[i]![1] < pts[i - 1]![1] * 0.8) cut = i
  const end = pts[cut]![0] + 120_000
  return [{ labels: ws[0]!.labels, points: pts.filter((p) => p[0] <= end && p[0] > end - 60 * 60_000) }]
}

const classifyRecording = (rec: Recording, opts: { readonly windowed?: boolean } = {}) =>
  Effect.gen(function*() {
    const facts = yield* OomFixture.decode(base)
    const limit = Fact.value(facts.pod)!.memoryLimitBytes!
    assert.strictEqual(limit, rec.limitBytes)
    const out = record(rec)
    const memory = opts.windowed ? window(seriesOf(out.memory)) : seriesOf(out.memory)
    const trend = MemoryTrend.trendFrom({ workingSet: memory, requestRate: seriesOf(out.rps), limitBytes: limit })
    const last = memory[0]!.points[memory[0]!.points.length - 1]!
    const all = { ...facts, trend: Fact.known(trend), workingSet: Fact.known({ bytes: last[1] }) }
    const c = OomClassifier.classify()(all)
    const plan = c._tag === "Classified" ? Remediator.plan(c, all, yield* OomFixture.signal(base)) : undefined
    return { trend, c, bumps: plan !== undefined && JSON.stringify(plan).includes("\"k8s.patchMemoryLimit\""), points: memory[0]!.points.length }
  })

describe("memory trend: growth by significance relative to the limit, at any step", () => {
  const LIMIT = 512 * 2 ** 20 // the undersized_limit fixture's container limit

  const leaks: Array<Recording & { readonly windowed?: boolean }> = []
  let seed = 1
  for (const fillSeconds of [20 * min, 3 * hour, 9 * hour]) {
    for (const stepSeconds of [15, 60, 600]) {
      for (const noise of ["none", "traffic"] as const) {
        const durationSeconds = stepSeconds === 600 ? 48 * hour : Math.min(40 * hour, Math.max(3 * hour, 4.5 * fillSeconds))
        leaks.push({ kind: "leak", limitBytes: LIMIT, fillSeconds, stepSeconds, noise, durationSeconds, seed: seed++ })
        // what the runbook sees at its 60 min lookback, just after the latest kill
        if (stepSeconds !== 600) leaks.push({ kind: "leak", limitBytes: LIMIT, fillSeconds, stepSeconds, noise, durationSeconds, seed: seed++, windowed: true })
      }
    }
  }

  for (const rec of leaks) {
    const name = `leak filling the limit in ${minute(rec.fillSeconds!)}, ${rec.stepSeconds} s step, noise ${rec.noise}${rec.windowed ? ", last 60 min" : `, ${minute(rec.durationSeconds)} recorded`}`
    it.effect(`${name} → never a plateau, never a bump`, () =>
      Effect.gen(function*() {
        const { trend, c, bumps, points } = yield* classifyRecording(rec, { windowed: rec.windowed ?? false })
        const why = JSON.stringify({ trend, c, points })
        assert.isFalse(trend.plateau, why)
        assert.isFalse(bumps, why)
        assert.notInclude(["undersized_limit", "traffic_spike"], classOf(c), why)
        assert.isAbove(trend.slopeBytesPerMinute, 0, why)
        // a recording long enough for 3 restarts classifies as the leak it is
        if (trend.restarts >= 3) assert.strictEqual(classOf(c), "genuine_memory_leak", why)
        // the step is the recording's: a 600 s recording of 48 h is 288 samples and a handful of lifetimes
        if (!rec.windowed) assert.isAtMost(trend.restarts, Math.ceil(rec.durationSeconds / rec.fillSeconds!) + 1, why)
      }))
  }

  const plateaus: Array<Recording> = []
  for (const level of [0.85, 0.9, 0.95, 0.99]) {
    for (const stepSeconds of [15, 60, 600]) {
      for (const noise of ["allocator", "none"] as const) {
        const durationSeconds = stepSeconds === 15 ? 12 * hour : stepSeconds === 60 ? 24 * hour : 48 * hour
        plateaus.push({ kind: "plateau", limitBytes: LIMIT, level, killEverySeconds: 45 * min, stepSeconds, noise, durationSeconds, seed: seed++ })
      }
    }
  }
  for (const rec of plateaus) {
    it.effect(`plateau at ${rec.level! * 100}% of the limit, ${rec.stepSeconds} s step, noise ${rec.noise} → undersized_limit, bumped`, () =>
      Effect.gen(function*() {
        const { trend, c, bumps, points } = yield* classifyRecording(rec)
        const why = JSON.stringify({ trend, c, points })
        assert.isTrue(trend.plateau, why)
        assert.isFalse(trend.risingAcrossRestarts, why)
        assert.strictEqual(classOf(c), "undersized_limit", why)
        assert.isTrue(bumps, why)
      }))
  }

  it("the step comes from the recording: a 600 s recording of 48 h is not 288 one-point restarts", () => {
    const out = record({ kind: "plateau", limitBytes: LIMIT, level: 0.9, killEverySeconds: 0, stepSeconds: 600, noise: "allocator", durationSeconds: 48 * hour, seed: 99 })
    const ws = seriesOf(out.memory)
    assert.strictEqual(ws[0]!.points.length, 289)
    assert.strictEqual(MemoryTrend.stepOf(ws, 15), 600_000)
    const t = MemoryTrend.trendFrom({ workingSet: ws, requestRate: [], limitBytes: LIMIT })
    assert.strictEqual(t.restarts, 0)
    assert.isTrue(t.plateau)
  })

  it("too few samples to tell is neither a plateau nor growth (escalate, never bump)", () => {
    const pts = [[0, 500], [600_000, 560], [1_200_000, 300], [1_800_000, 540]] as const
    const t = MemoryTrend.trendFrom({ workingSet: [{ labels: { pod: "a" }, points: pts.map(([x, y]) => [x, y * 2 ** 20] as const) }], requestRate: [], limitBytes: 640 * 2 ** 20 })
    assert.isFalse(t.plateau)
    assert.isFalse(t.risingAcrossRestarts)
  })

  it("a lifetime that levels off among growing ones: growth, but not rising across restarts", () => {
    const Mi = 2 ** 20
    const run = (start: number, f: (i: number) => number) => Array.from({ length: 80 }, (_, i) => [start + i * 15_000, f(i) * Mi] as const)
    const leak = (i: number) => 200 + i * 5
    const flat = (i: number) => Math.min(200 + i * 40, 560)
    const t = MemoryTrend.trendFrom({
      workingSet: [{ labels: { pod: "a" }, points: [...run(0, leak), ...run(25 * 60_000, leak), ...run(50 * 60_000, flat), ...run(75 * 60_000, leak)] }],
      requestRate: [],
      limitBytes: 640 * Mi
    })
    assert.strictEqual(t.restarts, 3)
    assert.isFalse(t.plateau)
    assert.isFalse(t.risingAcrossRestarts)
  })
})
