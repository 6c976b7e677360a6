/**
 * The Metrics service: the numbers runbooks reason about — working set per pod/container,
 * node usage, memory series and request rate — from one of two sources:
 *
 * - **Prometheus** (`Metrics.layerPrometheus`, `BYTEPORT_PROMETHEUS_URL`): instant and range
 *   queries over cAdvisor/kubelet series (`container_memory_working_set_bytes`,
 *   `container_cpu_usage_seconds_total`, `node_memory_*`) and the application's
 *   `http_requests_total`. The PromQL is overridable (`queries`) for setups that label
 *   differently.
 * - **metrics-server** (`Metrics.layerMetricsServer`): metrics.k8s.io/v1beta1 through the Kube
 *   service. It only knows the present: `memorySeries` and `requestRate` fail with
 *   `MetricsUnsupported`.
 *
 * Failures are typed (`PrometheusUnavailable`, `PrometheusQueryError`, `MetricsUnsupported`,
 * `KubeError`) so a Diagnoser records an Unknown fact instead of guessing.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Prometheus from "./Prometheus"

/** The source cannot answer this kind of question (metrics-server has no history). */
export class MetricsUnsupported extends Schema.TaggedError<MetricsUnsupported>()("MetricsUnsupported", {
  source: Schema.String,
  operation: Schema.String,
  message: Schema.String
}) {}

/** Any Metrics failure. */
export type MetricsError = Prometheus.PrometheusError | MetricsUnsupported | KubeError

/** A container's working set. */
export interface ContainerMemory {
  readonly container: string
  readonly bytes: number
}

/** A node's usage. */
export interface NodeUsage {
  readonly node: string
  readonly memoryBytes: number
  readonly cpuCores: number
}

/** Which pod(s) a series is about. */
export interface PodSelector {
  readonly namespace: string
  /** One pod, or … */
  readonly pod?: string | undefined
  /** … every pod whose name starts with this (a workload's pods: `web-`). */
  readonly podPrefix?: string | undefined
  readonly container?: string | undefined
}

/** The Metrics service interface. */
export interface MetricsShape {
  readonly source: "prometheus" | "metrics-server"
  /** Current working set of each container of a pod (or just `container`). */
  readonly workingSet: (pod: { readonly namespace: string; readonly pod: string; readonly container?: string | undefined }) => Effect.Effect<ReadonlyArray<ContainerMemory>, MetricsError>
  /** Current memory and CPU use of a node. */
  readonly nodeUsage: (node: string) => Effect.Effect<NodeUsage, MetricsError>
  /** Working-set series (one per pod and container) over a range. */
  readonly memorySeries: (selector: PodSelector, range: Prometheus.Range) => Effect.Effect<ReadonlyArray<Prometheus.Series>, MetricsError>
  /** Request rate (requests per second, summed over the workload's pods) over a range. */
  readonly requestRate: (workload: { readonly namespace: string; readonly workload: string }, range: Prometheus.Range) => Effect.Effect<Prometheus.Series, MetricsError>
  /**
   * HTTP traffic of a set of pods (one revision: its ReplicaSet's pods) over the window of
   * `seconds` ending at `end` (epoch ms): requests, 5xx, error ratio and p95 latency. Optional:
   * sources without it (metrics-server, hand-made doubles) make the facts Unknown.
   */
  readonly httpStats?: ((pods: HttpSelector, window: HttpWindow) => Effect.Effect<HttpStats, MetricsError>) | undefined
}

/** The pods an `httpStats` query covers: their namespace and pod-name prefixes (ReplicaSet names, each followed by `-`). */
export interface HttpSelector {
  readonly namespace: string
  readonly podPrefixes: ReadonlyArray<string>
}

/** The window of an `httpStats` query. */
export interface HttpWindow {
  /** Epoch ms. */
  readonly end: number
  readonly seconds: number
}

/** HTTP traffic of some pods over a window. */
export interface HttpStats {
  readonly requests: number
  readonly errors: number
  /** errors / requests; null without traffic. */
  readonly errorRatio: number | null
  /** The p95 latency in seconds; null without traffic. */
  readonly p95Seconds: number | null
}

/** The Metrics service. */
export class Metrics extends Context.Service<Metrics, MetricsShape>()("@byteport/k8s/Metrics") {}

const l = Prometheus.escapeLabel

/** The PromQL the Prometheus implementation sends (override for other labelling schemes). */
export interface Queries {
  readonly workingSet: (p: { readonly namespace: string; readonly pod: string; readonly container?: string | undefined }) => string
  readonly nodeMemory: (node: string) => string
  readonly nodeCpu: (node: string) => string
  readonly memorySeries: (s: PodSelector) => string
  readonly requestRate: (w: { readonly namespace: string; readonly workload: string }) => string
  /** Requests (`code` "all") or 5xx (`code` "5xx") of pods over a window of `seconds`. */
  readonly httpRequests?: ((s: HttpSelector, seconds: number, code: "all" | "5xx") => string) | undefined
  /** The p95 latency of pods over a window of `seconds`. */
  readonly httpP95?: ((s: HttpSelector, seconds: number) => string) | undefined
}

const podRegex = (s: HttpSelector) => `(${s.podPrefixes.map((p) => Prometheus.escapeRegex(p)).join("|")})-[a-z0-9]+`

const containerMatch = (c: string | undefined) => (c !== undefined ? `container="${l(c)}"` : `container!="",container!="POD"`)

/** The default PromQL: cAdvisor/kubelet series with `namespace`/`pod`/`container`/`node` labels, `http_requests_total` by `job`. */
export const defaultQueries: Queries = {
  workingSet: (p) => `container_memory_working_set_bytes{namespace="${l(p.namespace)}",pod="${l(p.pod)}",${containerMatch(p.container)}}`,
  nodeMemory: (n) => `node_memory_MemTotal_bytes{node="${l(n)}"} - node_memory_MemAvailable_bytes{node="${l(n)}"}`,
  nodeCpu: (n) => `sum(rate(container_cpu_usage_seconds_total{node="${l(n)}",container!="",container!="POD"}[5m]))`,
  memorySeries: (s) => {
    const pod = s.pod !== undefined ? `pod="${l(s.pod)}"` : s.podPrefix !== undefined ? `pod=~"${Prometheus.escapeRegex(s.podPrefix)}.*"` : `pod!=""`
    return `max by (pod, container) (container_memory_working_set_bytes{namespace="${l(s.namespace)}",${pod},${containerMatch(s.container)}})`
  },
  requestRate: (w) => `sum(rate(http_requests_total{namespace="${l(w.namespace)}",job="${l(w.workload)}"}[2m]))`,
  httpRequests: (s, seconds, code) =>
    `sum(increase(http_requests_total{namespace="${l(s.namespace)}",pod=~"${podRegex(s)}"${code === "5xx" ? `,code=~"5.."` : ""}}[${Math.max(1, Math.round(seconds))}s]))`,
  httpP95: (s, seconds) =>
    `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="${l(s.namespace)}",pod=~"${podRegex(s)}"}[${Math.max(1, Math.round(seconds))}s])))`
}

/** The Prometheus implementation. */
export const makePrometheus = (queries: Partial<Queries> = {}): Effect.Effect<MetricsShape, never, Prometheus.Prometheus> =>
  Effect.gen(function*() {
    const prom = yield* Prometheus.Prometheus
    const q: Queries = { ...defaultQueries, ...queries }
    return {
      source: "prometheus",
      workingSet: (p) =>
        Effect.map(prom.query(q.workingSet(p)), (samples) =>
          samples
            .filter((s) => Number.isFinite(s.value))
            .map((s) => ({ container: s.labels.container ?? "", bytes: s.value }))
            .sort((a, b) => a.container.localeCompare(b.container))),
      nodeUsage: (node) =>
        Effect.map(Effect.all([prom.query(q.nodeMemory(node)), prom.query(q.nodeCpu(node))]), ([mem, cpu]) => ({
          node,
          memoryBytes: mem[0]?.value ?? NaN,
          cpuCores: cpu[0]?.value ?? 0
        })),
      memorySeries: (s, range) => prom.queryRange(q.memorySeries(s), range),
      requestRate: (w, range) => Effect.map(prom.queryRange(q.requestRate(w), range), (series) => series[0] ?? { labels: {}, points: [] }),
      httpStats: (pods, window) =>
        Effect.gen(function*() {
          if (pods.podPrefixes.length === 0) return { requests: 0, errors: 0, errorRatio: null, p95Seconds: null }
          const at = { time: window.end }
          const first = (xs: ReadonlyArray<Prometheus.Sample>) => (xs[0] && Number.isFinite(xs[0].value) ? xs[0].value : 0)
          const [all, errs, p95] = yield* Effect.all([
            prom.query((q.httpRequests ?? defaultQueries.httpRequests!)(pods, window.seconds, "all"), at),
            prom.query((q.httpRequests ?? defaultQueries.httpRequests!)(pods, window.seconds, "5xx"), at),
            prom.query((q.httpP95 ?? defaultQueries.httpP95!)(pods, window.seconds), at)
          ], { concurrency: 3 })
          const requests = first(all)
          const errors = first(errs)
          const p = p95[0]?.value
          return {
            requests,
            errors,
            errorRatio: requests > 0 ? errors / requests : null,
            p95Seconds: requests > 0 && p !== undefined && Number.isFinite(p) ? p : null
          }
        })
    }
  })

/** Parses a Kubernetes quantity (`123456Ki`, `512Mi`, `250m`, `1.5`, `2e3`) to a number of base units. */
export const parseQuantity = (q: string): number => {
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim())
  if (!m) return NaN
  const n = Number(m[1])
  const factors: Record<string, number> = {
    "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60
  }
  const f = factors[m[2]!]
  return f === undefined ? NaN : n * f
}

/** The metrics-server implementation (metrics.k8s.io/v1beta1 through the Kube service). */
export const makeMetricsServer: Effect.Effect<MetricsShape, never, Kube> = Effect.gen(function*() {
  const kube = yield* Kube
  const unsupported = (operation: string) =>
    Effect.fail(new MetricsUnsupported({ source: "metrics-server", operation, message: `metrics-server keeps no history: ${operation} needs Prometheus (BYTEPORT_PROMETHEUS_URL)` }))
  return {
    source: "metrics-server",
    workingSet: (p) =>
      Effect.map(kube.podMetrics(p.namespace), (list) => {
        const pm = list.items.find((i) => i.metadata.name === p.pod)
        return (pm?.containers ?? [])
          .filter((c) => p.container === undefined || c.name === p.container)
          .map((c) => ({ container: c.name, bytes: parseQuantity(c.usage.memory) }))
          .sort((a, b) => a.container.localeCompare(b.container))
      }),
    nodeUsage: (node) =>
      Effect.map(kube.nodeMetrics, (list) => {
        const nm = list.items.find((i) => i.metadata.name === node)
        return { node, memoryBytes: nm ? parseQuantity(nm.usage.memory) : NaN, cpuCores: nm ? parseQuantity(nm.usage.cpu) : NaN }
      }),
    memorySeries: () => unsupported("memorySeries"),
    requestRate: () => unsupported("requestRate"),
    httpStats: () => unsupported("httpStats")
  }
})

/** Metrics from Prometheus (needs a `Prometheus` layer, e.g. `Prometheus.layerConfig`). */
export const layerPrometheus = (queries: Partial<Queries> = {}): Layer.Layer<Metrics, never, Prometheus.Prometheus> => Layer.effect(Metrics, makePrometheus(queries))

/** Metrics from metrics-server. */
export const layerMetricsServer: Layer.Layer<Metrics, never, Kube> = Layer.effect(Metrics, makeMetricsServer)
