/**
 * k8s.node.pressure-drain's plan, the same for every class, as the seed says: cordon the node,
 * drain it gracefully (PDB-aware, DaemonSets ignored, never forced), wait, and restore
 * schedulability once it has recovered — the uncordon waits until the node has been Ready and
 * pressure-free for the healthy delay (5 min), and fails (the node stays cordoned, escalate)
 * when it has not recovered within the recovery timeout (30 min). No node commands.
 *
 * @since 0.2.0
 */
import { Action, type Classification, Fact, Plan, type Signal, TargetRef } from "@byteport/core"
import * as CordonNode from "../actions/cordonNode"
import * as DrainNode from "../actions/drainNode"
import * as UncordonNode from "../actions/uncordonNode"
import type { PressureFacts } from "../classifiers/nodePressure"
import * as NodeGuards from "../guardrails/nodeGuards"
import * as Targets from "../targets/Targets"

/** The runbook id the plans belong to. */
export const RUNBOOK_ID = "k8s.node.pressure-drain"

/** Remediation settings. */
export interface PressureRemediation {
  /** The drain's timeout (seconds, 300). */
  readonly drainTimeoutSeconds: number
  /** Evict pods with emptyDir volumes (default false: such a pod stops the drain). */
  readonly deleteEmptyDirData: boolean
  readonly healthyDelaySeconds: number
  readonly recoveryTimeoutSeconds: number
  readonly pollSeconds: number
}

/** The defaults. */
export const defaults: PressureRemediation = {
  drainTimeoutSeconds: 300,
  deleteEmptyDirData: false,
  healthyDelaySeconds: NodeGuards.defaults.healthyDelaySeconds,
  recoveryTimeoutSeconds: NodeGuards.defaults.recoveryTimeoutSeconds,
  pollSeconds: NodeGuards.defaults.pollSeconds
}

/**
 * The cordon, drain and uncordon steps for a node (reused by other node runbooks). A node name
 * the API never holds (empty, not a DNS name) plans no action: the cordon step escalates and
 * the drain and uncordon steps are empty.
 */
export const cordonDrainSteps = (node: string, cluster: string, why: string, s: PressureRemediation = defaults, resourceVersion = "") => {
  const parsed = Targets.parseSync(TargetRef.make(Targets.NODE, `${cluster}/${node}`))
  if (parsed instanceof Targets.InvalidTargetRef || parsed._tag !== "Node" || parsed.name !== node) {
    const reason = parsed instanceof Targets.InvalidTargetRef ? parsed.message : `${JSON.stringify(node)} is not a node name`
    return { cordon: Plan.escalate(`node ${JSON.stringify(node)} in cluster ${JSON.stringify(cluster)} cannot be cordoned: ${reason}`), drain: Plan.seq(), uncordon: Plan.seq() }
  }
  const target = Targets.toTargetRef(parsed)
  const cordon = Plan.act(Action.make({
    kind: CordonNode.KIND,
    target,
    params: { node, reason: why },
    precondition: { resourceVersion },
    timeoutMs: 30_000,
    description: `cordon node ${node} (annotate ${NodeGuards.CORDONED_BY})`
  }))
  const drain = Plan.act(Action.make({
    kind: DrainNode.KIND,
    target,
    params: { node, ignoreDaemonSets: true, respectPodDisruptionBudgets: true, timeoutSeconds: s.drainTimeoutSeconds, deleteEmptyDirData: s.deleteEmptyDirData },
    precondition: { unschedulable: true },
    timeoutMs: (s.drainTimeoutSeconds + 30) * 1000,
    description: `drain node ${node} gracefully (ignoring DaemonSets, honouring PodDisruptionBudgets, never forced)`
  }))
  const params = { node, reason: why, healthyDelaySeconds: s.healthyDelaySeconds, recoveryTimeoutSeconds: s.recoveryTimeoutSeconds, pollSeconds: s.pollSeconds }
  const uncordon = Plan.act(Action.make({
    kind: UncordonNode.KIND,
    target,
    params,
    precondition: { cordonedBy: "this incident" },
    timeoutMs: UncordonNode.timeoutMsFor(params),
    description: `uncordon node ${node} once Ready and pressure-free for ${s.healthyDelaySeconds}s (else it stays cordoned after ${s.recoveryTimeoutSeconds}s and escalates)`
  }))
  return { cordon, drain, uncordon }
}

/** The plan. */
export const plan = (classification: Classification.Classified, facts: Fact.Facts<PressureFacts>, signal: Signal.Signal, s: PressureRemediation = defaults): Plan.Plan => {
  const node = Fact.value(facts.node)!
  const cluster = signal.target.ref.split("/")[0] ?? "default"
  const why = `${classification.class}: ${classification.reasons.join("; ")}`
  const { cordon, drain, uncordon } = cordonDrainSteps(node.name, cluster, why, s, node.resourceVersion)
  return Plan.make(RUNBOOK_ID, classification.class, `cordon, drain and (once healthy for ${s.healthyDelaySeconds}s) uncordon node ${node.name}`, Plan.seq(cordon, drain, uncordon))
}
