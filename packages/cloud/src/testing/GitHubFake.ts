/**
 * `GitHubFake`: a loopback HTTP server speaking the GitHub REST API's documented wire shapes for
 * the endpoints BytePort's delivery runbooks use, so the real Octokit (or `fetch`) talks to it
 * unmodified but for `baseUrl`. State follows cause and effect: a workflow run is created by a
 * push (`fake.push`) or a `workflow_dispatch`, is queued, runs and completes on the fake's clock
 * with the conclusion its workflow's jobs produce; a dispatched rollback workflow is one more run
 * that later completes. Every request is logged (`fake.requests`).
 *
 * Modelled: workflow runs (list with filters `branch`, `event`, `status` (a status or a
 * conclusion), `actor`, `head_sha`, `created`, Link pagination with `per_page`/`page`), a run, a
 * workflow's runs, workflows, jobs of a run (`filter`), one job, job logs (302 to a one-time
 * plain-text URL), `workflow_dispatch` (204, or 200 with `workflow_run_id`, `run_url`, `html_url`
 * when `return_run_details` is true), commits (one, list), commit comments (list, create), git refs
 * (get, create, update), pulls (list, create), the repository (with `permissions`); primary rate
 * limit headers (`x-ratelimit-*`; a 304 costs nothing), ETag / `If-None-Match` → 304, injected
 * 403/429 with `retry-after`, fine-grained token permissions (403 with
 * `X-Accepted-GitHub-Permissions`), 401 for an unknown token, and signed `workflow_run` webhook
 * payloads (`fake.webhookDelivery`); deployments and their statuses (read-only over the API; `fake.deploy`,
 * `fake.setDeploymentState`, signed `deployment_status` deliveries).
 *
 * Not modelled: GraphQL, run logs as a zip archive, re-runs, cancellations, artifacts, check
 * runs and annotations, environments and deployment protection rules, concurrency groups,
 * secondary-rate-limit heuristics (only injected), conditional `If-Modified-Since`, GitHub Apps
 * installation tokens, webhooks delivered by the fake on its own (build them with
 * `webhookDelivery` and POST them), workflow file parsing (a workflow's behaviour is given as
 * jobs and steps).
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

/** One step of a fake job: its name, its conclusion (default success) and the log lines it prints. */
export interface StepSpec {
  readonly name: string
  readonly conclusion?: "success" | "failure" | "skipped" | "cancelled"
  readonly log?: string
}

/** One job of a fake workflow. */
export interface JobSpec {
  readonly name: string
  readonly steps: ReadonlyArray<StepSpec>
  /** The job's conclusion when not derived from its steps (`timed_out`, `cancelled`). */
  readonly conclusion?: "timed_out" | "cancelled"
  /** The runner was lost: the job fails without a runner name and with GitHub's runner-loss message. */
  readonly runnerLost?: boolean
}

/** How a workflow behaves for one run (read when the run is created: cause and effect). */
export interface Behaviour {
  readonly jobs: ReadonlyArray<JobSpec>
  /** The run's conclusion when not derived from its jobs (`startup_failure`, `timed_out`). */
  readonly conclusion?: "startup_failure" | "timed_out"
  /** How long the run is queued, then in progress (fake clock ms; defaults 0 and 1000). */
  readonly queuedMs?: number
  readonly durationMs?: number
}

/** A workflow of a fake repository. */
export interface WorkflowSpec {
  /** `.github/workflows/deploy.yml` */
  readonly path: string
  readonly name: string
  /** The behaviour of the next runs: fixed, or computed per run (its event, branch, sha, inputs). */
  readonly behaviour: Behaviour | ((run: RunInfo) => Behaviour)
}

/** What a behaviour function sees about the run being created. */
export interface RunInfo {
  readonly event: string
  readonly branch: string
  readonly sha: string
  readonly actor: string
  readonly inputs: Readonly<Record<string, string>>
}

/** A token the fake accepts: who it is and its fine-grained permissions. */
export interface TokenSpec {
  readonly login: string
  readonly permissions?: Partial<Record<Permission, "read" | "write" | "none">>
}

/** The fine-grained permissions the fake checks. */
export type Permission = "actions" | "contents" | "pull_requests" | "metadata"

/** One logged request. */
export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly status: number
  readonly body: unknown
  readonly at: number
}

/** A fault to inject into the next matching request(s). */
export interface Fault {
  readonly status: 403 | 429 | 500 | 502
  /** Seconds, sent as `retry-after`. */
  readonly retryAfter?: number
  readonly method?: string
  /** Matches the request path (a substring or a RegExp). */
  readonly path?: string | RegExp
  /** How many requests it hits (default 1). */
  readonly times?: number
  readonly message?: string
}

/** Options of `start`. */
export interface Options {
  /** Tokens accepted (default: `{ "test-token": { login: "octocat" } }` with every permission write). */
  readonly tokens?: Readonly<Record<string, TokenSpec>>
  /** The fake's clock, epoch ms (default `Date.now`). */
  readonly now?: () => number
  /** Primary rate limit per token and hour (default 5000). */
  readonly rateLimit?: number
  /** Honour `return_run_details` (default true; false: always 204, as GitHub before it). */
  readonly returnRunDetails?: boolean
}

interface Job {
  id: number
  runId: number
  name: string
  spec: JobSpec
}

interface Run {
  id: number
  repo: string
  workflowId: number
  workflowPath: string
  workflowName: string
  event: string
  branch: string
  sha: string
  actor: string
  inputs: Record<string, string>
  createdAt: number
  behaviour: Behaviour
  runNumber: number
  jobs: Array<Job>
}

interface Repo {
  owner: string
  name: string
  id: number
  defaultBranch: string
  workflows: Array<{ id: number; spec: WorkflowSpec }>
  refs: Map<string, string>
  commits: Map<string, { sha: string; message: string; author: string; email: string; parents: Array<string>; at: number; tree?: string }>
  comments: Array<{ id: number; sha: string; body: string; user: string; at: number }>
  pulls: Array<{ number: number; title: string; head: string; base: string; body: string | null; state: "open" | "closed"; user: string; at: number; mergedAt?: number }>
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

/** The fake GitHub. Build it with {@link start}; `close()` stops the server. */
export interface GitHubFake {
  /** `http://127.0.0.1:<port>`: Octokit's `baseUrl`. */
  readonly url: string
  /** Every request, in order. */
  readonly requests: ReadonlyArray<LoggedRequest>
  /** The requests that write (POST, PATCH, PUT, DELETE). */
  readonly writes: ReadonlyArray<LoggedRequest>
  /** Creates a repository with a default branch and its first commit. */
  readonly addRepo: (fullName: string, options?: { readonly defaultBranch?: string }) => void
  /** Adds a workflow (ids are assigned in order); returns its id. */
  readonly addWorkflow: (fullName: string, spec: WorkflowSpec) => number
  /** Replaces a workflow's behaviour for the runs created from now on. */
  readonly setBehaviour: (fullName: string, path: string, behaviour: WorkflowSpec["behaviour"]) => void
  /** Pushes a commit to a branch; runs every workflow on `push` for it; returns the sha and the run ids. */
  readonly push: (fullName: string, options: { readonly branch: string; readonly message?: string; readonly author?: string; readonly actor?: string; readonly workflows?: ReadonlyArray<string> }) => { readonly sha: string; readonly runIds: ReadonlyArray<number> }
  /** A run as the API shows it (status and conclusion at the fake's current time). */
  readonly run: (fullName: string, runId: number) => Record<string, unknown>
  /** The inputs a run was dispatched with (the API does not show them). */
  readonly inputsOf: (fullName: string, runId: number) => Readonly<Record<string, string>>
  /** Every run of a repository, newest first, as the API shows them. */
  readonly runs: (fullName: string) => ReadonlyArray<Record<string, unknown>>
  /** The commit comments of a repository. */
  readonly comments: (fullName: string) => ReadonlyArray<{ readonly sha: string; readonly body: string }>
  /** Injects a fault. */
  readonly fail: (fault: Fault) => void
  /** Sets the primary rate limit's remaining count for a token (default token when omitted). */
  readonly setRemaining: (remaining: number, token?: string) => void
  /** A signed `workflow_run` webhook delivery for a run (`completed` once it completed). */
  readonly webhookDelivery: (fullName: string, runId: number, secret: string) => { readonly headers: Record<string, string>; readonly body: string }
  /** Creates a deployment of a commit to an environment with its first status (`payload`: the deployment's JSON payload); its id. */
  readonly deploy: (fullName: string, d: { readonly sha: string; readonly ref?: string; readonly environment: string; readonly creator?: string; readonly payload?: Record<string, unknown>; readonly state: DeploymentState; readonly description?: string }) => number
  /** Adds a status to a deployment (the newest status is its state). */
  readonly setDeploymentState: (fullName: string, deploymentId: number, state: DeploymentState, description?: string) => void
  /** A signed `deployment_status` webhook delivery of a deployment's newest status. */
  readonly deploymentStatusDelivery: (fullName: string, deploymentId: number, secret: string) => { readonly headers: Record<string, string>; readonly body: string }
  /** Stops the server. */
  readonly close: () => Promise<void>
}

/** A deployment status state. */
export type DeploymentState = "error" | "failure" | "inactive" | "in_progress" | "queued" | "pending" | "success"

const DEFAULT_PERMS: Record<Permission, "write"> = { actions: "write", contents: "write", pull_requests: "write", metadata: "write" }

/** Starts the fake on 127.0.0.1 (an ephemeral port). */
export const start = async (options: Options = {}): Promise<GitHubFake> => {
  const now = options.now ?? Date.now
  const tokens: Record<string, TokenSpec> = { ...(options.tokens ?? { "test-token": { login: "octocat" } }) }
  const limit = options.rateLimit ?? 5000
  const deployments: Array<{ id: number; repo: string; sha: string; ref: string; environment: string; creator: string; payload: Record<string, unknown>; at: number; statuses: Array<{ id: number; state: DeploymentState; description: string; at: number }> }> = []
  const used = new Map<string, { used: number; resetAt: number }>()
  const repos = new Map<string, Repo>()
  const runs = new Map<number, Run>()
  const jobs = new Map<number, Job>()
  const logTokens = new Map<string, number>()
  const faults: Array<Fault & { left: number }> = []
  const requests: Array<LoggedRequest> = []
  let nextId = 1000
  const id = () => ++nextId
  let url = ""

  const repoOf = (fullName: string): Repo => {
    const r = repos.get(fullName.toLowerCase())
    if (!r) throw new Error(`GitHubFake: no repository ${fullName}`)
    return r
  }
  const sha = () => Crypto.randomBytes(20).toString("hex")

  const addCommit = (repo: Repo, branch: string, message: string, author: string) => {
    const parent = repo.refs.get(branch)
    const s = sha()
    repo.commits.set(s, { sha: s, message, author, email: `${author}@users.noreply.github.com`, parents: parent ? [parent] : [], at: now() })
    repo.refs.set(branch, s)
    return s
  }

  const behaviourOf = (spec: WorkflowSpec, info: RunInfo): Behaviour => typeof spec.behaviour === "function" ? spec.behaviour(info) : spec.behaviour

  const createRun = (repo: Repo, wf: { id: number; spec: WorkflowSpec }, info: RunInfo): Run => {
    const behaviour = behaviourOf(wf.spec, info)
    const run: Run = {
      id: id(),
      repo: `${repo.owner}/${repo.name}`,
      workflowId: wf.id,
      workflowPath: wf.spec.path,
      workflowName: wf.spec.name,
      event: info.event,
      branch: info.branch,
      sha: info.sha,
      actor: info.actor,
      inputs: { ...info.inputs },
      createdAt: now(),
      behaviour,
      runNumber: [...runs.values()].filter((r) => r.workflowId === wf.id).length + 1,
      jobs: []
    }
    for (const spec of behaviour.jobs) {
      const job: Job = { id: id(), runId: run.id, name: spec.name, spec }
      run.jobs.push(job)
      jobs.set(job.id, job)
    }
    runs.set(run.id, run)
    return run
  }

  const phase = (run: Run): "queued" | "in_progress" | "completed" => {
    const t = now() - run.createdAt
    const queued = run.behaviour.queuedMs ?? 0
    if (t < queued) return "queued"
    if (t < queued + (run.behaviour.durationMs ?? 1000)) return "in_progress"
    return "completed"
  }
  const jobConclusion = (spec: JobSpec): string => {
    if (spec.conclusion) return spec.conclusion
    if (spec.runnerLost) return "failure"
    return spec.steps.some((s) => s.conclusion === "failure") ? "failure" : "success"
  }
  const runConclusion = (run: Run): string | null => {
    if (phase(run) !== "completed") return null
    if (run.behaviour.conclusion) return run.behaviour.conclusion
    const cs = run.jobs.map((j) => jobConclusion(j.spec))
    if (cs.includes("failure")) return "failure"
    if (cs.includes("timed_out")) return "timed_out"
    if (cs.includes("cancelled")) return "cancelled"
    return "success"
  }
  const user = (login: string) => ({
    login,
    id: [...login].reduce((a, c) => a * 31 + c.charCodeAt(0), 7) % 100_000_000,
    node_id: `U_${login}`,
    avatar_url: `https://avatars.githubusercontent.com/u/1?v=4`,
    url: `${url}/users/${login}`,
    html_url: `https://github.com/${login}`,
    type: "User",
    site_admin: false
  })
  const repoJson = (repo: Repo, login?: string) => {
    const full = `${repo.owner}/${repo.name}`
    const base = {
      id: repo.id,
      node_id: `R_${repo.id}`,
      name: repo.name,
      full_name: full,
      private: true,
      owner: user(repo.owner),
      html_url: `https://github.com/${full}`,
      description: null,
      fork: false,
      url: `${url}/repos/${full}`,
      default_branch: repo.defaultBranch
    }
    if (login === undefined) return base
    const perms = { ...DEFAULT_PERMS, ...(tokenFor(login)?.permissions ?? {}) }
    return { ...base, permissions: { admin: false, maintain: false, push: perms.contents === "write", triage: false, pull: perms.contents !== "none" } }
  }
  const tokenFor = (login: string) => Object.values(tokens).find((t) => t.login === login)

  const runJson = (run: Run): Record<string, unknown> => {
    const repo = repoOf(run.repo)
    const status = phase(run)
    const commit = repo.commits.get(run.sha)
    const started = run.createdAt + (run.behaviour.queuedMs ?? 0)
    return {
      id: run.id,
      name: run.workflowName,
      node_id: `WFR_${run.id}`,
      head_branch: run.branch,
      head_sha: run.sha,
      path: run.workflowPath,
      display_title: commit?.message.split("\n")[0] ?? run.workflowName,
      run_number: run.runNumber,
      event: run.event,
      status,
      conclusion: runConclusion(run),
      workflow_id: run.workflowId,
      check_suite_id: run.id + 5_000_000,
      check_suite_node_id: `CS_${run.id}`,
      url: `${url}/repos/${run.repo}/actions/runs/${run.id}`,
      html_url: `https://github.com/${run.repo}/actions/runs/${run.id}`,
      pull_requests: [],
      created_at: iso(run.createdAt),
      updated_at: iso(status === "completed" ? started + (run.behaviour.durationMs ?? 1000) : now()),
      actor: user(run.actor),
      triggering_actor: user(run.actor),
      run_attempt: 1,
      referenced_workflows: [],
      run_started_at: iso(started),
      jobs_url: `${url}/repos/${run.repo}/actions/runs/${run.id}/jobs`,
      logs_url: `${url}/repos/${run.repo}/actions/runs/${run.id}/logs`,
      check_suite_url: `${url}/repos/${run.repo}/check-suites/${run.id + 5_000_000}`,
      artifacts_url: `${url}/repos/${run.repo}/actions/runs/${run.id}/artifacts`,
      cancel_url: `${url}/repos/${run.repo}/actions/runs/${run.id}/cancel`,
      rerun_url: `${url}/repos/${run.repo}/actions/runs/${run.id}/rerun`,
      previous_attempt_url: null,
      workflow_url: `${url}/repos/${run.repo}/actions/workflows/${run.workflowId}`,
      head_commit: commit
        ? {
          id: commit.sha,
          tree_id: commit.sha.split("").reverse().join(""),
          message: commit.message,
          timestamp: iso(commit.at),
          author: { name: commit.author, email: commit.email },
          committer: { name: commit.author, email: commit.email }
        }
        : null,
      repository: repoJson(repo),
      head_repository: repoJson(repo)
    }
  }

  const jobJson = (job: Job): Record<string, unknown> => {
    const run = runs.get(job.runId)!
    const status = phase(run)
    const started = run.createdAt + (run.behaviour.queuedMs ?? 0)
    const done = status === "completed"
    let failedSeen = false
    const steps = job.spec.steps.map((s, i) => {
      const c = failedSeen ? "skipped" : s.conclusion ?? "success"
      if (c === "failure") failedSeen = true
      return {
        name: s.name,
        status: done ? "completed" : status === "queued" ? "queued" : "in_progress",
        conclusion: done ? c : null,
        number: i + 1,
        started_at: status === "queued" ? null : iso(started),
        completed_at: done ? iso(started + (run.behaviour.durationMs ?? 1000)) : null
      }
    })
    return {
      id: job.id,
      run_id: run.id,
      workflow_name: run.workflowName,
      head_branch: run.branch,
      run_url: `${url}/repos/${run.repo}/actions/runs/${run.id}`,
      run_attempt: 1,
      node_id: `CR_${job.id}`,
      head_sha: run.sha,
      url: `${url}/repos/${run.repo}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${run.repo}/actions/runs/${run.id}/job/${job.id}`,
      status: done ? "completed" : status,
      conclusion: done ? jobConclusion(job.spec) : null,
      created_at: iso(run.createdAt),
      started_at: iso(started),
      completed_at: done ? iso(started + (run.behaviour.durationMs ?? 1000)) : null,
      name: job.name,
      steps,
      check_run_url: `${url}/repos/${run.repo}/check-runs/${job.id}`,
      labels: ["ubuntu-latest"],
      runner_id: job.spec.runnerLost || status === "queued" ? null : 7,
      runner_name: job.spec.runnerLost || status === "queued" ? null : "GitHub Actions 7",
      runner_group_id: job.spec.runnerLost ? null : 2,
      runner_group_name: job.spec.runnerLost ? null : "GitHub Actions"
    }
  }

  const jobLog = (job: Job): string => {
    const run = runs.get(job.runId)!
    const t = iso(run.createdAt + (run.behaviour.queuedMs ?? 0))
    const lines: Array<string> = [`${t} Requested labels: ubuntu-latest`, `${t} Job defined at: ${run.repo}/${run.workflowPath}@refs/heads/${run.branch}`]
    let failed = false
    for (const s of job.spec.steps) {
      if (failed) break
      lines.push(`${t} ##[group]Run ${s.name}`, `${t} ##[endgroup]`)
      for (const l of (s.log ?? "").split("\n").filter((x) => x.length > 0)) lines.push(`${t} ${l}`)
      if (s.conclusion === "failure") {
        lines.push(`${t} ##[error]Process completed with exit code 1.`)
        failed = true
      }
    }
    if (job.spec.runnerLost) {
      lines.push(`${t} ##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.`)
    }
    if (job.spec.conclusion === "timed_out") lines.push(`${t} ##[error]The job running on runner GitHub Actions 7 has exceeded the maximum execution time of 360 minutes.`)
    return `${lines.join("\n")}\n`
  }

  // --- HTTP -----------------------------------------------------------------------------------

  type Reply = { status: number; body?: unknown; headers?: Record<string, string>; text?: string }
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({ status, body, headers })
  const notFound = (): Reply => json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" })
  const invalid = (message: string): Reply => json(422, { message, documentation_url: "https://docs.github.com/rest", status: "422" })

  const NEED: Array<[string, RegExp, Permission, "read" | "write"]> = [
    ["GET", /\/actions\//, "actions", "read"],
    ["POST", /\/actions\/workflows\/[^/]+\/dispatches$/, "actions", "write"],
    ["GET", /\/(commits|git)\b/, "contents", "read"],
    ["POST", /\/(commits\/[^/]+\/comments|git\/refs|git\/commits)$/, "contents", "write"],
    ["PUT", /\/pulls\/\d+\/merge$/, "contents", "write"],
    ["PATCH", /\/git\/refs\//, "contents", "write"],
    ["GET", /\/pulls\b/, "pull_requests", "read"],
    ["POST", /\/pulls$/, "pull_requests", "write"]
  ]

  const paginate = (req: URL, items: ReadonlyArray<unknown>, key: string | undefined): Reply => {
    const perPage = Math.min(100, Math.max(1, Number(req.searchParams.get("per_page") ?? 30) || 30))
    const page = Math.max(1, Number(req.searchParams.get("page") ?? 1) || 1)
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const slice = items.slice((page - 1) * perPage, page * perPage)
    const link = (p: number, rel: string) => {
      const u = new URL(req.toString())
      u.searchParams.set("page", String(p))
      u.searchParams.set("per_page", String(perPage))
      return `<${url}${u.pathname}${u.search}>; rel="${rel}"`
    }
    const links: Array<string> = []
    if (page > 1) links.push(link(page - 1, "prev"))
    if (page < last) links.push(link(page + 1, "next"), link(last, "last"))
    if (page > 1) links.push(link(1, "first"))
    const headers: Record<string, string> = links.length > 0 ? { link: links.join(", ") } : {}
    return json(200, key === undefined ? slice : { total_count: items.length, [key]: slice }, headers)
  }

  const createdFilter = (spec: string | null): ((ms: number) => boolean) => {
    if (!spec) return () => true
    const p = (s: string) => Date.parse(s)
    if (spec.includes("..")) {
      const [a, b] = spec.split("..")
      return (ms) => (a === "*" || ms >= p(a!)) && (b === "*" || ms <= p(b!))
    }
    const m = /^(>=|<=|>|<)?(.+)$/.exec(spec)!
    const t = p(m[2]!)
    switch (m[1]) {
      case ">=": return (ms) => ms >= t
      case "<=": return (ms) => ms <= t
      case ">": return (ms) => ms > t
      case "<": return (ms) => ms < t
      default: return (ms) => ms >= t && ms < t + 86_400_000
    }
  }

  const filterRuns = (req: URL, list: ReadonlyArray<Run>): ReadonlyArray<Run> => {
    const q = req.searchParams
    const created = createdFilter(q.get("created"))
    const status = q.get("status")
    return list
      .filter((r) => (q.get("branch") ? r.branch === q.get("branch") : true))
      .filter((r) => (q.get("event") ? r.event === q.get("event") : true))
      .filter((r) => (q.get("actor") ? r.actor === q.get("actor") : true))
      .filter((r) => (q.get("head_sha") ? r.sha === q.get("head_sha") : true))
      .filter((r) => created(r.createdAt))
      .filter((r) => {
        if (!status) return true
        if (status === "queued" || status === "in_progress" || status === "completed") return phase(r) === status
        return runConclusion(r) === status
      })
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
  }

  const workflowOf = (repo: Repo, idOrFile: string) =>
    repo.workflows.find((w) => String(w.id) === idOrFile || w.spec.path.split("/").pop() === idOrFile || w.spec.path === idOrFile)

  const workflowJson = (repo: Repo, w: { id: number; spec: WorkflowSpec }) => ({
    id: w.id,
    node_id: `W_${w.id}`,
    name: w.spec.name,
    path: w.spec.path,
    state: "active",
    created_at: iso(0),
    updated_at: iso(0),
    url: `${url}/repos/${repo.owner}/${repo.name}/actions/workflows/${w.id}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/blob/${repo.defaultBranch}/${w.spec.path}`,
    badge_url: `https://github.com/${repo.owner}/${repo.name}/workflows/${encodeURIComponent(w.spec.name)}/badge.svg`
  })

  // A commit's tree: given by `POST /git/commits`, else derived from its sha (the fake keeps no files).
  const treeOf = (c: { sha: string; tree?: string }) => c.tree ?? c.sha.split("").reverse().join("")
  const gitCommitJson = (repo: Repo, c: { sha: string; message: string; author: string; email: string; parents: Array<string>; at: number; tree?: string }) => ({
    sha: c.sha,
    node_id: `C_${c.sha}`,
    url: `${url}/repos/${repo.owner}/${repo.name}/git/commits/${c.sha}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${c.sha}`,
    author: { name: c.author, email: c.email, date: iso(c.at) },
    committer: { name: c.author, email: c.email, date: iso(c.at) },
    message: c.message,
    tree: { sha: treeOf(c), url: `${url}/repos/${repo.owner}/${repo.name}/git/trees/${treeOf(c)}` },
    parents: c.parents.map((p) => ({ sha: p, url: `${url}/repos/${repo.owner}/${repo.name}/git/commits/${p}`, html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${p}` })),
    verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null }
  })

  const commitJson = (repo: Repo, c: { sha: string; message: string; author: string; email: string; parents: Array<string>; at: number; tree?: string }) => ({
    sha: c.sha,
    node_id: `C_${c.sha}`,
    commit: {
      author: { name: c.author, email: c.email, date: iso(c.at) },
      committer: { name: c.author, email: c.email, date: iso(c.at) },
      message: c.message,
      tree: { sha: treeOf(c), url: `${url}/repos/${repo.owner}/${repo.name}/git/trees/${treeOf(c)}` },
      url: `${url}/repos/${repo.owner}/${repo.name}/git/commits/${c.sha}`,
      comment_count: repo.comments.filter((x) => x.sha === c.sha).length,
      verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null }
    },
    url: `${url}/repos/${repo.owner}/${repo.name}/commits/${c.sha}`,
    html_url: `https://github.com/${repo.owner}/${repo.name}/commit/${c.sha}`,
    author: user(c.author),
    committer: user(c.author),
    parents: c.parents.map((p) => ({ sha: p, url: `${url}/repos/${repo.owner}/${repo.name}/commits/${p}` }))
  })

  const route = (method: string, req: URL, body: unknown, login: string): Reply => {
    const p = decodeURIComponent(req.pathname)
    let m: RegExpExecArray | null
    if (method === "GET" && p === "/rate_limit") {
      const u = used.get(login)
      const core = { limit, used: u?.used ?? 0, remaining: limit - (u?.used ?? 0), reset: Math.ceil((u?.resetAt ?? now() + 3_600_000) / 1000) }
      return json(200, { resources: { core }, rate: core })
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(p)) === null) return notFound()
    const repo = repos.get(`${m[1]}/${m[2]}`.toLowerCase())
    if (!repo) return notFound()
    const full = `${repo.owner}/${repo.name}`
    const rest = m[3] ?? ""
    const b = (body ?? {}) as Record<string, unknown>
    if (method === "GET" && rest === "") return json(200, repoJson(repo, login))
    if (method === "GET" && rest === "/actions/runs") {
      return paginate(req, filterRuns(req, [...runs.values()].filter((r) => r.repo === full)).map(runJson), "workflow_runs")
    }
    if (method === "GET" && rest === "/actions/workflows") return paginate(req, repo.workflows.map((w) => workflowJson(repo, w)), "workflows")
    if ((m = /^\/actions\/workflows\/([^/]+)$/.exec(rest)) && method === "GET") {
      const w = workflowOf(repo, decodeURIComponent(m[1]!))
      return w ? json(200, workflowJson(repo, w)) : notFound()
    }
    if ((m = /^\/actions\/workflows\/([^/]+)\/runs$/.exec(rest)) && method === "GET") {
      const w = workflowOf(repo, decodeURIComponent(m[1]!))
      if (!w) return notFound()
      return paginate(req, filterRuns(req, [...runs.values()].filter((r) => r.workflowId === w.id)).map(runJson), "workflow_runs")
    }
    if ((m = /^\/actions\/workflows\/([^/]+)\/dispatches$/.exec(rest)) && method === "POST") {
      const w = workflowOf(repo, decodeURIComponent(m[1]!))
      if (!w) return notFound()
      if (typeof b["ref"] !== "string") return invalid("Invalid request.\n\n\"ref\" wasn't supplied.")
      const branch = (b["ref"] as string).replace(/^refs\/heads\//, "")
      const head = repo.refs.get(branch)
      if (!head) return invalid(`No ref found for: ${b["ref"] as string}`)
      const inputs = (b["inputs"] ?? {}) as Record<string, unknown>
      if (typeof inputs !== "object" || Array.isArray(inputs) || Object.keys(inputs).length > 25) return invalid("inputs: at most 25 properties")
      const run = createRun(repo, w, { event: "workflow_dispatch", branch, sha: head, actor: login, inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, String(v)])) })
      if (b["return_run_details"] === true && options.returnRunDetails !== false) {
        return json(200, { workflow_run_id: run.id, run_url: `${url}/repos/${full}/actions/runs/${run.id}`, html_url: `https://github.com/${full}/actions/runs/${run.id}` })
      }
      return { status: 204 }
    }
    if ((m = /^\/actions\/runs\/(\d+)$/.exec(rest)) && method === "GET") {
      const run = runs.get(Number(m[1]))
      return run && run.repo === full ? json(200, runJson(run)) : notFound()
    }
    if ((m = /^\/actions\/runs\/(\d+)\/jobs$/.exec(rest)) && method === "GET") {
      const run = runs.get(Number(m[1]))
      if (!run || run.repo !== full) return notFound()
      return paginate(req, run.jobs.map(jobJson), "jobs")
    }
    if ((m = /^\/actions\/jobs\/(\d+)$/.exec(rest)) && method === "GET") {
      const job = jobs.get(Number(m[1]))
      return job && runs.get(job.runId)!.repo === full ? json(200, jobJson(job)) : notFound()
    }
    if ((m = /^\/actions\/jobs\/(\d+)\/logs$/.exec(rest)) && method === "GET") {
      const job = jobs.get(Number(m[1]))
      if (!job || runs.get(job.runId)!.repo !== full) return notFound()
      if (phase(runs.get(job.runId)!) !== "completed") return notFound()
      const t = Crypto.randomBytes(12).toString("hex")
      logTokens.set(t, job.id)
      return { status: 302, headers: { location: `${url}/_blob/job-logs/${t}?sig=${t}` } }
    }
    if ((m = /^\/commits\/([^/]+)$/.exec(rest)) && method === "GET") {
      const ref = decodeURIComponent(m[1]!)
      const s = repo.refs.get(ref) ?? ([...repo.commits.keys()].find((k) => k.startsWith(ref) && ref.length >= 7))
      const c = s ? repo.commits.get(s) : undefined
      return c ? json(200, commitJson(repo, c)) : json(422, { message: `No commit found for SHA: ${ref}`, status: "422" })
    }
    if (rest === "/commits" && method === "GET") {
      const start = repo.refs.get(req.searchParams.get("sha") ?? repo.defaultBranch)
      const out: Array<unknown> = []
      for (let s = start; s !== undefined;) {
        const c = repo.commits.get(s)!
        out.push(commitJson(repo, c))
        s = c.parents[0]
      }
      return paginate(req, out, undefined)
    }
    if ((m = /^\/commits\/([0-9a-f]{7,40})\/comments$/.exec(rest))) {
      const c = [...repo.commits.keys()].find((k) => k.startsWith(m![1]!))
      if (!c) return json(422, { message: `No commit found for SHA: ${m[1]}`, status: "422" })
      const shape = (x: Repo["comments"][number]) => ({
        id: x.id,
        node_id: `CC_${x.id}`,
        body: x.body,
        path: null,
        position: null,
        line: null,
        commit_id: x.sha,
        user: user(x.user),
        created_at: iso(x.at),
        updated_at: iso(x.at),
        html_url: `https://github.com/${full}/commit/${x.sha}#commitcomment-${x.id}`,
        url: `${url}/repos/${full}/comments/${x.id}`,
        author_association: "OWNER"
      })
      if (method === "GET") return paginate(req, repo.comments.filter((x) => x.sha === c).map(shape), undefined)
      if (method === "POST") {
        if (typeof b["body"] !== "string" || b["body"].length === 0) return invalid("Invalid request.\n\n\"body\" wasn't supplied.")
        const x = { id: id(), sha: c, body: b["body"], user: login, at: now() }
        repo.comments.push(x)
        return json(201, shape(x))
      }
    }
    const refJson = (ref: string, s: string) => ({ ref: `refs/${ref}`, node_id: `REF_${ref}`, url: `${url}/repos/${full}/git/refs/${ref}`, object: { sha: s, type: "commit", url: `${url}/repos/${full}/git/commits/${s}` } })
    if ((m = /^\/git\/ref\/heads\/(.+)$/.exec(rest)) && method === "GET") {
      const s = repo.refs.get(decodeURIComponent(m[1]!))
      return s ? json(200, refJson(`heads/${decodeURIComponent(m[1]!)}`, s)) : notFound()
    }
    if (rest === "/git/refs" && method === "POST") {
      const ref = String(b["ref"] ?? "")
      const s = String(b["sha"] ?? "")
      if (!/^refs\/heads\/.+/.test(ref)) return invalid("Reference name must start with 'refs/' and have at least two slashes.")
      if (!repo.commits.has(s)) return invalid("Object does not exist")
      const name = ref.slice("refs/heads/".length)
      if (repo.refs.has(name)) return invalid("Reference already exists")
      repo.refs.set(name, s)
      return json(201, refJson(`heads/${name}`, s))
    }
    if ((m = /^\/git\/refs\/heads\/(.+)$/.exec(rest)) && method === "PATCH") {
      const name = decodeURIComponent(m[1]!)
      const cur = repo.refs.get(name)
      const s = String(b["sha"] ?? "")
      if (!cur) return invalid("Reference does not exist")
      if (!repo.commits.has(s)) return invalid("Object does not exist")
      const fastForward = (() => {
        for (let x: string | undefined = s; x !== undefined; x = repo.commits.get(x)?.parents[0]) if (x === cur) return true
        return false
      })()
      if (!fastForward && b["force"] !== true) return invalid("Update is not a fast forward")
      repo.refs.set(name, s)
      return json(200, refJson(`heads/${name}`, s))
    }
    const pullJson = (x: Repo["pulls"][number]) => ({
      id: x.number + 9_000_000,
      node_id: `PR_${x.number}`,
      number: x.number,
      state: x.state,
      locked: false,
      title: x.title,
      body: x.body,
      user: user(x.user),
      draft: false,
      merged_at: x.mergedAt !== undefined ? iso(x.mergedAt) : null,
      created_at: iso(x.at),
      updated_at: iso(x.at),
      closed_at: null,
      html_url: `https://github.com/${full}/pull/${x.number}`,
      url: `${url}/repos/${full}/pulls/${x.number}`,
      head: { ref: x.head, sha: repo.refs.get(x.head) ?? null, label: `${repo.owner}:${x.head}` },
      base: { ref: x.base, sha: repo.refs.get(x.base) ?? null, label: `${repo.owner}:${x.base}` }
    })
    // Git data: a commit object (its tree), and a new commit on an existing tree (as `git revert` makes one)
    if ((m = /^\/git\/commits\/([0-9a-f]{40})$/.exec(rest)) && method === "GET") {
      const c = repo.commits.get(m[1]!)
      return c ? json(200, gitCommitJson(repo, c)) : notFound()
    }
    if (rest === "/git/commits" && method === "POST") {
      const tree = String(b["tree"] ?? "")
      const parents = Array.isArray(b["parents"]) ? (b["parents"] as Array<unknown>).map(String) : []
      if (typeof b["message"] !== "string") return invalid("Invalid request.\n\n\"message\" wasn't supplied.")
      if (![...repo.commits.values()].some((c) => treeOf(c) === tree)) return invalid("Tree SHA does not exist")
      if (parents.some((p) => !repo.commits.has(p))) return invalid("Parent SHA does not exist or is not a commit object")
      const given = (typeof b["author"] === "object" && b["author"] !== null ? (b["author"] as Record<string, unknown>)["name"] : undefined)
      const author = typeof given === "string" ? given : login
      const c = { sha: sha(), message: b["message"], author, email: `${author}@users.noreply.github.com`, parents, at: now(), tree }
      repo.commits.set(c.sha, c)
      return json(201, gitCommitJson(repo, c))
    }
    if ((m = /^\/pulls\/(\d+)\/merge$/.exec(rest)) && method === "PUT") {
      const x = repo.pulls.find((p) => p.number === Number(m![1]))
      if (!x) return notFound()
      if (x.state !== "open") return json(405, { message: "Pull Request is not mergeable", documentation_url: "https://docs.github.com/rest", status: "405" })
      const head = repo.refs.get(x.head)!
      const base = repo.refs.get(x.base)!
      let ff = false
      for (let s: string | undefined = head; s !== undefined; s = repo.commits.get(s)?.parents[0]) if (s === base) ff = true
      let merged = head
      if (!ff) {
        const hc = repo.commits.get(head)!
        const c = { sha: sha(), message: typeof b["commit_title"] === "string" ? b["commit_title"] : `Merge pull request #${x.number} from ${repo.owner}/${x.head}`, author: login, email: `${login}@users.noreply.github.com`, parents: [base, head], at: now(), tree: treeOf(hc) }
        repo.commits.set(c.sha, c)
        merged = c.sha
      }
      repo.refs.set(x.base, merged)
      x.state = "closed"
      x.mergedAt = now()
      return json(200, { sha: merged, merged: true, message: "Pull Request successfully merged" })
    }
    if (rest === "/pulls" && method === "GET") {
      const state = req.searchParams.get("state") ?? "open"
      return paginate(req, repo.pulls.filter((x) => state === "all" || x.state === state).slice().reverse().map(pullJson), undefined)
    }
    if (rest === "/pulls" && method === "POST") {
      const head = String(b["head"] ?? "")
      const base = String(b["base"] ?? "")
      if (!repo.refs.has(head) || !repo.refs.has(base)) return invalid("Validation Failed")
      if (repo.pulls.some((x) => x.state === "open" && x.head === head && x.base === base)) return invalid(`A pull request already exists for ${repo.owner}:${head}.`)
      const x = { number: repo.pulls.length + 1, title: String(b["title"] ?? ""), head, base, body: typeof b["body"] === "string" ? b["body"] : null, state: "open" as const, user: login, at: now() }
      repo.pulls.push(x)
      return json(201, pullJson(x))
    }
    if (rest === "/deployments" && method === "GET") {
      const q = req.searchParams
      const list = deployments.filter((d) => d.repo === full && (!q.get("environment") || d.environment === q.get("environment")) && (!q.get("sha") || d.sha === q.get("sha")) && (!q.get("ref") || d.ref === q.get("ref")))
      return paginate(req, list.slice().reverse().map((d) => deploymentJson(d)), undefined)
    }
    if ((m = /^\/deployments\/(\d+)(\/statuses)?$/.exec(rest)) && method === "GET") {
      const d = deployments.find((x) => x.id === Number(m![1]) && x.repo === full)
      if (!d) return notFound()
      return m[2] ? paginate(req, d.statuses.slice().reverse().map((st) => deploymentStatusJson(d, st)), undefined) : json(200, deploymentJson(d))
    }
    return notFound()
  }

  const deploymentJson = (d: (typeof deployments)[number]) => ({
    url: `${url}/repos/${d.repo}/deployments/${d.id}`,
    id: d.id,
    node_id: `DE_${d.id}`,
    sha: d.sha,
    ref: d.ref,
    task: "deploy",
    payload: d.payload,
    original_environment: d.environment,
    environment: d.environment,
    description: null,
    creator: user(d.creator),
    created_at: iso(d.at),
    updated_at: iso(d.statuses.at(-1)?.at ?? d.at),
    statuses_url: `${url}/repos/${d.repo}/deployments/${d.id}/statuses`,
    repository_url: `${url}/repos/${d.repo}`,
    transient_environment: false,
    production_environment: d.environment === "production",
    performed_via_github_app: null
  })
  const deploymentStatusJson = (d: (typeof deployments)[number], st: (typeof deployments)[number]["statuses"][number]) => ({
    url: `${url}/repos/${d.repo}/deployments/${d.id}/statuses/${st.id}`,
    id: st.id,
    node_id: `DES_${st.id}`,
    state: st.state,
    creator: user(d.creator),
    description: st.description,
    environment: d.environment,
    target_url: "",
    log_url: "",
    environment_url: "",
    created_at: iso(st.at),
    updated_at: iso(st.at),
    deployment_url: `${url}/repos/${d.repo}/deployments/${d.id}`,
    repository_url: `${url}/repos/${d.repo}`,
    performed_via_github_app: null
  })

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const method = (req.method ?? "GET").toUpperCase()
      const u = new URL(req.url ?? "/", "http://127.0.0.1")
      const raw = Buffer.concat(chunks).toString("utf8")
      let body: unknown = undefined
      const query = Object.fromEntries(u.searchParams.entries())
      const send = (r: Reply) => {
        const headers: Record<string, string> = { "x-github-api-version-selected": "2022-11-28", "x-github-request-id": Crypto.randomBytes(6).toString("hex"), ...(r.headers ?? {}) }
        let text = r.text
        if (r.body !== undefined) {
          text = JSON.stringify(r.body)
          headers["content-type"] = "application/json; charset=utf-8"
        }
        requests.push({ method, path: u.pathname, query, status: r.status, body, at: now() })
        res.writeHead(r.status, headers)
        res.end(text)
      }
      // One-time log URLs (the API's 302 target): no authentication, like a pre-signed blob URL.
      const blob = /^\/_blob\/job-logs\/([0-9a-f]+)$/.exec(u.pathname)
      if (blob) {
        const jobId = logTokens.get(blob[1]!)
        if (jobId === undefined) return send({ status: 403, text: "AuthenticationFailed: signature expired", headers: { "content-type": "application/xml" } })
        logTokens.delete(blob[1]!)
        return send({ status: 200, text: jobLog(jobs.get(jobId)!), headers: { "content-type": "text/plain; charset=utf-8" } })
      }
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw)
        } catch {
          return send(json(400, { message: "Problems parsing JSON", documentation_url: "https://docs.github.com/rest", status: "400" }))
        }
      }
      const auth = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.authorization ?? "")
      const token = auth ? tokens[auth[1]!] : undefined
      if (!token) return send(json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" }))
      const login = token.login
      // injected faults
      const fi = faults.findIndex((f) =>
        f.left > 0 && (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.path === undefined || (typeof f.path === "string" ? u.pathname.includes(f.path) : f.path.test(u.pathname)))
      )
      if (fi >= 0) {
        const f = faults[fi]!
        f.left -= 1
        if (f.left <= 0) faults.splice(fi, 1)
        const h: Record<string, string> = f.retryAfter !== undefined ? { "retry-after": String(f.retryAfter) } : {}
        return send(json(f.status, { message: f.message ?? (f.status === 429 || f.status === 403 ? "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." : "Server Error"), documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", status: String(f.status) }, h))
      }
      // primary rate limit
      let bucket = used.get(login)
      if (!bucket || now() >= bucket.resetAt) {
        bucket = { used: 0, resetAt: now() + 3_600_000 }
        used.set(login, bucket)
      }
      const rl = (b: { used: number; resetAt: number }): Record<string, string> => ({
        "x-ratelimit-limit": String(limit),
        "x-ratelimit-remaining": String(Math.max(0, limit - b.used)),
        "x-ratelimit-reset": String(Math.ceil(b.resetAt / 1000)),
        "x-ratelimit-used": String(b.used),
        "x-ratelimit-resource": "core"
      })
      if (bucket.used >= limit && u.pathname !== "/rate_limit") {
        return send(json(403, { message: `API rate limit exceeded for user ID ${user(login).id}.`, documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", status: "403" }, rl(bucket)))
      }
      // fine-grained permissions
      const perms = { ...DEFAULT_PERMS, ...(token.permissions ?? {}) }
      const need = NEED.find(([mm, re]) => mm === method && re.test(u.pathname))
      if (need) {
        const [, , perm, level] = need
        const has = perms[perm]
        const ok = level === "read" ? has === "read" || has === "write" : has === "write"
        if (!ok) {
          return send(json(403, { message: "Resource not accessible by personal access token", documentation_url: "https://docs.github.com/rest", status: "403" }, { ...rl(bucket), "x-accepted-github-permissions": `${perm}=${level}` }))
        }
      }
      const reply = route(method, u, body, login)
      const accepted: Record<string, string> = need ? { "x-accepted-github-permissions": `${need[2]}=${need[3]}` } : {}
      // ETag / If-None-Match: a 304 does not count against the rate limit
      if (method === "GET" && reply.status === 200 && reply.body !== undefined) {
        const etag = `W/"${Crypto.createHash("sha256").update(JSON.stringify(reply.body)).update(reply.headers?.["link"] ?? "").digest("hex").slice(0, 40)}"`
        const inm = req.headers["if-none-match"]
        if (inm !== undefined && inm.split(",").map((s) => s.trim()).includes(etag)) {
          return send({ status: 304, headers: { etag, ...rl(bucket), ...accepted } })
        }
        bucket.used += 1
        return send({ ...reply, headers: { ...(reply.headers ?? {}), etag, ...rl(bucket), ...accepted } })
      }
      bucket.used += 1
      return send({ ...reply, headers: { ...(reply.headers ?? {}), ...rl(bucket), ...accepted } })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const fake: GitHubFake = {
    url,
    get requests() {
      return [...requests]
    },
    get writes() {
      return requests.filter((r) => r.method !== "GET" && r.method !== "HEAD" && !r.path.startsWith("/_blob/"))
    },
    addRepo: (fullName, o = {}) => {
      const [owner, name] = fullName.split("/")
      if (!owner || !name) throw new Error(`GitHubFake: repository names are owner/name (got ${fullName})`)
      const repo: Repo = { owner, name, id: id(), defaultBranch: o.defaultBranch ?? "main", workflows: [], refs: new Map(), commits: new Map(), comments: [], pulls: [] }
      repos.set(fullName.toLowerCase(), repo)
      addCommit(repo, repo.defaultBranch, "Initial commit", owner)
    },
    addWorkflow: (fullName, spec) => {
      const repo = repoOf(fullName)
      const w = { id: id() + 160_000_000, spec }
      repo.workflows.push(w)
      return w.id
    },
    setBehaviour: (fullName, path, behaviour) => {
      const repo = repoOf(fullName)
      const i = repo.workflows.findIndex((w) => w.spec.path === path || w.spec.path.endsWith(`/${path}`))
      if (i < 0) throw new Error(`GitHubFake: no workflow ${path}`)
      repo.workflows[i] = { id: repo.workflows[i]!.id, spec: { ...repo.workflows[i]!.spec, behaviour } }
    },
    push: (fullName, o) => {
      const repo = repoOf(fullName)
      const author = o.author ?? "octocat"
      const s = addCommit(repo, o.branch, o.message ?? `change on ${o.branch}`, author)
      const wfs = repo.workflows.filter((w) => o.workflows === undefined || o.workflows.some((x) => w.spec.path.endsWith(x)))
      const runIds = wfs.map((w) => createRun(repo, w, { event: "push", branch: o.branch, sha: s, actor: o.actor ?? author, inputs: {} }).id)
      return { sha: s, runIds }
    },
    run: (fullName, runId) => {
      const run = runs.get(runId)
      if (!run || run.repo.toLowerCase() !== fullName.toLowerCase()) throw new Error(`GitHubFake: no run ${runId} in ${fullName}`)
      return runJson(run)
    },
    inputsOf: (fullName, runId) => {
      const run = runs.get(runId)
      if (!run || run.repo.toLowerCase() !== fullName.toLowerCase()) throw new Error(`GitHubFake: no run ${runId} in ${fullName}`)
      return { ...run.inputs }
    },
    runs: (fullName) => [...runs.values()].filter((r) => r.repo.toLowerCase() === fullName.toLowerCase()).sort((a, b) => b.createdAt - a.createdAt || b.id - a.id).map(runJson),
    comments: (fullName) => repoOf(fullName).comments.map((c) => ({ sha: c.sha, body: c.body })),
    fail: (f) => void faults.push({ ...f, left: f.times ?? 1 }),
    setRemaining: (remaining, token) => {
      const t = tokens[token ?? Object.keys(tokens)[0]!]
      if (!t) throw new Error("GitHubFake: unknown token")
      used.set(t.login, { used: Math.max(0, limit - remaining), resetAt: now() + 3_600_000 })
    },
    deploy: (fullName, d) => {
      const repo = repoOf(fullName)
      const full = `${repo.owner}/${repo.name}`
      const dep = { id: id(), repo: full, sha: d.sha, ref: d.ref ?? repo.defaultBranch, environment: d.environment, creator: d.creator ?? "octocat", payload: { ...(d.payload ?? {}) }, at: now(), statuses: [{ id: id(), state: d.state, description: d.description ?? "", at: now() }] }
      deployments.push(dep)
      return dep.id
    },
    setDeploymentState: (fullName, deploymentId, state, description) => {
      const d = deployments.find((x) => x.id === deploymentId && x.repo.toLowerCase() === fullName.toLowerCase())
      if (!d) throw new Error(`GitHubFake: no deployment ${deploymentId} in ${fullName}`)
      d.statuses.push({ id: id(), state, description: description ?? "", at: now() })
    },
    deploymentStatusDelivery: (fullName, deploymentId, secret) => {
      const d = deployments.find((x) => x.id === deploymentId && x.repo.toLowerCase() === fullName.toLowerCase())
      if (!d) throw new Error(`GitHubFake: no deployment ${deploymentId} in ${fullName}`)
      const body = JSON.stringify({ action: "created", deployment_status: deploymentStatusJson(d, d.statuses.at(-1)!), deployment: deploymentJson(d), repository: repoJson(repoOf(fullName)), sender: user(d.creator) })
      return {
        headers: {
          "content-type": "application/json",
          "x-github-event": "deployment_status",
          "x-github-delivery": Crypto.randomUUID(),
          "x-hub-signature-256": `sha256=${Crypto.createHmac("sha256", secret).update(body).digest("hex")}`
        },
        body
      }
    },
    webhookDelivery: (fullName, runId, secret) => {
      const run = runs.get(runId)
      if (!run || run.repo.toLowerCase() !== fullName.toLowerCase()) throw new Error(`GitHubFake: no run ${runId} in ${fullName}`)
      const repo = repoOf(fullName)
      const wr = runJson(run)
      const w = repo.workflows.find((x) => x.id === run.workflowId)!
      const payload = {
        action: wr["status"] === "completed" ? "completed" : wr["status"] === "queued" ? "requested" : "in_progress",
        workflow_run: wr,
        workflow: workflowJson(repo, w),
        repository: repoJson(repo),
        sender: user(run.actor)
      }
      const body = JSON.stringify(payload)
      const sig = Crypto.createHmac("sha256", secret).update(body).digest("hex")
      return {
        headers: {
          "content-type": "application/json",
          "user-agent": "GitHub-Hookshot/abc1234",
          "x-github-event": "workflow_run",
          "x-github-delivery": Crypto.randomUUID(),
          "x-github-hook-id": "4242",
          "x-hub-signature-256": `sha256=${sig}`
        },
        body
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  return fake
}
