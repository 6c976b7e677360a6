/**
 * `SpinnakerGate`: a small client of Spinnaker's Gate API over `fetch` — an execution, an
 * application's executions, and a manual pipeline trigger (`POST /pipelines/{app}/{name}`).
 * Basic auth when configured (`BYTEPORT_SPINNAKER_GATE_URL`, `BYTEPORT_SPINNAKER_USER`,
 * `BYTEPORT_SPINNAKER_PASSWORD`).
 *
 * @since 0.3.0
 */
import { Config, Context, Effect, Layer, Option, Redacted, Schema } from "effect"

/** A Gate request failed. */
export class GateError extends Schema.TaggedError<GateError>()("GateError", {
  status: Schema.Number,
  message: Schema.String
}) {}

/** An execution, as Gate returns it (the fields BytePort reads). */
export interface Execution {
  readonly id: string
  readonly application: string
  readonly name: string
  readonly status: string
  readonly buildTime: number | null
  readonly startTime: number | null
  readonly endTime: number | null
  readonly trigger: { readonly user: string | null; readonly parameters: Readonly<Record<string, string>> }
}

/** The client's operations. */
export interface Shape {
  readonly execution: (id: string) => Effect.Effect<Execution, GateError>
  /** An application's executions, newest first. */
  readonly executions: (application: string, limit?: number) => Effect.Effect<ReadonlyArray<Execution>, GateError>
  /** Triggers a pipeline by name with parameters; the new execution's id. */
  readonly trigger: (application: string, pipeline: string, parameters: Readonly<Record<string, string>>, user: string) => Effect.Effect<string, GateError>
}

/** The Gate client service. */
export class SpinnakerGate extends Context.Service<SpinnakerGate, Shape>()("@byteport/cloud/SpinnakerGate") {}

/** Options of {@link make}. */
export interface Options {
  readonly baseUrl: string
  readonly username?: string
  readonly password?: Redacted.Redacted<string>
  readonly fetch?: typeof fetch
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null)

/** Decodes an execution from Gate's JSON. */
export const toExecution = (x: unknown): Execution => {
  const o = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>
  const t = (typeof o["trigger"] === "object" && o["trigger"] !== null ? o["trigger"] : {}) as Record<string, unknown>
  const params = (typeof t["parameters"] === "object" && t["parameters"] !== null ? t["parameters"] : {}) as Record<string, unknown>
  return {
    id: String(o["id"] ?? ""),
    application: String(o["application"] ?? ""),
    name: String(o["name"] ?? ""),
    status: String(o["status"] ?? ""),
    buildTime: num(o["buildTime"]),
    startTime: num(o["startTime"]),
    endTime: num(o["endTime"]),
    trigger: { user: typeof t["user"] === "string" ? t["user"] : null, parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) }
  }
}

/** Builds a client. */
export const make = (options: Options): Shape => {
  const f = options.fetch ?? fetch
  const base = options.baseUrl.replace(/\/+$/, "")
  const headers: Record<string, string> = { accept: "application/json" }
  if (options.username !== undefined && options.password !== undefined) {
    headers["authorization"] = `Basic ${Buffer.from(`${options.username}:${Redacted.value(options.password)}`).toString("base64")}`
  }
  const call = (method: string, path: string, body?: unknown) =>
    Effect.tryPromise({
      try: async () => {
        const res = await f(`${base}${path}`, { method, headers: body === undefined ? headers : { ...headers, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
        const text = await res.text()
        const json: unknown = text.length > 0 ? JSON.parse(text) : undefined
        return { status: res.status, json }
      },
      catch: (e) => new GateError({ status: 0, message: `Gate ${method} ${path}: ${String(e)}` })
    }).pipe(Effect.flatMap((r) =>
      r.status >= 200 && r.status < 300
        ? Effect.succeed(r.json)
        : Effect.fail(new GateError({ status: r.status, message: `Gate ${method} ${path}: ${r.status} ${String((r.json as { message?: unknown } | undefined)?.message ?? "")}` }))
    ))
  return {
    execution: (id) => Effect.map(call("GET", `/pipelines/${encodeURIComponent(id)}`), toExecution),
    executions: (application, limit = 25) =>
      Effect.map(call("GET", `/applications/${encodeURIComponent(application)}/pipelines?limit=${limit}`), (x) => (Array.isArray(x) ? x.map(toExecution) : [])),
    trigger: (application, pipeline, parameters, user) =>
      Effect.flatMap(call("POST", `/pipelines/${encodeURIComponent(application)}/${encodeURIComponent(pipeline)}`, { type: "manual", user, parameters }), (x) => {
        const ref = typeof x === "object" && x !== null ? (x as { ref?: unknown }).ref : undefined
        return typeof ref === "string" ? Effect.succeed(ref.split("/").pop()!) : Effect.fail(new GateError({ status: 0, message: "Gate answered the trigger without a ref" }))
      })
  }
}

/** The client as a layer. */
export const layer = (options: Options): Layer.Layer<SpinnakerGate> => Layer.sync(SpinnakerGate, () => make(options))

/** The client from `BYTEPORT_SPINNAKER_GATE_URL` (and optional `BYTEPORT_SPINNAKER_USER` / `BYTEPORT_SPINNAKER_PASSWORD`). */
export const layerConfig: Layer.Layer<SpinnakerGate, Config.ConfigError> = Layer.effect(
  SpinnakerGate,
  Effect.gen(function*() {
    const baseUrl = yield* Config.String("BYTEPORT_SPINNAKER_GATE_URL")
    const username = yield* Config.option(Config.String("BYTEPORT_SPINNAKER_USER"))
    const password = yield* Config.option(Config.Redacted("BYTEPORT_SPINNAKER_PASSWORD"))
    return make({ baseUrl, ...(Option.isSome(username) ? { username: username.value } : {}), ...(Option.isSome(password) ? { password: password.value } : {}) })
  })
)
