/**
 * `deploy.webhook.rollback` — "Ingest failed deployment webhooks from CI systems (GitHub Actions,
 * ArgoCD, Flux, Spinnaker) and automatically rolls back to the last healthy revision — with
 * safety gates and commit-author notification."
 *
 * Composed from the package's exported parts:
 *
 * 1. **Detect** — `DeployWebhooks` (one receiver, a `Catalog.run` source or this runbook's
 *    detector): authenticity on the raw bytes in constant time, dedup once ever in the store,
 *    every event journaled (`DeployJournal`).
 * 2. **Diagnose** — `WebhookRollback.diagnoser`: the payload, the source re-read
 *    (`DeploySources.inspect`), the journal.
 * 3. **Classify** — one class per platform (0.90); the source not confirming → escalate.
 * 4. **Remediate** — `WebhookRollback.remediator`: the rollback per platform to the last revision
 *    healthy for the soak, then `deploy.notifyAuthor` (commit comment + ops channel, never paged).
 * 5. **Gates** — 1 rollback per target per hour, false attribution, no other deploy running;
 *    `minConfidence(0.70)`.
 * 6. **Verify** — the rollback run / execution succeeded, the application runs the target, the
 *    Flux freeze holds, or the awaited hand-off recovered (every 30 s up to 20 min by default).
 *
 * @since 0.3.0
 */
import { type ActionHandler, ActionRegistry, Detector, Guardrail, type GuardrailStore, type Notifier, Runbook, Verifier } from "@byteport/core"
import type { Duration, Layer } from "effect"
import * as DispatchWorkflow from "../actions/DispatchWorkflow"
import type { GitHub } from "../github/GitHub"
import * as Actions from "../webhook/Actions"
import * as Decision from "../webhook/Decision"
import * as Events from "../webhook/Events"
import type { SpinnakerGate } from "../webhook/SpinnakerGate"

/** The runbook id. */
export const ID = "deploy.webhook.rollback"
/** The family. */
export const FAMILY = "deploy"

/** The services the runbook needs besides core's (the platform clients are optional). */
export type Services = GuardrailStore.GuardrailStore | Notifier.Notifier

/** Options (every number is a default). */
export interface Options extends Decision.RemediateOptions {
  /** The receivers' detectors (`DeployWebhooks.make(...).detector`); or give the receiver's `signals` to `Catalog.run`'s `sources`. */
  readonly detectors?: ReadonlyArray<Detector.Detector<never, never>>
  /** Rollbacks per target per window (default 1 per hour). */
  readonly rateLimit?: { readonly max?: number; readonly window?: Duration.Input }
  /** The confidence of every class (default 0.90). */
  readonly confidence?: number
  /** Verification: poll interval and bound (default 30 s up to 20 minutes). */
  readonly verifyEvery?: Duration.Input
  readonly verifyUpTo?: Duration.Input
  /** Mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  readonly cooldown?: Duration.Input
}

/** The runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Decision.WebhookFacts, Services> =>
  Runbook.make<Decision.WebhookFacts, Services>({
    id: ID,
    family: FAMILY,
    description: "Ingests failed deployment webhooks (GitHub Actions, Argo CD, Flux, Spinnaker), re-reads the source and rolls back to the last healthy revision, with safety gates and commit-author notification",
    signals: [Events.SIGNAL_TYPE],
    precedence: 10,
    ...(options.detectors && options.detectors.length > 0 ? { detector: Detector.merge("deploy.webhook.rollback", options.detectors) } : {}),
    diagnose: Decision.diagnoser(),
    classify: Decision.classifier(options.confidence !== undefined ? { confidence: options.confidence } : {}),
    remediate: Decision.remediator(options),
    guardrails: [Guardrail.minConfidence(0.7), Decision.falseAttribution, Decision.noDeployRunning, Decision.rollbackRateLimit(options.rateLimit ?? {})],
    verify: Decision.verifier(),
    verifySchedule: Verifier.every(options.verifyEvery ?? "30 seconds", options.verifyUpTo ?? "20 minutes"),
    nextSteps: (c, facts) => {
      const f = facts.reported._tag === "Known" && facts.source._tag === "Known" && facts.journal._tag === "Known" && facts.readAt._tag === "Known"
        ? { reported: facts.reported.value, source: facts.source.value, journal: facts.journal.value, readAt: facts.readAt.value }
        : undefined
      return [
        `class: ${c._tag === "Classified" ? c.class : c._tag.toLowerCase()}`,
        ...(f ? [`reported: ${f.reported.detail}`, `source: ${f.source.status}`] : []),
        ...Decision.unfreezeSteps(f)
      ]
    },
    defaultMode: options.defaultMode ?? "dry_run",
    ...(options.cooldown !== undefined ? { cooldown: options.cooldown } : {})
  })

/** The action handlers of the runbook (the Argo CD / Flux freeze and rollback kinds ship with the GitOps actions). */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<GitHub | SpinnakerGate>> => [
  DispatchWorkflow.make(),
  Actions.triggerHandler(),
  Actions.notifyHandler()
]

/** The registry of the runbook's handlers. */
export const handlersLayer = (): Layer.Layer<ActionRegistry.ActionRegistry, never, GitHub | SpinnakerGate> =>
  ActionRegistry.layer<GitHub | SpinnakerGate>({ handlers: handlers(), checks: [] })
