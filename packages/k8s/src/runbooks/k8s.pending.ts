/**
 * k8s.pending — "Detects Kubernetes pods stuck in Pending state due to unschedulable conditions —
 * resource exhaustion, storage constraints, affinity conflicts, or missing dependencies — and
 * applies emergency scheduling workarounds where viable."
 *
 * - **Detect**: `PendingDetector` (unscheduled ≥ 5 min; gated, nominated, autoscaler-awaited and
 *   surge pods ignored) and `StuckCreatingDetector` (bound but stuck in ContainerCreating ≥ 5 min),
 *   on the shared pod watch; the Deployment, ReplicaSet and Event watches are held open.
 * - **Diagnose**: one read of the pod, its Events, the nodes and every bound pod (their requests),
 *   the pod's claims and the ConfigMaps/Secrets it references (existence only), the Deployment
 *   and its ReplicaSets; then the pure `PendingClassifier.factsFrom` with BytePort's own fit check.
 * - **Classify**: `PendingClassifier` (a class matches only when its reasons exclude every
 *   candidate node; cordoned and NotReady nodes are no candidates).
 * - **Remediate**: restore a deleted ConfigMap from BytePort's snapshot, roll back a template whose
 *   placement fields broke scheduling; anything else is a ChangeProposal.
 * - **Verify** (held `windowSeconds` 120 s, polled every `pollSeconds` 30 s, retried once 15 s after
 *   a failing poll): rollback → the Deployment rolled out (observedGeneration, readyReplicas ==
 *   replicas) and none of its pods Pending; restore → the ConfigMap exists and the workload's pods
 *   started, Ready, their restart counts stable through the window.
 *
 * @since 0.3.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Detector, type Diagnoser, Fact, Runbook, Settings, type Signal, type Verdict, Verifier } from "@byteport/core"
import { Config, ConfigProvider, Duration, Effect, Option } from "effect"
import * as RestoreConfigMap from "../actions/restoreConfigMap"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import * as PendingClassifier from "../classifiers/pending"
import type { PendingFacts } from "../classifiers/pending"
import * as PendingDetector from "../detectors/pending"
import { PodSignalTypes } from "../detectors/podSignals"
import * as StuckCreating from "../detectors/stuckCreating"
import * as Informers from "../informers/Informers"
import * as K8sDetector from "../informers/K8sDetector"
import * as Resource from "../informers/Resource"
import { Kube } from "../Kube"
import * as Families from "./families"
import type { KubeError } from "../KubeError"
import * as PodEvents from "../probes/events"
import type * as Fit from "../probes/fit"
import * as Targets from "../targets/Targets"

/** The runbook id. */
export const ID = PendingClassifier.ID

/** The family. */
export const FAMILY = Families.Family.pending

/** Verification settings. */
export interface VerifySettings {
  /** Hold the checks this long (seconds, default 120: a pod counts only when Ready ≥ 2 min). */
  readonly windowSeconds: number
  /** Poll this often within the window (seconds, default 30). */
  readonly pollSeconds: number
}

/** The defaults. */
export const verifyDefaults: VerifySettings = { windowSeconds: 120, pollSeconds: 30 }

/** Everything configurable. */
export interface Options {
  readonly namespace?: string | undefined
  /** Minutes Pending before a signal (default 5, inclusive; `BYTEPORT_PENDING_MINUTES`). */
  readonly pendingMinutes?: number | undefined
  readonly confidences?: Readonly<Record<string, number>> | undefined
  readonly verify?: VerifySettings | undefined
  /** Read timeout of the diagnosis (default 10 s). */
  readonly probeTimeout?: Duration.Input | undefined
  /** Detector options (check interval, autoscaler grace). */
  readonly detector?: Pick<PendingDetector.Options, "checkInterval" | "autoscalerGraceMinutes"> | undefined
  /** The mode when BYTEPORT_MODE_K8S_PENDING / BYTEPORT_MODE say nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto" | undefined
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)

/** Whether an object exists; one BytePort may not read is never reported missing (403 → true). */
const exists = (e: Effect.Effect<unknown, KubeError, Kube>): Effect.Effect<boolean, KubeError, Kube> =>
  e.pipe(Effect.as(true), Effect.catchTag("KubeNotFound", () => Effect.succeed(false)), Effect.catchTag("KubeForbidden", () => Effect.succeed(true)))

/** Reads everything the facts are computed from. */
export const readObjects = (namespace: string, name: string): Effect.Effect<PendingClassifier.Objects, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const pod = Resource.toWire(Resource.pods, yield* Informers.getOr(Resource.pods, namespace, name, kube.getPod(namespace, name))) as V1Pod
    const events = yield* PodEvents.forPod({ namespace, name, uid: pod.metadata?.uid })
    const nodes = (yield* Informers.listOr(Resource.nodes, {}, kube.listNodes())).map((n) => Resource.toWire(Resource.nodes, n) as unknown as Fit.FitNode)
    const pods = (yield* Informers.listOr(Resource.pods, {}, kube.listPods())).filter((p) => p.spec?.nodeName).map((p) => Resource.toWire(Resource.pods, p))
    const claimsNeeded = (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim)
    const claims = claimsNeeded ? (yield* kube.read(`list PersistentVolumeClaims in ${namespace}`, (a) => a.core.listNamespacedPersistentVolumeClaim({ namespace }))).items : []
    const refs = PendingClassifier.referenced(pod.spec)
    const configMaps: Array<string> = []
    const secrets: Array<string> = []
    for (const r of refs) {
      // existence only: a Secret's data is never kept
      if (r.kind === "ConfigMap" && (yield* exists(kube.read(`get ConfigMap ${namespace}/${r.name}`, (a) => a.core.readNamespacedConfigMap({ namespace, name: r.name }))))) configMaps.push(r.name)
      if (r.kind === "Secret" && (yield* exists(kube.read(`get Secret ${namespace}/${r.name}`, (a) => a.core.readNamespacedSecret({ namespace, name: r.name }).then((s) => s.metadata?.name))))) secrets.push(r.name)
    }
    const rss = (yield* Informers.listOr(Resource.replicaSets, { namespace }, kube.listReplicaSets({ namespace }))).map((r) => Resource.toWire(Resource.replicaSets, r))
    const rsName = pod.metadata?.ownerReferences?.find((o) => o.controller === true && o.kind === "ReplicaSet")?.name
    const depName = rss.find((r) => r.metadata?.name === rsName)?.metadata?.ownerReferences?.find((o) => o.kind === "Deployment")?.name
    const deployment = depName
      ? yield* Informers.getOr(Resource.deployments, namespace, depName, kube.getDeployment(namespace, depName)).pipe(
        Effect.map((d) => Resource.toWire(Resource.deployments, d) as unknown),
        Effect.orElseSucceed(() => null)
      )
      : null
    return { pod, events, nodes, pods, claims, configMaps, secrets, deployment, replicaSets: rss }
  })

const allUnknown = (reason: string): Fact.Facts<PendingFacts> => {
  const u = Fact.unknown("describe pod", reason)
  return { pod: u, scheduling: u, fits: u, storage: u, dependencies: u, template: u }
}

/** The diagnoser: one read (timed out as a whole), then the pure facts. */
export const diagnose = (o: Options = {}): Diagnoser.Diagnoser<PendingFacts, Kube> => (signal) =>
  Effect.gen(function*() {
    const ns = str(signal.evidence["namespace"])
    const pod = str(signal.evidence["pod"])
    if (!ns || !pod) return allUnknown("the signal names no pod (evidence.namespace/pod)")
    const timeout = o.probeTimeout ?? Duration.seconds(10)
    const read = yield* Effect.result(readObjects(ns, pod).pipe(Effect.timeoutOption(timeout)))
    if (read._tag === "Failure") return allUnknown(read.failure.message)
    if (Option.isNone(read.success)) return allUnknown(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))}`)
    return PendingClassifier.factsFrom(read.success.value)
  })

const isReady = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

const workloadOf = (signal: Signal.Signal) => {
  const t = Targets.parseSync(signal.target)
  return t instanceof Targets.InvalidTargetRef || t._tag !== "Workload" ? undefined : t
}

const podsOfDeployment = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const rss = yield* kube.listReplicaSets({ namespace })
    const mine = new Set(rss.filter((r) => r.metadata?.ownerReferences?.some((o) => o.kind === "Deployment" && o.name === name)).map((r) => r.metadata?.name))
    const pods = yield* kube.listPods({ namespace })
    return pods.filter((p) => !p.metadata?.deletionTimestamp && p.metadata?.ownerReferences?.some((o) => o.kind === "ReplicaSet" && mine.has(o.name)))
  })

/** Verifies a rollback: rolled out, readyReplicas == replicas, no pod of the Deployment Pending. */
export const verifyRollback = (): Verifier.Verifier<PendingFacts, Kube> =>
  Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const w = workloadOf(ctx.signal)
      if (!w) return [{ name: "workload", ok: false, detail: `not a workload target: ${ctx.signal.target.ref}` }]
      const kube = yield* Kube
      const d = yield* kube.getDeployment(w.namespace, w.name)
      const want = d.spec?.replicas ?? 1
      const pods = yield* podsOfDeployment(w.namespace, w.name)
      const pending = pods.filter((p) => p.status?.phase === "Pending")
      const checks: Array<Verdict.CheckResult> = [
        { name: "rolled out", ok: (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && (d.status?.updatedReplicas ?? 0) === want, detail: `observedGeneration ${d.status?.observedGeneration ?? 0}/${d.metadata?.generation ?? 0}, updated ${d.status?.updatedReplicas ?? 0}/${want}` },
        { name: "readyReplicas == replicas", ok: (d.status?.readyReplicas ?? 0) === want, detail: `${d.status?.readyReplicas ?? 0}/${want} ready` },
        { name: "no pod Pending", ok: pending.length === 0, detail: pending.length === 0 ? "none" : pending.map((p) => p.metadata?.name).join(", ") }
      ]
      return checks
    })
  )

/** Verifies a restore: the ConfigMap exists, the workload's pods started and Ready, restart counts stable through the window. */
export const verifyRestore = (): Verifier.Verifier<PendingFacts, Kube> => {
  const firstSeen = new Map<string, Map<string, number>>()
  return Verifier.fromChecks((ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const restored = ctx.applied.filter((a) => a.kind === RestoreConfigMap.KIND).map((a) => ({ namespace: String(a.params["namespace"]), name: String(a.params["name"]) }))
      const checks: Array<Verdict.CheckResult> = []
      for (const r of restored) {
        const ok = yield* exists(kube.read(`get ConfigMap ${r.namespace}/${r.name}`, (a) => a.core.readNamespacedConfigMap({ namespace: r.namespace, name: r.name })))
        checks.push({ name: `ConfigMap ${r.name} exists`, ok, detail: ok ? "present" : "missing" })
      }
      const w = workloadOf(ctx.signal)
      const pods = w && w.kind === "Deployment" ? yield* podsOfDeployment(w.namespace, w.name) : []
      const counts = firstSeen.get(ctx.incidentId) ?? new Map<string, number>()
      firstSeen.set(ctx.incidentId, counts)
      const started = pods.filter((p) => p.status?.phase === "Running" && (p.status.containerStatuses ?? []).every((c) => c.started === true || c.state?.running !== undefined))
      const moved: Array<string> = []
      for (const p of pods) {
        const n = (p.status?.containerStatuses ?? []).reduce((a, c) => a + c.restartCount, 0)
        const key = p.metadata?.uid ?? p.metadata?.name ?? ""
        const before = counts.get(key)
        if (before === undefined) counts.set(key, n)
        else if (before !== n) moved.push(`${p.metadata?.name} ${before}→${n}`)
      }
      checks.push(
        { name: "pods started", ok: pods.length > 0 && started.length === pods.length, detail: `${started.length}/${pods.length} started` },
        { name: "pods Ready", ok: pods.length > 0 && pods.every(isReady), detail: `${pods.filter(isReady).length}/${pods.length} Ready` },
        { name: "restartCount stable", ok: moved.length === 0, detail: moved.length === 0 ? "stable" : moved.join(", ") }
      )
      return checks
    })
  )
}

/** The verifier per applied action kind. */
export const verify = (): Verifier.Verifier<PendingFacts, Kube> => {
  const rollback = verifyRollback()
  const restore = verifyRestore()
  return (ctx) => (ctx.applied.some((a) => a.kind === RollbackDeployment.KIND) ? rollback(ctx) : restore(ctx))
}

/** The verification schedule: held `windowSeconds`, polled every `pollSeconds`, retried once 15 s after a failing poll. */
export const schedule = (s: VerifySettings = verifyDefaults): Verifier.VerifySchedule =>
  Verifier.hold(Verifier.retryOnce("15 seconds"), { every: Duration.seconds(s.pollSeconds), for: Duration.seconds(s.windowSeconds) })

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<PendingFacts, Kube> => {
  const v = verify()
  const sch = schedule(o.verify)
  return Runbook.make<PendingFacts, Kube>({
    id: ID,
    family: FAMILY,
    description: "Detects pods stuck Pending — resource exhaustion, storage constraints, affinity conflicts, missing dependencies — restores deleted ConfigMaps from snapshots or rolls back a template that broke placement; everything else is a change proposal",
    signals: [PodSignalTypes.pending],
    precedence: Families.precedenceOf(Families.Ids.pending),
    detector: Detector.merge(ID, [
      PendingDetector.make({ namespace: o.namespace, pendingMinutes: o.pendingMinutes, ...o.detector, name: "k8s.pending.unscheduled" }),
      StuckCreating.make({ namespace: o.namespace, pendingMinutes: o.pendingMinutes, checkInterval: o.detector?.checkInterval, name: "k8s.pending.stuck-creating" }),
      K8sDetector.holding(`${ID}.cache`, [Resource.deployments, Resource.replicaSets, Resource.events, Resource.nodes], { namespace: o.namespace })
    ]),
    diagnose: diagnose(o),
    classify: PendingClassifier.classify(o.confidences ? { confidences: o.confidences } : {}),
    remediate: (c, facts, signal) => Effect.succeed(PendingClassifier.plan(c, facts, signal)),
    verify: { resource_exhaustion: v, affinity_conflict: v, missing_dependencies: v },
    verifySchedule: sch,
    nextSteps: PendingClassifier.nextSteps,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}

/** Per-class confidence overrides from `<prefix><CLASS>` (a ratio in [0, 1]; unset keeps the documented value). */
export const confidencesConfig = (prefix: string, classes: ReadonlyArray<string>): Effect.Effect<Record<string, number>, Config.ConfigError> =>
  Effect.gen(function*() {
    const out: Record<string, number> = {}
    for (const c of classes) {
      const v = yield* Settings.ratio(`${prefix}${c.toUpperCase()}`).pipe(Config.option)
      if (Option.isSome(v)) out[c] = v.value
    }
    return out
  })

/**
 * The runbook from configuration: `BYTEPORT_PENDING_MINUTES` (5), `BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS`
 * (120) and `BYTEPORT_PENDING_VERIFY_POLL_SECONDS` (30), positive, the window at least one poll;
 * `BYTEPORT_PENDING_CONFIDENCE_<CLASS>` overrides a class's confidence. Anything else is a
 * ConfigError naming its key. The mode is core's `BYTEPORT_MODE_K8S_PENDING`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<PendingFacts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const pendingMinutes = yield* Settings.positiveNumber("BYTEPORT_PENDING_MINUTES").pipe(Config.withDefault(PendingDetector.defaults.pendingMinutes))
    const windowSeconds = yield* Settings.positiveInt("BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS").pipe(Config.withDefault(verifyDefaults.windowSeconds))
    const pollSeconds = yield* Settings.positiveInt("BYTEPORT_PENDING_VERIFY_POLL_SECONDS").pipe(Config.withDefault(verifyDefaults.pollSeconds))
    if (windowSeconds < pollSeconds) {
      return yield* Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: `BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS (${windowSeconds}) must be at least BYTEPORT_PENDING_VERIFY_POLL_SECONDS (${pollSeconds})` })))
    }
    const confidences = { ...(yield* confidencesConfig("BYTEPORT_PENDING_CONFIDENCE_", PendingClassifier.CLASSES)), ...o.confidences }
    return make({ ...o, pendingMinutes, confidences, verify: { windowSeconds, pollSeconds } })
  })
