/**
 * `DeployWebhooks`: the one receiver of `deploy.webhook.rollback` — a `node:http` server with a
 * path per platform (`POST /github`, `/argocd`, `/flux`, `/spinnaker`) whose signals feed
 * `Catalog.run` (`sources: [receiver.signals]`) or the runbook's detector.
 *
 * Every delivery is authenticated on its raw bytes before it is parsed, in constant time:
 * GitHub `X-Hub-Signature-256: sha256=<hex>` and Flux (`generic-hmac`) `X-Signature:
 * sha256=<hex>`, both HMAC-SHA256 of the body with the shared secret; Argo CD and Spinnaker do
 * not sign, so basic auth or a secret header is required. A failure is answered `401` and
 * audited (`webhook.rejected`); a platform without credentials configured is `404`.
 *
 * Deduplication, once ever in the GuardrailStore (across restarts and replicas): the delivery
 * (`X-GitHub-Delivery`, else the body's SHA-256), then the failure itself (the run, the
 * deployment status, the execution …), so a redelivery or a second event for one failure opens
 * one incident. Every authenticated event also feeds the `DeployJournal` (revision seen, healthy,
 * failed). A payload only opens an incident: the runbook re-reads the source before it acts.
 *
 * @since 0.3.0
 */
import { Detector, GuardrailStore, Notifier, type Signal } from "@byteport/core"
import * as Crypto from "node:crypto"
import * as WebhookServer from "../internal/WebhookServer"
import { Clock, Effect, Queue, Redacted, type Scope, Stream } from "effect"
import { verifySignature } from "../detectors/WorkflowRunWebhook"
import * as DeployJournal from "./DeployJournal"
import * as Events from "./Events"

/** How a platform that does not sign proves who it is: basic auth, or a secret header. */
export type Credential =
  | { readonly _tag: "Basic"; readonly username: string; readonly password: Redacted.Redacted<string> }
  | { readonly _tag: "Header"; readonly name: string; readonly value: Redacted.Redacted<string> }

/** Options of {@link make}: a platform is accepted only when its credentials are given. */
export interface Options {
  /** GitHub's webhook secret (`X-Hub-Signature-256`). */
  readonly github?: { readonly secret: Redacted.Redacted<string> }
  /** Flux's `generic-hmac` provider secret (`X-Signature: sha256=<hex>`). */
  readonly flux?: { readonly secret: Redacted.Redacted<string> }
  /** Argo CD notifications: basic auth or a secret header. */
  readonly argocd?: Credential
  /** Spinnaker echo: basic auth or a secret header. */
  readonly spinnaker?: Credential
  /** Listen port (default 0: ephemeral) and host (default 127.0.0.1). */
  readonly port?: number
  readonly host?: string
  /** Largest body accepted, bytes (default 25 MiB). */
  readonly maxBytes?: number
}

/** What the receiver answered. */
export interface Verdict {
  readonly status: number
  readonly outcome: "accepted" | "recorded" | "duplicate" | "ignored" | "rejected"
  readonly reason: string
}

/** A running receiver. */
export interface Receiver {
  /** `http://host:port` (no trailing slash); platforms at `/github`, `/argocd`, `/flux`, `/spinnaker`. */
  readonly url: string
  /** The signals, for `Catalog.run`'s `sources`. */
  readonly signals: Stream.Stream<Signal.Signal>
  /** The same signals as a detector (for the runbook's `detectors`). */
  readonly detector: Detector.Detector<never, never>
}

const PLATFORMS: ReadonlyArray<Events.Platform> = ["github", "argocd", "flux", "spinnaker"]

/** Compares two strings in constant time (for their length). */
export const constantTimeEqual = (a: string, b: string): boolean => {
  const x = Crypto.createHash("sha256").update(a).digest()
  const y = Crypto.createHash("sha256").update(b).digest()
  return Crypto.timingSafeEqual(x, y) && a.length === b.length
}

/** Whether the headers carry the credential (basic auth or the secret header), compared in constant time. */
export const verifyCredential = (headers: Readonly<Record<string, string | undefined>>, c: Credential): boolean => {
  if (c._tag === "Header") return constantTimeEqual(headers[c.name.toLowerCase()] ?? "", Redacted.value(c.value))
  const auth = headers["authorization"] ?? ""
  if (!/^basic /i.test(auth)) return false
  const expected = Buffer.from(`${c.username}:${Redacted.value(c.password)}`, "utf8").toString("base64")
  return constantTimeEqual(auth.slice(6).trim(), expected)
}

/** Authenticates a delivery of a platform: undefined when authentic, else why not. */
export const authenticate = (options: Options, platform: Events.Platform, raw: Uint8Array, headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  switch (platform) {
    case "github":
      return options.github && verifySignature(raw, headers["x-hub-signature-256"], options.github.secret) ? undefined : "bad or missing X-Hub-Signature-256"
    case "flux":
      return options.flux && verifySignature(raw, headers["x-signature"], options.flux.secret) ? undefined : "bad or missing X-Signature"
    case "argocd":
    case "spinnaker": {
      const c = options[platform]
      return c && verifyCredential(headers, c) ? undefined : c?._tag === "Header" ? `bad or missing ${c.name} header` : "bad or missing basic auth"
    }
  }
}

/** The store key that claims a delivery. */
export const deliveryKey = (platform: Events.Platform, raw: Uint8Array, headers: Readonly<Record<string, string | undefined>>): string =>
  platform === "github" && headers["x-github-delivery"]
    ? `deploy.webhook.rollback:delivery:github:${headers["x-github-delivery"]}`
    : `deploy.webhook.rollback:delivery:${platform}:sha256:${Crypto.createHash("sha256").update(raw).digest("hex")}`

/** The store key that claims a failure. */
export const failureKey = (event: Events.DeployEvent): string => `deploy.webhook.rollback:failure:${event.failureKey}`

/** The signal of a failed deployment. */
export const signalOf = (event: Events.DeployEvent, observedAt: number, delivery: string): Signal.Signal => ({
  type: Events.SIGNAL_TYPE,
  target: event.target,
  observedAt,
  evidence: {
    platform: event.platform,
    event: event.event,
    revision: event.revision,
    at: event.at,
    detail: event.detail,
    failureKey: event.failureKey,
    delivery,
    source: JSON.parse(JSON.stringify(event.source)) as Record<string, string | number | null>
  },
  source: `webhook/${event.platform}`
})

/** Handles one delivery to a platform's path; offers the signal of a new failure. */
export const handleDelivery = (
  options: Options,
  platform: Events.Platform,
  raw: Uint8Array,
  headers: Readonly<Record<string, string | undefined>>,
  offer: (s: Signal.Signal) => void
): Effect.Effect<Verdict, never, GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    const notifier = yield* Notifier.Notifier
    const bad = authenticate(options, platform, raw, headers)
    if (bad !== undefined) {
      yield* notifier.audit("webhook.rejected", { runbook: "deploy.webhook.rollback", platform, reason: bad, delivery: headers["x-github-delivery"] ?? null })
      return { status: 401, outcome: "rejected", reason: bad } as const
    }
    const store = yield* GuardrailStore.GuardrailStore
    const now = yield* Clock.currentTimeMillis
    const dkey = deliveryKey(platform, raw, headers)
    const fresh = yield* store.compareAndSet(dkey, 0, { at: now }).pipe(Effect.catch(() => Effect.succeed(undefined)))
    if (fresh === undefined) return { status: 503, outcome: "rejected", reason: "the store is unavailable: deliver again later" } as const
    if (!fresh) return { status: 200, outcome: "duplicate", reason: "delivery seen before" } as const
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(raw).toString("utf8"))
    } catch {
      return { status: 400, outcome: "rejected", reason: "body is not JSON" } as const
    }
    const decoded = Events.decode(platform, headers, body)
    if (decoded._tag === "Ignored") return { status: 202, outcome: "ignored", reason: decoded.reason } as const
    if (decoded._tag === "Invalid") return { status: 400, outcome: "rejected", reason: decoded.reason } as const
    const event = decoded.event
    if (event.revision !== null) {
      yield* DeployJournal.record(event.target, event.revision, event.outcome, event.at ?? now).pipe(
        Effect.catch((e) => Effect.logWarning(`deploy.webhook.rollback: the deploy journal of ${event.target.ref} was not written: ${e.message}`))
      )
    }
    if (event.outcome === "succeeded") return { status: 202, outcome: "recorded", reason: `${event.detail} (journaled)` } as const
    const first = yield* store.compareAndSet(failureKey(event), 0, { at: now, delivery: dkey }).pipe(Effect.catch(() => Effect.succeed(true)))
    if (!first) return { status: 200, outcome: "duplicate", reason: `failure ${event.failureKey} seen before` } as const
    offer(signalOf(event, now, dkey))
    return { status: 202, outcome: "accepted", reason: event.detail } as const
  })

/** Starts the receiver in the scope (closed with it). */
export const make = (options: Options): Effect.Effect<Receiver, never, Scope.Scope | GuardrailStore.GuardrailStore | Notifier.Notifier> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Signal.Signal>()
    const { host, port } = yield* WebhookServer.listen(options, (req) => {
      const path = req.path.replace(/\/+$/, "").slice(1)
      const platform = PLATFORMS.find((p) => p === path)
      if (!platform || options[platform] === undefined) return Effect.succeed({ status: 404, json: { outcome: "rejected", reason: `no receiver at /${path}` } })
      if (req.method !== "POST") return Effect.succeed({ status: 405, headers: { allow: "POST" } })
      return Effect.map(handleDelivery(options, platform, req.body, req.headers, (s) => void Queue.offerUnsafe(queue, s)), (v) => ({ status: v.status, json: { outcome: v.outcome, reason: v.reason } }))
    })
    const signals = Stream.fromQueue(queue)
    return { url: `http://${host}:${port}`, signals, detector: Detector.fromStream("deploy.webhook.receiver", signals) }
  })
