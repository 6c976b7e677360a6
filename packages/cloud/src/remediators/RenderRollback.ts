/**
 * `RenderRollback`: the plan of `deploy.render.rollback`. The suspect deploy must be the newest
 * of the last 5, else escalate (a newer deploy changed what is running). Then: freeze automatic
 * deploys (`autoDeploy: "no"`, so the next push does not re-deploy the bad code; skipped when
 * already off), and roll back to the last green deploy — the newest earlier deploy that went
 * live — by Render's rollback endpoint, falling back to deploying its commit when the rollback
 * fails or is denied. No earlier deploy went live → escalate.
 *
 * @since 0.1.0
 */
import { type Classification, Fact, Plan, type Signal } from "@byteport/core"
import { Effect } from "effect"
import * as RenderActions from "../actions/RenderActions"
import type { DeployFacts, RenderDeployFacts } from "../classifiers/RenderBadDeploy"
import { lastGreen, refOf } from "../diagnosers/RenderDeployDiagnoser"

/** The runbook id (the plan's `runbook`). */
export const RUNBOOK_ID = "deploy.render.rollback"

const short = (sha: string | null) => (sha ?? "(no commit)").slice(0, 7)

/** One line per deploy: id, commit, status, trigger. */
export const deployLine = (d: DeployFacts): string =>
  `${d.id} ${short(d.commitId)} ${d.status}${d.trigger ? ` (${d.trigger})` : ""}${d.liveAt !== null ? ` live ${new Date(d.liveAt).toISOString()}` : ""}`

/** The remediator. */
export const make = () =>
(classification: Classification.Classified, facts: Fact.Facts<Pick<RenderDeployFacts, "service" | "deploys">>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.sync(() => {
    const cls = classification.class
    const ref = refOf(signal)
    const service = Fact.value(facts.service)
    const name = service ? `${service.name} (${ref.serviceId})` : ref.serviceId
    const escalate = (why: string, next: ReadonlyArray<string> = []): Plan.Plan =>
      Plan.make(RUNBOOK_ID, cls, `escalate: ${cls} on ${name}`, Plan.escalate(`${cls} on Render service ${name}, deploy ${ref.deployId}: ${why}`, next))
    if (facts.deploys._tag !== "Known") return escalate(`the last deploys could not be read (${facts.deploys.reason})`)
    const deploys = facts.deploys.value
    const newest = deploys[0]
    if (!newest || newest.id !== ref.deployId) {
      return escalate(`the failing deploy is not the newest (newest: ${newest ? deployLine(newest) : "none"})`, ["re-check the newest deploy before rolling back", ...deploys.map(deployLine)])
    }
    const green = lastGreen(deploys, ref.deployId)
    if (!green || green.commitId === null) {
      return escalate(`no earlier deploy among the last ${deploys.length} went live`, ["roll back by hand or fix forward", ...deploys.map(deployLine)])
    }
    const target = signal.target
    const steps: Array<Plan.Step> = []
    if (service === undefined || service.autoDeploy) {
      steps.push(Plan.act(RenderActions.setAutoDeploy(target, { serviceId: ref.serviceId, autoDeploy: false })))
    }
    steps.push(Plan.fallback(
      Plan.act(RenderActions.rollback(target, { serviceId: ref.serviceId, deployId: green.id, commitId: green.commitId, failedDeployId: newest.id })),
      Plan.act(RenderActions.deployCommit(target, { serviceId: ref.serviceId, commitId: green.commitId, failedDeployId: newest.id }))
    ))
    return Plan.make(
      RUNBOOK_ID,
      cls,
      `${cls}: freeze autoDeploy of ${name}, roll back from ${newest.id} (${short(newest.commitId)}) to last green ${green.id} (${short(green.commitId)})`,
      steps.length === 1 ? steps[0]! : Plan.seq(...steps)
    )
  })
