/**
 * The plans of `k8s.crashloop.five-branch`, per class:
 *
 * - config_error_missing_env → escalate, naming each variable and its source (the ConfigMap or
 *   Secret key, envFrom, a literal, or "not declared"); nothing is written.
 * - image_pull_failure → `k8s.rollbackDeployment` to the previous revision, only when the last
 *   rollout changed this container's image and the previous revision ran (it has Ready replicas);
 *   otherwise escalate saying which condition failed.
 * - liveness_probe_misconfigured → `k8s.loosenProbe`: a startupProbe with 2× the budget when the
 *   kills come before the first Ready, else 2× `timeoutSeconds` on timeouts; a handler that
 *   answers 4xx/5xx, or refuses connections after the pod was Ready, is a ChangeProposal (the
 *   handler is wrong; loosening would only hide it); other failures escalate.
 * - oom_at_startup → `k8s.patchMemoryLimit` ×`bumpFactor` (1.5) of the container (the OOM
 *   runbook's `bumpAction`, so the kind's guardrails apply: ≤2× baseline, ≤80% of node
 *   allocatable, 1 per workload container per 24 h).
 * - dependency_not_ready → hold, the workload unchanged: `WaitFor` the `k8s.dependencyHealthy`
 *   check (ready EndpointSlice endpoints, else a TCP connect) up to `dependencyWaitSeconds` (600),
 *   then one `k8s.restartPod` of the held pod; a timeout (or a denied restart) escalates.
 *
 * Bare pods escalate (`Leases.barePodEscalation`); so do Unclassified and Indeterminate results.
 *
 * @since 0.3.0
 */
import { type Action, type ChangeProposal, type Classification, Fact, Plan, type Signal } from "@byteport/core"
import type { V1Container } from "@kubernetes/client-node"
import * as FiveBranch from "../classifiers/fiveBranch"
import * as LoosenProbe from "../actions/loosenProbe"
import * as RestartPod from "../actions/restartPod"
import * as RollbackDeployment from "../actions/rollbackDeployment"
import * as Dependency from "../probes/dependency"
import { bumpAction } from "./oom"
import * as Leases from "../targets/leases"
import * as Targets from "../targets/Targets"

/** The runbook id. */
export const RUNBOOK_ID = "k8s.crashloop.five-branch"

/** Remediation settings. */
export interface Remediation {
  /** The memory bump factor for oom_at_startup (1.5). */
  readonly bumpFactor: number
  /** How long the hold waits for the dependency (600 s). */
  readonly dependencyWaitSeconds: number
  /** How often the hold checks the dependency (15 s). */
  readonly dependencyPollSeconds: number
}

/** The defaults. */
export const defaults: Remediation = { bumpFactor: 1.5, dependencyWaitSeconds: 600, dependencyPollSeconds: 15 }

const clusterOf = (target: { readonly ref: string }) => target.ref.split("/")[0] ?? "default"

/** The container spec as LoosenProbe reads it (only the probes matter). */
const containerSpec = (c: FiveBranch.ContainerFacts): V1Container => ({
  name: c.container,
  ...(c.livenessProbe ? { livenessProbe: c.livenessProbe } : {}),
  ...(c.startupProbe ? { startupProbe: c.startupProbe } : {})
})

/** The lease baseline of the probe budget: liveness timeout and time to the first kill. */
export const probeBaseline = (c: FiveBranch.ContainerFacts | undefined): { livenessTimeoutSeconds: number | null; startupBudgetSeconds: number | null } => {
  const spec = c ? containerSpec(c) : undefined
  return {
    livenessTimeoutSeconds: spec?.livenessProbe ? LoosenProbe.current(spec, "timeoutSeconds") ?? null : null,
    startupBudgetSeconds: spec?.livenessProbe ? LoosenProbe.current(spec, "startupBudgetSeconds") ?? null : null
  }
}

/** The ChangeProposal for a liveness handler that answers wrongly. */
export const handlerProposal = (signal: Signal.Signal, c: FiveBranch.ContainerFacts, why: string, workload: string): ChangeProposal.ChangeProposal => ({
  title: `Fix the liveness probe handler of ${workload} container ${c.container}`,
  body: [
    `The liveness probe of container \`${c.container}\` fails because its handler answers wrongly: ${why}.`,
    "",
    "```json",
    JSON.stringify(c.livenessProbe ?? {}, null, 2),
    "```",
    "",
    "Point the probe at an endpoint the app serves (path and port), or fix the endpoint. Loosening the probe's timing would only delay the kills.",
    "",
    `_Proposed by BytePort (${RUNBOOK_ID}); never applied automatically._`
  ].join("\n"),
  target: signal.target
})

const escalate = (cls: string, summary: string, reason: string, nextSteps: ReadonlyArray<string> = []) =>
  Plan.make(RUNBOOK_ID, cls, summary, Plan.escalate(reason, nextSteps))

/** The plan for a classification. */
export const plan = (
  c: Classification.Classification,
  facts: Fact.Facts<FiveBranch.FiveBranchFacts>,
  signal: Signal.Signal,
  settings: Remediation = defaults
): Plan.Plan => {
  if (c._tag !== "Classified") {
    const why = c._tag === "Indeterminate" ? `facts needed by ${c.rule} are unknown (${c.missing.join(", ")})` : c.reasons.join("; ")
    return escalate("unclassified", "escalate: no class matched with confidence ≥ the minimum", `crash loop not classified: ${why}`)
  }
  const cls = c.class
  const pod = Fact.value(facts.pod)
  const container = Fact.value(facts.container)
  const workload = pod?.workload ? `${pod.workload.kind.toLowerCase()}/${pod.workload.name}` : `pod/${pod?.pod ?? "?"}`
  if (cls === "config_error_missing_env") {
    const vars = FiveBranch.variablesOf(c.evidence)
    const named = vars.map((v) => `${v.variable} (${v.source})`).join(", ")
    return escalate(
      cls,
      `escalate: ${named || "a required env var"} missing`,
      `${workload} container ${container?.container ?? "?"} exits at boot: required env ${named || "variable"} is not set`,
      vars.map((v) => `set ${v.variable}: ${v.source.startsWith("not declared") ? "add it to the container's env" : `provide it in ${v.source}`}; BytePort never invents configuration`)
    )
  }
  if (Leases.isBarePod(signal.target) || pod?.workload === null || pod?.workload === undefined) {
    return escalate(cls, "escalate: bare pod", Leases.barePodEscalation(signal.target))
  }
  if (cls === "image_pull_failure") {
    const rollout = Fact.value(facts.rollout)
    const name = container?.container ?? pod.container
    const change = rollout?.imageChanges.find((x) => x.container === name)
    if (pod.workload.kind !== "Deployment" || !rollout) return escalate(cls, "escalate: not a Deployment", `${workload} is not a Deployment: no revision to roll back to`)
    if (!change || !rollout.current || !rollout.previous) {
      return escalate(cls, "escalate: the last rollout did not change the image", `the image of container ${name} was not changed by the last rollout (revision ${rollout.current?.revision ?? "?"}): a rollback would not fix the pull`, [
        "check the image reference, the registry and the pull secrets (k8s.image-pull)"
      ])
    }
    if (rollout.previous.readyReplicas <= 0 && rollout.previous.availableReplicas <= 0) {
      return escalate(cls, "escalate: the old image never ran", `revision ${rollout.previous.revision} (${change.before ?? "?"}) has no Ready replicas: it is not shown to run`)
    }
    return Plan.make(
      RUNBOOK_ID,
      cls,
      `roll ${workload} back to revision ${rollout.previous.revision} (${change.before}) from ${change.after}`,
      Plan.act(RollbackDeployment.action({
        target: signal.target,
        toRevision: rollout.previous.revision,
        fromRevision: rollout.current.revision,
        resourceVersion: pod.workload.resourceVersion,
        failingImages: change.after ? [{ container: name, image: change.after }] : [],
        sha: rollout.current.sha,
        reason: `image_pull_failure: ${change.after} cannot be pulled; ${change.before} ran`
      }))
    )
  }
  if (cls === "liveness_probe_misconfigured") {
    if (!container) return escalate(cls, "escalate: container unknown", "the container's probes are unknown")
    const ev = c.evidence as { failure?: string | null; statusCode?: number | null; beforeFirstReady?: boolean }
    if (ev.failure === "status" || (ev.failure === "refused" && ev.beforeFirstReady === false)) {
      const why = ev.failure === "status" ? `HTTP ${ev.statusCode}` : "connection refused while the app was up"
      return Plan.make(RUNBOOK_ID, cls, `propose a fix of the liveness handler (${why})`, Plan.propose(handlerProposal(signal, container, why, workload)))
    }
    const field: LoosenProbe.Field | undefined = ev.beforeFirstReady ? "startupBudgetSeconds" : ev.failure === "timeout" ? "timeoutSeconds" : undefined
    if (!field) return escalate(cls, "escalate: no timing to loosen", `liveness kills after the pod was Ready with failure ${ev.failure ?? "unknown"}: not a timing problem BytePort loosens`)
    const base = probeBaseline(container)
    const params = LoosenProbe.paramsFor(containerSpec(container), field, {
      baseline: (field === "timeoutSeconds" ? base.livenessTimeoutSeconds : base.startupBudgetSeconds) ?? undefined,
      reason: field === "startupBudgetSeconds" ? "liveness kills before the first Ready" : "liveness probe timeouts"
    })
    if (!params) return escalate(cls, "escalate: nothing to loosen", `container ${container.container} has no liveness ${field} to loosen`)
    const target = Leases.leaseTarget(LoosenProbe.KIND, signal.target, container.container)
    const action: Action.Action = {
      kind: LoosenProbe.KIND,
      target,
      params: { ...params },
      idempotencyKey: `${LoosenProbe.KIND}:${target.ref}:${field}:${params.from}->${params.to}`,
      precondition: { resourceVersion: pod.workload.resourceVersion },
      timeout: 60_000,
      description: `loosen ${workload} container ${container.container} liveness ${field} ${params.from}s → ${params.to}s`
    }
    return Plan.make(RUNBOOK_ID, cls, action.description, Plan.act(action))
  }
  if (cls === "oom_at_startup") {
    const node = Fact.value(facts.node)
    const bump = bumpAction(signal, pod, settings.bumpFactor, `oom_at_startup: OOMKilled at start-up`, node?.allocatableMemoryBytes ?? null)
    const action = { ...bump, target: Leases.leaseTarget(bump.kind, signal.target, pod.container) }
    return Plan.make(RUNBOOK_ID, cls, `bump the memory limit of ${workload} container ${pod.container} ×${settings.bumpFactor}`, Plan.act(action))
  }
  if (cls === "dependency_not_ready") {
    const dep = Fact.value(facts.dependency)
    if (!dep || !container) return escalate(cls, "escalate: dependency unknown", "the dependency is unknown")
    const what = dep.service ? `service ${dep.service.namespace}/${dep.service.name}` : `${dep.host}:${dep.port ?? "?"}`
    const podTarget = Targets.pod({ cluster: clusterOf(signal.target), namespace: pod.namespace, name: pod.pod })
    const restart: Action.Action = {
      kind: RestartPod.KIND,
      target: podTarget,
      params: { uid: container.uid, reason: `dependency ${what} is healthy again` },
      idempotencyKey: `${RestartPod.KIND}:${podTarget.ref}:${container.uid}`,
      precondition: { uid: container.uid },
      timeout: 60_000,
      description: `restart the held pod ${pod.namespace}/${pod.pod} once ${what} is healthy`
    }
    const wait = Plan.waitFor(Dependency.checkRef(signal.target, dep, pod.namespace), {
      timeoutMs: settings.dependencyWaitSeconds * 1000,
      intervalMs: settings.dependencyPollSeconds * 1000
    })
    return Plan.make(
      RUNBOOK_ID,
      cls,
      `hold ${workload} unchanged until ${what} is healthy (≤ ${Math.round(settings.dependencyWaitSeconds / 60)} min), then restart pod ${pod.pod}`,
      Plan.fallback(
        Plan.seq(wait, Plan.act(restart)),
        Plan.escalate(`${what} did not become healthy within ${Math.round(settings.dependencyWaitSeconds / 60)} min (or the restart was refused); ${workload} was left unchanged`, [
          `bring ${what} back (${dep.line})`
        ]),
        { on: ["failed", "denied"] }
      )
    )
  }
  return escalate(cls, `escalate: ${cls}`, `no action applies to ${cls}`)
}
