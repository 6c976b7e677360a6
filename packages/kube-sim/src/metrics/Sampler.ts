/**
 * Samples the simulated cluster into the time-series database every scrape interval:
 * cAdvisor working sets, kube-state-metrics restarts/limits/terminations/node conditions, and
 * the applications' HTTP request counters and latency histograms (per pod, with workload and
 * revision labels).
 */
import type { KubeObject } from "../store/types"
import type { Controllers } from "../controllers/Controllers"
import { isPodReady } from "../controllers/context"
import { tryQuantity } from "../controllers/quantity"
import { hashUnit } from "../clock/Rng"
import { R, controllerOf, type Json } from "../controllers/util"
import { TimeSeriesDB, type Labels } from "./TimeSeries"

/** Histogram bucket bounds of `http_request_duration_seconds` (Prometheus client defaults). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Share of requests faster than `x` seconds when the 95th percentile is `p95` (exponential model). */
export const latencyCdf = (x: number, p95: number): number => 1 - Math.exp((-x * Math.log(20)) / p95)

/** Options of the sampler. */
export interface SamplerOptions {
  /** Scrape interval (default 15 s). */
  readonly intervalMs?: number
  /** Retention (default 24 h). */
  readonly retentionMs?: number
}

interface PodCounters {
  ok: number
  err: number
  buckets: Array<number>
  count: number
  sum: number
  lastAt: number
}

/** The sampler: registers itself on the controllers' clock. */
export class Sampler {
  /** The series database. */
  readonly db: TimeSeriesDB
  /** Scrape interval, ms. */
  readonly intervalMs: number
  private nextAt: number
  private readonly counters = new Map<string, PodCounters>()

  /** Attach to running controllers; the first sample is taken immediately. */
  constructor(private readonly c: Controllers, options: SamplerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 15_000
    this.db = new TimeSeriesDB(options.retentionMs)
    this.nextAt = c.now()
    c.onStop.push(() => this.tick())
    this.tick()
  }

  /** Sample if a scrape is due, and ask the clock to wake at the next one. */
  tick(): void {
    const now = this.c.now()
    if (now >= this.nextAt) {
      this.sample(now)
      this.nextAt = Math.floor(now / this.intervalMs) * this.intervalMs + this.intervalMs
    }
    this.c.clock.wakeAt(this.nextAt)
  }

  private podLabels(pod: KubeObject): Labels {
    const ctx = this.c.ctx
    const w = ctx.workloadOf(pod)
    const l: Labels = { namespace: pod.metadata.namespace ?? "default", pod: pod.metadata.name }
    const node = (pod["spec"] as Json | undefined)?.["nodeName"]
    if (typeof node === "string") l["node"] = node
    if (w.kind !== "Pod") l["workload"] = w.name
    const hash = pod.metadata.labels?.["pod-template-hash"]
    if (hash) {
      l["pod_template_hash"] = hash
      const ref = controllerOf(pod)
      const rs = ref ? ctx.store.get(R.replicasets, pod.metadata.namespace, ref.name) : undefined
      const rev = rs?.metadata.annotations?.["deployment.kubernetes.io/revision"]
      if (rev) l["revision"] = rev
    }
    const track = pod.metadata.labels?.["track"]
    if (track) l["track"] = track
    const app = pod.metadata.labels?.["app"] ?? pod.metadata.labels?.["app.kubernetes.io/name"]
    if (app) l["app"] = app
    return l
  }

  /** Take one sample of everything at time `t`. */
  sample(t: number): void {
    const c = this.c
    const ctx = c.ctx
    const db = this.db
    for (const pod of ctx.store.list(R.pods)) {
      const base = this.podLabels(pod)
      const spec = (pod["spec"] ?? {}) as Json
      const status = (pod["status"] ?? {}) as Json
      const rt = c.kubelet.pods.get(pod.metadata.uid ?? "")
      for (const cs of (status["containerStatuses"] ?? []) as Array<Json>) {
        const name = String(cs["name"])
        const cl = { ...base, container: name }
        db.add({ __name__: "kube_pod_container_status_restarts_total", ...cl }, t, (cs["restartCount"] as number | undefined) ?? 0)
        db.add({ __name__: "kube_pod_container_status_ready", ...cl }, t, cs["ready"] ? 1 : 0)
        const waiting = ((cs["state"] as Json | undefined)?.["waiting"] as Json | undefined)?.["reason"]
        if (typeof waiting === "string") db.add({ __name__: "kube_pod_container_status_waiting_reason", ...cl, reason: waiting }, t, 1)
        const lastReason = (((cs["lastState"] as Json | undefined)?.["terminated"] as Json | undefined)?.["reason"])
        if (typeof lastReason === "string") db.add({ __name__: "kube_pod_container_status_last_terminated_reason", ...cl, reason: lastReason }, t, 1)
        const cspec = ((spec["containers"] ?? []) as Array<Json>).find((x) => x["name"] === name) ?? {}
        const res = (cspec["resources"] ?? {}) as Json
        for (const [kind, metric] of [["limits", "kube_pod_container_resource_limits"], ["requests", "kube_pod_container_resource_requests"]] as const) {
          const r = (res[kind] ?? {}) as Json
          const mem = tryQuantity(r["memory"])
          const cpu = tryQuantity(r["cpu"])
          if (mem !== undefined) db.add({ __name__: metric, ...cl, resource: "memory", unit: "byte" }, t, mem)
          if (cpu !== undefined) db.add({ __name__: metric, ...cl, resource: "cpu", unit: "core" }, t, cpu)
        }
        const cr = rt?.containers.get(name)
        if (cr && cr.phase === "running") {
          const ws = c.kubelet.workingSet(pod, cr, t)
          const jitter = 1 + (hashUnit(`${cr.containerID}/${t}`) - 0.5) * 0.01
          db.add({ __name__: "container_memory_working_set_bytes", ...cl, image: String(cspec["image"] ?? "") }, t, Math.round(Math.min(ws * jitter, cr.limitBytes ?? Infinity)))
          const rps = ctx.podRps(pod, t)
          const cores = (cr.behaviour.cpu?.baseCores ?? 0.005) + (cr.behaviour.cpu?.coresPerRps ?? 0.002) * rps
          const key = `${pod.metadata.uid}/${name}/cpu`
          const prev = this.counters.get(key)
          const total = (prev?.sum ?? 0) + cores * ((t - (prev?.lastAt ?? t)) / 1000)
          this.counters.set(key, { ok: 0, err: 0, buckets: [], count: 0, sum: total, lastAt: t })
          db.add({ __name__: "container_cpu_usage_seconds_total", ...cl }, t, total)
        }
      }
      this.sampleHttp(pod, base, t)
    }
    this.sampleIngress(t)
    for (const node of ctx.store.list(R.nodes)) {
      const n = node.metadata.name
      for (const cond of (((node["status"] as Json | undefined)?.["conditions"] ?? []) as Array<Json>)) {
        for (const s of ["true", "false", "unknown"]) {
          db.add({ __name__: "kube_node_status_condition", node: n, condition: String(cond["type"]), status: s }, t, String(cond["status"]).toLowerCase() === s ? 1 : 0)
        }
      }
      const sig = c.kubelet.signals.get(n)
      if (sig) {
        db.add({ __name__: "node_memory_MemTotal_bytes", node: n }, t, sig.memoryCapacityBytes)
        db.add({ __name__: "node_memory_MemAvailable_bytes", node: n }, t, Math.max(0, sig.memoryCapacityBytes - sig.memoryUsedBytes))
      }
    }
  }

  /** Workload-level request counters as an ingress controller sees them (503 while no pod is ready). */
  private sampleIngress(t: number): void {
    const ctx = this.c.ctx
    for (const key of [...ctx.requestRates.keys()].sort()) {
      const [ns, w] = key.split("/") as [string, string]
      const prev = this.counters.get(`ingress/${key}`) ?? { ok: 0, err: 0, buckets: [], count: 0, sum: 0, lastAt: t }
      const dt = (t - prev.lastAt) / 1000
      if (dt > 0) {
        const n = ((ctx.requestRate(ns, w, prev.lastAt) + ctx.requestRate(ns, w, t)) / 2) * dt
        const ready = ctx.readyPods(ns, w)
        if (ready === 0) prev.err += n
        else {
          const pods = ctx.store.list(R.pods, { namespace: ns }).filter((p) => isPodReady(p) && ctx.workloadOf(p).name === w)
          const ratio = pods.reduce((a, p) => {
            const main = (((p["spec"] as Json)["containers"] ?? []) as Array<Json>)[0]
            return a + (main ? ctx.behaviourOf(p, String(main["name"])).behaviour.errorRatio ?? 0.001 : 0.001)
          }, 0) / Math.max(1, pods.length)
          prev.ok += n * (1 - ratio)
          prev.err += n * ratio
        }
      }
      prev.lastAt = t
      this.counters.set(`ingress/${key}`, prev)
      const l = { namespace: ns, service: w, ingress: w }
      this.db.add({ __name__: "nginx_ingress_controller_requests", ...l, status: "200" }, t, prev.ok)
      this.db.add({ __name__: "nginx_ingress_controller_requests", ...l, status: "503" }, t, prev.err)
    }
  }

  private sampleHttp(pod: KubeObject, base: Labels, t: number): void {
    const c = this.c
    const ctx = c.ctx
    const ns = pod.metadata.namespace ?? "default"
    const w = ctx.workloadOf(pod).name
    if (!ctx.requestRates.has(`${ns}/${w}`)) return
    const key = pod.metadata.uid ?? pod.metadata.name
    const prev = this.counters.get(key) ?? { ok: 0, err: 0, buckets: LATENCY_BUCKETS.map(() => 0), count: 0, sum: 0, lastAt: t }
    const dt = (t - prev.lastAt) / 1000
    const main = (((pod["spec"] as Json)["containers"] ?? []) as Array<Json>)[0]
    const b = main ? ctx.behaviourOf(pod, String(main["name"])).behaviour : {}
    if (dt > 0 && isPodReady(pod) && !pod.metadata.deletionTimestamp) {
      const rps = (ctx.podRps(pod, prev.lastAt) + ctx.podRps(pod, t)) / 2
      const n = rps * dt
      const errRatio = b.errorRatio ?? 0.001
      const p95 = b.latencyP95Seconds ?? 0.12
      prev.ok += n * (1 - errRatio)
      prev.err += n * errRatio
      prev.count += n
      prev.sum += n * (p95 / Math.log(20))
      prev.buckets = LATENCY_BUCKETS.map((le, i) => (prev.buckets[i] ?? 0) + n * latencyCdf(le, p95))
    }
    prev.lastAt = t
    this.counters.set(key, prev)
    const db = this.db
    const l = { ...base, job: w }
    db.add({ __name__: "http_requests_total", ...l, code: "200" }, t, prev.ok)
    db.add({ __name__: "http_requests_total", ...l, code: "500" }, t, prev.err)
    LATENCY_BUCKETS.forEach((le, i) => db.add({ __name__: "http_request_duration_seconds_bucket", ...l, le: String(le) }, t, prev.buckets[i] ?? 0))
    db.add({ __name__: "http_request_duration_seconds_bucket", ...l, le: "+Inf" }, t, prev.count)
    db.add({ __name__: "http_request_duration_seconds_count", ...l }, t, prev.count)
    db.add({ __name__: "http_request_duration_seconds_sum", ...l }, t, prev.sum)
  }
}
