/**
 * k8s.crashloop.seven-class — "Detects Kubernetes pods in CrashLoopBackOff and container restart
 * loops, classifies root cause across 7 failure classes (oom_at_startup / bad_image_or_tag /
 * failed_init_container / probe_misconfigured / missing_configmap_or_secret / app_panic_on_boot /
 * node_pressure_eviction), and autonomously remediates within hard guardrails — max 1
 * rollback/service/hour, max 1 resource bump/pod/day, never delete PersistentVolumes."
 *
 * - **Detect** (the shared pod watch; no polling): CrashLoopBackOff, ≥3 restarts in 10 min,
 *   ErrImagePull/ImagePullBackOff, CreateContainerConfigError, Init:* failures, Evicted; the
 *   Deployment, ReplicaSet and Event watches are held open so the probes read their caches.
 * - **Diagnose**: the pod (wire JSON), its Events, the redacted previous log, the owner, the
 *   Deployment's rollout history and last-good revision (`RolloutFacts.historyFacts`), the
 *   last-good revision's ConfigMaps/Secrets (existence only, never Secret data), BytePort's
 *   ConfigMap snapshot, the node's pressure conditions. Each fact fails alone (Unknown).
 * - **Classify**: `classifiers/sevenClass.ts` (seed order, a confidence per rule, < 0.70 escalates).
 * - **Remediate**: `remediators/sevenClass.ts`; guardrails live on the action kinds.
 * - **Verify**: `verifiers/sevenClass.ts`, held 120 s, retried once at 15 s.
 *
 * Family `k8s.crashloop`, precedence 31 (after five-branch; an OOM-killed pod goes to `k8s.oom`
 * first when both families are enabled). Default mode dry_run.
 *
 * @since 0.4.0
 */
import { type ActionHandler, type Classification, Detector, Diagnoser, Fact, Runbook, Settings, type Signal } from "@byteport/core"
import { Clock, Config, Duration, Effect, Option } from "effect"
import * as ConfigMapSnapshots from "../actions/configMapSnapshots"
import type * as HeapProfiler from "../actions/heapProfiler"
import * as LoosenProbe from "../actions/loosenProbe"
import * as OomActions from "../actions/oom"
import * as RestoreConfigMap from "../actions/restoreConfigMap"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import type * as EventRecorder from "../events/EventRecorder"
import * as SevenClass from "../classifiers/sevenClass"
import type { SevenClassFacts } from "../classifiers/sevenClass"
import * as CrashLoop from "../detectors/crashLoop"
import * as ConfigError from "../detectors/configError"
import * as Evicted from "../detectors/evicted"
import * as ImagePull from "../detectors/imagePull"
import * as InitFailure from "../detectors/initFailure"
import { PodSignalTypes } from "../detectors/podSignals"
import * as Restarts from "../detectors/restarts"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import { Kube } from "../Kube"
import * as PodEvents from "../probes/events"
import * as PodFacts from "../probes/podFacts"
import * as PodLogs from "../probes/podLogs"
import type * as PodWire from "../probes/podWire"
import * as RolloutFacts from "../probes/rolloutFacts"
import type * as RolloutLedger from "../probes/rolloutLedger"
import type * as Wire from "../probes/wire"
import * as Quantity from "../Quantity"
import * as Remediator from "../remediators/sevenClass"
import * as PodFixture from "../probes/podFixtureFacts"
import * as Targets from "../targets/Targets"
import * as SevenClassVerifier from "../verifiers/sevenClass"
import * as Families from "./families"

/** The runbook id. */
export const ID = Families.Ids.crashloopSevenClass

/** The signal types it answers. */
export const SIGNALS: ReadonlyArray<string> = [
  PodSignalTypes.crashLoopBackOff,
  PodSignalTypes.restartLoop,
  PodSignalTypes.imagePull,
  PodSignalTypes.configError,
  PodSignalTypes.initFailure,
  PodSignalTypes.evicted
]

/** Everything configurable. */
export interface Options {
  readonly thresholds?: SevenClass.Thresholds | undefined
  readonly remediation?: Remediator.Remediation | undefined
  readonly verify?: SevenClassVerifier.VerifySettings | undefined
  /** Limit the watches to one namespace. */
  readonly namespace?: string | undefined
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input | undefined
  /** Revisions BytePort saw fully Available (e.g. k8s.deploy.failed-rollout's ledger); else the ReplicaSet rule alone. */
  readonly ledger?: RolloutLedger.RolloutLedger | undefined
  /** The mode when BYTEPORT_MODE_K8S_CRASHLOOP_SEVEN_CLASS / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/** The pod and container a signal is about (evidence first, then the target's container). */
export const subjectOf = (signal: Signal.Signal): { readonly namespace: string; readonly pod: string; readonly container: string | undefined } | undefined => {
  const ev = signal.evidence
  const pod = str(ev["pod"])
  const namespace = str(ev["namespace"])
  if (!pod || !namespace) return undefined
  const t = Targets.parseSync(signal.target)
  return { namespace, pod, container: str(ev["container"]) ?? (t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? undefined : t.container) }
}

/** The ConfigMaps and Secrets a pod template references. */
export const objectRefs = (template: unknown): { readonly configMaps: ReadonlyArray<string>; readonly secrets: ReadonlyArray<string> } => {
  const spec = (template as { spec?: PodTemplateSpec } | undefined)?.spec
  const secrets = new Set<string>()
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name)
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) secrets.add(e.secretRef.name)
  }
  for (const v of spec?.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName)
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) secrets.add(s.secret.name)
  }
  return { configMaps: ConfigMapSnapshots.referencedBy(template as never), secrets: [...secrets].sort() }
}

interface PodTemplateSpec {
  readonly containers?: ReadonlyArray<ContainerRefs>
  readonly initContainers?: ReadonlyArray<ContainerRefs>
  readonly volumes?: ReadonlyArray<{ readonly secret?: { readonly secretName?: string }; readonly projected?: { readonly sources?: ReadonlyArray<{ readonly secret?: { readonly name?: string } }> } }>
}
interface ContainerRefs {
  readonly env?: ReadonlyArray<{ readonly valueFrom?: { readonly secretKeyRef?: { readonly name?: string } } }>
  readonly envFrom?: ReadonlyArray<{ readonly secretRef?: { readonly name?: string } }>
}

const PRESSURE = ["MemoryPressure", "DiskPressure", "PIDPressure"]

/** The objects a diagnosis reads besides the pod (each `undefined` when it could not be read). */
export interface Objects {
  readonly pod: PodWire.Pod
  readonly container: string
  readonly now: number
  readonly events: ReadonlyArray<PodEvents.PodEvent> | undefined
  readonly previousLog: Fact.Fact<PodLogs.PreviousLog>
  readonly owner: Fact.Fact<SevenClass.OwnerFacts | null>
  readonly rollout: Fact.Fact<RolloutFacts.RolloutObjects | null>
  readonly existing: Fact.Fact<ReadonlySet<string>>
  readonly snapshot: Fact.Fact<boolean>
  readonly node: Fact.Fact<SevenClass.NodeFacts | null>
  readonly seenAvailable?: ReadonlySet<number> | undefined
}

/**
 * The facts from what was read (pure: the live diagnoser and the recorded fixtures share it).
 * `existing` holds `ConfigMap/<name>` and `Secret/<name>` of the objects that exist.
 */
export const factsFrom = (o: Objects): Fact.Facts<SevenClassFacts> => {
  const base = PodFixture.factsOf({ pod: o.pod, meta: { container: o.container, now: o.now }, events: o.events, previousLog: undefined, nodes: undefined, replicaSets: undefined })
  const c = SevenClass.containerOf(o.pod, o.container)
  const limit = c?.resources?.limits?.["memory"]
  const history: Fact.Fact<RolloutFacts.HistoryFacts | null> = o.rollout._tag === "Unknown"
    ? o.rollout
    : Fact.known(o.rollout.value === null ? null : RolloutFacts.historyFacts(o.rollout.value.deployment, o.rollout.value.replicaSets, o.seenAvailable ?? new Set(), o.rollout.value.pods, o.now))
  const lastGoodObjects: Fact.Fact<SevenClass.ObjectRefs | null> = history._tag === "Unknown" ? history : (() => {
    const lg = history.value?.lastGood
    const r = Fact.value(o.rollout)
    if (!lg || !r) return Fact.known(null)
    if (o.existing._tag === "Unknown") return o.existing
    const refs = objectRefs(r.replicaSets.find((x) => x.metadata?.name === lg.replicaSet)?.spec?.template)
    const exists = o.existing.value
    return Fact.known({ ...refs, missing: [...refs.configMaps.map((n) => `ConfigMap/${n}`), ...refs.secrets.map((n) => `Secret/${n}`)].filter((k) => !exists.has(k)) })
  })()
  const eventsUnknown = o.events === undefined ? Fact.unknown("pod events", "the pod's Events could not be read") : undefined
  return {
    ...base,
    ...(eventsUnknown ? { events: eventsUnknown, probeFailures: eventsUnknown, scheduling: eventsUnknown } : {}),
    previousLog: o.previousLog,
    container: Fact.known(o.container),
    memoryLimitBytes: Fact.known(limit === undefined ? null : Quantity.parse(String(limit)) ?? null),
    owner: o.owner,
    history,
    lastGoodObjects,
    snapshot: o.snapshot,
    node: o.node
  }
}

const attempt = <A, E, R>(name: string, e: Effect.Effect<A, E, R>, timeout: Duration.Input): Effect.Effect<Fact.Fact<A>, never, R> =>
  Diagnoser.runProbe(Diagnoser.probe(name, () => e), undefined as never, timeout)

/** The k8s.crashloop.seven-class diagnoser. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<SevenClassFacts, Kube> => (signal) =>
  Effect.gen(function*() {
    const timeout = o.probeTimeout ?? "10 seconds"
    const subject = subjectOf(signal)
    const podFact = subject === undefined
      ? Fact.unknown("describe pod", "the signal names no pod (evidence.pod / evidence.namespace)")
      : yield* attempt("describe pod", Effect.map(PodFacts.getPodWire(subject.namespace, subject.pod), (p) => JSON.parse(JSON.stringify(p)) as PodWire.Pod), timeout)
    if (podFact._tag === "Unknown" || subject === undefined) {
      const u = podFact._tag === "Unknown" ? podFact : Fact.unknown("describe pod", "no pod")
      return { pod: u, container: u, termination: u, waiting: u, events: u, scheduling: u, probeFailures: u, configError: u, imagePull: u, previousLog: u, imageIds: u, memoryLimitBytes: u, owner: u, history: u, lastGoodObjects: u, snapshot: u, node: u } as Fact.Facts<SevenClassFacts>
    }
    const pod = podFact.value
    const ns = subject.namespace
    const container = subject.container ?? SevenClass.failedInit(pod)?.name ?? pod.spec.containers[0]?.name ?? ""
    const now = yield* Clock.currentTimeMillis
    const kube = yield* Kube
    const ownerOf = Effect.gen(function*() {
      const w = yield* PodFacts.ownerWorkload(pod as unknown as Wire.Pod)
      if (!w) return null
      const paused = w.kind === "Deployment" ? (yield* kube.getDeployment(ns, w.name)).spec?.paused === true : false
      return { kind: w.kind, name: w.name, namespace: ns, resourceVersion: w.resourceVersion, paused }
    })
    const [events, previousLog, owner, node] = yield* Effect.all([
      attempt("pod events", PodEvents.forPod({ namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid ?? undefined }), timeout),
      PodLogs.previous(ns, pod.metadata.name, container),
      attempt("owning workload", ownerOf, timeout),
      attempt("describe node", pod.spec.nodeName
        ? Effect.map(kube.getNode(pod.spec.nodeName), (n) => ({
          name: pod.spec.nodeName!,
          pressure: (n.status?.conditions ?? []).filter((c) => PRESSURE.includes(c.type) && c.status === "True").map((c) => c.type),
          allocatableMemoryBytes: Quantity.parse(n.status?.allocatable?.["memory"]) ?? null
        }))
        : Effect.succeed(null), timeout)
    ], { concurrency: "unbounded" })
    const w = Fact.value(owner)
    const rollout: Fact.Fact<RolloutFacts.RolloutObjects | null> = owner._tag === "Unknown"
      ? owner
      : w?.kind === "Deployment" ? yield* attempt("rollout history", RolloutFacts.readObjects(ns, w.name), timeout) : Fact.known(null)
    const existing = yield* attempt("referenced objects", Effect.gen(function*() {
      const r = Fact.value(rollout)
      const out = new Set<string>()
      if (!r) return out as ReadonlySet<string>
      const refs = r.replicaSets.map((x) => objectRefs(x.spec?.template))
      const cms = new Set(refs.flatMap((x) => x.configMaps))
      const secrets = new Set(refs.flatMap((x) => x.secrets))
      for (const n of cms) {
        const found = yield* kube.read(`get ConfigMap ${ns}/${n}`, (a) => a.core.readNamespacedConfigMap({ namespace: ns, name: n })).pipe(Effect.as(true), Effect.catchTag("KubeNotFound", () => Effect.succeed(false)))
        if (found) out.add(`ConfigMap/${n}`)
      }
      // existence only: the Secret's data is never kept
      for (const n of secrets) {
        const found = yield* kube.read(`get Secret ${ns}/${n}`, (a) => a.core.readNamespacedSecret({ namespace: ns, name: n })).pipe(Effect.as(true), Effect.catchTag("KubeNotFound", () => Effect.succeed(false)))
        if (found) out.add(`Secret/${n}`)
      }
      return out as ReadonlySet<string>
    }), timeout)
    const base = factsFrom({ pod, container, now, events: Fact.value(events), previousLog, owner, rollout, existing, snapshot: Fact.known(false), node, seenAvailable: w ? o.ledger?.seenAvailable(ns, w.name) : undefined })
    const ce = Fact.value(base.configError)
    const snaps = yield* Effect.serviceOption(ConfigMapSnapshots.ConfigMapSnapshots)
    const snapshot = ce?.kind !== "ConfigMap" || Option.isNone(snaps) || !snaps.value.enabled
      ? Fact.known(false)
      : yield* attempt("configmap snapshot", Effect.map(snaps.value.latest(ce.namespace ?? ns, ce.name), Option.isSome), timeout)
    return { ...base, snapshot }
  })

/** Suggested next steps. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<SevenClassFacts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const steps: Array<string> = []
  if (c._tag !== "Classified") {
    steps.push(`inspect ${pod ? `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}` : "the pod"}: kubectl describe pod, kubectl logs --previous`)
    const unknown = Fact.unknownKeys(facts)
    if (unknown.length) steps.push(`restore the probes that failed (${unknown.join(", ")}) so the next incident can be classified`)
  }
  const h = Fact.value(facts.history)
  if (h?.current && h.changes.length > 0) steps.push(`revision ${h.current.revision} (${h.current.changeCause ?? "no change cause"}) changed ${h.changes.slice(0, 5).map((x) => x.path).join(", ")}`)
  return steps
}

/**
 * The action handlers the runbook's plans use: the OOM kinds (the bump), the rollback (1 per
 * workload per hour), the probe loosening and the ConfigMap restore. Register them behind
 * `NeverDeleteVolumes.registry`.
 */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder | HeapProfiler.HeapProfiler | ConfigMapSnapshots.ConfigMapSnapshots>> => [
  ...OomActions.handlers(),
  RollbackDeployment.make(),
  LoosenProbe.make(),
  RestoreConfigMap.make()
]

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<SevenClassFacts, Kube> => {
  const ns = { namespace: o.namespace }
  const detector = Detector.merge(ID, [
    CrashLoop.make(ns),
    Restarts.make(ns),
    ImagePull.make(ns),
    ConfigError.make(ns),
    InitFailure.make(ns),
    Evicted.make(ns),
    K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events], ns)
  ])
  const remediation = o.remediation ?? Remediator.defaults
  return Runbook.make<SevenClassFacts, Kube>({
    id: ID,
    family: Families.Family.crashloop,
    description: "Detects pods in CrashLoopBackOff and container restart loops, classifies 7 failure classes; bumps memory, rolls back, loosens probes, restores ConfigMaps, hands node pressure off",
    signals: SIGNALS,
    precedence: Families.precedenceOf(ID),
    detector,
    diagnose: diagnose(o),
    classify: SevenClass.classify(o.thresholds ?? SevenClass.defaults),
    remediate: (c, facts, signal) => Effect.succeed(Remediator.plan(c, facts, signal, remediation)),
    verify: SevenClassVerifier.verify(o.verify),
    verifySchedule: SevenClassVerifier.schedule(o.verify),
    baseline: (facts) => {
      const pod = Fact.value(facts.pod)
      const c = pod ? SevenClass.containerOf(pod, Fact.value(facts.container) ?? "") : undefined
      const probe = c?.livenessProbe as { timeoutSeconds?: number; initialDelaySeconds?: number; periodSeconds?: number; failureThreshold?: number } | undefined
      return {
        memoryLimitBytes: Fact.value(facts.memoryLimitBytes) ?? null,
        livenessTimeoutSeconds: probe ? probe.timeoutSeconds ?? 1 : null,
        startupBudgetSeconds: probe ? (probe.initialDelaySeconds ?? 0) + (probe.failureThreshold ?? 3) * (probe.periodSeconds ?? 10) : null
      }
    },
    nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}

/**
 * The runbook from configuration: `BYTEPORT_SEVEN_CLASS_MIN_CONFIDENCE` (0.70),
 * `BYTEPORT_SEVEN_CLASS_STARTUP_SECONDS` (120), `BYTEPORT_SEVEN_CLASS_BUMP_FACTOR` (1.5),
 * `BYTEPORT_SEVEN_CLASS_IMAGE_CHANGE_MINUTES` (60), `BYTEPORT_SEVEN_CLASS_VERIFY_POLL_SECONDS` (30), `BYTEPORT_SEVEN_CLASS_MIN_READY_SECONDS`
 * (120), `BYTEPORT_SEVEN_CLASS_VERIFY_SETTLE_SECONDS` (300). The mode is core's `BYTEPORT_MODE_K8S_CRASHLOOP_SEVEN_CLASS`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<SevenClassFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const pos = (key: string, d: number) => Settings.positiveNumber(key).pipe(Config.withDefault(d))
    return make({
      ...o,
      thresholds: {
        minConfidence: yield* Settings.ratio("BYTEPORT_SEVEN_CLASS_MIN_CONFIDENCE").pipe(Config.withDefault(SevenClass.defaults.minConfidence)),
        startupSeconds: yield* pos("BYTEPORT_SEVEN_CLASS_STARTUP_SECONDS", SevenClass.defaults.startupSeconds)
      },
      remediation: {
        bumpFactor: yield* Settings.factor("BYTEPORT_SEVEN_CLASS_BUMP_FACTOR").pipe(Config.withDefault(Remediator.defaults.bumpFactor)),
        imageChangeMinutes: yield* pos("BYTEPORT_SEVEN_CLASS_IMAGE_CHANGE_MINUTES", Remediator.defaults.imageChangeMinutes)
      },
      verify: {
        pollSeconds: yield* pos("BYTEPORT_SEVEN_CLASS_VERIFY_POLL_SECONDS", SevenClassVerifier.defaults.pollSeconds),
        minReadySeconds: yield* pos("BYTEPORT_SEVEN_CLASS_MIN_READY_SECONDS", SevenClassVerifier.defaults.minReadySeconds),
        settleSeconds: yield* pos("BYTEPORT_SEVEN_CLASS_VERIFY_SETTLE_SECONDS", SevenClassVerifier.defaults.settleSeconds)
      }
    })
  })
