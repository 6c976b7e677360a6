/**
 * `WorkflowRunWebhook`: a receiver of GitHub `workflow_run` webhooks (a loopback-or-any-host
 * HTTP server) that turns completed failed runs of the watched workflows into Signals. The
 * signature (`X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw request bytes with the
 * webhook secret) is checked before the body is parsed, in constant time; a missing or wrong one
 * is answered 401 and audited (`webhook.rejected`). A payload only names a run: the runbook
 * re-reads the run from the API, so a forged or replayed payload cannot make it act on a run
 * that did not fail. Deduplication is by run id in the GuardrailStore (the poller's claim), so a
 * redelivery, a second event for the same run or a restart never opens a second incident.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, Notifier, type Signal } from "@byteport/core"
import * as Crypto from "node:crypto"
import * as WebhookServer from "../internal/WebhookServer"
import { Clock, Effect, Queue, Redacted, type Scope, Stream } from "effect"
import { claim, DEFAULT_CONCLUSIONS, signalOf, watched } from "./WorkflowRuns"

/** Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `raw` with `secret`, compared in constant time. */
export const verifySignature = (raw: Uint8Array, header: string | undefined, secret: Redacted.Redacted<string>): boolean => {
  if (header === undefined || !header.startsWith("sha256=")) return false
  const got = Buffer.from(header.slice(7), "utf8")
  const expected = Buffer.from(Crypto.createHmac("sha256", Redacted.value(secret)).update(raw).digest("hex"), "utf8")
  return got.length === expected.length && Crypto.timingSafeEqual(got, expected)
}

/** Options of {@link make}. */
export interface Options {
  /** The webhook secret. */
  readonly secret: Redacted.Redacted<string>
  /** Only this repository (`owner/name`). */
  readonly repo: string
  /** The deploy workflows (file names or paths). */
  readonly workflows: ReadonlyArray<string>
  readonly branches?: ReadonlyArray<string>
  /** Default failure, timed_out, startup_failure. */
  readonly conclusions?: ReadonlyArray<string>
  /** Listen port (default 0: an ephemeral port) and host (default 127.0.0.1). */
  readonly port?: number
  readonly host?: string
  /** Largest body accepted, bytes (default 25 MiB, GitHub's cap). */
  readonly maxBytes?: number
}

/** A running receiver. */
export interface Receiver {
  /** `http://host:port/` */
  readonly url: string
  readonly detector: Detector.Detector<never, never>
}

/** What the receiver answered (for tests and audit). */
export type Verdict = { readonly status: number; readonly outcome: "accepted" | "duplicate" | "ignored" | "rejected"; readonly reason: string }

/** Handles one delivery (raw bytes and headers); offers the signal when the run is new. */
export const handleDelivery = (
  options: Options,
  raw: Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  offer: (s: Signal.Signal) => void
): Effect.Effect<Verdict, never, GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier.Notifier
    if (!verifySignature(raw, headers["x-hub-signature-256"], options.secret)) {
      yield* notifier.audit("webhook.rejected", { runbook: "deploy.github-actions", reason: "bad or missing X-Hub-Signature-256", delivery: headers["x-github-delivery"] ?? null })
      return { status: 401, outcome: "rejected", reason: "bad or missing X-Hub-Signature-256" } as const
    }
    const event = headers["x-github-event"]
    if (event === "ping") return { status: 200, outcome: "ignored", reason: "ping" } as const
    if (event !== "workflow_run") return { status: 202, outcome: "ignored", reason: `event ${event ?? "(none)"} is not workflow_run` } as const
    let payload: { action?: unknown; workflow_run?: Record<string, unknown>; repository?: { full_name?: unknown } }
    try {
      payload = JSON.parse(Buffer.from(raw).toString("utf8")) as typeof payload
    } catch {
      return { status: 400, outcome: "rejected", reason: "body is not JSON" } as const
    }
    const run = payload.workflow_run
    const repo = payload.repository?.full_name
    if (payload.action !== "completed" || run === undefined || typeof repo !== "string") return { status: 202, outcome: "ignored", reason: "not a completed run" } as const
    if (repo.toLowerCase() !== options.repo.toLowerCase()) return { status: 202, outcome: "ignored", reason: `repository ${repo} is not watched` } as const
    const id = run["id"]
    const path = run["path"]
    const conclusion = run["conclusion"]
    const branch = run["head_branch"]
    if (typeof id !== "number" || typeof path !== "string") return { status: 400, outcome: "rejected", reason: "workflow_run without id or path" } as const
    if (!watched(options.workflows, path.replace(/@.*$/, ""))) return { status: 202, outcome: "ignored", reason: `workflow ${path} is not watched` } as const
    if (typeof conclusion !== "string" || !(options.conclusions ?? DEFAULT_CONCLUSIONS).includes(conclusion)) return { status: 202, outcome: "ignored", reason: `conclusion ${String(conclusion)}` } as const
    if (options.branches && (typeof branch !== "string" || !options.branches.includes(branch))) return { status: 202, outcome: "ignored", reason: `branch ${String(branch)} is not watched` } as const
    const fresh = yield* claim(options.repo, id, "webhook").pipe(Effect.catch(() => Effect.succeed(false)))
    if (!fresh) return { status: 200, outcome: "duplicate", reason: `run ${id} was seen before` } as const
    const now = yield* Clock.currentTimeMillis
    offer(signalOf(options.repo, { id, path, head_branch: typeof branch === "string" ? branch : null, conclusion, html_url: String(run["html_url"] ?? "") }, "webhook", now))
    return { status: 202, outcome: "accepted", reason: `run ${id} ${conclusion}` } as const
  })

/** Starts the receiver in the scope (closed with it). */
export const make = (options: Options): Effect.Effect<Receiver, never, Scope.Scope | GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Signal.Signal>()
    const { host, port } = yield* WebhookServer.listen(options, (req) =>
      req.method !== "POST"
        ? Effect.succeed({ status: 405, headers: { allow: "POST" } })
        : Effect.map(handleDelivery(options, req.body, req.headers, (s) => void Queue.offerUnsafe(queue, s)), (v) => ({ status: v.status, json: { outcome: v.outcome, reason: v.reason } }))
    )
    return { url: `http://${host}:${port}/`, detector: Detector.fromStream("github-actions.webhook", Stream.fromQueue(queue)) }
  })
