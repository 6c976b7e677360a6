/**
 * `SentryIssues`: new Sentry issues as Signals, by polling a project's unresolved issues (default
 * every 60 s; issues first seen within the look-back, default 1 h) and/or by Sentry integration
 * webhooks (`Sentry-Hook-Resource: issue` with action `created`, or `event_alert`). The webhook's
 * `Sentry-Hook-Signature` (hex HMAC-SHA256 of the raw body with the integration's client secret)
 * is checked on the raw bytes in constant time before parsing (else 401, audited
 * `webhook.rejected`). A payload only names the issue; the runbook re-reads it. Each issue is
 * claimed by id in the GuardrailStore: one incident per issue, ever, whichever source sees it.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, Notifier, type Signal, TargetRef } from "@byteport/core"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Clock, Effect, Queue, Redacted, Schedule, type Scope, Stream } from "effect"
import { Sentry } from "../sentry/Sentry"

/** The signal type. */
export const SIGNAL_TYPE = "sentry.issue.new"
/** The target kind of an incident: one issue (`sentry.issue`, ref `org/project/issueId`), so issues of one project do not share a lease. */
export const TARGET_KIND = "sentry.issue"
/** The default hand-off target kind (`sentry.project`, ref `org/project`) when no target is configured for the project. */
export const PROJECT_KIND = "sentry.project"

/** The signal of an issue. */
export const signalOf = (org: string, project: string, issueId: string, via: "poll" | "webhook", observedAt: number): Signal.Signal => ({
  type: SIGNAL_TYPE,
  target: TargetRef.make(TARGET_KIND, `${org}/${project}/${issueId}`),
  observedAt,
  evidence: { org, project, issueId, via },
  source: `sentry/${via}`
})

/** The store key that claims an issue. */
export const claimKey = (org: string, issueId: string): string => `deploy.sentry.classify:issue:${org}:${issueId}`

/** Claims an issue: true the first time ever (in this store). */
export const claim = (org: string, issueId: string, via: string): Effect.Effect<boolean, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    return yield* store.compareAndSet(claimKey(org, issueId), 0, { via, at: yield* Clock.currentTimeMillis })
  })

/** Options of {@link poller}. */
export interface PollOptions {
  readonly org: string
  readonly projects: ReadonlyArray<string>
  /** Issues first seen longer ago are ignored (default 1 h). */
  readonly lookbackMs?: number
  readonly schedule?: Schedule.Schedule<unknown>
}

/** One poll: the new issues, claimed. */
export const pollOnce = (o: PollOptions): Effect.Effect<ReadonlyArray<Signal.Signal>, never, Sentry | GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const sentry = yield* Sentry
    const now = yield* Clock.currentTimeMillis
    const out: Array<Signal.Signal> = []
    for (const project of o.projects) {
      const issues = yield* sentry.listIssues(o.org, project).pipe(
        Effect.catch((e) => Effect.as(Effect.logWarning(`deploy.sentry.classify: polling ${o.org}/${project} failed: ${e.message}`), []))
      )
      for (const i of issues) {
        if (now - Date.parse(i.firstSeen) > (o.lookbackMs ?? 3_600_000)) continue
        const fresh = yield* claim(o.org, i.id, "poll").pipe(Effect.catch(() => Effect.succeed(false)))
        if (fresh) out.push(signalOf(o.org, project, i.id, "poll", now))
      }
    }
    return out
  })

/** The polling detector. */
export const poller = (o: PollOptions): Detector.Detector<never, Sentry | GuardrailStore.GuardrailStore> =>
  Detector.poll("sentry.poll", { schedule: o.schedule ?? Schedule.spaced("60 seconds"), poll: pollOnce(o) })

/** Whether `header` is the hex HMAC-SHA256 of `raw` with `secret`, compared in constant time. */
export const verifySignature = (raw: Uint8Array, header: string | undefined, secret: Redacted.Redacted<string>): boolean => {
  if (header === undefined) return false
  const got = Buffer.from(header.trim().toLowerCase(), "utf8")
  const expected = Buffer.from(Crypto.createHmac("sha256", Redacted.value(secret)).update(raw).digest("hex"), "utf8")
  return got.length === expected.length && Crypto.timingSafeEqual(got, expected)
}

/** Options of the webhook receiver. */
export interface WebhookOptions {
  /** The integration's client secret. */
  readonly secret: Redacted.Redacted<string>
  readonly org: string
  /** Only these projects (slugs). */
  readonly projects: ReadonlyArray<string>
  readonly port?: number
  readonly host?: string
}

/** What the receiver answered. */
export type Verdict = { readonly status: number; readonly outcome: "accepted" | "duplicate" | "ignored" | "rejected"; readonly reason: string }

/** Handles one delivery (raw bytes and lower-cased headers); offers the signal when the issue is new. */
export const handleDelivery = (
  o: WebhookOptions,
  raw: Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  offer: (s: Signal.Signal) => void
): Effect.Effect<Verdict, never, GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    if (!verifySignature(raw, headers["sentry-hook-signature"], o.secret)) {
      yield* (yield* Notifier.Notifier).audit("webhook.rejected", { runbook: "deploy.sentry.classify", reason: "bad or missing Sentry-Hook-Signature", request: headers["request-id"] ?? null })
      return { status: 401, outcome: "rejected", reason: "bad or missing Sentry-Hook-Signature" } as const
    }
    const resource = headers["sentry-hook-resource"]
    if (resource !== "issue" && resource !== "event_alert") return { status: 202, outcome: "ignored", reason: `resource ${resource ?? "(none)"}` } as const
    let payload: { action?: unknown; data?: { issue?: { id?: unknown; project?: { slug?: unknown } }; event?: { issue_id?: unknown; issue_url?: unknown } } }
    try {
      payload = JSON.parse(Buffer.from(raw).toString("utf8")) as typeof payload
    } catch {
      return { status: 400, outcome: "rejected", reason: "body is not JSON" } as const
    }
    const issueId = resource === "issue" ? payload.data?.issue?.id : payload.data?.event?.issue_id
    if (resource === "issue" && payload.action !== "created") return { status: 202, outcome: "ignored", reason: `issue action ${String(payload.action)}` } as const
    if ((typeof issueId !== "string" && typeof issueId !== "number") || !/^\d+$/.test(String(issueId))) return { status: 400, outcome: "rejected", reason: "no issue id" } as const
    const slug = payload.data?.issue?.project?.slug
    const project = typeof slug === "string" ? slug : o.projects[0]
    if (project === undefined || !o.projects.includes(project)) return { status: 202, outcome: "ignored", reason: `project ${String(slug)} is not watched` } as const
    const fresh = yield* claim(o.org, String(issueId), "webhook").pipe(Effect.catch(() => Effect.succeed(false)))
    if (!fresh) return { status: 200, outcome: "duplicate", reason: `issue ${String(issueId)} was seen before` } as const
    offer(signalOf(o.org, project, String(issueId), "webhook", yield* Clock.currentTimeMillis))
    return { status: 202, outcome: "accepted", reason: `issue ${String(issueId)}` } as const
  })

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly detector: Detector.Detector<never, never>
}

/** Starts the webhook receiver in the scope (closed with it). */
export const webhook = (o: WebhookOptions): Effect.Effect<Receiver, never, Scope.Scope | GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Signal.Signal>()
    const ctx = yield* Effect.context<GuardrailStore.GuardrailStore | Notifier.Notifier>()
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end()
        const headers: Record<string, string | undefined> = {}
        for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v[0] : v
        Effect.runPromiseWith(ctx)(handleDelivery(o, Buffer.concat(chunks), headers, (s) => void Queue.offerUnsafe(queue, s))).then(
          (v) => res.writeHead(v.status, { "content-type": "application/json" }).end(JSON.stringify({ outcome: v.outcome, reason: v.reason })),
          () => res.writeHead(500).end()
        )
      })
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resume(Effect.void))
      }),
      () => Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
    )
    const addr = server.address() as AddressInfo
    return { url: `http://${o.host ?? "127.0.0.1"}:${addr.port}/`, detector: Detector.fromStream("sentry.webhook", Stream.fromQueue(queue)) }
  })
