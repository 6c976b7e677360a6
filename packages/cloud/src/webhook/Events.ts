/**
 * `DeployEvents`: the deployment webhooks `deploy.webhook.rollback` ingests, decoded from their
 * documented wire shapes (their `null`s included) into one `DeployEvent`:
 *
 * - GitHub `workflow_run` (`action: completed`; conclusion `failure` / `timed_out` → failed,
 *   `success` → succeeded) and `deployment_status` (state `failure` / `error` → failed,
 *   `success` → succeeded). A deployment whose `payload` names a Kubernetes Deployment
 *   (`{"kubernetes": {"cluster"?, "namespace", "deployment"}}`, cluster default `default`) targets that workload.
 * - Argo CD notifications (argocd-notifications' webhook service with a template that sends the
 *   Application, `{"trigger": "on-sync-failed", "app": {{toJson .app}}}`, or the flat template
 *   documented in the README): operation phase `Failed` / `Error`, health `Degraded` or a
 *   failure trigger → failed; `on-deployed` / phase `Succeeded` and health `Healthy` → succeeded.
 * - Flux notification-controller events (`generic` / `generic-hmac` providers): severity `error`
 *   → failed; `info` with reason `ReconciliationSucceeded` → succeeded; the revision from
 *   `metadata.revision` (`main@sha1:<sha>` → `<sha>`).
 * - Spinnaker echo webhooks: `details.type` `orca:pipeline:failed` → failed,
 *   `orca:pipeline:complete` → succeeded.
 *
 * A payload only names what failed: the runbook re-reads the source before it acts.
 *
 * @since 0.3.0
 */
import { TargetRef } from "@byteport/core"
import { targetOf as workflowTargetOf } from "../detectors/WorkflowRuns"

/** The platforms the receiver accepts. */
export type Platform = "github" | "argocd" | "flux" | "spinnaker"

/** The signal type of a failed deployment (the runbook's). */
export const SIGNAL_TYPE = "deploy.webhook.failed"

/** Target kinds. */
export const TargetKinds = {
  githubWorkflow: "github.workflow",
  githubEnvironment: "github.environment",
  argocdApplication: "argocd.application",
  fluxObject: "flux.object",
  spinnakerPipeline: "spinnaker.pipeline",
  k8sWorkload: "k8s.workload"
} as const

/** Where the source is re-read (per platform). */
export type SourceRef =
  | { readonly platform: "github"; readonly kind: "workflow_run"; readonly repo: string; readonly runId: number; readonly workflowPath: string; readonly branch: string | null }
  | { readonly platform: "github"; readonly kind: "deployment_status"; readonly repo: string; readonly deploymentId: number; readonly statusId: number; readonly environment: string; readonly ref: string | null; readonly workload?: { readonly cluster: string; readonly namespace: string; readonly name: string } | undefined }
  | { readonly platform: "argocd"; readonly app: string; readonly namespace: string | null }
  | { readonly platform: "flux"; readonly kind: string; readonly namespace: string; readonly name: string; readonly apiVersion: string | null }
  | { readonly platform: "spinnaker"; readonly application: string; readonly pipeline: string; readonly executionId: string }

/** A decoded delivery. */
export interface DeployEvent {
  readonly platform: Platform
  readonly outcome: "failed" | "succeeded"
  /** The event's name (`workflow_run`, `deployment_status`, the Argo CD trigger, the Flux reason, the echo type). */
  readonly event: string
  readonly target: TargetRef.TargetRef
  /** The revision the payload says was deployed (a commit SHA, a chart version …), when it names one. */
  readonly revision: string | null
  readonly source: SourceRef
  /** When it happened (epoch ms), when the payload says. */
  readonly at: number | null
  /** The payload's own words (a message, a conclusion). */
  readonly detail: string
  /** The identity of the failure (dedup across deliveries): the run, the status, the execution … */
  readonly failureKey: string
}

/** The result of decoding: an event, or why the delivery is not one (ignored, 202). */
export type Decoded = { readonly _tag: "Event"; readonly event: DeployEvent } | { readonly _tag: "Ignored"; readonly reason: string } | { readonly _tag: "Invalid"; readonly reason: string }

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined)
const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)
const time = (v: unknown): number | null => {
  if (typeof v === "number" && Number.isFinite(v)) return v
  if (typeof v === "string" && v.length > 0) {
    const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
    return Number.isFinite(n) ? n : null
  }
  return null
}
const ignored = (reason: string): Decoded => ({ _tag: "Ignored", reason })
const invalid = (reason: string): Decoded => ({ _tag: "Invalid", reason })
const ev = (event: DeployEvent): Decoded => ({ _tag: "Event", event })

/** The GitHub workflow conclusions that count as failed. */
export const GITHUB_FAILED_CONCLUSIONS: ReadonlyArray<string> = ["failure", "timed_out"]
/** The GitHub deployment states that count as failed. */
export const GITHUB_FAILED_STATES: ReadonlyArray<string> = ["failure", "error"]

/** Decodes a GitHub webhook (`X-GitHub-Event` names it). */
export const github = (eventName: string | undefined, body: unknown): Decoded => {
  const b = obj(body)
  if (!b) return invalid("body is not a JSON object")
  const repo = str(obj(b["repository"])?.["full_name"])
  if (eventName === "ping") return ignored("ping")
  if (eventName === "workflow_run") {
    const run = obj(b["workflow_run"])
    if (b["action"] !== "completed" || !run || !repo) return ignored("not a completed run")
    const id = num(run["id"])
    const path = str(run["path"])?.replace(/@.*$/, "")
    if (id === undefined || path === undefined) return invalid("workflow_run without id or path")
    const conclusion = str(run["conclusion"]) ?? "null"
    const branch = str(run["head_branch"]) ?? null
    const outcome = GITHUB_FAILED_CONCLUSIONS.includes(conclusion) ? "failed" : conclusion === "success" ? "succeeded" : undefined
    if (!outcome) return ignored(`conclusion ${conclusion}`)
    return ev({
      platform: "github",
      outcome,
      event: "workflow_run",
      target: workflowTargetOf(repo, path, branch),
      revision: str(run["head_sha"]) ?? null,
      source: { platform: "github", kind: "workflow_run", repo, runId: id, workflowPath: path, branch },
      at: time(run["updated_at"]) ?? time(run["created_at"]),
      detail: `workflow run ${id} (${str(run["name"]) ?? path}) concluded ${conclusion}`,
      failureKey: `github:run:${repo.toLowerCase()}:${id}`
    })
  }
  if (eventName === "deployment_status") {
    const status = obj(b["deployment_status"])
    const dep = obj(b["deployment"])
    if (!status || !dep || !repo) return invalid("deployment_status without deployment_status, deployment or repository")
    const state = str(status["state"]) ?? "null"
    const outcome = GITHUB_FAILED_STATES.includes(state) ? "failed" : state === "success" ? "succeeded" : undefined
    if (!outcome) return ignored(`deployment state ${state}`)
    const depId = num(dep["id"])
    const statusId = num(status["id"])
    const environment = str(status["environment"]) ?? str(dep["environment"])
    if (depId === undefined || statusId === undefined || environment === undefined) return invalid("deployment_status without ids or environment")
    const k8s = obj(obj(dep["payload"])?.["kubernetes"])
    const ns = str(k8s?.["namespace"])
    const name = str(k8s?.["deployment"])
    const cluster = str(k8s?.["cluster"]) ?? "default"
    const workload = ns && name ? { cluster, namespace: ns, name } : undefined
    return ev({
      platform: "github",
      outcome,
      event: "deployment_status",
      target: workload ? TargetRef.make(TargetKinds.k8sWorkload, `${cluster}/${ns}/Deployment/${name}`) : TargetRef.make(TargetKinds.githubEnvironment, `${repo}:${environment}`),
      revision: str(dep["sha"]) ?? null,
      source: { platform: "github", kind: "deployment_status", repo, deploymentId: depId, statusId, environment, ref: str(dep["ref"]) ?? null, ...(workload ? { workload } : {}) },
      at: time(status["created_at"]),
      detail: `deployment ${depId} to ${environment}: ${state}${str(status["description"]) ? ` (${String(status["description"])})` : ""}`,
      failureKey: `github:deployment:${repo.toLowerCase()}:${depId}:${state}`
    })
  }
  return ignored(`event ${eventName ?? "(none)"} is not workflow_run or deployment_status`)
}

/** The Argo CD notification triggers that mean a failure. */
export const ARGOCD_FAILED_TRIGGERS: ReadonlyArray<string> = ["on-sync-failed", "on-health-degraded"]

/** Decodes an Argo CD notification (the Application under `app`, or the flat template). */
export const argocd = (body: unknown): Decoded => {
  const b = obj(body)
  if (!b) return invalid("body is not a JSON object")
  const trigger = str(b["trigger"]) ?? null
  const app = obj(b["app"])
  const name = str(obj(app?.["metadata"])?.["name"]) ?? str(b["app"]) ?? str(b["application"])
  if (!name) return invalid("no application name (app.metadata.name or app)")
  const namespace = str(obj(app?.["metadata"])?.["namespace"]) ?? str(b["namespace"]) ?? null
  const status = obj(app?.["status"])
  const revision = str(obj(status?.["sync"])?.["revision"]) ?? str(b["revision"]) ?? null
  const health = str(obj(status?.["health"])?.["status"]) ?? str(b["healthStatus"]) ?? null
  const op = obj(status?.["operationState"])
  const phase = str(op?.["phase"]) ?? str(b["phase"]) ?? null
  const message = str(op?.["message"]) ?? str(b["message"]) ?? ""
  const at = time(op?.["finishedAt"]) ?? time(b["finishedAt"]) ?? time(b["at"])
  const failed = (trigger !== null && ARGOCD_FAILED_TRIGGERS.includes(trigger)) || phase === "Failed" || phase === "Error" || health === "Degraded"
  const succeeded = !failed && (trigger === "on-deployed" || (phase === "Succeeded" && health === "Healthy"))
  if (!failed && !succeeded) return ignored(`application ${name}: trigger ${trigger ?? "(none)"}, phase ${phase ?? "(none)"}, health ${health ?? "(none)"}`)
  return ev({
    platform: "argocd",
    outcome: failed ? "failed" : "succeeded",
    event: trigger ?? (failed ? "sync-failed" : "deployed"),
    target: TargetRef.make(TargetKinds.argocdApplication, namespace ? `${namespace}/${name}` : name),
    revision,
    source: { platform: "argocd", app: name, namespace },
    at,
    detail: `application ${name}: ${phase ?? "?"}/${health ?? "?"}${message ? `: ${message}` : ""}`,
    failureKey: `argocd:${namespace ?? ""}/${name}:${revision ?? "?"}:${at ?? "?"}:${failed ? "failed" : "ok"}`
  })
}

/** Strips Flux's revision format (`main@sha1:<sha>`, `sha1:<sha>`, `6.3.0@sha256:<digest>`) to the commit or version. */
export const fluxRevision = (r: string): string => {
  const git = /(?:^|@)sha1:([0-9a-f]+)$/.exec(r)
  if (git) return git[1]!
  const oci = /^(.+)@sha256:[0-9a-f]+$/.exec(r)
  return oci ? oci[1]! : r
}

/** Decodes a Flux notification-controller event. */
export const flux = (body: unknown): Decoded => {
  const b = obj(body)
  if (!b) return invalid("body is not a JSON object")
  const inv = obj(b["involvedObject"])
  const kind = str(inv?.["kind"])
  const name = str(inv?.["name"])
  const namespace = str(inv?.["namespace"])
  if (!inv || !kind || !name || !namespace) return invalid("event without involvedObject kind, name and namespace")
  const severity = str(b["severity"]) ?? "info"
  const reason = str(b["reason"]) ?? ""
  const meta = obj(b["metadata"])
  const rawRevision = str(meta?.["revision"]) ?? null
  const outcome = severity === "error" ? "failed" : severity === "info" && reason === "ReconciliationSucceeded" ? "succeeded" : undefined
  if (!outcome) return ignored(`${kind} ${namespace}/${name}: ${severity} ${reason}`)
  const at = time(b["timestamp"])
  const revision = rawRevision === null ? null : fluxRevision(rawRevision)
  return ev({
    platform: "flux",
    outcome,
    event: reason || severity,
    target: TargetRef.make(TargetKinds.fluxObject, `${namespace}/${kind}/${name}`),
    revision,
    source: { platform: "flux", kind, namespace, name, apiVersion: str(inv["apiVersion"]) ?? null },
    at,
    detail: `${kind} ${namespace}/${name}: ${reason}${str(b["message"]) ? `: ${String(b["message"])}` : ""}`,
    failureKey: `flux:${namespace}/${kind}/${name}:${revision ?? "?"}:${reason}:${outcome}`
  })
}

/** Decodes a Spinnaker echo webhook. */
export const spinnaker = (body: unknown): Decoded => {
  const b = obj(body)
  const details = obj(b?.["details"])
  if (!b || !details) return invalid("body without details")
  const type = str(details["type"]) ?? ""
  const outcome = type === "orca:pipeline:failed" ? "failed" : type === "orca:pipeline:complete" ? "succeeded" : undefined
  if (!outcome) return ignored(`echo type ${type || "(none)"}`)
  const content = obj(b["content"])
  const execution = obj(content?.["execution"])
  const application = str(details["application"]) ?? str(execution?.["application"])
  const executionId = str(content?.["executionId"]) ?? str(execution?.["id"])
  const pipeline = str(execution?.["name"])
  if (!application || !executionId || !pipeline) return invalid("echo event without application, execution id or pipeline name")
  const trigger = obj(execution?.["trigger"])
  const revision = str(obj(trigger?.["parameters"])?.["revision"]) ?? str(trigger?.["hash"]) ?? null
  return ev({
    platform: "spinnaker",
    outcome,
    event: type,
    target: TargetRef.make(TargetKinds.spinnakerPipeline, `${application}/${pipeline}`),
    revision,
    source: { platform: "spinnaker", application, pipeline, executionId },
    at: time(execution?.["endTime"]) ?? time(details["created"]),
    detail: `pipeline ${pipeline} of ${application}: execution ${executionId} ${String(execution?.["status"] ?? type)}`,
    failureKey: `spinnaker:${application}:${executionId}:${outcome}`
  })
}

/** Decodes a delivery of a platform. */
export const decode = (platform: Platform, headers: Readonly<Record<string, string | undefined>>, body: unknown): Decoded =>
  platform === "github" ? github(headers["x-github-event"], body) : platform === "argocd" ? argocd(body) : platform === "flux" ? flux(body) : spinnaker(body)
