/**
 * The Prometheus memory trend of a workload's container: the working set over a lookback
 * window, cut into lifetimes at each restart, with the request rate beside it → `TrendFacts`.
 *
 * - **step**: derived from the recorded series (the median spacing of consecutive samples), not
 *   assumed: a 600 s-step recording is read at 600 s, never as hundreds of one-point restarts.
 * - **lifetimes (runs)**: a pod's working-set series is cut where it drops by more than 20% or has
 *   a gap of more than two steps (a restart: the container started again from scratch); `restarts`
 *   is the largest number of such cuts in one pod's series.
 * - **the growth test** (see docs/oom.md "The growth test"): only samples at least the warm-up
 *   (default 180 s) after a lifetime's first sample count (all of them at a step coarser than the
 *   warm-up, which cannot resolve it). Over them: the *within-lifetime* Theil–Sen slope (the median
 *   of the slopes between every two samples of the same lifetime, so restarts never read as
 *   decline) and Sen's confidence interval for it from the seasonal Mann–Kendall variance (summed
 *   per lifetime, inflated for the lag-1 autocorrelation of the residuals). The slope is measured
 *   against the memory limit over the lifetime: the span-weighted mean lifetime Σspan²/Σspan (the
 *   median one at a step coarser than the warm-up, where lifetimes shorter than the step can merge
 *   unseen).
 *   - **grows**: the lower bound is above 0 and the slope carries at least 2% of the limit over
 *     the lifetime;
 *   - **level**: the lower bound is at most 0 and even the upper bound carries less than 2% of the
 *     limit over the lifetime;
 *   - otherwise **undecided** (too few samples, noise too large for the window, or a significant
 *     but immaterial rise) — never a plateau. The probe then widens its window (×4, up to 24 h).
 *   Nothing is relative to the peak per minute or to samples per minute: a leak that needs 9 h to
 *   fill its limit is never level, at a 15 s or a 600 s step.
 * - **risingAcrossRestarts**: the working set grows, at least two lifetimes contribute to it, and
 *   no lifetime of comparable length (half to twice the lifetime, 3+ samples) levels off on its own.
 * - **plateau**: level, over at least 10 within-lifetime pairs — or, at a step that resolves the
 *   warm-up, every lifetime killed within it (a start-up ramp that never settles).
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
  /** Range-query step in seconds (default 15); the analysis uses the step the series show. */
  readonly stepSeconds: number
  /** Widest lookback the probe widens an undecided window to, minutes (BYTEPORT_OOM_TREND_MAX_LOOKBACK_MINUTES, default 1440). */
  readonly maxLookbackMinutes?: number | undefined
  /** z of Sen's slope confidence interval (BYTEPORT_OOM_TREND_SIGNIFICANCE_Z, default 1.96: each bound 97.5%). */
  readonly significanceZ?: number | undefined
  /** Least rise over a lifetime, as a share of the memory limit (BYTEPORT_OOM_TREND_MIN_RISE, default 0.02). */
  readonly minRiseRatio?: number | undefined
  /**
   * Restarts a window must show before growth decides it (the classifier's `leakMinRestarts`,
   * default 3): growth inside fewer lifetimes cannot tell a leak yet, so the probe widens.
   */
  readonly leakMinRestarts?: number | undefined
}

/** The defaults. */
export const defaults: TrendSettings = { lookbackMinutes: 60, warmupSeconds: 180, stepSeconds: 15, maxLookbackMinutes: 1440, significanceZ: 1.96, minRiseRatio: 0.02 }

/** One run of a container between restarts. */
export interface Run {
  readonly pod: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

/**
 * The sampling step of recorded series in milliseconds: the median spacing of consecutive samples
 * over all series (`fallbackSeconds` when no series has two samples).
 */
export const stepOf = (series: ReadonlyArray<Series>, fallbackSeconds: number): number => {
  const deltas: Array<number> = []
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const d = s.points[i]![0] - s.points[i - 1]![0]
      if (d > 0) deltas.push(d)
    }
  }
  return deltas.length ? median(deltas) : fallbackSeconds * 1000
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

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length === 0 ? 0 : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** At most `max` points: consecutive blocks replaced by their median time and value (robust thinning). */
const thin = (points: ReadonlyArray<readonly [number, number]>, max: number): ReadonlyArray<readonly [number, number]> => {
  if (points.length <= max) return points
  const out: Array<readonly [number, number]> = []
  for (let b = 0; b < max; b++) {
    const block = points.slice(Math.floor((b * points.length) / max), Math.floor(((b + 1) * points.length) / max))
    out.push([median(block.map((p) => p[0])), median(block.map((p) => p[1]))])
  }
  return out
}

/** Kendall's S of one lifetime with its variance (ties corrected) and every pairwise slope (per ms). */
const kendall = (points: ReadonlyArray<readonly [number, number]>) => {
  const n = points.length
  let s = 0
  const slopes: Array<number> = []
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dy = points[j]![1] - points[i]![1]
      s += Math.sign(dy)
      slopes.push(dy / (points[j]![0] - points[i]![0]))
    }
  }
  const ties = new Map<number, number>()
  for (const p of points) ties.set(p[1], (ties.get(p[1]) ?? 0) + 1)
  let tieTerm = 0
  for (const t of ties.values()) tieTerm += t * (t - 1) * (2 * t + 5)
  return { s, variance: (n * (n - 1) * (2 * n + 5) - tieTerm) / 18, slopes }
}

/** The result of the growth test over the lifetimes of a window. */
export interface Growth {
  /** Pooled within-lifetime Theil–Sen slope, bytes per minute. */
  readonly slopeBytesPerMinute: number
  /** Seasonal Mann–Kendall z (autocorrelation-corrected), positive when rising. */
  readonly z: number
  /** The slope times the lifetime (span-weighted mean post-warm-up span; the median one at a step coarser than the warm-up), bytes. */
  readonly riseBytes: number
  /** Within-lifetime sample pairs the test rests on. */
  readonly pairs: number
  /** Lifetimes with at least two post-warm-up samples. */
  readonly lifetimes: number
  /** Significant and material: the slope's lower confidence bound is above 0 and the slope carries the minimum rise over the lifetime. */
  readonly growing: boolean
  /** Shown level: no significant rise, and even the slope's upper confidence bound carries less than the minimum rise over the lifetime. */
  readonly level: boolean
  /** Sen's confidence interval of the slope (at `significanceZ`), bytes per minute. */
  readonly lowerBytesPerMinute: number
  readonly upperBytesPerMinute: number
  /** A lifetime (3+ samples, between half and twice the lifetime long) whose own slope carries less than the minimum rise over it. */
  readonly someLevelsOff: boolean
}

/**
 * The growth test over lifetimes (each already cut at restarts): post-warm-up samples only,
 * within-lifetime Theil–Sen slope, seasonal Mann–Kendall significance, materiality against
 * `referenceBytes` (the memory limit, else the window's peak).
 */
export const growthOf = (runs: ReadonlyArray<Run>, referenceBytes: number, settings: TrendSettings = defaults): Growth => {
  const warmupMs = settings.warmupSeconds * 1000
  const zCrit = settings.significanceZ ?? 1.96
  const minRise = settings.minRiseRatio ?? 0.02
  // a step coarser than the warm-up cannot resolve it: every sample counts (a sample caught
  // mid-ramp is a minority of a lifetime's pairs, which the Theil–Sen median discounts)
  const stepMs = stepOf(runs.map((r) => ({ labels: {}, points: r.points })), settings.stepSeconds)
  const skipMs = stepMs > warmupMs ? 0 : warmupMs
  const lives = runs
    .map((r) => {
      const first = r.points[0]
      return first ? thin(r.points.filter((p) => p[0] - first[0] >= skipMs), 240) : []
    })
    .filter((pts) => pts.length >= 2)
  let s = 0
  let variance = 0
  const slopes: Array<number> = []
  const own: Array<{ readonly span: number; readonly slope: number; readonly n: number }> = []
  for (const pts of lives) {
    const k = kendall(pts)
    s += k.s
    variance += k.variance
    for (const x of k.slopes) slopes.push(x)
    own.push({ span: pts[pts.length - 1]![0] - pts[0]![0], slope: median(k.slopes), n: pts.length })
  }
  const slope = median(slopes)
  // lag-1 autocorrelation of the residuals around the pooled slope (each lifetime its own level)
  let num = 0
  let den = 0
  for (const pts of lives) {
    const level = median(pts.map(([t, v]) => v - slope * t))
    const e = pts.map(([t, v]) => v - slope * t - level)
    for (let i = 0; i < e.length; i++) {
      den += e[i]! ** 2
      if (i > 0) num += e[i]! * e[i - 1]!
    }
  }
  const rho = den > 0 ? Math.min(0.9, Math.max(0, num / den)) : 0
  const inflated = variance * ((1 + rho) / (1 - rho))
  const z = inflated > 0 ? (s - Math.sign(s)) / Math.sqrt(inflated) : 0
  // the lifetime the rise is measured over: the span-weighted mean Σspan²/Σspan (a window's long
  // lifetime outweighs the short one after its kill); at a step coarser than the warm-up, where
  // lifetimes shorter than the step can merge unseen into one run, the median lifetime
  const totalSpan = own.reduce((a, o) => a + o.span, 0)
  const lifetime = skipMs === 0 ? median(own.map((o) => o.span)) : totalSpan > 0 ? own.reduce((a, o) => a + o.span * o.span, 0) / totalSpan : 0
  const riseBytes = slope * lifetime
  // Sen's confidence interval of the slope: the ranks (N ∓ C)/2 of the sorted pairwise slopes
  const sorted = [...slopes].sort((x, y) => x - y)
  const c = zCrit * Math.sqrt(inflated)
  // too few pairs for the confidence wanted: the interval is unbounded on that side
  const lo = Math.floor((sorted.length - c) / 2)
  const hi = Math.ceil((sorted.length + c) / 2) + 1
  const lower = lo >= 1 ? sorted[lo - 1]! : -Infinity
  const upper = hi <= sorted.length ? sorted[hi - 1]! : Infinity
  const growing = lower > 0 && riseBytes >= minRise * referenceBytes
  const level = lower <= 0 && Number.isFinite(upper) && upper * lifetime < minRise * referenceBytes
  return {
    slopeBytesPerMinute: slope * 60_000,
    z,
    riseBytes,
    pairs: slopes.length,
    lifetimes: lives.length,
    growing,
    level,
    lowerBytesPerMinute: lower * 60_000,
    upperBytesPerMinute: upper * 60_000,
    someLevelsOff: own.some((o) => o.n >= 3 && o.span >= lifetime / 2 && o.span <= 2 * Math.max(lifetime, stepMs) && o.slope * o.span < minRise * referenceBytes)
  }
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

/**
 * The trend with whether the window decided it: `decided` is false when the working set neither
 * grows across `leakMinRestarts` restarts nor shows a level (too few samples or restarts, or noise
 * too large for the window's length).
 */
export const analyse = (
  input: {
    readonly workingSet: ReadonlyArray<Series>
    readonly requestRate: ReadonlyArray<Series>
    readonly limitBytes?: number | null | undefined
  },
  settings: TrendSettings = defaults
): { readonly facts: TrendFacts; readonly growth: Growth; readonly decided: boolean } => {
  const stepMs = stepOf(input.workingSet, settings.stepSeconds)
  const runs = runsOf(input.workingSet, stepMs / 1000)
  const perPod = new Map<string, number>()
  for (const r of runs) perPod.set(r.pod, (perPod.get(r.pod) ?? 0) + 1)
  const restarts = Math.max(0, ...[...perPod.values()].map((n) => n - 1))
  const peakBytes = input.workingSet.reduce((m, s) => Math.max(m, ...s.points.map((p) => p[1])), 0)
  const growth = growthOf(runs, input.limitBytes && input.limitBytes > 0 ? input.limitBytes : peakBytes, settings)
  // every lifetime ended within the warm-up (a start-up ramp killed before it settles) — only
  // visible when the step resolves the warm-up
  const warmupMs = settings.warmupSeconds * 1000
  const killedInWarmup = runs.length >= 2 && stepMs * 3 <= warmupMs &&
    runs.every((r) => r.points[r.points.length - 1]![0] - r.points[0]![0] <= warmupMs)
  const plateau = (growth.level && growth.pairs >= 10) || (killedInWarmup && growth.pairs === 0)
  // correlation: the workload's summed working set (all pods, nearest point within two steps)
  // against its total request rate at the same instants — robust to how requests spread over pods
  const rps = input.requestRate[0]?.points ?? []
  let rpsCorrelation: number | null = null
  if (rps.length >= 3) {
    const values = rps.map((p) => p[1])
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    if (mean > 0 && sd / mean >= 0.05) {
      const tolerance = stepMs * 2
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
  const facts: TrendFacts = {
    restarts,
    risingAcrossRestarts: growth.growing && growth.lifetimes >= 2 && !growth.someLevelsOff,
    slopeBytesPerMinute: Math.round(growth.slopeBytesPerMinute),
    plateau,
    peakBytes: Math.round(peakBytes),
    rpsCorrelation
  }
  // growth decides a window only once it spans the restarts a leak needs: a slow leak seen inside
  // one lifetime is widened until its rise across restarts shows (or the widest window is reached)
  return { facts, growth, decided: (growth.growing && restarts >= (settings.leakMinRestarts ?? 3)) || plateau }
}

/**
 * The trend from the series: working set per pod (one series per pod and container), the
 * workload's request rate (one series, or none) and the container's memory limit (the reference
 * growth is measured against; the window's peak when unknown).
 */
export const trendFrom = (
  input: {
    readonly workingSet: ReadonlyArray<Series>
    readonly requestRate: ReadonlyArray<Series>
    readonly limitBytes?: number | null | undefined
  },
  settings: TrendSettings = defaults
): TrendFacts => analyse(input, settings).facts

/** One window of the widening: `[end − minutes, end]` read at `stepSeconds`. */
export interface Window {
  readonly minutes: number
  readonly range: { readonly start: number; readonly end: number; readonly step: Duration.Duration }
}

/**
 * The windows the trend reads, ending at `end` (epoch ms), in order: `lookbackMinutes`, widened
 * four-fold up to `maxLookbackMinutes` (60 min → 4 h → 16 h → 24 h by default), each at a step that
 * keeps a query near 1,440 samples (never finer than `stepSeconds`).
 */
export const windowsOf = (end: number, settings: TrendSettings = defaults): ReadonlyArray<Window> => {
  const maxMinutes = Math.max(settings.lookbackMinutes, settings.maxLookbackMinutes ?? 1440)
  const out: Array<Window> = []
  for (let minutes = settings.lookbackMinutes; ; minutes = Math.min(maxMinutes, minutes * 4)) {
    const step = Math.max(settings.stepSeconds, Math.ceil((minutes * 60) / 1440 / 15) * 15)
    out.push({ minutes, range: { start: end - minutes * 60_000, end, step: Duration.seconds(step) } })
    if (minutes >= maxMinutes) return out
  }
}

/** What one window's queries answer: the working set per pod and the workload's request rate (one series, or none). */
export interface WindowSeries {
  readonly workingSet: ReadonlyArray<Series>
  readonly requestRate: ReadonlyArray<Series>
}

/**
 * The one decision path of the trend: reads the windows of `windowsOf(end)` in order through
 * `read` and returns the facts of the first window that decides (growth across
 * `leakMinRestarts` restarts, or a shown level), else of the widest. The live probe reads each
 * window from Prometheus; `trendAt` reads it from a recording: both decide here.
 */
export const widening = <E, R>(
  end: number,
  limitBytes: number | null | undefined,
  read: (range: Window["range"]) => Effect.Effect<WindowSeries, E, R>,
  settings: TrendSettings = defaults
): Effect.Effect<TrendFacts, E, R> =>
  Effect.gen(function*() {
    const windows = windowsOf(end, settings)
    for (let i = 0; ; i++) {
      const w = windows[i]!
      const a = analyse({ ...(yield* read(w.range)), limitBytes }, settings)
      if (a.decided || i === windows.length - 1) return a.facts
    }
  })

/**
 * The points of a recorded series inside `range` (ends included), thinned to its step when the
 * recording is finer: what Prometheus answers for the range from the recorded samples (a
 * recording coarser than the step is what a downsampled store answers).
 */
export const pointsIn = (points: ReadonlyArray<readonly [number, number]>, range: { readonly start: number; readonly end: number; readonly step?: Duration.Input | undefined }): ReadonlyArray<readonly [number, number]> => {
  const stepMs = Duration.toMillis(Duration.fromInputUnsafe(range.step ?? "60 seconds"))
  const out: Array<readonly [number, number]> = []
  let last = -Infinity
  for (const p of points) {
    if (p[0] < range.start || p[0] > range.end || p[0] - last < stepMs || !Number.isFinite(p[1])) continue
    out.push(p)
    last = p[0]
  }
  return out
}

/**
 * A recorded working-set answer over `range` as the probe's query returns it: each series'
 * points in the range (`pointsIn`), merged `max by (pod)` (raw cAdvisor recordings hold one series
 * per container id), pods without a point left out.
 */
export const workingSetIn = (series: ReadonlyArray<Series>, range: { readonly start: number; readonly end: number; readonly step?: Duration.Input | undefined }, container?: string): ReadonlyArray<Series> => {
  const byPod = new Map<string, Map<number, number>>()
  for (const s of series) {
    const pod = s.labels["pod"] ?? ""
    const m = byPod.get(pod) ?? new Map<number, number>()
    for (const [t, v] of pointsIn(s.points, range)) m.set(t, Math.max(m.get(t) ?? -Infinity, v))
    byPod.set(pod, m)
  }
  return [...byPod]
    .map(([pod, m]): Series => ({ labels: { pod, container: container ?? "" }, points: [...m].sort((a, b) => a[0] - b[0]) }))
    .filter((s) => s.points.length > 0)
}

/**
 * The trend of a recording as the live probe would have read it at the capture time `now`:
 * the same widening windows (`widening`), each answered from the recorded series
 * (`workingSetIn`, `pointsIn`) — `OomFixture.decode` and the probe share this one decision path.
 */
export const trendAt = (
  recorded: {
    readonly workingSet: ReadonlyArray<Series>
    readonly requestRate: ReadonlyArray<Series>
    readonly limitBytes?: number | null | undefined
  },
  now: number,
  settings: TrendSettings = defaults
): TrendFacts =>
  Effect.runSync(
    widening(now, recorded.limitBytes, (range) => {
      const rps = recorded.requestRate[0] ? pointsIn(recorded.requestRate[0].points, range) : []
      return Effect.succeed({ workingSet: workingSetIn(recorded.workingSet, range), requestRate: rps.length ? [{ labels: {}, points: rps }] : [] })
    }, settings)
  )

/**
 * Reads the series through the Metrics service (Prometheus) and computes the trend of a workload's
 * container. A window that does not decide (neither growth across `leakMinRestarts` restarts nor a shown level) is widened four-fold,
 * up to `maxLookbackMinutes`, at a step that keeps each query near 1,440 samples: a slow leak or a
 * noisy plateau needs hours to tell apart, and an undecided trend is never a plateau. The windows
 * and the decision are `widening`'s, shared with `trendAt` (recordings).
 */
export const probe = (
  w: { readonly namespace: string; readonly workload: string; readonly container: string; readonly limitBytes?: number | null | undefined },
  settings: TrendSettings = defaults
): Effect.Effect<TrendFacts, MetricsError, Metrics> =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const end = yield* Clock.currentTimeMillis
    return yield* widening(end, w.limitBytes, (range) =>
      Effect.map(
        Effect.all([
          metrics.memorySeries({ namespace: w.namespace, podPrefix: `${w.workload}-`, container: w.container }, range),
          metrics.requestRate({ namespace: w.namespace, workload: w.workload }, range)
        ], { concurrency: 2 }),
        ([ws, rps]) => ({ workingSet: ws, requestRate: rps.points.length ? [rps] : [] })
      ), settings)
  })
