/**
 * Facts are what a Diagnoser learned. Every fact is explicitly `Known` or `Unknown`: a probe
 * that failed or timed out yields `Unknown` with the reason, never an abort, so a classifier
 * can tell "Prometheus says no trend" from "Prometheus was unreachable".
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A fact whose value is known. */
export interface Known<A> {
  readonly _tag: "Known"
  readonly value: A
}

/** A fact that could not be learned, with the probe and the reason. */
export interface Unknown {
  readonly _tag: "Unknown"
  readonly probe: string
  readonly reason: string
}

/** One fact: Known or Unknown. */
export type Fact<A> = Known<A> | Unknown

/** A record of facts, one per key of `F`. */
export type Facts<F> = { readonly [K in keyof F]: Fact<F[K]> }

/** Builds a Known fact. */
export const known = <A>(value: A): Known<A> => ({ _tag: "Known", value })

/** Builds an Unknown fact. */
export const unknown = (probe: string, reason: string): Unknown => ({ _tag: "Unknown", probe, reason })

/** Whether a fact is Known. */
export const isKnown = <A>(fact: Fact<A>): fact is Known<A> => fact._tag === "Known"

/** The value of a fact, or `undefined` when Unknown. */
export const value = <A>(fact: Fact<A> | undefined): A | undefined => (fact && fact._tag === "Known" ? fact.value : undefined)

/** The keys of `facts` that are Unknown. */
export const unknownKeys = <F>(facts: Facts<F>): Array<keyof F & string> =>
  (Object.keys(facts) as Array<keyof F & string>).filter((k) => facts[k]?._tag === "Unknown")

/** The JSON form of a fact (for reports and the journal). */
export const FactJson = Schema.Union([
  Schema.TaggedStruct("Known", { value: Schema.Json }),
  Schema.TaggedStruct("Unknown", { probe: Schema.String, reason: Schema.String })
])

/** The JSON form of a record of facts. */
export const FactsJson = Schema.Record(Schema.String, FactJson)

/** The JSON form of a record of facts. */
export type FactsJson = typeof FactsJson.Type
