/**
 * A Prometheus HTTP API client: instant queries (`/api/v1/query`) and range queries
 * (`/api/v1/query_range`), decoded with Schema. Configured by `BYTEPORT_PROMETHEUS_URL`.
 *
 * Errors are typed so a Diagnoser can turn them into an explicit Unknown fact, never a guess:
 * - `PrometheusUnavailable`: connection refused, timeout, 5xx — Prometheus cannot answer now;
 * - `PrometheusQueryError`: the server refused the query (4xx, `"status": "error"` with
 *   `errorType`/`error`) or answered with a body that is not the Prometheus JSON shape.
 *
 * @example
 * ```ts
 * const prom = yield* Prometheus.Prometheus
 * const v = yield* prom.query('sum(container_memory_working_set_bytes{namespace="shop"})')
 * ```
 *
 * @since 0.1.0
 */
import { Config, Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"

/** Prometheus cannot answer (unreachable, timeout, 5xx). Retryable; a Diagnoser records an Unknown fact. */
export class PrometheusUnavailable extends Schema.TaggedError<PrometheusUnavailable>()("PrometheusUnavailable", {
  url: Schema.String,
  query: Schema.String,
  status: Schema.Number,
  message: Schema.String
}) {}

/** Prometheus refused the query (bad PromQL, 4xx) or answered with a body that is not its JSON shape. */
export class PrometheusQueryError extends Schema.TaggedError<PrometheusQueryError>()("PrometheusQueryError", {
  query: Schema.String,
  status: Schema.Number,
  /** Prometheus's `errorType` (`bad_data`, `execution`, `timeout` …) or `decode`. */
  errorType: Schema.String,
  message: Schema.String
}) {}

/** Any Prometheus failure. */
export type PrometheusError = PrometheusUnavailable | PrometheusQueryError

const Labels = Schema.Record(Schema.String, Schema.String)
const Point = Schema.Tuple([Schema.Number, Schema.String])

/** The `data` of a successful query. */
export const QueryData = Schema.Union([
  Schema.Struct({ resultType: Schema.Literal("vector"), result: Schema.Array(Schema.Struct({ metric: Labels, value: Point })) }),
  Schema.Struct({ resultType: Schema.Literal("matrix"), result: Schema.Array(Schema.Struct({ metric: Labels, values: Schema.Array(Point) })) }),
  Schema.Struct({ resultType: Schema.Literal("scalar"), result: Point }),
  Schema.Struct({ resultType: Schema.Literal("string"), result: Point })
])

/** The body of `/api/v1/query` and `/api/v1/query_range`. */
export const QueryResponse = Schema.Union([
  Schema.Struct({ status: Schema.Literal("success"), data: QueryData, warnings: Schema.optionalKey(Schema.Array(Schema.String)) }),
  Schema.Struct({ status: Schema.Literal("error"), errorType: Schema.String, error: Schema.String })
])

/** One instant sample: labels, epoch ms, value (NaN/±Inf as numbers). */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>
  readonly at: number
  readonly value: number
}

/** One series: labels and `[epoch ms, value]` points, oldest first. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>
  readonly points: ReadonlyArray<readonly [number, number]>
}

/** A range query window. */
export interface Range {
  /** Epoch ms. */
  readonly start: number
  /** Epoch ms. */
  readonly end: number
  /** Resolution (default 60 s). */
  readonly step?: Duration.Input | undefined
}

/** The Prometheus service. */
export class Prometheus extends Context.Service<
  Prometheus,
  {
    /** The base URL queried. */
    readonly url: string
    /** An instant query (at `time`, epoch ms, default now on the server); scalars come back as one sample with no labels. */
    readonly query: (promql: string, options?: { readonly time?: number | undefined }) => Effect.Effect<ReadonlyArray<Sample>, PrometheusError>
    /** A range query. */
    readonly queryRange: (promql: string, range: Range) => Effect.Effect<ReadonlyArray<Series>, PrometheusError>
  }
>()("@byteport/k8s/Prometheus") {}

/** Options of `make`. */
export interface PrometheusOptions {
  /** Base URL, e.g. `http://prometheus.monitoring:9090` (no trailing `/api/v1`). */
  readonly url: string
  /** Per-request time limit (default 10 s). */
  readonly timeout?: Duration.Input | undefined
  /** A bearer token, if the server wants one (never logged). */
  readonly token?: Redacted.Redacted<string> | undefined
}

const num = (s: string): number => (s === "+Inf" ? Infinity : s === "-Inf" ? -Infinity : Number(s))

/** Escapes a label value for a PromQL string literal. */
export const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

/** Escapes a string for use inside a PromQL regex matcher (`=~`). */
export const escapeRegex = (value: string): string => escapeLabel(value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))

/** Builds a client. */
export const make = (options: PrometheusOptions) => {
  const base = options.url.replace(/\/+$/, "")
  const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "10 seconds"))
  const request = (path: string, promql: string, params: Record<string, string>) =>
    Effect.gen(function*() {
      const body = new URLSearchParams({ query: promql, ...params })
      const res = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(`${base}${path}`, {
            method: "POST",
            headers: {
              "Content-Type": "application/x-www-form-urlencoded",
              Accept: "application/json",
              ...(options.token ? { Authorization: `Bearer ${Redacted.value(options.token)}` } : {})
            },
            body,
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
          }).then(async (r) => ({ status: r.status, text: await r.text() })),
        catch: (e) => {
          const cause = (e as { cause?: { code?: string } })?.cause?.code
          const name = e instanceof Error ? e.name : ""
          return new PrometheusUnavailable({
            url: base,
            query: promql,
            status: 0,
            message: name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `${e instanceof Error ? e.message : String(e)}${cause ? ` (${cause})` : ""}`
          })
        }
      })
      if (res.status >= 500 && res.status !== 503 && res.status !== 504) {
        // 500-range other than 503/504 may still carry an execution error body; read it if it does
        const parsed = decodeBody(res.text)
        if (parsed?.status === "error") return yield* new PrometheusUnavailable({ url: base, query: promql, status: res.status, message: `${parsed.errorType}: ${parsed.error}` })
      }
      if (res.status >= 500) return yield* new PrometheusUnavailable({ url: base, query: promql, status: res.status, message: `HTTP ${res.status}: ${res.text.slice(0, 200)}` })
      const decoded = decodeBody(res.text)
      if (decoded === undefined) {
        return yield* new PrometheusQueryError({ query: promql, status: res.status, errorType: "decode", message: `not a Prometheus API response (HTTP ${res.status}): ${res.text.slice(0, 200)}` })
      }
      if (decoded.status === "error") return yield* new PrometheusQueryError({ query: promql, status: res.status, errorType: decoded.errorType, message: decoded.error })
      if (res.status >= 300) return yield* new PrometheusQueryError({ query: promql, status: res.status, errorType: "http", message: `HTTP ${res.status}` })
      return decoded.data
    }).pipe(Effect.withSpan("Prometheus.query", { attributes: { query: promql } }))

  const decodeBody = (text: string): typeof QueryResponse.Type | undefined => {
    try {
      const r = Schema.decodeUnknownExit(QueryResponse)(JSON.parse(text))
      return r._tag === "Success" ? r.value : undefined
    } catch {
      return undefined
    }
  }

  return Prometheus.of({
    url: base,
    query: (promql, o = {}) =>
      Effect.map(request("/api/v1/query", promql, o.time !== undefined ? { time: String(o.time / 1000) } : {}), (data): ReadonlyArray<Sample> => {
        switch (data.resultType) {
          case "vector":
            return data.result.map((s) => ({ labels: s.metric, at: s.value[0] * 1000, value: num(s.value[1]) }))
          case "matrix":
            return data.result.flatMap((s) => {
              const last = s.values.at(-1)
              return last ? [{ labels: s.metric, at: last[0] * 1000, value: num(last[1]) }] : []
            })
          case "scalar":
          case "string":
            return [{ labels: {}, at: data.result[0] * 1000, value: num(data.result[1]) }]
        }
      }),
    queryRange: (promql, range) =>
      Effect.map(
        request("/api/v1/query_range", promql, {
          start: String(range.start / 1000),
          end: String(range.end / 1000),
          step: String(Duration.toSeconds(Duration.fromInputUnsafe(range.step ?? "60 seconds")))
        }),
        (data): ReadonlyArray<Series> =>
          data.resultType === "matrix"
            ? data.result.map((s) => ({ labels: s.metric, points: s.values.map(([t, v]) => [t * 1000, num(v)] as const) }))
            : data.resultType === "vector"
            ? data.result.map((s) => ({ labels: s.metric, points: [[s.value[0] * 1000, num(s.value[1])] as const] }))
            : [{ labels: {}, points: [[data.result[0] * 1000, num(data.result[1])] as const] }]
      )
  })
}

/** A layer for a given URL. */
export const layer = (options: PrometheusOptions): Layer.Layer<Prometheus> => Layer.succeed(Prometheus, make(options))

/** A layer from Config: `BYTEPORT_PROMETHEUS_URL` (required), `BYTEPORT_PROMETHEUS_TOKEN` (optional, redacted). */
export const layerConfig: Layer.Layer<Prometheus, Config.ConfigError> = Layer.effect(
  Prometheus,
  Effect.gen(function*() {
    const url = yield* Config.String("BYTEPORT_PROMETHEUS_URL")
    const token = yield* Config.Redacted("BYTEPORT_PROMETHEUS_TOKEN").pipe(Config.option)
    return make({ url, ...(Option.isSome(token) ? { token: token.value } : {}) })
  })
)
