/**
 * `RenderBadDeploy`: the facts and the classifier of `deploy.render.rollback`, in the seed's
 * order — (a) `error_rate_spike`: the 5xx rate in the 5 minutes after the deploy went live is
 * more than 5× the rate of the 5 minutes before (the baseline); (b) `health_check_failing`: the
 * health endpoint answered non-2xx or timed out on every probe for more than 2 consecutive
 * minutes; (c) `crash_loop`: repeated `server_failed` events since the deploy went live (default
 * 3). Nothing matched → escalate with diagnostics. Too few requests in either window (default
 * < 100) makes (a) unknown: Indeterminate, unless (b) or (c) matches. The seed gives no
 * confidences: 0.85, 0.90, 0.88 (all ≥ 0.70, each configurable). Every threshold is configurable.
 *
 * @since 0.1.0
 */
import { Classification, Classifier, type Fact } from "@byteport/core"

/** The classes, in the seed's order. */
export const Classes = ["error_rate_spike", "health_check_failing", "crash_loop"] as const
/** A class. */
export type Class = typeof Classes[number]

/** A deploy, as the runbook sees it. */
export interface DeployFacts {
  readonly id: string
  readonly commitId: string | null
  readonly status: string
  readonly trigger: string | null
  readonly createdAt: number
  /** When it went live (its `finishedAt` when its status is `live` or `deactivated`), else null. */
  readonly liveAt: number | null
}

/** The service. */
export interface ServiceFacts {
  readonly id: string
  readonly name: string
  readonly autoDeploy: boolean
  /** The health URL probed (null: the service has none). */
  readonly healthUrl: string | null
}

/** Request counts of one window. */
export interface WindowCounts {
  readonly from: number
  readonly to: number
  readonly total: number
  readonly errors: number
  /** errors / total. */
  readonly rate: number
}

/** The error rate after the deploy against the baseline before it. */
export interface ErrorRateFacts {
  readonly baseline: WindowCounts
  readonly after: WindowCounts
  /** after.rate / max(baseline.rate, floor). */
  readonly ratio: number
  /** Whether the 5-minute window after the deploy has ended. */
  readonly windowComplete: boolean
}

/** The health endpoint's recent history. */
export interface HealthFacts {
  /** How long every probe has failed, ms (from the first failing probe of the streak to the last). */
  readonly failingForMs: number
  readonly failingProbes: number
  /** The diagnoser's own probe. */
  readonly last: { readonly at: number; readonly status: number | "timeout" | "error"; readonly ok: boolean } | null
}

/** Crash-loop evidence: `server_failed` events since the deploy went live. */
export interface CrashFacts {
  readonly failures: number
  readonly firstAt: number | null
  readonly lastAt: number | null
}

/** The facts of `deploy.render.rollback`. */
export interface RenderDeployFacts {
  readonly service: ServiceFacts
  /** The last 5 deploys, newest first. */
  readonly deploys: ReadonlyArray<DeployFacts>
  /** The deploy the signal names. */
  readonly suspect: DeployFacts
  readonly errorRate: ErrorRateFacts
  readonly health: HealthFacts
  readonly crashes: CrashFacts
}

/** The thresholds (every seed number is a default). */
export interface Thresholds {
  /** (a) the factor over the baseline (default 5: strictly more than 5×). */
  readonly errorRateFactor: number
  /** (a) the window after (and before) the deploy, ms (default 5 min). */
  readonly windowMs: number
  /** (a) fewer requests than this in a window → the rate is unknown (default 100). */
  readonly minRequests: number
  /** (a) the baseline rate never counts as lower than this (default 0.001: 0.1 %). */
  readonly baselineFloor: number
  /** (b) every probe failing for strictly more than this, ms (default 120 000). */
  readonly healthFailForMs: number
  /** (c) this many `server_failed` events since the deploy went live (default 3). */
  readonly crashLoopFailures: number
}

/** The default thresholds. */
export const defaultThresholds: Thresholds = {
  errorRateFactor: 5,
  windowMs: 300_000,
  minRequests: 100,
  baselineFloor: 0.001,
  healthFailForMs: 120_000,
  crashLoopFailures: 3
}

/** The default confidences (the seed gives none). */
export const defaultConfidences: Readonly<Record<Class, number>> = {
  error_rate_spike: 0.85,
  health_check_failing: 0.9,
  crash_loop: 0.88
}

/** The error-rate facts from two windows' counts; a string (why) when either window has too few requests. */
export const errorRateOf = (
  baseline: Omit<WindowCounts, "rate">,
  after: Omit<WindowCounts, "rate">,
  windowComplete: boolean,
  t: Pick<Thresholds, "minRequests" | "baselineFloor"> = defaultThresholds
): ErrorRateFacts | string => {
  if (baseline.total < t.minRequests) return `too few requests before the deploy (${Math.round(baseline.total)} < ${t.minRequests})`
  if (after.total < t.minRequests) return `too few requests after the deploy (${Math.round(after.total)} < ${t.minRequests})`
  const b = { ...baseline, rate: baseline.errors / baseline.total }
  const a = { ...after, rate: after.errors / after.total }
  return { baseline: b, after: a, ratio: a.rate / Math.max(b.rate, t.baselineFloor), windowComplete }
}

/** A health streak: when the current run of failing probes began and its last probe. */
export interface HealthStreak {
  readonly since: number | null
  readonly lastAt: number | null
  readonly failingProbes: number
}

/** The empty streak. */
export const emptyStreak: HealthStreak = { since: null, lastAt: null, failingProbes: 0 }

/** One probe more: a failing probe extends the streak (or starts one), a 2xx ends it. */
export const stepStreak = (s: HealthStreak, probe: { readonly at: number; readonly ok: boolean }): HealthStreak =>
  probe.ok ? emptyStreak : { since: s.since ?? probe.at, lastAt: probe.at, failingProbes: s.failingProbes + 1 }

/** How long the streak has failed on every probe, ms. */
export const failingFor = (s: HealthStreak): number => (s.since === null || s.lastAt === null ? 0 : s.lastAt - s.since)

/** Whether (b) holds: every probe failed for strictly more than the threshold. */
export const healthFailing = (failingForMs: number, t: Pick<Thresholds, "healthFailForMs"> = defaultThresholds): boolean => failingForMs > t.healthFailForMs

/** Whether (a) holds. */
export const errorRateSpiking = (e: ErrorRateFacts, t: Pick<Thresholds, "errorRateFactor"> = defaultThresholds): boolean => e.windowComplete && e.ratio > t.errorRateFactor

/** The rules, in the seed's order. */
export const rules = (thresholds: Partial<Thresholds> = {}, confidences: Partial<Record<Class, number>> = {}): ReadonlyArray<Classifier.Rule<RenderDeployFacts>> => {
  const t = { ...defaultThresholds, ...thresholds }
  const c = { ...defaultConfidences, ...confidences }
  const rule = Classifier.rule<RenderDeployFacts>()
  return [
    rule({
      class: "error_rate_spike",
      confidence: c.error_rate_spike,
      needs: ["errorRate"],
      when: (f) => ({
        matched: errorRateSpiking(f.errorRate, t),
        reasons: [`5xx rate ${(f.errorRate.after.rate * 100).toFixed(2)}% in the ${t.windowMs / 60_000} min after the deploy went live is ${f.errorRate.ratio.toFixed(2)}× the baseline ${(f.errorRate.baseline.rate * 100).toFixed(2)}% (threshold > ${t.errorRateFactor}×)`],
        evidence: { ratio: Number(f.errorRate.ratio.toFixed(4)), afterRate: Number(f.errorRate.after.rate.toFixed(6)), baselineRate: Number(f.errorRate.baseline.rate.toFixed(6)) }
      })
    }),
    rule({
      class: "health_check_failing",
      confidence: c.health_check_failing,
      needs: ["health"],
      when: (f) => ({
        matched: healthFailing(f.health.failingForMs, t) && f.health.last !== null && !f.health.last.ok,
        reasons: [`the health endpoint failed every probe for ${Math.round(f.health.failingForMs / 1000)} s (${f.health.failingProbes} probes; threshold > ${t.healthFailForMs / 1000} s), last: ${String(f.health.last?.status ?? "none")}`],
        evidence: { failingForMs: f.health.failingForMs, failingProbes: f.health.failingProbes, last: String(f.health.last?.status ?? "none") }
      })
    }),
    rule({
      class: "crash_loop",
      confidence: c.crash_loop,
      needs: ["crashes"],
      when: (f) => ({
        matched: f.crashes.failures >= t.crashLoopFailures,
        reasons: [`${f.crashes.failures} server_failed events since the deploy went live (threshold ${t.crashLoopFailures})`],
        evidence: { failures: f.crashes.failures }
      })
    })
  ]
}

/**
 * The classifier: first match in the seed's order. When (a) cannot be told (too few requests),
 * (b) and (c) are still tried; none matching → Indeterminate (never a guess).
 */
export const classifier = (options: { readonly thresholds?: Partial<Thresholds>; readonly confidences?: Partial<Record<Class, number>>; readonly minConfidence?: number } = {}): Classifier.Classifier<RenderDeployFacts> => {
  const all = rules(options.thresholds, options.confidences)
  const opts = { minConfidence: options.minConfidence ?? 0.7 }
  const first = Classifier.firstMatch(all, opts)
  const rest = Classifier.firstMatch(all.slice(1), opts)
  return (facts: Fact.Facts<RenderDeployFacts>) => {
    const c = first(facts)
    if (c._tag !== "Indeterminate" || c.rule !== "error_rate_spike") return c
    const other = rest(facts)
    return other._tag === "Classified" ? other : other._tag === "Indeterminate" ? other : Classification.indeterminate(c.rule, c.missing, [...c.reasons, ...other.reasons])
  }
}
