/**
 * k8s.oom.exit-137 — "Detects pods killed by the Kubernetes OOM killer (exit code 137) and
 * safely patches memory limits upward, restarts the pod, and enables debug logging to capture
 * future leak patterns."
 *
 * - **Detect** (the shared pod watch): OOMKilled terminations (`OomKilledDetector`), exit-137
 *   kills without OOMKilled (restart growth; always escalated), and core's `oom.observed` hand-off
 *   (`HandOffs.OomObserved`, e.g. from k8s.crashloop.exit-code), whose subject is the workload's
 *   pod with the latest OOMKilled termination of the container.
 * - **Diagnose**: the pod (`PodFacts`), its uid, the owning workload, the workload's update
 *   strategy and declared debug switch (`byteport.io/debug-logging`), runtime heap ceilings from
 *   env (`RuntimeHeap`: -Xmx, GOMEMLIMIT, --max-old-space-size) and the node's allocatable memory.
 * - **Classify** (first match, ≥ 0.70): `heap_above_limit` (OOMKilled, and the runtime's heap
 *   ceiling is above the new limit, 0.93) → no bump, `OomRemediator.heapProposal` as a
 *   ChangeProposal, escalate; `oom_killed` (reason OOMKilled, 0.95) → bump. Exit 137 with any
 *   other reason (a liveness kill ends `Error`) is Unclassified → escalate, nothing written.
 * - **Remediate** `oom_killed`: one `k8s.patchMemoryLimit` ×1.5 (`bumpFactor`; the kind's
 *   guardrails: ≤ 2× the baseline, ≤ 80% of node allocatable, 1 bump per workload container per
 *   24 h) carrying debug logging in the same patch where the workload declares how (else a
 *   ChangeProposal to declare it; the env var is restored after 24 h by a timed undo). A
 *   Deployment or RollingUpdate StatefulSet rolls its pods itself; an OnDelete StatefulSet does
 *   not, so BytePort rolls it one pod at a time after the one bump: first the OOM-killed pod
 *   (not Ready; with OrderedReady a StatefulSet recreates no other pod while it loops), then
 *   the other pods highest ordinal first (as the StatefulSet controller rolls), each deleted only
 *   once the previous replacement is Ready with the new limit (`k8s.pod.replacedRunning` with
 *   `ready` and `limitBytes`, up to 5 min each) and only while every other pod is Ready (the
 *   `roll` guardrail of `k8s.restartPod`). A failed, denied or timed-out step stops the roll
 *   and escalates naming the pods that still run the previous limit.
 * - **Verify**: `OomVerifiers.memoryBump`, held 5 minutes (every 30 s), retried once at 15 s.
 *
 * @since 0.3.0
 */
import { Action, type ActionHandler, type Check, type Classification, Classification as C, Detector, Diagnoser, Fact, HandOffs, Plan, Runbook, Settings as CoreSettings, type Signal } from "@byteport/core"
import { Config, type Duration, Effect } from "effect"
import * as RestartPod from "../actions/restartPod"
import * as SetDebugLogging from "../actions/setDebugLogging"
import type { NodeFacts, PodFacts } from "../classifiers/oom"
import * as OomKilled from "../detectors/oomKilled"
import { SignalTypes } from "../detectors/signals"
import type { EventRecorder } from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as Quantity from "../Quantity"
import * as Informers from "../informers/Informers"
import * as Resource from "../informers/Resource"
import * as NodeProbe from "../probes/nodeFacts"
import * as OomObserved from "../probes/oomObserved"
import * as PodProbe from "../probes/podFacts"
import * as RuntimeHeap from "../probes/runtimeHeap"
import * as OomRemediator from "../remediators/oom"
import { barePodEscalation } from "../targets/leases"
import * as Targets from "../targets/Targets"
import * as OomVerifiers from "../verifiers/oom"
import * as PodVerifiers from "../verifiers/pod"
import { Family, Ids, precedenceOf } from "./families"
import * as OomSixSignal from "./k8s.oom.six-signal"

/** The runbook id. */
export const ID = Ids.oomExit137

/** The classes. */
export const Classes = ["heap_above_limit", "oom_killed"] as const

/** A class. */
export type Exit137Class = typeof Classes[number]

/** The workload's facts that shape the patch. */
export interface WorkloadFacts {
  readonly kind: string
  readonly name: string
  /** `spec.updateStrategy.type` of a StatefulSet (`OnDelete`, `RollingUpdate`); null for a Deployment. */
  readonly updateStrategy: string | null
  /** The declared debug switch (`byteport.io/debug-logging`), null when undeclared. */
  readonly debug: SetDebugLogging.Declared | null
  /** The declared env var's current value in the container (null: unset). */
  readonly debugPrevious: string | null
  /** A StatefulSet's live pods (not terminating), by name in ordinal order; absent for a Deployment. */
  readonly pods?: ReadonlyArray<string> | undefined
  /** Their uids, by name (the delete preconditions of an OnDelete roll). */
  readonly uids?: { readonly [pod: string]: string } | undefined
}

/**
 * The pods an OnDelete StatefulSet's patch does not reach: every live pod but the OOM-killed one
 * (BytePort restarts that one first), in ordinal order.
 */
export const notReachedByPatch = (workload: WorkloadFacts | null, oomKilledPod: string): ReadonlyArray<string> =>
  workload?.kind === "StatefulSet" && workload.updateStrategy === "OnDelete" ? (workload.pods ?? []).filter((p) => p !== oomKilledPod) : []

const ordinal = (name: string) => Number(/-(\d+)$/.exec(name)?.[1] ?? Number.MAX_SAFE_INTEGER)

/**
 * The order of an OnDelete roll: the OOM-killed pod first, then the other pods highest ordinal
 * first (the StatefulSet controller's own rolling order).
 */
export const rollOrder = (workload: WorkloadFacts | null, oomKilledPod: string): ReadonlyArray<string> =>
  [oomKilledPod, ...[...notReachedByPatch(workload, oomKilledPod)].sort((a, b) => ordinal(b) - ordinal(a) || b.localeCompare(a))]

/** What the classifier and remediator read. */
export interface Exit137Facts {
  readonly pod: PodFacts
  readonly podUid: string
  readonly owner: PodFacts["workload"]
  readonly workload: WorkloadFacts | null
  readonly runtimeHeap: RuntimeHeap.RuntimeHeap | null
  readonly node: NodeFacts | null
}

/** Settings. */
export interface Exit137Settings {
  /** The bump factor (default 1.5, `BYTEPORT_OOM_BUMP_FACTOR`). */
  readonly bumpFactor: number
  /** Below this → Unclassified (0.70). */
  readonly minConfidence: number
  readonly confidences: { readonly oomKilled: number; readonly heapAboveLimit: number }
  /** Debug logging TTL in seconds (default 24 h). */
  readonly debugTtlSeconds?: number
}

/** The defaults. */
export const defaults: Exit137Settings = { bumpFactor: 1.5, minConfidence: 0.7, confidences: { oomKilled: 0.95, heapAboveLimit: 0.93 } }

/** Everything configurable. */
export interface Options {
  readonly settings?: Exit137Settings
  readonly verify?: OomVerifiers.VerifySettings
  readonly namespace?: string
  /** Per-probe timeout (default 10 s). */
  readonly probeTimeout?: Duration.Input
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/**
 * The pod a signal is about: the evidence's pod for pod signals; for an `oom.observed` hand-off
 * (a workload container), the workload's pod with the latest OOMKilled termination of the container.
 */
export const subjectOf = (signal: Signal.Signal): Effect.Effect<{ readonly namespace: string; readonly pod: string; readonly container: string | undefined }, Error, Kube> =>
  OomObserved.is(signal) ? OomObserved.subject(signal) : OomSixSignal.subjectOf(signal)

const readWorkload = (namespace: string, owner: NonNullable<PodFacts["workload"]>, container: string) =>
  Effect.gen(function*() {
    if (owner.kind !== "Deployment" && owner.kind !== "StatefulSet") return null
    const kube = yield* Kube
    const w = owner.kind === "Deployment" ? yield* kube.getDeployment(namespace, owner.name) : yield* kube.getStatefulSet(namespace, owner.name)
    const debug = SetDebugLogging.declaredOn(w as { metadata?: { annotations?: { [k: string]: string } } }) ?? null
    const env = w.spec?.template.spec?.containers.find((c) => c.name === container)?.env?.find((e) => e.name === debug?.env)
    const strategy = owner.kind === "StatefulSet" ? ((w.spec as { updateStrategy?: { type?: string } } | undefined)?.updateStrategy?.type ?? "RollingUpdate") : null
    const live = owner.kind !== "StatefulSet" ? undefined : ((yield* Informers.listOr(Resource.pods, { namespace }, kube.listPods({ namespace }))) as ReadonlyArray<{ metadata?: { name?: string; uid?: string; deletionTimestamp?: unknown; ownerReferences?: ReadonlyArray<{ kind?: string; name?: string }> } }>)
      .filter((p) => !p.metadata?.deletionTimestamp && (p.metadata?.ownerReferences ?? []).some((r) => r.kind === "StatefulSet" && r.name === owner.name))
    const pods = live?.map((p) => p.metadata?.name ?? "").sort((a, b) => ordinal(a) - ordinal(b) || a.localeCompare(b))
    const uids = live === undefined ? undefined : Object.fromEntries(live.map((p) => [p.metadata?.name ?? "", p.metadata?.uid ?? ""]))
    return { kind: owner.kind, name: owner.name, updateStrategy: strategy, debug, debugPrevious: env === undefined ? null : env.value ?? "", ...(pods ? { pods } : {}), ...(uids ? { uids } : {}) } satisfies WorkloadFacts
  })

/** The diagnoser. */
export const diagnose = (timeout: Duration.Input = "10 seconds"): Diagnoser.Diagnoser<Exit137Facts, Kube> =>
  Diagnoser.andThen(
    Diagnoser.make<{ pod: PodFacts; podUid: string; owner: PodFacts["workload"] }, Kube>({
      pod: Diagnoser.probe("describe pod", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.probe(s.namespace, s.pod, s.container))),
      podUid: Diagnoser.probe("pod uid", (signal) => Effect.flatMap(subjectOf(signal), (s) => Effect.map(PodProbe.getPodWire(s.namespace, s.pod), (p) => p.metadata.uid ?? ""))),
      owner: Diagnoser.probe("owning workload", (signal) => Effect.flatMap(subjectOf(signal), (s) => PodProbe.owner(s.namespace, s.pod)))
    }, { timeout }),
    (facts) => {
      const pod = Fact.value(facts.pod)
      const owner = Fact.value(facts.owner)
      const needPod = <A>(name: string, f: (p: PodFacts) => Effect.Effect<A, unknown, Kube>) =>
        Diagnoser.probe<A, Kube>(name, () => (pod ? f(pod) : Effect.fail(new Error("the pod is unknown"))))
      return Diagnoser.make<Omit<Exit137Facts, "pod" | "podUid" | "owner">, Kube>({
        workload: needPod("workload update strategy and debug switch", (p) => (owner ? readWorkload(p.namespace, owner, p.container) : Effect.succeed(null))),
        runtimeHeap: needPod("runtime heap hints", (p) => Effect.succeed(RuntimeHeap.largest(RuntimeHeap.fromEnv(p.env)))),
        node: needPod("describe node", (p) => (p.node ? NodeProbe.probe(p.node) : Effect.succeed(null)))
      }, { timeout })
    }
  )

/** The limit a bump would set (×factor, whole MiB). */
export const newLimitBytes = (limit: number, factor: number): number => Math.ceil((limit * factor) / 2 ** 20) * 2 ** 20

/** The classifier. */
export const classify = (s: Exit137Settings = defaults) => (facts: Fact.Facts<Exit137Facts>): Classification.Classification => {
  const pod = Fact.value(facts.pod)
  if (!pod) return C.indeterminate("exit 137", ["pod"], ["the pod could not be read"])
  const t = pod.lastTermination
  if (t?.reason !== "OOMKilled") {
    return C.unclassified([t?.exitCode === 137
      ? `exit 137 with reason ${t.reason ?? "none"}: a SIGKILL that is not the OOM killer's (a liveness kill ends Error): never a memory bump`
      : `no OOMKilled termination of ${pod.container} (last: ${t ? `exit ${t.exitCode ?? "?"} ${t.reason ?? ""}` : "none"})`])
  }
  const heap = Fact.value(facts.runtimeHeap) ?? null
  const limit = pod.memoryLimitBytes
  const c = s.confidences
  const pick = (cls: Exit137Class, confidence: number, reason: string) =>
    confidence < s.minConfidence ? C.unclassified([`${cls} at ${confidence} is below ${s.minConfidence}`]) : C.classified(cls, confidence, [reason], { container: pod.container })
  if (heap !== null && limit !== null && heap.heapBytes > newLimitBytes(limit, s.bumpFactor)) {
    return pick("heap_above_limit", c.heapAboveLimit, `OOMKilled and ${heap.setting} (${heap.variable}) lets the heap grow to ${heap.heapBytes} bytes, above even the bumped limit ${newLimitBytes(limit, s.bumpFactor)}`)
  }
  return pick("oom_killed", c.oomKilled, `${pod.container} OOMKilled (exit ${t.exitCode ?? 137}) under a ${limit ?? "unset"} byte limit`)
}

/** Builds the plan of a classified incident. */
export const plan = (classification: Classification.Classified, facts: Fact.Facts<Exit137Facts>, signal: Signal.Signal, s: Exit137Settings = defaults): Plan.Plan => {
  const cls = classification.class as Exit137Class
  const pod = Fact.value(facts.pod)!
  const make = (summary: string, root: Plan.Step) => Plan.make(ID, cls, summary, root)
  const at = `${pod.namespace}/${pod.pod} container ${pod.container}`
  if (cls === "heap_above_limit") {
    const heap = Fact.value(facts.runtimeHeap)!
    return make(`propose a heap setting below the limit of ${at}; no bump`, Plan.seq(
      Plan.propose(OomRemediator.heapProposal(signal, pod, heap)),
      Plan.escalate(`${at}: the runtime heap ceiling ${heap.setting} is above even the bumped limit; a bigger limit would not stop the OOM kills. Review the proposed heap setting.`)
    ))
  }
  const ownerFact = facts.owner
  if (ownerFact._tag === "Unknown") return make("escalate: the owning workload is unknown", Plan.escalate(`the owner of ${pod.namespace}/${pod.pod} could not be read (${ownerFact.reason}): no limit patch without it`))
  const owner = ownerFact.value
  if (owner === null || owner.kind === "Pod") return make("escalate: bare pod", Plan.escalate(barePodEscalation(signal.target)))
  if (owner.kind !== "Deployment" && owner.kind !== "StatefulSet") return make("escalate: no workload to patch", Plan.escalate(`${pod.namespace}/${pod.pod} belongs to a ${owner.kind} ${owner.name}: only Deployments and StatefulSets are patched`))
  if (pod.memoryLimitBytes === null) return make("escalate: no memory limit", Plan.escalate(`${at} has no memory limit to raise: the OOM kill comes from the node; see k8s.oom.six-signal`))
  const workload = Fact.value(facts.workload) ?? null
  const onDelete = owner.kind === "StatefulSet" && workload?.updateStrategy === "OnDelete"
  const base = OomRemediator.bumpAction(signal, { ...pod, workload: owner }, s.bumpFactor, `exit 137 OOMKilled`, Fact.value(facts.node)?.allocatableMemoryBytes ?? null)
  // a native sidecar's limit is patched under initContainers; the declared debug switch is the app's
  const debug = pod.sidecar === true ? null : workload?.debug ?? null
  const bump = Action.make({
    kind: base.kind,
    target: base.target,
    precondition: base.precondition,
    timeoutMs: base.timeout,
    params: {
      ...base.params,
      ...(onDelete ? { rolloutTimeoutSeconds: 2 } : {}),
      ...(debug ? { debugLogging: { env: debug.env, value: debug.value, previous: workload?.debugPrevious ?? null, ...(s.debugTtlSeconds !== undefined ? { ttlSeconds: s.debugTtlSeconds } : {}) } } : {})
    },
    description: `${base.description}${debug ? ` with ${debug.env}=${debug.value} (debug logging, undone after its TTL)` : ""}`
  })
  const steps: Array<Plan.Step> = [Plan.act(bump)]
  if (!debug) {
    const wt = Targets.parseSync(signal.target)
    const wref = wt instanceof Targets.InvalidTargetRef ? signal.target : Targets.toTargetRef(Targets.withoutContainer(wt as Targets.Workload))
    steps.push(Plan.propose(SetDebugLogging.proposal(wref, `${pod.namespace}/${owner.name}`, pod.container)))
  }
  if (onDelete) {
    const w = Targets.parseSync(signal.target)
    const cluster = w instanceof Targets.InvalidTargetRef ? "default" : w.cluster
    const toBytes = newLimitBytes(pod.memoryLimitBytes, s.bumpFactor)
    const to = Quantity.formatBytes(toBytes)
    const from = Quantity.formatBytes(pod.memoryLimitBytes)
    const order = rollOrder(workload, pod.pod)
    const uidOf = (name: string) => (name === pod.pod ? Fact.value(facts.podUid) ?? "" : workload?.uids?.[name] ?? "")
    const kubectl = (names: ReadonlyArray<string>) => names.map((p, i) => `kubectl delete pod -n ${pod.namespace} ${p}${i === 0 ? "" : ` (after ${names[i - 1]} is Ready again)`}`)
    const still = (names: ReadonlyArray<string>) => `${names.join(", ")} still run${names.length === 1 ? "s" : ""} the previous limit ${from}`
    order.forEach((name, i) => {
      const uid = uidOf(name)
      const podRef = Targets.pod({ cluster, namespace: pod.namespace, name })
      const first = i === 0
      const stopped = (why: string, old: ReadonlyArray<string>, notReady?: string) =>
        Plan.escalate(
          `OnDelete StatefulSet ${pod.namespace}/${owner.name}: the roll to the new limit ${to} stopped at ${name} (${why}).${notReady ? ` ${notReady} runs the new limit but is not Ready.` : ""}${old.length > 0 ? ` ${still(old)} and need${old.length === 1 ? "s" : ""} deletion, one at a time.` : ""}`,
          [...(notReady ? [`kubectl describe pod -n ${pod.namespace} ${notReady}`] : []), ...kubectl(old)]
        )
      steps.push(Plan.fallback(
        Plan.act(Action.make({
          kind: RestartPod.KIND,
          target: podRef,
          params: first
            ? { uid, reason: "OnDelete StatefulSet: the new limit reaches the OOM-killed pod only when it is recreated (one pod at a time)" }
            : { uid, reason: `OnDelete StatefulSet: roll ${name} to the new limit ${to} (one pod at a time, highest ordinal first)`, roll: { container: pod.container, limitBytes: toBytes } },
          description: first ? `restart the OOM-killed pod ${pod.namespace}/${name} (OnDelete: one pod at a time)` : `roll ${pod.namespace}/${name} to the new limit ${to} (OnDelete: one pod at a time)`
        })),
        stopped(`its restart failed or was denied`, order.slice(i))
      ))
      steps.push(Plan.fallback(
        Plan.waitFor(
          Plan.check(PodVerifiers.REPLACED_RUNNING, podRef, { namespace: pod.namespace, pod: name, uid, container: pod.container, ready: true, limitBytes: toBytes }, `${pod.namespace}/${name} recreated Ready with the new limit ${to}`),
          { timeoutMs: 300_000, intervalMs: 5_000 }
        ),
        stopped(`its replacement was not Ready with ${to} within 5 min`, order.slice(i + 1), name)
      ))
    })
  }
  const others = notReachedByPatch(workload, pod.pod).length
  return make(`raise the memory limit of ${owner.kind.toLowerCase()}/${owner.name} container ${pod.container} ×${s.bumpFactor}${debug ? " with debug logging" : ""}${onDelete ? `, then restart the OOM-killed pod${others > 0 ? ` and roll the ${others} other pod${others === 1 ? "" : "s"} one at a time, highest ordinal first` : ""}` : ""}`, steps.length === 1 ? steps[0]! : Plan.seq(...steps))
}

/** Suggested next steps. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<Exit137Facts>): ReadonlyArray<string> => {
  const pod = Fact.value(facts.pod)
  const at = pod ? `${pod.namespace}/${pod.pod}` : "the pod"
  if (c._tag !== "Classified") return [`inspect ${at}: kubectl describe pod (last state, reason), liveness probe events; exit 137 without OOMKilled is not a memory problem`]
  if (c.class === "heap_above_limit") return ["review and merge the proposed heap setting"]
  return [`watch ${at}'s memory under the new limit; debug logs are on for 24 h where declared`]
}

/** Builds the runbook. */
export const make = (o: Options = {}): Runbook.Runbook<Exit137Facts, Kube> => {
  const s = o.settings ?? defaults
  return Runbook.make<Exit137Facts, Kube>({
    id: ID,
    family: Family.oom,
    description: "Detects pods OOM-killed with exit 137; raises the memory limit with debug logging in the same patch, restarts OnDelete pods one at a time, proposes heap fixes",
    signals: [SignalTypes.oomKilled, SignalTypes.restartGrowth, HandOffs.OomObserved.type],
    precedence: precedenceOf(ID),
    detector: Detector.merge(ID, [OomKilled.make({ namespace: o.namespace, name: `${ID}.oom-killed` }), OomSixSignal.unlabelledKills(o.namespace)]),
    diagnose: diagnose(o.probeTimeout),
    classify: classify(s),
    remediate: (c, facts, signal) => Effect.succeed(plan(c, facts, signal, s)),
    verify: { oom_killed: OomVerifiers.memoryBump(o.verify) },
    verifySchedule: OomVerifiers.schedule(o.verify),
    baseline: (facts) => ({ memoryLimitBytes: Fact.value(facts.pod)?.memoryLimitBytes ?? null }),
    nextSteps,
    ticket: () => false,
    defaultMode: o.defaultMode ?? "dry_run",
    leaseTtl: "30 minutes",
    cooldown: "5 minutes"
  })
}

/**
 * The runbook from configuration: `BYTEPORT_OOM_BUMP_FACTOR` (1.5), the verification settings of
 * k8s.oom.six-signal (`BYTEPORT_OOM_VERIFY_*`). The mode is `BYTEPORT_MODE_K8S_OOM_EXIT_137`.
 */
export const fromConfig = (o: Options = {}): Effect.Effect<Runbook.Runbook<Exit137Facts, Kube>, Config.ConfigError> =>
  Effect.gen(function*() {
    const factor = yield* CoreSettings.factor("BYTEPORT_OOM_BUMP_FACTOR").pipe(Config.withDefault(defaults.bumpFactor))
    return make({ ...o, settings: { ...(o.settings ?? defaults), bumpFactor: factor }, verify: yield* OomSixSignal.verifyConfig })
  })

/** The handlers exit-137's plans need besides the OOM ones: `k8s.restartPod` (OnDelete) and `k8s.setDebugLogging` (the timed undo). */
export const extraHandlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [RestartPod.make(), SetDebugLogging.make()]

/** The checks its plans reference: `k8s.pod.replacedRunning` (OnDelete restarts). */
export const checks: ReadonlyArray<Check.Check<Kube>> = [PodVerifiers.replacedRunning]
