/**
 * `cloud.handoff.render-oom`: core's *OOM observed* hand-off (`HandOffs.OomObserved`,
 * `oom.observed`) when its target is a Render service (`targetKinds: ["render.service"]`): e.g.
 * `deploy.sentry.classify`'s `oom` class. The seed's "scale up on OOM", on Render: one instance
 * type up (`cloud.render.scaleUp`, Render's "update service" `serviceDetails.plan`), capped at
 * `maxPlan` (default `pro`), opt-in (`BYTEPORT_RENDER_SCALE_UP_ON_OOM=true`, default false), one
 * per service per 24 h, with an undo (`cloud.render.restorePlan`) back to the plan it replaced.
 *
 * Diagnose: the service (plan, suspended, health URL) and the request. Classify: `oom_observed`
 * (0.90) on a service that is not suspended. Remediate: the next plan up within the cap, else
 * escalate ("at the cap"). Verify: the live plan is the new one and health answers 2xx (every
 * 15 s up to 90 s).
 *
 * @since 0.3.0
 */
import { Classifier, Diagnoser, Fact, HandOffs, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as RenderScaleUp from "../actions/RenderScaleUp"
import { TARGET_KIND } from "../detectors/RenderDeploys"
import { healthUrlOf } from "../diagnosers/RenderDeployDiagnoser"
import { Render } from "../render/Render"

/** The runbook id. */
export const ID = "cloud.handoff.render-oom"
/** The hand-off it owns. */
export const SIGNAL_TYPE = HandOffs.OomObserved.type
/** The class. */
export const CLASS = "oom_observed"

/** What the runbook knows. */
export interface Facts {
  readonly request: HandOffs.Evidence<typeof HandOffs.OomObserved>
  readonly service: { readonly id: string; readonly name: string; readonly plan: string; readonly suspended: boolean; readonly healthUrl: string | null }
}

/** Options of the runbook. */
export interface Options {
  /** The largest plan it scales to (default `pro`). */
  readonly maxPlan?: string
  readonly confidence?: number
  /** Default `dry_run` (`BYTEPORT_MODE_CLOUD_HANDOFF_RENDER_OOM` overrides). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  readonly verifySchedule?: Verifier.VerifySchedule
  readonly probeTimeoutMs?: number
  readonly cooldown?: Duration.Input
}

const serviceProbe = Diagnoser.probe("render.service", (signal: Signal.Signal) =>
  Effect.gen(function*() {
    if (signal.target.kind !== TARGET_KIND) return yield* Effect.fail(new Error(`target ${signal.target.kind} is not a ${TARGET_KIND}`))
    const s = yield* (yield* Render).getService(signal.target.ref)
    return { id: s.id, name: s.name, plan: s.serviceDetails?.plan ?? "unknown", suspended: s.suspended === "suspended", healthUrl: healthUrlOf(s) }
  }))

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Facts, Render> => {
  const maxPlan = options.maxPlan ?? RenderScaleUp.DEFAULT_MAX_PLAN
  return Runbook.make<Facts, Render>({
    id: ID,
    family: "cloud.handoff",
    description: "OOM observed on a Render service, handed off by another runbook: one instance type up, capped, opt-in",
    signals: [SIGNAL_TYPE],
    // only render.service targets: a k8s.workload's OOM routes to the k8s memory runbooks
    targetKinds: [TARGET_KIND],
    precedence: 60,
    diagnose: Diagnoser.make<Facts, Render>({ service: serviceProbe, request: HandOffs.probe(HandOffs.OomObserved) }),
    classify: Classifier.firstMatch([
      Classifier.rule<Facts>()({
        class: CLASS,
        confidence: options.confidence ?? 0.9,
        needs: ["service", "request"],
        when: (f) => ({
          matched: !f.service.suspended,
          reasons: [f.service.suspended ? `${f.service.name} is suspended` : `${f.request.count} OOM(s) of ${f.request.container} on Render service ${f.service.name} (${f.service.id}), plan ${f.service.plan}`]
        })
      })
    ]),
    remediate: (_c, facts, signal) =>
      Effect.sync(() => {
        const s = Fact.value(facts.service)!
        const to = RenderScaleUp.nextPlan(s.plan, maxPlan)
        if (to === undefined) {
          return Plan.make(ID, CLASS, `escalate: ${s.name} is on ${s.plan}, at the cap ${maxPlan}`, Plan.escalate(`OOM on Render service ${s.name} (${s.id}): plan ${s.plan} is at the cap (${maxPlan}) or not on the ladder`, [
            "find the memory growth (heap profile) before scaling further",
            `raise maxPlan beyond ${maxPlan} if a bigger instance is intended`
          ]))
        }
        return Plan.make(ID, CLASS, `scale Render service ${s.name} (${s.id}) up from ${s.plan} to ${to} (cap ${maxPlan})`, Plan.act(RenderScaleUp.action(signal.target, { serviceId: s.id, fromPlan: s.plan, toPlan: to, maxPlan })))
      }),
    verify: Verifier.fromChecks<Facts, Render>((ctx) =>
      Effect.gen(function*() {
        const s = Fact.value(ctx.facts.service)!
        const render = yield* Render
        const want = ctx.applied.map((a) => a.params["toPlan"]).find((x) => typeof x === "string")
        const live = (yield* render.getService(s.id)).serviceDetails?.plan ?? "unknown"
        const probe = s.healthUrl === null ? undefined : yield* render.probe(s.healthUrl, options.probeTimeoutMs ?? 5000, ctx.since)
        return [
          { name: "plan_scaled_up", ok: want !== undefined && live === want, detail: `plan ${live} (wanted ${String(want ?? "?")})` },
          { name: "health 2xx", ok: probe === undefined || probe.ok, detail: probe === undefined ? "no health URL" : `health ${String(probe.status)}` }
        ]
      })
    ),
    verifySchedule: options.verifySchedule ?? Verifier.schedules.every15sUpTo90s,
    nextSteps: (c) => c._tag === "Classified"
      ? ["watch the service's memory after the scale-up", `turn on ${RenderScaleUp.OPT_IN}=true to let BytePort scale up on OOM`, "find the memory growth: a bigger plan buys time, not a fix"]
      : ["the target is not a scalable Render service (another platform's runbook owns it)"],
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "10 minutes"
  })
}
