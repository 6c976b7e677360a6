/**
 * The classifier of `db.pool.multi-engine`: first match in the seed's order ("idle-in-transaction
 * leak / long-running query / app-side leak / traffic spike / undersized pool"), the shared
 * numbers taken from `PoolSixClass.DEFAULT_THRESHOLDS`. The seed gives no confidences: each rule
 * documents its own (≥ 0.70).
 *
 * | order | class | rule (defaults) | confidence |
 * |---|---|---|---|
 * | 1 | idle_in_transaction_leak | ≥ 3 sessions idle in a transaction for more than 30 s (MongoDB: idle sessions inside a transaction, `timeInactiveMicros`) | 0.90 |
 * | 2 | long_running_query | ≥ 2 statements / operations over 120 s, or 1 over 10 min | 0.85 |
 * | 3 | app_side_leak | one application's connections rising over ≥ 3 polls, ≥ 80 % of them idle outside a transaction, and no traffic correlation | 0.80 |
 * | 4 | traffic_spike | connections rising over ≥ 3 polls and the request rate rising with them | 0.78 |
 * | 5 | undersized_pool | utilization ≥ 85 % with none of the causes above | 0.75 |
 *
 * Traffic correlation: the request rate (a pluggable source) grew by at least half as much,
 * relatively, as the connections over the same polls. Without a request-rate source there is no
 * correlation to see: a rising application is an app-side leak when its connections idle, and
 * traffic_spike never matches.
 *
 * @since 0.1.0
 */
import { Classifier } from "@byteport/core"
import * as PoolSixClass from "../../classifiers/PoolSixClass"
import type { EngineSession, MultiEngineFacts, TrendSample } from "./Facts"

/** The five classes, in the seed's order. */
export const CLASSES = ["idle_in_transaction_leak", "long_running_query", "app_side_leak", "traffic_spike", "undersized_pool"] as const

/** One of the classes. */
export type MultiEngineClass = typeof CLASSES[number]

/** The documented confidences. */
export const CONFIDENCES: Readonly<Record<MultiEngineClass, number>> = {
  idle_in_transaction_leak: 0.9,
  long_running_query: 0.85,
  app_side_leak: 0.8,
  traffic_spike: 0.78,
  undersized_pool: 0.75
}

/** The thresholds shared with `PoolSixClass` (same names, same defaults). */
type Shared = Pick<PoolSixClass.Thresholds, "idleInTxMs" | "idleInTxMinSessions" | "queryBudgetMs" | "longQueriesMin" | "veryLongQueryMs" | "undersizedRatio">

/** Thresholds (shared ones from `PoolSixClass`). */
export interface Thresholds extends Shared {
  /** Polls an application's connections must rise over (default 3). */
  readonly risingPolls: number
  /** Share of an application's connections idle outside a transaction (default 0.80). */
  readonly idleShare: number
  /** Request-rate growth, relative to the connections' growth, that counts as correlation (default 0.5). */
  readonly trafficCorrelation: number
}

const { idleInTxMs, idleInTxMinSessions, queryBudgetMs, longQueriesMin, veryLongQueryMs, undersizedRatio } = PoolSixClass.DEFAULT_THRESHOLDS

/** The defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  idleInTxMs,
  idleInTxMinSessions,
  queryBudgetMs,
  longQueriesMin,
  veryLongQueryMs,
  undersizedRatio,
  risingPolls: 3,
  idleShare: 0.8,
  trafficCorrelation: 0.5
}

/** Pure: sessions idle in a transaction for longer than the threshold, longest first. */
export const idleInTransaction = (sessions: ReadonlyArray<EngineSession>, ms: number): ReadonlyArray<EngineSession> =>
  sessions.filter((s) => s.state === "idle_in_transaction" && s.idleMs > ms).sort((a, b) => b.idleMs - a.idleMs)

/** Pure: statements / operations running longer than the budget, longest first. */
export const longRunning = (sessions: ReadonlyArray<EngineSession>, ms: number): ReadonlyArray<EngineSession> =>
  sessions.filter((s) => s.state === "active" && s.runningMs > ms).sort((a, b) => b.runningMs - a.runningMs)

/** Pure: strictly rising over the last `polls` values. */
export const rising = (values: ReadonlyArray<number>, polls: number): boolean => {
  const xs = values.slice(-polls)
  return xs.length >= polls && xs.every((x, i) => i === 0 || x > xs[i - 1]!)
}

const growth = (xs: ReadonlyArray<number>): number => (xs.length < 2 || xs[0]! <= 0 ? (xs.length >= 2 && xs[xs.length - 1]! > 0 ? Infinity : 0) : xs[xs.length - 1]! / xs[0]! - 1)

/** Pure: whether the request rate grew with the connections over the last `polls` samples. */
export const trafficCorrelates = (trend: ReadonlyArray<TrendSample>, connections: ReadonlyArray<number>, polls: number, factor: number): boolean | null => {
  const rates = trend.slice(-polls).map((s) => s.requestRate)
  if (rates.length < polls || rates.some((r) => r === null)) return null
  const g = growth(connections.slice(-polls))
  return growth(rates as ReadonlyArray<number>) >= g * factor && growth(rates as ReadonlyArray<number>) > 0
}

/** Pure: the applications whose connections rose over the last polls, with their current idle share. */
export const risingApplications = (trend: ReadonlyArray<TrendSample>, polls: number) => {
  const last = trend[trend.length - 1]
  if (last === undefined) return []
  return Object.keys(last.byApplication).flatMap((app) => {
    const series = trend.slice(-polls).map((s) => s.byApplication[app]?.total ?? 0)
    if (!rising(series, polls)) return []
    const cur = last.byApplication[app]!
    return [{ application: app, series, idleShare: cur.total === 0 ? 0 : cur.idleOutsideTx / cur.total }]
  })
}

/** The rules, in the seed's order. */
export const rules = (overrides: Partial<Thresholds> = {}): ReadonlyArray<Classifier.Rule<MultiEngineFacts>> => {
  const t = { ...DEFAULT_THRESHOLDS, ...overrides }
  const rule = Classifier.rule<MultiEngineFacts>()
  const s = (ms: number) => `${Math.round(ms / 1000)} s`
  return [
    rule({
      class: "idle_in_transaction_leak",
      confidence: CONFIDENCES.idle_in_transaction_leak,
      needs: ["sessions", "engine"],
      when: ({ sessions, engine }) => {
        const old = idleInTransaction(sessions, t.idleInTxMs)
        return {
          matched: old.length >= t.idleInTxMinSessions,
          reasons: [`${old.length} ${engine === "mongodb" ? "session(s) idle inside a transaction" : "session(s) idle in transaction"} for more than ${s(t.idleInTxMs)}`],
          evidence: { sessions: old.map((x) => x.id), applications: [...new Set(old.map((x) => x.application))] }
        }
      }
    }),
    rule({
      class: "long_running_query",
      confidence: CONFIDENCES.long_running_query,
      needs: ["sessions"],
      when: ({ sessions }) => {
        const long = longRunning(sessions, t.queryBudgetMs)
        const verdict = PoolSixClass.longQueries(long.map((x) => x.runningMs), t)
        return {
          matched: verdict.matched,
          reasons: [`${long.length} statement(s)/operation(s) over the ${s(t.queryBudgetMs)} budget, ${verdict.veryLong} over ${t.veryLongQueryMs / 60_000} min`],
          evidence: { sessions: long.map((x) => x.id) }
        }
      }
    }),
    rule({
      class: "app_side_leak",
      confidence: CONFIDENCES.app_side_leak,
      needs: ["trend"],
      when: ({ trend }) => {
        const apps = risingApplications(trend, t.risingPolls)
        const leaking = apps.filter((a) => a.idleShare >= t.idleShare && trafficCorrelates(trend, a.series, t.risingPolls, t.trafficCorrelation) !== true)
        const top = leaking.sort((a, b) => b.series[b.series.length - 1]! - a.series[a.series.length - 1]!)[0]
        return {
          matched: top !== undefined,
          reasons: top === undefined
            ? [`no application's connections rose over ${t.risingPolls} polls while ≥ ${t.idleShare * 100}% idle without traffic`]
            : [`application ${JSON.stringify(top.application)}: connections ${top.series.join(" → ")}, ${(top.idleShare * 100).toFixed(0)}% idle outside a transaction, request rate not rising with them`],
          evidence: { application: top?.application ?? null, series: top ? [...top.series] : [], idleShare: top?.idleShare ?? 0 }
        }
      }
    }),
    rule({
      class: "traffic_spike",
      confidence: CONFIDENCES.traffic_spike,
      needs: ["trend"],
      when: ({ trend }) => {
        const totals = trend.map((x) => x.total)
        const up = rising(totals, t.risingPolls)
        const corr = up ? trafficCorrelates(trend, totals, t.risingPolls, t.trafficCorrelation) : null
        const rates = trend.slice(-t.risingPolls).map((x) => x.requestRate)
        return {
          matched: up && corr === true,
          reasons: [`connections ${totals.slice(-t.risingPolls).join(" → ")}; request rate ${rates.map((r) => r ?? "?").join(" → ")}`],
          evidence: { connections: totals.slice(-t.risingPolls), requestRate: rates.map((r) => r ?? null) }
        }
      }
    }),
    rule({
      class: "undersized_pool",
      confidence: CONFIDENCES.undersized_pool,
      needs: ["utilization"],
      when: ({ utilization }) => ({
        matched: utilization.ratio >= t.undersizedRatio,
        reasons: [`utilization ${(utilization.ratio * 100).toFixed(1)}% (${utilization.connections}/${utilization.max}) with no dominant cause`],
        evidence: { ratio: utilization.ratio, connections: utilization.connections, max: utilization.max }
      })
    })
  ]
}

/** The classifier: first match in the seed's order, minimum confidence 0.70. */
export const classifier = (overrides: Partial<Thresholds> = {}): Classifier.Classifier<MultiEngineFacts> =>
  Classifier.firstMatch(rules(overrides), { minConfidence: 0.7 })
