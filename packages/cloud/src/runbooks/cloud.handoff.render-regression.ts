/**
 * `cloud.handoff.render-regression`: core's *deployment regression* hand-off
 * (`HandOffs.DeploymentRegression`, `deployment.regression`) when its target is a Render service
 * (`targetKinds: ["render.service"]`): e.g. `deploy.sentry.classify`'s `deploy_correlation` with
 * `targets: { <project>: { kind: "render.service", ref: "srv-…" } }`. It takes
 * `deploy.render.rollback`'s rollback path:
 *
 * 1. **Diagnose** — the service and its last 5 deploys (Render API); the suspect is the deploy of
 *    the evidence's `revision` (the commit, a prefix of at least 7 characters, or a release named
 *    `<name>@<commit>`), else the deploy that went live within 5 minutes of `deployedAt`.
 * 2. **Classify** — `deployment_regression` (0.80, as Sentry's `deploy_correlation`) when the
 *    suspect is found; else escalate (the regression is not attributable to a Render deploy).
 * 3. **Remediate** — `RenderRollback`: the suspect must be the newest deploy, else escalate;
 *    freeze autoDeploy; roll back to the last green deploy (rollback endpoint, else deploy its
 *    commit). The action kinds' guardrails (one rollback per service per hour) apply.
 * 4. **Verify** — `RenderRecovered` on `Verifier.schedules.every15sUpTo90s`: the rollback deploy
 *    is live and the health endpoint answers 2xx.
 *
 * @since 0.3.0
 */
import { Classification, Diagnoser, Fact, HandOffs, Runbook, type Signal, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import type { DeployFacts, ServiceFacts } from "../classifiers/RenderBadDeploy"
import { TARGET_KIND } from "../detectors/RenderDeploys"
import { SIGNAL_TYPE as RENDER_SIGNAL } from "../detectors/RenderDeploys"
import { toDeployFacts, toServiceFacts } from "../diagnosers/RenderDeployDiagnoser"
import { Render } from "../render/Render"
import * as RenderRollback from "../remediators/RenderRollback"
import * as RenderRecovered from "../verifiers/RenderRecovered"

/** The runbook id. */
export const ID = "cloud.handoff.render-regression"
/** The hand-off it owns. */
export const SIGNAL_TYPE = HandOffs.DeploymentRegression.type
/** The class. */
export const CLASS = "deployment_regression"
/** Its default confidence (the seed gives none; Sentry's deploy_correlation is 0.80). */
export const DEFAULT_CONFIDENCE = 0.8
/** How close to `deployedAt` a deploy must have gone live to be the suspect when no commit matches. */
export const LIVE_WITHIN_MS = 5 * 60_000

/** What the runbook knows. */
export interface Facts {
  readonly request: HandOffs.Evidence<typeof HandOffs.DeploymentRegression>
  readonly service: ServiceFacts
  /** The last 5 deploys, newest first. */
  readonly deploys: ReadonlyArray<DeployFacts>
  readonly suspect: DeployFacts
}

/** Whether a deploy is the one of `revision` (a commit, a prefix ≥ 7, or `<name>@<commit>`). */
export const matchesRevision = (d: DeployFacts, revision: string): boolean => {
  const c = d.commitId
  if (c === null) return false
  const tail = revision.includes("@") ? revision.slice(revision.lastIndexOf("@") + 1) : revision
  return [revision, tail].some((r) => r === c || (r.length >= 7 && /^[0-9a-f]+$/i.test(r) && c.startsWith(r.toLowerCase())))
}

/** The suspect deploy of a regression among the deploys (newest first), or undefined. */
export const suspectOf = (deploys: ReadonlyArray<DeployFacts>, request: Facts["request"]): DeployFacts | undefined =>
  deploys.find((d) => matchesRevision(d, request.revision)) ??
    [...deploys].filter((d) => d.liveAt !== null && Math.abs(d.liveAt - request.deployedAt) <= LIVE_WITHIN_MS)
      .sort((a, b) => Math.abs(a.liveAt! - request.deployedAt) - Math.abs(b.liveAt! - request.deployedAt))[0]

/** The signal `RenderRollback` and `RenderRecovered` read (service and suspect deploy). */
export const deploySignal = (signal: Signal.Signal, suspect: DeployFacts): Signal.Signal => ({
  type: RENDER_SIGNAL,
  target: signal.target,
  observedAt: signal.observedAt,
  evidence: { serviceId: signal.target.ref, deployId: suspect.id, trigger: "handoff" }
})

/** Options of the runbook. */
export interface Options {
  readonly confidence?: number
  /** Default `dry_run` (`BYTEPORT_MODE_CLOUD_HANDOFF_RENDER_REGRESSION` overrides). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  /** Default: every 15 s up to 90 s. */
  readonly verifySchedule?: Verifier.VerifySchedule
  readonly probeTimeoutMs?: number
  readonly healthUrls?: Readonly<Record<string, string>>
  readonly cooldown?: Duration.Input
}

/** The diagnoser. */
export const diagnoser = (o: Pick<Options, "healthUrls"> = {}): Diagnoser.Diagnoser<Facts, Render> => {
  const service = Diagnoser.probe("render.service", (signal: Signal.Signal) =>
    Effect.gen(function*() {
      if (signal.target.kind !== TARGET_KIND) return yield* Effect.fail(new Error(`target ${signal.target.kind} is not a ${TARGET_KIND}`))
      return toServiceFacts(yield* (yield* Render).getService(signal.target.ref), o.healthUrls?.[signal.target.ref])
    }))
  const deploys = Diagnoser.probe("render.deploys", (signal: Signal.Signal) => Effect.map(Render.use((r) => r.listDeploys(signal.target.ref, 5)), (ds) => ds.map(toDeployFacts)))
  return Diagnoser.make<Facts, Render>({
    request: HandOffs.probe(HandOffs.DeploymentRegression),
    service,
    deploys,
    suspect: Diagnoser.probe("suspect", (signal: Signal.Signal) =>
      Effect.gen(function*() {
        const request = yield* HandOffs.decode(HandOffs.DeploymentRegression, signal)
        const ds = (yield* Render.use((r) => r.listDeploys(signal.target.ref, 5))).map(toDeployFacts)
        const s = suspectOf(ds, request)
        if (s === undefined) return yield* Effect.fail(new Error(`no deploy among the last ${ds.length} of ${signal.target.ref} is revision ${request.revision} or went live within 5 min of ${new Date(request.deployedAt).toISOString()}`))
        return s
      }))
  })
}

/** The classifier. */
export const classifier = (o: { readonly confidence?: number } = {}) => (facts: Fact.Facts<Facts>): Classification.Classification => {
  if (facts.request._tag !== "Known") return Classification.indeterminate("request", ["request"], [facts.request.reason])
  if (facts.suspect._tag !== "Known") return Classification.indeterminate("suspect", ["suspect"], [facts.suspect.reason])
  const r = facts.request.value
  return Classification.classified(CLASS, o.confidence ?? DEFAULT_CONFIDENCE, [`${r.symptom}`, `suspect: ${RenderRollback.deployLine(facts.suspect.value)}`])
}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Facts, Render> => {
  const recovered = RenderRecovered.make({ ...(options.probeTimeoutMs !== undefined ? { probeTimeoutMs: options.probeTimeoutMs } : {}), ...(options.healthUrls ? { healthUrls: options.healthUrls } : {}) })
  return Runbook.make<Facts, Render>({
    id: ID,
    family: "cloud.handoff",
    description: "Deployment regression of a Render service, handed off by another runbook: rolls back to the last green deploy",
    signals: [SIGNAL_TYPE],
    // only render.service targets: a k8s.workload's regression routes to the k8s rollout runbook
    targetKinds: [TARGET_KIND],
    precedence: 60,
    diagnose: diagnoser(options.healthUrls ? { healthUrls: options.healthUrls } : {}),
    classify: classifier(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    remediate: (c, facts, signal) => {
      const suspect = Fact.value(facts.suspect)!
      return RenderRollback.make()(c, facts, deploySignal(signal, suspect))
    },
    verify: (ctx) => {
      const suspect = Fact.value(ctx.facts.suspect)
      return suspect === undefined ? recovered(ctx) : recovered({ ...ctx, signal: deploySignal(ctx.signal, suspect) })
    },
    verifySchedule: options.verifySchedule ?? Verifier.schedules.every15sUpTo90s,
    nextSteps: (c, facts) => [
      `class: ${Classification.className(c)}`,
      `last deploys: ${facts.deploys._tag === "Known" ? facts.deploys.value.map(RenderRollback.deployLine).join("; ") : `(unknown: ${facts.deploys.reason})`}`,
      "to roll back by hand: Render Dashboard → Events → Rollback, or POST /v1/services/{id}/rollback {deployId}; then set autoDeploy to no"
    ],
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "10 minutes"
  })
}
