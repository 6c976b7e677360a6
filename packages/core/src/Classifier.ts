/**
 * A Classifier is a pure function from facts to a Classification. `firstMatch` evaluates rules
 * in declaration order — the seed's order, never sorted by confidence. A rule that needs a fact
 * which is Unknown, reached before any match, yields Indeterminate: nothing safe can be
 * concluded, so the runbook escalates instead of falling through to a later (riskier) class.
 *
 * @since 0.1.0
 */
import * as C from "./Classification"
import * as Fact from "./Fact"
import type { Diagnoser } from "./Diagnoser"
import type { JsonObject } from "./Json"

/** A pure classifier. */
export type Classifier<F> = (facts: Fact.Facts<F>) => C.Classification

/** What a rule's predicate may return: a boolean, or a match with reasons and evidence. */
export type RuleResult =
  | boolean
  | { readonly matched: boolean; readonly reasons?: ReadonlyArray<string>; readonly evidence?: Readonly<Record<string, unknown>> }

/** The Known values a rule sees: exactly its needed keys `K` of the facts `F`. */
export type Needed<F, K extends keyof F> = { readonly [P in K]: F[P] }

/**
 * A rule over facts `F` (the needed keys are checked to be Known before `when` runs). A rule
 * that needs only the keys `K` is a `Rule<F>` too: its `when` and `confidence` accept fewer facts.
 */
export interface Rule<F, K extends keyof F & string = keyof F & string> {
  readonly class: string
  /** A fixed confidence, or one computed from the needed facts. */
  readonly confidence: number | ((facts: Needed<F, K>) => number)
  readonly needs: ReadonlyArray<K>
  readonly when: (facts: Needed<F, K>) => RuleResult
  readonly description?: string | undefined
}

/** What `rule` takes: the rule with `when` and `confidence` typed by the needed keys `K`. */
export interface RuleInput<F, K extends keyof F & string> {
  readonly class: string
  readonly confidence: number | ((facts: Needed<F, K>) => number)
  readonly needs: ReadonlyArray<K>
  readonly when: (facts: Needed<F, K>) => RuleResult
  readonly description?: string
}

/** A rule builder for facts `F`: infers the needed keys from `needs` and types `when` by them. */
export type RuleBuilder<F> = <const K extends keyof F & string>(r: RuleInput<F, K>) => Rule<F>

/**
 * Builds a rule whose predicate sees exactly the needed facts, typed and Known:
 * `Classifier.rule<OomFacts>()({ class: "undersized_limit", confidence: 0.84, needs: ["usage"], when: (f) => f.usage.ratio >= 0.85 })`.
 * To infer `F` from the runbook's Diagnoser instead of naming it, use `ruleFor` or `rules`.
 */
export const rule = <F>(): RuleBuilder<F> => (r) => r

/**
 * The rule builder for the facts of a Diagnoser, so the facts type is inferred, never repeated:
 * `const rule = Classifier.ruleFor(diagnose); rule({ class: "x", confidence: 0.9, needs: ["usage"], when: (f) => f.usage.ratio > 0.9 })`.
 */
export const ruleFor = <F, R>(_diagnoser: Diagnoser<F, R>): RuleBuilder<F> => rule<F>()

/**
 * Rules for the facts of a Diagnoser, in declaration order, with `F` inferred from it:
 * `Classifier.rules(diagnose, (rule) => [rule({ class: "oom", confidence: 0.9, needs: ["usage"], when: (f) => f.usage.ratio > 0.9 })])`.
 */
export const rules = <F, R>(
  diagnoser: Diagnoser<F, R>,
  build: (rule: RuleBuilder<F>) => ReadonlyArray<Rule<F>>
): ReadonlyArray<Rule<F>> => build(ruleFor(diagnoser))

/** Options of `firstMatch`. */
export interface FirstMatchOptions {
  /** Matches below this confidence are Unclassified (escalate). The seed's default is 0.70. */
  readonly minConfidence?: number
  /** Per-class confidence overrides (configuration). */
  readonly confidences?: Readonly<Record<string, number>>
}

/** First match, in declaration order, with Unknown-aware Indeterminate and a confidence floor. */
export const firstMatch = <F>(rules: ReadonlyArray<Rule<F>>, options: FirstMatchOptions = {}): Classifier<F> => (facts) => {
  const min = options.minConfidence ?? 0.7
  const notMatched: Array<string> = []
  for (const r of rules) {
    const missing = r.needs.filter((k) => !facts[k] || facts[k]._tag !== "Known")
    if (missing.length > 0) {
      const why = missing.map((k) => {
        const f = facts[k] as Fact.Fact<unknown> | undefined
        return f && f._tag === "Unknown" ? `${k} unknown (${f.probe}: ${f.reason})` : `${k} missing`
      })
      return C.indeterminate(r.class, missing, [`rule ${r.class} needs facts that are not known: ${why.join("; ")}`, ...notMatched])
    }
    const known: Partial<Record<keyof F, unknown>> = {}
    for (const k of r.needs) known[k] = (facts[k] as Fact.Known<unknown>).value
    // every needed key is Known (checked above): `known` holds exactly the facts `when` reads
    const values = known as Needed<F, keyof F & string>
    const res = r.when(values)
    const matched = typeof res === "boolean" ? res : res.matched
    if (!matched) {
      notMatched.push(`${r.class}: not matched`)
      continue
    }
    const confidence = options.confidences?.[r.class] ?? (typeof r.confidence === "function" ? r.confidence(values) : r.confidence)
    const reasons = typeof res === "boolean" ? [] : [...(res.reasons ?? [])]
    const evidence: JsonObject = typeof res === "boolean" ? {} : JSON.parse(JSON.stringify(res.evidence ?? {}))
    if (confidence < min) {
      return C.unclassified([
        `${r.class} matched with confidence ${confidence.toFixed(2)}, below the minimum ${min.toFixed(2)}`,
        ...reasons
      ])
    }
    return C.classified(r.class, confidence, reasons.length ? reasons : [r.description ?? `${r.class} matched`], evidence)
  }
  return C.unclassified(notMatched.length ? notMatched : ["no rules"])
}
