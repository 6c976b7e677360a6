/**
 * The bundle handed to a human when BytePort stops: everything needed to take over without
 * re-diagnosing — signal, facts (redacted), classification, plan, guardrail decisions,
 * outcomes, verdicts, suggested next steps, change proposals and attachments.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ChangeProposal } from "./ChangeProposal"
import { Classification } from "./Classification"
import { DecisionRecord } from "./Decision"
import { FactsJson } from "./Fact"
import { Outcome } from "./Outcome"
import { Plan } from "./Plan"
import { Signal } from "./Signal"
import { Verdict } from "./Verdict"

/** An attachment: a heap profile, logs, a diff … inline (UTF-8 or base64) or as a reference. */
export const Attachment = Schema.Struct({
  name: Schema.String,
  contentType: Schema.String,
  encoding: Schema.Literals(["utf8", "base64", "reference"]),
  content: Schema.String,
  sizeBytes: Schema.optionalKey(Schema.Finite)
})

/** An attachment. */
export type Attachment = typeof Attachment.Type

/** How urgent an escalation is. */
export const Severity = Schema.Literals(["info", "warning", "critical"])

/** How urgent an escalation is. */
export type Severity = typeof Severity.Type

/** The escalation bundle. */
export const Escalation = Schema.Struct({
  incidentId: Schema.String,
  runbook: Schema.String,
  reason: Schema.String,
  severity: Severity,
  signal: Signal,
  facts: FactsJson,
  classification: Schema.optionalKey(Classification),
  plan: Schema.optionalKey(Plan),
  decisions: Schema.Array(DecisionRecord),
  outcomes: Schema.Array(Outcome),
  verdicts: Schema.Array(Verdict),
  nextSteps: Schema.Array(Schema.String),
  proposals: Schema.Array(ChangeProposal),
  attachments: Schema.Array(Attachment),
  at: Schema.Finite
})

/** The escalation bundle. */
export type Escalation = typeof Escalation.Type
