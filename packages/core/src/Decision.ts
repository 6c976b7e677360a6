/**
 * A guardrail Decision for one action: Allow (with a Permit), Deny, or NeedsApproval — and
 * its JSON record for reports, the journal and escalations.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import type { Permit } from "./Permit"

/** Leave to act, carrying the permit the handler will redeem. */
export interface Allow {
  readonly _tag: "Allow"
  readonly permit: Permit
}

/** Refused by a guardrail. */
export interface Deny {
  readonly _tag: "Deny"
  readonly guardrail: string
  readonly reason: string
  readonly retryAfterMs?: number | undefined
}

/** A human must approve first. */
export interface NeedsApproval {
  readonly _tag: "NeedsApproval"
  readonly guardrail: string
  readonly reason: string
}

/** A Decision. */
export type Decision = Allow | Deny | NeedsApproval

/** The record of a decision on one step, as reports and escalations show it. */
export const DecisionRecord = Schema.Struct({
  stepPath: Schema.String,
  actionKind: Schema.String,
  idempotencyKey: Schema.String,
  phase: Schema.Literals(["check", "acquire"]),
  decision: Schema.Literals(["allow", "deny", "needs_approval"]),
  guardrail: Schema.optionalKey(Schema.String),
  reason: Schema.optionalKey(Schema.String),
  retryAfterMs: Schema.optionalKey(Schema.Finite),
  permitId: Schema.optionalKey(Schema.String),
  at: Schema.Finite
})

/** The record of a decision on one step. */
export type DecisionRecord = typeof DecisionRecord.Type
