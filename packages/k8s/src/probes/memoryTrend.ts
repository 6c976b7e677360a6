/**
 * The Prometheus memory trend of a workload's container: the working set over a lookback
 * window, cut into runs at each restart, with the request rate beside it → `TrendFacts`.
 *
 * - **runs**: a pod's working-set series is cut where it drops by more than 20% or has a gap of
 *   more than two steps (a restart: the container started again from scratch); `restarts` is
 *   the largest number of such cuts in one pod's series.
 * - **growing run**: a run that lasts beyond the warm-up (default 180 s) and whose working set
 *   still rises after it (least-squares slope over the post-warm-up part above 1% of the run's
 *   peak per minute). A start-up ramp that ends (or is OOM-killed) within the warm-up is not growth.
 * - **risingAcrossRestarts**: at least two runs grow and no run longer than the warm-up levels off
 *   — the working set climbs on every run, whatever the limit (a leak).
 * - **plateau**: no run grows after its warm-up — the working set settles at a level (or is
 *   killed while ramping up to it).
 * - **rpsCorrelation**: Pearson correlation of the workload's summed working set (all its pods)
 *   with its total request rate at the same instants (summing makes it independent of how
 *   requests spread over replicas); `null` when there is no request-rate series or the rate
 *   barely varies (coefficient of variation below 5%): a constant rate cannot explain anything.
 *   Instants where the workload served nothing (rate 0: no pod Ready) are left out — memory
 *   cannot follow requests that never reached it.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect } from "effect"
import type { TrendFacts } from "../classifiers/oom"
import { Metrics, type MetricsError } from "../metrics/Metrics"
import type { Series } from "../metrics/Prometheus"

/** Settings of the trend analysis (all configurable; see docs/oom.md). */
export interface TrendSettings {
  /** Lookback window in minutes (BYTEPORT_OOM_TREND_LOOKBACK_MINUTES, default 60). */
  readonly lookbackMinutes: number
  /** Start-up ramp allowance in seconds (BYTEPORT_OOM_WARMUP_SECONDS, default 180). */
  readonly warmupSeconds: number
  /** Range-query step in seconds (default 15). */
  readonly stepSeconds: number
}

/** The defaults. */
export const defaults: TrendSettings = { lookbackMinutes: 60, warmupSeconds: 180, stepSeconds: 15 }

/** One run of a container between restarts. */
export interface Run {
  readonly pod: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

/** Cuts each pod's working-set series into runs at drops (>20%) and gaps (> 2 steps). */
export const runsOf = (ws: ReadonlyArray<Series>, stepSeconds: number): ReadonlyArray<Run> => {
  const out: Array<Run> = []
  for (const s of ws) {
    let cur: Array<readonly [number, number]> = []
    for (const p of s.points) {
      const prev = cur[cur.length - 1]
      if (prev && (p[1] < prev[1] * 0.8 || p[0] - prev[0] > 2 * stepSeconds * 1000)) {
        out.push({ pod: s.labels["pod"] ?? "", points: cur })
        cur = []
      }
      cur.push(p)
    }
    if (cur.length) out.push({ pod: s.labels["pod"] ?? "", points: cur })
  }
  return out
}

/** Least-squares slope of points, in value units per minute (0 with fewer than two points). */
export const slopePerMinute = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : (num / den) * 60_000
}

/** Pearson correlation; null when either side has no variance. */
export const pearson = (pairs: ReadonlyArray<readonly [number, number]>): number | null => {
  const n = pairs.length
  if (n < 3) return null
  const mx = pairs.reduce((a, p) => a + p[0], 0) / n
  const my = pairs.reduce((a, p) => a + p[1], 0) / n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my)
    sxx += (x - mx) ** 2
    syy += (y - my) ** 2
  }
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy)
}

/** Whether a run keeps growing after the warm-up. */
export const isGrowing = (run: Run, warmupSeconds: number): boolean => {
  const first = run.points[0]
  const last = run.points[run.points.length - 1]
  if (!first || !last || last[0] - first[0] <= warmupSeconds * 1000) return false
  const after = run.points.filter((p) => p[0] - first[0] >= warmupSeconds * 1000)
  const peak = Math.max(...run.points.map((p) => p[1]))
  return after.length >= 3 && slopePerMinute(after) > 0.01 * peak
}

/**
 * The trend from the series: working set per pod (one series per pod and container) and the
 * workload's request rate (one series, or none).
 */
export const trendFrom = (
  input: { readonly workingSet: ReadonlyArray<Series>; readonly requestRate: ReadonlyArray<Series> },
  settings: TrendSettings = defaults
): TrendFacts => {
  const runs = runsOf(input.workingSet, settings.stepSeconds)
  const long = runs.filter((r) => {
    const a = r.points[0]
    const b = r.points[r.points.length - 1]
    return a && b && b[0] - a[0] > settings.warmupSeconds * 1000
  })
  const growing = long.filter((r) => isGrowing(r, settings.warmupSeconds))
  const perPod = new Map<string, number>()
  for (const r of runs) perPod.set(r.pod, (perPod.get(r.pod) ?? 0) + 1)
  const restarts = Math.max(0, ...[...perPod.values()].map((n) => n - 1))
  const peakBytes = input.workingSet.reduce((m, s) => Math.max(m, ...s.points.map((p) => p[1])), 0)
  const slopes = growing.map((r) => slopePerMinute(r.points.filter((p) => p[0] - r.points[0]![0] >= settings.warmupSeconds * 1000)))
  const slope = slopes.length ? slopes.sort((a, b) => a - b)[Math.floor(slopes.length / 2)]! : long.length ? slopePerMinute(long[long.length - 1]!.points) : 0
  // correlation: the workload's summed working set (all pods, nearest point within two steps)
  // against its total request rate at the same instants — robust to how requests spread over pods
  const rps = input.requestRate[0]?.points ?? []
  let rpsCorrelation: number | null = null
  if (rps.length >= 3) {
    const values = rps.map((p) => p[1])
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    if (mean > 0 && sd / mean >= 0.05) {
      const tolerance = settings.stepSeconds * 1000 * 2
      const nearest = (points: ReadonlyArray<readonly [number, number]>, t: number): number | undefined => {
        let best: readonly [number, number] | undefined
        for (const p of points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p
        return best && Math.abs(best[0] - t) <= tolerance ? best[1] : undefined
      }
      const pairs: Array<readonly [number, number]> = []
      for (const [t, r] of rps) {
        let sum = 0
        let n = 0
        for (const s of input.workingSet) {
          const v = nearest(s.points, t)
          if (v !== undefined) {
            sum += v
            n++
          }
        }
        if (n > 0 && r > 0) pairs.push([sum, r])
      }
      const r = pearson(pairs)
      rpsCorrelation = r === null ? null : Math.round(r * 1000) / 1000
    }
  }
  return {
    restarts,
    risingAcrossRestarts: growing.length >= 2 && growing.length === long.length,
    slopeBytesPerMinute: Math.round(slope),
    plateau: growing.length === 0,
    peakBytes: Math.round(peakBytes),
    rpsCorrelation
  }
}

/** Reads the series through the Metrics service (Prometheus) and computes the trend of a workload's container. */
export const probe = (
  w: { readonly namespace: string; readonly workload: string; readonly container: string },
  settings: TrendSettings = defaults
): Effect.Effect<TrendFacts, MetricsError, Metrics> =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const end = yield* Clock.currentTimeMillis
    const range = { start: end - settings.lookbackMinutes * 60_000, end, step: Duration.seconds(settings.stepSeconds) }
    const [ws, rps] = yield* Effect.all([
      metrics.memorySeries({ namespace: w.namespace, podPrefix: `${w.workload}-`, container: w.container }, range),
      metrics.requestRate({ namespace: w.namespace, workload: w.workload }, range)
    ], { concurrency: 2 })
    return trendFrom({ workingSet: ws, requestRate: rps.points.length ? [rps] : [] }, settings)
  })
