/** apiserver `Status` bodies and the error type the HTTP layer turns into them. */
import type { ResourceType } from "../store/registry"
import { qualifiedResource } from "../store/registry"
import type { ResourceKey } from "../store/types"

/** One entry of `details.causes`. */
export interface StatusCause {
  readonly reason?: string
  readonly message?: string
  readonly field?: string
}

/** The `details` of a Status. */
export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  causes?: Array<StatusCause>
  retryAfterSeconds?: number
}

/** A Status body as the apiserver sends it. */
export interface StatusBody {
  kind: "Status"
  apiVersion: "v1"
  metadata: { continue?: string }
  status: "Failure" | "Success"
  message?: string
  reason?: string
  details?: StatusDetails
  code: number
}

/** An error answered with a Status body. */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly code: number
  /** The Status body. */
  readonly body: StatusBody
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>
  constructor(code: number, reason: string, message: string, details?: StatusDetails, headers: Record<string, string> = {}) {
    super(message)
    this.name = "ApiError"
    this.code = code
    this.body = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      ...(details && Object.keys(details).length > 0 ? { details } : {}),
      code
    }
    this.headers = headers
  }
}

const ident = (key: ResourceKey, name: string): StatusDetails =>
  key.group === "" ? { name, kind: key.resource } : { name, group: key.group, kind: key.resource }

/** 404 NotFound. */
export const notFound = (key: ResourceKey, name: string): ApiError =>
  new ApiError(404, "NotFound", `${qualifiedResource(key)} "${name}" not found`, ident(key, name))

/** 409 AlreadyExists. */
export const alreadyExists = (key: ResourceKey, name: string): ApiError =>
  new ApiError(409, "AlreadyExists", `${qualifiedResource(key)} "${name}" already exists`, ident(key, name))

/** 409 Conflict (stale resourceVersion). */
export const conflict = (key: ResourceKey, name: string, message?: string): ApiError =>
  new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualifiedResource(key)} "${name}": ${message ?? "the object has been modified; please apply your changes to the latest version and try again"}`,
    ident(key, name)
  )

/** 400 BadRequest. */
export const badRequest = (message: string): ApiError => new ApiError(400, "BadRequest", message)

/** One field error for `invalid`. */
export interface FieldError {
  readonly field: string
  /** e.g. FieldValueRequired, FieldValueInvalid, FieldValueForbidden. */
  readonly type: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueNotSupported" | "FieldValueDuplicate"
  /** The full error text after the field, e.g. `Required value` or `Invalid value: -1: must be …`. */
  readonly detail: string
}

/** 422 Invalid with causes, message formatted like the apiserver's aggregate. */
export const invalid = (type: ResourceType, name: string, errors: ReadonlyArray<FieldError>): ApiError => {
  const kind = type.group === "" ? type.kind : `${type.kind}.${type.group}`
  const texts = errors.map((e) => `${e.field}: ${e.detail}`)
  const message = `${kind} "${name}" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(", ")}]`}`
  const details: StatusDetails = {
    name,
    ...(type.group === "" ? {} : { group: type.group }),
    kind: type.kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.detail, field: e.field }))
  }
  return new ApiError(422, "Invalid", message, details)
}

/** 415 UnsupportedMediaType. */
export const unsupportedMediaType = (accepted: ReadonlyArray<string>): ApiError =>
  new ApiError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`
  )

/** 405 MethodNotAllowed. */
export const methodNotAllowed = (): ApiError =>
  new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

/** 404 for a path the server does not serve. */
export const pathNotFound = (): ApiError => new ApiError(404, "NotFound", "the server could not find the requested resource")

/** What an injected error knows about the request it answers. */
export interface RequestFacts {
  readonly verb: string
  readonly key?: ResourceKey
  readonly namespace?: string
  readonly name?: string
  readonly subresource?: string
  /** The user named in a 403 (default `system:serviceaccount:default:default`). */
  readonly user?: string
}

/** 401 Unauthorized. */
export const unauthorized = (): ApiError => new ApiError(401, "Unauthorized", "Unauthorized")

/** 403 Forbidden with the RBAC authorizer's wording. */
export const forbidden = (facts: RequestFacts): ApiError => {
  const user = facts.user ?? "system:serviceaccount:default:default"
  const key = facts.key
  const res = key ? (facts.subresource ? `${key.resource}/${facts.subresource}` : key.resource) : ""
  const subject = key ? (facts.name ? `${qualifiedResource(key)} "${facts.name}"` : qualifiedResource(key)) : ""
  const where = facts.namespace ? ` in the namespace "${facts.namespace}"` : facts.verb === "list" || facts.verb === "watch" ? " at the cluster scope" : ""
  const message = key
    ? `${subject} is forbidden: User "${user}" cannot ${facts.verb} resource "${res}" in API group "${key.group}"${where}`
    : `forbidden: User "${user}" cannot ${facts.verb} path`
  return new ApiError(403, "Forbidden", message, key ? { ...(facts.name ? { name: facts.name } : {}), ...(key.group ? { group: key.group } : {}), kind: key.resource } : undefined)
}

/** A generic error for an HTTP status (used by fault injection), shaped like the apiserver's. */
export const forStatus = (code: number, message?: string, retryAfterSeconds?: number, facts?: RequestFacts): ApiError => {
  if (!message && facts?.key) {
    if (code === 403) return forbidden(facts)
    if (code === 404 && facts.name) return notFound(facts.key, facts.name)
    if (code === 409 && facts.name) return conflict(facts.key, facts.name)
  }
  switch (code) {
    case 401:
      return unauthorized()
    case 403:
      return new ApiError(403, "Forbidden", message ?? "forbidden")
    case 400:
      return badRequest(message ?? "the server rejected our request for an unknown reason")
    case 404:
      return pathNotFound()
    case 409:
      return new ApiError(409, "Conflict", message ?? "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again")
    case 410:
      return new ApiError(410, "Gone", message ?? "the resource is gone")
    case 429: {
      const s = retryAfterSeconds ?? 1
      return new ApiError(429, "TooManyRequests", message ?? "Too many requests, please try again later.", { retryAfterSeconds: s }, { "Retry-After": String(s) })
    }
    case 500:
      return new ApiError(500, "InternalError", message ?? "Internal error occurred: injected fault", { causes: [{ message: "injected fault" }] })
    case 503: {
      const s = retryAfterSeconds ?? 1
      return new ApiError(503, "ServiceUnavailable", message ?? "the server is currently unable to handle the request", { retryAfterSeconds: s }, { "Retry-After": String(s) })
    }
    case 504:
      return new ApiError(504, "Timeout", message ?? "the server was unable to return a response in the time allotted, but may still be processing the request")
    default:
      return new ApiError(code, "Unknown", message ?? `the server responded with the status code ${code} but did not return more information`)
  }
}
