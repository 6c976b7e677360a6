/**
 * The plans of k8s.node.not-ready, one per class, cordon first (the seed's Remediate line):
 *
 * - transient_kubelet_hang → cordon → `k8s.restartNodeUnit` kubelet;
 * - runtime_crash → cordon → drain → restart containerd/crio → restart kubelet;
 * - resource_pressure_disk → cordon → drain → `k8s.pruneNodeImages` → `k8s.deleteEvictedPods` → restart kubelet;
 * - resource_pressure_mem_pid → cordon → drain → restart kubelet; if node memory is still ≥ 95%
 *   (a `k8s.node.memory-below` check): node replacement when `BYTEPORT_AUTO_REPLACE_NODES=true`
 *   (`remediators/nodeReplacement.ts`: the guarded `k8s.requestNodeReplacement` reservation, then
 *   core's node-replacement-requested hand-off, awaited), else escalate;
 * - network_plugin_failure → cordon → `k8s.recreateCniPod` (the node's flannel/calico/cilium/weave
 *   pod, uid precondition); no CNI pod found → escalate;
 * - hardware_cloud_failure → cordon → escalate with the full bundle; with auto-replace on:
 *   cordon → drain → replacement hand-off (awaited) → escalate (always a human).
 *
 * Every repair plan then waits for the node to be Ready and pressure-free (`k8s.node.healthy`,
 * up to 5 minutes) and uncordons it (`k8s.uncordonNode`: only a node this incident cordoned, after
 * `healthyDelaySeconds` Ready and pressure-free; not recovered by `recoveryTimeoutSeconds` → stays
 * cordoned, escalates). A control-plane node is never cordoned or drained: escalate.
 *
 * @since 0.2.0
 */
import { Action, type Classification, Fact, Plan, type Signal } from "@byteport/core"
import type { NodeDescription, NodeNotReadyClass, NodeNotReadyFacts, RuntimeFacts } from "../classifiers/nodeNotReady"
import type { CniPod } from "../actions/recreateCniPod"
import * as NodeReplacement from "./nodeReplacement"
import { clusterOf, nodeTarget } from "./oom"

/** The runbook id the plans belong to. */
export const RUNBOOK_ID = "k8s.node.not-ready"

/** The action kinds the plans use. */
export const ActionKinds = {
  cordonNode: "k8s.cordonNode",
  drainNode: "k8s.drainNode",
  uncordonNode: "k8s.uncordonNode",
  restartNodeUnit: "k8s.restartNodeUnit",
  pruneNodeImages: "k8s.pruneNodeImages",
  deleteEvictedPods: "k8s.deleteEvictedPods",
  recreateCniPod: "k8s.recreateCniPod"
} as const

/** The check kinds the plans use (registered by `checks()` in `verifiers/nodeNotReady.ts`). */
export const CheckKinds = {
  healthy: "k8s.node.healthy",
  memoryBelow: "k8s.node.memory-below"
} as const

/** Remediation settings (every number in the seed is a default). */
export interface NodeRemediation {
  /** A drain's overall timeout in seconds. Default 300. */
  readonly drainTimeoutSeconds: number
  /** `BYTEPORT_AUTO_REPLACE_NODES`: request a node replacement (hardware, memory still high). Default false. */
  readonly autoReplaceNodes: boolean
  /** resource_pressure_mem_pid: node memory at or above this share after the restart → replace or escalate. Default 0.95. */
  readonly memoryReplaceRatio: number
  /** How long the plan waits for the node to be Ready and pressure-free before the uncordon, seconds. Default 300. */
  readonly readyTimeoutSeconds: number
  /** How long the parent waits for a replacement's report, seconds. Default 1800. */
  readonly replaceAwaitSeconds: number
  /** Uncordon at the end of a repair (default true). */
  readonly uncordon: boolean
  /** `k8s.uncordonNode`: Ready and pressure-free this long before the uncordon, seconds (a flap restarts it). Default 300. */
  readonly healthyDelaySeconds: number
  /** `k8s.uncordonNode`: not recovered by then → stays cordoned, escalates, seconds. Default 1800. */
  readonly recoveryTimeoutSeconds: number
}

/** The defaults. */
export const defaults: NodeRemediation = {
  drainTimeoutSeconds: 300,
  autoReplaceNodes: false,
  memoryReplaceRatio: 0.95,
  readyTimeoutSeconds: 300,
  replaceAwaitSeconds: 1800,
  uncordon: true,
  healthyDelaySeconds: 300,
  recoveryTimeoutSeconds: 1800
}

/** The node's CNI pod, found by the diagnoser (null: none on the node). */
export type CniPodFacts = CniPod | null

/** Facts the plans read (the classifier's, plus the node's CNI pod). */
export type PlanFacts = NodeNotReadyFacts & { readonly cniPod: CniPodFacts }

/** Builds the plan for a classification. */
export const plan = (
  classification: Classification.Classified,
  facts: Fact.Facts<PlanFacts>,
  signal: Signal.Signal,
  s: NodeRemediation = defaults
): Plan.Plan => {
  const cls = classification.class as NodeNotReadyClass
  const node = Fact.value(facts.node) as NodeDescription | undefined
  const name = node?.name ?? String(signal.evidence["node"] ?? signal.target.ref.split("/").pop())
  const target = nodeTarget(name, clusterOf(signal.target))
  const mk = (summary: string, root: Plan.Step) => Plan.make(RUNBOOK_ID, cls, summary, root)
  if (!node) return mk(`escalate: node ${name} could not be described`, Plan.escalate(`node ${name} could not be described: nothing is cordoned on a guess`))
  if (node.controlPlane) {
    return mk(`escalate: ${name} is a control-plane node`, Plan.escalate(`${cls} on control-plane node ${name}: BytePort never cordons, drains or restarts units on a control-plane node`, nextStepsFor(cls, name)))
  }
  const why = `${cls}: ${classification.reasons[0] ?? ""}`.slice(0, 300)
  const cordon = Plan.act(Action.make({
    kind: ActionKinds.cordonNode,
    target,
    params: { node: name, reason: why },
    precondition: { resourceVersion: node.resourceVersion },
    timeoutMs: 30_000,
    description: `cordon node ${name}`
  }))
  const drain = Plan.act(Action.make({
    kind: ActionKinds.drainNode,
    target,
    params: { node: name, ignoreDaemonSets: true, respectPodDisruptionBudgets: true, timeoutSeconds: s.drainTimeoutSeconds },
    precondition: { unschedulable: true },
    timeoutMs: (s.drainTimeoutSeconds + 30) * 1000,
    description: `drain node ${name} (ignoring DaemonSets, honouring PodDisruptionBudgets)`
  }))
  const restart = (unit: string) => Plan.act(Action.make({
    kind: ActionKinds.restartNodeUnit,
    target,
    params: { node: name, unit, reason: why },
    timeoutMs: 180_000,
    description: `systemctl restart ${unit} on node ${name}`
  }))
  const healthy = Plan.waitFor(
    Plan.check(CheckKinds.healthy, target, { node: name }, `node ${name} Ready with no pressure condition`),
    { timeoutMs: s.readyTimeoutSeconds * 1000, intervalMs: 15_000 }
  )
  const uncordon = Plan.act(Action.make({
    kind: ActionKinds.uncordonNode,
    target,
    params: { node: name, reason: `${cls} repaired`, healthyDelaySeconds: s.healthyDelaySeconds, recoveryTimeoutSeconds: s.recoveryTimeoutSeconds },
    timeoutMs: (s.recoveryTimeoutSeconds + 120) * 1000,
    description: `uncordon node ${name} once Ready and pressure-free for the healthy delay`
  }))
  const finish: ReadonlyArray<Plan.Step> = s.uncordon ? [healthy, uncordon] : [healthy]
  const cluster = clusterOf(signal.target)
  // the shared node-replacement step: a guarded reservation (opt-in, providerID, no control plane,
  // 1 in flight and 2 per 24 h per cluster), then the awaited hand-off; denied → escalate
  const replace = (reason: string) =>
    NodeReplacement.stepOrEscalate({ node: name, cluster, reason, observedAt: signal.observedAt, await: `${s.replaceAwaitSeconds} seconds`, source: RUNBOOK_ID, providerID: node?.providerID }, nextStepsFor(cls, name))
  switch (cls) {
    case "transient_kubelet_hang":
      return mk(`cordon ${name}, restart kubelet`, Plan.seq(cordon, restart("kubelet"), ...finish))
    case "runtime_crash": {
      const rt = Fact.value(facts.runtime) as RuntimeFacts | undefined
      const unit = rt?.name ?? "containerd"
      return mk(`cordon and drain ${name}, restart ${unit} then kubelet`, Plan.seq(cordon, drain, restart(unit), restart("kubelet"), ...finish))
    }
    case "resource_pressure_disk": {
      const prune = Plan.act(Action.make({
        kind: ActionKinds.pruneNodeImages,
        target,
        params: { node: name, tool: "cri", reason: why },
        timeoutMs: 360_000,
        description: `crictl rmi --prune on node ${name}`
      }))
      const evicted = Plan.act(Action.make({
        kind: ActionKinds.deleteEvictedPods,
        target,
        params: { node: name, reason: why },
        timeoutMs: 120_000,
        description: `delete the evicted pods on node ${name}`
      }))
      return mk(`cordon and drain ${name}, prune images, delete evicted pods, restart kubelet`, Plan.seq(cordon, drain, prune, evicted, restart("kubelet"), ...finish))
    }
    case "resource_pressure_mem_pid": {
      const pct = Math.round(s.memoryReplaceRatio * 100)
      const still = `node ${name} memory still ≥ ${pct}% after the drain and kubelet restart`
      const otherwise = s.autoReplaceNodes
        ? Plan.seq(replace(`${still}: replace it`), Plan.escalate(`${still}: replacement requested`, nextStepsFor(cls, name)))
        : Plan.escalate(`${still}; automatic node replacement is off (BYTEPORT_AUTO_REPLACE_NODES)`, nextStepsFor(cls, name))
      return mk(
        `cordon and drain ${name}, restart kubelet; memory still ≥ ${pct}% → ${s.autoReplaceNodes ? "replace" : "escalate"}`,
        Plan.seq(
          cordon,
          Plan.fallback(Plan.seq(drain, restart("kubelet")), otherwise, {
            on: ["check"],
            check: Plan.check(CheckKinds.memoryBelow, target, { node: name, ratio: s.memoryReplaceRatio }, `node ${name} memory below ${pct}%`)
          }),
          ...finish
        )
      )
    }
    case "network_plugin_failure": {
      const cni = Fact.value(facts.cniPod) as CniPodFacts | undefined
      if (!cni) {
        return mk(`escalate: no CNI pod on ${name}`, Plan.seq(cordon, Plan.escalate(`network plugin failure on ${name} but no flannel/calico/cilium/weave pod was found on it`, nextStepsFor(cls, name))))
      }
      const recreate = Plan.act(Action.make({
        kind: ActionKinds.recreateCniPod,
        target,
        params: { node: name, plugin: cni.plugin, namespace: cni.namespace, pod: cni.pod, uid: cni.uid, daemonSet: cni.daemonSet, reason: why },
        precondition: { uid: cni.uid },
        timeoutMs: 180_000,
        description: `recreate ${cni.plugin} pod ${cni.namespace}/${cni.pod} on node ${name}`
      }))
      return mk(`cordon ${name}, recreate its ${cni.plugin} pod`, Plan.seq(cordon, recreate, ...finish))
    }
    case "hardware_cloud_failure": {
      const reason = `hardware or cloud failure on node ${name}: ${classification.reasons.join("; ")}`.slice(0, 600)
      if (s.autoReplaceNodes) {
        return mk(`cordon and drain ${name}, request its replacement, escalate`, Plan.seq(cordon, drain, replace(reason), Plan.escalate(`${reason} (replacement requested)`, nextStepsFor(cls, name))))
      }
      return mk(`cordon ${name}, escalate with the full bundle`, Plan.seq(cordon, Plan.escalate(reason, nextStepsFor(cls, name))))
    }
  }
}

/** Suggested next steps per class. */
export const nextStepsFor = (cls: string | undefined, node: string): ReadonlyArray<string> => {
  switch (cls) {
    case "hardware_cloud_failure":
      return [`check the cloud console / BMC of ${node} for hardware events`, `replace ${node} (or set BYTEPORT_AUTO_REPLACE_NODES=true)`]
    case "network_plugin_failure":
      return [`check the CNI DaemonSet's logs on ${node}`, "check /etc/cni/net.d on the node"]
    case "resource_pressure_mem_pid":
      return [`find the pods or host processes exhausting memory/PIDs on ${node}`, `replace ${node} if it does not recover`]
    default:
      return [`kubectl describe node ${node}`, `journalctl -u kubelet on ${node}`]
  }
}
