/**
 * k8s.oom.six-signal — "Detects OOMKilled pods and pod memory pressure across 6 signals,
 * classifies root cause across 5 classes … Max 1 limit bump per pod per 24h. Never auto-bumps on
 * genuine memory leaks — escalates with heap profile instead."
 *
 * - **Detect**: OOMKilled terminations (pod informer), node MemoryPressure (node informer),
 *   runtime OOM markers (non-OOMKilled terminations whose log tail shows a JVM/V8/Go/Python OOM,
 *   on the pod informer), restart growth of exit-137 kills without OOMKilled (escalated, never
 *   bumped), and optionally the metrics-server working set ≥ 90% (a poll, `workingSetRatio` /
 *   `BYTEPORT_OOM_WORKING_SET_RATIO`). The Prometheus trend is a probe. The
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
import { Clock, Config, ConfigProvider, Duration, Effect, Option, Stream } from "effect"
import * as OomClassifier from "../classifiers/oom"
import type { OomFacts, PodFacts } from "../classifiers/oom"
import * as MemoryPressure from "../detectors/memoryPressure"
import * as NodeGuards from "../guardrails/nodeGuards"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import * as OomKilled from "../detectors/oomKilled"
import * as RestartGrowth from "../detectors/restartGrowth"
import * as RuntimeOomMarker from "../detectors/runtimeOomMarker"
import * as WorkingSetHigh from "../detectors/workingSetHigh"
import { SignalTypes } from "../detectors/signals"
import { Kube } from "../Kube"
import { Metrics, type MetricsShape } from "../metrics/Metrics"
import type * as Prometheus from "../metrics/Prometheus"
import * as HpaProbe from "../probes/hpa"
import * as LastDeploy from "../probes/lastDeploy"
import * as MemoryTrend from "../probes/memoryTrend"
import * as NodeProbe from "../probes/nodeFacts"
import * as OomMarkers from "../probes/oomMarkers"
import * as OomObserved from "../probes/oomObserved"
import * as PodProbe from "../probes/podFacts"
import * as RuntimeHeap from "../probes/runtimeHeap"
import * as WorkingSet from "../probes/workingSet"
import * as Remediator from "../remediators/oom"
import * as Targets from "../targets/Targets"
import * as Quantity from "../Quantity"
import type * as Wire from "../probes/wire"
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

const qosOf = (p: Wire.Pod): string => {
  if (p.status?.qosClass) return p.status.qosClass
  const rs = p.spec.containers.map((c) => c.resources ?? {})
  if (rs.every((r) => Object.keys(r.limits ?? {}).length === 0 && Object.keys(r.requests ?? {}).length === 0)) return "BestEffort"
  const guaranteed = rs.every((r) => ["cpu", "memory"].every((k) => r.limits?.[k] !== undefined && (r.requests?.[k] === undefined || String(r.requests[k]) === String(r.limits[k]))))
  return guaranteed ? "Guaranteed" : "Burstable"
}
const QOS_RANK: Record<string, number> = { BestEffort: 0, Burstable: 1, Guaranteed: 2 }

/** Whether the kubelet evicted a pod under node pressure (reason Evicted, or a container 137 ContainerStatusUnknown). */
export const isPressureEviction = (p: Wire.Pod): boolean =>
  p.status?.reason === "Evicted" ||
  (p.status?.containerStatuses ?? []).some((cs) => {
    const t = cs.state?.terminated ?? cs.lastState?.terminated
    return t?.exitCode === 137 && t.reason === "ContainerStatusUnknown"
  })

/**
 * The subject of a node signal, from the node's pods (and their metrics-server working sets,
 * `ns/name` → bytes, when readable): the pod with the most recent OOMKilled termination; else the
 * kubelet's pressure evictions (reason Evicted, or a container 137 ContainerStatusUnknown),
 * BestEffort first, newest first; else the node's top memory consumers among running pods,
 * BestEffort first (the kubelet evicts them first), then by working set. Undefined: the node has
 * no pods.
 */
export const nodeSubject = (
  pods: ReadonlyArray<Wire.Pod>,
  usage: ReadonlyMap<string, number> = new Map()
): (Subject & { readonly why: string }) | undefined => {
  let best: { pod: Wire.Pod; container: string; at: number } | undefined
  for (const p of pods) {
    for (const cs of p.status?.containerStatuses ?? []) {
      const t = cs.lastState?.terminated ?? cs.state?.terminated
      if (t?.reason !== "OOMKilled") continue
      const at = t.finishedAt ? new Date(t.finishedAt).getTime() : 0
      if (!best || at > best.at) best = { pod: p, container: cs.name, at }
    }
  }
  const subject = (p: Wire.Pod, container: string | undefined, why: string) => ({ namespace: p.metadata.namespace ?? "default", pod: p.metadata.name, container, why })
  if (best) return subject(best.pod, best.container, "the most recent OOMKilled termination on the node")
  const created = (p: Wire.Pod) => (p.metadata.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : 0)
  const byQos = (a: Wire.Pod, b: Wire.Pod) => (QOS_RANK[qosOf(a)] ?? 3) - (QOS_RANK[qosOf(b)] ?? 3)
  const evicted = pods.filter(isPressureEviction).sort((a, b) => byQos(a, b) || created(b) - created(a))
  if (evicted[0]) {
    const p = evicted[0]
    const cs = (p.status?.containerStatuses ?? []).find((c) => (c.state?.terminated ?? c.lastState?.terminated)?.reason === "ContainerStatusUnknown")
    return subject(p, cs?.name ?? p.spec.containers[0]?.name, `a ${qosOf(p)} pod the kubelet evicted under node pressure`)
  }
  const used = (p: Wire.Pod) => usage.get(`${p.metadata.namespace ?? "default"}/${p.metadata.name}`) ?? -1
  const running = pods.filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed").sort((a, b) => byQos(a, b) || used(b) - used(a))
  const top = running[0]
  if (!top) return undefined
  return subject(top, undefined, `the node's top memory consumer (${qosOf(top)}${used(top) >= 0 ? `, ${used(top)} bytes` : ""})`)
}

/**
 * The pod a signal is about: the evidence's pod for pod signals; for a node signal, the pod
 * {@link nodeSubject} chooses among the node's pods (OOMKilled, pressure evictions, top consumers);
 * for core's `oom.observed` hand-off, the workload's pod with the latest OOMKilled termination.
 */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<Subject, Error, Kube> =>
  Effect.gen(function*() {
    if (OomObserved.is(signal)) return yield* OomObserved.subject(signal) // core's oom.observed hand-off: a workload container
    const ev = signal.evidence
    if (signal.target.kind === Targets.NODE) {
      const kube = yield* Kube
      const node = str(ev["node"]) ?? signal.target.ref.split("/").pop()!
      const pods = (yield* Informers.listOr(Resource.pods, { fieldSelector: `spec.nodeName=${node}` }, kube.listPods({ fieldSelector: `spec.nodeName=${node}` }))) as unknown as ReadonlyArray<Wire.Pod>
      let chosen = nodeSubject(pods)
      if (chosen && chosen.why.startsWith("the node's top memory consumer")) {
        // working sets rank the top consumers; metrics-server unreadable → QoS order alone
        const metrics = yield* kube.podMetrics().pipe(Effect.map((l) => l.items as unknown as ReadonlyArray<Wire.PodMetrics>), Effect.orElseSucceed(() => [] as ReadonlyArray<Wire.PodMetrics>))
        chosen = nodeSubject(pods, new Map(metrics.map((m) => [`${m.metadata.namespace ?? "default"}/${m.metadata.name}`, m.containers.reduce((a, c) => a + (Quantity.parse(c.usage.memory) ?? 0), 0)])))
      }
      if (!chosen) return yield* Effect.fail(new Error(`node ${node} has no pods to examine`))
      return { namespace: chosen.namespace, pod: chosen.pod, container: chosen.container }
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
 * crash-loop back-off between OOM kills), or when metrics-server cannot be read, the last value
 * Prometheus saw in the past 10 minutes. Unknown only when both fail.
 */
export const workingSetOrLast = (p: PodFacts, fromTrend?: Effect.Effect<ReadonlyArray<Prometheus.Series> | undefined>) =>
  Effect.gen(function*() {
    const fromServer = yield* Effect.result(WorkingSet.probe(p.namespace, p.pod, p.container))
    if (fromServer._tag === "Success" && fromServer.success.bytes !== null) return fromServer.success
    const end = yield* Clock.currentTimeMillis
    // the trend's first window already holds this pod's series: its last point in the past 10
    // minutes, without a range query of its own (issue 17 §3)
    const trendSeries = fromTrend ? yield* fromTrend : undefined
    if (trendSeries !== undefined) {
      const seen = trendSeries.filter((x) => x.labels["pod"] === p.pod).flatMap((x) => x.points).filter(([t]) => t >= end - 600_000 && t <= end).sort((a, b) => a[0] - b[0]).pop()
      if (seen) return { bytes: seen[1] }
    }
    const metrics = yield* Metrics
    const series = yield* metrics.memorySeries({ namespace: p.namespace, pod: p.pod, container: p.container }, { start: end - 600_000, end, step: Duration.seconds(15) })
    const last = series.flatMap((s) => s.points).sort((a, b) => a[0] - b[0]).pop()
    if (last) return { bytes: last[1] }
    if (fromServer._tag === "Failure") return yield* Effect.fail(fromServer.failure)
    return { bytes: null }
  })

/**
 * The workload the Prometheus trend is scoped to: the owner when it is a Deployment or
 * StatefulSet; when the owner fact is Unknown, the workload named by the pod's own metadata
 * (`PodProbe.workloadHint`); else the pod.
 */
const trendWorkload = (p: PodFacts, owner: Fact.Fact<PodFacts["workload"]> | undefined) =>
  Effect.gen(function*() {
    const w = owner?._tag === "Known" ? owner.value : p.workload
    if (w && (w.kind === "Deployment" || w.kind === "StatefulSet")) return w.name
    if (owner?._tag === "Unknown") {
      const hint = PodProbe.workloadHint(yield* PodProbe.getPodWire(p.namespace, p.pod))
      if (hint && (hint.kind === "Deployment" || hint.kind === "StatefulSet")) return hint.name
    }
    return p.pod
  })

/** The k8s.oom.six-signal diagnoser. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<OomFacts, Kube | Metrics> => {
  const timeout: Duration.Input = o.probeTimeout ?? "10 seconds"
  // the probe widens until growth spans the restarts the classifier's leak rule needs
  const trend = { ...(o.trend ?? MemoryTrend.defaults), leakMinRestarts: o.trend?.leakMinRestarts ?? o.thresholds?.leakMinRestarts ?? OomClassifier.defaults.leakMinRestarts }
  return Diagnoser.andThen(
    Diagnoser.make<{ pod: PodFacts; owner: PodFacts["workload"] }, Kube | Metrics>({
      // the pod and its owner are separate facts: one failing never hides the other
      pod: Diagnoser.probe("describe pod", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.probe(s.namespace, s.pod, s.container))),
      owner: Diagnoser.probe("owning workload", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.owner(s.namespace, s.pod)))
    }, { timeout }),
    (facts) => {
      const pod = Fact.value(facts.pod)
      const owner = facts.owner
      const needOwner = <A>(name: string, f: (pod: PodFacts, owner: PodFacts["workload"]) => Effect.Effect<A, unknown, Kube | Metrics>) =>
        Diagnoser.probe<A, Kube | Metrics>(name, () =>
          !pod ? Effect.fail(new Error("the pod is unknown")) : owner._tag === "Unknown" ? Effect.fail(new Error(`the owning workload is unknown: ${owner.reason}`)) : f(pod, owner.value))
      // the trend's first working-set answer, shared with the working-set fallback (one diagnosis)
      let resolveFirst: (series: ReadonlyArray<Prometheus.Series> | undefined) => void = () => {}
      const firstSeries = { promise: new Promise<ReadonlyArray<Prometheus.Series> | undefined>((r) => (resolveFirst = r)), resolve: (s: ReadonlyArray<Prometheus.Series> | undefined) => resolveFirst(s) }
      const sharing = (m: MetricsShape): MetricsShape => ({
        ...m,
        memorySeries: (sel, range) => Effect.tap(m.memorySeries(sel, range), (series) => Effect.sync(() => firstSeries.resolve(series)))
      })
      return Diagnoser.make<Omit<OomFacts, "pod" | "owner">, Kube | Metrics>({
        runtimeHeap: needPod("runtime heap hints", pod, (p) => Effect.succeed(RuntimeHeap.largest(RuntimeHeap.fromEnv(p.env)))),
        node: needPod("describe node", pod, (p) => (p.node ? NodeProbe.probe(p.node) : Effect.succeed(null))),
        workingSet: needPod("metrics-server working set", pod, (p) => workingSetOrLast(p, Effect.promise(() => firstSeries.promise))),
        trend: needPod("prometheus memory trend", pod, (p) =>
          Effect.flatMap(trendWorkload(p, owner), (workload) =>
            Effect.flatMap(Effect.service(Metrics), (m) =>
              MemoryTrend.probe({ namespace: p.namespace, workload, container: p.container, limitBytes: p.memoryLimitBytes }, trend).pipe(Effect.provideService(Metrics, sharing(m))))).pipe(
            Effect.ensuring(Effect.sync(() => firstSeries.resolve(undefined)))
          )),
        hpa: needOwner("hpa discovery", (p, w) => (w ? HpaProbe.probe(p.namespace, w) : Effect.succeed(null))),
        lastDeploy: needOwner("last deploy", (p, w) => LastDeploy.probe(p.namespace, w, o.regressionWindowMinutes ?? 30)),
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

/**
 * Restart growth, routed here only for kills the kubelet did not label: a restart whose last
 * termination is exit 137 without reason OOMKilled (a liveness or external SIGKILL, or an OOM
 * nobody named). The incident is diagnosed and, without memory evidence, stays Unclassified and
 * escalates — never a bump. OOMKilled restarts are the OOMKilled detector's; other exits with a
 * runtime OOM marker are the marker detector's; the rest belong to the crash-loop runbooks.
 */
export const unlabelledKills = (namespace?: string | undefined): Detector.Detector<never, Kube> => {
  const growth = RestartGrowth.make({ namespace, name: "k8s.oom.restart-growth" })
  return Detector.fromStream(growth.name, growth.signals.pipe(Stream.filter((x) => {
    const ev = (x as Signal.Signal).evidence
    return ev["exitCode"] === 137 && ev["reason"] !== "OOMKilled"
  })))
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<OomFacts, Kube | Metrics> => {
  const thresholds = o.thresholds ?? OomClassifier.defaults
  const remediation = o.remediation ?? Remediator.defaults
  const pressure = Remediator.pressureSettings(remediation)
  const detectors = [
    OomKilled.make({ namespace: o.namespace }),
    MemoryPressure.make(),
    RuntimeOomMarker.make({ namespace: o.namespace }),
    unlabelledKills(o.namespace),
    K8sDetector.holding("k8s.oom.six-signal.cache", [Resource.deployments, Resource.replicaSets, Resource.events], { namespace: o.namespace }),
    ...(o.workingSetRatio !== undefined ? [WorkingSetHigh.make({ namespace: o.namespace, ratio: o.workingSetRatio })] : [])
  ]
  const verifyBump = OomVerifiers.memoryBump(o.verify)
  return Runbook.make<OomFacts, Kube | Metrics>({
    id: ID,
    family: "k8s.oom",
    description: "Detects OOMKilled pods and pod memory pressure across 6 signals; bumps limits within bounds, scales out, drains pressured nodes, proposes heap fixes, escalates leaks with a heap profile",
    signals: [SignalTypes.oomKilled, SignalTypes.memoryPressure, SignalTypes.workingSetHigh, SignalTypes.runtimeOomMarker, SignalTypes.restartGrowth, SignalTypes.memoryTrend, OomObserved.TYPE],
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
    // node_pressure: cordon + drain + recovery + healthy delay before the uncordon + verification, with room to spare
    leaseTtl: Duration.seconds(Math.max(1800, pressure.drainTimeoutSeconds + pressure.recoveryTimeoutSeconds + pressure.healthyDelaySeconds + 1800)),
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
 * `BYTEPORT_OOM_DEPLOY_REGRESSION_MINUTES`, `BYTEPORT_NODE_HEALTHY_DELAY_SECONDS` /
 * `BYTEPORT_NODE_RECOVERY_TIMEOUT_SECONDS` (node_pressure's uncordon, `NodeGuards.fromConfig`), `BYTEPORT_OOM_WORKING_SET_RATIO` (turns the
 * metrics-server working-set poll on at that share of the limit). The mode is core's `BYTEPORT_MODE_K8S_OOM_SIX_SIGNAL`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<OomFacts, Kube | Metrics>, Config.ConfigError> =>
  Effect.gen(function*() {
    return make({
      ...o,
      thresholds: yield* OomClassifier.thresholdsConfig,
      remediation: {
        bumpFactor: yield* factorOf("BYTEPORT_OOM_BUMP_FACTOR", Remediator.defaults.bumpFactor),
        scaleOutFactor: yield* factorOf("BYTEPORT_OOM_SCALE_OUT_FACTOR", Remediator.defaults.scaleOutFactor),
        drainTimeoutSeconds: yield* num("BYTEPORT_OOM_DRAIN_TIMEOUT_SECONDS", Remediator.defaults.drainTimeoutSeconds),
        // node_pressure's uncordon: the node guardrails' healthy delay, recovery timeout and poll
        ...(yield* Effect.map(NodeGuards.fromConfig, (g) => ({ healthyDelaySeconds: g.healthyDelaySeconds, recoveryTimeoutSeconds: g.recoveryTimeoutSeconds, pollSeconds: g.pollSeconds })))
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
      workingSetRatio: o.workingSetRatio ?? Option.getOrUndefined(yield* Settings.ratio("BYTEPORT_OOM_WORKING_SET_RATIO").pipe(Config.option)),
      regressionWindowMinutes: yield* num("BYTEPORT_OOM_DEPLOY_REGRESSION_MINUTES", 30)
    })
  })
