/**
 * `GitHub`: a small GitHub REST client over `fetch` (the endpoints the delivery runbooks use),
 * as a `Context.Service`. Responses are decoded with Schema from GitHub's documented JSON (its
 * `null`s included). Conditional requests: list calls made with `conditional: true` send the
 * last `ETag` as `If-None-Match`, and a `304` (which costs no rate limit) answers
 * `notModified: true` with the cached data. Errors are typed (`GitHubError`) and carry the
 * status, `retry-after` / rate-limit reset as `retryAfterMs`, and `X-Accepted-GitHub-Permissions`
 * on a 403. The token never reaches a log, an error or a report (it is `Redacted`).
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Redacted, Schema } from "effect"

/** A GitHub API call failed. */
export class GitHubError extends Schema.TaggedError<GitHubError>()("GitHubError", {
  method: Schema.String,
  path: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  message: Schema.String,
  /** From `X-Accepted-GitHub-Permissions` (e.g. `actions=write`), on a 403. */
  acceptedPermissions: Schema.optionalKey(Schema.String),
  /** How long to wait before retrying (`retry-after`, or until the primary rate limit resets). */
  retryAfterMs: Schema.optionalKey(Schema.Number)
}) {
  /** Whether this is a rate limit (primary or secondary). */
  get rateLimited(): boolean {
    return this.status === 429 || (this.status === 403 && this.retryAfterMs !== undefined)
  }
}

/** The actor of a run (a user or a bot), as GitHub returns it. */
const Actor = Schema.NullOr(Schema.Struct({ login: Schema.String }))

/** A workflow run, as GitHub returns it (the fields BytePort reads). */
export const WorkflowRun = Schema.Struct({
  id: Schema.Number,
  name: Schema.NullOr(Schema.String),
  head_branch: Schema.NullOr(Schema.String),
  head_sha: Schema.String,
  path: Schema.String,
  event: Schema.String,
  status: Schema.NullOr(Schema.String),
  conclusion: Schema.NullOr(Schema.String),
  workflow_id: Schema.Number,
  html_url: Schema.String,
  created_at: Schema.String,
  run_attempt: Schema.optionalKey(Schema.Number),
  actor: Schema.optionalKey(Actor),
  triggering_actor: Schema.optionalKey(Actor)
})
/** A workflow run. */
export type WorkflowRun = typeof WorkflowRun.Type

/** A step of a job. */
export const Step = Schema.Struct({
  name: Schema.String,
  status: Schema.String,
  conclusion: Schema.NullOr(Schema.String),
  number: Schema.Number
})

/** A job of a workflow run, as GitHub returns it (the fields BytePort reads). */
export const Job = Schema.Struct({
  id: Schema.Number,
  run_id: Schema.Number,
  name: Schema.String,
  status: Schema.String,
  conclusion: Schema.NullOr(Schema.String),
  html_url: Schema.NullOr(Schema.String),
  runner_name: Schema.NullOr(Schema.String),
  steps: Schema.optionalKey(Schema.Array(Step))
})
/** A job. */
export type Job = typeof Job.Type

const RunList = Schema.Struct({ total_count: Schema.Number, workflow_runs: Schema.Array(WorkflowRun) })
const JobList = Schema.Struct({ total_count: Schema.Number, jobs: Schema.Array(Job) })
const DispatchDetails = Schema.Struct({ workflow_run_id: Schema.Number, run_url: Schema.optionalKey(Schema.String), html_url: Schema.optionalKey(Schema.String) })
const RepoInfo = Schema.Struct({
  full_name: Schema.String,
  permissions: Schema.optionalKey(Schema.Struct({ admin: Schema.Boolean, push: Schema.Boolean, pull: Schema.Boolean }))
})

/** `owner/name`. */
export type RepoName = string

/** Query parameters of the run list endpoints. */
export interface RunQuery {
  readonly branch?: string
  readonly event?: string
  /** A status (`completed` …) or a conclusion (`success`, `failure` …). */
  readonly status?: string
  readonly created?: string
  readonly per_page?: number
  readonly page?: number
}

/** A raw response. */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  readonly notModified: boolean
}

/** The client's operations. */
export interface Shape {
  /** One request; `conditional` sends the cached ETag and answers a 304 from the cache. */
  readonly request: (
    method: string,
    path: string,
    options?: { readonly query?: Readonly<Record<string, string | number | undefined>>; readonly body?: unknown; readonly conditional?: boolean }
  ) => Effect.Effect<RawResponse, GitHubError>
  /** A run. */
  readonly getRun: (repo: RepoName, runId: number) => Effect.Effect<WorkflowRun, GitHubError>
  /** One page of a workflow's runs (`workflow`: its id or file name). */
  readonly listWorkflowRuns: (
    repo: RepoName,
    workflow: string,
    query?: RunQuery,
    options?: { readonly conditional?: boolean }
  ) => Effect.Effect<{ readonly runs: ReadonlyArray<WorkflowRun>; readonly notModified: boolean; readonly etag?: string | undefined }, GitHubError>
  /** Every job of a run's latest attempt (all pages). */
  readonly listJobs: (repo: RepoName, runId: number) => Effect.Effect<ReadonlyArray<Job>, GitHubError>
  /** A job's log as text (the API answers 302 to a pre-signed URL, fetched without the token). */
  readonly jobLog: (repo: RepoName, jobId: number) => Effect.Effect<string, GitHubError>
  /** `workflow_dispatch`: the new run's id when GitHub returns it (`return_run_details`), else undefined (a 204). */
  readonly dispatch: (
    repo: RepoName,
    workflow: string,
    ref: string,
    inputs: Readonly<Record<string, string>>,
    options?: { readonly returnRunDetails?: boolean }
  ) => Effect.Effect<{ readonly runId?: number | undefined; readonly htmlUrl?: string | undefined }, GitHubError>
  /** The repository (with the token's `permissions` when GitHub reports them). */
  readonly getRepo: (repo: RepoName) => Effect.Effect<typeof RepoInfo.Type, GitHubError>
}

/** The GitHub client service. */
export class GitHub extends Context.Service<GitHub, Shape>()("@byteport/cloud/GitHub") {}

/** Options of {@link make}. */
export interface Options {
  /** API root (default `https://api.github.com`; GHES: `https://HOST/api/v3`; tests: the fake's url). */
  readonly baseUrl?: string
  readonly token: Redacted.Redacted<string>
  readonly userAgent?: string
  /** Per-request timeout, ms (default 30 000). */
  readonly timeoutMs?: number
}

const lower = (h: Headers): Record<string, string> => {
  const out: Record<string, string> = {}
  h.forEach((v, k) => {
    out[k.toLowerCase()] = v
  })
  return out
}

const retryAfterOf = (status: number, h: Readonly<Record<string, string>>, now: number): number | undefined => {
  const ra = h["retry-after"]
  if (ra !== undefined && /^\d+$/.test(ra)) return Number(ra) * 1000
  if ((status === 403 || status === 429) && h["x-ratelimit-remaining"] === "0" && h["x-ratelimit-reset"] !== undefined) {
    return Math.max(0, Number(h["x-ratelimit-reset"]) * 1000 - now)
  }
  return status === 429 ? 60_000 : undefined
}

/** Builds a client. */
export const make = (options: Options): Shape => {
  const base = (options.baseUrl ?? "https://api.github.com").replace(/\/+$/, "")
  const cache = new Map<string, { etag: string; body: unknown }>()
  const timeoutMs = options.timeoutMs ?? 30_000
  const request: Shape["request"] = (method, path, o = {}) =>
    Effect.gen(function*() {
      const u = new URL(`${base}${path}`)
      for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v))
      const key = u.toString()
      const cached = o.conditional ? cache.get(key) : undefined
      const headers: Record<string, string> = {
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": options.userAgent ?? "byteport-cloud",
        authorization: `Bearer ${Redacted.value(options.token)}`
      }
      if (cached) headers["if-none-match"] = cached.etag
      if (o.body !== undefined) headers["content-type"] = "application/json"
      const fail = (status: number, message: string, extra: { acceptedPermissions?: string; retryAfterMs?: number } = {}) =>
        new GitHubError({ method, path: u.pathname, status, message, ...extra })
      const res = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(key, {
            method,
            headers,
            redirect: "manual",
            signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
            ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {})
          }),
        catch: (e) => fail(0, `request failed: ${e instanceof Error ? e.message : String(e)}`)
      })
      const h = lower(res.headers)
      const text = yield* Effect.tryPromise({ try: () => res.text(), catch: (e) => fail(res.status, `reading the body failed: ${String(e)}`) })
      if (res.status === 304 && cached) return { status: 304, headers: h, body: cached.body, notModified: true }
      let body: unknown = text
      if ((h["content-type"] ?? "").includes("json") && text.length > 0) {
        body = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => fail(res.status, "response is not JSON") })
      }
      if (res.status >= 400) {
        const msg = typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : `HTTP ${res.status}`
        const retryAfterMs = retryAfterOf(res.status, h, Date.now())
        return yield* fail(res.status, msg, {
          ...(h["x-accepted-github-permissions"] !== undefined ? { acceptedPermissions: h["x-accepted-github-permissions"] } : {}),
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {})
        })
      }
      if (o.conditional && h["etag"] !== undefined && res.status === 200) cache.set(key, { etag: h["etag"], body })
      return { status: res.status, headers: h, body, notModified: false }
    })
  const decode = <A>(schema: Schema.Codec<A, unknown>, method: string, path: string) => (body: unknown) =>
    Schema.decodeUnknownEffect(schema)(body).pipe(
      Effect.mapError((e) => new GitHubError({ method, path, status: 200, message: `unexpected response shape: ${e.message}` }))
    )
  const repoPath = (repo: RepoName) => `/repos/${repo.split("/").map(encodeURIComponent).join("/")}`
  const getRun: Shape["getRun"] = (repo, runId) => {
    const path = `${repoPath(repo)}/actions/runs/${runId}`
    return Effect.flatMap(request("GET", path), (r) => decode(WorkflowRun, "GET", path)(r.body))
  }
  const listWorkflowRuns: Shape["listWorkflowRuns"] = (repo, workflow, query = {}, o = {}) => {
    const path = `${repoPath(repo)}/actions/workflows/${encodeURIComponent(workflow)}/runs`
    return Effect.flatMap(request("GET", path, { query: { ...query }, conditional: o.conditional ?? false }), (r) =>
      Effect.map(decode(RunList, "GET", path)(r.body), (l) => ({ runs: l.workflow_runs, notModified: r.notModified, etag: r.headers["etag"] })))
  }
  const listJobs: Shape["listJobs"] = (repo, runId) =>
    Effect.gen(function*() {
      const path = `${repoPath(repo)}/actions/runs/${runId}/jobs`
      const out: Array<Job> = []
      for (let page = 1; page <= 10; page++) {
        const r = yield* request("GET", path, { query: { filter: "latest", per_page: 100, page } })
        const l = yield* decode(JobList, "GET", path)(r.body)
        out.push(...l.jobs)
        if (out.length >= l.total_count || l.jobs.length === 0) break
      }
      return out
    })
  const jobLog: Shape["jobLog"] = (repo, jobId) =>
    Effect.gen(function*() {
      const path = `${repoPath(repo)}/actions/jobs/${jobId}/logs`
      const r = yield* request("GET", path)
      if (r.status !== 302 && r.status !== 301) return typeof r.body === "string" ? r.body : JSON.stringify(r.body)
      const location = r.headers["location"]
      if (location === undefined) return yield* new GitHubError({ method: "GET", path, status: r.status, message: "redirect without a location" })
      const res = yield* Effect.tryPromise({
        try: (signal) => fetch(location, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }),
        catch: (e) => new GitHubError({ method: "GET", path, status: 0, message: `log download failed: ${String(e)}` })
      })
      if (!res.ok) return yield* new GitHubError({ method: "GET", path, status: res.status, message: "log download failed" })
      return yield* Effect.tryPromise({ try: () => res.text(), catch: (e) => new GitHubError({ method: "GET", path, status: res.status, message: String(e) }) })
    })
  const dispatch: Shape["dispatch"] = (repo, workflow, ref, inputs, o = {}) =>
    Effect.gen(function*() {
      const path = `${repoPath(repo)}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`
      const r = yield* request("POST", path, { body: { ref, inputs, ...(o.returnRunDetails ? { return_run_details: true } : {}) } })
      if (r.status === 204) return {}
      const d = yield* decode(DispatchDetails, "POST", path)(r.body)
      return { runId: d.workflow_run_id, htmlUrl: d.html_url }
    })
  const getRepo: Shape["getRepo"] = (repo) => {
    const path = repoPath(repo)
    return Effect.flatMap(request("GET", path), (r) => decode(RepoInfo, "GET", path)(r.body))
  }
  return { request, getRun, listWorkflowRuns, listJobs, jobLog, dispatch, getRepo }
}

/** A layer of the client. */
export const layer = (options: Options): Layer.Layer<GitHub> => Layer.sync(GitHub, () => make(options))

/** The token's configuration key. */
export const TOKEN_KEY = "BYTEPORT_GITHUB_TOKEN"
/** The API root's configuration key (default `https://api.github.com`). */
export const API_URL_KEY = "BYTEPORT_GITHUB_API_URL"

/** A layer from configuration: `BYTEPORT_GITHUB_TOKEN` (required, redacted) and `BYTEPORT_GITHUB_API_URL`. */
export const layerConfig: Layer.Layer<GitHub, Config.ConfigError> = Layer.effect(
  GitHub,
  Effect.gen(function*() {
    const token = yield* Config.Redacted(TOKEN_KEY)
    const baseUrl = yield* Config.String(API_URL_KEY).pipe(Config.withDefault("https://api.github.com"))
    return make({ token, baseUrl })
  })
)
