/**
 * `SpinnakerFake`: a loopback Spinnaker Gate speaking Gate's documented JSON: pipeline configs,
 * pipeline executions (Orca's execution shape: `status` `NOT_STARTED` → `RUNNING` → `SUCCEEDED` /
 * `TERMINAL`, `trigger.parameters`, `stages`, `startTime` / `endTime` with their `null`s) and
 * `POST /pipelines/{application}/{pipelineName}` (a manual trigger, answered `202` with
 * `{"ref": "/pipelines/<id>"}`). State follows cause and effect: an execution finishes on the
 * fake's clock (`now`) with the status its pipeline's behaviour gives, and a succeeded execution
 * of a pipeline with a `revision` parameter makes that revision the application's deployed one
 * (`fake.deployed(app)`), so a rollback pipeline run with the last good revision restores it.
 * `fake.echo(...)` builds echo's `orca:pipeline:*` webhook for an execution. Every request is in
 * `fake.requests` (`fake.writes`: the writes). Basic auth is required when `auth` is given.
 *
 * Not modelled: Gate's session / OAuth / X.509 auth flows, pipeline templates, stage-level
 * execution, SpEL, artifacts, cancellation and restarts, `/tasks`, application and account CRUD.
 *
 * @since 0.3.0
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** Execution statuses (Orca's `ExecutionStatus`, the ones the fake produces). */
export type Status = "NOT_STARTED" | "RUNNING" | "SUCCEEDED" | "TERMINAL" | "CANCELED"

/** A pipeline's behaviour: the final status of a run (from its trigger parameters) and its duration. */
export interface PipelineSpec {
  readonly name: string
  readonly outcome?: "SUCCEEDED" | "TERMINAL" | ((parameters: Readonly<Record<string, string>>) => "SUCCEEDED" | "TERMINAL")
  /** How long a run takes, ms (default 0). */
  readonly durationMs?: number
}

/** A logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly body: unknown
  readonly at: number
}

/** Options of {@link start}. */
export interface Options {
  /** The fake's clock (default `Date.now`). */
  readonly now?: () => number
  /** Require basic auth with these credentials. */
  readonly auth?: { readonly username: string; readonly password: string }
}

interface Execution {
  id: string
  application: string
  pipeline: string
  pipelineConfigId: string
  parameters: Record<string, string>
  user: string
  buildTime: number
  startTime: number
  durationMs: number
  final: "SUCCEEDED" | "TERMINAL"
  applied: boolean
}

/** A running fake. */
export interface SpinnakerFake {
  readonly url: string
  readonly requests: ReadonlyArray<LoggedRequest>
  readonly writes: ReadonlyArray<LoggedRequest>
  /** Adds an application's pipeline; returns its config id. */
  readonly addPipeline: (application: string, spec: PipelineSpec) => string
  /** Runs a pipeline (as a trigger from CI would): returns the execution id. `at` backdates it. */
  readonly execute: (application: string, pipeline: string, o?: { readonly parameters?: Readonly<Record<string, string>>; readonly user?: string; readonly at?: number; readonly outcome?: "SUCCEEDED" | "TERMINAL"; readonly durationMs?: number }) => string
  /** An execution as Gate returns it. */
  readonly execution: (id: string) => Record<string, unknown>
  /** The executions of an application, newest first. */
  readonly executions: (application: string) => ReadonlyArray<Record<string, unknown>>
  /** The revision the application runs (the last succeeded run's `revision` parameter). */
  readonly deployed: (application: string) => string | null
  /** Echo's webhook for an execution (`orca:pipeline:failed` or `orca:pipeline:complete`). */
  readonly echo: (executionId: string) => Record<string, unknown>
  readonly close: () => Promise<void>
}

/** Starts the fake. */
export const start = async (options: Options = {}): Promise<SpinnakerFake> => {
  const now = options.now ?? (() => Date.now())
  const pipelines = new Map<string, { id: string; application: string; spec: PipelineSpec }>()
  const executions: Array<Execution> = []
  const deployedRev = new Map<string, string | null>()
  const requests: Array<LoggedRequest> = []
  let url = ""
  const newId = () => `01${Crypto.randomBytes(12).toString("hex").toUpperCase()}`.slice(0, 26)

  const statusOf = (e: Execution): Status => {
    const t = now()
    if (t < e.startTime) return "NOT_STARTED"
    if (t < e.startTime + e.durationMs) return "RUNNING"
    return e.final
  }
  /** Applies finished executions to the deployed revision, in finish order. */
  const settle = () => {
    const done = executions.filter((e) => !e.applied && statusOf(e) === e.final).sort((a, b) => a.startTime + a.durationMs - (b.startTime + b.durationMs))
    for (const e of done) {
      e.applied = true
      if (e.final === "SUCCEEDED" && e.parameters["revision"] !== undefined) deployedRev.set(e.application, e.parameters["revision"])
    }
  }
  const json = (e: Execution): Record<string, unknown> => {
    const status = statusOf(e)
    const ended = status === "SUCCEEDED" || status === "TERMINAL"
    return {
      type: "PIPELINE",
      id: e.id,
      application: e.application,
      name: e.pipeline,
      buildTime: e.buildTime,
      canceled: false,
      canceledBy: null,
      cancellationReason: null,
      limitConcurrent: true,
      keepWaitingPipelines: false,
      stages: [{
        id: `${e.id}-1`,
        refId: "1",
        type: "deployManifest",
        name: "Deploy (Manifest)",
        status: status === "NOT_STARTED" ? "NOT_STARTED" : status,
        startTime: status === "NOT_STARTED" ? null : e.startTime,
        endTime: ended ? e.startTime + e.durationMs : null,
        context: { revision: e.parameters["revision"] ?? null, ...(status === "TERMINAL" ? { exception: { details: { errors: ["Deployment exceeded its progress deadline"] } } } : {}) },
        requisiteStageRefIds: []
      }],
      startTime: status === "NOT_STARTED" ? null : e.startTime,
      endTime: ended ? e.startTime + e.durationMs : null,
      status,
      authentication: { user: e.user, allowedAccounts: [] },
      origin: "api",
      trigger: { type: "manual", user: e.user, parameters: { ...e.parameters }, artifacts: [], notifications: [], rebake: false, dryRun: false, strategy: false },
      pipelineConfigId: e.pipelineConfigId,
      notifications: [],
      initialConfig: {},
      systemNotifications: [],
      spelEvaluator: "v4",
      partition: null,
      source: null
    }
  }
  const run = (application: string, pipeline: string, o: { readonly parameters?: Readonly<Record<string, string>>; readonly user?: string; readonly at?: number; readonly outcome?: "SUCCEEDED" | "TERMINAL"; readonly durationMs?: number }): Execution | undefined => {
    const p = pipelines.get(`${application}/${pipeline}`)
    if (!p) return undefined
    const parameters = { ...(o.parameters ?? {}) }
    const final = o.outcome ?? (typeof p.spec.outcome === "function" ? p.spec.outcome(parameters) : p.spec.outcome ?? "SUCCEEDED")
    const at = o.at ?? now()
    const e: Execution = { id: newId(), application, pipeline, pipelineConfigId: p.id, parameters, user: o.user ?? "anonymous", buildTime: at, startTime: at, durationMs: o.durationMs ?? p.spec.durationMs ?? 0, final, applied: false }
    executions.push(e)
    settle()
    return e
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      settle()
      const method = (req.method ?? "GET").toUpperCase()
      const u = new URL(req.url ?? "/", "http://127.0.0.1")
      const path = decodeURIComponent(u.pathname)
      let body: unknown = undefined
      const send = (status: number, b?: unknown) => {
        requests.push({ method, path, status, body, at: now() })
        res.writeHead(status, b === undefined ? {} : { "content-type": "application/json" })
        res.end(b === undefined ? undefined : JSON.stringify(b))
      }
      const err = (status: number, message: string) =>
        send(status, { timestamp: now(), status, error: Http.STATUS_CODES[status] ?? "Error", message })
      if (options.auth) {
        const expected = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString("base64")}`
        if (req.headers.authorization !== expected) return err(401, "Full authentication is required to access this resource")
      }
      const raw = Buffer.concat(chunks).toString("utf8")
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw)
        } catch {
          return err(400, "JSON parse error")
        }
      }
      let m: RegExpExecArray | null
      if (method === "GET" && (m = /^\/applications\/([^/]+)\/pipelineConfigs$/.exec(path))) {
        const app = m[1]!
        return send(200, [...pipelines.values()].filter((p) => p.application === app).map((p, i) => ({ id: p.id, name: p.spec.name, application: app, index: i, keepWaitingPipelines: false, limitConcurrent: true, stages: [], triggers: [], parameterConfig: [{ name: "revision", required: false, default: "", description: "commit or image tag" }], updateTs: "0" })))
      }
      if (method === "GET" && (m = /^\/applications\/([^/]+)\/pipelines$/.exec(path))) {
        const app = m[1]!
        const limit = Number(u.searchParams.get("limit") ?? "10")
        const statuses = u.searchParams.get("statuses")?.split(",").map((s) => s.trim().toUpperCase())
        const list = executions.filter((e) => e.application === app).sort((a, b) => b.buildTime - a.buildTime).map(json).filter((e) => !statuses || statuses.includes(String(e["status"])))
        return send(200, list.slice(0, Number.isFinite(limit) && limit > 0 ? limit : 10))
      }
      if (method === "GET" && (m = /^\/pipelines\/([^/]+)$/.exec(path))) {
        const e = executions.find((x) => x.id === m![1])
        return e ? send(200, json(e)) : err(404, `Pipeline not found (id: ${m[1]})`)
      }
      if (method === "POST" && (m = /^\/pipelines\/([^/]+)\/([^/]+)$/.exec(path))) {
        const trigger = (typeof body === "object" && body !== null ? body : {}) as { parameters?: unknown; user?: unknown }
        const parameters = typeof trigger.parameters === "object" && trigger.parameters !== null
          ? Object.fromEntries(Object.entries(trigger.parameters as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
          : {}
        const e = run(m[1]!, m[2]!, { parameters, user: typeof trigger.user === "string" ? trigger.user : "anonymous" })
        return e ? send(202, { ref: `/pipelines/${e.id}` }) : err(404, `Pipeline config not found (application: ${m[1]}, name: ${m[2]})`)
      }
      return err(404, `No handler for ${method} ${path}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const byId = (id: string) => {
    const e = executions.find((x) => x.id === id)
    if (!e) throw new Error(`SpinnakerFake: no execution ${id}`)
    return e
  }
  return {
    url,
    requests,
    get writes() {
      return requests.filter((r) => r.method !== "GET")
    },
    addPipeline: (application, spec) => {
      const id = Crypto.randomUUID()
      pipelines.set(`${application}/${spec.name}`, { id, application, spec })
      if (!deployedRev.has(application)) deployedRev.set(application, null)
      return id
    },
    execute: (application, pipeline, o = {}) => {
      const e = run(application, pipeline, o)
      if (!e) throw new Error(`SpinnakerFake: no pipeline ${application}/${pipeline}`)
      return e.id
    },
    execution: (id) => {
      settle()
      return json(byId(id))
    },
    executions: (application) => {
      settle()
      return executions.filter((e) => e.application === application).sort((a, b) => b.buildTime - a.buildTime).map(json)
    },
    deployed: (application) => {
      settle()
      return deployedRev.get(application) ?? null
    },
    echo: (executionId) => {
      settle()
      const e = byId(executionId)
      const x = json(e)
      const type = x["status"] === "SUCCEEDED" ? "orca:pipeline:complete" : x["status"] === "TERMINAL" ? "orca:pipeline:failed" : "orca:pipeline:starting"
      return {
        details: { source: "orca", type, created: String(now()), organization: null, project: null, application: e.application, _content_id: null, attributes: null, requestHeaders: {} },
        content: { execution: x, executionId: e.id },
        rawContent: null,
        payload: null,
        eventId: Crypto.randomUUID()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
