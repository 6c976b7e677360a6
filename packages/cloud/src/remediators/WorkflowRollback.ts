/**
 * `WorkflowRollback`: the plan of `deploy.github-actions`. With a previous successful run of the
 * same workflow and branch: dispatch the rollback workflow (`rollbackWorkflowFile`) on the
 * branch with inputs `triggered_by=byteport-agent` and `failed_run_id`, asking for the run's
 * details; the runbook's `Guardrail.requireOptIn("rollbackEnabled")` (default false) decides
 * whether it may run, and a denial escalates. Without one (or for a class not configured to roll
 * back): escalate with the class, branch, actor and run URL.
 *
 * @since 0.1.0
 */
import { type Classification, type Fact, Plan, type Signal } from "@byteport/core"
import { Effect } from "effect"
import * as DispatchWorkflow from "../actions/DispatchWorkflow"
import type { Class } from "../classifiers/WorkflowFailure"
import type { WorkflowRunFacts } from "../diagnosers/WorkflowRunDiagnoser"

/** The runbook id (the plan's `runbook`). */
export const RUNBOOK_ID = "deploy.github-actions"

/** Options of {@link make}. */
export interface Options {
  /** The rollback workflow (file name or id), default `rollback.yml`. */
  readonly rollbackWorkflowFile?: string
  /** The classes that roll back (default all four, as the seed). */
  readonly rollbackClasses?: ReadonlyArray<Class>
}

/** The default rollback workflow file. */
export const DEFAULT_ROLLBACK_WORKFLOW = "rollback.yml"

/** The structured summary of a failed run: class, branch, actor, run URL. */
export const summaryOf = (cls: string, run: WorkflowRunFacts["run"] | undefined): string =>
  run === undefined
    ? `${cls}: the run could not be read`
    : `${cls} in ${run.name ?? run.workflowPath} on ${run.branch ?? "(no branch)"} of ${run.repo}, actor ${run.actor ?? "(unknown)"}, run ${run.url}`

/** The remediator. */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<WorkflowRunFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => {
    const cls = classification.class
    const run = facts.run._tag === "Known" ? facts.run.value : undefined
    const summary = summaryOf(cls, run)
    const escalate = (why: string): Plan.Plan => ({
      runbook: RUNBOOK_ID,
      class: cls,
      summary: `escalate: ${summary}`,
      root: Plan.escalate(`${summary}: ${why}`, [
        `open the run: ${run?.url ?? "(unknown)"}`,
        `fix forward on ${run?.branch ?? "the branch"}, or roll back by hand`
      ])
    })
    if (run === undefined || run.branch === null) return escalate("no branch to roll back")
    const classes = options.rollbackClasses ?? ["test_failure", "build_failure", "deploy_step_failure", "infra_timeout"]
    if (!classes.includes(cls as Class)) return escalate(`${cls} is not configured to roll back`)
    if (facts.previousSuccess._tag !== "Known") return escalate(`whether a previous successful run exists is unknown (${facts.previousSuccess.reason})`)
    const prev = facts.previousSuccess.value
    if (prev === null) return escalate(`no previous successful run of ${run.workflowPath} on ${run.branch}`)
    const workflow = options.rollbackWorkflowFile ?? DEFAULT_ROLLBACK_WORKFLOW
    return {
      runbook: RUNBOOK_ID,
      class: cls,
      summary: `roll back ${run.branch} of ${run.repo} by ${workflow} (failed run ${run.id}; last success ${prev.id} at ${prev.sha.slice(0, 7)})`,
      root: Plan.act(DispatchWorkflow.action(signal.target, {
        repo: run.repo,
        workflow,
        ref: run.branch,
        inputs: { triggered_by: "byteport-agent", failed_run_id: String(run.id) },
        returnRunDetails: true,
        failedRunId: run.id
      }, { failedRunId: run.id, failedSha: run.sha, previousSuccessRunId: prev.id, previousSuccessSha: prev.sha }))
    }
  })
