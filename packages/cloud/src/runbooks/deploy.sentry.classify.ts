/**
 * `deploy.sentry.classify` — "Classifies application errors from Sentry by stack-trace
 * heuristics (db_connection, oom, deploy_correlation, upstream_5xx, unknown), auto-rolls back
 * regressions correlated with a recent deploy SHA, scales up for OOM patterns, and escalates
 * novel errors with a structured summary."
 *
 * 1. **Detect** — `SentryIssues`: polling of the projects' new issues and/or the integration
 *    webhook (`Sentry-Hook-Signature` on the raw bytes); one incident per issue, ever.
 * 2. **Diagnose** — `SentryIssueDiagnoser`: the issue, its latest event (exceptions, frames,
 *    breadcrumbs), the deploy of its first release and the release before.
 * 3. **Classify** — `SentryErrorClass`: db_connection 0.90, oom 0.90, deploy_correlation 0.80,
 *    upstream_5xx 0.78, unknown 0.70, in the seed's order.
 * 4. **Act by hand-off only** — `SentryHandOff`: deploy_correlation → *deployment regression*
 *    (the owner of the target's deployments rolls back); oom → *OOM observed* (the owner scales
 *    up); db_connection, upstream_5xx and unknown → escalate with a structured summary.
 *
 * @since 0.1.0
 */
import { type Classification, Detector, type Fact, Guardrail, type GuardrailStore, type Notifier, Runbook, type TargetRef } from "@byteport/core"
import type { Duration, Schedule } from "effect"
import * as SentryErrorClass from "../classifiers/SentryErrorClass"
import * as SentryIssues from "../detectors/SentryIssues"
import * as SentryIssueDiagnoser from "../diagnosers/SentryIssueDiagnoser"
import * as SentryHandOff from "../remediators/SentryHandOff"
import type { Sentry } from "../sentry/Sentry"

/** The runbook id. */
export const ID = "deploy.sentry.classify"
/** The family. */
export const FAMILY = "deploy"

/** The services the runbook needs besides core's. */
export type Services = Sentry | GuardrailStore.GuardrailStore | Notifier.Notifier

/** Options (every seed number is a default). */
export interface Options {
  readonly org: string
  /** The projects watched (slugs). */
  readonly projects: ReadonlyArray<string>
  readonly patterns?: Partial<SentryErrorClass.Patterns>
  readonly confidences?: Partial<Record<SentryErrorClass.Class, number>>
  /** deploy_correlation: first seen at most this long after the deploy (default 30 min). */
  readonly correlationWindowMs?: number
  /** Only deploys to this environment count (default any). */
  readonly environment?: string
  /** Hand-off target per project, and the container named in *OOM observed*. */
  readonly targets?: Readonly<Record<string, TargetRef.TargetRef>>
  readonly containers?: Readonly<Record<string, string>>
  /** Polling (default every 60 s, issues first seen in the last hour); `false`: webhook only. */
  readonly poll?: false | { readonly schedule?: Schedule.Schedule<unknown>; readonly lookbackMs?: number }
  /** More detectors (e.g. `SentryIssues.webhook(...)`'s). */
  readonly detectors?: ReadonlyArray<Detector.Detector<never, Services>>
  readonly defaultMode?: "observe" | "dry_run" | "auto"
  readonly cooldown?: Duration.Input
}

/** The escalation's structured summary. */
export const nextSteps = (c: Classification.Classification, facts: Fact.Facts<SentryErrorClass.SentryFacts>): ReadonlyArray<string> =>
  SentryHandOff.summaryOf(c._tag === "Classified" ? c.class : c._tag === "Indeterminate" ? "indeterminate" : "unclassified", facts)

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<SentryErrorClass.SentryFacts, Services> => {
  const detectors: Array<Detector.Detector<never, Services>> = [...(options.detectors ?? [])]
  if (options.poll !== false) {
    detectors.unshift(SentryIssues.poller({
      org: options.org,
      projects: options.projects,
      ...(options.poll?.schedule ? { schedule: options.poll.schedule } : {}),
      ...(options.poll?.lookbackMs !== undefined ? { lookbackMs: options.poll.lookbackMs } : {})
    }))
  }
  return Runbook.make<SentryErrorClass.SentryFacts, Services>({
    id: ID,
    family: FAMILY,
    description: "Classifies Sentry issues (db_connection, oom, deploy_correlation, upstream_5xx, unknown) and hands deploy regressions and OOMs to their platform's runbook",
    signals: [SentryIssues.SIGNAL_TYPE],
    precedence: 30,
    ...(detectors.length > 0 ? { detector: Detector.merge(ID, detectors) } : {}),
    diagnose: SentryIssueDiagnoser.make(options.environment !== undefined ? { environment: options.environment } : {}),
    classify: SentryErrorClass.classifier({
      ...(options.patterns ? { patterns: options.patterns } : {}),
      ...(options.confidences ? { confidences: options.confidences } : {}),
      ...(options.correlationWindowMs !== undefined ? { correlationWindowMs: options.correlationWindowMs } : {})
    }),
    remediate: SentryHandOff.make({ ...(options.targets ? { targets: options.targets } : {}), ...(options.containers ? { containers: options.containers } : {}) }),
    guardrails: [Guardrail.minConfidence(0.7)],
    nextSteps,
    defaultMode: options.defaultMode ?? "dry_run",
    ...(options.cooldown !== undefined ? { cooldown: options.cooldown } : {})
  })
}
