/**
 * The Render action kinds: `render.setAutoDeploy` (freeze: `PATCH` the service's `autoDeploy`),
 * `render.rollback` (`POST /v1/services/{id}/rollback` to a deploy that was live),
 * `render.deployCommit` (`POST /v1/services/{id}/deploys` with a `commitId`) and
 * `cloud.render.restart` (`POST /v1/services/{id}/restart`). dry_run writes nothing (Render has no
 * server-side dry run): it reads the service and says what it would do.
 *
 * Action-kind guardrails (whatever runbook or hand-off plans them): one rollback and one
 * deploy-by-commit per service per hour; one restart per service per 30 minutes.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, type Json, type TargetRef } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import { Render, type RenderError } from "../render/Render"
import * as RenderScaleUp from "./RenderScaleUp"

/** Freeze (or unfreeze) the service's automatic deploys. */
export const SET_AUTO_DEPLOY = "render.setAutoDeploy"
/** Roll back to a deploy that was live. */
export const ROLLBACK = "render.rollback"
/** Deploy a commit. */
export const DEPLOY_COMMIT = "render.deployCommit"
/** Restart the service. */
export const RESTART = "cloud.render.restart"

/** Params of `render.setAutoDeploy`. */
export const SetAutoDeployParams = Schema.Struct({ serviceId: Schema.String, autoDeploy: Schema.Boolean, incidentRef: Schema.optionalKey(Schema.String) })
/** Params of `render.rollback`. */
export const RollbackParams = Schema.Struct({ serviceId: Schema.String, deployId: Schema.String, commitId: Schema.String, failedDeployId: Schema.String })
/** Params of `render.deployCommit`. */
export const DeployCommitParams = Schema.Struct({ serviceId: Schema.String, commitId: Schema.String, failedDeployId: Schema.String })
/** Params of `cloud.render.restart`. */
export const RestartParams = Schema.Struct({ serviceId: Schema.String, reason: Schema.optionalKey(Schema.String) })

const done = (detail: string, result: Json.JsonObject): ActionHandler.HandlerResult => ({ detail, result })

const failed = (kind: string) => (e: RenderError) => new ActionHandler.ActionFailed({ kind, message: `Render refused (${e.status}): ${e.message}` })

/** `render.setAutoDeploy`. */
export const setAutoDeploy = (target: TargetRef.TargetRef, p: typeof SetAutoDeployParams.Type): Action.Action =>
  Action.make({
    kind: SET_AUTO_DEPLOY,
    target,
    params: { ...p },
    precondition: { autoDeploy: p.autoDeploy ? "no" : "yes" },
    timeoutMs: 30_000,
    description: `${p.autoDeploy ? "re-enable" : "freeze"} automatic deploys of Render service ${p.serviceId} (autoDeploy ${p.autoDeploy ? "yes" : "no"})`
  })

/** `render.rollback`. */
export const rollback = (target: TargetRef.TargetRef, p: typeof RollbackParams.Type): Action.Action =>
  Action.make({
    kind: ROLLBACK,
    target,
    params: { ...p },
    precondition: { newestDeploy: p.failedDeployId },
    idempotencyKey: `${ROLLBACK}:${p.serviceId}:${p.failedDeployId}`,
    timeoutMs: 30_000,
    description: `roll back Render service ${p.serviceId} to deploy ${p.deployId} (commit ${p.commitId.slice(0, 7)}; failed deploy ${p.failedDeployId})`
  })

/** `render.deployCommit`. */
export const deployCommit = (target: TargetRef.TargetRef, p: typeof DeployCommitParams.Type): Action.Action =>
  Action.make({
    kind: DEPLOY_COMMIT,
    target,
    params: { ...p },
    precondition: { newestDeploy: p.failedDeployId },
    idempotencyKey: `${DEPLOY_COMMIT}:${p.serviceId}:${p.failedDeployId}`,
    timeoutMs: 30_000,
    description: `deploy commit ${p.commitId.slice(0, 7)} to Render service ${p.serviceId} (failed deploy ${p.failedDeployId})`
  })

/** `cloud.render.restart`. */
export const restart = (target: TargetRef.TargetRef, p: typeof RestartParams.Type): Action.Action =>
  Action.make({
    kind: RESTART,
    target,
    params: { ...p },
    timeoutMs: 30_000,
    description: `restart Render service ${p.serviceId}${p.reason ? ` (${p.reason})` : ""}`
  })

const perService = (name: string, prefix: string, window: Duration.Input) =>
  Guardrail.rateLimit({ name, key: (ctx) => `${prefix}:${String(ctx.action.params["serviceId"])}`, max: 1, window })

/** One rollback per service per hour. */
export const oneRollbackPerHour = perService("render_rollback_1_per_hour", "render.rollback", "1 hour")
/** One deploy-by-commit per service per hour. */
export const oneDeployPerHour = perService("render_deploy_1_per_hour", "render.deployCommit", "1 hour")
/** One restart per service per 30 minutes. */
export const oneRestartPer30Min = perService("render_restart_1_per_30min", "render.restart", "30 minutes")

/** The newest deploys created at or after `since` (ms). */
const deploysSince = (serviceId: string, since: number) =>
  Effect.map(Render.use((r) => r.listDeploys(serviceId, 5)), (ds) => ds.filter((d) => Date.parse(d.createdAt) >= since - 1000))

/** The handler of `render.setAutoDeploy`. */
export const setAutoDeployHandler = (): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: SET_AUTO_DEPLOY,
    params: SetAutoDeployParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const render = yield* Render
        if (ctx.dryRun) {
          const s = yield* render.getService(p.serviceId).pipe(Effect.mapError(failed(SET_AUTO_DEPLOY)))
          return done(`would set autoDeploy of ${s.name} (${p.serviceId}) from ${s.autoDeploy} to ${p.autoDeploy ? "yes" : "no"}`, { dryRun: true, was: s.autoDeploy })
        }
        const s = yield* render.setAutoDeploy(p.serviceId, p.autoDeploy).pipe(Effect.mapError(failed(SET_AUTO_DEPLOY)))
        return done(`autoDeploy of ${s.name} (${p.serviceId}) is ${s.autoDeploy}`, { autoDeploy: s.autoDeploy })
      }),
    observe: (p) =>
      Effect.map(Render.use((r) => r.getService(p.serviceId)), (s) =>
        (s.autoDeploy === "yes") === p.autoDeploy ? ActionHandler.applied(`autoDeploy is ${s.autoDeploy}`) : ActionHandler.notApplied(`autoDeploy is ${s.autoDeploy}`))
  })

/** The handler of `render.rollback`. */
export const rollbackHandler = (): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: ROLLBACK,
    params: RollbackParams,
    guardrails: [oneRollbackPerHour],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const render = yield* Render
        const newest = (yield* render.listDeploys(p.serviceId, 1).pipe(Effect.mapError(failed(ROLLBACK))))[0]
        if (newest && newest.id !== p.failedDeployId) {
          return yield* new ActionHandler.ActionFailed({ kind: ROLLBACK, conflict: true, message: `a newer deploy ${newest.id} (${newest.status}) replaced ${p.failedDeployId} since planning` })
        }
        if (ctx.dryRun) return done(`would roll back ${p.serviceId} to deploy ${p.deployId} (commit ${p.commitId.slice(0, 7)})`, { dryRun: true })
        const d = yield* render.rollback(p.serviceId, p.deployId).pipe(Effect.mapError(failed(ROLLBACK)))
        return done(`rollback deploy ${d.id} of ${p.serviceId} to ${p.deployId} (commit ${p.commitId.slice(0, 7)}) started: ${d.status}`, { deployId: d.id, commitId: d.commit?.id ?? p.commitId })
      }),
    observe: (p, ctx) =>
      Effect.map(deploysSince(p.serviceId, ctx.since), (ds) => {
        const d = ds.find((x) => x.trigger === "rollback" && x.commit?.id === p.commitId)
        return d ? ActionHandler.applied(`rollback deploy ${d.id} since the step was acquired`) : ActionHandler.notApplied("no rollback deploy since the step was acquired")
      })
  })

/** The handler of `render.deployCommit`. */
export const deployCommitHandler = (): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: DEPLOY_COMMIT,
    params: DeployCommitParams,
    guardrails: [oneDeployPerHour],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const render = yield* Render
        if (ctx.dryRun) return done(`would deploy commit ${p.commitId.slice(0, 7)} to ${p.serviceId}`, { dryRun: true })
        const d = yield* render.deployCommit(p.serviceId, p.commitId).pipe(Effect.mapError(failed(DEPLOY_COMMIT)))
        return done(`deploy ${d.id} of commit ${p.commitId.slice(0, 7)} to ${p.serviceId} started: ${d.status}`, { deployId: d.id, commitId: p.commitId })
      }),
    observe: (p, ctx) =>
      Effect.map(deploysSince(p.serviceId, ctx.since), (ds) => {
        const d = ds.find((x) => x.commit?.id === p.commitId)
        return d ? ActionHandler.applied(`deploy ${d.id} of ${p.commitId.slice(0, 7)} since the step was acquired`) : ActionHandler.notApplied("no deploy of the commit since the step was acquired")
      })
  })

/** The handler of `cloud.render.restart`. */
export const restartHandler = (): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: RESTART,
    params: RestartParams,
    guardrails: [oneRestartPer30Min],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const render = yield* Render
        if (ctx.dryRun) {
          const s = yield* render.getService(p.serviceId).pipe(Effect.mapError(failed(RESTART)))
          return done(`would restart ${s.name} (${p.serviceId})`, { dryRun: true })
        }
        yield* render.restart(p.serviceId).pipe(Effect.mapError(failed(RESTART)))
        return done(`restarted ${p.serviceId}`, { restarted: true })
      }),
    observe: (p, ctx) =>
      Effect.map(Render.use((r) => r.listEvents(p.serviceId, ctx.since)), (es) =>
        es.some((e) => e.type === "server_restarted") ? ActionHandler.applied("a server_restarted event since the step was acquired") : ActionHandler.notApplied("no restart since the step was acquired"))
  })

/** Every Render handler (with `cloud.render.scaleUp` and its undo `cloud.render.restorePlan`). */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Render>> => [setAutoDeployHandler(), rollbackHandler(), deployCommitHandler(), restartHandler(), ...RenderScaleUp.handlers()]
