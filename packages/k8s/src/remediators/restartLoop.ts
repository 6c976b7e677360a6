/**
 * The plans of `k8s.restart-loop.container`:
 *
 * - config_or_secret → escalate, naming the missing object, key or variable (BytePort never
 *   invents configuration).
 * - dependency_failure → core's `DependencyUnavailable` hand-off, awaited (`dependencyWait`, 10
 *   min; the runbook owning the Service's workload or the Database answers it), then a
 *   `WaitFor` of the `k8s.dependencyHealthy` check (the Service's ready EndpointSlice endpoints,
 *   else a TCP connect; `dependencyConfirmSeconds`, 60 s) so a child's word alone never restarts
 *   anything, then one `k8s.restartPod` of the looping pod so it starts without waiting out its
 *   back-off; a hand-off nobody owns, that times out, or a dependency still not healthy
 *   escalates, the pod untouched.
 * - oom → `k8s.patchMemoryLimit` ×`bumpFactor` (1.5; never for a heap ceiling ≥ the limit).
 * - port_bind → `k8s.rollbackDeployment` when the current revision introduced it (a last-good
 *   revision exists and the template changed), else escalate.
 * - image_pull → `k8s.pinImageDigest` to the Ready pods' digest when the tag was re-pushed; else a
 *   rollback when the current revision changed the image; else escalate.
 *
 * @since 0.4.0
 */
import { Action, type Classification, Fact, HandOffs, Plan, type Signal, type TargetRef } from "@byteport/core"
import * as PinImageDigest from "../actions/pinImageDigest"
import * as RestartPod from "../actions/restartPod"
import { type RestartLoopClass, type RestartLoopFacts, DEPENDENCY_LOG, dependencyOf, lineOf, rePushed } from "../classifiers/restartLoop"
import * as Dependency from "../probes/dependency"
import * as Leases from "../targets/leases"
import * as Targets from "../targets/Targets"
import * as SevenClass from "./sevenClass"

/** The runbook id. */
export const RUNBOOK_ID = "k8s.restart-loop.container"

/** Remediation settings. */
export interface Remediation {
  /** The memory bump factor (default 1.5). */
  readonly bumpFactor: number
  /** How long the dependency hand-off is awaited (seconds, default 600). */
  readonly dependencyWaitSeconds: number
  /** After the hand-off, how long the dependency may take to show healthy before the restart (seconds, default 60). */
  readonly dependencyConfirmSeconds?: number | undefined
  /** How often that confirmation polls (seconds, default 5). */
  readonly dependencyPollSeconds?: number | undefined
}

/** The defaults. */
export const defaults: Remediation = { bumpFactor: 1.5, dependencyWaitSeconds: 600, dependencyConfirmSeconds: 60, dependencyPollSeconds: 5 }

/**
 * The `k8s.dependencyHealthy` check of a logged dependency: the Service its host names (a DNS
 * name, or the name in "failed to connect to <name>" when the host is a clusterIP), else a TCP
 * connect to the logged `host:port`.
 */
export const dependencyCheck = (line: string, namespace: string, target: TargetRef.TargetRef): Plan.CheckRef | undefined => {
  const logged = Dependency.parseLine(line)
  if (logged === undefined) return undefined
  const named = /failed to connect to ([a-z0-9][a-z0-9.-]*)/i.exec(line)?.[1]
  const svc = Dependency.serviceName(logged.host, namespace) ?? (named ? Dependency.serviceName(named, namespace) : undefined)
  const service = svc ? { namespace: svc.namespace, name: svc.name, selector: true, clusterIP: null, readyEndpoints: 0, endpoints: 0 } : null
  return Dependency.checkRef(target, { ...logged, service }, namespace)
}

const escalate = (cls: string, summary: string, reason: string, next: ReadonlyArray<string> = []) => Plan.make(RUNBOOK_ID, cls, summary, Plan.escalate(reason, next))

/** The plan for a classification. */
export const plan = (c: Classification.Classified, facts: Fact.Facts<RestartLoopFacts>, signal: Signal.Signal, r: Remediation = defaults): Plan.Plan => {
  const cls = c.class as RestartLoopClass
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container) ?? "?"
  const owner = Fact.value(facts.owner)
  const reason = c.reasons[0] ?? cls
  const where = owner ? `${owner.kind} ${owner.namespace}/${owner.name}` : pod ? `pod ${pod.metadata.namespace ?? "default"}/${pod.metadata.name}` : signal.target.ref
  if (cls === "config_or_secret") {
    const ce = Fact.value(facts.configError)
    return escalate(cls, `${where}: a configuration or secret error; BytePort never invents configuration`, reason, [
      ce ? `create ${ce.kind} ${ce.namespace ?? pod?.metadata.namespace ?? "default"}/${ce.name}${ce.key ? ` with key ${ce.key}` : ""}` : "set the missing variable or secret in the manifest"
    ])
  }
  if (owner === null || owner?.kind === "Pod" || Leases.isBarePod(signal.target)) {
    return escalate(cls, `${where}: a bare pod; nothing is patched`, Leases.barePodEscalation(signal.target), [reason])
  }
  switch (cls) {
    case "oom": {
      const seven = SevenClass.plan({ ...c, class: "oom_at_startup" }, facts, signal, { bumpFactor: r.bumpFactor, imageChangeMinutes: SevenClass.defaults.imageChangeMinutes })
      return { ...seven, runbook: RUNBOOK_ID, class: cls }
    }
    case "dependency_failure": {
      const line = lineOf(Fact.value(facts.previousLog)?.lines ?? [], DEPENDENCY_LOG) ?? reason
      const dep = dependencyOf(line)
      const ns = pod?.metadata.namespace ?? "default"
      const cluster = signal.target.ref.split("/")[0] ?? "default"
      if (!pod?.metadata.uid) return escalate(cls, `${where}: the pod's uid is unknown`, `${reason}; the looping pod cannot be restarted safely`)
      // core's DependencyUnavailable evidence (plain strings: its encoded form is itself; a test decodes it with HandOffs.decode)
      const handOff: Signal.Signal = {
        type: HandOffs.DependencyUnavailable.type,
        target: Targets.workload({ cluster, namespace: ns, kind: "Deployment", name: dep.name }),
        observedAt: signal.observedAt,
        source: RUNBOOK_ID,
        evidence: { dependency: dep.name, ...(dep.endpoint ? { endpoint: dep.endpoint } : {}), detail: `${where} container ${container}: ${line.trim()}` }
      }
      const confirm = dependencyCheck(line, ns, signal.target)
      if (!confirm) return escalate(cls, `${where}: the dependency ${dep.name} cannot be checked`, `${reason}; no host BytePort could check before a restart`)
      return Plan.make(RUNBOOK_ID, cls, `${where}: wait for ${dep.name} (${dep.endpoint ?? "endpoint unknown"}) through its owner, then restart ${pod.metadata.name} once it is healthy`, Plan.seq(
        Plan.handOff(handOff, { await: `${r.dependencyWaitSeconds} seconds`, reason: `${dep.name} is unavailable to ${where}` }),
        Plan.waitFor(confirm, { timeoutMs: (r.dependencyConfirmSeconds ?? 60) * 1000, intervalMs: (r.dependencyPollSeconds ?? 5) * 1000 }),
        Plan.act(Action.make({
          kind: RestartPod.KIND,
          target: Targets.pod({ cluster, namespace: ns, name: pod.metadata.name }),
          params: { uid: pod.metadata.uid, reason: `dependency_failure: ${dep.name} healthy again` },
          description: `restart pod ${ns}/${pod.metadata.name} once its dependency ${dep.name} is healthy (skips the crash-loop back-off)`
        }))
      ))
    }
    case "port_bind": {
      const h = Fact.value(facts.history)
      if (!h || h.changes.length === 0) return escalate(cls, `${where}: the port conflict was not introduced by the current revision`, `${reason}; no revision change to roll back (look for a sidecar or hostPort on the same port)`)
      const step = SevenClass.rollbackStep(facts, signal, `port_bind: ${reason}`)
      if (typeof step === "string") return escalate(cls, `${where}: no rollback: ${step}`, `${reason}: ${step}`)
      return Plan.make(RUNBOOK_ID, cls, `${where}: revision ${h.current?.revision} introduced the port conflict: roll back to revision ${h.lastGood?.revision}`, step)
    }
    case "image_pull": {
      const rp = rePushed(facts)
      if (rp && rp.lastGood.imageID) {
        const to = PinImageDigest.pinnedReference(rp.image, rp.lastGood.imageID)
        if (to) {
          return Plan.make(RUNBOOK_ID, cls, `${where}: ${rp.image} was re-pushed; pin container ${container} to the digest Ready pods run (${to})`, Plan.act(Action.make({
            kind: PinImageDigest.KIND,
            target: Leases.leaseTarget(PinImageDigest.KIND, Targets.withParent(signal.target)),
            params: { container, fromImage: rp.image, toImage: to, reason: `image_pull: ${reason}` },
            precondition: { resourceVersion: owner?.resourceVersion ?? "" },
            description: `pin ${where} container ${container} from ${rp.image} to ${to}`
          })))
        }
      }
      const changed = (Fact.value(facts.history)?.changes ?? []).some((ch) => ch.path === `spec.containers[${container}].image` || ch.path === `spec.initContainers[${container}].image`)
      if (!changed) return escalate(cls, `${where}: the image was neither re-pushed nor changed by the current revision`, `${reason}; see the k8s.image-pull runbook's steps (auth, tag, network)`)
      const step = SevenClass.rollbackStep(facts, signal, `image_pull: ${reason}`)
      if (typeof step === "string") return escalate(cls, `${where}: no rollback: ${step}`, `${reason}: ${step}`)
      return Plan.make(RUNBOOK_ID, cls, `${where}: the current revision's image cannot be pulled: roll back`, step)
    }
  }
}
