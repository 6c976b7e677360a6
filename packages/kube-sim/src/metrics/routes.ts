/**
 * HTTP routes of the controllers half, plugged into the API server through its extraRoutes
 * hook: `metrics.k8s.io/v1beta1` (PodMetrics/NodeMetrics, as metrics-server serves them, for
 * `kubectl top` and client-node's Metrics) and a Prometheus-compatible `/api/v1/query` and
 * `/api/v1/query_range` over the sampler's series.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { KubeObject } from "../store/types"
import { matchesLabels, parseLabelSelector } from "../store/selectors"
import * as Discovery from "../server/discovery"
import type { TypeRegistry } from "../store/registry"
import type { Controllers } from "../controllers/Controllers"
import { R, sorted, type Json } from "../controllers/util"
import { formatBytesKi, formatNanoCores } from "../controllers/quantity"
import type { Sampler } from "./Sampler"
import { PromQLError, query, queryRange, type Value } from "./PromQL"

/** The `metrics.k8s.io` APIGroup document. */
export const METRICS_API_GROUP = {
  kind: "APIGroup",
  apiVersion: "v1",
  name: "metrics.k8s.io",
  versions: [{ groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }],
  preferredVersion: { groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }
} as const

/** The `metrics.k8s.io/v1beta1` APIResourceList document. */
export const METRICS_RESOURCE_LIST = {
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: "metrics.k8s.io/v1beta1",
  resources: [
    { name: "nodes", singularName: "", namespaced: false, kind: "NodeMetrics", verbs: ["get", "list"] },
    { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] }
  ]
} as const

/** The route signature of the API server's extraRoutes hook. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => boolean | Promise<boolean>

const send = (res: ServerResponse, code: number, body: unknown): true => {
  const s = JSON.stringify(body)
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(s) })
  res.end(s)
  return true
}

const notFound = (res: ServerResponse, what: string, name: string): true =>
  send(res, 404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `${what} "${name}" not found`, reason: "NotFound", details: { name, group: "metrics.k8s.io", kind: what }, code: 404 })

/** metrics.k8s.io and discovery additions. */
export const metricsApiRoute = (c: Controllers, sampler?: Sampler): Route => (req, res, url) => {
  const path = url.pathname.replace(/\/+$/, "")
  if (req.method !== "GET") return false
  // the API server serves legacy (non-aggregated) discovery; add metrics.k8s.io to its group list
  if (path === "/apis") {
    const list = Discovery.groupList((c.store as { readonly types?: TypeRegistry }).types)
    return send(res, 200, { ...list, groups: [...list.groups, { name: METRICS_API_GROUP.name, versions: METRICS_API_GROUP.versions, preferredVersion: METRICS_API_GROUP.preferredVersion }] })
  }
  if (path === "/apis/metrics.k8s.io") return send(res, 200, METRICS_API_GROUP)
  if (path === "/apis/metrics.k8s.io/v1beta1") return send(res, 200, METRICS_RESOURCE_LIST)
  const m = /^\/apis\/metrics\.k8s\.io\/v1beta1\/(?:namespaces\/([^/]+)\/)?(nodes|pods)(?:\/([^/]+))?$/.exec(path)
  if (!m) return false
  const [, ns, kind, name] = m
  const now = c.now()
  const ts = c.ctx.iso(now)
  const window = `${Math.round((sampler?.intervalMs ?? 15_000) / 1000) + 5}s`
  let reqs: ReturnType<typeof parseLabelSelector> = []
  try {
    reqs = parseLabelSelector(url.searchParams.get("labelSelector") ?? "")
  } catch (e) {
    return send(res, 400, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: (e as Error).message, reason: "BadRequest", code: 400 })
  }
  if (kind === "nodes") {
    const node = (n: KubeObject) => {
      const sig = c.kubelet.signals.get(n.metadata.name)
      const cores = c.ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${n.metadata.name}` }).reduce((a, p) => a + c.hpa.podCpu(p), 0.15)
      return {
        metadata: { name: n.metadata.name, creationTimestamp: ts, labels: n.metadata.labels ?? {} },
        timestamp: ts,
        window,
        usage: { cpu: formatNanoCores(cores), memory: formatBytesKi(sig?.memoryUsedBytes ?? 0) }
      }
    }
    if (name) {
      const n = c.ctx.store.get(R.nodes, undefined, name)
      return n ? send(res, 200, { kind: "NodeMetrics", apiVersion: "metrics.k8s.io/v1beta1", ...node(n) }) : notFound(res, "nodes", name)
    }
    const items = sorted(c.ctx.store.list(R.nodes)).filter((n) => matchesLabels(reqs, n.metadata.labels)).map(node)
    return send(res, 200, { kind: "NodeMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items })
  }
  const podMetrics = (p: KubeObject) => {
    const rt = c.kubelet.pods.get(p.metadata.uid ?? "")
    if (!rt) return undefined
    const containers: Array<Json> = []
    const rps = c.ctx.podRps(p, now)
    for (const cr of rt.containers.values()) {
      if (cr.phase !== "running" || cr.init) continue
      const cores = (cr.behaviour.cpu?.baseCores ?? 0.005) + (cr.behaviour.cpu?.coresPerRps ?? 0.002) * rps
      containers.push({ name: cr.name, usage: { cpu: formatNanoCores(cores), memory: formatBytesKi(c.kubelet.workingSet(p, cr, now)) } })
    }
    if (containers.length === 0) return undefined
    return { metadata: { name: p.metadata.name, namespace: p.metadata.namespace, creationTimestamp: ts, labels: p.metadata.labels ?? {} }, timestamp: ts, window, containers }
  }
  if (name && ns) {
    const p = c.ctx.store.get(R.pods, ns, name)
    const pm = p ? podMetrics(p) : undefined
    return pm ? send(res, 200, { kind: "PodMetrics", apiVersion: "metrics.k8s.io/v1beta1", ...pm }) : notFound(res, "pods", name)
  }
  const pods = sorted(c.ctx.store.list(R.pods, ns ? { namespace: ns } : {})).filter((p) => matchesLabels(reqs, p.metadata.labels))
  const items = pods.map(podMetrics).filter((x) => x !== undefined)
  return send(res, 200, { kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items })
}

const fmtValue = (v: number): string => (Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v))

const parseTimeParam = (s: string | null, dflt: number, name: string): number => {
  if (s === null || s === "") return dflt
  const n = Number(s)
  if (Number.isFinite(n)) return n * 1000
  const t = Date.parse(s)
  if (Number.isFinite(t)) return t
  throw new PromQLError(`invalid parameter "${name}": cannot parse "${s}" to a valid timestamp`)
}

const parseStep = (s: string | null): number => {
  if (s === null || s === "") throw new PromQLError(`invalid parameter "step": cannot parse "" to a valid duration`)
  const n = Number(s)
  if (Number.isFinite(n)) return n * 1000
  const m = /^(\d+)(ms|s|m|h)$/.exec(s)
  if (!m) throw new PromQLError(`invalid parameter "step": cannot parse "${s}" to a valid duration`)
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "s"]
}

/** The Prometheus HTTP API subset (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/label/__name__/values`). */
export const prometheusRoute = (c: Controllers, sampler: Sampler, prefix = ""): Route => (req, res, url, body) => {
  const path = url.pathname
  if (path === `${prefix}/api/v1/label/__name__/values` && req.method === "GET") return send(res, 200, { status: "success", data: sampler.db.names() })
  if (path !== `${prefix}/api/v1/query` && path !== `${prefix}/api/v1/query_range`) return false
  if (req.method !== "GET" && req.method !== "POST") return false
  const params = new URLSearchParams(url.search)
  if (req.method === "POST" && body) for (const [k, v] of new URLSearchParams(body)) params.set(k, v)
  const q = params.get("query")
  try {
    if (!q) throw new PromQLError(`invalid parameter "query": unknown position: parse error: no expression found in input`)
    if (path.endsWith("/query")) {
      const t = parseTimeParam(params.get("time"), c.now(), "time")
      const v: Value = query(sampler.db, q, t)
      const ts = t / 1000
      if (v.type === "scalar") return send(res, 200, { status: "success", data: { resultType: "scalar", result: [ts, fmtValue(v.value)] } })
      if (v.type === "vector") return send(res, 200, { status: "success", data: { resultType: "vector", result: v.samples.map((s) => ({ metric: s.metric, value: [ts, fmtValue(s.value)] })) } })
      return send(res, 200, { status: "success", data: { resultType: "matrix", result: v.series.map((s) => ({ metric: s.metric, values: s.points.map(([pt, pv]) => [pt / 1000, fmtValue(pv)]) })) } })
    }
    const start = parseTimeParam(params.get("start"), NaN, "start")
    const end = parseTimeParam(params.get("end"), NaN, "end")
    if (!Number.isFinite(start)) throw new PromQLError(`invalid parameter "start": cannot parse "" to a valid timestamp`)
    if (!Number.isFinite(end)) throw new PromQLError(`invalid parameter "end": cannot parse "" to a valid timestamp`)
    const step = parseStep(params.get("step"))
    const series = queryRange(sampler.db, q, start, end, step)
    return send(res, 200, { status: "success", data: { resultType: "matrix", result: series.map((s) => ({ metric: s.metric, values: s.points.map(([pt, pv]) => [pt / 1000, fmtValue(pv)]) })) } })
  } catch (e) {
    if (e instanceof PromQLError) return send(res, 400, { status: "error", errorType: "bad_data", error: e.message })
    throw e
  }
}

/**
 * Simulator control over HTTP, outside the Kubernetes URL space, for out-of-process tests:
 *
 * - `GET /_sim/clock` → `{ now }` (RFC 3339)
 * - `POST /_sim/advance` with `{ "by": "30s" }` → advances virtual time, returns `{ now }`
 * - `GET /_sim/nodes/{name}/host` → the node's host state (kubelet/runtime units, journal lines, host usage)
 */
export const simControlRoute = (c: Controllers): Route => (req, res, url, body) => {
  const path = url.pathname
  if (!path.startsWith("/_sim/")) return false
  const bad = (message: string) => send(res, 400, { status: "error", error: message })
  if (path === "/_sim/clock" && req.method === "GET") return send(res, 200, { now: new Date(c.now()).toISOString() })
  if (path === "/_sim/advance" && req.method === "POST") {
    let by: unknown
    try {
      by = (JSON.parse(body || "{}") as { by?: unknown }).by
    } catch {
      return bad("body must be JSON like {\"by\":\"30s\"}")
    }
    if (typeof by !== "string" && typeof by !== "number") return bad("\"by\" must be a duration such as \"30s\" or milliseconds")
    try {
      c.advance(by)
    } catch (e) {
      return bad((e as Error).message)
    }
    return send(res, 200, { now: new Date(c.now()).toISOString() })
  }
  const m = /^\/_sim\/nodes\/([^/]+)\/host$/.exec(path)
  if (m && req.method === "GET") {
    const name = decodeURIComponent(m[1]!)
    if (!c.ctx.store.get(R.nodes, undefined, name)) return send(res, 404, { status: "error", error: `node "${name}" not found` })
    return send(res, 200, c.ctx.host(name))
  }
  return send(res, 404, { status: "error", error: `unknown simulator endpoint ${req.method} ${path}` })
}
