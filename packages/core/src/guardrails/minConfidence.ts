/**
 * `minConfidence`: act only on a classification at or above a confidence.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Guardrail from "../Guardrail"
import { misconfigured, show } from "./internal"

/**
 * Denies unless `ctx.classification` is Classified with `confidence >= min` (Unclassified and
 * Indeterminate are always denied, with their reasons).
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * const confident = Guardrail.minConfidence(0.7) // "first match, confidence ≥0.70"
 * ```
 */
export const minConfidence = (min: number, options?: { readonly name?: string | undefined }): Guardrail.Guardrail<never> => {
  const name = options?.name ?? `min_confidence(${min})`
  if (!(Number.isFinite(min) && min >= 0 && min <= 1)) return misconfigured(name, `min must be a number in [0, 1] (got ${show(min)})`)
  return Guardrail.make({
    name,
    check: (ctx) =>
      Effect.sync(() => {
        const c = ctx.classification
        switch (c._tag) {
          case "Classified":
            return c.confidence >= min
              ? Guardrail.pass
              : Guardrail.deny(`${name}: ${c.class} classified with confidence ${c.confidence}, below ${min}`)
          case "Unclassified":
            return Guardrail.deny(`${name}: the incident is unclassified` + (c.reasons.length > 0 ? ` (${c.reasons.join("; ")})` : ""))
          case "Indeterminate":
            return Guardrail.deny(
              `${name}: the classification is indeterminate: rule ${c.rule} needs unknown facts ${c.missing.join(", ")}`
            )
        }
      })
  })
}
