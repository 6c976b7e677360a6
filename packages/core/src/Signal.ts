/**
 * A Signal is what a Detector emits: something is wrong with a target.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JsonObject } from "./Json"
import { TargetRef } from "./TargetRef"

/** The link from a child incident (raised by a HandOff) to its parent. */
export const ParentLink = Schema.Struct({
  incidentId: Schema.String,
  runbook: Schema.String,
  hop: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The hand-off's id (`<parent incident id>/<step path>`): the child claims it once, and reports back under it. */
  handOff: Schema.optionalKey(Schema.String)
})

/** The link from a child incident to its parent. */
export type ParentLink = typeof ParentLink.Type

/** A Signal: `{ type, target, observedAt (epoch ms), evidence }`, plus its source and an optional parent link. */
export const Signal = Schema.Struct({
  type: Schema.String.check(Schema.isNonEmpty()),
  target: TargetRef,
  observedAt: Schema.Finite,
  evidence: JsonObject,
  source: Schema.optionalKey(Schema.String),
  parent: Schema.optionalKey(ParentLink)
})

/** A Signal. */
export type Signal = typeof Signal.Type

/** Decodes an unknown value into a Signal, failing with a SchemaError that names the bad field's path. */
export const decode = Schema.decodeUnknownEffect(Signal)

/** Builds a Signal. */
export const make = (fields: Signal): Signal => fields
