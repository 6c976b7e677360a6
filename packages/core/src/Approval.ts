/**
 * Approval of paused incidents. A plan whose guardrails answer `NeedsApproval` pauses its
 * incident (`Runbook.handle` returns `AwaitingApproval`, the journal holds the pause, so a
 * restart keeps it). A human approves through an `ApprovalChannel` — the HTTP callback
 * (`Approval.serveHttp`, a loopback server authenticated by `BYTEPORT_APPROVAL_TOKEN`) or the
 * CLI (`byteport approve <incidentId> --digest <d> --approver <name> [--ttl 30m]`) — and every
 * channel ends in `Approval.approve`: it checks the incident is paused on exactly that plan
 * digest and writes the record the `Guardrail.approval` guardrail reads (bound to the digest,
 * the approver and an expiry). `Approval.awaitDecision` then resumes the incident: it runs when
 * approved, asks again if the plan changed meanwhile, and escalates when the request times out.
 *
 * @since 0.1.0
 */
import { createHash, timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Clock, Config, Duration, Effect, Layer, Redacted, Schema, type Scope } from "effect"
import { ApprovalChannel } from "./approval/Channel"
import * as ApprovalRecord from "./guardrails/approvalRecord"
import { GuardrailStore, type StoreError } from "./GuardrailStore"
import * as Journal from "./internal/journal"
import * as Runbook from "./Runbook"
import * as Settings from "./Settings"

/** No incident with that id in the journal (HTTP 404). */
export class UnknownIncident extends Schema.TaggedError<UnknownIncident>()("UnknownIncident", {
  incidentId: Schema.String,
  message: Schema.String
}) {}

/** The approval names another plan than the one the incident is paused on (HTTP 409). */
export class StaleDigest extends Schema.TaggedError<StaleDigest>()("StaleDigest", {
  incidentId: Schema.String,
  given: Schema.String,
  current: Schema.String,
  message: Schema.String
}) {}

/** The incident is not waiting for an approval (closed, running, or never paused) (HTTP 409). */
export class NotAwaiting extends Schema.TaggedError<NotAwaiting>()("NotAwaiting", {
  incidentId: Schema.String,
  message: Schema.String
}) {}

/** The approval request itself is invalid (HTTP 400). */
export class InvalidApproval extends Schema.TaggedError<InvalidApproval>()("InvalidApproval", {
  message: Schema.String
}) {}

/** The approval HTTP server could not start. */
export class ApprovalServerError extends Schema.TaggedError<ApprovalServerError>()("ApprovalServerError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** Everything `approve` can fail with. */
export type ApproveError = UnknownIncident | StaleDigest | NotAwaiting | InvalidApproval | StoreError

/** The body of an approval (HTTP JSON body, CLI flags): the digest seen, who approves, and until when. */
export const ApprovalRequest = Schema.Struct({
  /** The plan digest the approver reviewed (`AwaitingApproval.planDigest`). */
  planDigest: Schema.String.check(Schema.isNonEmpty()),
  /** Who approves. */
  approver: Schema.String.check(Schema.isNonEmpty()),
  /** Epoch ms or an ISO-8601 date after which the approval no longer counts (default: now + 30 min). */
  expiresAt: Schema.optionalKey(Schema.Union([Schema.Finite, Schema.String])),
  /** A note for the report. */
  comment: Schema.optionalKey(Schema.String)
})

/** An approval request. */
export type ApprovalRequest = typeof ApprovalRequest.Type

/** The default lifetime of an approval when the request gives no expiry. */
export const defaultTtl: Duration.Duration = Duration.minutes(30)

/** What the journal says an incident is waiting for. */
export interface Pending {
  readonly incidentId: string
  readonly runbook: string
  readonly planDigest: string
  readonly expiresAt: number
  readonly reason: string
}

/**
 * Reads whether an incident is paused for approval, from its journal: its latest
 * `awaiting_approval` entry, unless a step ran or the incident closed after it.
 */
export const pending = (incidentId: string): Effect.Effect<Pending | undefined, UnknownIncident | StoreError, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const entries = yield* store.readJournal(incidentId)
    const opened = entries.find((e) => e.type === "opened")
    if (!opened) return yield* new UnknownIncident({ incidentId, message: `no incident ${incidentId}` })
    if (entries.some((e) => e.type === "closed")) return undefined
    let last: (typeof entries)[number] | undefined
    for (const e of entries) if (e.type === "awaiting_approval") last = e
    if (!last) return undefined
    if (entries.some((e) => e.seq > last!.seq && (e.stepPath !== undefined || e.type === "escalated"))) return undefined
    return {
      incidentId,
      runbook: String(opened.data["runbook"]),
      planDigest: String(last.data["planDigest"]),
      expiresAt: Number(last.data["expiresAt"]),
      reason: String(last.data["reason"] ?? "")
    }
  })

const parseExpiry = (raw: number | string | undefined, now: number, ttl: Duration.Duration): Effect.Effect<number, InvalidApproval> => {
  if (raw === undefined) return Effect.succeed(now + Duration.toMillis(ttl))
  const at = typeof raw === "number" ? raw : Date.parse(raw)
  if (!Number.isFinite(at)) return Effect.fail(new InvalidApproval({ message: `expiresAt ${JSON.stringify(raw)} is neither epoch ms nor an ISO-8601 date` }))
  if (at <= now) return Effect.fail(new InvalidApproval({ message: `expiresAt ${new Date(at).toISOString()} is already past` }))
  return Effect.succeed(at)
}

/**
 * Records an approval for a paused incident: the incident must exist (else UnknownIncident),
 * be paused (else NotAwaiting) on exactly `planDigest` (else StaleDigest). Writes the record
 * the `approval` guardrail reads and journals `approved`.
 */
export const approve = (
  incidentId: string,
  request: ApprovalRequest,
  options: { readonly ttl?: Duration.Input } = {}
): Effect.Effect<ApprovalRecord.ApprovalRecord, ApproveError, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const now = yield* Clock.currentTimeMillis
    const p = yield* pending(incidentId)
    if (!p) return yield* new NotAwaiting({ incidentId, message: `incident ${incidentId} is not waiting for an approval` })
    if (p.planDigest !== request.planDigest) {
      return yield* new StaleDigest({
        incidentId,
        given: request.planDigest,
        current: p.planDigest,
        message: `the plan of ${incidentId} changed: approve digest ${p.planDigest}, not ${request.planDigest}`
      })
    }
    const expiresAt = yield* parseExpiry(request.expiresAt, now, options.ttl ? Duration.fromInputUnsafe(options.ttl) : defaultTtl)
    const record = yield* ApprovalRecord.grant(incidentId, {
      planDigest: request.planDigest,
      approver: request.approver,
      expiresAt,
      approvedAt: now,
      ...(request.comment !== undefined ? { comment: request.comment } : {})
    })
    yield* Journal.append(store, {
      incidentId,
      at: now,
      type: "approved",
      data: { planDigest: record.planDigest, approver: record.approver, expiresAt: record.expiresAt }
    })
    return record
  })

/** An approval channel: how a human approves a paused incident through it. */
export { ApprovalChannel, type PausedIncident } from "./approval/Channel"

/** The CLI channel: approvals are written to the FileStore by `byteport approve`. */
export const cli: Layer.Layer<ApprovalChannel> = Layer.succeed(
  ApprovalChannel,
  ApprovalChannel.of({
    name: "cli",
    instructions: (p) => `byteport approve ${p.incidentId} --digest ${p.planDigest} --approver <you> --ttl 30m`
  })
)

/** The header that carries the shared approval token. */
export const tokenHeader = "x-byteport-approval-token"

/** Options of `serveHttp`. */
export interface HttpOptions {
  /** The shared secret every request must carry in the `x-byteport-approval-token` header. */
  readonly token: Redacted.Redacted<string>
  /** The port on 127.0.0.1 (default 0: any free port). */
  readonly port?: number
  /** Default lifetime of an approval without `expiresAt` (default 30 min). */
  readonly ttl?: Duration.Input
}

/** A running approval server. */
export interface HttpServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** The channel (its instructions name this server). */
  readonly channel: ApprovalChannel["Service"]
}

const digestOf = (s: string) => createHash("sha256").update(s).digest()
const sameSecret = (given: string, expected: string) => timingSafeEqual(digestOf(given), digestOf(expected))

interface HttpAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

const maxBody = 64 * 1024

const decodeRequest = Schema.decodeUnknownExit(ApprovalRequest)

/** Answers one HTTP request. */
const answer = (
  method: string,
  path: string,
  token: string | undefined,
  body: string,
  options: HttpOptions
): Effect.Effect<HttpAnswer, never, GuardrailStore> =>
  Effect.gen(function*() {
    const m = /^\/approvals\/([^/]+)$/.exec(path)
    if (!m) return { status: 404, body: { error: "NotFound", message: `no route ${path}` } }
    if (token === undefined || !sameSecret(token, Redacted.value(options.token))) {
      return { status: 401, body: { error: "Unauthorized", message: `missing or wrong ${tokenHeader} header` } }
    }
    let incidentId: string
    try {
      incidentId = decodeURIComponent(m[1]!)
    } catch {
      return { status: 400, body: { error: "InvalidApproval", message: "the incident id is not valid URL encoding" } }
    }
    if (method === "GET") {
      const p = yield* Effect.result(pending(incidentId))
      if (p._tag === "Failure") {
        return p.failure._tag === "UnknownIncident"
          ? { status: 404, body: { error: p.failure._tag, message: p.failure.message } }
          : { status: 500, body: { error: p.failure._tag, message: p.failure.message } }
      }
      return { status: 200, body: { incidentId, awaiting: p.success !== undefined, ...(p.success ? { pending: p.success } : {}) } }
    }
    if (method !== "POST") return { status: 405, body: { error: "MethodNotAllowed", message: "use POST (or GET to read)" } }
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch (e) {
      return { status: 400, body: { error: "InvalidApproval", message: `the body is not JSON: ${(e as Error).message}` } }
    }
    const decoded = decodeRequest(json)
    if (decoded._tag === "Failure") {
      const err = decoded.cause.reasons.find((r) => r._tag === "Fail")
      return { status: 400, body: { error: "InvalidApproval", message: err && err._tag === "Fail" ? String((err.error as Error).message) : "invalid body" } }
    }
    const r = yield* Effect.result(approve(incidentId, decoded.value, options.ttl ? { ttl: options.ttl } : {}))
    if (r._tag === "Success") return { status: 202, body: { accepted: true, incidentId, approval: r.success } }
    const e = r.failure
    const status = e._tag === "UnknownIncident" ? 404 : e._tag === "StaleDigest" || e._tag === "NotAwaiting" ? 409 : e._tag === "InvalidApproval" ? 400 : 500
    return { status, body: { error: e._tag, message: e.message, ...(e._tag === "StaleDigest" ? { current: e.current } : {}) } }
  })

/**
 * Starts the HTTP approval channel on 127.0.0.1 for the scope's lifetime:
 * `POST /approvals/<incidentId>` with JSON `{ planDigest, approver, expiresAt?, comment? }` and the
 * header `x-byteport-approval-token`. Answers 202 (accepted), 400 (bad body), 401 (token),
 * 404 (unknown incident), 409 (stale digest, or not paused). `GET /approvals/<incidentId>` reads
 * what the incident waits for.
 */
export const serveHttp = (options: HttpOptions): Effect.Effect<HttpServer, ApprovalServerError, GuardrailStore | Scope.Scope> =>
  Effect.gen(function*() {
    const ctx = yield* Effect.context<GuardrailStore>()
    const run = Effect.runPromiseWith(ctx)
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      let size = 0
      let aborted = false
      const reply = (a: HttpAnswer) => {
        const text = JSON.stringify(a.body)
        res.writeHead(a.status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
        res.end(text)
      }
      req.on("data", (c: Buffer) => {
        size += c.length
        if (size > maxBody && !aborted) {
          aborted = true
          reply({ status: 413, body: { error: "InvalidApproval", message: `body larger than ${maxBody} bytes` } })
          req.destroy()
        } else if (!aborted) chunks.push(c)
      })
      req.on("end", () => {
        if (aborted) return
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        const tokenValue = req.headers[tokenHeader]
        run(answer(req.method ?? "GET", url.pathname, Array.isArray(tokenValue) ? tokenValue[0] : tokenValue, Buffer.concat(chunks).toString("utf8"), options)).then(
          reply,
          (e) => reply({ status: 500, body: { error: "Internal", message: String(e) } })
        )
      })
    })
    const port = yield* Effect.acquireRelease(
      Effect.callback<number, ApprovalServerError>((resume) => {
        server.once("error", (cause) => resume(Effect.fail(new ApprovalServerError({ message: `approval server: ${cause.message}`, cause }))))
        server.listen(options.port ?? 0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const url = `http://127.0.0.1:${port}`
    return {
      url,
      port,
      channel: ApprovalChannel.of({
        name: "http",
        instructions: (p) =>
          `POST ${url}/approvals/${encodeURIComponent(p.incidentId)} with header ${tokenHeader} and body {"planDigest":"${p.planDigest}","approver":"<you>"}`
      })
    }
  })

/** The shared approval token, from `BYTEPORT_APPROVAL_TOKEN` (Redacted: never printed). */
export const tokenConfig: Config.Config<Redacted.Redacted<string>> = Config.Redacted("BYTEPORT_APPROVAL_TOKEN")

/** The HTTP channel as a layer, configured by `BYTEPORT_APPROVAL_TOKEN` and `BYTEPORT_APPROVAL_PORT` (default 0). */
export const layerHttp: Layer.Layer<ApprovalChannel, ApprovalServerError | Config.ConfigError, GuardrailStore> = Layer.effect(
  ApprovalChannel,
  Effect.gen(function*() {
    const token = yield* tokenConfig
    const port = yield* Settings.port("BYTEPORT_APPROVAL_PORT", { allowAny: true }).pipe(Config.withDefault(0))
    const server = yield* serveHttp({ token, port })
    return server.channel
  })
)

/** Options of `awaitDecision`. */
export interface AwaitOptions {
  /** How often the store is polled for an approval (default 5 s). */
  readonly pollEvery?: Duration.Input
}

/**
 * Waits until a paused incident is approved for its current plan, or its request expires, then
 * resumes it with `Runbook.resume`: an approved plan runs; a changed plan pauses again (a new
 * `AwaitingApproval`); an expired request escalates. (`Runbook.run` does this for every pause.)
 */
export const awaitDecision = <F, R>(
  runbook: Runbook.Runbook<F, R>,
  paused: Runbook.AwaitingApproval,
  options: AwaitOptions = {}
): Effect.Effect<Runbook.HandleResult, Runbook.IncidentNotFound | StoreError, R | Runbook.Services> =>
  Runbook.awaitApproval(runbook, paused, options)
