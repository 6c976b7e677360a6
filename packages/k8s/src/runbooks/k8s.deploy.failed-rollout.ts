/**
 * k8s.deploy.failed-rollout — "Detects failed Kubernetes deployments across 5 signals …,
 * classifies root cause with a false-attribution guard, and autonomously rolls back to the
 * last-known-good revision with a hard guardrail of max 1 rollback/deployment/hour. If the
 * rollback itself fails, escalates immediately with a full diagnostic bundle including the
 * suspect commit SHA."
 *
 * - **Detect** (`detectors/rollout.ts`): rollout_stuck, readiness_probe_failure_post_deploy,
 *   deploy_5xx_spike, deploy_health_regression, canary_slo_burn from one poll over the shared
 *   Deployment/ReplicaSet watches (+ per-revision Prometheus numbers for young rollouts and
 *   canaries); core's `deployment.regression` hand-off is routed here too.
 * - **Diagnose** (`probes/rolloutFacts.ts`; one read of the Deployment's objects shared by the
 *   probes, each probe timed out on its own, a failed probe an Unknown fact): Deployment state,
 *   rollout history with the last-good revision and the template diff, downstream Services,
 *   false-attribution Warnings, per-revision traffic, canary burn.
 * - **Classify** (`classifiers/rollout.ts`): the seed's order and confidences.
 * - **Remediate** (`remediators/rollout.ts`): one `k8s.rollbackDeployment` (the action kind holds
 *   the 1/hour budget, the `never` without a last-good revision and the paused refusal), or an
 *   escalation.
 * - **Verify** (`verifiers/rollout.ts`): held 5 minutes, retried once at 60 s.
 *
 * @since 0.3.0
 */
import { type Classification, Detector, Diagnoser, Fact, HandOffs, Runbook, Settings, type Signal } from "@byteport/core"
import { Clock, Config, ConfigProvider, type Duration, Effect } from "effect"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import * as RolloutClassifier from "../classifiers/rollout"
import * as RolloutDetector from "../detectors/rollout"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import type { Kube } from "../Kube"
import type { Metrics } from "../metrics/Metrics"
import * as RolloutFacts from "../probes/rolloutFacts"
import type { RolloutFacts as Facts } from "../probes/rolloutFacts"
import * as RolloutLedger from "../probes/rolloutLedger"
import * as Remediator from "../remediators/rollout"
import * as Targets from "../targets/Targets"
import * as RolloutVerifier from "../verifiers/rollout"

/** The runbook id. */
export const ID = "k8s.deploy.failed-rollout"

/** The family. */
export const FAMILY = "k8s.deploy"

/** The signal types it owns: the seed's 5 and core's deployment-regression hand-off. */
export const SIGNALS: ReadonlyArray<string> = [...Object.values(RolloutDetector.RolloutSignals), HandOffs.DeploymentRegression.type]

/** Everything configurable. */
export interface Options {
  readonly thresholds?: RolloutClassifier.RolloutThresholds | undefined
  readonly settings?: RolloutFacts.RolloutSettings | undefined
  readonly verify?: RolloutVerifier.VerifySettings | undefined
  /** What BytePort saw fully Available (default: a new ledger, fed by the detector). */
  readonly ledger?: RolloutLedger.RolloutLedger | undefined
  readonly detector?: Omit<RolloutDetector.Options, "settings"> | undefined
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input | undefined
  readonly namespace?: string | undefined
  /** The mode when BYTEPORT_MODE_K8S_DEPLOY_FAILED_ROLLOUT / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/** The Deployment a signal is about: the target's workload, else `evidence.namespace`/`evidence.deployment`. */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<{ readonly namespace: string; readonly name: string }, Error> => {
  const t = Targets.parseSync(signal.target)
  if (!(t instanceof Targets.InvalidTargetRef) && t._tag === "Workload") {
    if (t.kind !== "Deployment") return Effect.fail(new Error(`${ID} handles Deployments, not a ${t.kind}`))
    return Effect.succeed({ namespace: t.namespace, name: t.name })
  }
  const ns = str(signal.evidence["namespace"])
  const name = str(signal.evidence["deployment"])
  return ns && name ? Effect.succeed({ namespace: ns, name }) : Effect.fail(new Error("the signal names no Deployment (a k8s.workload target or evidence.namespace/deployment)"))
}

/** The diagnoser: one shared read of the Deployment's objects, then the probes, each timed out on its own. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<Facts, Kube | Metrics> => {
  const timeout: Duration.Input = o.probeTimeout ?? "10 seconds"
  const s = o.settings ?? RolloutFacts.defaults
  const ledger = o.ledger ?? RolloutLedger.make()
  return (signal) =>
    Effect.gen(function*() {
      const objects = yield* Effect.cached(Effect.flatMap(subjectOf(signal), (x) => RolloutFacts.readObjects(x.namespace, x.name)))
      const now = yield* Clock.currentTimeMillis
      const stage1 = yield* Diagnoser.make<Pick<Facts, "deployment" | "history" | "services">, Kube | Metrics>({
        deployment: Diagnoser.probe("describe deployment", () => Effect.map(objects, (x) => RolloutFacts.deploymentState(x.deployment))),
        history: Diagnoser.probe("rollout history", () =>
          Effect.map(objects, (x) => {
            ledger.observe(x.deployment as never)
            const st = RolloutFacts.deploymentState(x.deployment)
            return RolloutFacts.historyFacts(x.deployment, x.replicaSets, ledger.seenAvailable(st.namespace, st.name), x.pods, now)
          })),
        services: Diagnoser.probe("downstream services", () => Effect.map(objects, (x) => RolloutFacts.servicesFor(RolloutFacts.deploymentState(x.deployment), x.services)))
      }, { timeout })(signal)
      const history = Fact.value(stage1.history)
      const deployment = Fact.value(stage1.deployment)
      const services = Fact.value(stage1.services)
      const need = <A>(name: string, ok: boolean, f: () => Effect.Effect<A, unknown, Kube | Metrics>) =>
        Diagnoser.probe<A, Kube | Metrics>(name, () => (ok ? f() : Effect.fail(new Error("the Deployment or its rollout history is unknown"))))
      const stage2 = yield* Diagnoser.make<Pick<Facts, "attribution" | "traffic" | "canary">, Kube | Metrics>({
        attribution: need("false-attribution events", history !== undefined && services !== undefined && deployment !== undefined, () =>
          Effect.gen(function*() {
            const before = yield* RolloutFacts.errorRatioBeforeRollout(deployment!.namespace, history!, s)
            const x = yield* objects
            return RolloutFacts.attributionFacts(history!, services!, x.events, before, s)
          })),
        traffic: need("per-revision traffic", history !== undefined && deployment !== undefined, () => RolloutFacts.trafficProbe(deployment!.namespace, history!, s)),
        canary: need("canary burn", deployment !== undefined, () => RolloutFacts.canaryProbe(deployment!, s))
      }, { timeout })(signal)
      return { ...stage1, ...stage2 }
    })
}

/** Suggested next steps per classification. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<Facts>): ReadonlyArray<string> => {
  const h = Fact.value(facts.history)
  const d = Fact.value(facts.deployment)
  const steps: Array<string> = []
  if (h?.current) steps.push(`suspect commit ${h.sha} (revision ${h.current.revision}, ${h.current.changeCause ?? "no change cause"})`)
  if (c._tag !== "Classified") {
    steps.push(`inspect ${d ? `deployment/${d.name} -n ${d.namespace}` : "the Deployment"}: kubectl rollout status, kubectl rollout history, pod events, error and latency graphs`)
    if (Fact.unknownKeys(facts).length) steps.push(`restore the probes that failed (${Fact.unknownKeys(facts).join(", ")})`)
  } else if (c.class === "do_not_rollback") {
    steps.push("the regression began before the rollout: look at its dependencies and the Warning events that preceded it")
  } else if (h && !h.lastGood) {
    steps.push(`no rollback target: ${h.noLastGood ?? "none"}; roll forward with a fix or pick a revision by hand`)
  } else {
    steps.push("fix the suspect commit before rolling forward again")
  }
  return steps
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<Facts, Kube | Metrics> => {
  const ledger = o.ledger ?? RolloutLedger.make()
  const settings = o.settings ?? RolloutFacts.defaults
  const thresholds = o.thresholds ?? RolloutClassifier.defaults
  const verify = RolloutVerifier.rollback(o.verify)
  const detectors = [
    RolloutDetector.make(ledger, {
      ...o.detector,
      namespace: o.detector?.namespace ?? o.namespace,
      settings,
      readinessGraceSeconds: o.detector?.readinessGraceSeconds ?? thresholds.readinessGraceSeconds,
      minErrorRatio: o.detector?.minErrorRatio ?? thresholds.minErrorRatio,
      errorFactor: o.detector?.errorFactor ?? thresholds.errorFactor,
      p95Factor: o.detector?.p95Factor ?? thresholds.p95Factor,
      canaryBurnFactor: o.detector?.canaryBurnFactor ?? thresholds.canaryBurnFactor
    }),
    K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events, Resource.pods], { namespace: o.namespace })
  ]
  return Runbook.make<Facts, Kube | Metrics>({
    id: ID,
    family: FAMILY,
    description: "Detects failed Kubernetes rollouts across 5 signals; guards against false attribution; rolls back to the last-good revision (max 1 per deployment per hour); a failed rollback escalates at once",
    signals: SIGNALS,
    precedence: 30,
    detector: Detector.merge(ID, detectors),
    diagnose: diagnose({ ...o, ledger, settings }),
    classify: RolloutClassifier.classify(thresholds),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal)),
    verify: verify,
    verifySchedule: RolloutVerifier.schedule(o.verify),
    baseline: (facts) => {
      const h = Fact.value(facts.history)
      return { revision: h?.current?.revision ?? null, sha: h?.sha ?? null }
    },
    nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes",
    // read once at agent start-up: an invalid threshold is a ConfigError naming its key
    config: [RolloutClassifier.thresholdsConfig, RollbackDeployment.fromConfig]
  })
}

const num = (key: string, dflt: number) => Settings.positiveNumber(key).pipe(Config.withDefault(dflt))

/**
 * The runbook from configuration: the classifier's `BYTEPORT_ROLLOUT_*` thresholds (see
 * `classifiers/rollout.ts`), `BYTEPORT_ROLLOUT_FALSE_ATTRIBUTION_MINUTES` (5),
 * `BYTEPORT_ROLLOUT_BASELINE_MINUTES` (10), `BYTEPORT_ROLLOUT_WINDOW_MINUTES` (5),
 * `BYTEPORT_ROLLOUT_WATCH_MINUTES` (30), `BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS` (300),
 * `BYTEPORT_ROLLOUT_VERIFY_POLL_SECONDS` (30), `BYTEPORT_ROLLOUT_VERIFY_RETRY_SECONDS` (60). The
 * mode is core's `BYTEPORT_MODE_K8S_DEPLOY_FAILED_ROLLOUT`; the rollback budget is the action
 * kind's (`BYTEPORT_ROLLBACKS_PER_HOUR`).
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<Facts, Kube | Metrics>, Config.ConfigError> =>
  Effect.gen(function*() {
    const thresholds = yield* RolloutClassifier.thresholdsConfig
    const settings: RolloutFacts.RolloutSettings = {
      ...RolloutFacts.defaults,
      falseAttributionMinutes: yield* num("BYTEPORT_ROLLOUT_FALSE_ATTRIBUTION_MINUTES", RolloutFacts.defaults.falseAttributionMinutes),
      baselineMinutes: yield* num("BYTEPORT_ROLLOUT_BASELINE_MINUTES", RolloutFacts.defaults.baselineMinutes),
      windowMinutes: yield* num("BYTEPORT_ROLLOUT_WINDOW_MINUTES", RolloutFacts.defaults.windowMinutes),
      readinessGraceSeconds: thresholds.readinessGraceSeconds
    }
    const verify: RolloutVerifier.VerifySettings = {
      ...RolloutVerifier.defaults,
      windowSeconds: yield* num("BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS", RolloutVerifier.defaults.windowSeconds),
      pollSeconds: yield* num("BYTEPORT_ROLLOUT_VERIFY_POLL_SECONDS", RolloutVerifier.defaults.pollSeconds),
      retrySeconds: yield* num("BYTEPORT_ROLLOUT_VERIFY_RETRY_SECONDS", RolloutVerifier.defaults.retrySeconds),
      maxErrorRatio: thresholds.minErrorRatio,
      p95Factor: thresholds.p95Factor
    }
    if (verify.windowSeconds < verify.pollSeconds) {
      return yield* Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({
        message: `BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS (${verify.windowSeconds}) must be at least BYTEPORT_ROLLOUT_VERIFY_POLL_SECONDS (${verify.pollSeconds})`
      })))
    }
    return make({ ...o, thresholds, settings, verify, detector: { ...o.detector, watchMinutes: yield* num("BYTEPORT_ROLLOUT_WATCH_MINUTES", 30) } })
  })
