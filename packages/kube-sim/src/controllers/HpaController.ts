/**
 * The HorizontalPodAutoscaler controller (autoscaling/v2): computes desired replicas from
 * resource utilisation (CPU, memory) and per-pod metrics derived from the workload's
 * request-rate series, with the 10% tolerance, min/max clamping (raising minReplicas scales
 * at once), a 5-minute scale-down stabilisation window, status and conditions.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodActive, isPodReady } from "./context"
import type { Kubelet } from "./Kubelet"
import { formatMilli, tryQuantity, formatBytes } from "./quantity"
import { R, clone, mutateIfChanged, selectorMatches, setCondition, sorted, type Json } from "./util"

const COMPONENT = "horizontal-pod-autoscaler"
const SYNC_MS = 15_000
const TOLERANCE = 0.1

const TARGET_KEYS: Record<string, { group: string; version: string; resource: string }> = {
  Deployment: R.deployments,
  StatefulSet: R.statefulsets,
  ReplicaSet: R.replicasets
}

/** The HPA controller. */
export class HpaController {
  private lastSync = new Map<string, number>()
  private recs = new Map<string, Array<[number, number]>>()

  /** Build over the shared context and the kubelet (for usage). */
  constructor(private readonly ctx: SimContext, private readonly kubelet: Kubelet) {}

  /** CPU cores a pod uses now. */
  podCpu(pod: KubeObject): number {
    const rt = this.kubelet.pods.get(pod.metadata.uid ?? "")
    if (!rt) return 0
    const rps = this.ctx.podRps(pod, this.ctx.now())
    let cores = 0
    for (const cr of rt.containers.values()) {
      if (cr.phase !== "running") continue
      cores += (cr.behaviour.cpu?.baseCores ?? 0.005) + (cr.behaviour.cpu?.coresPerRps ?? 0.002) * rps
    }
    return cores
  }

  /** Memory working set of a pod now. */
  podMemory(pod: KubeObject): number {
    const rt = this.kubelet.pods.get(pod.metadata.uid ?? "")
    if (!rt) return 0
    let b = 0
    for (const cr of rt.containers.values()) b += this.kubelet.workingSet(pod, cr)
    return b
  }

  /** Reconcile every HPA. */
  reconcile(): void {
    for (const hpa of sorted(this.ctx.store.list(R.hpas))) this.sync(hpa)
  }

  private sync(hpa: KubeObject): void {
    const ctx = this.ctx
    const now = ctx.now()
    const nowIso = ctx.iso()
    const key = `${hpa.metadata.namespace}/${hpa.metadata.name}`
    const spec = (hpa["spec"] ?? {}) as Json
    const ref = (spec["scaleTargetRef"] ?? {}) as Json
    const minR = (spec["minReplicas"] as number | undefined) ?? 1
    const maxR = (spec["maxReplicas"] as number | undefined) ?? minR
    const tkey = TARGET_KEYS[String(ref["kind"])]
    const target = tkey ? ctx.store.get(tkey, hpa.metadata.namespace, String(ref["name"])) : undefined
    const writeStatus = (f: (st: Json, conds: Array<Json>) => void) =>
      mutateIfChanged(ctx.store, R.hpas, hpa.metadata.namespace, hpa.metadata.name, (o) => {
        const st = clone((o["status"] ?? {}) as Json)
        const conds = (st["conditions"] ?? []) as Array<Json>
        f(st, conds)
        st["conditions"] = conds
        o["status"] = st
      })
    if (!target || !tkey) {
      writeStatus((st, conds) => {
        setCondition(conds, "AbleToScale", "False", "FailedGetScale", `the HPA controller was unable to get the target's current scale: ${String(ref["kind"]).toLowerCase()}s.apps "${ref["name"]}" not found`, nowIso)
        st["currentReplicas"] = st["currentReplicas"] ?? 0
        st["desiredReplicas"] = st["desiredReplicas"] ?? 0
      })
      return
    }
    const current = (((target["spec"] ?? {}) as Json)["replicas"] as number | undefined) ?? 1
    const last = this.lastSync.get(key)
    const outOfRange = current < minR || current > maxR
    if (last !== undefined && now < last + SYNC_MS && !outOfRange) {
      ctx.clock.wakeAt(last + SYNC_MS)
      return
    }
    this.lastSync.set(key, now)
    ctx.clock.wakeAt(now + SYNC_MS)
    const selector = ((target["spec"] ?? {}) as Json)["selector"] as Json | undefined
    const pods = ctx.store.list(R.pods, { namespace: hpa.metadata.namespace ?? "default" }).filter((p) => isPodActive(p) && selectorMatches(selector, p.metadata.labels))
    const ready = pods.filter(isPodReady)
    const metrics = ((spec["metrics"] ?? [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }]) as Array<Json>)
    const currentMetrics: Array<Json> = []
    let desired = 0
    let reasonText = ""
    let valid = false
    let invalid = "the HPA was unable to compute the replica count: no ready pods"
    for (const m of metrics) {
      let proposal: number | undefined
      if (m["type"] === "Resource") {
        const r = (m["resource"] ?? {}) as Json
        const res = String(r["name"])
        const tgt = (r["target"] ?? {}) as Json
        const usage = ready.map((p) => (res === "cpu" ? this.podCpu(p) : this.podMemory(p)))
        const requests = ready.map((p) => (((p["spec"] as Json)["containers"] ?? []) as Array<Json>).reduce((a, c) => {
          const rr = ((c["resources"] as Json | undefined)?.["requests"] ?? (c["resources"] as Json | undefined)?.["limits"] ?? {}) as Json
          return a + (tryQuantity(rr[res]) ?? 0)
        }, 0))
        if (ready.length === 0) continue
        const avgUsage = usage.reduce((a, b) => a + b, 0) / ready.length
        if (tgt["type"] === "Utilization") {
          const totalReq = requests.reduce((a, b) => a + b, 0)
          if (totalReq <= 0) {
            const c0 = (((ready[0]!["spec"] as Json)["containers"] ?? []) as Array<Json>)[0]
            invalid = `the HPA was unable to compute the replica count: failed to get ${res} utilization: missing request for ${res} in container ${String(c0?.["name"] ?? "")} of Pod ${ready[0]!.metadata.name}`
            continue
          }
          const util = Math.round((100 * usage.reduce((a, b) => a + b, 0)) / totalReq)
          const ratio = util / ((tgt["averageUtilization"] as number | undefined) ?? 80)
          proposal = Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * ready.length)
          currentMetrics.push({ type: "Resource", resource: { name: res, current: { averageUtilization: util, averageValue: res === "cpu" ? formatMilli(avgUsage) : formatBytes(avgUsage) } } })
          if (proposal > desired) reasonText = `${res} resource utilization (percentage of request) above target`
        } else {
          const tv = tryQuantity(tgt["averageValue"]) ?? 1
          const ratio = avgUsage / tv
          proposal = Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * ready.length)
          currentMetrics.push({ type: "Resource", resource: { name: res, current: { averageValue: res === "cpu" ? formatMilli(avgUsage) : formatBytes(avgUsage) } } })
          if (proposal > desired) reasonText = `${res} resource above target`
        }
      } else if (m["type"] === "Pods") {
        const pm = (m["pods"] ?? {}) as Json
        const name = String(((pm["metric"] ?? {}) as Json)["name"] ?? "")
        const tv = tryQuantity(((pm["target"] ?? {}) as Json)["averageValue"]) ?? 1
        if (ready.length === 0) continue
        const avg = ready.reduce((a, p) => a + ctx.podRps(p, now), 0) / ready.length
        const ratio = avg / tv
        proposal = Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(ratio * ready.length)
        currentMetrics.push({ type: "Pods", pods: { metric: { name }, current: { averageValue: formatMilli(avg) } } })
        if (proposal > desired) reasonText = `pods metric ${name} above target`
      }
      if (proposal !== undefined) {
        valid = true
        desired = Math.max(desired, proposal)
      }
    }
    if (!valid) desired = current
    // scale-down stabilisation: the highest recommendation of the last 5 minutes
    const window = ((((spec["behavior"] as Json | undefined)?.["scaleDown"] as Json | undefined)?.["stabilizationWindowSeconds"]) as number | undefined) ?? 300
    const recs = (this.recs.get(key) ?? []).filter(([t]) => t > now - window * 1000)
    recs.push([now, desired])
    this.recs.set(key, recs)
    if (desired < current) desired = Math.min(current, Math.max(...recs.map(([, r]) => r)))
    let limited: { status: string; reason: string; message: string } = { status: "False", reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" }
    if (desired > maxR) {
      desired = maxR
      limited = { status: "True", reason: "TooManyReplicas", message: "the desired replica count is more than the maximum replica count" }
    }
    if (desired < minR) {
      desired = minR
      limited = { status: "True", reason: "TooFewReplicas", message: "the desired replica count is less than the minimum replica count" }
    }
    let rescaled = false
    if (desired !== current) {
      const reason = current < minR ? "Current number of replicas below Spec.MinReplicas" : current > maxR ? "Current number of replicas above Spec.MaxReplicas" : desired < current ? "All metrics below target" : reasonText
      ctx.store.mutate(tkey, hpa.metadata.namespace, String(ref["name"]), (o) => {
        ;(o["spec"] as Json)["replicas"] = desired
      })
      ctx.events.record(hpa, "Normal", "SuccessfulRescale", `New size: ${desired}; reason: ${reason}`, COMPONENT)
      rescaled = true
    }
    writeStatus((st, conds) => {
      st["observedGeneration"] = hpa.metadata.generation ?? 1
      if (rescaled) st["lastScaleTime"] = nowIso
      st["currentReplicas"] = current
      if (valid || rescaled || st["desiredReplicas"] === undefined) st["desiredReplicas"] = desired
      if (currentMetrics.length) st["currentMetrics"] = currentMetrics
      else delete st["currentMetrics"]
      setCondition(conds, "AbleToScale", "True", rescaled ? "SucceededRescale" : "ReadyForNewScale",
        rescaled ? `the HPA controller was able to update the target scale to ${desired}` : "recommended size matches current size", nowIso)
      if (valid) setCondition(conds, "ScalingActive", "True", "ValidMetricFound", "the HPA was able to successfully calculate a replica count from " + (metrics[0]?.["type"] === "Pods" ? `pods metric ${String((((metrics[0]?.["pods"] ?? {}) as Json)["metric"] as Json | undefined)?.["name"])}` : `${String(((metrics[0]?.["resource"] ?? {}) as Json)["name"] ?? "cpu")} resource utilization (percentage of request)`), nowIso)
      else setCondition(conds, "ScalingActive", "False", "FailedGetResourceMetric", invalid, nowIso)
      if (valid || rescaled || !conds.some((c) => c["type"] === "ScalingLimited")) setCondition(conds, "ScalingLimited", limited.status, limited.reason, limited.message, nowIso)
    })
  }
}
