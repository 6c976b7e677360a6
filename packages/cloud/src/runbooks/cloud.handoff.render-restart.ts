/**
 * `cloud.handoff.render-restart`: rollout restarts of Render services, requested by other
 * runbooks through the IncidentBus (the `Restarter` pattern of `@byteport/k8s`). It answers
 * core's *rollout restart requested* hand-off (`HandOffs.RolloutRestartRequested`,
 * `k8s.rollout-restart.requested`) when its target names a Render service:
 *
 * ```ts
 * { type: "k8s.rollout-restart.requested", target: { kind: "render.service", ref: "srv-…" },
 *   observedAt: <epoch ms>, evidence: { reason: "connection leak since the 14:02 deploy" } }
 * ```
 *
 * It reads the service (it must exist and not be suspended), plans one `cloud.render.restart`
 * and verifies that Render recorded a `server_restarted` event since the restart and that the
 * health endpoint answers 2xx (every 15 s up to 90 s). The action kind's guardrail (one restart
 * per service per 30 minutes) applies whoever asks. A request whose target is not a
 * `render.service` is not classified (escalated): it belongs to another platform's restarter.
 *
 * @since 0.1.0
 */
import { Classifier, Diagnoser, Fact, HandOffs, Plan, Runbook, type Signal, TargetRef, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as RenderActions from "../actions/RenderActions"
import { TARGET_KIND } from "../detectors/RenderDeploys"
import { healthUrlOf } from "../diagnosers/RenderDeployDiagnoser"
import { Render } from "../render/Render"

/** The hand-off signal type this runbook owns (core's `HandOffs.RolloutRestartRequested.type`). */
export const SIGNAL_TYPE = HandOffs.RolloutRestartRequested.type

/** The runbook id. */
export const ID = "cloud.handoff.render-restart"

/** What the runbook knows. */
export interface Facts {
  readonly service: { readonly id: string; readonly name: string; readonly suspended: boolean; readonly healthUrl: string | null }
  readonly request: HandOffs.Evidence<typeof HandOffs.RolloutRestartRequested>
}

/** Builds a restart request for a Render service (callers that cannot import this package build the same JSON). */
export const request = (serviceId: string, options: { readonly reason?: string; readonly observedAt?: number; readonly parent?: Signal.Signal["parent"] } = {}): Signal.Signal => ({
  type: SIGNAL_TYPE,
  target: TargetRef.make(TARGET_KIND, serviceId),
  observedAt: options.observedAt ?? Date.now(),
  evidence: options.reason !== undefined ? { reason: options.reason } : {},
  ...(options.parent !== undefined ? { parent: options.parent } : {})
})

/** Options of the runbook. */
export interface Options {
  /** Default `dry_run` (`BYTEPORT_MODE_CLOUD_HANDOFF_RENDER_RESTART` overrides). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  /** Default: every 15 s up to 90 s. */
  readonly verifySchedule?: Verifier.VerifySchedule
  readonly cooldown?: Duration.Input
  readonly probeTimeoutMs?: number
}

const serviceProbe = Diagnoser.probe("render.service", (signal: Signal.Signal) =>
  Effect.gen(function*() {
    if (signal.target.kind !== TARGET_KIND) return yield* Effect.fail(new Error(`target ${signal.target.kind} is not a ${TARGET_KIND}`))
    const s = yield* (yield* Render).getService(signal.target.ref)
    return { id: s.id, name: s.name, suspended: s.suspended === "suspended", healthUrl: healthUrlOf(s) }
  }))

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Facts, Render> =>
  Runbook.make<Facts, Render>({
    id: ID,
    family: "cloud.handoff",
    description: "Restart of a Render service, requested by another runbook through the IncidentBus",
    signals: [SIGNAL_TYPE],
    precedence: 60,
    diagnose: Diagnoser.make<Facts, Render>({ service: serviceProbe, request: HandOffs.probe(HandOffs.RolloutRestartRequested) }),
    classify: Classifier.firstMatch([
      Classifier.rule<Facts>()({
        class: "restart_requested",
        confidence: 1,
        needs: ["service", "request"],
        when: (f) => ({ matched: !f.service.suspended, reasons: [f.service.suspended ? `${f.service.name} is suspended` : `Render service ${f.service.name} (${f.service.id}) can be restarted`] })
      })
    ]),
    remediate: (_c, facts, signal) =>
      Effect.sync(() => {
        const s = Fact.value(facts.service)!
        const reason = Fact.value(facts.request)?.reason
        return Plan.make(ID, "restart_requested", `restart Render service ${s.name} (${s.id})`, Plan.act(RenderActions.restart(signal.target, { serviceId: s.id, ...(reason !== undefined ? { reason } : {}) })))
      }),
    verify: Verifier.fromChecks<Facts, Render>((ctx) =>
      Effect.gen(function*() {
        const s = Fact.value(ctx.facts.service)!
        const render = yield* Render
        const events = yield* render.listEvents(s.id, ctx.since - 1000)
        const restarted = events.some((e) => e.type === "server_restarted")
        const probe = s.healthUrl === null ? undefined : yield* render.probe(s.healthUrl, options.probeTimeoutMs ?? 5000, ctx.since)
        return [
          { name: "service restarted", ok: restarted, detail: restarted ? "server_restarted event since the restart" : "no server_restarted event yet" },
          { name: "health 2xx", ok: probe === undefined || probe.ok, detail: probe === undefined ? "no health URL" : `health ${String(probe.status)}` }
        ]
      })
    ),
    verifySchedule: options.verifySchedule ?? Verifier.schedules.every15sUpTo90s,
    nextSteps: (c) => c._tag === "Classified" ? ["watch the service's events and health", "find why the requesting runbook needed a restart"] : ["the target is not a restartable Render service (another platform's restarter owns it)"],
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "1 minute"
  })
