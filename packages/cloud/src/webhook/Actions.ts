/**
 * The action kinds `deploy.webhook.rollback` adds:
 *
 * - `spinnaker.triggerPipeline`: runs an application's rollback pipeline through Gate
 *   (`POST /pipelines/{app}/{name}`, a manual trigger with parameters `revision` and
 *   `failedExecutionId`); `observe` finds an execution of that pipeline with those parameters
 *   started since the step was acquired. dry_run writes nothing (Gate has no dry run).
 * - `deploy.notifyAuthor`: tells the commit's author — a commit comment on GitHub (when the
 *   repository and commit are known and a GitHub client is provided) and a notice mentioning
 *   them on the `OpsChannel` (never the pager). dry_run sends nothing.
 *
 * @since 0.3.0
 */
import { Action, ActionHandler, Sink, SinkMessage, type TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"
import { GitHub } from "../github/GitHub"
import { SpinnakerGate } from "./SpinnakerGate"

/** The kind of the Spinnaker trigger. */
export const TRIGGER_KIND = "spinnaker.triggerPipeline"

/** Params of `spinnaker.triggerPipeline`. */
export const TriggerParams = Schema.Struct({
  application: Schema.String,
  pipeline: Schema.String,
  parameters: Schema.Record(Schema.String, Schema.String),
  user: Schema.String
})
/** Params of `spinnaker.triggerPipeline`. */
export type TriggerParams = typeof TriggerParams.Type

/** Builds a `spinnaker.triggerPipeline` action. */
export const trigger = (target: TargetRef.TargetRef, p: TriggerParams, precondition: Record<string, string | number | boolean>): Action.Action =>
  Action.make({
    kind: TRIGGER_KIND,
    target,
    params: { ...p, parameters: { ...p.parameters } },
    precondition,
    timeoutMs: 30_000,
    idempotencyKey: `${TRIGGER_KIND}:${p.application}:${p.pipeline}:${JSON.stringify(p.parameters)}`,
    description: `run Spinnaker pipeline ${p.pipeline} of ${p.application} with ${Object.entries(p.parameters).map(([k, v]) => `${k}=${v}`).join(", ")}`
  })

/** The `spinnaker.triggerPipeline` handler. */
export const triggerHandler = (): ActionHandler.ActionHandler<SpinnakerGate> =>
  ActionHandler.make({
    kind: TRIGGER_KIND,
    params: TriggerParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        if (ctx.dryRun) {
          const would: ActionHandler.HandlerResult = { detail: `would run pipeline ${p.pipeline} of ${p.application} with ${JSON.stringify(p.parameters)}`, result: { dryRun: true } }
          return would
        }
        const gate = yield* SpinnakerGate
        const id = yield* gate.trigger(p.application, p.pipeline, p.parameters, p.user).pipe(
          Effect.mapError((e) => new ActionHandler.ActionFailed({ kind: TRIGGER_KIND, message: e.message }))
        )
        const done: ActionHandler.HandlerResult = { detail: `ran pipeline ${p.pipeline} of ${p.application}: execution ${id}`, result: { executionId: id } }
        return done
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const gate = yield* SpinnakerGate
        const list = yield* gate.executions(p.application, 50)
        const hit = list.find((e) => e.name === p.pipeline && (e.buildTime ?? 0) >= ctx.since - 1000 && Object.entries(p.parameters).every(([k, v]) => e.trigger.parameters[k] === v))
        return hit ? ActionHandler.applied(`execution ${hit.id} of ${p.pipeline}`) : ActionHandler.notApplied(`no execution of ${p.pipeline} with these parameters since the step was acquired`)
      })
  })

/** The kind of the author notification. */
export const NOTIFY_KIND = "deploy.notifyAuthor"

/** Params of `deploy.notifyAuthor`. */
export const NotifyParams = Schema.Struct({
  repo: Schema.NullOr(Schema.String),
  sha: Schema.NullOr(Schema.String),
  login: Schema.NullOr(Schema.String),
  text: Schema.String
})
/** Params of `deploy.notifyAuthor`. */
export type NotifyParams = typeof NotifyParams.Type

/** Builds a `deploy.notifyAuthor` action. */
export const notify = (target: TargetRef.TargetRef, p: NotifyParams): Action.Action =>
  Action.make({
    kind: NOTIFY_KIND,
    target,
    params: { ...p },
    timeoutMs: 30_000,
    idempotencyKey: `${NOTIFY_KIND}:${p.repo ?? "-"}:${p.sha ?? "-"}:${p.text.length}`,
    description: `tell ${p.login ? `@${p.login}` : "the commit's author"}${p.repo && p.sha ? ` (comment on ${p.repo}@${p.sha.slice(0, 7)})` : ""}, ops channel only`
  })

/** The text that mentions the author. */
export const mention = (p: NotifyParams): string => `${p.login ? `@${p.login} ` : ""}${p.text}`

/** The `deploy.notifyAuthor` handler: a commit comment (GitHub) and an OpsChannel notice; never the pager. */
export const notifyHandler = (): ActionHandler.ActionHandler<never> =>
  ActionHandler.make({
    kind: NOTIFY_KIND,
    params: NotifyParams,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const body = mention(p)
        if (ctx.dryRun) {
          const would: ActionHandler.HandlerResult = { detail: `would tell ${p.login ?? "the author"}: ${body}`, result: { dryRun: true } }
          return would
        }
        const done: Array<string> = []
        const gh = yield* Effect.serviceOption(GitHub)
        if (p.repo && p.sha && gh._tag === "Some") {
          const r = yield* Effect.result(gh.value.request("POST", `/repos/${p.repo}/commits/${p.sha}/comments`, { body: { body } }))
          if (r._tag === "Success") done.push(`commented on ${p.repo}@${p.sha.slice(0, 7)}`)
          else yield* Effect.logWarning(`deploy.notifyAuthor: the commit comment failed: ${r.failure.message}`)
        }
        const ops = yield* Effect.serviceOption(Sink.OpsChannel)
        if (ops._tag === "Some") {
          const sent = yield* Effect.result(ops.value.post(SinkMessage.notice({ title: `deploy rolled back${p.login ? ` (@${p.login})` : ""}`, text: body, severity: "info", incidentId: ctx.incidentId, runbook: "deploy.webhook.rollback" })))
          if (sent._tag === "Success") done.push("posted to the ops channel")
        }
        const out: ActionHandler.HandlerResult = { detail: done.length > 0 ? done.join("; ") : "nobody to notify (no GitHub client or commit, no ops channel)", result: { notified: done.length } }
        return out
      })
  })
