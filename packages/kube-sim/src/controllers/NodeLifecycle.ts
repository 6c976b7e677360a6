/**
 * Node status and the node lifecycle controller: the kubelet's conditions (Ready,
 * MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable) from the node's host state
 * and measured pressure; NodeStatusUnknown when the kubelet stops posting; the taints the
 * real controllers derive from conditions; taint-based eviction after tolerationSeconds.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import type { Kubelet } from "./Kubelet"
import { PRESSURE_TRANSITION_MS } from "./Kubelet"
import { isPodActive, isPodReady } from "./context"
import { tolerates } from "./Scheduler"
import { R, clone, mutateIfChanged, parseTime, sorted, type Json } from "./util"

/** node-monitor-grace-period. */
export const NODE_MONITOR_GRACE_MS = 50_000
const DEFAULT_TOLERATION_S = 300
const CONDITION_TYPES = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] as const

const CONDITION_TEXT: Record<string, Record<string, [string, string]>> = {
  MemoryPressure: { False: ["KubeletHasSufficientMemory", "kubelet has sufficient memory available"], True: ["KubeletHasInsufficientMemory", "kubelet has insufficient memory available"] },
  DiskPressure: { False: ["KubeletHasNoDiskPressure", "kubelet has no disk pressure"], True: ["KubeletHasDiskPressure", "kubelet has disk pressure"] },
  PIDPressure: { False: ["KubeletHasSufficientPID", "kubelet has sufficient PID available"], True: ["KubeletHasInsufficientPID", "kubelet has insufficient PID available"] },
  Ready: { True: ["KubeletReady", "kubelet is posting ready status"], False: ["KubeletNotReady", "container runtime is down"] }
}

const EVENT_FOR: Record<string, Record<string, string>> = {
  MemoryPressure: { True: "NodeHasInsufficientMemory", False: "NodeHasSufficientMemory" },
  DiskPressure: { True: "NodeHasDiskPressure", False: "NodeHasNoDiskPressure" },
  PIDPressure: { True: "NodeHasInsufficientPID", False: "NodeHasSufficientPID" },
  Ready: { True: "NodeReady", False: "NodeNotReady" }
}

/** A taint the controllers manage. */
interface Taint { key: string; value?: string; effect: string; timeAdded?: string }

const MANAGED = new Set([
  "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/memory-pressure",
  "node.kubernetes.io/disk-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/network-unavailable",
  "node.kubernetes.io/unschedulable"
])

/** The node status writer and lifecycle controller. */
export class NodeLifecycle {
  private unschedulable = new Map<string, boolean>()

  /** Build over the shared context and the kubelet's measurements. */
  constructor(private readonly ctx: SimContext, private readonly kubelet: Kubelet) {}

  /** Reconcile every node. */
  reconcile(): void {
    for (const node of sorted(this.ctx.store.list(R.nodes))) this.syncNode(node)
  }

  private desiredConditions(node: KubeObject): Record<string, { status: string; reason: string; message: string }> | "unknown" {
    const ctx = this.ctx
    const now = ctx.now()
    const host = ctx.host(node.metadata.name)
    const posting = host.kubelet === "active" && !host.hardwareFailure
    if (posting) host.lastPostAt = now
    else if (now - host.lastPostAt >= NODE_MONITOR_GRACE_MS) return "unknown"
    else {
      ctx.clock.wakeAt(host.lastPostAt + NODE_MONITOR_GRACE_MS)
      return {}
    }
    if (host.network !== "ok" && host.cniDaemonSet) this.cniHeal(node.metadata.name)
    const sig = this.kubelet.signals.get(node.metadata.name)
    const recent = (t: number | undefined) => t !== undefined && now - t < PRESSURE_TRANSITION_MS
    const out: Record<string, { status: string; reason: string; message: string }> = {}
    const measured: Record<string, boolean> = {
      MemoryPressure: recent(sig?.memoryPressureLastSeen),
      DiskPressure: recent(sig?.diskPressureLastSeen),
      PIDPressure: recent(sig?.pidPressureLastSeen)
    }
    for (const t of ["MemoryPressure", "DiskPressure", "PIDPressure"]) {
      const status = host.forced[t] ?? (measured[t] ? "True" : "False")
      const [reason, message] = CONDITION_TEXT[t]![status] ?? ["NodeStatusUnknown", "Kubelet stopped posting node status."]
      out[t] = { status, reason, message }
    }
    let ready: { status: string; reason: string; message: string } = { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
    if (host.runtime !== "active") {
      ready = { status: "False", reason: "KubeletNotReady", message: `container runtime is down, PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s` }
    } else if (host.network !== "ok") {
      ready = { status: "False", reason: "KubeletNotReady", message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized" }
    }
    const forcedReady = host.forced["Ready"]
    if (forcedReady && forcedReady !== ready.status) {
      ready = forcedReady === "True"
        ? { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
        : forcedReady === "Unknown"
        ? { status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." }
        : { status: "False", reason: "KubeletNotReady", message: "[container runtime status check may not have completed yet, PLEG is not healthy: pleg has yet to be successful]" }
    }
    out["Ready"] = ready
    const netForced = host.forced["NetworkUnavailable"]
    if (host.network !== "ok" || netForced === "True") out["NetworkUnavailable"] = { status: "True", reason: "NetworkPluginNotReady", message: "cni plugin not initialized" }
    else out["NetworkUnavailable"] = { status: "False", reason: "RouteCreated", message: "RouteController created a route" }
    return out
  }

  /** A freshly (re)started, ready CNI daemon pod on the node brings the network back. */
  private cniHeal(node: string): void {
    const ctx = this.ctx
    const host = ctx.host(node)
    const [ns, ds] = (host.cniDaemonSet ?? "").split("/") as [string, string]
    for (const p of ctx.store.list(R.pods, { namespace: ns })) {
      if ((p["spec"] as Json)["nodeName"] !== node || p.metadata.ownerReferences?.[0]?.name !== ds) continue
      const created = parseTime(p.metadata.creationTimestamp) ?? 0
      if (created >= (host.networkDownAt ?? 0) && isPodReady(p) && !p.metadata.deletionTimestamp) {
        host.network = "ok"
        host.kubeletLog.push(`cni: ${ds} on ${node} is ready; network plugin initialized`)
      }
    }
  }

  private syncNode(node: KubeObject): void {
    const ctx = this.ctx
    const now = ctx.now()
    const nowIso = ctx.iso()
    const name = node.metadata.name
    const desired = this.desiredConditions(node)
    const before = ((node["status"] as Json | undefined)?.["conditions"] ?? []) as Array<Json>
    if (before.length === 0 && desired !== "unknown" && Object.keys(desired).length) {
      ctx.events.record(node, "Normal", "Starting", "Starting kubelet.", "kubelet", { host: name })
      ctx.events.record(node, "Normal", "RegisteredNode", `Node ${name} event: Registered Node ${name} in Controller`, "node-controller")
    }
    const transitions: Array<[string, string]> = []
    let updated = mutateIfChanged(ctx.store, R.nodes, undefined, name, (o) => {
      const st = (o["status"] ?? {}) as Json
      const conds = clone((st["conditions"] ?? []) as Array<Json>)
      const put = (type: string, status: string, reason: string, message: string) => {
        const i = conds.findIndex((c) => c["type"] === type)
        const prev = i >= 0 ? conds[i] : undefined
        if (prev && prev["status"] === status && prev["reason"] === reason && prev["message"] === message) return
        const c: Json = {
          type, status,
          lastHeartbeatTime: status === "Unknown" ? prev?.["lastHeartbeatTime"] ?? nowIso : nowIso,
          lastTransitionTime: prev && prev["status"] === status ? prev["lastTransitionTime"] : nowIso,
          reason, message
        }
        if (!prev || prev["status"] !== status) transitions.push([type, status])
        if (i >= 0) conds[i] = c
        else conds.push(c)
      }
      if (desired === "unknown") {
        for (const t of CONDITION_TYPES) put(t, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
      } else {
        for (const [t, c] of Object.entries(desired)) {
          if (t === "NetworkUnavailable" && c.status === "False" && !conds.some((x) => x["type"] === "NetworkUnavailable")) continue
          put(t, c.status, c.reason, c.message)
        }
      }
      const order = ["NetworkUnavailable", "MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
      conds.sort((a, b) => order.indexOf(a["type"]) - order.indexOf(b["type"]))
      st["conditions"] = conds
      o["status"] = st
      // taints from conditions (TaintNodesByCondition + taint-based eviction)
      const spec = (o["spec"] ?? {}) as Json
      const cond = (t: string) => conds.find((c) => c["type"] === t)?.["status"]
      const want: Array<Taint> = []
      const ready = cond("Ready")
      if (ready === "False") want.push({ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }, { key: "node.kubernetes.io/not-ready", effect: "NoExecute" })
      if (ready === "Unknown") want.push({ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }, { key: "node.kubernetes.io/unreachable", effect: "NoExecute" })
      if (cond("MemoryPressure") === "True") want.push({ key: "node.kubernetes.io/memory-pressure", effect: "NoSchedule" })
      if (cond("DiskPressure") === "True") want.push({ key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" })
      if (cond("PIDPressure") === "True") want.push({ key: "node.kubernetes.io/pid-pressure", effect: "NoSchedule" })
      if (cond("NetworkUnavailable") === "True") want.push({ key: "node.kubernetes.io/network-unavailable", effect: "NoSchedule" })
      if (spec["unschedulable"] === true) want.push({ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" })
      const cur = ((spec["taints"] ?? []) as Array<Taint>)
      const keep = cur.filter((t) => !MANAGED.has(t.key) || want.some((w) => w.key === t.key && w.effect === t.effect))
      for (const w of want) {
        if (!keep.some((t) => t.key === w.key && t.effect === w.effect)) keep.push(w.effect === "NoExecute" ? { ...w, timeAdded: nowIso } : w)
      }
      if (keep.length) spec["taints"] = keep
      else delete spec["taints"]
      o["spec"] = spec
    })
    updated = updated ?? node
    for (const [type, status] of transitions) {
      const prevStatus = before.find((c) => c["type"] === type)?.["status"]
      if (prevStatus === undefined && status !== "True" && type !== "Ready") continue
      if (status === "Unknown") {
        if (type === "Ready") {
          ctx.events.record(updated, "Normal", "NodeNotReady", `Node ${name} status is now: NodeNotReady`, "node-controller")
          this.markPodsNotReady(name)
        }
        continue
      }
      const reason = EVENT_FOR[type]?.[status]
      if (reason && !(prevStatus === undefined && status === "False")) ctx.events.record(updated, "Normal", reason, `Node ${name} status is now: ${reason}`, "kubelet", { host: name })
      if (type === "Ready" && status === "False") this.markPodsNotReady(name)
    }
    const uns = ((updated["spec"] as Json | undefined)?.["unschedulable"]) === true
    const prevUns = this.unschedulable.get(name)
    if (prevUns !== undefined && prevUns !== uns) {
      ctx.events.record(updated, "Normal", uns ? "NodeNotSchedulable" : "NodeSchedulable", `Node ${name} status is now: ${uns ? "NodeNotSchedulable" : "NodeSchedulable"}`, "kubelet", { host: name })
    }
    this.unschedulable.set(name, uns)
    this.taintEviction(updated, now)
  }

  private markPodsNotReady(node: string): void {
    const ctx = this.ctx
    const nowIso = ctx.iso()
    for (const p of ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${node}` })) {
      if (!isPodActive(p)) continue
      let changed = false
      mutateIfChanged(ctx.store, R.pods, p.metadata.namespace, p.metadata.name, (o) => {
        const conds = ((o["status"] as Json | undefined)?.["conditions"] ?? []) as Array<Json>
        for (const c of conds) {
          if ((c["type"] === "Ready" || c["type"] === "ContainersReady") && c["status"] !== "False") {
            c["status"] = "False"
            c["lastTransitionTime"] = nowIso
            changed = true
          }
        }
      })
      if (changed) ctx.events.record(p, "Warning", "NodeNotReady", "Node is not ready", "node-controller")
    }
  }

  private taintEviction(node: KubeObject, now: number): void {
    const ctx = this.ctx
    const taints = (((node["spec"] as Json | undefined)?.["taints"] ?? []) as Array<Taint>).filter((t) => t.effect === "NoExecute")
    if (taints.length === 0) return
    for (const p of sorted(ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${node.metadata.name}` }))) {
      if (!isPodActive(p)) continue
      const tols = (((p["spec"] as Json)["tolerations"] ?? []) as Array<Json>)
      let deadline = Infinity
      let forever = true
      for (const t of taints) {
        const added = parseTime(t.timeAdded) ?? now
        const tol = tols.find((x) => tolerates(x, t))
        let secs: number | undefined
        if (tol) secs = tol["tolerationSeconds"] as number | undefined
        else if (t.key === "node.kubernetes.io/not-ready" || t.key === "node.kubernetes.io/unreachable") secs = DEFAULT_TOLERATION_S
        else secs = 0
        if (secs === undefined) continue
        forever = false
        deadline = Math.min(deadline, added + Math.max(0, secs) * 1000)
      }
      if (forever) continue
      if (now >= deadline) {
        ctx.events.record(p, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${p.metadata.namespace}/${p.metadata.name}`, "taint-eviction-controller")
        ctx.deletePod(p)
      } else ctx.clock.wakeAt(deadline)
    }
  }
}
