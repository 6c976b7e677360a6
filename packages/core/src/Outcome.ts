/**
 * What happened to one step when the plan ran.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JsonObject } from "./Json"
import { TargetRef } from "./TargetRef"

/** The status of one executed step. */
export const OutcomeStatus = Schema.Literals([
  "applied",
  "dry_run",
  "failed",
  "denied",
  "skipped",
  "check_passed",
  "check_failed",
  "handed_off",
  "proposed",
  "escalated"
])

/** The status of one executed step. */
export type OutcomeStatus = typeof OutcomeStatus.Type

/** The outcome of one step: status, a human detail and the handler's result. */
export const Outcome = Schema.Struct({
  stepPath: Schema.String,
  kind: Schema.String,
  target: TargetRef,
  idempotencyKey: Schema.optionalKey(Schema.String),
  status: OutcomeStatus,
  detail: Schema.String,
  result: Schema.optionalKey(JsonObject),
  at: Schema.Finite
})

/** The outcome of one step. */
export type Outcome = typeof Outcome.Type
