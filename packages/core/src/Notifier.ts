/**
 * Where a runbook's messages go: dry_run plans to the ops channel (chat or webhook — never the
 * pager), escalations to the pager, tickets to the ticket sink, and every finished report to
 * the audit trail. `Notifier.fromSinks` wires it to the configured sinks; `Notifier.memory`
 * records everything for tests. Every message is redacted before it leaves.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { DecisionRecord } from "./Decision"
import type { Escalation } from "./Escalation"
import type { IncidentReport } from "./IncidentReport"
import type { Outcome } from "./Outcome"
import type { Plan } from "./Plan"

/** A dry_run plan post for the ops channel. */
export interface PlanPost {
  readonly incidentId: string
  readonly runbook: string
  readonly plan: Plan
  readonly planDigest: string
  readonly rendered: string
  readonly decisions: ReadonlyArray<DecisionRecord>
  readonly outcomes: ReadonlyArray<Outcome>
}

/** The notifier service. Notifications never fail the incident: a failing sink is logged. */
export class Notifier extends Context.Service<
  Notifier,
  {
    /** dry_run: the plan, to the ops channel only (never the pager). */
    readonly postPlan: (post: PlanPost) => Effect.Effect<void>
    /** An escalation bundle, to the pager (critical/warning) or the ops channel (info). */
    readonly escalate: (escalation: Escalation) => Effect.Effect<void>
    /** Opens a ticket from an escalation bundle (e.g. a genuine memory leak). */
    readonly ticket: (escalation: Escalation) => Effect.Effect<void>
    /** A finished report (audit trail, report archive). */
    readonly report: (report: IncidentReport) => Effect.Effect<void>
    /** Free-form audit events (malformed signals, resumptions, approvals …). */
    readonly audit: (event: string, data: Record<string, unknown>) => Effect.Effect<void>
  }
>()("@byteport/core/Notifier") {}

/** What the in-memory notifier recorded. */
export interface Recorded {
  readonly plans: ReadonlyArray<PlanPost>
  readonly escalations: ReadonlyArray<Escalation>
  readonly tickets: ReadonlyArray<Escalation>
  readonly reports: ReadonlyArray<IncidentReport>
  readonly audit: ReadonlyArray<{ readonly event: string; readonly data: Record<string, unknown> }>
}

/** Reads what the in-memory notifier recorded. */
export class NotifierRecording extends Context.Service<NotifierRecording, { readonly get: Effect.Effect<Recorded> }>()(
  "@byteport/core/NotifierRecording"
) {}

/** An in-memory notifier (tests, examples), with its recording. */
export const memory: Layer.Layer<Notifier | NotifierRecording> = Layer.effectContext(
  Effect.gen(function*() {
    const ref = yield* Ref.make<Recorded>({ plans: [], escalations: [], tickets: [], reports: [], audit: [] })
    const push = <K extends keyof Recorded>(k: K, v: Recorded[K][number]) =>
      Ref.update(ref, (r) => ({ ...r, [k]: [...r[k], v] }))
    return Context.make(
      Notifier,
      Notifier.of({
        postPlan: (p) => push("plans", p),
        escalate: (e) => push("escalations", e),
        ticket: (e) => push("tickets", e),
        report: (r) => push("reports", r),
        audit: (event, data) => push("audit", { event, data })
      })
    ).pipe(Context.add(NotifierRecording, NotifierRecording.of({ get: Ref.get(ref) })))
  })
)
