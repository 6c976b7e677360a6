/**
 * The record of one incident run: every phase timestamped. Renders to JSON and to a Markdown
 * postmortem (see `Report`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ChangeProposal } from "./ChangeProposal"
import { Classification } from "./Classification"
import { DecisionRecord } from "./Decision"
import { Escalation } from "./Escalation"
import { FactsJson } from "./Fact"
import { JsonObject } from "./Json"
import { Outcome } from "./Outcome"
import { Plan } from "./Plan"
import { ParentLink, Signal } from "./Signal"
import { Verdict } from "./Verdict"

/** The mode a runbook ran in. */
export const Mode = Schema.Literals(["observe", "dry_run", "auto"])

/** The mode a runbook ran in. */
export type Mode = typeof Mode.Type

/** One line of the incident timeline. */
export const TimelineEntry = Schema.Struct({
  at: Schema.Finite,
  phase: Schema.Literals([
    "detect",
    "diagnose",
    "classify",
    "plan",
    "guardrails",
    "act",
    "verify",
    "approval",
    "handoff",
    "propose",
    "escalate",
    "resume",
    "close"
  ]),
  message: Schema.String
})

/** One line of the incident timeline. */
export type TimelineEntry = typeof TimelineEntry.Type

/** How an incident ended. */
export const Status = Schema.Literals([
  "recovered", // plan applied and verified
  "escalated", // a human was handed the bundle
  "observed", // observe mode: recorded only
  "dry_run", // dry_run mode: plan posted, nothing written
  "proposed", // only change proposals were produced (and escalated/ticketed)
  "handed_off", // the plan's work was handed to another runbook
  "duplicate" // another incident already holds the target
])

/** How an incident ended. */
export type Status = typeof Status.Type

/** The IncidentReport. */
export const IncidentReport = Schema.Struct({
  incidentId: Schema.String,
  runbook: Schema.String,
  mode: Mode,
  status: Status,
  parent: Schema.optionalKey(ParentLink),
  signal: Signal,
  facts: FactsJson,
  classification: Schema.optionalKey(Classification),
  plan: Schema.optionalKey(Plan),
  planDigest: Schema.optionalKey(Schema.String),
  decisions: Schema.Array(DecisionRecord),
  outcomes: Schema.Array(Outcome),
  // Every verification poll, in order, each with its place in the schedule (`poll`: attempt, poll,
  // offset, hold window); the last one decided the incident.
  verdicts: Schema.Array(Verdict),
  proposals: Schema.Array(ChangeProposal),
  escalation: Schema.optionalKey(Escalation),
  children: Schema.Array(Schema.String),
  timeline: Schema.Array(TimelineEntry),
  postmortem: Schema.optionalKey(JsonObject),
  duplicateOf: Schema.optionalKey(Schema.String),
  startedAt: Schema.Finite,
  endedAt: Schema.Finite
})

/** The IncidentReport. */
export type IncidentReport = typeof IncidentReport.Type
