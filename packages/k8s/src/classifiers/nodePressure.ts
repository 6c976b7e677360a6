/**
 * k8s.node.pressure-drain: facts and the first-match classifier. The seed names the four
 * conditions ("NotReady, MemoryPressure, DiskPressure, or PIDPressure") and one remedy for all
 * (cordon, graceful drain, restore schedulability once the node recovers); it gives no
 * confidences, so this runbook documents one per rule (≥ 0.70), in the seed's order:
 *
 * | class | when | confidence |
 * |---|---|---|
 * | `node_not_ready` | Ready is False or Unknown | 0.80 |
 * | `memory_pressure` | MemoryPressure True | 0.85 |
 * | `disk_pressure` | DiskPressure True | 0.85 |
 * | `pid_pressure` | PIDPressure True | 0.85 |
 *
 * A node that shows none of them by diagnosis time is Unclassified (escalate, nothing touched).
 *
 * @since 0.2.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { Classifier } from "@byteport/core"
import * as NodeGuards from "../guardrails/nodeGuards"

/** What the runbook knows about the node. */
export interface NodeState {
  readonly name: string
  readonly resourceVersion: string
  /** Ready's status: True, False, Unknown, or absent. */
  readonly ready: string
  readonly memoryPressure: boolean
  readonly diskPressure: boolean
  readonly pidPressure: boolean
  readonly cordoned: boolean
  /** `byteport.io/cordoned-by`, when present. */
  readonly cordonedBy: string | null
  readonly controlPlane: boolean
  readonly providerID: string | null
}

/** The cluster's nodes, for the blast radius. */
export interface ClusterState {
  readonly total: number
  /** NotReady or unschedulable nodes, with why. */
  readonly unavailable: ReadonlyArray<string>
}

/** The facts. */
export interface PressureFacts {
  readonly node: NodeState
  readonly cluster: ClusterState
}

/** The classes. */
export type PressureClass = "node_not_ready" | "memory_pressure" | "disk_pressure" | "pid_pressure"

/** `NodeState` from a Node. */
export const nodeState = (n: V1Node): NodeState => {
  const cond = (t: string) => NodeGuards.condition(n, t)
  // a field of the wrong type (the object is typed by client-node, not decoded) reads as absent
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null)
  return {
    name: str(n.metadata?.name) ?? "",
    resourceVersion: str(n.metadata?.resourceVersion) ?? "",
    ready: cond("Ready") ?? "absent",
    memoryPressure: cond("MemoryPressure") === "True",
    diskPressure: cond("DiskPressure") === "True",
    pidPressure: cond("PIDPressure") === "True",
    cordoned: NodeGuards.isCordoned(n),
    cordonedBy: str(NodeGuards.cordonedBy(n)),
    controlPlane: NodeGuards.isControlPlane(n),
    providerID: str(n.spec?.providerID)
  }
}

/** `ClusterState` from every node. */
export const clusterState = (nodes: ReadonlyArray<V1Node>): ClusterState => ({
  total: nodes.length,
  unavailable: nodes.flatMap((n) => {
    const why = NodeGuards.unavailableReason(n)
    return why ? [`${n.metadata?.name ?? "?"} (${why})`] : []
  })
})

/** Confidences per class (configurable through `Classifier.firstMatch`'s `confidences`). */
export const confidences: Record<PressureClass, number> = { node_not_ready: 0.8, memory_pressure: 0.85, disk_pressure: 0.85, pid_pressure: 0.85 }

const rule = Classifier.rule<PressureFacts>()

/** The rules, in the seed's order. */
export const rules: ReadonlyArray<Classifier.Rule<PressureFacts>> = [
  rule({
    class: "node_not_ready",
    confidence: confidences.node_not_ready,
    needs: ["node"],
    when: ({ node }) => ({ matched: node.ready !== "True", reasons: [`${node.name} Ready=${node.ready}`], evidence: { ready: node.ready } })
  }),
  rule({
    class: "memory_pressure",
    confidence: confidences.memory_pressure,
    needs: ["node"],
    when: ({ node }) => ({ matched: node.memoryPressure, reasons: [`${node.name} MemoryPressure=True`] })
  }),
  rule({
    class: "disk_pressure",
    confidence: confidences.disk_pressure,
    needs: ["node"],
    when: ({ node }) => ({ matched: node.diskPressure, reasons: [`${node.name} DiskPressure=True`] })
  }),
  rule({
    class: "pid_pressure",
    confidence: confidences.pid_pressure,
    needs: ["node"],
    when: ({ node }) => ({ matched: node.pidPressure, reasons: [`${node.name} PIDPressure=True`] })
  })
]

/** The classifier (first match, minimum confidence 0.70). */
export const classify = (options: Classifier.FirstMatchOptions = {}): Classifier.Classifier<PressureFacts> => Classifier.firstMatch(rules, { minConfidence: 0.7, ...options })
