/**
 * Docker's disk reclaim through the Engine API (the calls the `docker` CLI makes), opt-in
 * (`dockerPruneEnabled`, default false):
 *
 * - default: `docker image prune` (`POST /images/prune` with `filters={"dangling":["true"]}`) and
 *   `docker builder prune` (`POST /build/prune`, unused build cache) — "prunes dangling images
 *   and build cache", as the seed says;
 * - `aggressivePrune`: the calls of `docker system prune -af` — stopped containers
 *   (`POST /containers/prune`), unused networks (`POST /networks/prune`), every unused image
 *   (`POST /images/prune` with `filters={"dangling":["false"]}`) and all build cache
 *   (`POST /build/prune?all=1`).
 *
 * Volumes are never pruned (`/volumes/prune` is never called, in any mode). The API version is
 * negotiated as the CLI does (`GET /_ping`, header `API-Version`). dry_run only reads
 * (`GET /system/df`) and says what would go. `observe` reads `/system/df`: nothing left to
 * prune → Applied, something → NotApplied.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as Measured from "./Measured"
import * as http from "node:http"

/** The action kind. */
export const KIND = "host.docker.prune"

/** The default Engine socket. */
export const DEFAULT_SOCKET = "/var/run/docker.sock"

/** Where the Engine API listens: a unix socket (Docker's default) or a loopback/TCP base URL. */
export type Endpoint = { readonly socketPath: string } | { readonly baseUrl: string }

/** The Engine API failed or answered what it should not. */
export class DockerError extends Schema.TaggedError<DockerError>()("DockerError", {
  call: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  message: Schema.String
}) {}

/** The params of a prune. */
export const Params = Schema.Struct({
  /** `docker system prune -af`'s calls instead of dangling images + build cache. */
  aggressive: Schema.Boolean
})
/** The params of a prune. */
export type Params = typeof Params.Type

/** One API call of a prune (method and path, without the version prefix). */
export interface Call {
  readonly method: "POST"
  readonly path: string
}

/** Pure: the calls a prune makes, in order. Never `/volumes/prune`. */
export const calls = (aggressive: boolean): ReadonlyArray<Call> =>
  aggressive
    ? [
      { method: "POST", path: "/containers/prune" },
      { method: "POST", path: "/networks/prune" },
      { method: "POST", path: `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ["false"] }))}` },
      { method: "POST", path: "/build/prune?all=1" }
    ]
    : [
      { method: "POST", path: `/images/prune?filters=${encodeURIComponent(JSON.stringify({ dangling: ["true"] }))}` },
      { method: "POST", path: "/build/prune" }
    ]

const request = (endpoint: Endpoint, method: string, path: string, timeoutMs: number): Effect.Effect<{ status: number; headers: http.IncomingHttpHeaders; body: string }, DockerError> =>
  Effect.callback<{ status: number; headers: http.IncomingHttpHeaders; body: string }, DockerError>((resume) => {
    const target = "socketPath" in endpoint
      ? { socketPath: endpoint.socketPath, path, host: "docker" }
      : (() => {
        const u = new URL(path, endpoint.baseUrl)
        return { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}` }
      })()
    const req = http.request({ ...target, method, headers: { "content-type": "application/json", "user-agent": "byteport-host" }, timeout: timeoutMs }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") })))
      res.on("error", (e) => resume(Effect.fail(new DockerError({ call: `${method} ${path}`, message: e.message }))))
    })
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on("error", (e) => resume(Effect.fail(new DockerError({ call: `${method} ${path}`, message: e.message }))))
    req.end()
    return Effect.sync(() => req.destroy())
  })

/** A client of the Engine API endpoints a prune uses. */
export interface Client {
  /** The negotiated API version (`GET /_ping`'s `API-Version`), e.g. `1.43`. */
  readonly version: Effect.Effect<string, DockerError>
  /** A JSON call with the version prefix; a non-2xx answer fails with the Engine's message. */
  readonly call: (method: string, path: string) => Effect.Effect<unknown, DockerError>
}

/** A client for an endpoint (timeout per call, default 120 s: prunes can be slow). */
export const client = (endpoint: Endpoint, timeoutMs = 120_000): Client => {
  const version = Effect.flatMap(request(endpoint, "GET", "/_ping", timeoutMs), (r) => {
    const v = r.headers["api-version"]
    return r.status === 200 && typeof v === "string" && /^\d+\.\d+$/.test(v)
      ? Effect.succeed(v)
      : Effect.fail(new DockerError({ call: "GET /_ping", status: r.status, message: `no API-Version in the answer (${r.body.slice(0, 200)})` }))
  })
  return {
    version,
    call: (method, path) =>
      Effect.gen(function*() {
        const v = yield* version
        const r = yield* request(endpoint, method, `/v${v}${path}`, timeoutMs)
        let body: unknown = undefined
        try {
          body = r.body === "" ? {} : JSON.parse(r.body)
        } catch {
          body = r.body
        }
        if (r.status < 200 || r.status >= 300) {
          const msg = typeof body === "object" && body !== null && typeof (body as { message?: unknown }).message === "string" ? (body as { message: string }).message : r.body
          return yield* new DockerError({ call: `${method} ${path}`, status: r.status, message: msg })
        }
        return body
      })
  }
}

const DfImage = Schema.Struct({
  Id: Schema.String,
  RepoTags: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String))),
  Size: Schema.Number,
  Containers: Schema.Number
})
const DfCache = Schema.Struct({ ID: Schema.String, Size: Schema.Number, InUse: Schema.Boolean, Shared: Schema.optionalKey(Schema.Boolean) })
const DfContainer = Schema.Struct({ Id: Schema.String, State: Schema.String })
/** The part of `GET /system/df` a prune reads. */
export const SystemDf = Schema.Struct({
  Images: Schema.NullOr(Schema.Array(DfImage)),
  Containers: Schema.optionalKey(Schema.NullOr(Schema.Array(DfContainer))),
  BuildCache: Schema.optionalKey(Schema.NullOr(Schema.Array(DfCache)))
})
/** The part of `GET /system/df` a prune reads. */
export type SystemDf = typeof SystemDf.Type

const isDangling = (i: { readonly RepoTags?: ReadonlyArray<string> | null | undefined }) =>
  i.RepoTags === undefined || i.RepoTags === null || i.RepoTags.length === 0 || i.RepoTags.every((t) => t === "<none>:<none>")

/** Pure: what a prune would remove, from `/system/df` (images, build-cache records, stopped containers; bytes). */
export const wouldRemove = (df: SystemDf, aggressive: boolean): { readonly images: number; readonly caches: number; readonly containers: number; readonly bytes: number } => {
  const images = (df.Images ?? []).filter((i) => i.Containers <= 0 && (aggressive || isDangling(i)))
  // `docker builder prune` keeps shared records; `--all` (the aggressive prune) removes them too
  const caches = (df.BuildCache ?? []).filter((c) => !c.InUse && (aggressive || c.Shared !== true))
  const containers = aggressive ? (df.Containers ?? []).filter((c) => c.State === "exited" || c.State === "created" || c.State === "dead") : []
  return { images: images.length, caches: caches.length, containers: containers.length, bytes: [...images, ...caches].reduce((n, x) => n + x.Size, 0) }
}

/** Reads `GET /system/df`. */
export const systemDf = (c: Client): Effect.Effect<SystemDf, DockerError> =>
  Effect.flatMap(c.call("GET", "/system/df"), (body) =>
    Schema.decodeUnknownEffect(SystemDf)(body).pipe(Effect.mapError((e) => new DockerError({ call: "GET /system/df", message: e.message }))))

/** What a prune did: the Engine's `SpaceReclaimed` summed, and the counts it reported. */
export interface Pruned {
  readonly spaceReclaimed: number
  readonly deleted: Readonly<Record<string, number>>
}

/** Runs the prune's calls in order (never `/volumes/prune`). */
export const prune = (c: Client, aggressive: boolean): Effect.Effect<Pruned, DockerError> =>
  Effect.gen(function*() {
    let space = 0
    const deleted: Record<string, number> = {}
    for (const call of calls(aggressive)) {
      const body = (yield* c.call(call.method, call.path)) as Record<string, unknown>
      if (typeof body["SpaceReclaimed"] === "number") space += body["SpaceReclaimed"]
      for (const k of ["ContainersDeleted", "NetworksDeleted", "ImagesDeleted", "CachesDeleted"]) {
        const v = body[k]
        if (Array.isArray(v)) deleted[k] = (deleted[k] ?? 0) + v.length
      }
    }
    return { spaceReclaimed: space, deleted }
  })

/** The `host.docker.prune` handler (params `{ aggressive }`). dry_run reads `/system/df` only. */
export const spec = (endpoint: Endpoint, options: { readonly timeoutMs?: number } = {}): Measured.Spec<Params> => {
  const c = client(endpoint, options.timeoutMs)
  const failed = (e: DockerError) => new ActionHandler.ActionFailed({ kind: KIND, message: `Docker Engine API ${e.call}: ${e.status ?? ""} ${e.message}`.replace(/\s+/g, " ") })
  return {
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      ctx.dryRun
        ? Effect.map(systemDf(c), (df) => {
          const w = wouldRemove(df, p.aggressive)
          return {
            detail: `would prune ${p.aggressive ? "every unused image, stopped container, unused network and all build cache" : "dangling images and unused build cache"} (${w.images} image(s), ${w.caches} cache record(s), ${w.containers} container(s), ${w.bytes} bytes); never volumes`,
            result: { dryRun: true, aggressive: p.aggressive, ...w }
          }
        }).pipe(Effect.mapError(failed))
        : Effect.map(prune(c, p.aggressive), (r) => ({
          detail: `pruned ${p.aggressive ? "as docker system prune -af" : "dangling images and build cache"}: ${r.spaceReclaimed} bytes reclaimed (Engine); never volumes`,
          result: { dryRun: false, aggressive: p.aggressive, spaceReclaimed: r.spaceReclaimed, deleted: r.deleted }
        })).pipe(Effect.mapError(failed)),
    observe: (p) =>
      Effect.map(systemDf(c), (df) => {
        const w = wouldRemove(df, p.aggressive)
        return w.images + w.caches + w.containers === 0
          ? ActionHandler.applied("nothing left to prune")
          : ActionHandler.notApplied(`${w.images} image(s), ${w.caches} cache record(s), ${w.containers} container(s) still prunable`)
      })
  }
}

/** The action as a core `ActionHandler` (unmeasured; the disk runbooks register `Measured.measured(spec(…))`). */
export const handler = (endpoint: Endpoint, options: { readonly timeoutMs?: number } = {}): ActionHandler.ActionHandler => Measured.handlerOf(spec(endpoint, options))
