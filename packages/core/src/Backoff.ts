/**
 * Exponential backoff, the seed's "30s × 2^N, cap 300s": delay(N) = min(base × factor^N, cap),
 * with N = 0 for the first wait. The same delays are available as a plain function, as an Effect
 * `Schedule` (for retries) and, through `Guardrail.backoff`, as a guardrail that spaces actions on
 * a key across incidents and agents.
 *
 * @example
 * ```ts
 * import { Backoff } from "@byteport/core"
 * const delay = Backoff.delay({ base: "30 seconds", factor: 2, cap: "300 seconds" })
 * Backoff.millis(delay)(0) // 30_000, then 60_000, 120_000, 240_000, 300_000, 300_000 …
 * ```
 *
 * @since 0.1.0
 */
import { Data, Duration, Effect, Option, Schedule } from "effect"

/** Backoff parameters. Every field has the seed's default. */
export interface Options {
  /** The first delay (default 30 seconds). */
  readonly base?: Duration.Input | undefined
  /** The growth factor per attempt, ≥ 1 (default 2). */
  readonly factor?: number | undefined
  /** The largest delay (default 300 seconds). */
  readonly cap?: Duration.Input | undefined
}

/** The seed's backoff: 30s × 2^N, cap 300s. */
export const defaults = { base: "30 seconds", factor: 2, cap: "300 seconds" } as const satisfies Options

/** Backoff options that cannot describe a backoff (negative or infinite base, factor below 1, …). */
export class InvalidBackoff extends Data.TaggedError("InvalidBackoff")<{ readonly message: string }> {}

/** Validated backoff parameters in milliseconds. */
export interface Resolved {
  readonly baseMs: number
  readonly factor: number
  readonly capMs: number
}

const millisOf = (input: Duration.Input, what: string): number | InvalidBackoff => {
  const d = Duration.fromInput(input)
  const ms = Option.isSome(d) ? Duration.toMillis(d.value) : NaN
  return Number.isFinite(ms) && ms >= 0 ? ms : new InvalidBackoff({ message: `${what} must be a finite, non-negative duration (got ${String(input)})` })
}

/** Validates options, returning the resolved parameters or an `InvalidBackoff`. */
export const resolve = (options: Options = {}): Resolved | InvalidBackoff => {
  const baseMs = millisOf(options.base ?? defaults.base, "base")
  if (baseMs instanceof InvalidBackoff) return baseMs
  const capMs = millisOf(options.cap ?? defaults.cap, "cap")
  if (capMs instanceof InvalidBackoff) return capMs
  const factor = options.factor ?? defaults.factor
  if (!(Number.isFinite(factor) && factor >= 1)) return new InvalidBackoff({ message: `factor must be a finite number ≥ 1 (got ${factor})` })
  if (capMs < baseMs) return new InvalidBackoff({ message: `cap (${capMs} ms) must not be below base (${baseMs} ms)` })
  return { baseMs, factor, capMs }
}

const resolveOrThrow = (options: Options | undefined): Resolved => {
  const r = resolve(options)
  if (r instanceof InvalidBackoff) throw r
  return r
}

/** The delay in ms before attempt `n + 1` given resolved parameters (n < 0 counts as 0). */
export const delayMillisOf = (r: Resolved, n: number): number => {
  const k = Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0
  const raw = r.baseMs * Math.pow(r.factor, k)
  return Number.isFinite(raw) ? Math.min(raw, r.capMs) : r.capMs
}

/**
 * The delay after attempt `n` (0-based): `min(base × factor^n, cap)`.
 * Throws `InvalidBackoff` at construction when the options are invalid (use `resolve` to check first).
 */
export const delay = (options?: Options): ((attempt: number) => Duration.Duration) => {
  const r = resolveOrThrow(options)
  return (attempt) => Duration.millis(delayMillisOf(r, attempt))
}

/** Like `delay`, in milliseconds; also accepts a `delay` function's options. */
export const millis = (options?: Options | ((attempt: number) => Duration.Duration)): ((attempt: number) => number) => {
  if (typeof options === "function") return (attempt) => Duration.toMillis(options(attempt))
  const r = resolveOrThrow(options)
  return (attempt) => delayMillisOf(r, attempt)
}

/**
 * An Effect `Schedule` with the same delays: the first recurrence waits `base`, then
 * `base × factor`, …, never more than `cap`. It recurs forever; bound it with `Schedule.upTo`,
 * `Schedule.recurs` or `Effect.retry({ times })`. Outputs the delay.
 * Throws `InvalidBackoff` at construction when the options are invalid.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Backoff } from "@byteport/core"
 * declare const restart: Effect.Effect<void, Error>
 * restart.pipe(Effect.retry(Backoff.schedule().pipe(Schedule.upTo({ times: 5 }))))
 * ```
 */
export const schedule = (options?: Options): Schedule.Schedule<Duration.Duration> => {
  const r = resolveOrThrow(options)
  return Schedule.fromStepWithMetadata(
    Effect.succeed((meta: Schedule.InputMetadata<unknown>) => {
      const d = Duration.millis(delayMillisOf(r, meta.attempt - 1))
      return Effect.succeed([d, d] as [Duration.Duration, Duration.Duration])
    })
  )
}
