/**
 * `cloud.render.scaleUp`: a Render service one instance type up (Render's "update service",
 * `PATCH /v1/services/{id}` with `serviceDetails.plan`), for *OOM observed* on a Render service.
 * Guardrails of the kind, whoever plans it:
 *
 * - opt-in: `BYTEPORT_RENDER_SCALE_UP_ON_OOM=true` (`Guardrail.requireOptIn`, default false);
 * - `scale_up_within_cap`: the new plan is above the live one (never scales down) and not above
 *   the planned cap (`maxPlan`, default `pro`), on the plan ladder {@link LADDER};
 * - one scale-up per service per 24 hours (`Guardrail.cooldown`).
 *
 * Its undo is `cloud.render.restorePlan` (back to the plan it replaced, only while the live plan
 * is still the one the scale-up set). dry_run writes nothing (Render has no server-side dry run):
 * it reads the service and says what it would do.
 *
 * @since 0.3.0
 */
import { Action, ActionHandler, Guardrail, type TargetRef } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import { Render, type RenderError } from "../render/Render"

/** The scale-up kind. */
export const KIND = "cloud.render.scaleUp"
/** Its undo. */
export const RESTORE_KIND = "cloud.render.restorePlan"
/** The opt-in flag. */
export const OPT_IN = "BYTEPORT_RENDER_SCALE_UP_ON_OOM"
/** The default cap. */
export const DEFAULT_MAX_PLAN = "pro"

/** Render's web-service instance types, smallest first. */
export const LADDER: ReadonlyArray<string> = ["free", "starter", "standard", "pro", "pro_plus", "pro_max", "pro_ultra"]

/** The next plan up from `plan`, when there is one and it is within `maxPlan`. */
export const nextPlan = (plan: string, maxPlan: string = DEFAULT_MAX_PLAN): string | undefined => {
  const i = LADDER.indexOf(plan)
  const cap = LADDER.indexOf(maxPlan)
  if (i < 0 || cap < 0 || i + 1 > cap) return undefined
  return LADDER[i + 1]
}

/** Params of `cloud.render.scaleUp`. */
export const Params = Schema.Struct({ serviceId: Schema.String, fromPlan: Schema.String, toPlan: Schema.String, maxPlan: Schema.String })
/** Params of `cloud.render.scaleUp`. */
export type Params = typeof Params.Type

/** Params of `cloud.render.restorePlan`. */
export const RestoreParams = Schema.Struct({ serviceId: Schema.String, plan: Schema.String, expectPlan: Schema.String })
/** Params of `cloud.render.restorePlan`. */
export type RestoreParams = typeof RestoreParams.Type

/** Builds the scale-up (with its undo). */
export const action = (target: TargetRef.TargetRef, p: Params): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: { ...p },
    precondition: { plan: p.fromPlan },
    idempotencyKey: `${KIND}:${p.serviceId}:${p.fromPlan}:${p.toPlan}`,
    timeoutMs: 30_000,
    description: `scale Render service ${p.serviceId} up from ${p.fromPlan} to ${p.toPlan} (cap ${p.maxPlan})`,
    undo: Action.make({
      kind: RESTORE_KIND,
      target,
      params: { serviceId: p.serviceId, plan: p.fromPlan, expectPlan: p.toPlan },
      precondition: { plan: p.toPlan },
      timeoutMs: 30_000,
      description: `restore Render service ${p.serviceId} to ${p.fromPlan}`
    })
  })

const failed = (kind: string) => (e: RenderError) => new ActionHandler.ActionFailed({ kind, message: `Render refused (${e.status}): ${e.message}` })
const planOf = (s: { readonly serviceDetails?: { readonly plan?: string } }) => s.serviceDetails?.plan ?? "unknown"

/** Never scales down, never above the cap: the new plan against the live one. */
export const scaleUpWithinCap: Guardrail.Guardrail<Render> = Guardrail.make({
  name: "scale_up_within_cap",
  check: (ctx) =>
    Effect.gen(function*() {
      const to = String(ctx.action.params["toPlan"])
      const cap = String(ctx.action.params["maxPlan"])
      const ti = LADDER.indexOf(to)
      const ci = LADDER.indexOf(cap)
      if (ti < 0 || ci < 0 || ti > ci) return Guardrail.deny(`scale_up_within_cap: ${to} is above the cap ${cap} (or not a known plan)`)
      const live = planOf(yield* (yield* Render).getService(String(ctx.action.params["serviceId"])))
      return ti > LADDER.indexOf(live) ? Guardrail.pass : Guardrail.deny(`scale_up_within_cap: never scales down: ${to} is not above the live plan ${live}`)
    }).pipe(Effect.catch((e) => Effect.succeed(Guardrail.deny(`scale_up_within_cap: could not read the service (${e.message})`))))
})

/** Options of the kind's guardrails. */
export interface Options {
  /** Between two scale-ups of one service (default 24 hours). */
  readonly cooldown?: Duration.Input | undefined
}

/** The guardrails of the kind. */
export const guardrails = (o: Options = {}): ReadonlyArray<Guardrail.Guardrail<Render>> => [
  Guardrail.requireOptIn(OPT_IN, { what: "scaling a Render service up on OOM" }),
  scaleUpWithinCap,
  Guardrail.cooldown({ name: "one_scale_up_per_service_24h", key: (ctx) => `${KIND}:${String(ctx.action.params["serviceId"])}`, duration: o.cooldown ?? "24 hours" })
]

/** The `cloud.render.scaleUp` handler. */
export const make = (o: Options = {}): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, Render> {
        const render = yield* Render
        const s = yield* render.getService(p.serviceId).pipe(Effect.mapError(failed(KIND)))
        if (planOf(s) !== p.fromPlan) return yield* new ActionHandler.ActionFailed({ kind: KIND, conflict: true, message: `${p.serviceId} is on ${planOf(s)}, planned from ${p.fromPlan}` })
        if (ctx.dryRun) return { detail: `would scale ${s.name} (${p.serviceId}) from ${p.fromPlan} to ${p.toPlan}`, result: { dryRun: true } }
        const after = yield* render.setPlan(p.serviceId, p.toPlan).pipe(Effect.mapError(failed(KIND)))
        return { detail: `${after.name} (${p.serviceId}) is on ${planOf(after)} (was ${p.fromPlan})`, result: { plan: planOf(after), was: p.fromPlan } }
      }),
    observe: (p) =>
      Effect.map(Render.use((r) => r.getService(p.serviceId)), (s) =>
        planOf(s) === p.toPlan ? ActionHandler.applied(`plan is ${p.toPlan}`) : planOf(s) === p.fromPlan ? ActionHandler.notApplied(`plan is still ${p.fromPlan}`) : ActionHandler.unknown(`plan is ${planOf(s)}`))
  })

/** The `cloud.render.restorePlan` handler (the undo). */
export const restoreHandler = (): ActionHandler.ActionHandler<Render> =>
  ActionHandler.make({
    kind: RESTORE_KIND,
    params: RestoreParams,
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, Render> {
        const render = yield* Render
        const s = yield* render.getService(p.serviceId).pipe(Effect.mapError(failed(RESTORE_KIND)))
        if (planOf(s) !== p.expectPlan) return yield* new ActionHandler.ActionFailed({ kind: RESTORE_KIND, conflict: true, message: `${p.serviceId} is on ${planOf(s)}, not ${p.expectPlan}: someone changed it since; left alone` })
        if (ctx.dryRun) return { detail: `would restore ${p.serviceId} to ${p.plan}`, result: { dryRun: true } }
        const after = yield* render.setPlan(p.serviceId, p.plan).pipe(Effect.mapError(failed(RESTORE_KIND)))
        return { detail: `${p.serviceId} restored to ${planOf(after)}`, result: { plan: planOf(after) } }
      }),
    observe: (p) =>
      Effect.map(Render.use((r) => r.getService(p.serviceId)), (s) =>
        planOf(s) === p.plan ? ActionHandler.applied(`plan is ${p.plan}`) : ActionHandler.notApplied(`plan is ${planOf(s)}`))
  })

/** Both handlers. */
export const handlers = (o: Options = {}): ReadonlyArray<ActionHandler.ActionHandler<Render>> => [make(o), restoreHandler()]
