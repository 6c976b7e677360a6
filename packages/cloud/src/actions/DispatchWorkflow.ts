/**
 * `github.dispatchWorkflow`: runs a workflow by `workflow_dispatch` (a rollback workflow) with
 * string inputs on a ref. Asks GitHub for the new run's details (`return_run_details`); a `204`
 * (a GitHub that does not return them) leaves the run to be found among the workflow's
 * `workflow_dispatch` runs created since the dispatch (`findDispatchedRun`). dry_run writes
 * nothing (GitHub has no server-side dry run for dispatches).
 *
 * Action-kind guardrail: one dispatch per failed run, ever (a `Guardrail.rateLimit` of 1 in a
 * ten-year window keyed by repository and `failed_run_id`, in the shared GuardrailStore), so a
 * run acted on once is never acted on again, across restarts and replicas.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, type TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { GitHub, type WorkflowRun } from "../github/GitHub"

/** The action kind. */
export const KIND = "github.dispatchWorkflow"

/** The params. */
export const Params = Schema.Struct({
  repo: Schema.String,
  /** The workflow file name (`rollback.yml`) or id. */
  workflow: Schema.String,
  ref: Schema.String,
  inputs: Schema.Record(Schema.String, Schema.String),
  returnRunDetails: Schema.Boolean,
  /** The failed run this dispatch answers (the once-ever key). */
  failedRunId: Schema.Number
})
/** The params. */
export type Params = typeof Params.Type

/** Builds the action. */
export const action = (target: TargetRef.TargetRef, params: Params, precondition: Record<string, string | number>): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: { ...params, inputs: { ...params.inputs } },
    precondition,
    idempotencyKey: `${KIND}:${params.repo}:${params.failedRunId}`,
    timeoutMs: 30_000,
    description: `dispatch ${params.workflow} on ${params.ref} of ${params.repo} (rollback for failed run ${params.failedRunId})`
  })

/** One dispatch per failed run, ever (across restarts and replicas: the store's window). */
export const oncePerFailedRun: Guardrail.Guardrail<never> = Guardrail.rateLimit({
  name: "once_per_failed_run",
  key: (ctx) => `github.dispatch:${String(ctx.action.params["repo"])}:${String(ctx.action.params["failedRunId"])}`,
  max: 1,
  window: "3650 days"
})

/** The `workflow_dispatch` runs of a workflow on a ref created at or after `sinceMs` (newest first). */
export const findDispatchedRun = (p: Pick<Params, "repo" | "workflow" | "ref">, sinceMs: number): Effect.Effect<WorkflowRun | undefined, never, GitHub> =>
  Effect.gen(function*() {
    const gh = yield* GitHub
    const { runs } = yield* gh.listWorkflowRuns(p.repo, p.workflow, {
      event: "workflow_dispatch",
      branch: p.ref,
      created: `>=${new Date(sinceMs - 60_000).toISOString().replace(/\.\d{3}Z$/, "Z")}`,
      per_page: 20
    })
    return runs.filter((r) => Date.parse(r.created_at) >= sinceMs - 1000).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id)[0]
  }).pipe(Effect.catch(() => Effect.succeed(undefined)))

/** The handler. */
export const make = (): ActionHandler.ActionHandler<GitHub> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [oncePerFailedRun],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (ctx.dryRun) {
          const would: ActionHandler.HandlerResult = { detail: `would dispatch ${p.workflow} on ${p.ref} of ${p.repo} with inputs ${JSON.stringify(p.inputs)}`, result: { dryRun: true } }
          return would
        }
        const gh = yield* GitHub
        const r = yield* gh.dispatch(p.repo, p.workflow, p.ref, p.inputs, { returnRunDetails: p.returnRunDetails }).pipe(
          Effect.mapError((e) =>
            new ActionHandler.ActionFailed({
              kind: KIND,
              message: e.status === 403 && e.acceptedPermissions
                ? `GitHub refused the dispatch (403): the token needs ${e.acceptedPermissions} (X-Accepted-GitHub-Permissions): ${e.message}`
                : `GitHub refused the dispatch (${e.status}): ${e.message}`
            })
          )
        )
        const result: Record<string, string | number> = {}
        if (r.runId !== undefined) result["runId"] = r.runId
        if (r.htmlUrl !== undefined) result["url"] = r.htmlUrl
        const done: ActionHandler.HandlerResult = {
          detail: r.runId !== undefined ? `dispatched ${p.workflow} on ${p.ref}: run ${r.runId}` : `dispatched ${p.workflow} on ${p.ref} (204: the run is found among workflow_dispatch runs)`,
          result
        }
        return done
      }),
    observe: (p, ctx) =>
      Effect.map(findDispatchedRun(p, ctx.since), (run) =>
        run ? ActionHandler.applied(`workflow_dispatch run ${run.id} of ${p.workflow} since the step was acquired`) : ActionHandler.notApplied(`no workflow_dispatch run of ${p.workflow} since the step was acquired`))
  })
