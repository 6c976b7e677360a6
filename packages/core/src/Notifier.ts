/**
 * Where a runbook's messages go: dry_run plans to the ops channel (chat or webhook — never the
 * pager), escalations to the pager, tickets to the ticket sink, and every finished report to
 * the audit trail. `Notifier.fromSinks` wires it to the configured sinks; `Notifier.memory`
 * records everything for tests. Every message is redacted before it leaves.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Layer, Ref } from "effect"
import { Audit } from "./Audit"
import type { DecisionRecord } from "./Decision"
import type { Escalation } from "./Escalation"
import type { IncidentReport } from "./IncidentReport"
import type { Outcome } from "./Outcome"
import type { Plan } from "./Plan"
import { OpsChannel, Pager, type Sink, TicketSink } from "./sinks/Sink"
import * as SinkMessage from "./sinks/SinkMessage"

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

const deliver = <M extends SinkMessage.SinkMessage>(sink: Sink<M>, message: M): Effect.Effect<void> =>
  Effect.suspend(() => sink.post(message)).pipe(
    Effect.catchCause((cause) => Effect.logWarning(`notifier: sink ${sink.name} could not take a ${message.kind} message: ${Cause.pretty(cause)}`))
  )

/**
 * A notifier over the configured sinks: dry_run plans and approval requests to the `OpsChannel`;
 * escalations to the `Pager` when one is provided and the severity is warning or critical (info,
 * and every escalation when there is no pager, to the ops channel); tickets to the `TicketSink`
 * (or, without one, as a notice to the ops channel); reports to the ops channel and, with the
 * `Audit` service, to the audit log, like every audit event — except `duplicate` reports, which
 * are only linked in the audit log (event `duplicate`, naming the incident holding the target).
 * A failing sink is logged, never fails the incident. Sinks and the audit log redact what they send.
 */
export const fromSinks: Layer.Layer<Notifier, never, OpsChannel> = Layer.effect(
  Notifier,
  Effect.gen(function*() {
    const ops = yield* OpsChannel
    const pager = yield* Effect.serviceOption(Pager)
    const tickets = yield* Effect.serviceOption(TicketSink)
    const audit = yield* Effect.serviceOption(Audit)
    const record = (incidentId: string, runbook: string, event: string, data: unknown) =>
      audit._tag === "Some" ? audit.value.record({ incidentId, runbook, event, data }) : Effect.void
    return Notifier.of({
      postPlan: (p) =>
        deliver(ops, SinkMessage.plan({ incidentId: p.incidentId, runbook: p.runbook, plan: p.plan, planDigest: p.planDigest, rendered: p.rendered, decisions: p.decisions, outcomes: p.outcomes })),
      escalate: (e) =>
        Effect.andThen(
          e.severity !== "info" && pager._tag === "Some" ? deliver(pager.value, SinkMessage.escalation(e)) : deliver(ops, SinkMessage.escalation(e)),
          record(e.incidentId, e.runbook, "escalated", { severity: e.severity, reason: e.reason })
        ),
      ticket: (e) => {
        const t = SinkMessage.ticketFromEscalation(e)
        return tickets._tag === "Some"
          ? deliver(tickets.value, SinkMessage.ticket(t))
          : deliver(ops, SinkMessage.notice({ title: `ticket (no ticket sink configured): ${t.title}`, text: t.body, severity: t.severity, incidentId: e.incidentId, runbook: e.runbook }))
      },
      report: (r) =>
        r.status === "duplicate"
          // A duplicate (the target is held by another incident, e.g. a crash loop signalling at every
          // restart) is linked in the audit log, not posted again to the ops channel.
          ? record(r.incidentId, r.runbook, "duplicate", { mode: r.mode, duplicateOf: r.duplicateOf ?? null, signal: r.signal.type })
          : Effect.andThen(deliver(ops, SinkMessage.report(r)), record(r.incidentId, r.runbook, "report", { status: r.status, mode: r.mode, planDigest: r.planDigest ?? null })),
      audit: (event, data) =>
        record(typeof data["incidentId"] === "string" ? data["incidentId"] : "-", typeof data["runbook"] === "string" ? data["runbook"] : "-", event, data)
    })
  })
)
