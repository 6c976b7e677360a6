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

/**
 * Where a verdict sits in its verification schedule (set by `Verifier.runSchedule`): the attempt
 * (1 for the first check or window, 2 for the retry …), the poll within it (1-based), the offset
 * from the last applied action, and the hold window the poll belongs to, if any.
 */
export const Poll = Schema.Struct({
  attempt: Schema.Finite,
  poll: Schema.Finite,
  offsetMs: Schema.Finite,
  window: Schema.optionalKey(Schema.Struct({ everyMs: Schema.Finite, forMs: Schema.Finite, startedAt: Schema.Finite }))
})

/** Where a verdict sits in its verification schedule. */
export type Poll = typeof Poll.Type

/** The verdict. */
export const Verdict = Schema.Union([
  Schema.TaggedStruct("Recovered", { checks: Schema.Array(CheckResult), at: Schema.Finite, poll: Schema.optionalKey(Poll) }),
  Schema.TaggedStruct("NotRecovered", { reason: Schema.String, checks: Schema.Array(CheckResult), at: Schema.Finite, poll: Schema.optionalKey(Poll) }),
  Schema.TaggedStruct("Inconclusive", { reason: Schema.String, checks: Schema.Array(CheckResult), at: Schema.Finite, poll: Schema.optionalKey(Poll) })
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
