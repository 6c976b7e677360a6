/**
 * The plans of `k8s.crashloop.seven-class`, one per class (the guardrails live on the kinds:
 * 1 rollback per workload per hour shared with `k8s.pinImageDigest`, 1 memory bump per pod per
 * day, 1 probe loosening per workload container per day, never delete PersistentVolumes):
 *
 * - oom_at_startup → `k8s.patchMemoryLimit` ×`bumpFactor` (1.5). A heap ceiling (-Xmx,
 *   GOMEMLIMIT, --max-old-space-size) at or above the limit is a flag misconfiguration: a heap
 *   proposal, never a bump. No limit, a bare pod or another owner kind: escalate.
 * - bad_image_or_tag → `k8s.rollbackDeployment` to the last-good revision when the current
 *   revision changed the failing container's image; else escalate.
 * - failed_init_container → rollback only when the current revision changed that init container
 *   and the last-good revision (whose pods got past it) exists; a migration init (name, image
 *   or command matching `MIGRATION`) always escalates.
 * - probe_misconfigured → `k8s.loosenProbe`: `timeoutSeconds` on probe timeouts, a startup
 *   budget for kills before the app answers (refused / reset); a handler answering an HTTP error
 *   (404 …) is a wrong handler, not a tight budget: escalate.
 * - missing_configmap_or_secret → `k8s.restoreConfigMap` from BytePort's snapshot (ConfigMaps
 *   only); else a rollback when the current revision changed the references and every object the
 *   last-good revision references exists; else escalate. Secrets are never restored.
 * - app_panic_on_boot → rollback when the current revision changed the container's image within
 *   `imageChangeMinutes` (60); else escalate with the redacted stack.
 * - node_pressure_eviction → a hand-off of the node's pressure signal (`k8s.node.memory_pressure`,
 *   `…disk_pressure`, `…pid_pressure`) for the node runbooks; the workload is not touched.
 *
 * @since 0.4.0
 */
import { Action, type Classification, Fact, Plan, type Signal } from "@byteport/core"
import * as LoosenProbe from "../actions/loosenProbe"
import * as RestoreConfigMap from "../actions/restoreConfigMap"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import type { PodFacts } from "../classifiers/oom"
import { containerOf, failedInit, MIGRATION, panicLine, type SevenClass, type SevenClassFacts } from "../classifiers/sevenClass"
import { NodeSignalTypes } from "../detectors/nodeConditions"
import * as RuntimeHeap from "../probes/runtimeHeap"
import * as Wire from "../probes/wire"
import * as Leases from "../targets/leases"
import * as Targets from "../targets/Targets"
import * as OomRemediator from "./oom"
import type { V1Container } from "@kubernetes/client-node"

/** The runbook id the plans belong to. */
export const RUNBOOK_ID = "k8s.crashloop.seven-class"

/** Remediation settings. */
export interface Remediation {
  /** The memory bump factor (default 1.5). */
  readonly bumpFactor: number
  /** A rollout this recent "just changed the image" for app_panic_on_boot (minutes, default 60). */
  readonly imageChangeMinutes: number
}

/** The defaults. */
export const defaults: Remediation = { bumpFactor: 1.5, imageChangeMinutes: 60 }

const escalate = (cls: string, summary: string, reason: string, next: ReadonlyArray<string> = []) =>
  Plan.make(RUNBOOK_ID, cls, summary, Plan.escalate(reason, next))

/** The rollback step to the last-good revision, or the reason there is none. */
export const rollbackStep = (facts: Fact.Facts<SevenClassFacts>, signal: Signal.Signal, reason: string): Plan.Step | string => {
  const owner = Fact.value(facts.owner)
  const h = Fact.value(facts.history)
  if (!owner) return "the pod has no owning workload"
  if (owner.kind !== "Deployment") return `${owner.kind} ${owner.namespace}/${owner.name} has no rollout history BytePort rolls back (Deployments only)`
  if (owner.paused) return `Deployment ${owner.namespace}/${owner.name} is paused: BytePort neither rolls it back nor resumes it`
  if (!h || !h.current) return `the rollout history of Deployment ${owner.namespace}/${owner.name} is unknown`
  if (!h.lastGood) return `no last-good revision of Deployment ${owner.namespace}/${owner.name}: ${h.noLastGood ?? "none"}`
  const parent = Targets.withParent(signal.target)
  return Plan.act(RollbackDeployment.action({
    target: Leases.leaseTarget(RollbackDeployment.KIND, parent),
    toRevision: h.lastGood.revision,
    fromRevision: h.current.revision,
    resourceVersion: owner.resourceVersion,
    failingImages: h.failingImages,
    sha: h.sha,
    reason
  }))
}

const imageChanged = (facts: Fact.Facts<SevenClassFacts>, container: string): boolean =>
  (Fact.value(facts.history)?.changes ?? []).some((c) => c.path === `spec.containers[${container}].image` || c.path === `spec.initContainers[${container}].image`)

const rollbackOr = (cls: SevenClass, facts: Fact.Facts<SevenClassFacts>, signal: Signal.Signal, reason: string, why: string, next: ReadonlyArray<string>): Plan.Plan => {
  const step = rollbackStep(facts, signal, `${cls}: ${reason}`)
  const h = Fact.value(facts.history)
  if (typeof step === "string") return escalate(cls, `${why}; no rollback: ${step}`, `${reason}: ${step}`, next)
  return Plan.make(RUNBOOK_ID, cls, `${why}: roll back to revision ${h?.lastGood?.revision} (suspect commit ${h?.sha ?? "unknown"})`, step)
}

/** The OOM runbook's pod facts for the bump (the container's limit and the owner). */
export const bumpPodFacts = (facts: Fact.Facts<SevenClassFacts>): PodFacts | undefined => {
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container)
  const owner = Fact.value(facts.owner)
  if (!pod || !container) return undefined
  // a native sidecar (restartPolicy: Always init container) is bumped under initContainers
  const sidecar = Wire.isSidecar(pod, container)
  const cs = [...(pod.status?.containerStatuses ?? []), ...(sidecar ? pod.status?.initContainerStatuses ?? [] : [])].find((c) => c.name === container)
  const term = Fact.value(facts.termination) ?? null
  const c = containerOf(pod, container)
  return {
    namespace: pod.metadata.namespace ?? "default",
    pod: pod.metadata.name,
    container,
    node: pod.spec.nodeName ?? null,
    restartCount: cs?.restartCount ?? 0,
    memoryLimitBytes: Fact.value(facts.memoryLimitBytes) ?? null,
    memoryRequestBytes: null,
    lastTermination: term ? { reason: term.reason, exitCode: term.exitCode, finishedAt: term.finishedAt } : null,
    ready: cs?.ready ?? false,
    workload: owner ? { kind: owner.kind, name: owner.name, resourceVersion: owner.resourceVersion } : null,
    env: (c?.env ?? []).flatMap((e) => (typeof e.value === "string" ? [{ name: e.name, value: e.value }] : [])),
    ...(sidecar ? { sidecar: true } : {})
  }
}

/** The probe field to loosen from the probe failures, or why none. */
export const probeField = (facts: Fact.Facts<SevenClassFacts>): LoosenProbe.Field | { readonly problem: string } => {
  const failures = (Fact.value(facts.probeFailures) ?? []).filter((p) => !p.kill && (p.probe === "Liveness" || p.probe === "Startup"))
  const last = failures.at(-1)
  if (!last) return "startupBudgetSeconds"
  if (last.failure === "timeout") return "timeoutSeconds"
  if (last.failure === "refused" || last.failure === "reset") return "startupBudgetSeconds"
  if (last.failure === "status") return { problem: `the probe handler answers HTTP ${last.statusCode}: a wrong path or port, not a tight budget (BytePort never changes a handler)` }
  return { problem: `the probe fails with ${last.failure} (${last.detail}): not a timing problem` }
}

const pressureOf = (message: string | null | undefined): string => {
  const m = message ?? ""
  if (/ephemeral-storage|nodefs|imagefs|disk/i.test(m)) return NodeSignalTypes.diskPressure
  if (/\bpids?\b/i.test(m)) return NodeSignalTypes.pidPressure
  return NodeSignalTypes.memoryPressure
}

const CONDITION: Record<string, string> = {
  [NodeSignalTypes.memoryPressure]: "MemoryPressure",
  [NodeSignalTypes.diskPressure]: "DiskPressure",
  [NodeSignalTypes.pidPressure]: "PIDPressure"
}

/** The plan for a classification. */
export const plan = (c: Classification.Classified, facts: Fact.Facts<SevenClassFacts>, signal: Signal.Signal, r: Remediation = defaults): Plan.Plan => {
  const cls = c.class as SevenClass
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container) ?? "?"
  const owner = Fact.value(facts.owner)
  const reason = c.reasons[0] ?? cls
  const where = owner ? `${owner.kind} ${owner.namespace}/${owner.name}` : pod ? `pod ${pod.metadata.namespace ?? "default"}/${pod.metadata.name}` : signal.target.ref
  if (cls !== "node_pressure_eviction" && (owner === null || owner?.kind === "Pod" || Leases.isBarePod(signal.target))) {
    return escalate(cls, `${where}: a bare pod; nothing is patched`, Leases.barePodEscalation(signal.target), [reason])
  }
  switch (cls) {
    case "oom_at_startup": {
      const p = bumpPodFacts(facts)
      if (!p || p.memoryLimitBytes === null) return escalate(cls, `${where}: no memory limit to raise`, `${reason}; container ${container} has no memory limit: set one`, [])
      if (!owner || (owner.kind !== "Deployment" && owner.kind !== "StatefulSet")) return escalate(cls, `${where}: not a Deployment or StatefulSet`, `${reason}; BytePort bumps Deployments and StatefulSets only`)
      const heap = RuntimeHeap.largest(RuntimeHeap.fromEnv(p.env))
      if (heap && heap.heapBytes >= p.memoryLimitBytes) {
        return Plan.make(RUNBOOK_ID, cls, `${where}: the ${heap.runtime} heap ceiling is at or above the limit: a heap proposal, no bump`, Plan.seq(
          Plan.propose(OomRemediator.heapProposal(signal, p, heap)),
          Plan.escalate(`${reason}; the configured heap ceiling (${heap.variable}: ${heap.setting}) is not below the container limit: a flag misconfiguration, never a memory bump`)
        ))
      }
      const bump = OomRemediator.bumpAction({ ...signal, target: Leases.leaseTarget("k8s.patchMemoryLimit", signal.target, container) }, p, r.bumpFactor, `oom_at_startup: ${reason}`, Fact.value(facts.node)?.allocatableMemoryBytes ?? null)
      return Plan.make(RUNBOOK_ID, cls, `${where}: ${bump.description}`, Plan.act(bump))
    }
    case "bad_image_or_tag": {
      if (!imageChanged(facts, container)) {
        return escalate(cls, `${where}: the image was not changed by the current revision`, `${reason}; the current revision did not change container ${container}'s image: fix the reference`, ["check the tag in the registry", "check the manifest's image reference"])
      }
      return rollbackOr(cls, facts, signal, reason, `${where}: the current revision's image does not exist`, ["publish the missing tag or fix the manifest"])
    }
    case "failed_init_container": {
      const init = pod ? failedInit(pod) : undefined
      const name = init?.name ?? container
      const spec = pod ? containerOf(pod, name) : undefined
      const text = [name, spec?.image ?? "", ...(spec?.command ?? []), ...(spec?.args ?? [])].join(" ")
      const log = Fact.value(facts.previousLog)?.lines.slice(-10) ?? []
      if (MIGRATION.test(text)) {
        return escalate(cls, `${where}: init container ${name} runs a migration; never rolled back automatically`, `${reason}; ${name} looks like a database migration (${text.trim()}): a rollback would not undo a partial migration`, log.length > 0 ? [`last lines of ${name}:`, ...log] : [])
      }
      const changed = (Fact.value(facts.history)?.changes ?? []).some((ch) => ch.path.startsWith(`spec.initContainers[${name}]`))
      if (!changed) return escalate(cls, `${where}: the current revision did not change init container ${name}`, `${reason}; the init spec is unchanged: the failure is in its environment`, log)
      return rollbackOr(cls, facts, signal, reason, `${where}: the current revision changed init container ${name}, which now fails`, log)
    }
    case "probe_misconfigured": {
      const field = probeField(facts)
      if (typeof field !== "string") return escalate(cls, `${where}: ${field.problem}`, `${reason}; ${field.problem}`, ["fix the probe's path or port in the manifest"])
      const spec = pod ? containerOf(pod, container) : undefined
      const params = spec ? LoosenProbe.paramsFor(spec as unknown as V1Container, field, { reason: `probe_misconfigured: ${reason}` }) : undefined
      if (!params) return escalate(cls, `${where}: no liveness probe to loosen`, `${reason}; container ${container} has no liveness probe whose ${field} can be loosened`)
      return Plan.make(RUNBOOK_ID, cls, `${where}: loosen container ${container}'s ${field} ${params.from}s → ${params.to}s`, Plan.act(Action.make({
        kind: LoosenProbe.KIND,
        target: Leases.leaseTarget(LoosenProbe.KIND, signal.target, container),
        params: { ...params },
        precondition: { resourceVersion: owner?.resourceVersion ?? "" },
        description: `loosen the liveness ${field} of ${where} container ${container} from ${params.from}s to ${params.to}s`
      })))
    }
    case "missing_configmap_or_secret": {
      const ce = Fact.value(facts.configError) ?? null
      const ns = pod?.metadata.namespace ?? "default"
      if (ce?.kind === "ConfigMap" && Fact.value(facts.snapshot) === true) {
        return Plan.make(RUNBOOK_ID, cls, `${where}: re-create ConfigMap ${ns}/${ce.name} from BytePort's snapshot`, Plan.act(Action.make({
          kind: RestoreConfigMap.KIND,
          target: Leases.leaseTarget(RestoreConfigMap.KIND, Targets.withParent(signal.target)),
          params: { namespace: ce.namespace ?? ns, name: ce.name, reason: `missing_configmap_or_secret: ${reason}` },
          description: `re-create ConfigMap ${ce.namespace ?? ns}/${ce.name} from BytePort's snapshot`
        })))
      }
      const objs = Fact.value(facts.lastGoodObjects) ?? null
      const refsChanged = (Fact.value(facts.history)?.changes ?? []).some((ch) => /configMapKeyRef|secretKeyRef|configMapRef|secretRef|\.configMap\.|\.secret\.|volumes\[/.test(ch.path))
      const noSnapshot = ce?.kind === "ConfigMap" ? "BytePort has no snapshot of it (configMapSnapshots off or never taken)" : "Secrets are never restored"
      if (!refsChanged) return escalate(cls, `${where}: ${ce?.kind ?? "object"} ${ce?.name ?? "?"} is missing; ${noSnapshot}`, `${reason}; ${noSnapshot}, and the current revision did not change the references: create the ${ce?.kind ?? "object"} (BytePort never invents its data)`)
      if (!objs || objs.missing.length > 0) return escalate(cls, `${where}: ${noSnapshot}; the last-good revision's objects are missing too`, `${reason}; ${noSnapshot}; the last-good revision references ${objs ? objs.missing.join(", ") : "unknown objects"}, which do not exist either`)
      return rollbackOr(cls, facts, signal, reason, `${where}: the current revision references a missing ${ce?.kind ?? "object"}; the last-good revision's objects all exist`, [])
    }
    case "app_panic_on_boot": {
      const lines = Fact.value(facts.previousLog)?.lines ?? []
      const at = lines.findIndex((l) => l === panicLine(lines))
      const stack = at < 0 ? lines.slice(-20) : lines.slice(at, at + 20)
      const h = Fact.value(facts.history)
      const recent = h?.ageSeconds !== null && h?.ageSeconds !== undefined && h.ageSeconds <= r.imageChangeMinutes * 60
      if (imageChanged(facts, container) && recent) return rollbackOr(cls, facts, signal, reason, `${where}: revision ${h?.current?.revision} changed the image and panics on boot`, ["redacted stack:", ...stack])
      return escalate(cls, `${where}: panics on boot; the image did not just change`, `${reason}; the image was not changed by a rollout in the last ${r.imageChangeMinutes} min: not a bad release BytePort can roll back`, ["redacted stack:", ...stack])
    }
    case "node_pressure_eviction": {
      const node = pod?.spec.nodeName ?? Fact.value(facts.node)?.name
      if (!node) return escalate(cls, `${where}: evicted from an unknown node`, `${reason}; the node is unknown`)
      const type = pressureOf(pod?.status?.message)
      const cluster = signal.target.ref.split("/")[0] ?? "default"
      const handed: Signal.Signal = {
        type,
        target: Targets.node({ cluster, name: node }),
        observedAt: signal.observedAt,
        source: RUNBOOK_ID,
        evidence: { node, condition: CONDITION[type]!, status: "True", since: null, reason: `${pod?.metadata.name ?? "a pod"} evicted: ${pod?.status?.message ?? "Evicted"}` }
      }
      return Plan.make(RUNBOOK_ID, cls, `${where}: evicted under ${CONDITION[type]} on ${node}: hand the node's pressure to the node runbooks`, Plan.handOff(handed, `the kubelet evicted ${pod?.metadata.name ?? "the pod"} under ${CONDITION[type]}: the node is the cause`))
    }
  }
}
