/**
 * Virtual time for tests (under `it.effect`, which installs the TestClock): `advance(duration)`
 * moves the clock, `runAdvancing(effect, { step })` forks an effect that sleeps (verification
 * retries, WaitFor, backoffs, settle windows) and advances the clock step by step until it ends.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

/** Moves the TestClock forward (runs every sleep that falls due). */
export const advance = (duration: Duration.Input): Effect.Effect<void> => TestClock.adjust(duration)

/** Options of `runAdvancing`. */
export interface AdvanceOptions {
  /** How far the clock moves per step (default 1 second). */
  readonly step?: Duration.Input
  /** Give up (die) after this much virtual time (default 1 day). */
  readonly max?: Duration.Input
}

/**
 * Forks `effect`, then advances the TestClock by `step` until the fiber is done, and returns its
 * result (its failure fails this effect). Dies when it is still running after `max`.
 */
export const runAdvancing = <A, E, R>(effect: Effect.Effect<A, E, R>, options: AdvanceOptions = {}): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const step = Duration.fromInputUnsafe(options.step ?? "1 second")
    const max = Duration.toMillis(Duration.fromInputUnsafe(options.max ?? "1 day"))
    const fiber = yield* Effect.forkChild(effect)
    let elapsed = 0
    while (fiber.pollUnsafe() === undefined) {
      if (elapsed > max) {
        yield* Fiber.interrupt(fiber)
        return yield* Effect.die(new Error(`runAdvancing: still running after ${Duration.format(Duration.millis(max))} of virtual time`))
      }
      yield* Effect.yieldNow
      if (fiber.pollUnsafe() !== undefined) break
      yield* TestClock.adjust(step)
      elapsed += Duration.toMillis(step)
    }
    return yield* Fiber.join(fiber)
  })
