/**
 * `deploy.github-actions` — "Detects failed deploy workflows via the GitHub Actions API —
 * classifies the failure (test_failure, build_failure, deploy_step_failure, infra_timeout),
 * fetches failed job logs, triggers rollback workflow_dispatch when a previous successful run
 * exists and rollback is enabled, or escalates with a structured summary."
 *
 * Composed from the package's exported parts:
 *
 * 1. **Detect** — `WorkflowRuns` (conditional polling with ETag, default every 60 s) and/or
 *    `WorkflowRunWebhook` (`X-Hub-Signature-256` on the raw bytes, constant time). Each failed
 *    run is claimed by run id in the GuardrailStore: emitted once, ever (across restarts and
 *    replicas). Before the first poll, the token's permissions are checked (`Permissions`) and
 *    audited (`github.permissions`).
 * 2. **Diagnose** — `WorkflowRunDiagnoser`: the run, jobs and steps, the failed job's log tail
 *    (redacted), the previous successful run of the same workflow and branch.
 * 3. **Classify** — `WorkflowFailure`: test_failure 0.90, build_failure 0.88,
 *    deploy_step_failure 0.86, infra_timeout 0.82, in the seed's order; else escalate.
 * 4. **Remediate** — `WorkflowRollback`: dispatch `rollbackWorkflowFile` with inputs
 *    `triggered_by=byteport-agent` and `failed_run_id` (and `return_run_details`), gated by
 *    `Guardrail.requireOptIn("rollbackEnabled")` (default false) and the action kind's
 *    once-per-failed-run budget; else escalate with class, branch, actor and run URL.
 * 5. **Verify** — `RollbackRunSucceeded`: the dispatched run completes with success (polled
 *    every 30 s up to 20 min by default).
 *
 * @since 0.1.0
 */
import { type ActionHandler, ActionRegistry, type Classification, Detector, type Fact, Guardrail, type GuardrailStore, Notifier, Runbook, Verifier } from "@byteport/core"
import { type Duration, Effect, type Layer, type Schedule } from "effect"
import * as DispatchWorkflow from "../actions/DispatchWorkflow"
import * as WorkflowFailure from "../classifiers/WorkflowFailure"
import * as WorkflowRuns from "../detectors/WorkflowRuns"
import * as WorkflowRunDiagnoser from "../diagnosers/WorkflowRunDiagnoser"
import type { GitHub } from "../github/GitHub"
import * as Permissions from "../github/Permissions"
import * as WorkflowRollback from "../remediators/WorkflowRollback"
import * as RollbackRunSucceeded from "../verifiers/RollbackRunSucceeded"

/** The runbook id. */
export const ID = "deploy.github-actions"
/** The family (shared with the other delivery runbooks). */
export const FAMILY = "deploy"
/** The opt-in flag of the rollback (a boolean configuration key, default false). */
export const ROLLBACK_FLAG = "rollbackEnabled"

/** The services the runbook needs besides core's. */
export type Services = GitHub | GuardrailStore.GuardrailStore | Notifier.Notifier

/** Options (every seed number is a default). */
export interface Options {
  /** `owner/name`. */
  readonly repo: string
  /** The deploy workflows watched (file names or paths; default `["deploy.yml"]`). */
  readonly workflows?: ReadonlyArray<string>
  /** Only these branches (default all). */
  readonly branches?: ReadonlyArray<string>
  /** The rollback workflow dispatched (default `rollback.yml`). */
  readonly rollbackWorkflowFile?: string
  /** The classes that roll back (default all four). */
  readonly rollbackClasses?: ReadonlyArray<WorkflowFailure.Class>
  /** The opt-in flag's configuration key (default `rollbackEnabled`). */
  readonly rollbackFlag?: string
  /** Classifier patterns and confidences. */
  readonly patterns?: Partial<WorkflowFailure.Patterns>
  readonly confidences?: Partial<Record<WorkflowFailure.Class, number>>
  /** Lines of the failed job's log kept (default 100). */
  readonly logTailLines?: number
  /** Polling: schedule (default every 60 s), look-back (default 24 h); `false` turns polling off (webhook only). */
  readonly poll?: false | { readonly schedule?: Schedule.Schedule<unknown>; readonly lookbackMs?: number }
  /** More detectors (e.g. a `WorkflowRunWebhook` receiver's). */
  readonly detectors?: ReadonlyArray<Detector.Detector<never, Services>>
  /** Check the token's permissions before the first poll (default true). */
  readonly checkPermissions?: boolean
  /** Verification: poll interval and bound (default 30 s up to 20 min). */
  readonly verifyEvery?: Duration.Input
  readonly verifyUpTo?: Duration.Input
  /** Mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  /** How long a workflow@branch target stays leased after an incident (default 5 minutes). */
  readonly cooldown?: Duration.Input
}

/** The start-up permission check, audited as `github.permissions` (a warning when one is missing). */
export const permissionCheck = (options: Options): Effect.Effect<Permissions.Report, never, GitHub | Notifier.Notifier> =>
  Effect.gen(function*() {
    const workflows = options.workflows ?? ["deploy.yml"]
    const report = yield* Permissions.check(options.repo, { workflow: workflows[0]!.split("/").pop()!, rollback: true })
    const notifier = yield* Notifier.Notifier
    yield* notifier.audit("github.permissions", { runbook: ID, repo: report.repo, ok: report.ok, results: report.results.map((r) => ({ ...r })) })
    if (!report.ok) {
      const missing = report.results.filter((r) => r.status === "missing").map((r) => `${r.permission}${r.accepted ? ` (X-Accepted-GitHub-Permissions: ${r.accepted})` : ""}`)
      yield* Effect.logWarning(`${ID}: the GitHub token lacks ${missing.join(", ")} on ${options.repo}`)
    }
    return report
  })

/** The escalation's next steps: class, branch, actor, run URL. */
export const nextSteps = (classification: Classification.Classification, facts: Fact.Facts<WorkflowRunDiagnoser.WorkflowRunFacts>): ReadonlyArray<string> => {
  const run = facts.run?._tag === "Known" ? facts.run.value : undefined
  const cls = classification._tag === "Classified" ? classification.class : classification._tag === "Indeterminate" ? "indeterminate" : "unclassified"
  return [
    `class: ${cls}`,
    `branch: ${run?.branch ?? "(unknown)"}`,
    `actor: ${run?.actor ?? "(unknown)"}`,
    `run: ${run?.url ?? "(unknown)"}`,
    `to let BytePort roll back by workflow_dispatch, set ${ROLLBACK_FLAG}=true and give the token Actions: write`
  ]
}

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<WorkflowRunDiagnoser.WorkflowRunFacts, Services> => {
  const workflows = options.workflows ?? ["deploy.yml"]
  const detectors: Array<Detector.Detector<never, Services>> = [...(options.detectors ?? [])]
  if (options.poll !== false) {
    const poll = WorkflowRuns.make({
      repo: options.repo,
      workflows,
      ...(options.branches ? { branches: options.branches } : {}),
      ...(options.poll?.schedule ? { schedule: options.poll.schedule } : {}),
      ...(options.poll?.lookbackMs !== undefined ? { lookbackMs: options.poll.lookbackMs } : {})
    })
    detectors.unshift(options.checkPermissions === false ? poll : WorkflowRuns.startingWith(permissionCheck(options), poll))
  }
  return Runbook.make<WorkflowRunDiagnoser.WorkflowRunFacts, Services>({
    id: ID,
    family: FAMILY,
    description: "Detects failed deploy workflows via the GitHub Actions API: test_failure, build_failure, deploy_step_failure, infra_timeout; rollback workflow_dispatch when opted in",
    signals: [WorkflowRuns.SIGNAL_TYPE],
    precedence: 20,
    detector: Detector.merge("deploy.github-actions", detectors),
    diagnose: WorkflowRunDiagnoser.make({ ...(options.logTailLines !== undefined ? { logTailLines: options.logTailLines } : {}) }),
    classify: WorkflowFailure.classifier({ ...(options.patterns ? { patterns: options.patterns } : {}), ...(options.confidences ? { confidences: options.confidences } : {}) }),
    remediate: WorkflowRollback.make({
      ...(options.rollbackWorkflowFile !== undefined ? { rollbackWorkflowFile: options.rollbackWorkflowFile } : {}),
      ...(options.rollbackClasses ? { rollbackClasses: options.rollbackClasses } : {})
    }),
    guardrails: [
      Guardrail.minConfidence(0.7),
      Guardrail.requireOptIn(options.rollbackFlag ?? ROLLBACK_FLAG, { what: "rollback by workflow_dispatch" })
    ],
    verify: RollbackRunSucceeded.make(),
    verifySchedule: Verifier.every(options.verifyEvery ?? "30 seconds", options.verifyUpTo ?? "20 minutes"),
    nextSteps,
    defaultMode: options.defaultMode ?? "dry_run",
    ...(options.cooldown !== undefined ? { cooldown: options.cooldown } : {})
  })
}

/** The action handlers of the runbook. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<GitHub>> => [DispatchWorkflow.make()]

/** The registry of the runbook's handlers (add yours in `extra`). */
export const handlersLayer = (): Layer.Layer<ActionRegistry.ActionRegistry, never, GitHub> => ActionRegistry.layer<GitHub>({ handlers: handlers(), checks: [] })
