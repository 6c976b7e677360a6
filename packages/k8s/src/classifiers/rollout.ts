/**
 * The classifier of `k8s.deploy.failed-rollout`: the seed's first match, in the seed's order,
 * confidence ≥ 0.70 (below it: Unclassified → escalate):
 *
 * | class | rule | confidence |
 * | --- | --- | --- |
 * | do_not_rollback | false attribution: Warning events on this workload's pods or Services that began more than 5 min before the rollout start, or the old revision already failing ≥1% of requests in the 5 min that ended 5 min before it | 0.85 |
 * | rollout_stuck | Progressing=False reason ProgressDeadlineExceeded and 0 ready pods on the new ReplicaSet | 0.91 |
 * | readiness_never_ready | the new ReplicaSet's pods fail their readiness probe (Unhealthy "Readiness probe failed") and it is not fully ready 120 s after the rollout start | 0.88 |
 * | deploy_5xx_spike | new-revision 5xx ratio > 5× the pre-rollout ratio and ≥ 1% | 0.90 |
 * | canary_slo_burn | a canary (`track=canary`) burns its error budget > 2× faster than its stable Deployments, and faster than allowed (burn > 1) | 0.87 |
 * | deploy_health_regression | new-revision error ratio ≥ 2× the pre-rollout one, or p95 latency ≥ 1.5× | 0.86 |
 *
 * A Warning on another Deployment's pods is not this workload's: it never makes do_not_rollback.
 * A rule whose facts are Unknown, reached before a match, is Indeterminate (escalate).
 *
 * @since 0.3.0
 */
import { Classifier, Settings } from "@byteport/core"
import { Config, Effect } from "effect"
import type { RolloutFacts } from "../probes/rolloutFacts"

/** The classes, in the seed's order. */
export const CLASSES = ["do_not_rollback", "rollout_stuck", "readiness_never_ready", "deploy_5xx_spike", "canary_slo_burn", "deploy_health_regression"] as const

/** A class. */
export type RolloutClass = typeof CLASSES[number]

/** Thresholds (every number is a default). */
export interface RolloutThresholds {
  readonly confidences: Readonly<Record<RolloutClass, number>>
  /** The new revision's 5xx ratio must exceed this multiple of the pre-rollout one (5). */
  readonly spikeFactor: number
  /** … and be at least this ratio (0.01). */
  readonly minErrorRatio: number
  /** The canary's burn must exceed this multiple of the baseline's (2). */
  readonly canaryBurnFactor: number
  /** deploy_health_regression: errors ≥ this multiple (2) … */
  readonly errorFactor: number
  /** … or p95 ≥ this multiple (1.5). */
  readonly p95Factor: number
  /** readiness_never_ready: seconds after the rollout start (120). */
  readonly readinessGraceSeconds: number
  /** The confidence floor (0.70). */
  readonly minConfidence: number
}

/** The seed's confidences and the thresholds. */
export const defaults: RolloutThresholds = {
  confidences: {
    do_not_rollback: 0.85,
    rollout_stuck: 0.91,
    readiness_never_ready: 0.88,
    deploy_5xx_spike: 0.9,
    canary_slo_burn: 0.87,
    deploy_health_regression: 0.86
  },
  spikeFactor: 5,
  minErrorRatio: 0.01,
  canaryBurnFactor: 2,
  errorFactor: 2,
  p95Factor: 1.5,
  readinessGraceSeconds: 120,
  minConfidence: 0.7
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`)

/** The rules, in the seed's order. */
export const rules = (t: RolloutThresholds = defaults): ReadonlyArray<Classifier.Rule<RolloutFacts>> => {
  const rule = Classifier.rule<RolloutFacts>()
  return [
    rule({
      class: "do_not_rollback",
      confidence: t.confidences.do_not_rollback,
      needs: ["history", "attribution"],
      when: ({ attribution, history }) => {
        const w = attribution.predatingWarnings
        const before = attribution.errorRatioBeforeRollout
        const errorsBefore = before !== null && before >= t.minErrorRatio
        const matched = history.rolloutStart !== null && (w.length > 0 || errorsBefore)
        const reasons = [
          ...(w.length > 0 ? [`${w.length} Warning event(s) on this workload began before the rollout: first ${w[0]!.reason} on ${w[0]!.object} ${Math.round((history.rolloutStart! - w[0]!.firstAt) / 1000)} s before it`] : []),
          ...(errorsBefore ? [`the old revision already failed ${pct(before)} of requests more than 5 min before the rollout`] : [])
        ]
        return {
          matched,
          reasons: matched ? [...reasons, "the regression predates the rollout: rolling back would not help"] : [],
          evidence: matched ? { predatingWarnings: w.slice(0, 5).map((x) => ({ ...x })), errorRatioBeforeRollout: before } : {}
        }
      }
    }),
    rule({
      class: "rollout_stuck",
      confidence: t.confidences.rollout_stuck,
      needs: ["deployment", "history"],
      when: ({ deployment, history }) => {
        const deadline = deployment.progressing?.status === "False" && deployment.progressing.reason === "ProgressDeadlineExceeded"
        const ready = history.current?.readyReplicas ?? 0
        const matched = deadline && history.current !== null && ready === 0
        return {
          matched,
          reasons: matched ? [`ProgressDeadlineExceeded with 0 ready pods on ReplicaSet ${history.current!.replicaSet} (revision ${history.current!.revision})`] : [],
          evidence: matched ? { replicaSet: history.current!.replicaSet, revision: history.current!.revision, readyReplicas: 0 } : {}
        }
      }
    }),
    rule({
      class: "readiness_never_ready",
      confidence: t.confidences.readiness_never_ready,
      needs: ["history", "attribution"],
      when: ({ history, attribution }) => {
        const cur = history.current
        const age = history.ageSeconds ?? 0
        const notReady = cur !== null && cur.replicas > 0 && cur.readyReplicas < cur.replicas
        const matched = notReady && attribution.readinessFailures > 0 && age >= t.readinessGraceSeconds
        return {
          matched,
          reasons: matched ? [`${attribution.readinessFailures} readiness-probe failure(s) on ReplicaSet ${cur!.replicaSet}; ${cur!.readyReplicas}/${cur!.replicas} ready ${Math.round(age)} s after the rollout start`] : [],
          evidence: matched ? { replicaSet: cur!.replicaSet, readyReplicas: cur!.readyReplicas, replicas: cur!.replicas, readinessFailures: attribution.readinessFailures } : {}
        }
      }
    }),
    rule({
      class: "deploy_5xx_spike",
      confidence: t.confidences.deploy_5xx_spike,
      needs: ["traffic"],
      when: ({ traffic }) => {
        const pre = traffic.baseline.errorRatio
        const post = traffic.current.errorRatio
        const matched = pre !== null && post !== null && post >= t.minErrorRatio && post > t.spikeFactor * pre
        return {
          matched,
          reasons: matched ? [`the new revision fails ${pct(post)} of requests with 5xx against ${pct(pre)} before the rollout (> ${t.spikeFactor}×, ≥ ${pct(t.minErrorRatio)})`] : [],
          evidence: matched ? { errorRatio: post, baselineErrorRatio: pre } : {}
        }
      }
    }),
    rule({
      class: "canary_slo_burn",
      confidence: t.confidences.canary_slo_burn,
      needs: ["canary"],
      when: ({ canary }) => {
        const c = canary?.canaryBurn ?? null
        const b = canary?.baselineBurn ?? null
        const matched = c !== null && b !== null && c > 1 && c > t.canaryBurnFactor * b
        return {
          matched,
          reasons: matched ? [`the canary burns its error budget at ${c!.toFixed(1)}× against ${b!.toFixed(1)}× on ${canary!.stable.join(", ")} (> ${t.canaryBurnFactor}×)`] : [],
          evidence: matched ? { canaryBurn: c, baselineBurn: b, stable: [...canary!.stable] } : {}
        }
      }
    }),
    rule({
      class: "deploy_health_regression",
      confidence: t.confidences.deploy_health_regression,
      needs: ["traffic"],
      when: ({ traffic }) => {
        const pre = traffic.baseline
        const post = traffic.current
        const errors = pre.errorRatio !== null && post.errorRatio !== null && pre.errorRatio > 0 && post.errorRatio >= t.errorFactor * pre.errorRatio
        const latency = pre.p95Seconds !== null && post.p95Seconds !== null && pre.p95Seconds > 0 && post.p95Seconds >= t.p95Factor * pre.p95Seconds
        const matched = errors || latency
        return {
          matched,
          reasons: matched
            ? [
              ...(errors ? [`errors ${pct(post.errorRatio)} against ${pct(pre.errorRatio)} before the rollout (≥ ${t.errorFactor}×)`] : []),
              ...(latency ? [`p95 ${post.p95Seconds!.toFixed(3)} s against ${pre.p95Seconds!.toFixed(3)} s before the rollout (≥ ${t.p95Factor}×)`] : [])
            ]
            : [],
          evidence: matched ? { errorRatio: post.errorRatio, baselineErrorRatio: pre.errorRatio, p95Seconds: post.p95Seconds, baselineP95Seconds: pre.p95Seconds } : {}
        }
      }
    })
  ]
}

/** The classifier (first match, seed order, the 0.70 floor). */
export const classify = (t: RolloutThresholds = defaults): Classifier.Classifier<RolloutFacts> =>
  Classifier.firstMatch(rules(t), { minConfidence: t.minConfidence })

const conf = (cls: RolloutClass) => Settings.ratio(`BYTEPORT_ROLLOUT_CONFIDENCE_${cls.toUpperCase()}`).pipe(Config.withDefault(defaults.confidences[cls]))
const num = (key: string, dflt: number) => Settings.positiveNumber(key).pipe(Config.withDefault(dflt))

/**
 * The thresholds from configuration: `BYTEPORT_ROLLOUT_CONFIDENCE_<CLASS>` (each class),
 * `BYTEPORT_ROLLOUT_SPIKE_FACTOR` (5), `BYTEPORT_ROLLOUT_MIN_ERROR_RATIO` (0.01),
 * `BYTEPORT_ROLLOUT_CANARY_BURN_FACTOR` (2), `BYTEPORT_ROLLOUT_ERROR_FACTOR` (2),
 * `BYTEPORT_ROLLOUT_P95_FACTOR` (1.5), `BYTEPORT_ROLLOUT_READINESS_GRACE_SECONDS` (120).
 */
export const thresholdsConfig: Effect.Effect<RolloutThresholds, Config.ConfigError> = Effect.gen(function*() {
  const confidences = {} as Record<RolloutClass, number>
  for (const c of CLASSES) confidences[c] = yield* conf(c)
  return {
    confidences,
    spikeFactor: yield* num("BYTEPORT_ROLLOUT_SPIKE_FACTOR", defaults.spikeFactor),
    minErrorRatio: yield* Settings.ratio("BYTEPORT_ROLLOUT_MIN_ERROR_RATIO").pipe(Config.withDefault(defaults.minErrorRatio)),
    canaryBurnFactor: yield* num("BYTEPORT_ROLLOUT_CANARY_BURN_FACTOR", defaults.canaryBurnFactor),
    errorFactor: yield* num("BYTEPORT_ROLLOUT_ERROR_FACTOR", defaults.errorFactor),
    p95Factor: yield* num("BYTEPORT_ROLLOUT_P95_FACTOR", defaults.p95Factor),
    readinessGraceSeconds: yield* num("BYTEPORT_ROLLOUT_READINESS_GRACE_SECONDS", defaults.readinessGraceSeconds),
    minConfidence: defaults.minConfidence
  }
})
