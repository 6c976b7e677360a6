/**
 * `Render`: a small client of Render's public REST API v1 over `fetch` (the endpoints the
 * Render runbooks use), as a `Context.Service`, plus the health probe of a service's app.
 * Responses are decoded with Schema from Render's documented JSON. The API key is `Redacted`
 * and sent as `Authorization: Bearer`; it never reaches a log, an error or a report.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"

/** A Render API call failed. */
export class RenderError extends Schema.TaggedError<RenderError>()("RenderError", {
  method: Schema.String,
  path: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  message: Schema.String
}) {}

/** A deploy, as Render returns it (the fields BytePort reads). */
export const Deploy = Schema.Struct({
  id: Schema.String,
  commit: Schema.optionalKey(Schema.NullOr(Schema.Struct({ id: Schema.String, message: Schema.optionalKey(Schema.String), createdAt: Schema.optionalKey(Schema.String) }))),
  status: Schema.String,
  trigger: Schema.optionalKey(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.optionalKey(Schema.String),
  finishedAt: Schema.optionalKey(Schema.NullOr(Schema.String))
})
/** A deploy. */
export type Deploy = typeof Deploy.Type

/** A service, as Render returns it (the fields BytePort reads). */
export const Service = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  autoDeploy: Schema.Literals(["yes", "no"]),
  branch: Schema.optionalKey(Schema.NullOr(Schema.String)),
  type: Schema.String,
  suspended: Schema.optionalKey(Schema.String),
  serviceDetails: Schema.optionalKey(Schema.Struct({
    healthCheckPath: Schema.optionalKey(Schema.NullOr(Schema.String)),
    url: Schema.optionalKey(Schema.NullOr(Schema.String)),
    plan: Schema.optionalKey(Schema.String)
  }))
})
/** A service. */
export type Service = typeof Service.Type

/** A service event, as Render returns it. */
export const Event = Schema.Struct({
  id: Schema.String,
  timestamp: Schema.String,
  serviceId: Schema.optionalKey(Schema.String),
  type: Schema.String,
  details: Schema.optionalKey(Schema.Unknown)
})
/** A service event. */
export type Event = typeof Event.Type

/** A page of `GET /v1/services/{id}/deploys`. */
export const DeployList = Schema.Array(Schema.Struct({ deploy: Deploy, cursor: Schema.String }))
/** A page of `GET /v1/services/{id}/events`. */
export const EventList = Schema.Array(Schema.Struct({ event: Event, cursor: Schema.String }))
/** The response of `GET /v1/metrics/http-requests` (series per status code). */
export const MetricSeries = Schema.Array(Schema.Struct({
  labels: Schema.Array(Schema.Struct({ field: Schema.String, value: Schema.String })),
  unit: Schema.optionalKey(Schema.String),
  values: Schema.Array(Schema.Struct({ timestamp: Schema.String, value: Schema.Number }))
}))

/** The request counts of a metrics response: all requests, and those answered with a 5xx. */
export const countsOf = (series: typeof MetricSeries.Type): RequestCounts => {
  let total = 0
  let errors = 0
  for (const s of series) {
    const code = Number(s.labels.find((l) => l.field === "statusCode")?.value ?? "0")
    const sum = s.values.reduce((a, v) => a + v.value, 0)
    total += sum
    if (code >= 500) errors += sum
  }
  return { total, errors }
}

/** HTTP request counts in a window: all, and those answered with a 5xx. */
export interface RequestCounts {
  readonly total: number
  readonly errors: number
}

/** Whether a probe status is healthy (a 2xx). */
export const healthy = (status: number | "timeout" | "error"): boolean => typeof status === "number" && status >= 200 && status < 300

/** A health probe's result. */
export interface HealthProbe {
  readonly at: number
  /** The HTTP status, or `timeout` / `error` (no response). */
  readonly status: number | "timeout" | "error"
  readonly ok: boolean
}

/** The client. */
export interface Shape {
  readonly getService: (serviceId: string) => Effect.Effect<Service, RenderError>
  /** The newest `limit` deploys (following cursors as needed), newest first. */
  readonly listDeploys: (serviceId: string, limit: number) => Effect.Effect<ReadonlyArray<Deploy>, RenderError>
  readonly getDeploy: (serviceId: string, deployId: string) => Effect.Effect<Deploy, RenderError>
  /** `POST /v1/services/{id}/deploys` with `{ commitId }`. */
  readonly deployCommit: (serviceId: string, commitId: string) => Effect.Effect<Deploy, RenderError>
  /** `POST /v1/services/{id}/rollback` with `{ deployId }`. */
  readonly rollback: (serviceId: string, deployId: string) => Effect.Effect<Deploy, RenderError>
  /** `PATCH /v1/services/{id}` with `{ autoDeploy }`. */
  readonly setAutoDeploy: (serviceId: string, on: boolean) => Effect.Effect<Service, RenderError>
  /** `PATCH /v1/services/{id}` with `{ serviceDetails: { plan } }` (the instance type). */
  readonly setPlan: (serviceId: string, plan: string) => Effect.Effect<Service, RenderError>
  /** `POST /v1/services/{id}/restart`. */
  readonly restart: (serviceId: string) => Effect.Effect<void, RenderError>
  /** Events since `startMs` (all pages up to `max`), newest first. */
  readonly listEvents: (serviceId: string, startMs: number, max?: number) => Effect.Effect<ReadonlyArray<Event>, RenderError>
  /** HTTP request counts of the service in [startMs, endMs) (`GET /v1/metrics/http-requests`). */
  readonly requestCounts: (serviceId: string, startMs: number, endMs: number) => Effect.Effect<RequestCounts, RenderError>
  /** One probe of a health URL: ok on a 2xx within `timeoutMs`. Never fails. */
  readonly probe: (url: string, timeoutMs: number, at: number) => Effect.Effect<HealthProbe>
}

/** The Render client service. */
export class Render extends Context.Service<Render, Shape>()("@byteport/cloud/Render") {}

/** Options of {@link make}. */
export interface Options {
  /** API root (default `https://api.render.com/v1`; tests: the fake's url). */
  readonly baseUrl?: string
  readonly apiKey: Redacted.Redacted<string>
  /** Per-request timeout, ms (default 30 000). */
  readonly timeoutMs?: number
}

/** Builds a client. */
export const make = (options: Options): Shape => {
  const base = (options.baseUrl ?? "https://api.render.com/v1").replace(/\/+$/, "")
  const timeoutMs = options.timeoutMs ?? 30_000
  const request = (method: string, path: string, o: { readonly query?: Record<string, string | number | undefined>; readonly body?: unknown } = {}) =>
    Effect.gen(function*() {
      const u = new URL(`${base}${path}`)
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v))
      const fail = (status: number, message: string) => new RenderError({ method, path, status, message })
      const res = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(u, {
            method,
            headers: {
              accept: "application/json",
              authorization: `Bearer ${Redacted.value(options.apiKey)}`,
              ...(o.body !== undefined ? { "content-type": "application/json" } : {})
            },
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
            ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {})
          }),
        catch: (e) => fail(0, `request failed: ${e instanceof Error ? e.message : String(e)}`)
      })
      const text = yield* Effect.tryPromise({ try: () => res.text(), catch: (e) => fail(res.status, `reading the body failed: ${String(e)}`) })
      let body: unknown = undefined
      if (text.length > 0) body = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => fail(res.status, "response is not JSON") })
      if (res.status >= 400) {
        const msg = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : `HTTP ${res.status}`
        return yield* fail(res.status, msg)
      }
      return body
    })
  const decode = <A>(schema: Schema.Codec<A, unknown>, method: string, path: string) => (body: unknown) =>
    Schema.decodeUnknownEffect(schema)(body).pipe(
      Effect.mapError((e) => new RenderError({ method, path, status: 200, message: `unexpected response shape: ${e.message}` }))
    )
  const svcPath = (id: string) => `/services/${encodeURIComponent(id)}`
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    getService: (id) => Effect.flatMap(request("GET", svcPath(id)), decode(Service, "GET", svcPath(id))),
    listDeploys: (id, limit) =>
      Effect.gen(function*() {
        const path = `${svcPath(id)}/deploys`
        const out: Array<Deploy> = []
        let cursor: string | undefined
        while (out.length < limit) {
          const page = yield* Effect.flatMap(request("GET", path, { query: { limit: Math.min(100, limit - out.length), cursor } }), decode(DeployList, "GET", path))
          out.push(...page.map((p) => p.deploy))
          if (page.length === 0) break
          cursor = page[page.length - 1]!.cursor
        }
        return out.slice(0, limit)
      }),
    getDeploy: (id, deployId) => {
      const path = `${svcPath(id)}/deploys/${encodeURIComponent(deployId)}`
      return Effect.flatMap(request("GET", path), decode(Deploy, "GET", path))
    },
    deployCommit: (id, commitId) => {
      const path = `${svcPath(id)}/deploys`
      return Effect.flatMap(request("POST", path, { body: { clearCache: "do_not_clear", commitId } }), decode(Deploy, "POST", path))
    },
    rollback: (id, deployId) => {
      const path = `${svcPath(id)}/rollback`
      return Effect.flatMap(request("POST", path, { body: { deployId } }), decode(Deploy, "POST", path))
    },
    setAutoDeploy: (id, on) => Effect.flatMap(request("PATCH", svcPath(id), { body: { autoDeploy: on ? "yes" : "no" } }), decode(Service, "PATCH", svcPath(id))),
    setPlan: (id, plan) => Effect.flatMap(request("PATCH", svcPath(id), { body: { serviceDetails: { plan } } }), decode(Service, "PATCH", svcPath(id))),
    restart: (id) => Effect.asVoid(request("POST", `${svcPath(id)}/restart`)),
    listEvents: (id, startMs, max = 500) =>
      Effect.gen(function*() {
        const path = `${svcPath(id)}/events`
        const out: Array<Event> = []
        let cursor: string | undefined
        while (out.length < max) {
          const page = yield* Effect.flatMap(request("GET", path, { query: { startTime: iso(startMs), limit: 100, cursor } }), decode(EventList, "GET", path))
          out.push(...page.map((p) => p.event))
          if (page.length < 100) break
          cursor = page[page.length - 1]!.cursor
        }
        return out
      }),
    requestCounts: (id, startMs, endMs) =>
      Effect.gen(function*() {
        const path = "/metrics/http-requests"
        const series = yield* Effect.flatMap(
          request("GET", path, { query: { resource: id, startTime: iso(startMs), endTime: iso(endMs), resolutionSeconds: 60, aggregateHttpRequestsBy: "statusCode" } }),
          decode(MetricSeries, "GET", path)
        )
        return countsOf(series)
      }),
    probe: (url, probeTimeoutMs, at) =>
      Effect.tryPromise({
        try: async (signal) => {
          const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(probeTimeoutMs)]) })
          await res.arrayBuffer().catch(() => undefined)
          return res.status
        },
        catch: (e) => (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError") ? "timeout" as const : "error" as const)
      }).pipe(
        Effect.map((status): HealthProbe => ({ at, status, ok: healthy(status) })),
        Effect.catch((status) => Effect.succeed<HealthProbe>({ at, status, ok: false }))
      )
  }
}

/** A layer of the client. */
export const layer = (options: Options): Layer.Layer<Render> => Layer.sync(Render, () => make(options))

/** The API key's configuration key. */
export const API_KEY = "BYTEPORT_RENDER_API_KEY"
/** The API root's configuration key (default `https://api.render.com/v1`). */
export const API_URL_KEY = "BYTEPORT_RENDER_API_URL"

/** A layer from configuration: `BYTEPORT_RENDER_API_KEY` (required, redacted) and `BYTEPORT_RENDER_API_URL`. */
export const layerConfig: Layer.Layer<Render, Config.ConfigError> = Layer.effect(
  Render,
  Effect.gen(function*() {
    const apiKey = yield* Config.Redacted(API_KEY)
    const baseUrl = yield* Config.String(API_URL_KEY).pipe(Config.withDefault("https://api.render.com/v1"))
    return make({ apiKey, baseUrl })
  })
)
