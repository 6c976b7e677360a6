/**
 * `RollbackRunSucceeded`: the dispatched rollback run completed with `success`. The run is the
 * one the dispatch returned (`return_run_details`), else the newest `workflow_dispatch` run of
 * the rollback workflow on the branch created since the dispatch. Still queued or running →
 * Inconclusive (the schedule polls again); completed otherwise → NotRecovered.
 *
 * @since 0.1.0
 */
import { Verdict, type Verifier } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import * as DispatchWorkflow from "../actions/DispatchWorkflow"
import type { WorkflowRunFacts } from "../diagnosers/WorkflowRunDiagnoser"
import { GitHub } from "../github/GitHub"

/** The verifier. */
export const make = (): Verifier.Verifier<WorkflowRunFacts, GitHub> => (ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const action = ctx.applied.find((a) => a.kind === DispatchWorkflow.KIND)
    if (!action) return Verdict.inconclusive("no rollback dispatch was applied", now)
    const p = yield* Schema.decodeUnknownEffect(DispatchWorkflow.Params)(action.params)
    const outcome = ctx.outcomes.find((o) => o.kind === DispatchWorkflow.KIND && o.status === "applied")
    const known = outcome?.result?.["runId"]
    const gh = yield* GitHub
    const run = typeof known === "number" ? yield* gh.getRun(p.repo, known) : yield* DispatchWorkflow.findDispatchedRun(p, ctx.since)
    if (!run) return Verdict.inconclusive(`no workflow_dispatch run of ${p.workflow} on ${p.ref} found yet`, now)
    const check = { name: "rollback_run_succeeded", ok: run.status === "completed" && run.conclusion === "success", detail: `run ${run.id} (${run.html_url}): ${run.status ?? "?"}/${run.conclusion ?? "—"}`, observed: { runId: run.id, status: run.status, conclusion: run.conclusion } }
    if (run.status !== "completed") return Verdict.inconclusive(`rollback run ${run.id} is ${run.status ?? "pending"}`, now, [check])
    return Verdict.fromChecks([check], now)
  }).pipe(Effect.catchCause((cause) => Effect.map(Clock.currentTimeMillis, (now) => Verdict.inconclusive(`could not read the rollback run: ${String(cause)}`, now))))
