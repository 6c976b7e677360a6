/**
 * Puts a planted secret into every field of an IncidentReport / Escalation / Ticket that can
 * carry one (evidence, facts, classification evidence, outcome details and results, timeline,
 * next steps, proposals, attachments, postmortem — including live Error objects).
 */
import type { Escalation } from "../../src/Escalation"
import type { IncidentReport } from "../../src/IncidentReport"
import * as SinkMessage from "../../src/sinks/SinkMessage"
import { bundle, report } from "../report/fixture"
import { asText, type Planted } from "./plant"

/** An escalation carrying the planted secret everywhere. */
export const plantedEscalation = (p: Planted): Escalation => {
  const text = asText(p)
  const v = p.value as any
  return {
    ...bundle,
    reason: `probe said: ${text}`,
    signal: { ...bundle.signal, evidence: { ...bundle.signal.evidence, planted: v } },
    facts: { ...bundle.facts, planted: { _tag: "Known", value: v }, failedProbe: { _tag: "Unknown", probe: "pg", reason: text } },
    outcomes: [...bundle.outcomes, { ...bundle.outcomes[0]!, detail: text, result: { planted: v } }],
    nextSteps: [...bundle.nextSteps, `run: ${text}`],
    proposals: [{ ...bundle.proposals[0]!, body: `config:\n${text}` }],
    attachments: [...bundle.attachments, { name: "log.txt", contentType: "text/plain", encoding: "utf8", content: text }]
  }
}

/** A report carrying the planted secret everywhere (and its escalation too). */
export const plantedReport = (p: Planted): IncidentReport => {
  const e = plantedEscalation(p)
  const text = asText(p)
  return {
    ...report,
    signal: e.signal,
    facts: e.facts,
    outcomes: e.outcomes,
    proposals: e.proposals,
    escalation: e,
    timeline: [...report.timeline, { at: report.endedAt, phase: "close", message: text }],
    postmortem: { ...report.postmortem, planted: p.value as any, rows: [{ what: text, n: 1 }] }
  }
}

/** Every message kind carrying the planted secret. */
export const plantedMessages = (p: Planted): ReadonlyArray<SinkMessage.SinkMessage> => {
  const e = plantedEscalation(p)
  const r = plantedReport(p)
  return [
    SinkMessage.plan({
      incidentId: r.incidentId,
      runbook: r.runbook,
      plan: r.plan!,
      planDigest: r.planDigest!,
      rendered: `plan with ${asText(p)}`,
      decisions: [{ ...r.decisions[2]!, reason: asText(p) }],
      outcomes: e.outcomes
    }),
    SinkMessage.escalation(e),
    SinkMessage.report(r),
    SinkMessage.ticket(SinkMessage.ticketFromEscalation(e)),
    SinkMessage.ticket({ ...SinkMessage.ticketFromEscalation(e), title: `leak: ${asText(p)}`, body: asText(p) }),
    SinkMessage.notice({ title: asText(p), text: asText(p), severity: "info" })
  ]
}
