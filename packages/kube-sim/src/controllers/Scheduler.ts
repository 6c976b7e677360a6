/**
 * The default scheduler: filters nodes the way the real plugins do (NodeUnschedulable,
 * TaintToleration, NodeAffinity/nodeSelector, NodeResourcesFit, VolumeBinding), scores by
 * least-allocated, binds, and reports failures with the real FailedScheduling message.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodActive } from "./context"
import { podRequests } from "./Kubelet"
import { tryQuantity } from "./quantity"
import { R, clone, mutateIfChanged, sorted, setCondition, type Json } from "./util"

const SCHEDULER = "default-scheduler"
const RETRY_MS = 5 * 60_000

/** A taint on a node. */
interface Taint { key: string; value?: string; effect: string }

/** Does a toleration tolerate a taint? */
export const tolerates = (tol: Json, t: Taint): boolean => {
  if (tol["effect"] && tol["effect"] !== t.effect) return false
  if (tol["operator"] === "Exists") return tol["key"] === undefined || tol["key"] === "" || tol["key"] === t.key
  return tol["key"] === t.key && (tol["value"] ?? "") === (t.value ?? "")
}

const matchExpr = (e: Json, labels: Record<string, string>): boolean => {
  const has = e["key"] in labels
  const v = labels[e["key"]]
  const vals = (e["values"] ?? []) as Array<string>
  switch (e["operator"]) {
    case "In": return has && vals.includes(v!)
    case "NotIn": return !has || !vals.includes(v!)
    case "Exists": return has
    case "DoesNotExist": return !has
    case "Gt": return has && Number(v) > Number(vals[0])
    case "Lt": return has && Number(v) < Number(vals[0])
    default: return false
  }
}

/** Does the pod's nodeSelector and required node affinity accept the node? */
export const nodeAffinityMatches = (pod: KubeObject, node: KubeObject): boolean => {
  const spec = (pod["spec"] ?? {}) as Json
  const labels = node.metadata.labels ?? {}
  const sel = (spec["nodeSelector"] ?? {}) as Record<string, string>
  for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) return false
  const req = ((((spec["affinity"] as Json | undefined)?.["nodeAffinity"] as Json | undefined)?.["requiredDuringSchedulingIgnoredDuringExecution"]) as Json | undefined)
  const terms = (req?.["nodeSelectorTerms"] ?? []) as Array<Json>
  if (terms.length === 0) return true
  return terms.some((t) => {
    const exprs = (t["matchExpressions"] ?? []) as Array<Json>
    const fields = (t["matchFields"] ?? []) as Array<Json>
    if (exprs.length === 0 && fields.length === 0) return false
    return exprs.every((e) => matchExpr(e, labels)) && fields.every((e) => matchExpr(e, { "metadata.name": node.metadata.name }))
  })
}

/** Taints of a node. */
export const taintsOf = (node: KubeObject): Array<Taint> => (((node["spec"] as Json | undefined)?.["taints"] ?? []) as Array<Taint>)

/** Sort reason histogram strings the way the scheduler's FitError does. */
const histogram = (reasons: Map<string, number>): string =>
  [...reasons.entries()].map(([r, n]) => `${n} ${r}`).sort().join(", ")

/** Requests of the non-terminal pods on a node, and its active pods per owner uid. */
interface NodeUsage { cpu: number; memory: number; pods: number; owners: Map<string, number> }

const EMPTY_USAGE: NodeUsage = { cpu: 0, memory: 0, pods: 0, owners: new Map() }

/** The scheduler. */
export class Scheduler {
  private lastMessage = new Map<string, { msg: string; at: number }>()
  /** Per-reconcile index: requests of non-terminal pods and active pods per owner uid, by node (kept current across binds). */
  private index: Map<string, NodeUsage> | undefined
  /** Parsed allocatable per node object (objects are immutable store values). */
  private capacities = new WeakMap<KubeObject, { cpuCap: number | undefined; memCap: number | undefined; maxPods: number }>()
  private lastRequests: { pod: KubeObject; req: { cpu: number; memory: number } } | undefined
  /** Per-reconcile sorted node list. */
  private nodes: Array<KubeObject> | undefined

  /** Build the scheduler over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Schedule every pending pod. */
  reconcile(): void {
    const ctx = this.ctx
    const all = ctx.store.list(R.pods)
    const pending = sorted(all.filter((p) => {
      const spec = (p["spec"] ?? {}) as Json
      return !spec["nodeName"] && isPodActive(p) && ((spec["schedulerName"] as string | undefined) ?? SCHEDULER) === SCHEDULER
    }))
    if (pending.length === 0) return
    // oldest first (FIFO by creation), then by name
    pending.sort((a, b) => String(a.metadata.creationTimestamp ?? "").localeCompare(String(b.metadata.creationTimestamp ?? "")))
    this.index = new Map()
    for (const p of all) {
      const node = ((p["spec"] ?? {}) as Json)["nodeName"] as string | undefined
      if (node) this.account(node, p)
    }
    this.nodes = sorted(ctx.store.list(R.nodes))
    try {
      for (const pod of pending) this.schedule(pod)
    } finally {
      this.index = undefined
      this.nodes = undefined
    }
  }

  /** Add a pod bound to `node` to the per-reconcile index. */
  private account(node: string, p: KubeObject): void {
    const index = this.index!
    let u = index.get(node)
    if (!u) {
      u = { cpu: 0, memory: 0, pods: 0, owners: new Map() }
      index.set(node, u)
    }
    const ph = ((p["status"] ?? {}) as Json)["phase"]
    if (ph !== "Failed" && ph !== "Succeeded") {
      const r = podRequests(p)
      u.cpu += r.cpu
      u.memory += r.memory
      u.pods++
    }
    if (isPodActive(p)) {
      for (const uid of new Set((p.metadata.ownerReferences ?? []).map((r) => r.uid))) u.owners.set(uid, (u.owners.get(uid) ?? 0) + 1)
    }
  }

  /** A node's allocatable cpu, memory and pods (cached per node object). */
  private capacity(node: KubeObject): { cpuCap: number | undefined; memCap: number | undefined; maxPods: number } {
    let c = this.capacities.get(node)
    if (!c) {
      const alloc = ((node["status"] as Json | undefined)?.["allocatable"] ?? {}) as Json
      c = { cpuCap: tryQuantity(alloc["cpu"]), memCap: tryQuantity(alloc["memory"]), maxPods: tryQuantity(alloc["pods"]) ?? 110 }
      this.capacities.set(node, c)
    }
    return c
  }

  /** A pod's requests (the last pod's are kept: filter and score ask for the same pod across every node). */
  private requests(pod: KubeObject): { cpu: number; memory: number } {
    if (this.lastRequests?.pod !== pod) this.lastRequests = { pod, req: podRequests(pod) }
    return this.lastRequests.req
  }

  private usage(node: string): NodeUsage {
    if (this.index) return this.index.get(node) ?? EMPTY_USAGE
    let cpu = 0
    let memory = 0
    let pods = 0
    for (const p of this.ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${node}` })) {
      const ph = ((p["status"] ?? {}) as Json)["phase"]
      if (ph === "Failed" || ph === "Succeeded") continue
      const r = podRequests(p)
      cpu += r.cpu
      memory += r.memory
      pods++
    }
    return { cpu, memory, pods, owners: new Map() }
  }

  /** Why a pod cannot run on a node (the first failing filter's reasons), or [] when it fits. */
  filter(pod: KubeObject, node: KubeObject): { reasons: Array<string>; resolvable: boolean } {
    const spec = (pod["spec"] ?? {}) as Json
    const tols = (spec["tolerations"] ?? []) as Array<Json>
    if ((node["spec"] as Json | undefined)?.["unschedulable"] === true) {
      const ok = tols.some((t) => tolerates(t, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }))
      if (!ok) return { reasons: ["node(s) were unschedulable"], resolvable: false }
    }
    for (const t of taintsOf(node)) {
      if (t.effect !== "NoSchedule" && t.effect !== "NoExecute") continue
      if (!tols.some((tol) => tolerates(tol, t))) return { reasons: [`node(s) had untolerated taint {${t.key}: ${t.value ?? ""}}`], resolvable: false }
    }
    if (!nodeAffinityMatches(pod, node)) return { reasons: ["node(s) didn't match Pod's node affinity/selector"], resolvable: false }
    const { cpuCap, memCap, maxPods } = this.capacity(node)
    const used = this.usage(node.metadata.name)
    const req = this.requests(pod)
    const reasons: Array<string> = []
    if (used.pods + 1 > maxPods) reasons.push("Too many pods")
    if (cpuCap !== undefined && req.cpu > 0 && used.cpu + req.cpu > cpuCap + 1e-9) reasons.push("Insufficient cpu")
    if (memCap !== undefined && req.memory > 0 && used.memory + req.memory > memCap) reasons.push("Insufficient memory")
    if (reasons.length) return { reasons, resolvable: true }
    return { reasons: [], resolvable: true }
  }

  /** PreFilter: volumes. Returns a cluster-wide failure message or undefined. */
  private volumePreFilter(pod: KubeObject): string | undefined {
    const spec = (pod["spec"] ?? {}) as Json
    for (const v of (spec["volumes"] ?? []) as Array<Json>) {
      const claim = (v["persistentVolumeClaim"] as Json | undefined)?.["claimName"] as string | undefined
      if (!claim) continue
      const pvc = this.ctx.store.get(R.pvcs, pod.metadata.namespace, claim)
      if (!pvc) return `persistentvolumeclaim "${claim}" not found`
      if (((pvc["status"] ?? {}) as Json)["phase"] !== "Bound") return "pod has unbound immediate PersistentVolumeClaims"
    }
    return undefined
  }

  private schedule(pod: KubeObject): void {
    const ctx = this.ctx
    const nodes = this.nodes ?? sorted(ctx.store.list(R.nodes))
    const n = nodes.length
    const pre = this.volumePreFilter(pod)
    if (pre) {
      this.fail(pod, `0/${n} nodes are available: ${pre}. preemption: 0/${n} nodes are available: ${n} Preemption is not helpful for scheduling.`)
      return
    }
    const reasons = new Map<string, number>()
    const preempt = new Map<string, number>()
    const fits: Array<KubeObject> = []
    for (const node of nodes) {
      const f = this.filter(pod, node)
      if (f.reasons.length === 0) {
        fits.push(node)
        continue
      }
      for (const r of f.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1)
      const pr = f.resolvable ? "No preemption victims found for incoming pod" : "Preemption is not helpful for scheduling"
      preempt.set(pr, (preempt.get(pr) ?? 0) + 1)
    }
    if (fits.length === 0) {
      const msg = n === 0
        ? "no nodes available to schedule pods"
        : `0/${n} nodes are available: ${histogram(reasons)}. preemption: 0/${n} nodes are available: ${histogram(preempt)}.`
      this.fail(pod, msg)
      return
    }
    const owner = pod.metadata.ownerReferences?.find((r) => r.controller)?.uid
    const score = (node: KubeObject) => {
      const c = this.capacity(node)
      const used = this.usage(node.metadata.name)
      const cpuCap = c.cpuCap ?? 1
      const memCap = c.memCap ?? 1
      const maxPods = c.maxPods
      // least allocated, plus spreading of pods of the same owner (default topology spreading)
      const siblings = owner === undefined ? 0 : used.owners.get(owner) ?? 0
      return ((cpuCap - used.cpu) / cpuCap + (memCap - used.memory) / memCap) / 2 - siblings - used.pods / maxPods / 10
    }
    let best = fits[0]!
    let bestScore = score(best)
    for (const node of fits.slice(1)) {
      const s = score(node)
      if (s > bestScore + 1e-12) {
        best = node
        bestScore = s
      }
    }
    this.bind(pod, best)
  }

  private fail(pod: KubeObject, msg: string): void {
    const ctx = this.ctx
    const now = ctx.now()
    const key = pod.metadata.uid ?? pod.metadata.name
    const last = this.lastMessage.get(key)
    if (!last || last.msg !== msg || now - last.at >= RETRY_MS) {
      ctx.events.record(pod, "Warning", "FailedScheduling", msg, SCHEDULER)
      this.lastMessage.set(key, { msg, at: now })
    }
    ctx.clock.wakeAt((this.lastMessage.get(key)?.at ?? now) + RETRY_MS)
    const nowIso = ctx.iso()
    mutateIfChanged(ctx.store, R.pods, pod.metadata.namespace, pod.metadata.name, (o) => {
      const st = (o["status"] ?? {}) as Json
      const conds = clone((st["conditions"] ?? []) as Array<Json>)
      setCondition(conds, "PodScheduled", "False", "Unschedulable", msg, nowIso, { probe: true })
      st["conditions"] = conds
      st["phase"] = "Pending"
      o["status"] = st
    })
  }

  private bind(pod: KubeObject, node: KubeObject): void {
    const ctx = this.ctx
    const nowIso = ctx.iso()
    this.lastMessage.delete(pod.metadata.uid ?? pod.metadata.name)
    const bound = mutateIfChanged(ctx.store, R.pods, pod.metadata.namespace, pod.metadata.name, (o) => {
      ;(o["spec"] as Json)["nodeName"] = node.metadata.name
      const st = (o["status"] ?? {}) as Json
      const conds = clone((st["conditions"] ?? []) as Array<Json>)
      setCondition(conds, "PodScheduled", "True", undefined, undefined, nowIso, { probe: true })
      st["conditions"] = conds
      o["status"] = st
    })
    if (bound && this.index) this.account(node.metadata.name, bound)
    if (bound) ctx.events.record(bound, "Normal", "Scheduled", `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node.metadata.name}`, SCHEDULER)
  }
}
