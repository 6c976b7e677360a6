/**
 * Typed errors of the Kubernetes API, decoded from the `Status` body the apiserver sends with
 * every failure (`{ kind: "Status", status: "Failure", reason, message, code, details }`).
 *
 * | HTTP | error |
 * |---|---|
 * | 404 | `KubeNotFound` |
 * | 409 (`Conflict`, `AlreadyExists`) | `KubeConflict` |
 * | 401, 403 | `KubeForbidden` |
 * | 422 | `KubeInvalid` (with `causes`) |
 * | 429 | `KubeTooManyRequests` (with `retryAfterSeconds` when the server gives one) |
 * | 5xx, connection refused/reset, timeouts | `KubeUnavailable` |
 * | anything else (400, 405, 410, 415 …) | `KubeBadRequest` |
 *
 * Every error carries the operation that failed (`"patch Deployment shop/web"`), the HTTP
 * `status` (0 when no response arrived), the Status `reason` and `message`.
 *
 * @since 0.1.0
 */
import { ApiException } from "@kubernetes/client-node"
import { Schema } from "effect"

const common = {
  /** What was attempted, e.g. `"get Pod shop/web-1"`. */
  operation: Schema.String,
  /** HTTP status code (0 when no response arrived). */
  status: Schema.Number,
  /** The Status `reason` (`NotFound`, `Conflict`, `Invalid` …), or a local reason. */
  reason: Schema.String,
  /** The Status `message`. */
  message: Schema.String
}

/** One cause of a 422 Invalid (`details.causes[]`). */
export const StatusCause = Schema.Struct({
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  field: Schema.optionalKey(Schema.String)
})

/** One cause of a 422 Invalid. */
export type StatusCause = typeof StatusCause.Type

/** 404: the object (or the namespace) does not exist. */
export class KubeNotFound extends Schema.TaggedError<KubeNotFound>()("KubeNotFound", common) {}

/** 409: a precondition failed (stale resourceVersion, failed uid precondition) or the object already exists. */
export class KubeConflict extends Schema.TaggedError<KubeConflict>()("KubeConflict", common) {}

/** 401/403: the credentials are missing or not allowed to do this. */
export class KubeForbidden extends Schema.TaggedError<KubeForbidden>()("KubeForbidden", common) {}

/** 429: throttled, or an eviction blocked by a PodDisruptionBudget. */
export class KubeTooManyRequests extends Schema.TaggedError<KubeTooManyRequests>()("KubeTooManyRequests", {
  ...common,
  /** Seconds to wait, from `Retry-After` or `details.retryAfterSeconds`, when the server gave one. */
  retryAfterSeconds: Schema.optionalKey(Schema.Number),
  /** `details.causes` (e.g. `DisruptionBudget`). */
  causes: Schema.Array(StatusCause)
}) {}

/** 422: the object is invalid (or a JSON-patch `test` failed). */
export class KubeInvalid extends Schema.TaggedError<KubeInvalid>()("KubeInvalid", {
  ...common,
  /** `details.causes`: which field is wrong and why. */
  causes: Schema.Array(StatusCause)
}) {}

/** 5xx, connection refused/reset, or a timeout: the apiserver is not answering usefully. Retryable. */
export class KubeUnavailable extends Schema.TaggedError<KubeUnavailable>()("KubeUnavailable", common) {}

/** Any other refusal (400, 405, 410, 415 …), or a request BytePort refused to send (a patch without a precondition). */
export class KubeBadRequest extends Schema.TaggedError<KubeBadRequest>()("KubeBadRequest", common) {}

/** Every error the Kube service fails with. */
export type KubeError = KubeNotFound | KubeConflict | KubeForbidden | KubeTooManyRequests | KubeInvalid | KubeUnavailable | KubeBadRequest

/** Whether an error is worth retrying (throttling or unavailability). */
export const isRetryable = (e: KubeError): boolean => e._tag === "KubeUnavailable" || e._tag === "KubeTooManyRequests"

interface StatusBody {
  readonly reason?: unknown
  readonly message?: unknown
  readonly code?: unknown
  readonly details?: { readonly causes?: unknown; readonly retryAfterSeconds?: unknown } | undefined
}

const parseStatus = (body: unknown): StatusBody => {
  if (typeof body === "string") {
    if (body.length === 0) return {}
    try {
      const parsed: unknown = JSON.parse(body)
      return parsed !== null && typeof parsed === "object" ? (parsed as StatusBody) : { message: body }
    } catch {
      return { message: body.slice(0, 500) }
    }
  }
  if (body !== null && typeof body === "object") return body as StatusBody
  return {}
}

const causesOf = (details: StatusBody["details"]): Array<StatusCause> => {
  const raw = details?.causes
  if (!Array.isArray(raw)) return []
  return raw.flatMap((c): Array<StatusCause> => {
    if (c === null || typeof c !== "object") return []
    const o = c as Record<string, unknown>
    return [{
      ...(typeof o.reason === "string" ? { reason: o.reason } : {}),
      ...(typeof o.message === "string" ? { message: o.message } : {}),
      ...(typeof o.field === "string" ? { field: o.field } : {})
    }]
  })
}

const headerOf = (headers: unknown, name: string): string | undefined => {
  if (headers === null || typeof headers !== "object") return undefined
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() === name && (typeof v === "string" || typeof v === "number")) return String(v)
  }
  return undefined
}

const defaultReason = (status: number): string => {
  switch (status) {
    case 400:
      return "BadRequest"
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 404:
      return "NotFound"
    case 409:
      return "Conflict"
    case 410:
      return "Gone"
    case 415:
      return "UnsupportedMediaType"
    case 422:
      return "Invalid"
    case 429:
      return "TooManyRequests"
    case 503:
      return "ServiceUnavailable"
    case 504:
      return "Timeout"
    default:
      return status >= 500 ? "InternalError" : "Unknown"
  }
}

/** Builds the typed error for an HTTP status and a Status body (text or object). */
export const fromStatus = (operation: string, status: number, body: unknown, headers?: unknown): KubeError => {
  const s = parseStatus(body)
  const reason = typeof s.reason === "string" && s.reason.length > 0 ? s.reason : defaultReason(status)
  const message = typeof s.message === "string" && s.message.length > 0 ? s.message : `${operation}: HTTP ${status} ${reason}`
  const fields = { operation, status, reason, message }
  if (status === 404) return new KubeNotFound(fields)
  if (status === 409) return new KubeConflict(fields)
  if (status === 401 || status === 403) return new KubeForbidden(fields)
  if (status === 422) return new KubeInvalid({ ...fields, causes: causesOf(s.details) })
  if (status === 429) {
    const header = headerOf(headers, "retry-after")
    const fromHeader = header !== undefined ? Number(header) : NaN
    const fromDetails = typeof s.details?.retryAfterSeconds === "number" ? s.details.retryAfterSeconds : NaN
    const retry = Number.isFinite(fromHeader) ? fromHeader : Number.isFinite(fromDetails) ? fromDetails : undefined
    return new KubeTooManyRequests({ ...fields, causes: causesOf(s.details), ...(retry !== undefined ? { retryAfterSeconds: retry } : {}) })
  }
  if (status >= 500) return new KubeUnavailable(fields)
  return new KubeBadRequest(fields)
}

const networkCodes = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED"])

const codeOf = (e: unknown, depth = 0): string | undefined => {
  if (depth > 4 || e === null || typeof e !== "object") return undefined
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown }
  if (typeof o.code === "string") return o.code
  if (Array.isArray(o.errors)) {
    for (const x of o.errors) {
      const c = codeOf(x, depth + 1)
      if (c) return c
    }
  }
  return codeOf(o.cause, depth + 1)
}

/**
 * Turns anything client-node throws into a typed error: an `ApiException` is decoded from its
 * Status body; network failures (`fetch failed`, ECONNREFUSED …) and timeouts become
 * `KubeUnavailable`; anything else is a `KubeBadRequest` with the error's message.
 */
export const fromUnknown = (operation: string, e: unknown): KubeError => {
  if (e instanceof ApiException) return fromStatus(operation, e.code, e.body, e.headers)
  const name = e instanceof Error ? e.name : ""
  const objMessage = e !== null && typeof e === "object" ? (e as { message?: unknown }).message : undefined
  const message = e instanceof Error ? e.message : typeof objMessage === "string" ? objMessage : String(e)
  // WebSocket upgrades (exec, attach) fail with "Unexpected server response: <status>"
  const ws = /Unexpected server response: (\d{3})/.exec(message)
  if (ws) return fromStatus(operation, Number(ws[1]), `${operation}: ${message}`)
  const code = codeOf(e)
  if (name === "TimeoutError" || name === "AbortError") {
    return new KubeUnavailable({ operation, status: 0, reason: "Timeout", message: `${operation}: ${message}` })
  }
  if ((code !== undefined && networkCodes.has(code)) || message === "fetch failed" || (e instanceof TypeError && /fetch|network|socket/i.test(message))) {
    return new KubeUnavailable({ operation, status: 0, reason: code ?? "ConnectionFailed", message: `${operation}: ${message}${code ? ` (${code})` : ""}` })
  }
  const status = typeof (e as { statusCode?: unknown })?.statusCode === "number" ? (e as { statusCode: number }).statusCode : 0
  if (status > 0) return fromStatus(operation, status, message)
  return new KubeBadRequest({ operation, status: 0, reason: "ClientError", message: `${operation}: ${message}` })
}
