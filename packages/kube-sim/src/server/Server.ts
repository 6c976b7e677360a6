/**
 * The HTTP front of kube-sim: routing, discovery, list/get/create/replace/patch/delete/
 * deletecollection/watch for every registered resource, the status, scale, log and eviction
 * subresources, dryRun, fault injection and request recording.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { parse as parseYaml } from "yaml"
import type { Faults } from "../faults/Faults"
import type { Recorder, RecordedRequest } from "../recorder/Recorder"
import { clone } from "../store/equal"
import type { PodLogs } from "../store/logs"
import type { Entry, MemoryStore } from "../store/MemoryStore"
import type { ResourceType } from "../store/registry"
import { BUILTIN_TYPES, groupVersion, Keys, qualifiedResource, type TypeRegistry } from "../store/registry"
import { formatStructured, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError } from "../store/selectors"
import type { StructuredSelector } from "../store/selectors"
import { StoreError } from "../store/types"
import type { KubeObject } from "../store/types"
import * as Authz from "./authz"
import * as Discovery from "./discovery"
import * as Disruption from "./disruption"
import * as Ingress from "./ingress"
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchApplyError, PatchDecodeError } from "./patch"
import {
  ApiError,
  badRequest,
  conflict,
  forbidden,
  forStatus,
  invalid,
  methodNotAllowed,
  notFound,
  pathNotFound,
  unauthorized,
  unsupportedMediaType
} from "./status"
import * as Table from "./table"
import { checkDecodable, validate } from "./validation"
import { viewOf } from "./views"
import type { WatchHub } from "./watch"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * An extra HTTP route (e.g. metrics.k8s.io or a Prometheus-compatible query API): return true
 * when it handled the request. `body` is the already-read request body.
 */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL, body: string) => boolean | Promise<boolean>

/** What the request handler needs. */
export interface HandlerContext {
  readonly store: MemoryStore
  readonly logs: PodLogs
  readonly faults: Faults
  readonly recorder: Recorder
  readonly hub: WatchHub
  readonly extraRoutes: ReadonlyArray<ExtraRoute>
  /** When set, every request must carry `Authorization: Bearer <token>` (else 401). */
  readonly token?: string
  /** ServiceAccount tokens: when set, requests are authorized by RBAC (see `authz.ts`). */
  readonly tokens?: Authz.Tokens
}

/** A parsed resource path. */
export interface Route {
  readonly type: ResourceType
  readonly namespace: string | undefined
  readonly name: string | undefined
  readonly sub: string | undefined
  readonly watchPrefix: boolean
}

const PATCH_TYPES = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/apply-patch+yaml",
  "application/strategic-merge-patch+json"
]
const BODY_TYPES = ["application/json", "application/yaml"]

/** Parses `/api/v1/...` or `/apis/{g}/{v}/...`; undefined when it is not a resource path. */
export const parseRoute = (pathname: string, types: TypeRegistry = BUILTIN_TYPES): Route | undefined => {
  let segs: Array<string>
  try {
    segs = pathname.split("/").filter((s) => s.length > 0).map(decodeURIComponent)
  } catch {
    return undefined
  }
  let group: string
  let version: string
  let rest: Array<string>
  if (segs[0] === "api" && segs.length >= 3) {
    group = ""
    version = segs[1]!
    rest = segs.slice(2)
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1]!
    version = segs[2]!
    rest = segs.slice(3)
  } else return undefined
  let watchPrefix = false
  if (rest[0] === "watch") {
    watchPrefix = true
    rest = rest.slice(1)
  }
  const find = (resource: string) => types.find(group, version, resource)
  if (rest[0] === "namespaces" && rest.length >= 3) {
    const t = find(rest[2]!)
    if (t && t.namespaced) {
      if (rest.length > 5) return undefined
      return { type: t, namespace: rest[1], name: rest[3], sub: rest[4], watchPrefix }
    }
  }
  const t = find(rest[0] ?? "")
  if (!t || rest.length > 3) return undefined
  return { type: t, namespace: undefined, name: rest[1], sub: rest[2], watchPrefix }
}

const isTrue = (v: string | null | undefined): boolean => v === "true" || v === "1"

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sendJson = (res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = typeof body === "string" ? body : JSON.stringify(body)
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

const sendText = (res: ServerResponse, code: number, text: string): void => {
  res.writeHead(code, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(text) })
  res.end(text)
}

const sendError = (res: ServerResponse, e: ApiError): void => {
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, e.code, e.body, e.headers)
}

const toApiError = (error: unknown, type: ResourceType | undefined): ApiError => {
  let e = error
  if (e instanceof ApiError) return e
  if (e instanceof StoreError) {
    const view = type ? viewOf(type) : undefined
    if (view && type && e.key) {
      e = new StoreError(e.reason, e.message.replace(qualifiedResource(e.key), qualifiedResource(type)), type, e.objectName)
    }
    if (!(e instanceof StoreError)) throw e
    const key = e.key ?? type ?? Keys.pods
    const name = e.objectName ?? ""
    const details = key.group === "" ? { name, kind: key.resource } : { name, group: key.group, kind: key.resource }
    switch (e.reason) {
      case "NotFound":
        return new ApiError(404, "NotFound", e.message, details)
      case "AlreadyExists":
        return new ApiError(409, "AlreadyExists", e.message, details)
      case "Conflict":
        return new ApiError(409, "Conflict", e.message, details)
      case "Invalid": {
        const kind = type?.kind ?? key.resource
        const field = /is invalid: ([^:]+):/.exec(e.message)?.[1]
        return new ApiError(422, "Invalid", e.message, {
          name,
          ...(key.group === "" ? {} : { group: key.group }),
          kind,
          causes: [{ reason: "FieldValueInvalid", message: e.message.replace(/^.*is invalid: [^:]+: /, ""), ...(field ? { field } : {}) }]
        })
      }
      case "Expired":
        return new ApiError(410, "Expired", e.message)
      default:
        return badRequest(e.message)
    }
  }
  if (e instanceof SelectorError) return badRequest(e.message)
  if (e instanceof PatchDecodeError) return badRequest(e.message)
  if (e instanceof PatchApplyError) {
    return new ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {
      causes: [{ reason: "UnexpectedServerResponse", message: e.message } as never]
    })
  }
  return new ApiError(500, "InternalError", `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`)
}

const verbOf = (method: string, route: Route | undefined, watch: boolean): string => {
  if (!route) return method.toLowerCase()
  switch (method) {
    case "GET":
      return route.name ? "get" : watch ? "watch" : "list"
    case "POST":
      return "create"
    case "PUT":
      return "update"
    case "PATCH":
      return "patch"
    case "DELETE":
      return route.name ? "delete" : "deletecollection"
    default:
      return method.toLowerCase()
  }
}

const mediaType = (h: string | undefined): string | undefined => h?.split(";")[0]?.trim().toLowerCase() || undefined

const decodeBody = (text: string, contentType: string | undefined): unknown => {
  if (text.trim() === "") return undefined
  if (contentType === "application/yaml" || contentType === "application/apply-patch+yaml") {
    try {
      return parseYaml(text)
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw badRequest(`json: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** The autoscaling/v1 Scale view of a scalable object. */
export const scaleOf = (obj: KubeObject): Obj => {
  const spec = isObj(obj["spec"]) ? obj["spec"] : {}
  const status = isObj(obj["status"]) ? obj["status"] : {}
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp
    },
    spec: { replicas: typeof spec["replicas"] === "number" ? spec["replicas"] : 0 },
    status: {
      replicas: typeof status["replicas"] === "number" ? status["replicas"] : 0,
      selector: isObj(spec["selector"]) ? formatStructured(spec["selector"] as StructuredSelector) : ""
    }
  }
}

interface Continue {
  readonly rv: number
  readonly start: string
}

const encodeContinue = (c: Continue): string => Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: c.rv, start: c.start })).toString("base64url")
const decodeContinue = (s: string): Continue => {
  try {
    const v = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as { rv?: unknown; start?: unknown }
    if (typeof v.rv !== "number" || typeof v.start !== "string") throw new Error("bad")
    return { rv: v.rv, start: v.start }
  } catch {
    throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
  }
}

const STATUS_ON_DELETE = new Set(["apps", "batch", "policy", "autoscaling", "coordination.k8s.io"])

/** Creates the request handler (`(req, res) => void`) for node:http. */
export const makeHandler = (ctx: HandlerContext) => {
  const { faults, hub, logs, recorder, store } = ctx

  /** The storage behind a resource (itself, or the storage a view reads). */
  const storageOf = (t: ResourceType): ResourceType => viewOf(t)?.storage ?? t
  const toOut = (t: ResourceType, obj: KubeObject): KubeObject => viewOf(t)?.toView(obj) ?? obj
  const toStore = (t: ResourceType, obj: KubeObject): KubeObject => viewOf(t)?.fromView(obj) ?? obj
  const viewEntry = (t: ResourceType, e: Entry): Entry => {
    const v = viewOf(t)
    if (!v) return e
    const obj = v.toView(e.obj)
    return { obj, json: JSON.stringify(obj) }
  }
  const entryOf = (t: ResourceType, ns: string | undefined, name: string): Entry | undefined => {
    const e = store.entry(storageOf(t), ns, name)
    return e ? viewEntry(t, e) : undefined
  }
  const scanOf = (t: ResourceType, ns: string | undefined): Array<Entry> =>
    viewOf(t) ? store.scan(storageOf(t), ns).map((e) => viewEntry(t, e)) : store.scan(t, ns)

  const checkFields = (type: ResourceType, selector: string | null): void => {
    if (!selector) return
    for (const r of parseFieldSelector(selector)) {
      if (r.field !== "metadata.name" && r.field !== "metadata.namespace" && !type.selectableFields.includes(r.field)) {
        throw badRequest(`field label not supported: ${r.field}`)
      }
    }
  }

  const requireNamespace = (route: Route): void => {
    if (route.type.namespaced && route.namespace && !store.entry(Keys.namespaces, undefined, route.namespace)) {
      throw notFound(Keys.namespaces, route.namespace)
    }
  }

  const list = (route: Route, q: URLSearchParams, accept: string | undefined, res: ServerResponse): void => {
    const { type } = route
    const labelSel = q.get("labelSelector")
    const fieldSel = q.get("fieldSelector")
    checkFields(type, fieldSel)
    const labels = labelSel ? parseLabelSelector(labelSel) : []
    const fields = fieldSel ? parseFieldSelector(fieldSel) : []
    const limitRaw = q.get("limit")
    const limit = limitRaw ? Math.max(0, Number(limitRaw) || 0) : 0
    const cont = q.get("continue") ? decodeContinue(q.get("continue")!) : undefined
    if (cont && cont.rv < store.oldestResumableVersion) {
      const err = new ApiError(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
      )
      err.body.metadata = { continue: encodeContinue({ rv: store.resourceVersion, start: cont.start }) }
      throw err
    }
    const entries = scanOf(type, route.namespace)
    const nsKey = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name)
    let i = 0
    if (cont) {
      let lo = 0
      let hi = entries.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (nsKey(entries[mid]!.obj) <= cont.start) lo = mid + 1
        else hi = mid
      }
      i = lo
    }
    const items: Array<string> = []
    const objs: Array<KubeObject> = []
    let last: KubeObject | undefined
    for (; i < entries.length; i++) {
      const e = entries[i]!
      if (labels.length && !matchesLabels(labels, e.obj.metadata.labels)) continue
      if (fields.length && !matchesFields(fields, e.obj)) continue
      if (limit > 0 && items.length >= limit) break
      items.push(e.json)
      objs.push(e.obj)
      last = e.obj
    }
    const rv = cont ? cont.rv : store.resourceVersion
    let more = false
    for (let j = i; j < entries.length; j++) {
      const e = entries[j]!
      if (labels.length && !matchesLabels(labels, e.obj.metadata.labels)) continue
      if (fields.length && !matchesFields(fields, e.obj)) continue
      more = true
      break
    }
    const meta: Obj = { resourceVersion: String(rv) }
    if (more && last) {
      meta["continue"] = encodeContinue({ rv, start: nsKey(last) })
      if (!labels.length && !fields.length) meta["remainingItemCount"] = entries.length - i
    }
    if (accept && accept.includes("as=Table")) {
      sendJson(res, 200, Table.render(type, objs, meta, store.now()))
      return
    }
    const body = `{"kind":"${type.listKind}","apiVersion":"${groupVersion(type)}","metadata":${JSON.stringify(meta)},"items":[${items.join(",")}]}`
    sendJson(res, 200, body)
  }

  const watch = (route: Route, q: URLSearchParams, accept: string | undefined, res: ServerResponse, rec: RecordedRequest): void => {
    const { type } = route
    const labelSel = q.get("labelSelector")
    const fieldSel = q.get("fieldSelector")
    checkFields(type, fieldSel)
    const forced = faults.takeWatchExpiry()
    if (forced === "http") throw new ApiError(410, "Expired", `too old resource version: ${q.get("resourceVersion") ?? ""} (${store.resourceVersion})`)
    const timeout = q.get("timeoutSeconds")
    const spec = {
      type,
      namespace: route.namespace,
      labels: labelSel ? parseLabelSelector(labelSel) : [],
      fields: fieldSel ? parseFieldSelector(fieldSel) : [],
      resourceVersion: q.get("resourceVersion") ?? undefined,
      allowBookmarks: isTrue(q.get("allowWatchBookmarks")),
      sendInitialEvents: isTrue(q.get("sendInitialEvents")),
      timeoutSeconds: timeout ? Number(timeout) : undefined,
      ...(viewOf(type) ? { view: viewOf(type)! } : {}),
      ...(accept && accept.includes("as=Table")
        ? {
          render: (obj: KubeObject, first: boolean) =>
            JSON.stringify(Table.render(type, [obj], { resourceVersion: obj.metadata.resourceVersion }, store.now(), { headers: first }))
        }
        : {})
    }
    if (forced === "event") {
      res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" })
      res.flushHeaders()
      rec.status = 200
      hub.expire(res, `too old resource version: ${spec.resourceVersion ?? ""} (${store.resourceVersion})`)
      return
    }
    hub.start(spec, res, () => {})
    rec.status = 200
  }

  const get = (route: Route, accept: string | undefined, res: ServerResponse): void => {
    const e = entryOf(route.type, route.namespace, route.name!)
    if (!e) throw notFound(route.type, route.name!)
    if (accept && accept.includes("as=Table")) {
      sendJson(res, 200, Table.render(route.type, [e.obj], { resourceVersion: e.obj.metadata.resourceVersion }, store.now()))
      return
    }
    sendJson(res, 200, e.json)
  }

  const objectBody = (body: unknown, route: Route): KubeObject => {
    if (!isObj(body)) throw badRequest("Object 'Kind' is missing in request body")
    const obj = body as unknown as KubeObject
    const gv = groupVersion(route.type)
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`)
    }
    if (obj.kind !== undefined && obj.kind !== route.type.kind) {
      throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${route.type.kind})`)
    }
    obj.apiVersion = gv
    obj.kind = route.type.kind
    if (!isObj(obj.metadata)) obj.metadata = {} as KubeObject["metadata"]
    if (route.type.namespaced) {
      if (obj.metadata.namespace && route.namespace && obj.metadata.namespace !== route.namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request")
      }
      if (route.namespace) obj.metadata.namespace = route.namespace
    }
    return obj
  }

  const CLEAR_STATUS_ON_CREATE = new Set(["Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "CronJob", "Ingress"])

  const create = (route: Route, body: unknown, dryRun: boolean): KubeObject => {
    if (!route.namespace && route.type.namespaced) throw methodNotAllowed()
    const obj = objectBody(body, route)
    requireNamespace(route)
    if (route.type.custom ? route.type.hasStatus : CLEAR_STATUS_ON_CREATE.has(route.type.kind)) delete obj["status"]
    if (route.type.kind === "Ingress" && route.type.group === "networking.k8s.io") {
      const spec = (obj["spec"] ??= {}) as Obj
      const dflt = spec["ingressClassName"] === undefined ? Ingress.defaultClass(store.scan(Keys.ingressclasses).map((e) => e.obj)) : undefined
      if (dflt !== undefined) spec["ingressClassName"] = dflt
    }
    if (!obj.metadata.name && obj.metadata.generateName) {
      validate(route.type, { ...obj, metadata: { ...obj.metadata, name: `${obj.metadata.generateName}x` } })
    } else validate(route.type, obj)
    if (dryRun) {
      const out = store.prepareCreate(storageOf(route.type), toStore(route.type, obj))
      delete out.metadata.resourceVersion
      return toOut(route.type, out)
    }
    return toOut(route.type, store.create(storageOf(route.type), toStore(route.type, obj)))
  }

  const write = (route: Route, obj: KubeObject, old: KubeObject, dryRun: boolean, skipValidation = false): KubeObject => {
    if (!skipValidation) validate(route.type, obj, old)
    else checkDecodable(obj)
    if (dryRun) return toOut(route.type, store.prepareUpdate(storageOf(route.type), toStore(route.type, obj)).obj)
    return toOut(route.type, store.update(storageOf(route.type), toStore(route.type, obj)))
  }

  const scaleWrite = (route: Route, cur: KubeObject, scale: unknown, dryRun: boolean): Obj => {
    const s = isObj(scale) ? scale : {}
    const meta = isObj(s["metadata"]) ? s["metadata"] : {}
    const spec = isObj(s["spec"]) ? s["spec"] : {}
    const replicas = spec["replicas"]
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid({ ...route.type, group: "autoscaling", kind: "Scale" }, route.name!, [
        { field: "spec.replicas", type: "FieldValueInvalid", detail: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0` }
      ])
    }
    if (typeof meta["resourceVersion"] === "string" && meta["resourceVersion"] !== "" && meta["resourceVersion"] !== cur.metadata.resourceVersion) {
      throw conflict(route.type, route.name!)
    }
    const obj = clone(cur)
    ;(obj["spec"] as Obj)["replicas"] = replicas
    delete obj.metadata.resourceVersion
    return scaleOf(write(route, obj, cur, dryRun, true))
  }

  const replace = (route: Route, body: unknown, dryRun: boolean): unknown => {
    const name = route.name!
    const cur = entryOf(route.type, route.namespace, name)?.obj
    if (!cur) throw notFound(route.type, name)
    if (route.sub === "scale") return scaleWrite(route, cur, body, dryRun)
    const obj = objectBody(body, route)
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`)
    }
    obj.metadata.name = name
    if (route.sub === "status") {
      const next = clone(cur)
      next["status"] = obj["status"]
      next.metadata.resourceVersion = obj.metadata.resourceVersion ?? cur.metadata.resourceVersion
      return write(route, next, cur, dryRun, true)
    }
    if (route.type.hasStatus) {
      if (cur["status"] === undefined) delete obj["status"]
      else obj["status"] = clone(cur["status"])
    }
    return write(route, obj, cur, dryRun)
  }

  const patch = (route: Route, text: string, contentType: string | undefined, q: URLSearchParams, dryRun: boolean, res: ServerResponse): unknown => {
    if (!contentType || !PATCH_TYPES.includes(contentType)) throw unsupportedMediaType(PATCH_TYPES)
    // custom resources have no strategic-merge schema (the apiextensions-apiserver answers 415)
    if (route.type.custom && contentType === "application/strategic-merge-patch+json") throw unsupportedMediaType(PATCH_TYPES.filter((t) => t !== contentType))
    const name = route.name!
    const isApply = contentType === "application/apply-patch+yaml"
    if (isApply && !q.get("fieldManager")) throw badRequest("PATCH, application/apply-patch+yaml: fieldManager is required for apply requests")
    const body = decodeBody(text, contentType)
    if (body === undefined) throw badRequest("the body of the request was empty")
    const curEntry = entryOf(route.type, route.namespace, name)
    if (!curEntry) {
      if (isApply && !route.sub) {
        const obj = objectBody(clone(body), route)
        obj.metadata.name = obj.metadata.name ?? name
        res.statusCode = 201
        return create(route, obj, dryRun)
      }
      throw notFound(route.type, name)
    }
    const cur = curEntry.obj
    const view: unknown = route.sub === "scale" ? scaleOf(cur) : clone(cur)
    const kind = route.sub === "scale" ? "Scale" : route.type.kind
    let patched: unknown
    switch (contentType) {
      case "application/json-patch+json":
        patched = applyJsonPatch(view, body)
        break
      case "application/merge-patch+json":
        if (!isObj(body)) throw badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}")
        patched = applyMergePatch(view, body)
        break
      default:
        if (isApply && isObj(body)) {
          const b = body as Obj
          const gv = groupVersion(route.type)
          if (!route.sub && (b["apiVersion"] !== gv || b["kind"] !== route.type.kind)) {
            throw badRequest(`invalid object type: ${String(b["apiVersion"])}, Kind=${String(b["kind"])}`)
          }
        }
        patched = applyStrategicMergePatch(view, body, kind)
    }
    if (!isObj(patched)) throw badRequest("patch produced a non-object")
    if (route.sub === "scale") return scaleWrite(route, cur, patched, dryRun)
    const next = patched as unknown as KubeObject
    if (!isObj(next.metadata)) next.metadata = {} as KubeObject["metadata"]
    next.metadata.name = name
    if (route.type.namespaced) next.metadata.namespace = route.namespace
    next.apiVersion = cur.apiVersion
    next.kind = cur.kind
    if (route.sub === "status") {
      const obj = clone(cur)
      obj["status"] = next["status"]
      obj.metadata.resourceVersion = next.metadata.resourceVersion
      return write(route, obj, cur, dryRun, true)
    }
    if (route.type.hasStatus) {
      if (cur["status"] === undefined) delete next["status"]
      else next["status"] = clone(cur["status"])
    }
    return write(route, next, cur, dryRun)
  }

  const deleteOptions = (body: unknown, q: URLSearchParams) => {
    const o = isObj(body) ? body : {}
    const g = q.get("gracePeriodSeconds") ?? (typeof o["gracePeriodSeconds"] === "number" ? String(o["gracePeriodSeconds"]) : null)
    const pre = isObj(o["preconditions"]) ? o["preconditions"] : {}
    const dryRun = q.get("dryRun") === "All" || (Array.isArray(o["dryRun"]) && o["dryRun"].includes("All"))
    const policy = q.get("propagationPolicy") ?? (typeof o["propagationPolicy"] === "string" ? o["propagationPolicy"] : undefined)
    if (policy !== undefined && policy !== "Foreground" && policy !== "Background" && policy !== "Orphan") {
      throw badRequest(`propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`)
    }
    return {
      policy,
      grace: g === null ? undefined : Number(g),
      uid: typeof pre["uid"] === "string" ? pre["uid"] : undefined,
      rv: typeof pre["resourceVersion"] === "string" ? pre["resourceVersion"] : undefined,
      dryRun
    }
  }

  const purgeNamespace = (ns: string): void => {
    for (const t of store.types.all()) {
      if (!t.namespaced) continue
      for (const e of store.scan(t, ns)) store.delete(t, ns, e.obj.metadata.name)
    }
  }

  const remove = (route: Route, name: string, body: unknown, q: URLSearchParams): { object: KubeObject; deleted: boolean } => {
    const cur = entryOf(route.type, route.namespace, name)?.obj
    if (!cur) throw notFound(route.type, name)
    const o = deleteOptions(body, q)
    if (o.uid !== undefined && o.uid !== cur.metadata.uid) {
      throw conflict(route.type, name, `Precondition failed: UID in precondition: ${o.uid}, UID in object meta: ${cur.metadata.uid}`)
    }
    if (o.rv !== undefined && o.rv !== cur.metadata.resourceVersion) {
      throw conflict(route.type, name, `Precondition failed: ResourceVersion in precondition: ${o.rv}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`)
    }
    if (route.type.kind === "Namespace" && !o.dryRun) purgeNamespace(name)
    const gcFinalizer = store.garbageCollector
      ? o.policy === "Foreground" ? "foregroundDeletion" : o.policy === "Orphan" ? "orphan" : undefined
      : undefined
    const r = store.requestDelete(storageOf(route.type), route.namespace, name, {
      ...(o.grace !== undefined && Number.isFinite(o.grace) ? { gracePeriodSeconds: o.grace } : {}),
      ...(gcFinalizer ? { addFinalizers: [gcFinalizer] } : {}),
      dryRun: o.dryRun
    })
    return { object: toOut(route.type, r.object), deleted: r.deleted }
  }

  const podLog = (route: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void => {
    const name = route.name!
    const ns = route.namespace!
    const pod = store.entry(Keys.pods, ns, name)?.obj
    if (!pod) throw notFound(Keys.pods, name)
    const spec = isObj(pod["spec"]) ? pod["spec"] : {}
    const containers = (Array.isArray(spec["containers"]) ? spec["containers"] : []).map((c) => String((c as Obj)["name"]))
    const inits = (Array.isArray(spec["initContainers"]) ? spec["initContainers"] : []).map((c) => String((c as Obj)["name"]))
    let container = q.get("container") ?? undefined
    if (!container) {
      if (containers.length === 1) container = containers[0]
      else {
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]${inits.length ? ` or one of the init containers: [${inits.join(" ")}]` : ""}`
        )
      }
    }
    if (!containers.includes(container!) && !inits.includes(container!)) {
      throw badRequest(`container ${container} is not valid for pod ${name}`)
    }
    const c = container!
    const previous = isTrue(q.get("previous"))
    const status = isObj(pod["status"]) ? pod["status"] : {}
    const statuses = [
      ...(Array.isArray(status["containerStatuses"]) ? status["containerStatuses"] : []),
      ...(Array.isArray(status["initContainerStatuses"]) ? status["initContainerStatuses"] : [])
    ] as Array<Obj>
    const cs = statuses.find((s) => s["name"] === c)
    if (previous && !logs.hasPrevious(ns, name, c)) {
      throw badRequest(`previous terminated container "${c}" in pod "${name}" not found`)
    }
    let readPrevious = previous
    if (!previous && cs) {
      const state = isObj(cs["state"]) ? cs["state"] : {}
      const lastState = isObj(cs["lastState"]) ? cs["lastState"] : {}
      const waiting = isObj(state["waiting"]) ? state["waiting"] : undefined
      if (!isObj(state["running"]) && !isObj(state["terminated"]) && isObj(lastState["terminated"])) {
        // waiting after a termination (e.g. CrashLoopBackOff): the kubelet serves the last instance
        readPrevious = logs.hasPrevious(ns, name, c)
      } else if (waiting && !isObj(state["running"]) && !isObj(state["terminated"])) {
        const reason = String(waiting["reason"] ?? "ContainerCreating")
        const why = reason === "ErrImagePull"
          ? "image can't be pulled"
          : reason === "ImagePullBackOff"
          ? "trying and failing to pull image"
          : reason
        throw badRequest(`container "${c}" in pod "${name}" is waiting to start: ${why}`)
      }
    }
    const num = (k: string): number | undefined => (q.get(k) !== null && q.get(k) !== "" ? Number(q.get(k)) : undefined)
    const opts = {
      previous: readPrevious,
      timestamps: isTrue(q.get("timestamps")),
      ...(num("tailLines") !== undefined ? { tailLines: num("tailLines")! } : {}),
      ...(num("sinceSeconds") !== undefined ? { sinceSeconds: num("sinceSeconds")! } : {}),
      ...(num("limitBytes") !== undefined ? { limitBytes: num("limitBytes")! } : {})
    }
    const text = logs.read(ns, name, c, opts) ?? ""
    if (!isTrue(q.get("follow"))) {
      sendText(res, 200, text)
      return
    }
    res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" })
    res.flushHeaders()
    res.write(text)
    const stop = logs.follow(ns, name, c, (l) => res.write(opts.timestamps ? `${new Date(l.time).toISOString()} ${l.line}\n` : `${l.line}\n`))
    const unsub = store.subscribeRecords((r) => {
      if (r.type === "DELETED" && r.key.resource === "pods" && r.key.group === "" && r.obj.metadata.namespace === ns && r.obj.metadata.name === name) {
        res.end()
      }
    })
    const done = () => {
      stop()
      unsub()
    }
    res.on("close", done)
    req.on("close", done)
  }

  const handleResource = async (
    route: Route,
    req: IncomingMessage,
    res: ServerResponse,
    q: URLSearchParams,
    text: string,
    rec: RecordedRequest
  ): Promise<void> => {
    const method = req.method ?? "GET"
    const dryRun = q.get("dryRun") === "All"
    const accept = req.headers["accept"]
    const contentType = mediaType(req.headers["content-type"])
    const { sub, type } = route
    if (sub !== undefined && !type.subresources.includes(sub)) throw pathNotFound()
    if (route.namespace === undefined && type.namespaced && route.name !== undefined) throw pathNotFound()
    const bodyFor = () => {
      if (contentType && !BODY_TYPES.includes(contentType) && text.length > 0) throw unsupportedMediaType(BODY_TYPES)
      return decodeBody(text, contentType)
    }
    if (!route.name) {
      switch (method) {
        case "GET":
          if (route.watchPrefix || isTrue(q.get("watch"))) return watch(route, q, accept, res, rec)
          return list(route, q, accept, res)
        case "POST":
          return sendJson(res, 201, create(route, bodyFor(), dryRun))
        case "DELETE": {
          const o = bodyFor()
          const labelSel = q.get("labelSelector")
          const fieldSel = q.get("fieldSelector")
          checkFields(type, fieldSel)
          const labels = labelSel ? parseLabelSelector(labelSel) : []
          const fields = fieldSel ? parseFieldSelector(fieldSel) : []
          const objs = scanOf(type, route.namespace)
            .map((e) => e.obj)
            .filter((x) => matchesLabels(labels, x.metadata.labels) && matchesFields(fields, x))
          const items = objs.map((obj) => remove(route, obj.metadata.name, o, q).object)
          return sendJson(res, 200, { kind: type.listKind, apiVersion: groupVersion(type), metadata: { resourceVersion: String(store.resourceVersion) }, items })
        }
        default:
          throw methodNotAllowed()
      }
    }
    if (sub === "log") {
      if (method !== "GET") throw methodNotAllowed()
      return podLog(route, q, req, res)
    }
    if (sub === "eviction") {
      if (method !== "POST") throw methodNotAllowed()
      Disruption.evict(store, route.namespace!, route.name, bodyFor(), dryRun)
      return sendJson(res, 201, Disruption.EVICTION_SUCCESS)
    }
    switch (method) {
      case "GET": {
        if (sub === "scale") {
          const e = entryOf(type, route.namespace, route.name)
          if (!e) throw notFound(type, route.name)
          return sendJson(res, 200, scaleOf(e.obj))
        }
        return get(route, accept, res)
      }
      case "PUT":
        return sendJson(res, 200, replace(route, bodyFor(), dryRun))
      case "PATCH": {
        res.statusCode = 200
        const out = patch(route, text, contentType, q, dryRun, res)
        return sendJson(res, res.statusCode, out)
      }
      case "DELETE": {
        if (sub) throw methodNotAllowed()
        const r = remove(route, route.name, bodyFor(), q)
        if (STATUS_ON_DELETE.has(type.group) && r.deleted) {
          return sendJson(res, 200, {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: { name: route.name, group: type.group, kind: type.resource, uid: r.object.metadata.uid }
          })
        }
        return sendJson(res, r.deleted ? 200 : 200, r.object)
      }
      default:
        throw methodNotAllowed()
    }
  }

  const handleMeta = (pathname: string, res: ServerResponse): boolean => {
    const segs = pathname.split("/").filter((s) => s.length > 0)
    if (pathname === "/version" || pathname === "/version/") return (sendJson(res, 200, Discovery.version()), true)
    if (pathname === "/livez" || pathname === "/readyz" || pathname === "/healthz") return (sendText(res, 200, "ok"), true)
    if (segs.length === 1 && segs[0] === "api") return (sendJson(res, 200, Discovery.coreVersions()), true)
    if (segs.length === 1 && segs[0] === "apis") return (sendJson(res, 200, Discovery.groupList(store.types)), true)
    if (segs.length === 2 && segs[0] === "api") {
      const l = Discovery.resourceList("", segs[1]!, store.types)
      if (l) return (sendJson(res, 200, l), true)
    }
    if (segs.length === 2 && segs[0] === "apis") {
      const g = Discovery.group(segs[1]!, store.types)
      if (g) return (sendJson(res, 200, g), true)
    }
    if (segs.length === 3 && segs[0] === "apis") {
      const l = Discovery.resourceList(segs[1]!, segs[2]!, store.types)
      if (l) return (sendJson(res, 200, l), true)
    }
    return false
  }

  /** RBAC for a non-admin identity: 403 unless a binding allows the request. */
  const authorize = (who: Authz.Identity, method: string, pathname: string, route: Route | undefined, isWatch: boolean): void => {
    if (route) {
      const verb = verbOf(method, route, isWatch)
      const attrs = { verb, group: route.type.group, resource: route.type.resource, subresource: route.sub, namespace: route.namespace, name: route.name }
      if (Authz.allows(store, who, attrs)) return
      throw forbidden({ verb, key: route.type, user: who.user, ...(route.namespace ? { namespace: route.namespace } : {}), ...(route.name ? { name: route.name } : {}), ...(route.sub ? { subresource: route.sub } : {}) })
    }
    if (Authz.isOpenPath(pathname)) return
    // an aggregated API kube-sim serves on the side (metrics.k8s.io): /apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>]
    const m = /^\/apis\/([^/]+)\/[^/]+\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?\/?$/.exec(pathname)
    if (m) {
      const verb = method === "GET" ? (m[4] ? "get" : isWatch ? "watch" : "list") : method.toLowerCase()
      const attrs = { verb, group: m[1]!, resource: m[3]!, namespace: m[2], name: m[4] }
      if (Authz.allows(store, who, attrs)) return
      const key = { group: m[1]!, version: "", resource: m[3]! }
      throw forbidden({ verb, key, user: who.user, ...(m[2] ? { namespace: m[2] } : {}), ...(m[4] ? { name: m[4] } : {}) })
    }
    // kube-sim's own routes (the Prometheus query API, /_sim) are not Kubernetes resources: not authorized
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const method = (req.method ?? "GET").toUpperCase()
    let text = ""
    try {
      text = await readBody(req)
    } catch {
      res.destroy()
      return
    }
    const q = url.searchParams
    const route = parseRoute(url.pathname, store.types)
    const isWatch = !!route && !route.name && method === "GET" && (route.watchPrefix || isTrue(q.get("watch")))
    const rec = recorder.record({
      method,
      path: url.pathname,
      query: Object.fromEntries(q.entries()),
      contentType: mediaType(req.headers["content-type"]),
      dryRun: q.get("dryRun") === "All",
      watch: isWatch,
      body: text,
      time: Date.now(),
      status: 0
    })
    res.on("finish", () => {
      rec.status = res.statusCode
    })
    try {
      const who = Authz.authenticate(ctx, req.headers["authorization"])
      if (who === undefined) throw unauthorized()
      if (!who.admin) authorize(who, method, url.pathname, route, isWatch)
      const decision = faults.decide({ method, verb: verbOf(method, route, isWatch), path: url.pathname, resource: route?.type.resource, subresource: route?.sub })
      if (decision.delayMs > 0) await new Promise((r) => setTimeout(r, decision.delayMs))
      if (decision.error) {
        const f = decision.error
        throw forStatus(f.status, f.message, f.retryAfterSeconds, {
          verb: verbOf(method, route, isWatch),
          ...(route ? { key: route.type } : {}),
          ...(route?.namespace ? { namespace: route.namespace } : {}),
          ...(route?.name ? { name: route.name } : {}),
          ...(route?.sub ? { subresource: route.sub } : {}),
          ...(f.user ? { user: f.user } : {})
        })
      }
      if (decision.dropResponse) dropResponse(res, rec)
      for (const extra of ctx.extraRoutes) {
        if (await extra(req, res, url, text)) return
      }
      if (method === "GET" && handleMeta(url.pathname, res)) return
      if (!route) throw pathNotFound()
      await handleResource(route, req, res, q, text, rec)
    } catch (e) {
      const err = toApiError(e, route?.type)
      rec.status = err.code
      sendError(res, err)
    }
  }

  /**
   * "Applied, then the connection dropped before the response": a success (< 400) is recorded with
   * its status and the socket destroyed instead of answering; an error answer (nothing applied:
   * a 404, a 409 …) is sent as usual.
   */
  const dropResponse = (res: ServerResponse, rec: { status: number }): void => {
    const orig = { writeHead: res.writeHead, write: res.write, end: res.end }
    const restore = () => Object.assign(res, orig)
    const drop = () => {
      rec.status = res.statusCode
      res.socket?.destroy()
      return res
    }
    res.writeHead = ((status: number, ...rest: Array<any>) => {
      if (status >= 400) return restore().writeHead(status, ...rest)
      res.statusCode = status
      return drop()
    }) as typeof res.writeHead
    res.write = ((...args: Array<any>) => (res.statusCode >= 400 ? restore().write(...(args as [any])) : (drop(), true))) as typeof res.write
    res.end = ((...args: Array<any>) => (res.statusCode >= 400 ? restore().end(...(args as [any])) : drop())) as typeof res.end
  }

  return (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    handle(req, res).catch((e: unknown) => {
      sendError(res, new ApiError(500, "InternalError", `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`))
    })
}
