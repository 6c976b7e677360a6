/**
 * The messages BytePort posts to its sinks: a dry_run `plan`, an `escalation` bundle, a
 * finished `report`, a `ticket`, and a free-form `notice`. Each kind has a title and a Markdown
 * rendering shared by every sink.
 *
 * @since 0.1.0
 */
import type { DecisionRecord } from "../Decision"
import type { Escalation, Severity } from "../Escalation"
import { denialDetail } from "../Guardrail"
import type { IncidentReport } from "../IncidentReport"
import type { Outcome } from "../Outcome"
import * as Plan from "../Plan"
import * as Report from "../Report"
import type { TargetRef } from "../TargetRef"

/** A ticket: what a ticket sink opens (e.g. for a genuine memory leak). `body` is Markdown. */
export interface Ticket {
  readonly title: string
  readonly body: string
  readonly labels: ReadonlyArray<string>
  readonly severity: Severity
  readonly incidentId: string
  /** Repeated tickets with the same key update one ticket instead of opening many. */
  readonly dedupKey: string
}

/** A dry_run plan post, for the ops channel only (never the pager). */
export interface PlanMessage {
  readonly kind: "plan"
  readonly incidentId: string
  readonly runbook: string
  readonly plan: Plan.Plan
  readonly planDigest: string
  /** The rendered plan; `Plan.render(plan)` when absent. */
  readonly rendered?: string
  readonly target?: TargetRef
  readonly decisions: ReadonlyArray<DecisionRecord>
  readonly outcomes: ReadonlyArray<Outcome>
}

/** An escalation bundle (the only kind a Pager accepts). */
export interface EscalationMessage {
  readonly kind: "escalation"
  readonly escalation: Escalation
}

/** A finished incident report. */
export interface ReportMessage {
  readonly kind: "report"
  readonly report: IncidentReport
}

/** A ticket to open. */
export interface TicketMessage {
  readonly kind: "ticket"
  readonly ticket: Ticket
}

/** A free-form notice for the ops channel ("runbook k8s.oom switched to observe"). */
export interface NoticeMessage {
  readonly kind: "notice"
  readonly title: string
  /** Markdown. */
  readonly text: string
  readonly severity: Severity
  readonly incidentId?: string
  readonly runbook?: string
}

/** Any sink message. */
export type SinkMessage = PlanMessage | EscalationMessage | ReportMessage | TicketMessage | NoticeMessage

/** The kinds of sink messages. */
export type Kind = SinkMessage["kind"]

/** Builds a plan message (the fields of a dry_run plan post). */
export const plan = (post: Omit<PlanMessage, "kind">): PlanMessage => ({ kind: "plan", ...post })

/** Builds an escalation message. */
export const escalation = (e: Escalation): EscalationMessage => ({ kind: "escalation", escalation: e })

/** Builds a report message. */
export const report = (r: IncidentReport): ReportMessage => ({ kind: "report", report: r })

/** Builds a ticket message. */
export const ticket = (t: Ticket): TicketMessage => ({ kind: "ticket", ticket: t })

/** Builds a notice message. */
export const notice = (n: Omit<NoticeMessage, "kind">): NoticeMessage => ({ kind: "notice", ...n })

/**
 * A ticket from an escalation bundle: the title names the class (or signal) and target, the
 * body is the bundle's Markdown, the dedup key is `byteport:<runbook>:<target>:<class>` so a
 * recurring problem updates one ticket.
 */
export const ticketFromEscalation = (e: Escalation, options: { readonly labels?: ReadonlyArray<string> } = {}): Ticket => {
  const cls = e.classification?._tag === "Classified" ? e.classification.class : e.signal.type
  return {
    title: `${cls} on ${e.signal.target.kind} ${e.signal.target.ref}`,
    body: Report.escalationToMarkdown(e),
    labels: [...(options.labels ?? ["byteport", `runbook:${e.runbook}`, `class:${cls}`])],
    severity: e.severity,
    incidentId: e.incidentId,
    dedupKey: `byteport:${e.runbook}:${e.signal.target.kind}:${e.signal.target.ref}:${cls}`
  }
}

/** The incident id a message is about (if any). */
export const incidentId = (m: SinkMessage): string | undefined => {
  switch (m.kind) {
    case "plan":
      return m.incidentId
    case "escalation":
      return m.escalation.incidentId
    case "report":
      return m.report.incidentId
    case "ticket":
      return m.ticket.incidentId
    case "notice":
      return m.incidentId
  }
}

/** The runbook a message is about (if any). */
export const runbook = (m: SinkMessage): string | undefined => {
  switch (m.kind) {
    case "plan":
      return m.runbook
    case "escalation":
      return m.escalation.runbook
    case "report":
      return m.report.runbook
    case "ticket":
      return undefined
    case "notice":
      return m.runbook
  }
}

/** How urgent a message is. */
export const severity = (m: SinkMessage): Severity => {
  switch (m.kind) {
    case "plan":
      return "info"
    case "escalation":
      return m.escalation.severity
    case "report":
      return m.report.status === "escalated" ? "warning" : "info"
    case "ticket":
      return m.ticket.severity
    case "notice":
      return m.severity
  }
}

/** A one-line title for a message (not yet redacted). */
export const title = (m: SinkMessage): string => {
  switch (m.kind) {
    case "plan":
      return `[dry_run] ${m.runbook}: ${m.plan.summary}`
    case "escalation":
      return `[${m.escalation.severity}] ${m.escalation.runbook}: ${m.escalation.reason}`
    case "report":
      return `[${m.report.status}] ${m.report.runbook}: incident ${m.report.incidentId}`
    case "ticket":
      return m.ticket.title
    case "notice":
      return m.title
  }
}

/** The rendered plan of a plan message. */
export const renderedPlan = (m: PlanMessage): string => m.rendered ?? Plan.render(m.plan)

/** The Markdown body of a message (redacted with the default redactor where it renders a report or bundle). */
export const toMarkdown = (m: SinkMessage): string => {
  switch (m.kind) {
    case "plan": {
      const denied = m.decisions.filter((d) => d.decision !== "allow")
      return [
        `**Dry run** — incident \`${m.incidentId}\`, runbook \`${m.runbook}\`${m.target ? `, target ${m.target.kind} \`${m.target.ref}\`` : ""}.`,
        "Nothing was changed. This is what BytePort would do:",
        "```text\n" + renderedPlan(m) + "\n```",
        `Plan digest: \`${m.planDigest}\``,
        denied.length
          ? `Guardrails would stop:\n${denied.map((d) => `- ${d.actionKind} (${d.stepPath}): ${d.decision} by ${denialDetail(d.guardrail, d.reason)}`).join("\n")}`
          : "All steps pass the guardrails' checks."
      ].join("\n\n")
    }
    case "escalation":
      return Report.escalationToMarkdown(m.escalation)
    case "report":
      return Report.toMarkdown(m.report)
    case "ticket":
      return m.ticket.body
    case "notice":
      return m.text
  }
}
