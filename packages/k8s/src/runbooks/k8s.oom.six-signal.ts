/**
 * k8s.oom.six-signal — "Detects OOMKilled pods and pod memory pressure across 6 signals,
 * classifies root cause across 5 classes … Max 1 limit bump per pod per 24h. Never auto-bumps on
 * genuine memory leaks — escalates with heap profile instead."
 *
 * - **Detect**: OOMKilled terminations (pod informer) and node MemoryPressure (node informer);
 *   optionally the metrics-server working set ≥ 90% (a poll). Restart growth, runtime OOM
 *   markers and the Prometheus trend are exported as their own detector/probes too. The
 *   informers are the cluster's shared watches (`Informers`); the detector also holds the
 *   Deployment, ReplicaSet and Event watches open so the probes read those from the cache.
 * - **Diagnose** (core Diagnoser, probes concurrent with timeouts; a failed probe is an Unknown
 *   fact): describe pod → PodFacts (secret-like env dropped); then node, metrics-server working
 *   set, previous-log OOM markers, runtime heap hints from env, HPA discovery, last deploy,
 *   Prometheus trend + RPS correlation.
 * - **Classify**: `classifiers/oom.ts` (the seed's first match; Prometheus unreachable →
 *   Indeterminate → escalate, never a bump).
 * - **Remediate**: `remediators/oom.ts`; the guardrails live on the action kinds (`actions/`).
 * - **Verify**: `verifiers/oom.ts`, the checks held for 5 minutes (polled every 30 s), then one
 *   retry window 15 s after a failing poll; core escalates a double failure.
 *
 * @since 0.1.0
 */
import { type Classification, Detector, Diagnoser, Fact, Runbook, Settings, type Signal } from "@byteport/core"
import { Clock, Config, ConfigProvider, Duration, Effect } from "effect"
import * as OomClassifier from "../classifiers/oom"
import type { OomFacts, PodFacts } from "../classifiers/oom"
import * as MemoryPressure from "../detectors/memoryPressure"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import * as OomKilled from "../detectors/oomKilled"
import * as WorkingSetHigh from "../detectors/workingSetHigh"
import { SignalTypes } from "../detectors/signals"
import { Kube } from "../Kube"
import { Metrics } from "../metrics/Metrics"
import * as HpaProbe from "../probes/hpa"
import * as LastDeploy from "../probes/lastDeploy"
import * as MemoryTrend from "../probes/memoryTrend"
import * as NodeProbe from "../probes/nodeFacts"
import * as OomMarkers from "../probes/oomMarkers"
import * as PodProbe from "../probes/podFacts"
import * as RuntimeHeap from "../probes/runtimeHeap"
import * as WorkingSet from "../probes/workingSet"
import * as Remediator from "../remediators/oom"
import * as Targets from "../targets/Targets"
import * as OomVerifiers from "../verifiers/oom"


/** The runbook id. */
export const ID = "k8s.oom.six-signal"

/** Everything configurable. */
export interface Options {
  readonly thresholds?: OomClassifier.OomThresholds
  readonly remediation?: Remediator.OomRemediation
  readonly trend?: MemoryTrend.TrendSettings
  readonly verify?: OomVerifiers.VerifySettings
  /** Deploys younger than this are regression candidates (minutes, default 30). */
  readonly regressionWindowMinutes?: number
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input
  /** Also poll metrics-server and signal at this share of the limit (off by default). */
  readonly workingSetRatio?: number
  /** Limit the informers to one namespace. */
  readonly namespace?: string
  /** The mode when BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The container an incident is about. */
interface Subject {
  readonly namespace: string
  readonly pod: string
  readonly container: string | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/**
 * The pod a signal is about: the evidence's pod for pod signals; for a node signal, the pod on
 * that node with the most recent OOMKilled termination.
 */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<Subject, Error, Kube> =>
  Effect.gen(function*() {
    const ev = signal.evidence
    if (signal.target.kind === Targets.NODE) {
      const kube = yield* Kube
      const node = str(ev["node"]) ?? signal.target.ref.split("/").pop()!
      const pods = yield* Informers.listOr(Resource.pods, { fieldSelector: `spec.nodeName=${node}` }, kube.listPods({ fieldSelector: `spec.nodeName=${node}` }))
      let best: { pod: string; namespace: string; container: string; at: number } | undefined
      for (const p of pods) {
        for (const cs of p.status?.containerStatuses ?? []) {
          const t = cs.lastState?.terminated ?? cs.state?.terminated
          if (t?.reason !== "OOMKilled") continue
          const at = t.finishedAt ? new Date(t.finishedAt).getTime() : 0
          if (!best || at > best.at) best = { pod: p.metadata?.name ?? "", namespace: p.metadata?.namespace ?? "default", container: cs.name, at }
        }
      }
      if (!best) return yield* Effect.fail(new Error(`no OOM-killed pod on node ${node}`))
      return { namespace: best.namespace, pod: best.pod, container: best.container }
    }
    const pod = str(ev["pod"])
    const namespace = str(ev["namespace"])
    if (!pod || !namespace) return yield* Effect.fail(new Error("the signal names no pod (evidence.pod / evidence.namespace)"))
    const w = Targets.parseSync(signal.target)
    const container = str(ev["container"]) ?? (w._tag === "Workload" ? w.container : undefined)
    return { namespace, pod, container }
  })

const needPod = <A>(name: string, pod: PodFacts | undefined, f: (pod: PodFacts) => Effect.Effect<A, unknown, Kube | Metrics>) =>
  Diagnoser.probe<A, Kube | Metrics>(name, () => (pod ? f(pod) : Effect.fail(new Error("the pod is unknown"))))

/**
 * The working set from metrics-server; for a container metrics-server has no sample of (in
 * crash-loop back-off between OOM kills), the last value Prometheus saw in the past 10 minutes.
 */
export const workingSetOrLast = (p: PodFacts) =>
  Effect.gen(function*() {
    const ws = yield* WorkingSet.probe(p.namespace, p.pod, p.container)
    if (ws.bytes !== null) return ws
    const metrics = yield* Metrics
    const end = yield* Clock.currentTimeMillis
    const series = yield* metrics.memorySeries({ namespace: p.namespace, pod: p.pod, container: p.container }, { start: end - 600_000, end, step: Duration.seconds(15) })
    const last = series.flatMap((s) => s.points).sort((a, b) => a[0] - b[0]).pop()
    return { bytes: last ? last[1] : null }
  })

/** The k8s.oom.six-signal diagnoser. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<OomFacts, Kube | Metrics> => {
  const timeout: Duration.Input = o.probeTimeout ?? "10 seconds"
  const trend = o.trend ?? MemoryTrend.defaults
  return Diagnoser.andThen(
    Diagnoser.make<{ pod: PodFacts }, Kube | Metrics>({
      pod: Diagnoser.probe("describe pod", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.probe(s.namespace, s.pod, s.container)))
    }, { timeout }),
    (facts) => {
      const pod = Fact.value(facts.pod)
      return Diagnoser.make<Omit<OomFacts, "pod">, Kube | Metrics>({
        runtimeHeap: needPod("runtime heap hints", pod, (p) => Effect.succeed(RuntimeHeap.largest(RuntimeHeap.fromEnv(p.env)))),
        node: needPod("describe node", pod, (p) => (p.node ? NodeProbe.probe(p.node) : Effect.succeed(null))),
        workingSet: needPod("metrics-server working set", pod, (p) => workingSetOrLast(p)),
        trend: needPod("prometheus memory trend", pod, (p) =>
          MemoryTrend.probe({ namespace: p.namespace, workload: p.workload?.kind === "Deployment" || p.workload?.kind === "StatefulSet" ? p.workload.name : p.pod, container: p.container, limitBytes: p.memoryLimitBytes }, trend)),
        hpa: needPod("hpa discovery", pod, (p) => (p.workload ? HpaProbe.probe(p.namespace, p.workload) : Effect.succeed(null))),
        lastDeploy: needPod("last deploy", pod, (p) => LastDeploy.probe(p.namespace, p.workload, o.regressionWindowMinutes ?? 30)),
        oomMarkers: needPod("previous-log OOM markers", pod, (p) => OomMarkers.probe(p.namespace, p.pod, p.container))
      }, { timeout })
    }
  )
}

/** Suggested next steps per classification. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<OomFacts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const deploy = Fact.value(facts.lastDeploy)
  const steps: Array<string> = []
  if (deploy?.regressionCandidate) steps.push(`revision ${deploy.revision} was deployed ${deploy.minutesAgo} min ago (${deploy.changeCause ?? "no change cause"}): check it as a regression`)
  if (c._tag !== "Classified") {
    steps.push(`inspect ${pod ? `${pod.namespace}/${pod.pod}` : "the pod"}: kubectl describe pod, previous logs, memory graphs`)
    if (Fact.unknownKeys(facts).length) steps.push(`restore the probes that failed (${Fact.unknownKeys(facts).join(", ")}) so the next incident can be classified`)
  } else if (c.class === "genuine_memory_leak") {
    steps.push("find the growing allocation in the heap profile; a bigger limit only delays the next OOM")
  } else if (c.class === "runtime_misconfig") {
    steps.push("review and merge the proposed heap setting")
  }
  return steps
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<OomFacts, Kube | Metrics> => {
  const thresholds = o.thresholds ?? OomClassifier.defaults
  const remediation = o.remediation ?? Remediator.defaults
  const detectors = [
    OomKilled.make({ namespace: o.namespace }),
    MemoryPressure.make(),
    K8sDetector.holding("k8s.oom.six-signal.cache", [Resource.deployments, Resource.replicaSets, Resource.events], { namespace: o.namespace }),
    ...(o.workingSetRatio !== undefined ? [WorkingSetHigh.make({ namespace: o.namespace, ratio: o.workingSetRatio })] : [])
  ]
  const verifyBump = OomVerifiers.memoryBump(o.verify)
  return Runbook.make<OomFacts, Kube | Metrics>({
    id: ID,
    family: "k8s.oom",
    description: "Detects OOMKilled pods and pod memory pressure across 6 signals; bumps limits within bounds, scales out, drains pressured nodes, proposes heap fixes, escalates leaks with a heap profile",
    signals: [SignalTypes.oomKilled, SignalTypes.memoryPressure, SignalTypes.workingSetHigh, SignalTypes.runtimeOomMarker, SignalTypes.memoryTrend],
    precedence: 10,
    detector: Detector.merge("k8s.oom.six-signal", detectors),
    diagnose: diagnose(o),
    classify: OomClassifier.classify(thresholds),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal, remediation)),
    verify: {
      undersized_limit: verifyBump,
      traffic_spike: OomVerifiers.forApplied(o.verify),
      node_pressure: OomVerifiers.drain()
    },
    verifySchedule: OomVerifiers.schedule(o.verify),
    baseline: (facts) => ({ memoryLimitBytes: Fact.value(facts.pod)?.memoryLimitBytes ?? null }),
    nextSteps,
    ticket: (c) => c._tag === "Classified" && c.class === "genuine_memory_leak",
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}

const num = (key: string, dflt: number) => Settings.positiveNumber(key).pipe(Config.withDefault(dflt))
const factorOf = (key: string, dflt: number) => Settings.factor(key).pipe(Config.withDefault(dflt))
const ratioOf = (key: string, dflt: number) => Settings.ratio(key).pipe(Config.withDefault(dflt))
const positiveInt = (key: string, dflt: number) => Settings.positiveInt(key).pipe(Config.withDefault(dflt))

/**
 * The verification settings from configuration: `BYTEPORT_OOM_VERIFY_WORKING_SET_RATIO` (0.80),
 * `BYTEPORT_OOM_VERIFY_WINDOW_SECONDS` (300) and `BYTEPORT_OOM_VERIFY_POLL_SECONDS` (30), both
 * positive integers, the window at least one poll interval; anything else is a ConfigError.
 */
export const verifyConfig: Effect.Effect<OomVerifiers.VerifySettings, Config.ConfigError> = Effect.gen(function*() {
  const healthyRatio = yield* ratioOf("BYTEPORT_OOM_VERIFY_WORKING_SET_RATIO", OomVerifiers.defaults.healthyRatio)
  const windowSeconds = yield* positiveInt("BYTEPORT_OOM_VERIFY_WINDOW_SECONDS", OomVerifiers.defaults.windowSeconds!)
  const pollSeconds = yield* positiveInt("BYTEPORT_OOM_VERIFY_POLL_SECONDS", OomVerifiers.defaults.pollSeconds!)
  if (windowSeconds < pollSeconds) {
    return yield* Effect.fail(
      new Config.ConfigError(
        new ConfigProvider.SourceError({
          message: `BYTEPORT_OOM_VERIFY_WINDOW_SECONDS (${windowSeconds}) must be at least BYTEPORT_OOM_VERIFY_POLL_SECONDS (${pollSeconds})`
        })
      )
    )
  }
  return { healthyRatio, windowSeconds, pollSeconds }
})

/**
 * The runbook from configuration: classifier thresholds (`BYTEPORT_OOM_*`, see
 * `classifiers/oom.ts`), `BYTEPORT_OOM_BUMP_FACTOR`, `BYTEPORT_OOM_SCALE_OUT_FACTOR`,
 * `BYTEPORT_OOM_DRAIN_TIMEOUT_SECONDS`, `BYTEPORT_OOM_TREND_LOOKBACK_MINUTES`,
 * `BYTEPORT_OOM_WARMUP_SECONDS`, `BYTEPORT_OOM_TREND_MAX_LOOKBACK_MINUTES`, `BYTEPORT_OOM_TREND_SIGNIFICANCE_Z`, `BYTEPORT_OOM_TREND_MIN_RISE`, `BYTEPORT_OOM_VERIFY_WORKING_SET_RATIO`,
 * `BYTEPORT_OOM_VERIFY_WINDOW_SECONDS`, `BYTEPORT_OOM_VERIFY_POLL_SECONDS` (see {@link verifyConfig}),
 * `BYTEPORT_OOM_DEPLOY_REGRESSION_MINUTES`. The mode is core's `BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<OomFacts, Kube | Metrics>, Config.ConfigError> =>
  Effect.gen(function*() {
    return make({
      ...o,
      thresholds: yield* OomClassifier.thresholdsConfig,
      remediation: {
        bumpFactor: yield* factorOf("BYTEPORT_OOM_BUMP_FACTOR", Remediator.defaults.bumpFactor),
        scaleOutFactor: yield* factorOf("BYTEPORT_OOM_SCALE_OUT_FACTOR", Remediator.defaults.scaleOutFactor),
        drainTimeoutSeconds: yield* num("BYTEPORT_OOM_DRAIN_TIMEOUT_SECONDS", Remediator.defaults.drainTimeoutSeconds)
      },
      trend: {
        lookbackMinutes: yield* num("BYTEPORT_OOM_TREND_LOOKBACK_MINUTES", MemoryTrend.defaults.lookbackMinutes),
        warmupSeconds: yield* Settings.nonNegativeNumber("BYTEPORT_OOM_WARMUP_SECONDS").pipe(Config.withDefault(MemoryTrend.defaults.warmupSeconds)),
        stepSeconds: MemoryTrend.defaults.stepSeconds,
        maxLookbackMinutes: yield* num("BYTEPORT_OOM_TREND_MAX_LOOKBACK_MINUTES", MemoryTrend.defaults.maxLookbackMinutes!),
        significanceZ: yield* num("BYTEPORT_OOM_TREND_SIGNIFICANCE_Z", MemoryTrend.defaults.significanceZ!),
        minRiseRatio: yield* ratioOf("BYTEPORT_OOM_TREND_MIN_RISE", MemoryTrend.defaults.minRiseRatio!)
      },
      verify: yield* verifyConfig,
      regressionWindowMinutes: yield* num("BYTEPORT_OOM_DEPLOY_REGRESSION_MINUTES", 30)
    })
  })
