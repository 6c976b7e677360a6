/**
 * Google Compute Engine API v1 as BytePort uses it: zonal persistent disks (`disks.get`,
 * `disks.resize`) and zone operations (`zoneOperations.get`), over `fetch` with a bearer token
 * (an OAuth 2 access token: from configuration, or a provider function such as the metadata
 * server's). Responses are decoded with Schema from the documented JSON (`sizeGb` is an int64
 * string); failures are typed (`GcpError`: status, Google's `reason`, message). The token never
 * reaches a log, an error or a report.
 *
 * Permission the action kind needs: `compute.disks.get`, `compute.disks.resize`,
 * `compute.zoneOperations.get` (e.g. roles/compute.storageAdmin on the project).
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"

/** A Compute Engine call failed. */
export class GcpError extends Schema.TaggedError<GcpError>()("GcpError", {
  method: Schema.String,
  path: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  /** Google's error reason (`notFound`, `invalid`, `authError`, …) when given. */
  reason: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/** A zonal disk (the fields BytePort reads). */
export const Disk = Schema.Struct({
  name: Schema.String,
  id: Schema.String,
  sizeGb: Schema.NumberFromString,
  zone: Schema.String,
  status: Schema.String
})
/** A zonal disk. */
export type Disk = typeof Disk.Type

/** A zone operation (the fields BytePort reads). */
export const Operation = Schema.Struct({
  name: Schema.String,
  status: Schema.Literals(["PENDING", "RUNNING", "DONE"]),
  operationType: Schema.optionalKey(Schema.String),
  targetLink: Schema.optionalKey(Schema.String),
  error: Schema.optionalKey(Schema.Struct({ errors: Schema.Array(Schema.Struct({ code: Schema.optionalKey(Schema.String), message: Schema.optionalKey(Schema.String) })) }))
})
/** A zone operation. */
export type Operation = typeof Operation.Type

/** A disk's address. */
export interface DiskRef {
  readonly project: string
  readonly zone: string
  readonly disk: string
}

/** The service's shape. */
export interface Shape {
  /** The disk, or undefined on 404. */
  readonly getDisk: (ref: DiskRef) => Effect.Effect<Disk | undefined, GcpError>
  /** Starts a resize to `sizeGb`; the zone operation. */
  readonly resize: (ref: DiskRef, sizeGb: number) => Effect.Effect<Operation, GcpError>
  readonly getOperation: (project: string, zone: string, name: string) => Effect.Effect<Operation, GcpError>
}

/** Compute Engine disks and zone operations. */
export class GcpCompute extends Context.Service<GcpCompute, Shape>()("@byteport/cloud/GcpCompute") {}

/** Options of {@link make}. */
export interface Options {
  /** API root (default `https://compute.googleapis.com`; tests: the fake's url). */
  readonly baseUrl?: string | undefined
  /** The access token, or a function returning a fresh one. */
  readonly token: Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>, GcpError>
  /** Per request (default 30 s). */
  readonly timeoutMs?: number | undefined
}

const ErrorBody = Schema.Struct({
  error: Schema.Struct({ message: Schema.String, errors: Schema.optionalKey(Schema.Array(Schema.Struct({ reason: Schema.optionalKey(Schema.String) }))) })
})

/** Builds the service. */
export const make = (options: Options): Shape => {
  const root = (options.baseUrl ?? "https://compute.googleapis.com").replace(/\/$/, "")
  const token = Redacted.isRedacted(options.token) ? Effect.succeed(options.token) : options.token
  const request = <A>(method: string, path: string, schema: Schema.Decoder<A>, body?: unknown) =>
    Effect.gen(function*() {
      const t = yield* token
      const res = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(`${root}${path}`, {
            method,
            headers: { authorization: `Bearer ${Redacted.value(t)}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)])
          }),
        catch: (e) => new GcpError({ method, path, status: 0, message: e instanceof Error ? e.message : String(e) })
      })
      const json = yield* Effect.tryPromise({
        try: () => res.json() as Promise<unknown>,
        catch: () => new GcpError({ method, path, status: res.status, message: `non-JSON response (HTTP ${res.status})` })
      })
      if (!res.ok) {
        const err = Schema.decodeUnknownOption(ErrorBody)(json)
        const reason = err._tag === "Some" ? err.value.error.errors?.[0]?.reason : undefined
        return yield* new GcpError({
          method,
          path,
          status: res.status,
          message: err._tag === "Some" ? err.value.error.message.slice(0, 500) : `HTTP ${res.status}`,
          ...(reason !== undefined ? { reason } : {})
        })
      }
      return yield* Schema.decodeUnknownEffect(schema)(json).pipe(
        Effect.mapError((e) => new GcpError({ method, path, status: res.status, message: `unexpected response: ${e.message.slice(0, 300)}` }))
      )
    })
  const diskPath = (r: DiskRef) => `/compute/v1/projects/${encodeURIComponent(r.project)}/zones/${encodeURIComponent(r.zone)}/disks/${encodeURIComponent(r.disk)}`
  return {
    getDisk: (ref) => request("GET", diskPath(ref), Disk).pipe(Effect.catchIf((e) => e.status === 404, () => Effect.succeed(undefined))),
    resize: (ref, sizeGb) => request("POST", `${diskPath(ref)}/resize`, Operation, { sizeGb: String(sizeGb) }),
    getOperation: (project, zone, name) =>
      request("GET", `/compute/v1/projects/${encodeURIComponent(project)}/zones/${encodeURIComponent(zone)}/operations/${encodeURIComponent(name)}`, Operation)
  }
}

/** The service from options. */
export const layer = (options: Options): Layer.Layer<GcpCompute> => Layer.sync(GcpCompute, () => make(options))

/** The access token's configuration key. */
export const TOKEN_KEY = "BYTEPORT_GCP_ACCESS_TOKEN"
/** The API root's configuration key (default `https://compute.googleapis.com`). */
export const API_URL_KEY = "BYTEPORT_GCP_COMPUTE_URL"

/** The service from configuration (`BYTEPORT_GCP_ACCESS_TOKEN`, optional `BYTEPORT_GCP_COMPUTE_URL`). */
export const layerConfig: Layer.Layer<GcpCompute, Config.ConfigError> = Layer.effect(
  GcpCompute,
  Effect.gen(function*() {
    const token = yield* Config.Redacted(TOKEN_KEY)
    const baseUrl = yield* Config.String(API_URL_KEY).pipe(Config.withDefault("https://compute.googleapis.com"))
    return make({ token, baseUrl })
  })
)
