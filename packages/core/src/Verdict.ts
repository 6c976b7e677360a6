/**
 * A Verifier's verdict: Recovered, NotRecovered (with the reason) or Inconclusive.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"


/** One named check of a verification, with what it observed. */
export const CheckResult = Schema.Struct({
  name: Schema.String,
  ok: Schema.Boolean,
  detail: Schema.String,
  observed: Schema.optionalKey(Schema.Json)
})

/** One named check of a verification. */
export type CheckResult = typeof CheckResult.Type

/** The verdict. */
export const Verdict = Schema.Union([
  Schema.TaggedStruct("Recovered", { checks: Schema.Array(CheckResult), at: Schema.Finite }),
  Schema.TaggedStruct("NotRecovered", { reason: Schema.String, checks: Schema.Array(CheckResult), at: Schema.Finite }),
  Schema.TaggedStruct("Inconclusive", { reason: Schema.String, checks: Schema.Array(CheckResult), at: Schema.Finite })
])

/** The verdict. */
export type Verdict = typeof Verdict.Type

/** Builds a verdict from check results: Recovered when all pass, else NotRecovered naming the failures. */
export const fromChecks = (checks: ReadonlyArray<CheckResult>, at: number): Verdict => {
  const failed = checks.filter((c) => !c.ok)
  return failed.length === 0
    ? { _tag: "Recovered", checks: [...checks], at }
    : { _tag: "NotRecovered", reason: failed.map((c) => `${c.name}: ${c.detail}`).join("; "), checks: [...checks], at }
}

/** Builds an Inconclusive verdict. */
export const inconclusive = (reason: string, at: number, checks: ReadonlyArray<CheckResult> = []): Verdict => ({
  _tag: "Inconclusive",
  reason,
  checks: [...checks],
  at
})
