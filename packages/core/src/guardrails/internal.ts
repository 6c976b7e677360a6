/**
 * Internal helpers shared by the guardrail combinators: duration parsing, number formatting,
 * misconfiguration handling and safe evaluation of user callbacks.
 *
 * @since 0.1.0
 * @internal
 */
import { Config, Duration, Effect, Option } from "effect"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext, GuardrailResult } from "../Guardrail"
import type { GuardrailStore, StoreError } from "../GuardrailStore"
import { defaultRedactor } from "../Redactor"
import * as TargetRef from "../TargetRef"

/** A message from user code or a failed probe, with secrets (DSNs, tokens, passwords …) redacted: reasons reach reports and escalations. */
export const safeMessage = (message: string): string => defaultRedactor.redactString(message)

/** Converts a `Duration.Input` to milliseconds; `undefined` unless finite and > 0. */
export const positiveMillis = (input: Duration.Input): number | undefined => {
  const decoded = Duration.fromInput(input)
  if (Option.isNone(decoded)) return undefined
  const ms = Duration.toMillis(decoded.value)
  return Number.isFinite(ms) && ms > 0 ? ms : undefined
}

/** A human form of a millisecond span ("1d", "1h", "1m 30s", "250ms"). */
export const formatMs = (ms: number): string => (Number.isFinite(ms) ? Duration.format(Duration.millis(Math.max(0, Math.round(ms)))) : String(ms))

/** `[input]` for error messages, safe for any value. */
export const show = (input: unknown): string => {
  try {
    return typeof input === "string" ? JSON.stringify(input) : String(JSON.stringify(input) ?? input)
  } catch {
    return String(input)
  }
}

/**
 * A guardrail that was built from invalid options: it denies every action, naming the problem,
 * so a misconfiguration is visible in every decision record instead of crashing at load time or,
 * worse, letting actions through.
 */
export const misconfigured = (name: string, problem: string): Guardrail.Guardrail<never> =>
  Guardrail.make({
    name,
    check: () => Effect.succeed(Guardrail.deny(`${name} is misconfigured: ${problem}`))
  })

/** The target of the action being decided, as its canonical key. */
export const targetKey = (ctx: GuardrailContext): string => TargetRef.key(ctx.action.target)

/**
 * Runs a user callback that computes a value from the context. A throwing callback becomes a
 * Deny naming the guardrail (a guardrail never lets an action through because its own input
 * could not be computed).
 */
export const attempt = <A>(name: string, what: string, f: () => A): { readonly ok: true; readonly value: A } | { readonly ok: false; readonly result: GuardrailResult } => {
  try {
    return { ok: true, value: f() }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { ok: false, result: Guardrail.deny(`${name}: could not compute ${what}: ${safeMessage(message)}`) }
  }
}

/** A count that may be fixed or read from configuration (every number of the seed is a default). */
export type Count = number | Config.Config<number>

/** Resolves a `Count`, validating it as a positive integer; a bad value is a Deny, never a crash. */
export const resolveCount = (
  name: string,
  what: string,
  count: Count
): Effect.Effect<{ readonly ok: true; readonly value: number } | { readonly ok: false; readonly result: GuardrailResult }> => {
  const validate = (n: number) =>
    Number.isInteger(n) && n > 0
      ? ({ ok: true, value: n } as const)
      : ({ ok: false, result: Guardrail.deny(`${name} is misconfigured: ${what} must be a positive integer (got ${show(n)})`) } as const)
  if (typeof count === "number") return Effect.succeed(validate(count))
  return count.pipe(
    Effect.map(validate),
    Effect.catch((error) =>
      Effect.succeed({ ok: false, result: Guardrail.deny(`${name}: could not read ${what} from configuration: ${safeMessage(error.message)}`) } as const)
    )
  )
}

/** The acquire of a guardrail whose acquisition takes nothing: the check's result with no release. */
export const noAcquisition = (result: GuardrailResult): Guardrail.Acquisition => ({ result, release: Guardrail.noRelease })

/** Type of a guardrail effect (for brevity in combinator files). */
export type GuardrailEffect<A, R> = Effect.Effect<A, StoreError, GuardrailStore | R>
