/**
 * `RenderFake`: a loopback HTTP server speaking Render's public REST API v1 (the endpoints
 * `deploy.render.rollback` and `cloud.render.restart` use), in Render's documented JSON shapes,
 * plus a second loopback server playing the service's app (its health endpoint). State follows
 * cause and effect on the fake's clock (`now` option, e.g. the TestClock): a deploy builds for
 * `buildMs`, then goes live and deactivates the one before; the app's health, its request and
 * error counts and its crash events follow the commit that is live at that moment, so a bad
 * commit gives 5xx, timeouts or `server_failed` events until a rollback (or a deploy of a good
 * commit) goes live. Every API request is in `fake.requests` (`fake.writes`: the writes).
 *
 * Modelled: `GET/PATCH /v1/services/{id}` (`autoDeploy` `"yes"`/`"no"`, `serviceDetails.plan`
 * among {@link PLANS}: a `plan_changed` event), `GET …/deploys`
 * (newest first, `limit` 1–100, `cursor` pagination, `[{ deploy, cursor }]`), `GET
 * …/deploys/{deployId}`, `POST …/deploys` (`{ commitId }`, 201), `POST …/rollback`
 * (`{ deployId }`, 201, a deploy with trigger `rollback` that reuses the build: `rollbackMs`),
 * `POST …/restart` (200), `GET …/events` (`[{ event, cursor }]`: `deploy_started`, `deploy_ended`,
 * `server_failed`, `server_restarted`, `autodeploy_config_changed`), `GET
 * /v1/metrics/http-requests` (counts per status code per bucket, Render's
 * `[{ labels, unit, values }]`), Bearer auth (401 for an unknown token), `fake.push` (a commit on
 * the branch: a `new_commit` deploy when autoDeploy is on, as Render's Git integration does).
 *
 * Not modelled: Render's other service types and endpoints (env vars, custom domains, jobs,
 * autoscaling, instance counts, logs API), the restart that a plan change causes, deploy cancellation, pre-deploy commands, image-backed deploys,
 * `clearCache`, zero-downtime overlap of two instances (a deploy goes live at once), health-check
 * gated deploys (a bad commit still goes live; its symptoms follow), rate limits (Render's 429s),
 * metrics other than HTTP request counts, webhooks/notifications, owners and workspaces.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** How a commit behaves once live. */
export interface CommitBehaviour {
  /** The fraction of requests that fail with a 5xx (default 0.01). */
  readonly errorRate?: number
  /** The health endpoint: `ok` (200), `error` (503) or `timeout` (never answers). Default ok. */
  readonly health?: "ok" | "error" | "timeout"
  /** A crash loop: `server_failed` events from `afterMs` after going live, every `everyMs`. */
  readonly crash?: { readonly afterMs?: number; readonly everyMs?: number }
  /** The build fails (`build_failed`): the commit never goes live. */
  readonly buildFails?: boolean
}

/** A service to create. */
export interface ServiceSpec {
  readonly name: string
  readonly id?: string
  readonly branch?: string
  readonly autoDeploy?: boolean
  /** Requests per minute the app receives (default 600). */
  readonly rpm?: number
  /** How long a build takes (default 60 s). */
  readonly buildMs?: number
  /** How long a rollback takes to go live (default 10 s: it reuses the build). */
  readonly rollbackMs?: number
  /** The health check path (default `/healthz`). */
  readonly healthCheckPath?: string
  /** The instance type (`serviceDetails.plan`, default `starter`). */
  readonly plan?: string
}

/** The instance types the fake accepts in `PATCH serviceDetails.plan` (Render's web-service plans). */
export const PLANS: ReadonlyArray<string> = ["free", "starter", "standard", "pro", "pro_plus", "pro_max", "pro_ultra"]

/** One logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly status: number
  readonly body: unknown
  readonly at: number
}

/** Options of `start`. */
export interface Options {
  /** The fake's clock, epoch ms (default `Date.now`). */
  readonly now?: () => number
  /** Accepted API keys (default `["rnd_test"]`). */
  readonly tokens?: ReadonlyArray<string>
}

interface Deploy {
  id: string
  serviceId: string
  commitId: string
  trigger: string
  createdAt: number
  buildMs: number
  /** Set when the build fails. */
  failed: boolean
  updatedAt: number
}

interface Service {
  id: string
  name: string
  branch: string
  autoDeploy: boolean
  rpm: number
  buildMs: number
  rollbackMs: number
  healthCheckPath: string
  plan: string
  createdAt: number
  updatedAt: number
  deploys: Array<Deploy>
  extraEvents: Array<{ id: string; at: number; type: string; details: Record<string, unknown> }>
}

/** The fake Render. Build it with {@link start}; `close()` stops both servers. */
export interface RenderFake {
  /** The API root (`http://127.0.0.1:<port>/v1`). */
  readonly url: string
  /** The app's root (`http://127.0.0.1:<port>`): every service's `serviceDetails.url`. */
  readonly appUrl: string
  readonly requests: ReadonlyArray<LoggedRequest>
  readonly writes: ReadonlyArray<LoggedRequest>
  /** Health probes the app answered (or held), in order. */
  readonly healthRequests: ReadonlyArray<{ readonly serviceId: string; readonly at: number; readonly status: number | "timeout" }>
  /** Declares a commit and how it behaves once live. */
  readonly commit: (commitId: string, behaviour?: CommitBehaviour, message?: string) => void
  /** Creates a service whose first deploy (of `commitId`) is live at once; returns its id. */
  readonly addService: (spec: ServiceSpec, commitId: string) => string
  /** A commit pushed to the service's branch: a `new_commit` deploy when autoDeploy is on; returns the deploy id (if any). */
  readonly push: (serviceId: string, commitId: string, behaviour?: CommitBehaviour, message?: string) => string | undefined
  /** The commit live at the fake's current time (undefined: none yet). */
  readonly liveCommit: (serviceId: string) => string | undefined
  /** The service as the API shows it. */
  readonly service: (serviceId: string) => Record<string, unknown>
  /** A service's deploys as the API shows them, newest first. */
  readonly deploys: (serviceId: string) => ReadonlyArray<Record<string, unknown>>
  readonly restarts: (serviceId: string) => ReadonlyArray<number>
  /** Answers the next `times` (default 1) requests whose method and path match with `status`. */
  readonly fail: (fault: { readonly method: string; readonly path: string | RegExp; readonly status: number; readonly times?: number }) => void
  readonly close: () => Promise<void>
}

const iso = (ms: number) => new Date(ms).toISOString()
const rid = (prefix: string) => `${prefix}-${Crypto.randomBytes(10).toString("hex")}`

/** Starts the fake API and app on 127.0.0.1 (ephemeral ports). */
export const start = async (options: Options = {}): Promise<RenderFake> => {
  const now = options.now ?? Date.now
  const tokens = new Set(options.tokens ?? ["rnd_test"])
  const services = new Map<string, Service>()
  const commits = new Map<string, { behaviour: CommitBehaviour; message: string; at: number }>()
  const requests: Array<LoggedRequest> = []
  const healthRequests: Array<{ serviceId: string; at: number; status: number | "timeout" }> = []
  const restarts = new Map<string, Array<number>>()
  const held = new Set<Http.ServerResponse>()
  const faults: Array<{ method: string; path: string | RegExp; status: number; left: number }> = []

  const behaviourOf = (commitId: string): CommitBehaviour => commits.get(commitId)?.behaviour ?? {}
  const liveAtOf = (d: Deploy): number | undefined => (d.failed ? undefined : d.createdAt + d.buildMs)

  /** The deploys that went live by `t`, by the time they went live. */
  const liveOrder = (svc: Service, t: number) =>
    svc.deploys
      .filter((d) => liveAtOf(d) !== undefined && liveAtOf(d)! <= t)
      .sort((a, b) => liveAtOf(a)! - liveAtOf(b)! || a.createdAt - b.createdAt)

  const liveDeployAt = (svc: Service, t: number): Deploy | undefined => {
    const order = liveOrder(svc, t)
    return order[order.length - 1]
  }

  const statusOf = (svc: Service, d: Deploy, t: number): string => {
    if (t < d.createdAt + d.buildMs) return d.trigger === "rollback" ? "update_in_progress" : "build_in_progress"
    if (d.failed) return "build_failed"
    return liveDeployAt(svc, t)?.id === d.id ? "live" : "deactivated"
  }

  const finishedAtOf = (svc: Service, d: Deploy, t: number): number | null => {
    const status = statusOf(svc, d, t)
    if (status === "build_in_progress" || status === "update_in_progress") return null
    return d.createdAt + d.buildMs
  }

  const deployJson = (svc: Service, d: Deploy, t = now()): Record<string, unknown> => {
    const c = commits.get(d.commitId)
    const fin = finishedAtOf(svc, d, t)
    return {
      id: d.id,
      commit: { id: d.commitId, message: c?.message ?? "", createdAt: iso(c?.at ?? d.createdAt) },
      image: null,
      status: statusOf(svc, d, t),
      trigger: d.trigger,
      createdAt: iso(d.createdAt),
      updatedAt: iso(Math.max(d.updatedAt, fin ?? 0)),
      finishedAt: fin === null ? null : iso(fin)
    }
  }

  const serviceJson = (svc: Service): Record<string, unknown> => ({
    id: svc.id,
    autoDeploy: svc.autoDeploy ? "yes" : "no",
    branch: svc.branch,
    buildFilter: null,
    createdAt: iso(svc.createdAt),
    dashboardUrl: `https://dashboard.render.com/web/${svc.id}`,
    environmentId: null,
    imagePath: null,
    name: svc.name,
    notifyOnFail: "default",
    ownerId: "tea-byteport",
    registryCredential: null,
    repo: "https://github.com/acme/shop",
    rootDir: "",
    slug: svc.name,
    suspended: "not_suspended",
    suspenders: [],
    type: "web_service",
    updatedAt: iso(svc.updatedAt),
    serviceDetails: {
      env: "node",
      healthCheckPath: svc.healthCheckPath,
      numInstances: 1,
      plan: svc.plan,
      region: "oregon",
      runtime: "node",
      url: appUrl
    }
  })

  /** Events derived from the timeline up to `t` (plus recorded ones), oldest first. */
  const eventsOf = (svc: Service, t: number) => {
    const out: Array<{ id: string; at: number; type: string; details: Record<string, unknown> }> = []
    for (const d of svc.deploys) {
      if (d.createdAt <= t) out.push({ id: `evt-${d.id}-s`, at: d.createdAt, type: "deploy_started", details: { deployId: d.id, trigger: { [d.trigger]: true } } })
      const end = d.createdAt + d.buildMs
      if (end <= t) {
        out.push({ id: `evt-${d.id}-e`, at: end, type: "deploy_ended", details: { deployId: d.id, deployStatus: d.failed ? "failed" : "succeeded", ...(d.failed ? { reason: { buildFailed: { id: d.id } } } : {}) } })
      }
    }
    // crash loops: server_failed events while a crashing commit is live
    const order = liveOrder(svc, t)
    order.forEach((d, i) => {
      const crash = behaviourOf(d.commitId).crash
      if (!crash) return
      const from = liveAtOf(d)!
      const until = i + 1 < order.length ? liveAtOf(order[i + 1]!)! : t
      const every = crash.everyMs ?? 60_000
      let k = 0
      for (let at = from + (crash.afterMs ?? 30_000); at <= until && at <= t; at += every, k++) {
        out.push({ id: `evt-${d.id}-f${k}`, at, type: "server_failed", details: { reason: { nonZeroExit: 1 }, instanceId: `${svc.id}-${d.id.slice(4, 10)}` } })
      }
    })
    for (const e of svc.extraEvents) if (e.at <= t) out.push(e)
    return out.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id))
  }

  /** Requests and 5xx in [from, to), integrated per second over the live commit. */
  const traffic = (svc: Service, from: number, to: number) => {
    let total = 0
    let errors = 0
    for (let s = Math.ceil(from / 1000) * 1000; s < to; s += 1000) {
      const d = liveDeployAt(svc, s)
      if (!d) continue
      const perSecond = svc.rpm / 60
      total += perSecond
      errors += perSecond * (behaviourOf(d.commitId).errorRate ?? 0.01)
    }
    return { total, errors }
  }

  const newDeploy = (svc: Service, commitId: string, trigger: string, buildMs: number): Deploy => {
    const at = now()
    const d: Deploy = { id: rid("dep"), serviceId: svc.id, commitId, trigger, createdAt: at, buildMs, failed: trigger !== "rollback" && behaviourOf(commitId).buildFails === true, updatedAt: at }
    svc.deploys.push(d)
    return d
  }

  type Reply = { status: number; body?: unknown }
  const json = (status: number, body?: unknown): Reply => ({ status, ...(body !== undefined ? { body } : {}) })
  const err = (status: number, message: string): Reply => json(status, { id: rid("err").slice(0, 12), message })

  const paginate = <T>(items: ReadonlyArray<T>, key: string, q: URLSearchParams, wrap: (t: T) => Record<string, unknown>, cursorOf: (t: T) => string): Reply => {
    const limitRaw = q.get("limit")
    const limit = limitRaw === null ? 20 : Number(limitRaw)
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return err(400, "limit must be between 1 and 100")
    const cursor = q.get("cursor")
    let startAt = 0
    if (cursor !== null) {
      const i = items.findIndex((t) => cursorOf(t) === cursor)
      if (i < 0) return err(400, "invalid cursor")
      startAt = i + 1
    }
    return json(200, items.slice(startAt, startAt + limit).map((t) => ({ [key]: wrap(t), cursor: cursorOf(t) })))
  }

  const route = (method: string, u: URL, body: unknown): Reply => {
    const q = u.searchParams
    const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>
    if (method === "GET" && u.pathname === "/v1/metrics/http-requests") {
      const svc = services.get(q.get("resource") ?? "")
      if (!svc) return err(404, "resource not found")
      const start = Date.parse(q.get("startTime") ?? "")
      const end = Date.parse(q.get("endTime") ?? "")
      if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return err(400, "startTime and endTime are required (RFC 3339), startTime before endTime")
      const res = Number(q.get("resolutionSeconds") ?? "60") * 1000
      if (!(res >= 30_000)) return err(400, "resolutionSeconds must be at least 30")
      const ok: Array<{ timestamp: string; value: number }> = []
      const bad: Array<{ timestamp: string; value: number }> = []
      for (let t = start; t < Math.min(end, now()); t += res) {
        const c = traffic(svc, t, Math.min(t + res, end, now()))
        ok.push({ timestamp: iso(t), value: c.total - c.errors })
        bad.push({ timestamp: iso(t), value: c.errors })
      }
      return json(200, [
        { labels: [{ field: "statusCode", value: "200" }], unit: "count", values: ok },
        { labels: [{ field: "statusCode", value: "500" }], unit: "count", values: bad }
      ])
    }
    const m = /^\/v1\/services\/([^/]+)(\/[a-z]+)?(?:\/([^/]+))?$/.exec(u.pathname)
    if (!m) return err(404, "not found")
    const svc = services.get(decodeURIComponent(m[1]!))
    if (!svc) return err(404, "service not found")
    const sub = m[2]
    const t = now()
    if (sub === undefined) {
      if (method === "GET") return json(200, serviceJson(svc))
      if (method === "PATCH") {
        if (b["autoDeploy"] !== undefined) {
          if (b["autoDeploy"] !== "yes" && b["autoDeploy"] !== "no") return err(400, "autoDeploy must be \"yes\" or \"no\"")
          const was = svc.autoDeploy
          svc.autoDeploy = b["autoDeploy"] === "yes"
          if (was !== svc.autoDeploy) svc.extraEvents.push({ id: rid("evt"), at: t, type: "autodeploy_config_changed", details: { autoDeploy: b["autoDeploy"] } })
        }
        const details = b["serviceDetails"]
        if (details !== undefined) {
          const plan = typeof details === "object" && details !== null ? (details as Record<string, unknown>)["plan"] : undefined
          if (plan !== undefined) {
            if (typeof plan !== "string" || !PLANS.includes(plan)) return err(400, `invalid plan ${String(plan)}`)
            const was = svc.plan
            svc.plan = plan
            if (was !== plan) svc.extraEvents.push({ id: rid("evt"), at: t, type: "plan_changed", details: { from: was, to: plan } })
          }
        }
        svc.updatedAt = t
        return json(200, serviceJson(svc))
      }
      return err(405, "method not allowed")
    }
    if (sub === "/deploys" && m[3] === undefined) {
      if (method === "GET") {
        const list = [...svc.deploys].sort((a, b2) => b2.createdAt - a.createdAt || svc.deploys.indexOf(b2) - svc.deploys.indexOf(a))
        return paginate(list, "deploy", q, (d) => deployJson(svc, d, t), (d) => d.id)
      }
      if (method === "POST") {
        const commitId = b["commitId"]
        if (commitId !== undefined && (typeof commitId !== "string" || !commits.has(commitId))) return err(400, `commit ${String(commitId)} not found on branch ${svc.branch}`)
        const latest = [...commits.entries()].sort((a, c) => c[1].at - a[1].at)[0]?.[0]
        const d = newDeploy(svc, (commitId as string | undefined) ?? latest ?? "", "api", svc.buildMs)
        return json(201, deployJson(svc, d, t))
      }
      return err(405, "method not allowed")
    }
    if (sub === "/deploys" && method === "GET") {
      const d = svc.deploys.find((x) => x.id === m[3])
      return d ? json(200, deployJson(svc, d, t)) : err(404, "deploy not found")
    }
    if (sub === "/rollback" && method === "POST" && m[3] === undefined) {
      const target = svc.deploys.find((x) => x.id === b["deployId"])
      if (!target) return err(404, "deploy not found")
      const wentLive = liveAtOf(target)
      if (wentLive === undefined || wentLive > t) return err(400, "can only roll back to a deploy that was live")
      const d = newDeploy(svc, target.commitId, "rollback", svc.rollbackMs)
      return json(201, deployJson(svc, d, t))
    }
    if (sub === "/restart" && method === "POST" && m[3] === undefined) {
      const list = restarts.get(svc.id) ?? []
      list.push(t)
      restarts.set(svc.id, list)
      svc.extraEvents.push({ id: rid("evt"), at: t, type: "server_restarted", details: { trigger: { manual: true } } })
      return json(200)
    }
    if (sub === "/events" && method === "GET" && m[3] === undefined) {
      const start = q.get("startTime") === null ? -Infinity : Date.parse(q.get("startTime")!)
      const end = q.get("endTime") === null ? Infinity : Date.parse(q.get("endTime")!)
      const types = q.getAll("type")
      const list = eventsOf(svc, t).filter((e) => e.at >= start && e.at <= end && (types.length === 0 || types.includes(e.type))).reverse()
      return paginate(list, "event", q, (e) => ({ id: e.id, timestamp: iso(e.at), serviceId: svc.id, type: e.type, details: e.details }), (e) => e.id)
    }
    return err(404, "not found")
  }

  const api = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const method = (req.method ?? "GET").toUpperCase()
      const u = new URL(req.url ?? "/", "http://127.0.0.1")
      const raw = Buffer.concat(chunks).toString("utf8")
      let body: unknown = undefined
      const send = (r: Reply) => {
        requests.push({ method, path: u.pathname, query: Object.fromEntries(u.searchParams.entries()), status: r.status, body, at: now() })
        if (r.body === undefined) {
          res.writeHead(r.status)
          res.end()
          return
        }
        res.writeHead(r.status, { "content-type": "application/json; charset=utf-8" })
        res.end(JSON.stringify(r.body))
      }
      const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")
      if (!auth || !tokens.has(auth[1]!)) return send(json(401, { id: "unauthorized", message: "unauthorized" }))
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw)
        } catch {
          return send(err(400, "invalid JSON body"))
        }
      }
      const fi = faults.findIndex((f) => f.left > 0 && f.method === method && (typeof f.path === "string" ? u.pathname.includes(f.path) : f.path.test(u.pathname)))
      if (fi >= 0) {
        const f = faults[fi]!
        if (--f.left <= 0) faults.splice(fi, 1)
        return send(err(f.status, f.status >= 500 ? "internal server error" : "request refused"))
      }
      send(route(method, u, body))
    })
  })

  // The app: every service shares it; `?service=` or the only service picks which one answers.
  const app = Http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://127.0.0.1")
    const svc = services.get(u.searchParams.get("service") ?? "") ?? [...services.values()][0]
    if (!svc || u.pathname !== svc.healthCheckPath) {
      res.writeHead(404)
      res.end()
      return
    }
    const t = now()
    const d = liveDeployAt(svc, t)
    const health = d ? behaviourOf(d.commitId).health ?? "ok" : "error"
    if (health === "timeout") {
      healthRequests.push({ serviceId: svc.id, at: t, status: "timeout" })
      held.add(res)
      res.on("close", () => held.delete(res))
      return
    }
    const status = health === "ok" ? 200 : 503
    healthRequests.push({ serviceId: svc.id, at: t, status })
    res.writeHead(status, { "content-type": "application/json" })
    res.end(JSON.stringify({ status: health === "ok" ? "ok" : "unavailable", commit: d?.commitId ?? null }))
  })

  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", () => resolve()))
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", () => resolve()))
  const url = `http://127.0.0.1:${(api.address() as AddressInfo).port}/v1`
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`

  const get = (serviceId: string): Service => {
    const svc = services.get(serviceId)
    if (!svc) throw new Error(`no service ${serviceId}`)
    return svc
  }
  const commit: RenderFake["commit"] = (commitId, behaviour = {}, message = `commit ${commitId.slice(0, 7)}`) => {
    commits.set(commitId, { behaviour, message, at: now() })
  }

  return {
    url,
    appUrl,
    get requests() {
      return requests
    },
    get writes() {
      return requests.filter((r) => r.method !== "GET")
    },
    get healthRequests() {
      return healthRequests
    },
    commit,
    addService: (spec, commitId) => {
      if (!commits.has(commitId)) commit(commitId)
      const id = spec.id ?? rid("srv").slice(0, 24)
      const t = now()
      const svc: Service = {
        id,
        name: spec.name,
        branch: spec.branch ?? "main",
        autoDeploy: spec.autoDeploy ?? true,
        rpm: spec.rpm ?? 600,
        buildMs: spec.buildMs ?? 60_000,
        rollbackMs: spec.rollbackMs ?? 10_000,
        healthCheckPath: spec.healthCheckPath ?? "/healthz",
        plan: spec.plan ?? "starter",
        createdAt: t,
        updatedAt: t,
        deploys: [],
        extraEvents: []
      }
      svc.deploys.push({ id: rid("dep"), serviceId: id, commitId, trigger: "service_created", createdAt: t, buildMs: 0, failed: false, updatedAt: t })
      services.set(id, svc)
      return id
    },
    push: (serviceId, commitId, behaviour, message) => {
      const svc = get(serviceId)
      commit(commitId, behaviour, message)
      if (!svc.autoDeploy) return undefined
      return newDeploy(svc, commitId, "new_commit", svc.buildMs).id
    },
    liveCommit: (serviceId) => liveDeployAt(get(serviceId), now())?.commitId,
    service: (serviceId) => serviceJson(get(serviceId)),
    deploys: (serviceId) => {
      const svc = get(serviceId)
      return [...svc.deploys].reverse().map((d) => deployJson(svc, d))
    },
    restarts: (serviceId) => restarts.get(serviceId) ?? [],
    fail: (f) => {
      faults.push({ method: f.method.toUpperCase(), path: f.path, status: f.status, left: f.times ?? 1 })
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of held) r.destroy()
        api.closeAllConnections()
        app.closeAllConnections()
        let n = 0
        const done = () => (++n === 2 ? resolve() : undefined)
        api.close(done)
        app.close(done)
      })
  }
}
