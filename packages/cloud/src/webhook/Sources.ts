/**
 * `DeploySources`: re-derives a reported failure from its source, so a payload alone never
 * decides a rollback — a forged or stale one finds the source disagreeing. Per platform:
 *
 * - GitHub `workflow_run`: the run (`GET …/actions/runs/{id}`), the workflow's runs on the
 *   branch (newer runs, runs in progress, the successful ones as the controller's history) and
 *   the commit's author. `deployment_status`: the deployment's statuses
 *   (`GET …/deployments/{id}/statuses`, newest first).
 * - Argo CD: the Application (`GET /api/v1/applications/{name}`, the `ArgoCd` client): operation phase, health, synced
 *   revision, `status.history`, an operation still running; its source repository for the author.
 * - Flux: the Kustomization / HelmRelease from the Kubernetes API (the `FluxKube` service): the `Ready` condition,
 *   `lastAttemptedRevision` vs `lastAppliedRevision`, `spec.suspend`, `status.history`.
 * - Spinnaker: the execution and the application's executions (Gate).
 *
 * Each client is optional (`Effect.serviceOption`): a platform whose client is not provided
 * gives an Unknown fact, hence an escalation, never an action.
 *
 * @since 0.3.0
 */
import { Effect, Schema } from "effect"
import { ArgoCd } from "../gitops/ArgoCd"
import { FluxKube } from "../gitops/FluxKube"
import * as GitOps from "../gitops/Resources"
import { GitHub } from "../github/GitHub"
import type * as Events from "./Events"
import { SpinnakerGate } from "./SpinnakerGate"

/** One entry of a controller's own history (oldest first). */
export interface HistoryEntry {
  readonly id: string
  readonly revision: string
  readonly deployedAt: number
  /** When the next entry replaced it (null: it is the newest). */
  readonly endedAt: number | null
}

/** What the source says now. */
export interface SourceState {
  /** The source confirms that the reported deploy failed. */
  readonly failed: boolean
  /** The source's own words. */
  readonly status: string
  /** The revision of the failed deploy, per the source. */
  readonly revision: string | null
  /** The newest deploy of the target, per the source (a newer one than the failed: the report is stale). */
  readonly newest: string | null
  /** Other deploys of the target still running. */
  readonly running: ReadonlyArray<string>
  /** The controller's history (successful deploys), oldest first. */
  readonly history: ReadonlyArray<HistoryEntry>
  /** The commit and who made it, when the source tells. */
  readonly author: { readonly login: string | null; readonly repo: string | null; readonly sha: string | null }
  /** Platform details the plan needs (a history id, a kind, a rollback pipeline …). */
  readonly details: Readonly<Record<string, string | number | boolean | null>>
}

/** A source could not be read. */
export class SourceUnavailable extends Schema.TaggedError<SourceUnavailable>()("SourceUnavailable", {
  message: Schema.String
}) {}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const str = (v: unknown): string | null => (typeof v === "string" && v.length > 0 ? v : null)
const ms = (v: unknown): number | null => {
  if (typeof v === "number") return v
  if (typeof v !== "string") return null
  const n = Date.parse(v)
  return Number.isFinite(n) ? n : null
}

/** The history (oldest first) with each entry's end: the next entry's deploy time. */
export const withEnds = (entries: ReadonlyArray<Omit<HistoryEntry, "endedAt">>): ReadonlyArray<HistoryEntry> => {
  const sorted = [...entries].sort((a, b) => a.deployedAt - b.deployedAt)
  return sorted.map((e, i) => ({ ...e, endedAt: sorted[i + 1]?.deployedAt ?? null }))
}

const unavailable = (what: string) => Effect.fail(new SourceUnavailable({ message: `${what}: no client provided` }))

const githubWorkflow = (s: Extract<Events.SourceRef, { kind: "workflow_run" }>) =>
  Effect.gen(function*() {
    const opt = yield* Effect.serviceOption(GitHub)
    if (opt._tag === "None") return yield* unavailable("GitHub")
    const gh = opt.value
    const wrap = <A, E extends { readonly message: string }>(e: Effect.Effect<A, E>) => Effect.mapError(e, (x) => new SourceUnavailable({ message: x.message }))
    const run = yield* wrap(gh.getRun(s.repo, s.runId))
    const file = run.path.replace(/@.*$/, "").split("/").pop()!
    const { runs } = yield* wrap(gh.listWorkflowRuns(s.repo, file, { ...(run.head_branch ? { branch: run.head_branch } : {}), per_page: 50 }))
    const created = (r: { created_at: string }) => Date.parse(r.created_at)
    const newer = runs.filter((r) => r.id !== run.id && created(r) > created(run) && r.event !== "workflow_dispatch")
    const running = runs.filter((r) => r.id !== run.id && r.status !== "completed").map((r) => `run ${r.id} (${r.event}) is ${r.status ?? "pending"}`)
    const successes = runs.filter((r) => r.status === "completed" && r.conclusion === "success" && r.event !== "workflow_dispatch")
    const commit = yield* gh.request("GET", `/repos/${s.repo}/commits/${run.head_sha}`).pipe(Effect.option)
    const login = commit._tag === "Some" ? str(obj(obj(commit.value.body)["author"])["login"]) : null
    return {
      failed: run.status === "completed" && run.conclusion !== null && ["failure", "timed_out"].includes(run.conclusion),
      status: `run ${run.id}: ${run.status ?? "?"}/${run.conclusion ?? "—"}`,
      revision: run.head_sha,
      newest: newer.sort((a, b) => created(b) - created(a))[0]?.head_sha ?? run.head_sha,
      running,
      history: withEnds(successes.map((r) => ({ id: String(r.id), revision: r.head_sha, deployedAt: created(r) }))),
      author: { login: login ?? run.actor?.login ?? null, repo: s.repo, sha: run.head_sha },
      details: { runId: run.id, branch: run.head_branch, workflowPath: run.path.replace(/@.*$/, ""), url: run.html_url }
    } satisfies SourceState
  })

const githubDeployment = (s: Extract<Events.SourceRef, { kind: "deployment_status" }>) =>
  Effect.gen(function*() {
    const opt = yield* Effect.serviceOption(GitHub)
    if (opt._tag === "None") return yield* unavailable("GitHub")
    const gh = opt.value
    const dep = yield* Effect.mapError(gh.request("GET", `/repos/${s.repo}/deployments/${s.deploymentId}`), (e) => new SourceUnavailable({ message: e.message }))
    const statuses = yield* Effect.mapError(gh.request("GET", `/repos/${s.repo}/deployments/${s.deploymentId}/statuses`), (e) => new SourceUnavailable({ message: e.message }))
    const list = Array.isArray(statuses.body) ? statuses.body.map(obj) : []
    const latest = list[0]
    const state = str(latest?.["state"]) ?? "unknown"
    const d = obj(dep.body)
    const sha = str(d["sha"])
    const deps = yield* gh.request("GET", `/repos/${s.repo}/deployments`, { query: { environment: s.environment, per_page: 30 } }).pipe(Effect.option)
    const all = deps._tag === "Some" && Array.isArray(deps.value.body) ? deps.value.body.map(obj) : []
    const created = (x: Obj) => ms(x["created_at"]) ?? 0
    const newer = all.filter((x) => created(x) > created(d)).sort((a, b) => created(b) - created(a))[0]
    return {
      failed: state === "failure" || state === "error",
      status: `deployment ${s.deploymentId}: ${state}`,
      revision: sha,
      newest: newer ? str(newer["sha"]) : sha,
      running: [],
      history: withEnds(all.filter((x) => created(x) < created(d) && str(x["sha"]) !== null).map((x) => ({ id: String(x["id"]), revision: str(x["sha"])!, deployedAt: created(x) }))),
      author: { login: str(obj(d["creator"])["login"]), repo: s.repo, sha },
      details: { deploymentId: s.deploymentId, environment: s.environment, ref: s.ref }
    } satisfies SourceState
  })

const argocd = (s: Extract<Events.SourceRef, { platform: "argocd" }>) =>
  Effect.gen(function*() {
    const opt = yield* Effect.serviceOption(ArgoCd)
    if (opt._tag === "None") return yield* unavailable("Argo CD")
    const app = obj(yield* Effect.mapError(opt.value.get(s.app, s.namespace ?? undefined), (e) => new SourceUnavailable({ message: e.message })))
    const meta = obj(app["metadata"])
    const spec = obj(app["spec"])
    const status = obj(app["status"])
    const op = obj(status["operationState"])
    const phase = str(op["phase"])
    const health = str(obj(status["health"])["status"])
    const synced = str(obj(status["sync"])["revision"])
    const opRevision = str(obj(op["syncResult"])["revision"]) ?? str(obj(obj(op["operation"])["sync"])["revision"])
    const revision = phase === "Failed" || phase === "Error" ? opRevision ?? synced : synced
    const history = Array.isArray(status["history"]) ? status["history"].map(obj) : []
    const source = obj(spec["source"])
    const owner = Array.isArray(meta["ownerReferences"]) ? meta["ownerReferences"].map(obj).find((o) => o["kind"] === "ApplicationSet") : undefined
    const automated = obj(spec["syncPolicy"])["automated"]
    return {
      failed: phase === "Failed" || phase === "Error" || health === "Degraded",
      status: `application ${s.app}: operation ${phase ?? "none"}, health ${health ?? "?"}, synced ${synced ?? "?"}`,
      revision,
      newest: opRevision ?? synced,
      running: phase === "Running" ? [`a sync of ${s.app} is running`] : [],
      history: withEnds(history.flatMap((h) => {
        const rev = str(h["revision"])
        const at = ms(h["deployedAt"])
        return rev !== null && at !== null ? [{ id: String(h["id"]), revision: rev, deployedAt: at }] : []
      })),
      author: { login: null, repo: (() => { const u = str(source["repoURL"]); return u === null ? null : GitOps.githubRepoOf(u) ?? null })(), sha: revision },
      details: {
        app: s.app,
        namespace: str(meta["namespace"]) ?? s.namespace,
        repoURL: str(source["repoURL"]),
        targetRevision: str(source["targetRevision"]),
        applicationSet: owner ? str(owner["name"]) : null,
        health,
        autoSync: automated !== undefined && obj(automated)["enabled"] !== false
      }
    } satisfies SourceState
  })

const flux = (s: Extract<Events.SourceRef, { platform: "flux" }>) =>
  Effect.gen(function*() {
    const opt = yield* Effect.serviceOption(FluxKube)
    if (opt._tag === "None") return yield* unavailable("Flux (FluxKube)")
    const type = s.kind === "HelmRelease" ? GitOps.HelmRelease : GitOps.Kustomization
    const apiVersion = s.apiVersion ?? GitOps.apiVersion(type)
    const o = obj(yield* Effect.mapError(opt.value.get(type, s.namespace, s.name), (e) => new SourceUnavailable({ message: e.message })))
    const spec = obj(o["spec"])
    const status = obj(o["status"])
    const ready = (Array.isArray(status["conditions"]) ? status["conditions"].map(obj) : []).find((c) => c["type"] === "Ready")
    const strip = (r: string | null) => (r === null ? null : /(?:^|@)sha1:([0-9a-f]+)$/.exec(r)?.[1] ?? r)
    const attempted = strip(str(status["lastAttemptedRevision"]))
    const applied = strip(str(status["lastAppliedRevision"]))
    const history = Array.isArray(status["history"]) ? status["history"].map(obj) : []
    const sourceRef = obj(spec["sourceRef"])
    return {
      failed: ready?.["status"] === "False",
      status: `${s.kind} ${s.namespace}/${s.name}: Ready=${String(ready?.["status"] ?? "?")} (${String(ready?.["reason"] ?? "")}), attempted ${attempted ?? "?"}, applied ${applied ?? "?"}`,
      revision: attempted,
      newest: attempted,
      running: ready?.["reason"] === "Progressing" ? [`${s.kind} ${s.name} is progressing`] : [],
      history: withEnds(history.flatMap((h) => {
        const rev = strip(str(h["revision"]) ?? str(h["chartVersion"]))
        const at = ms(h["firstReconciled"]) ?? ms(h["firstDeployed"])
        return rev !== null && at !== null ? [{ id: rev, revision: rev, deployedAt: at }] : []
      })),
      author: { login: null, repo: null, sha: attempted },
      details: { kind: s.kind, namespace: s.namespace, name: s.name, apiVersion, suspended: spec["suspend"] === true, sourceKind: str(sourceRef["kind"]), sourceName: str(sourceRef["name"]) }
    } satisfies SourceState
  })

/** The Spinnaker statuses that mean a failed execution. */
export const SPINNAKER_FAILED: ReadonlyArray<string> = ["TERMINAL", "FAILED_CONTINUE", "STOPPED"]

const spinnaker = (s: Extract<Events.SourceRef, { platform: "spinnaker" }>) =>
  Effect.gen(function*() {
    const opt = yield* Effect.serviceOption(SpinnakerGate)
    if (opt._tag === "None") return yield* unavailable("Spinnaker Gate")
    const gate = opt.value
    const wrap = <A>(e: Effect.Effect<A, { readonly message: string }>) => Effect.mapError(e, (x) => new SourceUnavailable({ message: x.message }))
    const x = yield* wrap(gate.execution(s.executionId))
    const all = yield* wrap(gate.executions(s.application, 50))
    const t = (e: { buildTime: number | null; startTime: number | null }) => e.startTime ?? e.buildTime ?? 0
    const same = all.filter((e) => e.name === x.name)
    const newer = same.filter((e) => e.id !== x.id && t(e) > t(x)).sort((a, b) => t(b) - t(a))[0]
    const revision = x.trigger.parameters["revision"] ?? null
    return {
      failed: SPINNAKER_FAILED.includes(x.status),
      status: `execution ${x.id} of ${x.name}: ${x.status}`,
      revision,
      newest: newer ? newer.trigger.parameters["revision"] ?? null : revision,
      running: all.filter((e) => e.id !== x.id && (e.status === "RUNNING" || e.status === "NOT_STARTED")).map((e) => `execution ${e.id} of ${e.name} is ${e.status}`),
      history: withEnds(same.filter((e) => e.status === "SUCCEEDED" && e.trigger.parameters["revision"] !== undefined).map((e) => ({ id: e.id, revision: e.trigger.parameters["revision"]!, deployedAt: e.endTime ?? t(e) }))),
      author: { login: x.trigger.user, repo: null, sha: revision },
      details: { application: s.application, pipeline: x.name, executionId: x.id }
    } satisfies SourceState
  })

/** The services a source may use (each optional). */
export type Clients = GitHub | ArgoCd | FluxKube | SpinnakerGate

/** Reads the source of an event. */
export const inspect = (source: Events.SourceRef): Effect.Effect<SourceState, SourceUnavailable> =>
  (source.platform === "github"
    ? source.kind === "workflow_run" ? githubWorkflow(source) : githubDeployment(source)
    : source.platform === "argocd"
    ? argocd(source)
    : source.platform === "flux"
    ? flux(source)
    : spinnaker(source)) as Effect.Effect<SourceState, SourceUnavailable>
