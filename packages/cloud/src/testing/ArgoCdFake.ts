/**
 * `ArgoCdFake`: a loopback HTTP server speaking Argo CD's REST API (the grpc-gateway JSON of
 * `argocd-server`) over the `GitOpsModel`'s Applications in kube-sim, for clients pointed at it
 * with nothing changed but the URL. State is the model's: a spec written through the API is the
 * Application in kube-sim, a rollback is applied by the model (refused while automated sync is
 * on, as Argo CD refuses it), and the reconciler sees the change at once.
 *
 * Modelled: `GET /api/version`; `GET /api/v1/applications` (`selector` on labels,
 * `appNamespace`); `GET /api/v1/applications/{name}`; `PUT /api/v1/applications/{name}` (the
 * whole Application; a stale `metadata.resourceVersion` → 409); `PUT …/{name}/spec`;
 * `PATCH …/{name}` (`ApplicationPatchRequest`: `patch` as a JSON string, `patchType` `merge` or
 * `json`); `POST …/{name}/rollback` (`ApplicationRollbackRequest`: `id` as a number or an int64
 * string, `prune`, `dryRun`); `POST …/{name}/sync` (`revision`, `prune`, `dryRun`). Bearer-token
 * auth (`Authorization: Bearer`, or the `argocd.token` cookie): none or unknown → 401
 * `no session information` (code 16). Errors are grpc-gateway's `{error, code, message}`
 * (NotFound 5 → 404, InvalidArgument 3 / FailedPrecondition 9 → 400, Aborted 10 → 409).
 * Every request is logged (`fake.requests`; `fake.writes`: the non-GET ones).
 *
 * Not modelled: sessions (`POST /api/v1/session`), projects and RBAC (a known token may do
 * anything; a missing app is 404, not Argo CD's PermissionDenied for unauthorised users),
 * resource trees, manifests, logs, events, terminate-operation, the `operation` field
 * (operations run at once), server-side `validate`, SSO, gRPC itself (JSON over HTTP/1.1 only),
 * `strategic` patches.
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as R from "../gitops/Resources"
import type { GitOpsModel, SimObject } from "./GitOpsModel"
import { GitOpsError } from "./GitOpsModel"

/** One logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly status: number
  readonly body: unknown
}

/** Options of {@link start}. */
export interface Options {
  /** The model whose Applications the API serves (installed in kube-sim). */
  readonly model: GitOpsModel
  /** Tokens accepted (default `["argocd-token"]`). */
  readonly tokens?: ReadonlyArray<string>
  /** The namespace Applications live in (default `argocd`). */
  readonly namespace?: string
  /** What `GET /api/version` reports (default `v3.1.0+abc1234`: `automated.enabled` exists). */
  readonly version?: string
}

/** A running fake. */
export interface ArgoCdFake {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly requests: ReadonlyArray<LoggedRequest>
  readonly writes: ReadonlyArray<LoggedRequest>
  readonly close: () => Promise<void>
}

const APPS = { group: R.Application.group, version: R.Application.version, resource: R.Application.plural }
const grpc = (status: number, code: number, message: string) => ({ status, body: { error: message, code, message } })

/** JSON merge patch (RFC 7386). */
const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch
  const out: R.Obj = typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as R.Obj) } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/** JSON patch (RFC 6902): add, remove, replace, test. */
const jsonPatch = (target: unknown, ops: ReadonlyArray<R.Obj>): unknown => {
  const doc = structuredClone(target) as R.Obj
  for (const op of ops) {
    const parts = String(op["path"] ?? "").split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    let parent: R.Obj | Array<unknown> = doc
    for (const p of parts.slice(0, -1)) {
      const next: unknown = Array.isArray(parent) ? parent[Number(p)] : parent[p]
      if (typeof next !== "object" || next === null) throw new Error(`path ${String(op["path"])} does not exist`)
      parent = next as R.Obj
    }
    const last = parts[parts.length - 1] ?? ""
    const cur = Array.isArray(parent) ? parent[Number(last)] : parent[last]
    switch (op["op"]) {
      case "add":
      case "replace":
        if (op["op"] === "replace" && cur === undefined) throw new Error(`replace of missing path ${String(op["path"])}`)
        if (Array.isArray(parent)) {
          if (last === "-") parent.push(op["value"])
          else if (op["op"] === "add") parent.splice(Number(last), 0, op["value"])
          else parent[Number(last)] = op["value"]
        } else parent[last] = op["value"]
        break
      case "remove":
        if (cur === undefined) throw new Error(`remove of missing path ${String(op["path"])}`)
        if (Array.isArray(parent)) parent.splice(Number(last), 1)
        else delete parent[last]
        break
      case "test":
        if (JSON.stringify(cur) !== JSON.stringify(op["value"])) throw new Error(`test failed at ${String(op["path"])}`)
        break
      default:
        throw new Error(`unsupported op ${String(op["op"])}`)
    }
  }
  return doc
}

/** Starts the fake on 127.0.0.1 (an ephemeral port). */
export const start = async (options: Options): Promise<ArgoCdFake> => {
  const tokens = new Set(options.tokens ?? ["argocd-token"])
  const defaultNs = options.namespace ?? "argocd"
  const requests: Array<LoggedRequest> = []
  const store = () => options.model.store()

  const appJson = (a: SimObject): R.Obj => structuredClone(a) as R.Obj

  type Reply = { status: number; body: unknown }
  const handle = async (method: string, u: URL, body: unknown): Promise<Reply> => {
    const p = decodeURIComponent(u.pathname)
    const ns = u.searchParams.get("appNamespace") ?? (typeof R.obj(body)["appNamespace"] === "string" ? String(R.obj(body)["appNamespace"]) : defaultNs)
    if (method === "GET" && p === "/api/version") {
      return { status: 200, body: { Version: options.version ?? "v3.1.0+abc1234", BuildDate: "2026-06-01T00:00:00Z", GitCommit: "abc1234", GitTreeState: "clean", GoVersion: "go1.24.4", Compiler: "gc", Platform: "linux/amd64" } }
    }
    if (method === "GET" && p === "/api/v1/applications") {
      const selector = u.searchParams.get("selector")
      const want = (selector ?? "").split(",").filter((s) => s.length > 0).map((s) => s.split("="))
      const items = store().scan(APPS).map((e) => e.obj).filter((a) => u.searchParams.get("appNamespace") === null || a.metadata.namespace === ns).filter((a) => {
        const labels = R.obj(a.metadata["labels"])
        return want.every(([k, v]) => labels[k!] === v)
      })
      return { status: 200, body: { metadata: {}, items: items.map(appJson) } }
    }
    const m = /^\/api\/v1\/applications\/([^/]+)(\/spec|\/rollback|\/sync)?$/.exec(p)
    if (!m) return grpc(404, 5, "Not Found")
    const name = m[1]!
    const sub = m[2] ?? ""
    const cur = store().get(APPS, ns, name)
    if (cur === undefined) return grpc(404, 5, `applications.argoproj.io "${name}" not found`)
    const b = R.obj(body)
    try {
      if (method === "GET" && sub === "") return { status: 200, body: appJson(cur) }
      if (method === "PUT" && sub === "") {
        const rv = R.str(R.obj(b["metadata"])["resourceVersion"])
        if (rv !== undefined && rv !== cur.metadata["resourceVersion"]) {
          return grpc(409, 10, `error updating application: Operation cannot be fulfilled on applications.argoproj.io "${name}": the object has been modified; please apply your changes to the latest version and try again`)
        }
        const next = { ...cur, metadata: { ...cur.metadata, labels: R.obj(b["metadata"])["labels"] ?? cur.metadata["labels"], annotations: R.obj(b["metadata"])["annotations"] ?? cur.metadata["annotations"], resourceVersion: undefined }, spec: b["spec"] ?? cur["spec"] } as SimObject
        return { status: 200, body: appJson(store().update(APPS, next)) }
      }
      if (method === "PUT" && sub === "/spec") {
        const updated = store().update(APPS, { ...cur, metadata: { ...cur.metadata, resourceVersion: undefined }, spec: body } as SimObject)
        return { status: 200, body: updated["spec"] }
      }
      if (method === "PATCH" && sub === "") {
        const patchType = R.str(b["patchType"]) ?? "json"
        const raw = R.str(b["patch"])
        if (raw === undefined) return grpc(400, 3, "patch is required")
        let patch: unknown
        try {
          patch = JSON.parse(raw)
        } catch {
          return grpc(400, 3, "invalid JSON in patch")
        }
        const base = { metadata: { labels: cur.metadata["labels"], annotations: cur.metadata["annotations"] }, spec: cur["spec"] }
        let out: R.Obj
        if (patchType === "merge") out = R.obj(mergePatch(base, patch))
        else if (patchType === "json") out = R.obj(jsonPatch(base, R.arr(patch).map(R.obj)))
        else return grpc(400, 3, `Patch type '${patchType}' is not supported`)
        const meta = R.obj(out["metadata"])
        const next = { ...cur, metadata: { ...cur.metadata, labels: meta["labels"], annotations: meta["annotations"], resourceVersion: undefined }, spec: out["spec"] } as SimObject
        for (const k of ["labels", "annotations"]) if (next.metadata[k] === undefined) delete next.metadata[k]
        return { status: 200, body: appJson(store().update(APPS, next)) }
      }
      if (method === "POST" && sub === "/rollback") {
        const id = Number(b["id"])
        if (!Number.isInteger(id)) return grpc(400, 3, "id is required")
        const out = await options.model.rollback(ns, name, { id, prune: b["prune"] === true, dryRun: b["dryRun"] === true })
        return { status: 200, body: out }
      }
      if (method === "POST" && sub === "/sync") {
        const out = await options.model.sync(ns, name, { ...(typeof b["revision"] === "string" && b["revision"] !== "" ? { revision: b["revision"] } : {}), prune: b["prune"] === true, dryRun: b["dryRun"] === true })
        return { status: 200, body: out }
      }
    } catch (e) {
      if (e instanceof GitOpsError) {
        return e.code === "NotFound" ? grpc(404, 5, e.message) : e.code === "FailedPrecondition" ? grpc(400, 9, e.message) : grpc(400, 3, e.message)
      }
      return grpc(400, 3, e instanceof Error ? e.message : String(e))
    }
    return grpc(405, 12, "Method Not Allowed")
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const method = (req.method ?? "GET").toUpperCase()
      const u = new URL(req.url ?? "/", "http://127.0.0.1")
      const raw = Buffer.concat(chunks).toString("utf8")
      let body: unknown = undefined
      const send = (r: Reply) => {
        requests.push({ method, path: u.pathname, query: Object.fromEntries(u.searchParams.entries()), status: r.status, body })
        res.writeHead(r.status, { "content-type": "application/json" })
        res.end(JSON.stringify(r.body))
      }
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw)
        } catch {
          return send(grpc(400, 3, "invalid character in request body"))
        }
      }
      const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]
      const cookie = /(?:^|;\s*)argocd\.token=([^;]+)/.exec(req.headers.cookie ?? "")?.[1]
      const token = bearer ?? cookie
      if (u.pathname !== "/api/version" && (token === undefined || !tokens.has(token))) return send(grpc(401, 16, "no session information"))
      handle(method, u, body).then(send, (e: unknown) => send(grpc(500, 13, e instanceof Error ? e.message : String(e))))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    get requests() {
      return [...requests]
    },
    get writes() {
      return requests.filter((r) => r.method !== "GET")
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
