/**
 * k8s.crashloop.five-branch — "Detects CrashLoopBackOff and pod restart-loop incidents (10th
 * pager class). 5-branch classifier: config_error_missing_env, image_pull_failure,
 * liveness_probe_misconfigured, oom_at_startup, dependency_not_ready. Autonomous actions:
 * rollback bad image tag, bump memory limit 1.5×, loosen probe timing, hold pod and wait for
 * dependency healthcheck. Escalates on unknown classification or when guardrail ceilings are hit."
 *
 * - **Detect** (the shared pod watch, no polling): CrashLoopBackOff, ≥ 3 restarts in 10 min,
 *   ErrImagePull/ImagePullBackOff, CreateContainerConfigError. The Deployment, ReplicaSet and
 *   Event watches are held open so the probes read them from the cache.
 * - **Diagnose** (each fact fails alone): describe pod (`PodFacts`, the owner), the container's
 *   state, probes and env sources (`FiveBranch.containerFacts`), its Events, the redacted previous
 *   log, the Deployment's current-vs-previous revision diff, the node's allocatable memory, and the
 *   dependency of the log's last failed connection with its Service's ready EndpointSlice endpoints.
 * - **Classify**: `classifiers/fiveBranch.ts` (first match ≥ 0.70; kubelet/runtime reasons above
 *   log patterns).
 * - **Remediate**: `remediators/fiveBranch.ts`; guardrails live on the action kinds.
 * - **Verify**: `verifiers/fiveBranch.ts` (pods held Ready 2× their longest pre-crash run, ≥ 2 min;
 *   retry once at 15 s).
 *
 * Family `k8s.crashloop` (its default), precedence 30: with `k8s.oom.*` in the same Catalog, an
 * OOMKilled crash loop goes to the OOM family first.
 *
 * @since 0.3.0
 */
import { type ActionHandler, type ActionRegistry, type Check, Detector, Diagnoser, Fact, type Json, type Plan, Runbook, Settings } from "@byteport/core"
import { Config, type Duration, Effect, type Layer } from "effect"
import type { PodFacts } from "../classifiers/oom"
import * as FiveBranch from "../classifiers/fiveBranch"
import * as ConfigErrorDetector from "../detectors/configError"
import * as CrashLoopDetector from "../detectors/crashLoop"
import * as ImagePullDetector from "../detectors/imagePull"
import { PodSignalTypes } from "../detectors/podSignals"
import * as RestartLoopDetector from "../detectors/restarts"
import type { EventRecorder } from "../events/EventRecorder"
import * as NeverDeleteVolumes from "../guardrails/neverDeleteVolumes"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import type { Kube } from "../Kube"
import * as LoosenProbe from "../actions/loosenProbe"
import * as PatchMemoryLimit from "../actions/patchMemoryLimit"
import * as RestartPod from "../actions/restartPod"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import * as Dependency from "../probes/dependency"
import * as PodEvents from "../probes/events"
import * as LastDeploy from "../probes/lastDeploy"
import * as NodeProbe from "../probes/nodeFacts"
import * as PodProbe from "../probes/podFacts"
import * as PodLogs from "../probes/podLogs"
import type * as PodWire from "../probes/podWire"
import type * as Wire from "../probes/wire"
import * as Remediator from "../remediators/fiveBranch"
import * as Leases from "../targets/leases"
import * as Verifiers from "../verifiers/fiveBranch"
import * as Families from "./families"
import { subjectOf } from "./k8s.oom.six-signal"

/** The runbook id. */
export const ID = Families.Ids.crashloopFiveBranch

/** The signal types it answers. */
export const SIGNALS = [PodSignalTypes.crashLoopBackOff, PodSignalTypes.restartLoop, PodSignalTypes.imagePull, PodSignalTypes.configError] as const

/** Everything configurable. */
export interface Options {
  readonly thresholds?: FiveBranch.Thresholds | undefined
  readonly remediation?: Remediator.Remediation | undefined
  readonly verify?: Verifiers.VerifySettings | undefined
  /** Restart-loop detector settings (3 restarts in 10 min). */
  readonly restarts?: { readonly restarts: number; readonly windowMinutes: number } | undefined
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input | undefined
  /** Limit the watches to one namespace. */
  readonly namespace?: string | undefined
  /** The mode when BYTEPORT_MODE_K8S_CRASHLOOP_FIVE_BRANCH / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

/** What the live probes (or a recording) read, before the facts are derived. */
export interface Observed {
  readonly pod: PodWire.Pod
  readonly container: string
  readonly workload: PodFacts["workload"]
  readonly events: ReadonlyArray<PodEvents.PodEvent>
  readonly previousLog: Fact.Fact<PodLogs.PreviousLog>
  /** The Deployment and its namespace's ReplicaSets (undefined: not a Deployment). */
  readonly history?: { readonly deployment: LastDeploy.HistoryDeployment; readonly replicaSets: ReadonlyArray<LastDeploy.HistoryReplicaSet> } | undefined
  readonly node: Wire.Node | null
  readonly services: ReadonlyArray<Dependency.ServiceLike>
  readonly endpointSlices: ReadonlyArray<Dependency.EndpointSliceLike>
}

/**
 * The facts from what was observed (pure; the live diagnoser and the recorded fixtures both go
 * through it). An Unknown previous log makes the dependency Unknown too.
 */
export const factsFrom = (o: Observed): Fact.Facts<FiveBranch.FiveBranchFacts> => {
  const pod = PodProbe.podFactsFrom(o.pod, o.container, o.workload)
  const ns = pod.namespace
  const events = o.events.filter((e) => e.container === null || e.container === o.container)
  return {
    pod: Fact.known(pod),
    container: Fact.known(FiveBranch.containerFacts(o.pod, pod.container)),
    events: Fact.known(events),
    previousLog: o.previousLog,
    rollout: Fact.known(o.history ? LastDeploy.templateDiff(o.history.deployment, o.history.replicaSets) : null),
    node: Fact.known(o.node ? { allocatableMemoryBytes: NodeProbe.nodeFactsFrom(o.node).allocatableMemoryBytes } : null),
    dependency: o.previousLog._tag === "Known"
      ? Fact.known(((d) => (d ? Dependency.resolve(d, ns, o.services, o.endpointSlices) : null))(Dependency.fromLog(o.previousLog.value.lines)))
      : Fact.unknown("dependency", `needs the previous log: ${o.previousLog.reason}`)
  }
}

/** The k8s.crashloop.five-branch diagnoser (live). */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<FiveBranch.FiveBranchFacts, Kube> => {
  const timeout: Duration.Input = o.probeTimeout ?? "10 seconds"
  return Diagnoser.andThen(
    Diagnoser.make<Pick<FiveBranch.FiveBranchFacts, "pod" | "container">, Kube>({
      pod: Diagnoser.probe("describe pod", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.probe(s.namespace, s.pod, s.container))),
      container: Diagnoser.probe("container state", (signal) =>
        Effect.flatMap(subjectOf(signal), (s) => Effect.map(PodProbe.getPodWire(s.namespace, s.pod), (p) => FiveBranch.containerFacts(p, PodProbe.containerName(p, s.container)))))
    }, { timeout }),
    (first): Diagnoser.Diagnoser<Pick<FiveBranch.FiveBranchFacts, "previousLog" | "events" | "rollout" | "node" | "dependency">, Kube> => (signal) => {
      const pod = Fact.value(first.pod)
      const uid = Fact.value(first.container)?.uid
      const need = <A>(name: string, f: (p: PodFacts) => Effect.Effect<A, unknown, Kube>) =>
        Diagnoser.probe<A, Kube>(name, () => (pod ? f(pod) : Effect.fail(new Error("the pod is unknown"))))
      return Effect.gen(function*() {
        const previousLog = pod ? yield* PodLogs.previous(pod.namespace, pod.pod, pod.container) : Fact.unknown(PodLogs.PROBE, "the pod is unknown")
        const rest = yield* Diagnoser.make<Pick<FiveBranch.FiveBranchFacts, "events" | "rollout" | "node" | "dependency">, Kube>({
          events: need("pod events", (p) => Effect.map(PodEvents.forPod({ namespace: p.namespace, name: p.pod, uid }), (es) => es.filter((e) => e.container === null || e.container === p.container))),
          rollout: need("rollout history", (p) => (p.workload?.kind === "Deployment" ? LastDeploy.diffProbe(p.namespace, p.workload.name) : Effect.succeed(null))),
          node: need("describe node", (p) => (p.node ? Effect.map(NodeProbe.probe(p.node), (n) => ({ allocatableMemoryBytes: n.allocatableMemoryBytes })) : Effect.succeed(null))),
          dependency: need("dependency", (p) => (previousLog._tag === "Known" ? Dependency.probe(p.namespace, previousLog.value.lines) : Effect.fail(new Error(`needs the previous log: ${previousLog.reason}`))))
        }, { timeout })(signal)
        return { previousLog, ...rest }
      })
    }
  )
}

/** Suggested next steps. */
export const nextSteps = (c: { readonly _tag: string }, facts: Fact.Facts<FiveBranch.FiveBranchFacts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const steps: Array<string> = []
  if (c._tag !== "Classified") {
    steps.push(`inspect ${pod ? `${pod.namespace}/${pod.pod}` : "the pod"}: kubectl describe pod, kubectl logs --previous`)
    const unknown = Fact.unknownKeys(facts)
    if (unknown.length) steps.push(`the facts ${unknown.join(", ")} could not be read`)
  }
  return steps
}

/** The action handlers the plans use (register them with your others; `checks` too). */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [LoosenProbe.make(), RestartPod.make(), RollbackDeployment.make(), PatchMemoryLimit.make()]

/** The checks the plans reference (`k8s.dependencyHealthy`). */
export const checks = (): ReadonlyArray<Check.Check<Kube>> => [Dependency.check()]

/**
 * A registry of the handlers and checks, with `never_delete_persistent_volumes` and
 * `never_touch_bare_pod` in front of every handler (for tests and small agents).
 */
export const registry = (): Layer.Layer<ActionRegistry.ActionRegistry, never, Kube | EventRecorder> => NeverDeleteVolumes.registry<Kube | EventRecorder>({ handlers: handlers(), checks: checks(), guardrails: [Leases.neverTouchBarePod] })

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<FiveBranch.FiveBranchFacts, Kube> => {
  const thresholds = o.thresholds ?? FiveBranch.defaults
  const remediation = o.remediation ?? Remediator.defaults
  const verify = o.verify ?? Verifiers.defaults
  const detector = Detector.merge(ID, [
    CrashLoopDetector.make({ namespace: o.namespace, name: `${ID}.crash-loop` }),
    RestartLoopDetector.make({ namespace: o.namespace, name: `${ID}.restart-loop`, ...(o.restarts ?? {}) }),
    ImagePullDetector.make({ namespace: o.namespace, name: `${ID}.image-pull` }),
    ConfigErrorDetector.make({ namespace: o.namespace, name: `${ID}.config-error` }),
    K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events], { namespace: o.namespace })
  ])
  return Runbook.make<FiveBranch.FiveBranchFacts, Kube>({
    id: ID,
    family: Families.Family.crashloop,
    description: "Detects CrashLoopBackOff and restart loops; five classes: escalates missing env vars, rolls back bad images, loosens liveness probes, bumps memory ×1.5 at start-up, holds pods until their dependency is healthy",
    signals: [...SIGNALS],
    precedence: Families.precedenceOf(Families.Ids.crashloopFiveBranch),
    detector,
    diagnose: diagnose(o),
    classify: FiveBranch.classify(thresholds),
    remediate: (c, facts, signal) => Effect.sync((): Plan.Plan => Remediator.plan(c, facts, signal, remediation)),
    verify: {
      image_pull_failure: Verifiers.verifier("rollback", verify),
      liveness_probe_misconfigured: Verifiers.verifier("loosen", verify),
      oom_at_startup: Verifiers.verifier("bump", verify),
      dependency_not_ready: Verifiers.verifier("hold", verify)
    },
    verifySchedule: Verifiers.schedule,
    baseline: (facts): Json.JsonObject => ({
      memoryLimitBytes: Fact.value(facts.pod)?.memoryLimitBytes ?? null,
      ...Remediator.probeBaseline(Fact.value(facts.container))
    }),
    nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}

const conf = (key: string, dflt: number) => Settings.ratio(key).pipe(Config.withDefault(dflt))
const pos = (key: string, dflt: number) => Settings.positiveNumber(key).pipe(Config.withDefault(dflt))

/**
 * The runbook from configuration (`BYTEPORT_FIVE_BRANCH_*`): `MIN_CONFIDENCE` (0.70),
 * `OOM_STARTUP_SECONDS` (120), the confidences `CONFIDENCE_CONFIG_ERROR_KUBELET` (0.92),
 * `CONFIDENCE_IMAGE_PULL` (0.93), `CONFIDENCE_LIVENESS` (0.88), `CONFIDENCE_OOM_AT_STARTUP` (0.90),
 * `CONFIDENCE_CONFIG_ERROR_LOG` (0.82), `CONFIDENCE_DEPENDENCY_SERVICE` (0.80),
 * `CONFIDENCE_DEPENDENCY_EXTERNAL` (0.72), `BUMP_FACTOR` (1.5), `DEPENDENCY_WAIT_SECONDS` (600),
 * `DEPENDENCY_POLL_SECONDS` (15), `VERIFY_HOLD_FACTOR` (2), `VERIFY_MIN_HOLD_SECONDS` (120),
 * `VERIFY_SETTLE_SECONDS` (600), `VERIFY_POLL_SECONDS` (15). Invalid values are a ConfigError.
 * The mode is core's `BYTEPORT_MODE_K8S_CRASHLOOP_FIVE_BRANCH`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<FiveBranch.FiveBranchFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const d = FiveBranch.defaults
    const P = "BYTEPORT_FIVE_BRANCH_"
    return make({
      ...o,
      thresholds: {
        minConfidence: yield* conf(`${P}MIN_CONFIDENCE`, d.minConfidence),
        oomStartupSeconds: yield* pos(`${P}OOM_STARTUP_SECONDS`, d.oomStartupSeconds),
        confidence: {
          configErrorKubelet: yield* conf(`${P}CONFIDENCE_CONFIG_ERROR_KUBELET`, d.confidence.configErrorKubelet),
          imagePull: yield* conf(`${P}CONFIDENCE_IMAGE_PULL`, d.confidence.imagePull),
          liveness: yield* conf(`${P}CONFIDENCE_LIVENESS`, d.confidence.liveness),
          oomAtStartup: yield* conf(`${P}CONFIDENCE_OOM_AT_STARTUP`, d.confidence.oomAtStartup),
          configErrorLog: yield* conf(`${P}CONFIDENCE_CONFIG_ERROR_LOG`, d.confidence.configErrorLog),
          dependencyService: yield* conf(`${P}CONFIDENCE_DEPENDENCY_SERVICE`, d.confidence.dependencyService),
          dependencyExternal: yield* conf(`${P}CONFIDENCE_DEPENDENCY_EXTERNAL`, d.confidence.dependencyExternal)
        }
      },
      remediation: {
        bumpFactor: yield* Settings.factor(`${P}BUMP_FACTOR`).pipe(Config.withDefault(Remediator.defaults.bumpFactor)),
        dependencyWaitSeconds: yield* pos(`${P}DEPENDENCY_WAIT_SECONDS`, Remediator.defaults.dependencyWaitSeconds),
        dependencyPollSeconds: yield* pos(`${P}DEPENDENCY_POLL_SECONDS`, Remediator.defaults.dependencyPollSeconds)
      },
      verify: {
        holdFactor: yield* pos(`${P}VERIFY_HOLD_FACTOR`, Verifiers.defaults.holdFactor),
        minHoldSeconds: yield* pos(`${P}VERIFY_MIN_HOLD_SECONDS`, Verifiers.defaults.minHoldSeconds),
        settleSeconds: yield* pos(`${P}VERIFY_SETTLE_SECONDS`, Verifiers.defaults.settleSeconds),
        pollSeconds: yield* pos(`${P}VERIFY_POLL_SECONDS`, Verifiers.defaults.pollSeconds)
      }
    })
  })
