/**
 * `SentryFake`: a loopback HTTP server speaking Sentry's web API (`/api/0/…`) in Sentry's
 * documented JSON for the endpoints `deploy.sentry.classify` reads, and building signed
 * integration webhooks. State follows cause and effect on the fake's clock (`now`): releases are
 * created, deployed (`fake.deploy`), and events captured (`fake.capture`) group into issues by
 * fingerprint; an issue's `firstSeen`, `lastSeen`, `count`, `firstRelease` and `lastRelease` are
 * those of its events, and its latest event carries the exception (type, value, module, stack
 * frames) and breadcrumbs it was captured with.
 *
 * Modelled: `GET /api/0/projects/{org}/{project}/issues/` (unresolved, `statsPeriod`),
 * `GET /api/0/organizations/{org}/issues/{id}/`, `…/issues/{id}/events/latest/`,
 * `GET /api/0/projects/{org}/{project}/releases/` (newest first),
 * `GET /api/0/organizations/{org}/releases/{version}/deploys/`; Bearer auth (401 otherwise);
 * `fake.webhook(issueId, resource, secret)`: an `issue` (`created`) or `event_alert`
 * (`triggered`) delivery with `Sentry-Hook-Resource`, `Sentry-Hook-Timestamp`, `Request-ID` and
 * `Sentry-Hook-Signature` (HMAC-SHA256 of the raw body with the integration's client secret).
 *
 * Not modelled: search syntax beyond `is:unresolved`, pagination (`Link` cursors: every list fits
 * one page), issue updates (resolve, assign), stats, tags and user endpoints, attachments,
 * source maps and symbolication (frames are given as captured), rate limits, webhooks sent by the
 * fake on its own (build them with `webhook` and POST them), sampling and quotas.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** An exception as captured. */
export interface ExceptionSpec {
  readonly type: string
  readonly value: string
  readonly module?: string
  readonly frames?: ReadonlyArray<{ readonly filename?: string; readonly function?: string; readonly module?: string; readonly lineNo?: number; readonly inApp?: boolean }>
}

/** A breadcrumb as captured (an outbound HTTP call: `{ type: "http", category: "http", data: { method, url, status_code } }`). */
export interface BreadcrumbSpec {
  readonly type?: string
  readonly category?: string
  readonly message?: string
  readonly level?: string
  readonly data?: Readonly<Record<string, unknown>>
}

/** An event to capture. */
export interface EventSpec {
  readonly project: string
  readonly release?: string
  readonly platform?: "javascript" | "node" | "python" | "java" | "go" | string
  readonly exception?: ExceptionSpec
  readonly message?: string
  readonly breadcrumbs?: ReadonlyArray<BreadcrumbSpec>
  /** Groups events into one issue (default: exception type + value, or the message). */
  readonly fingerprint?: string
  readonly level?: string
  /** How many identical events (default 1). */
  readonly times?: number
}

/** One logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly at: number
}

/** Options of `start`. */
export interface Options {
  readonly now?: () => number
  /** Accepted tokens (default `["sntrys_test"]`). */
  readonly tokens?: ReadonlyArray<string>
  /** The organization slug (default `acme`). */
  readonly org?: string
}

interface IssueState {
  id: string
  shortId: string
  project: string
  fingerprint: string
  title: string
  culprit: string | null
  level: string
  platform: string | null
  events: Array<{ id: string; at: number; release: string | null; spec: EventSpec }>
}

/** The fake Sentry. */
export interface SentryFake {
  /** The web root (`http://127.0.0.1:<port>`): the client's `baseUrl`. */
  readonly url: string
  readonly org: string
  readonly requests: ReadonlyArray<LoggedRequest>
  /** The requests that write (none of the modelled endpoints write: always empty unless a client misbehaves). */
  readonly writes: ReadonlyArray<LoggedRequest>
  /** Creates a release of a project at the fake's current time. */
  readonly release: (project: string, version: string) => void
  /** Records a finished deploy of a release (default environment `production`). */
  readonly deploy: (version: string, environment?: string) => void
  /** Captures an event; returns its issue id. */
  readonly capture: (event: EventSpec) => string
  /** An issue as the API shows it. */
  readonly issue: (issueId: string) => Record<string, unknown>
  /** A signed webhook delivery for an issue (`issue` → action `created`, `event_alert` → `triggered`). */
  readonly webhook: (issueId: string, resource: "issue" | "event_alert", secret: string) => { readonly headers: Record<string, string>; readonly body: string }
  readonly close: () => Promise<void>
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Starts the fake on 127.0.0.1 (an ephemeral port). */
export const start = async (options: Options = {}): Promise<SentryFake> => {
  const now = options.now ?? Date.now
  const org = options.org ?? "acme"
  const tokens = new Set(options.tokens ?? ["sntrys_test"])
  const requests: Array<LoggedRequest> = []
  const releases: Array<{ project: string; version: string; at: number }> = []
  const deploys: Array<{ id: string; version: string; environment: string; at: number }> = []
  const issues = new Map<string, IssueState>()
  const projectIds = new Map<string, string>()
  let nextIssue = 4_000_000_001
  let url = ""

  const projectId = (slug: string) => {
    let id = projectIds.get(slug)
    if (!id) {
      id = String(1_000 + projectIds.size)
      projectIds.set(slug, id)
    }
    return id
  }

  const releaseJson = (version: string | null) => {
    if (version === null) return null
    const r = releases.find((x) => x.version === version)
    return { version, shortVersion: version.slice(0, 12), dateCreated: iso(r?.at ?? 0) }
  }

  const issueJson = (i: IssueState): Record<string, unknown> => {
    const first = i.events[0]!
    const last = i.events[i.events.length - 1]!
    return {
      id: i.id,
      shortId: i.shortId,
      title: i.title,
      culprit: i.culprit,
      level: i.level,
      status: "unresolved",
      platform: i.platform,
      firstSeen: iso(first.at),
      lastSeen: iso(last.at),
      count: String(i.events.length),
      userCount: 0,
      permalink: `${url}/organizations/${org}/issues/${i.id}/`,
      project: { id: projectId(i.project), slug: i.project, name: i.project },
      metadata: { type: first.spec.exception?.type ?? null, value: first.spec.exception?.value ?? first.spec.message ?? null },
      firstRelease: releaseJson(first.release),
      lastRelease: releaseJson(last.release)
    }
  }

  const eventJson = (i: IssueState, e: IssueState["events"][number]): Record<string, unknown> => {
    const entries: Array<Record<string, unknown>> = []
    if (e.spec.exception) {
      const x = e.spec.exception
      entries.push({
        type: "exception",
        data: {
          values: [{
            type: x.type,
            value: x.value,
            module: x.module ?? null,
            mechanism: { type: "generic", handled: false },
            stacktrace: { frames: (x.frames ?? []).map((f) => ({ filename: f.filename ?? null, function: f.function ?? null, module: f.module ?? null, lineNo: f.lineNo ?? null, inApp: f.inApp ?? true })) }
          }]
        }
      })
    }
    if (e.spec.breadcrumbs?.length) {
      entries.push({
        type: "breadcrumbs",
        data: { values: e.spec.breadcrumbs.map((b) => ({ type: b.type ?? "default", category: b.category ?? null, message: b.message ?? null, level: b.level ?? "info", timestamp: iso(e.at), data: b.data ?? null })) }
      })
    }
    if (e.spec.message && !e.spec.exception) entries.push({ type: "message", data: { formatted: e.spec.message } })
    return {
      id: e.id,
      eventID: e.id,
      groupID: i.id,
      projectID: projectId(i.project),
      dateCreated: iso(e.at),
      platform: i.platform,
      message: e.spec.message ?? "",
      title: i.title,
      release: releaseJson(e.release),
      tags: [{ key: "level", value: i.level }, ...(e.release ? [{ key: "release", value: e.release }] : [])],
      entries
    }
  }

  type Reply = { status: number; body: unknown }
  const route = (u: URL): Reply => {
    const p = u.pathname
    let m = /^\/api\/0\/projects\/([^/]+)\/([^/]+)\/issues\/$/.exec(p)
    if (m) {
      const period = u.searchParams.get("statsPeriod") ?? "24h"
      const hours = /^(\d+)h$/.exec(period)
      const days = /^(\d+)d$/.exec(period)
      const span = hours ? Number(hours[1]) * 3_600_000 : days ? Number(days[1]) * 86_400_000 : 86_400_000
      const list = [...issues.values()].filter((i) => i.project === decodeURIComponent(m![2]!) && i.events[i.events.length - 1]!.at >= now() - span)
      return { status: 200, body: list.sort((a, b) => b.events[b.events.length - 1]!.at - a.events[a.events.length - 1]!.at).map(issueJson) }
    }
    m = /^\/api\/0\/organizations\/([^/]+)\/issues\/([^/]+)\/(events\/latest\/)?$/.exec(p)
    if (m) {
      const i = issues.get(decodeURIComponent(m[2]!))
      if (!i) return { status: 404, body: { detail: "The requested resource does not exist" } }
      return m[3] ? { status: 200, body: eventJson(i, i.events[i.events.length - 1]!) } : { status: 200, body: issueJson(i) }
    }
    m = /^\/api\/0\/projects\/([^/]+)\/([^/]+)\/releases\/$/.exec(p)
    if (m) {
      const list = releases.filter((r) => r.project === decodeURIComponent(m![2]!)).sort((a, b) => b.at - a.at)
      return { status: 200, body: list.map((r) => ({ version: r.version, shortVersion: r.version.slice(0, 12), dateCreated: iso(r.at), projects: [{ slug: r.project }] })) }
    }
    m = /^\/api\/0\/organizations\/([^/]+)\/releases\/([^/]+)\/deploys\/$/.exec(p)
    if (m) {
      const v = decodeURIComponent(m[2]!)
      if (!releases.some((r) => r.version === v)) return { status: 404, body: { detail: "The requested resource does not exist" } }
      return { status: 200, body: deploys.filter((d) => d.version === v).sort((a, b) => b.at - a.at).map((d) => ({ id: d.id, environment: d.environment, dateStarted: null, dateFinished: iso(d.at), name: null, url: null })) }
    }
    return { status: 404, body: { detail: "The requested resource does not exist" } }
  }

  const server = Http.createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      const method = (req.method ?? "GET").toUpperCase()
      const u = new URL(req.url ?? "/", "http://127.0.0.1")
      const send = (r: Reply) => {
        requests.push({ method, path: u.pathname, status: r.status, at: now() })
        res.writeHead(r.status, { "content-type": "application/json" })
        res.end(JSON.stringify(r.body))
      }
      const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")
      if (!auth || !tokens.has(auth[1]!)) return send({ status: 401, body: { detail: "Invalid token" } })
      if (method !== "GET") return send({ status: 405, body: { detail: `Method "${method}" not allowed.` } })
      send(route(u))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    org,
    get requests() {
      return requests
    },
    get writes() {
      return requests.filter((r) => r.method !== "GET")
    },
    release: (project, version) => {
      releases.push({ project, version, at: now() })
    },
    deploy: (version, environment = "production") => {
      deploys.push({ id: String(deploys.length + 1), version, environment, at: now() })
    },
    capture: (spec) => {
      const fingerprint = spec.fingerprint ?? (spec.exception ? `${spec.exception.type}:${spec.exception.value}` : spec.message ?? "")
      let i = [...issues.values()].find((x) => x.project === spec.project && x.fingerprint === fingerprint)
      if (!i) {
        const id = String(nextIssue++)
        i = {
          id,
          shortId: `${spec.project.toUpperCase()}-${(issues.size + 1).toString(36).toUpperCase()}`,
          project: spec.project,
          fingerprint,
          title: spec.exception ? `${spec.exception.type}: ${spec.exception.value}` : spec.message ?? "(no message)",
          culprit: spec.exception?.frames?.length ? spec.exception.frames[spec.exception.frames.length - 1]!.function ?? null : null,
          level: spec.level ?? "error",
          platform: spec.platform ?? null,
          events: []
        }
        issues.set(id, i)
      }
      for (let k = 0; k < (spec.times ?? 1); k++) i.events.push({ id: Crypto.randomBytes(16).toString("hex"), at: now(), release: spec.release ?? null, spec })
      return i.id
    },
    issue: (id) => issueJson(issues.get(id)!),
    webhook: (issueId, resource, secret) => {
      const i = issues.get(issueId)!
      const data = resource === "issue"
        ? { issue: issueJson(i) }
        : { event: { ...eventJson(i, i.events[i.events.length - 1]!), issue_id: i.id, issue_url: `${url}/api/0/organizations/${org}/issues/${i.id}/`, project: Number(projectId(i.project)) }, triggered_rule: "New issue" }
      const body = JSON.stringify({ action: resource === "issue" ? "created" : "triggered", installation: { uuid: "7a485448-a9e2-4c85-8a3c-4f44175783c9" }, data, actor: { type: "application", id: "sentry", name: "Sentry" } })
      return {
        body,
        headers: {
          "content-type": "application/json",
          "sentry-hook-resource": resource,
          "sentry-hook-timestamp": String(Math.floor(now() / 1000)),
          "request-id": Crypto.randomUUID(),
          "sentry-hook-signature": Crypto.createHmac("sha256", secret).update(body, "utf8").digest("hex")
        }
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
