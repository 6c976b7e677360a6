import { GuardrailStore, MemoryStore, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as ConnectionHistory from "../../src/history/ConnectionHistory"
import * as DeployMarkers from "../../src/history/DeployMarkers"

/** A deterministic noise in [-1, 1] (a few sessions coming and going). */
const noise = (i: number) => [0, 1, -1, 1, 0, -1, 1, 0][i % 8]!

const series = (minutes: number, stepS: number, f: (min: number, i: number) => number, app = "checkout"): ReadonlyArray<ConnectionHistory.Sample> =>
  Array.from({ length: Math.floor((minutes * 60) / stepS) + 1 }, (_, i) => {
    const at = i * stepS * 1000
    const v = Math.max(0, Math.round(f(at / 60_000, i)))
    return { at, total: v + 5, idleInTx: v, byApplication: { [app]: { total: v + 2, idleInTx: v }, other: { total: 3, idleInTx: 0 } } }
  })

describe("ConnectionHistory.leakTrend: rising by significance, independent of the step", () => {
  for (const stepS of [15, 60, 120]) {
    it(`a leak of one session a minute over 10 min at a ${stepS} s step, with noise, is rising (for its application)`, () => {
      const t = ConnectionHistory.leakTrend(series(10, stepS, (m, i) => 2 + m + noise(i)), 0)!
      assert.isTrue(t.series.rising, JSON.stringify(t.series))
      assert.strictEqual(t.series.application, "checkout")
      assert.closeTo(t.series.slopePerMinute, 1, 0.35)
    })
    it(`a flat count with noise at a ${stepS} s step is not rising`, () => {
      const t = ConnectionHistory.leakTrend(series(10, stepS, (_m, i) => 6 + noise(i)), 0)!
      assert.isFalse(t.series.rising, JSON.stringify(t.series))
    })
  }
  it("three samples one second apart of the same leak read flat (why the short samples missed it)", () => {
    const short = series(10, 60, (m) => 2 + m).slice(-1)
    const t = ConnectionHistory.leakTrend([...short, { ...short[0]!, at: short[0]!.at + 1000 }, { ...short[0]!, at: short[0]!.at + 2000 }], 0)!
    assert.isFalse(t.series.rising)
  })
  it("only the samples since the deploy count: a leak that stopped before it is not rising after it", () => {
    const h = series(20, 60, (m) => (m < 10 ? m : 10))
    assert.isTrue(ConnectionHistory.leakTrend(h, 0)!.series.rising)
    assert.isFalse(ConnectionHistory.leakTrend(h, 10 * 60_000)!.series.rising)
  })
  it("too short a span or a rise below 3 is not rising", () => {
    assert.isFalse(ConnectionHistory.leakTrend(series(2, 15, (m) => m * 2), 0)!.series.rising) // 2 min span
    assert.isFalse(ConnectionHistory.leakTrend(series(10, 60, (m) => m / 5), 0)!.series.rising) // +2 over 10 min
  })
})

describe("ConnectionHistory in the GuardrailStore", () => {
  const target = TargetRef.make("database", "prod/orders")
  it.effect("record appends in time order with retention; read decodes; a foreign value reads as empty", () =>
    Effect.gen(function*() {
      for (const at of [3_000, 1_000, 2_000]) yield* ConnectionHistory.record(target, { at, total: at / 1000, idleInTx: 0 }, { maxSamples: 2 })
      assert.deepStrictEqual((yield* ConnectionHistory.read(target)).map((s) => s.at), [2_000, 3_000])
      const store = yield* GuardrailStore.GuardrailStore
      const other = TargetRef.make("database", "prod/other")
      yield* store.compareAndSet(ConnectionHistory.keyOf(other), 0, { not: "a history" })
      assert.deepStrictEqual(yield* ConnectionHistory.read(other), [])
      yield* ConnectionHistory.record(target, { at: 2 * 3_600_000 + 3_000, total: 1, idleInTx: 0 })
      assert.deepStrictEqual((yield* ConnectionHistory.read(target)).map((s) => s.at), [3_000, 2 * 3_600_000 + 3_000]) // 2 h retention
    }).pipe(Effect.provide(MemoryStore.layer)))

  it("fromQueryRange decodes postgres_exporter's pg_stat_activity_count matrix (one database, states summed)", () => {
    const body = {
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          { metric: { __name__: "pg_stat_activity_count", datname: "orders", state: "idle in transaction" }, values: [[60, "2"], [120, "4"]] },
          { metric: { __name__: "pg_stat_activity_count", datname: "orders", state: "active" }, values: [[60, "3"], [120, "3"]] },
          { metric: { __name__: "pg_stat_activity_count", datname: "other", state: "idle in transaction" }, values: [[60, "9"], [120, "9"]] },
          { metric: { __name__: "pg_stat_activity_count", datname: "orders", state: "idle" }, values: [[60, "NaN"], [120, "1"]] }
        ]
      }
    }
    assert.deepStrictEqual(ConnectionHistory.fromQueryRange(body, { datname: "orders" }), [
      { at: 60_000, total: 5, idleInTx: 2 },
      { at: 120_000, total: 8, idleInTx: 4 }
    ])
    assert.deepStrictEqual(ConnectionHistory.fromQueryRange({ status: "error" }), [])
  })
})

describe("DeployMarkers sources", () => {
  const signal = (ref: string, observedAt: number) => ({ type: "db.pool.exhaustion", target: TargetRef.make("database", ref), observedAt, evidence: {} })
  it.effect("static: the latest marker at or before the signal, for its database or for any", () =>
    Effect.gen(function*() {
      const s = DeployMarkers.staticSource([
        { sha: "a", at: 10 },
        { sha: "b", at: 20, database: "prod/other" },
        { sha: "c", at: 30 },
        { sha: "d", at: 50 }
      ])
      assert.strictEqual((yield* s.last(signal("prod/orders", 40)))?.sha, "c")
      assert.strictEqual((yield* s.last(signal("prod/orders", 25)))?.sha, "a")
      assert.strictEqual((yield* s.last(signal("prod/other", 25)))?.sha, "b")
      assert.isNull(yield* s.last(signal("prod/orders", 5)))
    }))
  it.effect("webhook: pushed bodies are decoded (a bad body is refused, nothing recorded)", () =>
    Effect.gen(function*() {
      const w = yield* DeployMarkers.webhook()
      yield* w.push({ sha: "f00", at: 100, workload: "prod/shop/Deployment/checkout", application: "checkout" })
      const bad = yield* Effect.result(w.push({ sha: 1, at: "yesterday" }))
      assert.strictEqual(bad._tag, "Failure")
      assert.strictEqual((yield* w.markers).length, 1)
      assert.deepStrictEqual(yield* w.last(signal("prod/orders", 200)), { sha: "f00", at: 100, workload: "prod/shop/Deployment/checkout", application: "checkout" })
    }))
  it.effect("configuration: BYTEPORT_DEPLOY_MARKERS (JSON array), absent → none", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
      const m = yield* DeployMarkers.fromConfig.last(signal("prod/orders", 1_000)).pipe(withEnv({ BYTEPORT_DEPLOY_MARKERS: JSON.stringify([{ sha: "abc", at: 900 }]) }))
      assert.strictEqual(m?.sha, "abc")
      assert.isNull(yield* DeployMarkers.fromConfig.last(signal("prod/orders", 1_000)).pipe(withEnv({})))
    }))
  it.effect("function-backed (e.g. Kubernetes rollouts wired by the user)", () =>
    Effect.gen(function*() {
      const s = DeployMarkers.fromFunction((sig) => Effect.succeed({ sha: `rollout-of-${sig.target.ref}`, at: 1 }))
      assert.strictEqual((yield* s.last(signal("prod/orders", 5)))?.sha, "rollout-of-prod/orders")
    }))
})
