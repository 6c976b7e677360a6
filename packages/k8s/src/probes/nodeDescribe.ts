/**
 * `kubectl describe node` → `NodeDescription`: conditions (with Ready's `NetworkReady=false`),
 * allocatable vs capacity, taints, control-plane role, providerID and the node's recent Events.
 * `describe` is pure over `kubectl get node -o json` (what golden tests record); `probe` reads
 * the node (from the shared watch's cache when it holds it) and its Events.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import type { ConditionFacts, NodeDescription } from "../classifiers/nodeNotReady"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import { getNodeWire } from "./nodeFacts"

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === "string" && v.length > 0 ? v : null)
const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null)


/** A node as JSON (`kubectl get node -o json`, or a client-node V1Node). */
export interface NodeJson {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string | undefined; readonly labels?: Readonly<Record<string, string>> | undefined }
  readonly spec?: { readonly providerID?: string | undefined; readonly unschedulable?: boolean | undefined; readonly taints?: ReadonlyArray<{ readonly key: string; readonly effect: string; readonly value?: string | undefined }> | undefined } | undefined
  readonly status?: {
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string; readonly reason?: string | undefined; readonly message?: string | undefined; readonly lastTransitionTime?: unknown }> | undefined
    readonly allocatable?: Readonly<Record<string, string>> | undefined
    readonly capacity?: Readonly<Record<string, string>> | undefined
  } | undefined
}

/** An Event of the node, as JSON. */
export interface NodeEventJson {
  readonly type?: string | undefined
  readonly reason?: string | undefined
  readonly message?: string | undefined
  readonly lastTimestamp?: unknown
  readonly eventTime?: unknown
  readonly firstTimestamp?: unknown
}

/** Whether a node is a control-plane node. */
export const isControlPlane = (node: NodeJson): boolean => NodeGuards.CONTROL_PLANE_LABELS.some((l) => node.metadata.labels?.[l] !== undefined)

/** The description of a node from its JSON and Events (the last 20 kept, oldest first). */
export const describe = (node: NodeJson, events: ReadonlyArray<NodeEventJson> = []): NodeDescription => {
  const conditions: Record<string, ConditionFacts> = {}
  for (const c of node.status?.conditions ?? []) {
    conditions[c.type] = { status: c.status, reason: str(c.reason), message: str(c.message), lastTransitionTime: iso(c.lastTransitionTime) }
  }
  const is = (t: string) => conditions[t]?.status === "True"
  const evs = events
    .map((e) => ({ type: e.type ?? "Normal", reason: e.reason ?? "", message: e.message ?? "", at: iso(e.lastTimestamp) ?? iso(e.eventTime) ?? iso(e.firstTimestamp) }))
    .sort((a, b) => (a.at ?? "").localeCompare(b.at ?? ""))
    .slice(-20)
  return {
    name: node.metadata.name,
    resourceVersion: node.metadata.resourceVersion ?? "",
    providerID: str(node.spec?.providerID),
    unschedulable: node.spec?.unschedulable === true,
    controlPlane: isControlPlane(node),
    conditions,
    memoryPressure: is("MemoryPressure"),
    diskPressure: is("DiskPressure"),
    pidPressure: is("PIDPressure"),
    networkUnavailable: is("NetworkUnavailable"),
    networkReadyFalse: /NetworkReady=false/.test(conditions["Ready"]?.message ?? ""),
    allocatable: { ...(node.status?.allocatable ?? {}) },
    capacity: { ...(node.status?.capacity ?? {}) },
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
    events: evs
  }
}

/** The describe-node probe: the node and its Events (Events that cannot be read leave the list empty). */
export const probe = (name: string): Effect.Effect<NodeDescription, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const node = yield* getNodeWire(name)
    const events = yield* kube.listEvents({ fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}` }).pipe(Effect.orElseSucceed(() => []))
    return describe(node as unknown as NodeJson, events as unknown as ReadonlyArray<NodeEventJson>)
  })
