/**
 * The outcome of a Classifier: a class with a confidence, Unclassified, or Indeterminate
 * (a rule ahead of any match needed a fact that is Unknown).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { JsonObject } from "./Json"

/** A root-cause class with its confidence, the reasons and the evidence behind it. */
export const Classified = Schema.TaggedStruct("Classified", {
  class: Schema.String,
  confidence: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
  reasons: Schema.Array(Schema.String),
  evidence: JsonObject
})

/** No rule matched (or the match was below the minimum confidence). */
export const Unclassified = Schema.TaggedStruct("Unclassified", {
  reasons: Schema.Array(Schema.String)
})

/** A rule evaluated before any match needed facts that are Unknown: nothing can be concluded safely. */
export const Indeterminate = Schema.TaggedStruct("Indeterminate", {
  rule: Schema.String,
  missing: Schema.Array(Schema.String),
  reasons: Schema.Array(Schema.String)
})

/** A Classification. */
export const Classification = Schema.Union([Classified, Unclassified, Indeterminate])

/** A Classification. */
export type Classification = typeof Classification.Type

/** A classified result. */
export type Classified = typeof Classified.Type

/** Builds a Classified result. */
export const classified = (
  cls: string,
  confidence: number,
  reasons: ReadonlyArray<string> = [],
  evidence: JsonObject = {}
): Classification => ({ _tag: "Classified", class: cls, confidence, reasons: [...reasons], evidence })

/** Builds an Unclassified result. */
export const unclassified = (reasons: ReadonlyArray<string>): Classification => ({ _tag: "Unclassified", reasons: [...reasons] })

/** Builds an Indeterminate result. */
export const indeterminate = (rule: string, missing: ReadonlyArray<string>, reasons: ReadonlyArray<string> = []): Classification => ({
  _tag: "Indeterminate",
  rule,
  missing: [...missing],
  reasons: [...reasons]
})

/** The class name, or undefined when not Classified. */
export const className = (c: Classification): string | undefined => (c._tag === "Classified" ? c.class : undefined)
