/**
 * The seed's 5 signals of `k8s.deploy.failed-rollout`, from one poll (default every 30 s) over
 * the shared Deployment and ReplicaSet watches (their caches: no API request while they are
 * synced) plus, for Deployments whose current revision rolled out within `watchMinutes` (30)
 * and for canaries, the per-revision HTTP numbers (`Metrics.httpStats`):
 *
 * - `k8s.deploy.rollout_stuck`: Progressing=False with reason ProgressDeadlineExceeded;
 * - `k8s.deploy.readiness_probe_failure_post_deploy`: the new ReplicaSet is not fully ready
 *   `readinessGraceSeconds` (120) after the rollout start;
 * - `k8s.deploy.deploy_5xx_spike`: the new revision fails ≥ `minErrorRatio` (1%) of requests
 *   with 5xx (the classifier decides whether it is a spike and whether the rollout caused it);
 * - `k8s.deploy.deploy_health_regression`: error ratio ≥ 2× or p95 ≥ 1.5× the pre-rollout one;
 * - `k8s.deploy.canary_slo_burn`: a canary (`track=canary`) burns its error budget > 2× faster
 *   than its stable Deployments.
 *
 * Each signal targets the Deployment (`k8s.workload`), once per revision while its condition
 * holds (it must clear before it signals again). Every poll also feeds the {@link RolloutLedger}
 * with the Deployments it sees fully Available (the last-good rule's memory). Core's
 * `deployment.regression` hand-off is routed to the runbook by its signal type.
 *
 * @since 0.3.0
 */
import { Detector, type Signal } from "@byteport/core"
import { Clock, type Duration, Effect, Schedule, Stream } from "effect"
import * as Informers from "../informers/Informers"
import { deployments, replicaSets } from "../informers/Resource"
import { Kube } from "../Kube"
import { Metrics } from "../metrics/Metrics"
import * as LastDeploy from "../probes/lastDeploy"
import * as RolloutFacts from "../probes/rolloutFacts"
import type { RolloutLedger } from "../probes/rolloutLedger"
import * as Targets from "../targets/Targets"

/** The signal types (the seed's 5 signals). */
export const RolloutSignals = {
  rolloutStuck: "k8s.deploy.rollout_stuck",
  readinessFailure: "k8s.deploy.readiness_probe_failure_post_deploy",
  errorSpike: "k8s.deploy.deploy_5xx_spike",
  canarySloBurn: "k8s.deploy.canary_slo_burn",
  healthRegression: "k8s.deploy.deploy_health_regression"
} as const

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly interval?: Duration.Input | undefined
  /** Rollouts younger than this are compared with their baseline (minutes, 30). */
  readonly watchMinutes?: number | undefined
  readonly readinessGraceSeconds?: number | undefined
  readonly minErrorRatio?: number | undefined
  readonly errorFactor?: number | undefined
  readonly p95Factor?: number | undefined
  readonly canaryBurnFactor?: number | undefined
  readonly settings?: RolloutFacts.RolloutSettings | undefined
  readonly name?: string | undefined
}

/** What the poll found about one Deployment (pure; exported for tests). */
export interface Finding {
  readonly type: string
  readonly evidence: Readonly<Record<string, string | number | boolean | null>>
}

/** The cluster-side findings of one Deployment at `now` (no metrics). */
export const clusterFindings = (
  d: RolloutFacts.DeploymentObject,
  rsList: ReadonlyArray<LastDeploy.HistoryReplicaSet>,
  now: number,
  readinessGraceSeconds = 120
): ReadonlyArray<Finding> => {
  const state = RolloutFacts.deploymentState(d)
  const { current } = LastDeploy.templateDiff(d, rsList)
  if (!current) return []
  const start = current.createdAt ? Date.parse(current.createdAt) : NaN
  const base = { namespace: state.namespace, deployment: state.name, revision: String(current.revision), replicaSet: current.replicaSet, sha: current.sha }
  const out: Array<Finding> = []
  if (state.progressing?.status === "False" && state.progressing.reason === "ProgressDeadlineExceeded") {
    out.push({ type: RolloutSignals.rolloutStuck, evidence: { ...base, reason: "ProgressDeadlineExceeded", readyReplicas: current.readyReplicas } })
  }
  const complete = state.updatedReplicas === state.replicas && state.readyReplicas === state.replicas && state.observedGeneration >= state.generation
  if (!state.paused && !complete && current.revision > 1 && current.desired > 0 && current.readyReplicas < current.desired && Number.isFinite(start) && now - start >= readinessGraceSeconds * 1000) {
    out.push({ type: RolloutSignals.readinessFailure, evidence: { ...base, readyReplicas: current.readyReplicas, replicas: current.desired, secondsSinceRollout: Math.round((now - start) / 1000) } })
  }
  return out
}

/** The detector; `ledger` records the Deployments seen fully Available. */
export const make = (ledger: RolloutLedger, options: Options = {}): Detector.Detector<never, Kube | Metrics> => {
  const name = options.name ?? "k8s.deploy.failed-rollout"
  const s = options.settings ?? RolloutFacts.defaults
  const grace = options.readinessGraceSeconds ?? s.readinessGraceSeconds
  const watchMs = (options.watchMinutes ?? 30) * 60_000
  const minErrorRatio = options.minErrorRatio ?? 0.01
  const errorFactor = options.errorFactor ?? 2
  const p95Factor = options.p95Factor ?? 1.5
  const burnFactor = options.canaryBurnFactor ?? 2
  // per subscription: a new subscriber (a restarted detector) signals what still holds
  return Detector.fromStream(name, Stream.unwrap(Effect.sync(() => poll(new Set<string>()).signals)))

  function poll(active: Set<string>) {
  return Detector.poll(name, {
    schedule: Schedule.spaced(options.interval ?? "30 seconds"),
    poll: Effect.gen(function*() {
      const kube = yield* Kube
      const now = yield* Clock.currentTimeMillis
      const ds = (yield* Informers.listOr(deployments, { namespace: options.namespace }, kube.listDeployments({ namespace: options.namespace }))) as unknown as ReadonlyArray<RolloutFacts.DeploymentObject>
      const rsAll = (yield* Informers.listOr(replicaSets, { namespace: options.namespace }, kube.listReplicaSets({ namespace: options.namespace }))) as unknown as ReadonlyArray<LastDeploy.HistoryReplicaSet>
      const findings: Array<{ d: RolloutFacts.DeploymentState; f: Finding }> = []
      for (const d of ds) {
        ledger.observe(d as never)
        const state = RolloutFacts.deploymentState(d)
        const rs = rsAll.filter((r) => (r.metadata?.ownerReferences ?? []).some((o) => o.kind === "Deployment" && o.name === state.name) && ((r as { metadata?: { namespace?: string } }).metadata?.namespace ?? state.namespace) === state.namespace)
        for (const f of clusterFindings(d, rs, now, grace)) findings.push({ d: state, f })
        const history = RolloutFacts.historyFacts(d, rs, new Set(), [], now)
        const young = history.rolloutStart !== null && now - history.rolloutStart <= watchMs && history.revisions.length > 1
        const canary = state.labels[s.canaryLabel] === s.canaryValue || state.templateLabels[s.canaryLabel] === s.canaryValue
        if (!young && !canary) continue
        const base = { namespace: state.namespace, deployment: state.name, revision: String(history.current?.revision ?? ""), replicaSet: history.current?.replicaSet ?? "", sha: history.sha }
        if (young) {
          const t = yield* Effect.result(RolloutFacts.trafficProbe(state.namespace, history, s))
          if (t._tag === "Success") {
            const { baseline, current } = t.success
            if (current.errorRatio !== null && current.errorRatio >= minErrorRatio) {
              findings.push({ d: state, f: { type: RolloutSignals.errorSpike, evidence: { ...base, errorRatio: current.errorRatio, baselineErrorRatio: baseline.errorRatio } } })
            }
            const errors = baseline.errorRatio !== null && baseline.errorRatio > 0 && current.errorRatio !== null && current.errorRatio >= errorFactor * baseline.errorRatio
            const latency = baseline.p95Seconds !== null && baseline.p95Seconds > 0 && current.p95Seconds !== null && current.p95Seconds >= p95Factor * baseline.p95Seconds
            if (errors || latency) {
              findings.push({ d: state, f: { type: RolloutSignals.healthRegression, evidence: { ...base, errorRatio: current.errorRatio, baselineErrorRatio: baseline.errorRatio, p95Seconds: current.p95Seconds, baselineP95Seconds: baseline.p95Seconds } } })
            }
          }
        }
        if (canary) {
          const c = yield* Effect.result(RolloutFacts.canaryProbe(state, s))
          if (c._tag === "Success" && c.success && c.success.canaryBurn !== null && c.success.baselineBurn !== null && c.success.canaryBurn > 1 && c.success.canaryBurn > burnFactor * c.success.baselineBurn) {
            findings.push({ d: state, f: { type: RolloutSignals.canarySloBurn, evidence: { ...base, canaryBurn: c.success.canaryBurn, baselineBurn: c.success.baselineBurn } } })
          }
        }
      }
      const out: Array<Signal.Signal> = []
      const seen = new Set<string>()
      for (const { d, f } of findings) {
        const key = `${f.type}|${d.namespace}/${d.name}|${f.evidence["revision"]}`
        seen.add(key)
        if (active.has(key)) continue
        out.push({
          type: f.type,
          target: Targets.workload({ cluster: kube.clusterName, namespace: d.namespace, kind: "Deployment", name: d.name }),
          observedAt: now,
          source: name,
          evidence: { ...f.evidence }
        })
      }
      active.clear()
      for (const k of seen) active.add(k)
      return out
    })
  })
  }
}
