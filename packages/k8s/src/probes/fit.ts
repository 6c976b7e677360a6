/**
 * A scheduling fit check written from the Kubernetes scheduling rules (not from any simulator):
 * whether a pod template could run on a node, and every reason it could not. A node is a
 * candidate only when it is schedulable (not cordoned) and Ready. On a candidate, the pod is
 * excluded by:
 *
 * - `resources`: a request (containers summed, the largest init container if larger, plus
 *   `overhead`; one `pods` slot) above the node's allocatable minus what its non-terminated pods
 *   request;
 * - `taint`: a NoSchedule or NoExecute taint no toleration tolerates (`Exists` with an empty key
 *   tolerates every taint; an empty effect every effect);
 * - `affinity`: a `nodeSelector` label missing or different, or no term of the required node
 *   affinity (`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`; `matchFields` on
 *   `metadata.name`) matching.
 *
 * Storage and missing objects are the pod's, not a node's: the Pending facts add them.
 *
 * @example
 * ```ts
 * import { Fit } from "@byteport/k8s"
 * declare const template: Fit.FitPodSpec, node: Fit.FitNode
 * Fit.check(template, node, []).reasons // [{ category: "taint", detail: "untolerated taint dedicated=gpu:NoSchedule" }]
 * ```
 *
 * @since 0.3.0
 */
import * as Quantity from "../Quantity"

/** A quantity map (`requests`, `limits`, `allocatable`). */
export type Resources = { readonly [k: string]: string | number | undefined }

/** The container fields read. */
export interface FitContainer {
  readonly resources?: { readonly requests?: Resources | undefined; readonly limits?: Resources | undefined } | undefined
}

/** A node selector requirement (`matchExpressions`, `matchFields`). */
export interface Requirement {
  readonly key: string
  readonly operator: string
  readonly values?: ReadonlyArray<string> | undefined
}

/** A toleration. */
export interface Toleration {
  readonly key?: string | undefined
  readonly operator?: string | undefined
  readonly value?: string | undefined
  readonly effect?: string | undefined
}

/** The pod spec fields the fit check reads (a Pod's `spec` or a template's `spec`). */
export interface FitPodSpec {
  readonly containers?: ReadonlyArray<FitContainer> | undefined
  readonly initContainers?: ReadonlyArray<FitContainer> | undefined
  readonly overhead?: Resources | undefined
  readonly nodeSelector?: { readonly [k: string]: string } | undefined
  readonly tolerations?: ReadonlyArray<Toleration> | undefined
  readonly affinity?: {
    readonly nodeAffinity?: {
      readonly requiredDuringSchedulingIgnoredDuringExecution?: {
        readonly nodeSelectorTerms?: ReadonlyArray<{ readonly matchExpressions?: ReadonlyArray<Requirement> | undefined; readonly matchFields?: ReadonlyArray<Requirement> | undefined }> | undefined
      } | undefined
    } | undefined
  } | undefined
}

/** A taint. */
export interface Taint {
  readonly key: string
  readonly value?: string | undefined
  readonly effect: string
}

/** The node fields read. */
export interface FitNode {
  readonly metadata: { readonly name?: string | undefined; readonly labels?: { readonly [k: string]: string } | undefined }
  readonly spec?: { readonly unschedulable?: boolean | undefined; readonly taints?: ReadonlyArray<Taint> | undefined } | undefined
  readonly status?: {
    readonly allocatable?: Resources | undefined
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string }> | undefined
  } | undefined
}

/** A pod already on a node (its requests count against the node). */
export interface PlacedPod {
  readonly spec?: FitPodSpec | undefined
  readonly status?: { readonly phase?: string | undefined } | undefined
}

/** What excludes a candidate node. */
export type Category = "resources" | "taint" | "affinity"

/** One reason a node cannot take the pod. */
export interface Exclusion {
  readonly category: Category
  readonly detail: string
  /** For `resources`: the resource. */
  readonly resource?: string | undefined
}

/** The fit of a pod on one node. */
export interface NodeFit {
  readonly node: string
  /** False for a cordoned or NotReady node: it is no candidate at all. */
  readonly candidate: boolean
  readonly notCandidate: "cordoned" | "not_ready" | null
  /** Why a candidate cannot take the pod (empty: it fits). */
  readonly reasons: ReadonlyArray<Exclusion>
}

const q = (v: string | number | undefined): number => Quantity.parse(v) ?? 0

// The objects come from a cluster, a recording or a fixture and may carry anything: a list that is
// not an array reads as empty (its null elements skipped), a map that is not an object as empty, so
// a fit never throws on a retyped field
const list = <T>(v: ReadonlyArray<T> | null | undefined): ReadonlyArray<T> =>
  Array.isArray(v) ? v.filter((x) => x !== null && x !== undefined) : []
const record = <T extends object>(v: T | null | undefined): Partial<T> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? v : {}

/** The effective requests of a pod spec (cpu in cores, memory in bytes, extended resources as counts), `pods: 1` included. */
export const podRequests = (spec: FitPodSpec | undefined): Record<string, number> => {
  const sum: Record<string, number> = {}
  const of = (c: FitContainer): Record<string, number> => {
    const out: Record<string, number> = {}
    const req: Record<string, string | number | undefined> = record(c?.resources?.requests)
    const lim: Record<string, string | number | undefined> = record(c?.resources?.limits)
    // a limit without a request defaults the request to the limit
    for (const k of new Set([...Object.keys(req), ...Object.keys(lim)])) out[k] = q(req[k] ?? lim[k])
    return out
  }
  for (const c of list(spec?.containers)) for (const [k, v] of Object.entries(of(c))) sum[k] = (sum[k] ?? 0) + v
  for (const c of list(spec?.initContainers)) for (const [k, v] of Object.entries(of(c))) sum[k] = Math.max(sum[k] ?? 0, v)
  for (const [k, v] of Object.entries(record(spec?.overhead))) sum[k] = (sum[k] ?? 0) + q(v)
  sum["pods"] = 1
  return sum
}

/** Whether a node is a candidate: not cordoned and Ready. */
export const candidacy = (node: FitNode): "cordoned" | "not_ready" | null => {
  if (node.spec?.unschedulable === true) return "cordoned"
  const ready = list(node.status?.conditions).find((c) => c.type === "Ready")
  return ready?.status === "True" ? null : "not_ready"
}

/** Whether a toleration tolerates a taint. */
export const tolerates = (t: Toleration, taint: Taint): boolean => {
  if (t.effect && t.effect !== taint.effect) return false
  if ((t.operator ?? "Equal") === "Exists") return !t.key || t.key === taint.key
  return (t.key ?? "") === taint.key && (t.value ?? "") === (taint.value ?? "")
}

/** The NoSchedule / NoExecute taints of a node no toleration tolerates. */
export const untoleratedTaints = (node: FitNode, tolerations: ReadonlyArray<Toleration> = []): ReadonlyArray<Taint> =>
  list(node.spec?.taints).filter((taint) => (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !list(tolerations).some((t) => tolerates(t, taint)))

const requirementMatches = (r: Requirement, value: string | undefined): boolean => {
  const values = list(r.values)
  switch (r.operator) {
    case "In":
      return value !== undefined && values.includes(value)
    case "NotIn":
      return value === undefined || !values.includes(value)
    case "Exists":
      return value !== undefined
    case "DoesNotExist":
      return value === undefined
    case "Gt":
    case "Lt": {
      const a = Number(value)
      const b = Number(values[0])
      if (value === undefined || !Number.isInteger(a) || !Number.isInteger(b)) return false
      return r.operator === "Gt" ? a > b : a < b
    }
    default:
      return false
  }
}

/** Why the node's labels fail the pod's nodeSelector and required node affinity (empty: they match). */
export const affinityMismatches = (spec: FitPodSpec, node: FitNode): ReadonlyArray<string> => {
  const labels: Record<string, string | undefined> = record(node.metadata?.labels)
  const out: Array<string> = []
  for (const [k, v] of Object.entries(record(spec.nodeSelector))) {
    if (labels[k] !== v) out.push(`nodeSelector ${k}=${v} (node has ${labels[k] === undefined ? "no such label" : `${k}=${labels[k]}`})`)
  }
  const terms = list(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms)
  if (terms.length > 0) {
    const termMatches = terms.some((t) =>
      list(t.matchExpressions).every((r) => requirementMatches(r, labels[r.key])) &&
      list(t.matchFields).every((r) => r.key === "metadata.name" && requirementMatches(r, node.metadata?.name))
    )
    if (!termMatches) out.push("required node affinity (no nodeSelectorTerm matches)")
  }
  return out
}

/** What the pods on a node request in total (terminated pods free their requests). */
export const requestedOn = (pods: ReadonlyArray<PlacedPod>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const p of pods) {
    if (p.status?.phase === "Succeeded" || p.status?.phase === "Failed") continue
    for (const [k, v] of Object.entries(podRequests(p.spec))) out[k] = (out[k] ?? 0) + v
  }
  return out
}

const fmt = (resource: string, n: number): string =>
  resource === "cpu" ? `${Math.round(n * 1000)}m` : resource === "memory" || resource.startsWith("hugepages-") || resource === "ephemeral-storage" ? Quantity.formatBytes(n) : String(n)

/** The requests above what the node has free. */
export const shortfalls = (spec: FitPodSpec, node: FitNode, podsOnNode: ReadonlyArray<PlacedPod>): ReadonlyArray<Exclusion> => {
  const want = podRequests(spec)
  const used = requestedOn(podsOnNode)
  const alloc: Record<string, string | number | undefined> = record(node.status?.allocatable)
  const out: Array<Exclusion> = []
  for (const [resource, n] of Object.entries(want)) {
    if (n <= 0) continue
    const cap = alloc[resource]
    // pods: a node that reports no pod capacity is not limited by it
    if (cap === undefined && resource === "pods") continue
    const free = q(cap) - (used[resource] ?? 0)
    if (n > free + 1e-9) out.push({ category: "resources", resource, detail: `Insufficient ${resource}: requests ${fmt(resource, n)}, ${fmt(resource, Math.max(0, free))} free of ${fmt(resource, q(cap))}` })
  }
  return out
}

/** The fit of a pod spec on a node, given the pods already there. */
export const check = (spec: FitPodSpec, node: FitNode, podsOnNode: ReadonlyArray<PlacedPod>): NodeFit => {
  const name = nameOf(node)
  const notCandidate = candidacy(node)
  if (notCandidate !== null) return { node: name, candidate: false, notCandidate, reasons: [] }
  const reasons: Array<Exclusion> = [
    ...untoleratedTaints(node, spec.tolerations ?? []).map((t): Exclusion => ({ category: "taint", detail: `untolerated taint ${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}` })),
    ...affinityMismatches(spec, node).map((d): Exclusion => ({ category: "affinity", detail: d })),
    ...shortfalls(spec, node, podsOnNode)
  ]
  return { node: name, candidate: true, notCandidate: null, reasons }
}

/** The fit on every node (the pods list is the cluster's; each node counts the pods bound to it, the pod itself excluded by `self`). */
export const checkAll = (
  spec: FitPodSpec,
  nodes: ReadonlyArray<FitNode>,
  pods: ReadonlyArray<PlacedPod & { readonly metadata?: { readonly uid?: string | undefined; readonly name?: string | undefined } | undefined; readonly spec?: (FitPodSpec & { readonly nodeName?: string | undefined }) | undefined }>,
  self?: { readonly uid?: string | undefined; readonly name?: string | undefined }
): ReadonlyArray<NodeFit> =>
  [...list(nodes)]
    .sort((a, b) => nameOf(a).localeCompare(nameOf(b)))
    .map((n) => check(spec, n, list(pods).filter((p) => p.spec?.nodeName === nameOf(n) && !(self && ((self.uid && p.metadata?.uid === self.uid) || (!self.uid && p.metadata?.name === self.name))))))

const nameOf = (n: FitNode): string => (typeof n.metadata?.name === "string" ? n.metadata.name : "")

/** Whether the spec fits some candidate node. */
export const fitsSomewhere = (fits: ReadonlyArray<NodeFit>): boolean => fits.some((f) => f.candidate && f.reasons.length === 0)
