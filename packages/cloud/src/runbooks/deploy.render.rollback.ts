/**
 * `deploy.render.rollback` — "Detects a bad deploy via health-check failure, error-rate spike, or
 * crash-loop signal; automatically rolls back to the last green SHA on Render; verifies health
 * green within 90 s; writes a structured postmortem stub."
 *
 * 1. **Detect** — `RenderDeploys` (every 15 s): the newest live deploy of each watched service;
 *    health probes, `server_failed` events, the 5xx rate once the 5-minute window has ended.
 * 2. **Diagnose** — `RenderDeployDiagnoser`: the last 5 deploys, the suspect, error rates before
 *    and after, a health probe continuing the detector's streak, crash events.
 * 3. **Classify** — `RenderBadDeploy`: error_rate_spike 0.85, health_check_failing 0.90,
 *    crash_loop 0.88, in the seed's order; else escalate with diagnostics.
 * 4. **Remediate** — `RenderRollback`: the failing deploy must be the newest; freeze autoDeploy;
 *    roll back to the last green deploy (rollback endpoint), else deploy its commit.
 * 5. **Verify** — `RenderRecovered` on `Verifier.schedules.every15sUpTo90s`: the rollback deploy
 *    is live and the health endpoint answers 2xx. The report carries a postmortem stub.
 *
 * @since 0.1.0
 */
import { type ActionHandler, ActionRegistry, type Classification, Detector, Fact, Guardrail, type GuardrailStore, type Json, Runbook, Verifier } from "@byteport/core"
import { type Duration, Effect, type Layer, type Schedule } from "effect"
import * as RenderActions from "../actions/RenderActions"
import * as RenderBadDeploy from "../classifiers/RenderBadDeploy"
import * as RenderDeploys from "../detectors/RenderDeploys"
import * as RenderDeployDiagnoser from "../diagnosers/RenderDeployDiagnoser"
import type { Render } from "../render/Render"
import * as RenderRollback from "../remediators/RenderRollback"
import * as RenderRecovered from "../verifiers/RenderRecovered"

/** The runbook id. */
export const ID = "deploy.render.rollback"
/** The family. */
export const FAMILY = "deploy"

/** The services the runbook needs besides core's. */
export type Services = Render | GuardrailStore.GuardrailStore

/** Options (every seed number is a default). */
export interface Options {
  /** The Render services watched (`srv-…`). */
  readonly services: ReadonlyArray<string>
  readonly thresholds?: Partial<RenderBadDeploy.Thresholds>
  readonly confidences?: Partial<Record<RenderBadDeploy.Class, number>>
  /** Health URL per service (default the service's `url` + `healthCheckPath`). */
  readonly healthUrls?: Readonly<Record<string, string>>
  /** A health probe's timeout, ms (default 5 000). */
  readonly probeTimeoutMs?: number
  /** Polling schedule (default every 15 s); `false`: no polling (signals come from `detectors`). */
  readonly poll?: false | { readonly schedule?: Schedule.Schedule<unknown> }
  readonly detectors?: ReadonlyArray<Detector.Detector<never, Services>>
  /** Verification schedule (default `Verifier.schedules.every15sUpTo90s`). */
  readonly verifySchedule?: Verifier.VerifySchedule
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  /** How long a service stays leased after an incident (default 10 minutes). */
  readonly cooldown?: Duration.Input
}

const cls = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag === "Indeterminate" ? "indeterminate" : "unclassified")

/** The escalation's diagnostics: the service, the suspect, the last deploys, error rates, health, crashes. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<RenderBadDeploy.RenderDeployFacts>): ReadonlyArray<string> => {
  const s = Fact.value(facts.service)
  const suspect = Fact.value(facts.suspect)
  const e = facts.errorRate
  const h = Fact.value(facts.health)
  const k = Fact.value(facts.crashes)
  return [
    `class: ${cls(c)}`,
    `service: ${s ? `${s.name} (${s.id}), autoDeploy ${s.autoDeploy ? "yes" : "no"}` : "(unknown)"}`,
    `suspect deploy: ${suspect ? RenderRollback.deployLine(suspect) : "(unknown)"}`,
    `last deploys: ${facts.deploys._tag === "Known" ? facts.deploys.value.map(RenderRollback.deployLine).join("; ") : `(unknown: ${facts.deploys.reason})`}`,
    `error rate: ${e._tag === "Known" ? `${(e.value.after.rate * 100).toFixed(2)}% after vs ${(e.value.baseline.rate * 100).toFixed(2)}% before (${e.value.ratio.toFixed(2)}×, ${Math.round(e.value.after.total)} / ${Math.round(e.value.baseline.total)} requests)` : `(unknown: ${e.reason})`}`,
    `health: ${h ? `failing for ${Math.round(h.failingForMs / 1000)} s, last ${String(h.last?.status ?? "none")}` : "(unknown)"}`,
    `crashes: ${k ? `${k.failures} server_failed since the deploy went live` : "(unknown)"}`,
    "to roll back by hand: Render Dashboard → Events → Rollback, or POST /v1/services/{id}/rollback {deployId}; then set autoDeploy to no"
  ]
}

/** The postmortem stub: what happened, what was done, what is left to do. */
export const postmortem = (input: Runbook.PostmortemInput<RenderBadDeploy.RenderDeployFacts>): Effect.Effect<Json.JsonObject> =>
  Effect.sync(() => {
    const s = Fact.value(input.facts.service)
    const suspect = Fact.value(input.facts.suspect)
    const last = input.verdicts[input.verdicts.length - 1]
    const actions = input.outcomes.filter((o) => o.kind !== "escalate").map((o) => `${o.kind}: ${o.status} — ${o.detail}`)
    const frozen = input.outcomes.some((o) => o.kind === RenderActions.SET_AUTO_DEPLOY && o.status === "applied")
    const out: Json.JsonObject = {
      title: `Bad deploy on Render service ${s?.name ?? String(input.signal.evidence["serviceId"])}`,
      class: cls(input.classification),
      detectedBy: String(input.signal.evidence["trigger"] ?? "unknown"),
      suspectDeploy: suspect ? RenderRollback.deployLine(suspect) : String(input.signal.evidence["deployId"]),
      wentLiveAt: suspect?.liveAt != null ? new Date(suspect.liveAt).toISOString() : null,
      detectedAt: new Date(input.signal.observedAt).toISOString(),
      reasons: input.classification._tag === "Classified" ? [...input.classification.reasons] : [...input.classification.reasons],
      actions,
      verification: last ? `${last._tag}${last._tag === "Recovered" ? "" : `: ${last.reason}`}` : "not verified",
      followUps: [
        ...(frozen ? ["autoDeploy is frozen (no): re-enable it (PATCH autoDeploy yes) once the fix is merged"] : []),
        "find the root cause in the suspect commit and add a test for it",
        "record customer impact (window between wentLiveAt and the rollback going live)"
      ]
    }
    return out
  })

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<RenderBadDeploy.RenderDeployFacts, Services> => {
  const detectors: Array<Detector.Detector<never, Services>> = [...(options.detectors ?? [])]
  if (options.poll !== false) {
    detectors.unshift(RenderDeploys.make({
      services: options.services,
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      ...(options.healthUrls ? { healthUrls: options.healthUrls } : {}),
      ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {}),
      ...(options.poll?.schedule ? { schedule: options.poll.schedule } : {})
    }))
  }
  const probe = {
    ...(options.healthUrls ? { healthUrls: options.healthUrls } : {}),
    ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {})
  }
  return Runbook.make<RenderBadDeploy.RenderDeployFacts, Services>({
    id: ID,
    family: FAMILY,
    description: "Detects a bad Render deploy (error-rate spike, failing health check, crash loop) and rolls back to the last green deploy",
    signals: [RenderDeploys.SIGNAL_TYPE],
    precedence: 40,
    ...(detectors.length > 0 ? { detector: Detector.merge(ID, detectors) } : {}),
    diagnose: RenderDeployDiagnoser.make({ ...probe, ...(options.thresholds ? { thresholds: options.thresholds } : {}) }),
    classify: RenderBadDeploy.classifier({ ...(options.thresholds ? { thresholds: options.thresholds } : {}), ...(options.confidences ? { confidences: options.confidences } : {}) }),
    remediate: RenderRollback.make(),
    guardrails: [Guardrail.minConfidence(0.7)],
    verify: RenderRecovered.make(probe),
    verifySchedule: options.verifySchedule ?? Verifier.schedules.every15sUpTo90s,
    nextSteps,
    postmortem,
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "10 minutes"
  })
}

/** The action handlers of the Render runbooks. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Render>> => RenderActions.handlers()

/** The registry of the handlers. */
export const handlersLayer = (): Layer.Layer<ActionRegistry.ActionRegistry, never, Render> => ActionRegistry.layer<Render>({ handlers: handlers(), checks: [] })
