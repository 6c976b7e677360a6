/**
 * A per-database connection history: what the detector's own polls saw (total client sessions
 * and idle-in-transaction sessions, per application_name), persisted in the GuardrailStore's
 * compare-and-swap values under `db.connections:<target key>`, so agent replicas and restarts
 * share it, optionally merged with postgres_exporter series from Prometheus
 * (`pg_stat_activity_count{state=…}`, decoded by {@link fromQueryRange}).
 *
 * A leak of a few sessions per minute reads flat in three samples one second apart; over the
 * minutes since a deploy it does not. {@link leakTrend} decides "rising" from the samples since a
 * point in time (the deploy marker), independent of the sampling step: Kendall's tau between
 * time and count (the share of concordant pairs; ties count for neither), a Theil–Sen slope
 * (median of pairwise slopes, robust to a noisy sample), and the rise that slope implies over
 * the span. Rising means tau ≥ 0.6, a rise of at least 3 sessions, at least 4 samples over at
 * least 3 minutes — for the idle-in-transaction sessions of one application, or of all of them.
 *
 * @since 0.2.0
 */
import { GuardrailStore, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Effect, Schema } from "effect"
import type { PgSession } from "../probes/PgActivity"

/** The sessions of one application in a sample. */
export interface AppCount {
  readonly total: number
  readonly idleInTx: number
}

/** One poll of a database's client sessions. */
export interface Sample {
  /** Epoch ms (Clock). */
  readonly at: number
  readonly total: number
  readonly idleInTx: number
  /** Per application_name (absent for series that do not carry it, e.g. postgres_exporter's defaults). */
  readonly byApplication?: Readonly<Record<string, AppCount>> | undefined
}

const AppCountSchema = Schema.Struct({ total: Schema.Number, idleInTx: Schema.Number })
const SampleSchema = Schema.Struct({
  at: Schema.Number,
  total: Schema.Number,
  idleInTx: Schema.Number,
  byApplication: Schema.optional(Schema.Record(Schema.String, AppCountSchema))
})
const Stored = Schema.Struct({ samples: Schema.Array(SampleSchema) })

/** Retention: samples older than this (default 2 h) or beyond `maxSamples` (default 720) are dropped. */
export interface Retention {
  readonly maxAgeMs?: number
  readonly maxSamples?: number
}

/** The default retention. */
export const DEFAULT_RETENTION: Required<Retention> = { maxAgeMs: 2 * 3_600_000, maxSamples: 720 }

const isIdleInTx = (state: string | null) => state === "idle in transaction" || state === "idle in transaction (aborted)"

/** Pure: the sample of a `pg_stat_activity` read. */
export const sampleOf = (sessions: ReadonlyArray<PgSession>, at: number): Sample => {
  const byApplication: Record<string, { total: number; idleInTx: number }> = {}
  let idleInTx = 0
  for (const s of sessions) {
    const app = (byApplication[s.application_name] ??= { total: 0, idleInTx: 0 })
    app.total++
    if (isIdleInTx(s.state)) {
      app.idleInTx++
      idleInTx++
    }
  }
  return { at, total: sessions.length, idleInTx, byApplication }
}

/** The store key of a database's history. */
export const keyOf = (target: TargetRef.TargetRef): string => `db.connections:${TargetRef.key(target)}`

/** Reads a database's stored history, oldest first (an unreadable value reads as empty). */
export const read = (target: TargetRef.TargetRef): Effect.Effect<ReadonlyArray<Sample>, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const v = yield* store.get(keyOf(target))
    if (v === undefined) return []
    const decoded = Schema.decodeUnknownOption(Stored)(v.value)
    return decoded._tag === "Some" ? decoded.value.samples : []
  })

const trim = (samples: ReadonlyArray<Sample>, now: number, r: Retention): ReadonlyArray<Sample> => {
  const maxAge = r.maxAgeMs ?? DEFAULT_RETENTION.maxAgeMs
  const kept = samples.filter((s) => now - s.at <= maxAge)
  return kept.slice(Math.max(0, kept.length - (r.maxSamples ?? DEFAULT_RETENTION.maxSamples)))
}

/** Appends a sample (compare-and-swap, retried on a lost race; samples kept in time order, retention applied). */
export const record = (
  target: TargetRef.TargetRef,
  sample: Sample,
  retention: Retention = {}
): Effect.Effect<void, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const key = keyOf(target)
    for (let i = 0; i < 8; i++) {
      const v = yield* store.get(key)
      const decoded = v === undefined ? undefined : Schema.decodeUnknownOption(Stored)(v.value)
      const prior = decoded !== undefined && decoded._tag === "Some" ? decoded.value.samples : []
      const samples = trim([...prior.filter((s) => s.at !== sample.at), sample].sort((a, b) => a.at - b.at), sample.at, retention)
      const value = { samples: samples.map((s) => ({ at: s.at, total: s.total, idleInTx: s.idleInTx, ...(s.byApplication ? { byApplication: s.byApplication } : {}) })) }
      if (yield* store.compareAndSet(key, v?.version ?? 0, value as unknown as Json.Json)) return
    }
    return yield* new GuardrailStore.StoreError({ store: store.name, operation: "compareAndSet", message: `connection history ${key}: lost 8 races` })
  })

/** Pure: two histories merged by time (a stored poll wins over a series point at the same ms). */
export const merge = (a: ReadonlyArray<Sample>, b: ReadonlyArray<Sample>): ReadonlyArray<Sample> => {
  const byAt = new Map<number, Sample>()
  for (const s of b) byAt.set(s.at, s)
  for (const s of a) byAt.set(s.at, s)
  return [...byAt.values()].sort((x, y) => x.at - y.at)
}

/**
 * Pure: samples from a Prometheus `query_range` body of postgres_exporter's
 * `pg_stat_activity_count` (labels `state`, `datname`; optionally `application_name` from a
 * custom query), summed over the series that match `datname` when given. Idle-in-transaction
 * is the `state="idle in transaction"` (and `(aborted)`) series.
 */
export const fromQueryRange = (body: unknown, options: { readonly datname?: string } = {}): ReadonlyArray<Sample> => {
  const data = (body as { readonly data?: { readonly resultType?: unknown; readonly result?: unknown } } | null)?.data
  if (data?.resultType !== "matrix" || !Array.isArray(data.result)) return []
  const at = new Map<number, { total: number; idleInTx: number; apps: Map<string, { total: number; idleInTx: number }> }>()
  let anyApp = false
  for (const series of data.result as ReadonlyArray<{ readonly metric?: Record<string, string>; readonly values?: ReadonlyArray<readonly [number, string]> }>) {
    const m = series.metric ?? {}
    if (options.datname !== undefined && m["datname"] !== undefined && m["datname"] !== options.datname) continue
    const idle = isIdleInTx(m["state"] ?? null)
    const app = m["application_name"]
    if (app !== undefined) anyApp = true
    for (const [t, raw] of series.values ?? []) {
      const n = Number(raw)
      if (!Number.isFinite(n)) continue
      const ms = Math.round(t * 1000)
      const point = at.get(ms) ?? { total: 0, idleInTx: 0, apps: new Map() }
      point.total += n
      if (idle) point.idleInTx += n
      if (app !== undefined) {
        const a = point.apps.get(app) ?? { total: 0, idleInTx: 0 }
        a.total += n
        if (idle) a.idleInTx += n
        point.apps.set(app, a)
      }
      at.set(ms, point)
    }
  }
  return [...at.entries()].sort((x, y) => x[0] - y[0]).map(([ms, p]) => ({
    at: ms,
    total: p.total,
    idleInTx: p.idleInTx,
    ...(anyApp ? { byApplication: Object.fromEntries(p.apps) } : {})
  }))
}

/** Thresholds of the rising test. */
export interface TrendOptions {
  /** Minimum Kendall tau (default 0.6). */
  readonly minTau?: number
  /** Minimum rise in sessions implied by the slope over the span (default 3). */
  readonly minRise?: number
  /** Minimum samples (default 4). */
  readonly minSamples?: number
  /** Minimum span (default 3 minutes). */
  readonly minSpanMs?: number
}

/** The verdict on one series. */
export interface SeriesTrend {
  /** `"*"` for all applications together. */
  readonly application: string
  readonly values: ReadonlyArray<number>
  readonly tau: number
  readonly slopePerMinute: number
  readonly rise: number
  readonly rising: boolean
}

/** Pure: Kendall's tau, the Theil–Sen slope (per minute) and the rising verdict of one series. */
export const seriesTrend = (application: string, points: ReadonlyArray<{ readonly at: number; readonly v: number }>, options: TrendOptions = {}): SeriesTrend => {
  const n = points.length
  let concordant = 0
  let discordant = 0
  const slopes: Array<number> = []
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dt = points[j]!.at - points[i]!.at
      const dv = points[j]!.v - points[i]!.v
      if (dt <= 0) continue
      if (dv > 0) concordant++
      else if (dv < 0) discordant++
      slopes.push((dv / dt) * 60_000)
    }
  }
  const pairs = (n * (n - 1)) / 2
  const tau = pairs === 0 ? 0 : (concordant - discordant) / pairs
  slopes.sort((a, b) => a - b)
  const mid = slopes.length / 2
  const slope = slopes.length === 0 ? 0 : slopes.length % 2 === 1 ? slopes[Math.floor(mid)]! : (slopes[mid - 1]! + slopes[mid]!) / 2
  const span = n < 2 ? 0 : points[n - 1]!.at - points[0]!.at
  const rise = (slope * span) / 60_000
  const rising = n >= (options.minSamples ?? 4) && span >= (options.minSpanMs ?? 180_000) &&
    tau >= (options.minTau ?? 0.6) && rise >= (options.minRise ?? 3)
  return { application, values: points.map((p) => p.v), tau, slopePerMinute: slope, rise, rising }
}

/** The leak verdict over a history. */
export interface LeakTrend {
  /** The series that decided: the application rising most, else all applications together. */
  readonly series: SeriesTrend
  readonly from: number
  readonly to: number
  readonly samples: number
}

/**
 * Pure: whether idle-in-transaction sessions rise in the samples taken at or after `since`
 * (all applications together, or one application alone). Undefined with fewer than two samples.
 */
export const leakTrend = (history: ReadonlyArray<Sample>, since: number, options: TrendOptions = {}): LeakTrend | undefined => {
  const window = history.filter((s) => s.at >= since)
  if (window.length < 2) return undefined
  const all = seriesTrend("*", window.map((s) => ({ at: s.at, v: s.idleInTx })), options)
  const apps = new Set(window.flatMap((s) => Object.keys(s.byApplication ?? {})))
  const perApp = [...apps].map((app) => seriesTrend(app, window.map((s) => ({ at: s.at, v: s.byApplication?.[app]?.idleInTx ?? 0 })), options))
  // One application rising names the leak; all applications together catch a leak spread over several.
  const risingApp = perApp.filter((t) => t.rising).sort((a, b) => b.rise - a.rise)[0]
  return { series: risingApp ?? all, from: window[0]!.at, to: window[window.length - 1]!.at, samples: window.length }
}
