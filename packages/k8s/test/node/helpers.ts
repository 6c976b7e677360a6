/**
 * Helpers of the node suites: a GuardrailContext for a node action, nodes as the API returns
 * them, and a Kube whose nodes live in a mutable map (for guardrail unit and property tests).
 */
import type { V1Node } from "@kubernetes/client-node"
import { Action, Classification, type Guardrail, Plan } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as KubeM from "../../src/Kube"
import { KubeNotFound } from "../../src/KubeError"
import * as Targets from "../../src/targets/Targets"

/** A node. */
export const node = (name: string, o: {
  readonly ready?: "True" | "False" | "Unknown"
  readonly readySince?: string
  readonly pressure?: ReadonlyArray<string>
  readonly cordoned?: boolean
  readonly cordonedBy?: string
  readonly labels?: Record<string, string>
  readonly providerID?: string
} = {}): V1Node => ({
  metadata: {
    name,
    resourceVersion: "1",
    labels: { "kubernetes.io/hostname": name, ...o.labels },
    ...(o.cordonedBy ? { annotations: { "byteport.io/cordoned-by": o.cordonedBy } } : {})
  },
  spec: { ...(o.cordoned ? { unschedulable: true } : {}), ...(o.providerID ? { providerID: o.providerID } : {}) },
  status: {
    conditions: [
      ...["MemoryPressure", "DiskPressure", "PIDPressure"].map((t) => ({ type: t, status: o.pressure?.includes(t) ? "True" : "False", lastTransitionTime: new Date(o.readySince ?? "2026-01-01T00:00:00Z"), reason: "r" })),
      { type: "Ready", status: o.ready ?? "True", lastTransitionTime: new Date(o.readySince ?? "2026-01-01T00:00:00Z"), reason: "r" }
    ]
  }
} as unknown as V1Node)

/** A Kube over a mutable map of nodes (getNode, listNodes). */
export const fakeKube = (nodes: Map<string, V1Node>) =>
  Layer.mock(KubeM.Kube)({
    clusterName: "prod",
    defaultNamespace: "default",
    kubeConfig: undefined as never,
    readApis: undefined as never,
    getNode: (name: string) => {
      const n = nodes.get(name)
      return n ? Effect.succeed(n) : Effect.fail(new KubeNotFound({ message: `nodes "${name}" not found`, status: 404, reason: "NotFound" } as never))
    },
    listNodes: () => Effect.succeed([...nodes.values()])
  })

/** A GuardrailContext for a node action. */
export const ctx = (kind: string, nodeName: string, o: { readonly incidentId?: string; readonly params?: Json.JsonObject; readonly now?: number } = {}): Guardrail.GuardrailContext => {
  const target = Targets.node({ cluster: "prod", name: nodeName })
  const action = Action.make({ kind, target, params: { node: nodeName, ...o.params }, description: `${kind} ${nodeName}` })
  const plan = Plan.make("k8s.node.pressure-drain", "memory_pressure", "test", Plan.act(action))
  const now = o.now ?? Date.parse("2026-01-01T01:00:00Z")
  return {
    incidentId: o.incidentId ?? "inc-1",
    runbook: "k8s.node.pressure-drain",
    mode: "auto",
    signal: { type: "k8s.node.not_ready", target, observedAt: now, evidence: { node: nodeName } },
    classification: Classification.classified("memory_pressure", 0.85),
    facts: {},
    plan,
    planDigest: Plan.digest(plan),
    action,
    stepPath: "0",
    now,
    baseline: {}
  }
}
