/**
 * `ArgoCd`: a small Argo CD REST client over `fetch` (argocd-server's grpc-gateway JSON), as a
 * `Context.Service`: get an Application, patch it (`merge` or `json`), roll it back to a history
 * id (`dryRun` supported by the server), and the server version. The bearer token never reaches a
 * log, an error or a report (it is `Redacted`).
 *
 * Configuration: `BYTEPORT_ARGOCD_URL` (the server, e.g. `https://argocd.example.com`) and
 * `BYTEPORT_ARGOCD_TOKEN` (an account token with `applications, get|update|sync` on the
 * project; `argocd account generate-token`).
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"
import * as R from "./Resources"

/** An Argo CD API call failed. */
export class ArgoCdError extends Schema.TaggedError<ArgoCdError>()("ArgoCdError", {
  method: Schema.String,
  path: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  /** The gRPC code from the body (`5` NotFound, `9` FailedPrecondition, `16` Unauthenticated …), when given. */
  code: Schema.optionalKey(Schema.Number),
  message: Schema.String
}) {}

/** The client's operations. */
export interface Shape {
  /** An Application (`appNamespace`: the namespace it lives in, when not the server's own). */
  readonly get: (name: string, appNamespace?: string) => Effect.Effect<R.Obj, ArgoCdError>
  /** `PATCH /api/v1/applications/{name}` with an `ApplicationPatchRequest`. */
  readonly patch: (name: string, patch: unknown, patchType: "merge" | "json", appNamespace?: string) => Effect.Effect<R.Obj, ArgoCdError>
  /** `POST /api/v1/applications/{name}/rollback` (`ApplicationRollbackRequest`). */
  readonly rollback: (name: string, o: { readonly id: number; readonly prune?: boolean; readonly dryRun?: boolean; readonly appNamespace?: string }) => Effect.Effect<R.Obj, ArgoCdError>
  /** `GET /api/version`'s `Version` (`v3.1.0+abc1234`). */
  readonly version: Effect.Effect<string, ArgoCdError>
}

/** The Argo CD client service. */
export class ArgoCd extends Context.Service<ArgoCd, Shape>()("@byteport/cloud/ArgoCd") {}

/** Options of {@link make}. */
export interface Options {
  readonly baseUrl: string
  readonly token: Redacted.Redacted<string>
  /** Per-request timeout, ms (default 30 000). */
  readonly timeoutMs?: number
}

/** Builds a client. */
export const make = (options: Options): Shape => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const timeoutMs = options.timeoutMs ?? 30_000
  const request = (method: string, path: string, o: { readonly query?: Record<string, string | undefined>; readonly body?: unknown } = {}) =>
    Effect.gen(function*() {
      const u = new URL(`${base}${path}`)
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) u.searchParams.set(k, v)
      const fail = (status: number, message: string, code?: number) => new ArgoCdError({ method, path, status, message, ...(code !== undefined ? { code } : {}) })
      const res = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(u, {
            method,
            headers: { authorization: `Bearer ${Redacted.value(options.token)}`, accept: "application/json", ...(o.body !== undefined ? { "content-type": "application/json" } : {}) },
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
            ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {})
          }),
        catch: (e) => fail(0, `request failed: ${e instanceof Error ? e.message : String(e)}`)
      })
      const text = yield* Effect.tryPromise({ try: () => res.text(), catch: (e) => fail(res.status, `reading the body failed: ${String(e)}`) })
      let body: unknown = undefined
      if (text.length > 0) body = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => fail(res.status, "response is not JSON") })
      if (res.status >= 400) {
        const b = R.obj(body)
        return yield* fail(res.status, R.str(b["message"]) ?? R.str(b["error"]) ?? `HTTP ${res.status}`, typeof b["code"] === "number" ? b["code"] : undefined)
      }
      return body
    })
  const appPath = (name: string) => `/api/v1/applications/${encodeURIComponent(name)}`
  return {
    get: (name, appNamespace) => Effect.map(request("GET", appPath(name), { query: { appNamespace } }), R.obj),
    patch: (name, patch, patchType, appNamespace) =>
      Effect.map(request("PATCH", appPath(name), { body: { name, patch: JSON.stringify(patch), patchType, ...(appNamespace !== undefined ? { appNamespace } : {}) } }), R.obj),
    rollback: (name, o) =>
      Effect.map(
        request("POST", `${appPath(name)}/rollback`, { body: { name, id: String(o.id), prune: o.prune ?? false, dryRun: o.dryRun ?? false, ...(o.appNamespace !== undefined ? { appNamespace: o.appNamespace } : {}) } }),
        R.obj
      ),
    version: Effect.map(request("GET", "/api/version"), (b) => R.str(R.obj(b)["Version"]) ?? "")
  }
}

/** A layer of the client. */
export const layer = (options: Options): Layer.Layer<ArgoCd> => Layer.sync(ArgoCd, () => make(options))

/** The server URL's configuration key. */
export const URL_KEY = "BYTEPORT_ARGOCD_URL"
/** The token's configuration key. */
export const TOKEN_KEY = "BYTEPORT_ARGOCD_TOKEN"

/** A layer from configuration: `BYTEPORT_ARGOCD_URL` and `BYTEPORT_ARGOCD_TOKEN` (redacted). */
export const layerConfig: Layer.Layer<ArgoCd, Config.ConfigError> = Layer.effect(
  ArgoCd,
  Effect.gen(function*() {
    const token = yield* Config.Redacted(TOKEN_KEY)
    const baseUrl = yield* Config.String(URL_KEY)
    return make({ token, baseUrl })
  })
)

/** Whether an Argo CD version has `spec.syncPolicy.automated.enabled` (3.1 and later); else the older freeze removes `automated`. */
export const supportsAutomatedEnabled = (version: string): boolean => {
  const m = /^v?(\d+)\.(\d+)/.exec(version)
  if (!m) return false
  const major = Number(m[1])
  const minor = Number(m[2])
  return major > 3 || (major === 3 && minor >= 1)
}
