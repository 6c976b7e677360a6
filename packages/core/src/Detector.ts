/**
 * A Detector is a stream of Signals: a watch (informer) where the API allows it, or a poll on a
 * Schedule (databases have no watch). Detectors may emit unvalidated values; `Runbook.run`
 * decodes each one and a malformed Signal becomes a typed error that is recorded while the loop
 * keeps going.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Schedule, Stream } from "effect"
import type { Signal } from "./Signal"

/** A named stream of signals. Elements are `unknown` until `Runbook.run` decodes them as Signals. */
export interface Detector<E = never, R = never> {
  readonly name: string
  readonly signals: Stream.Stream<Signal | unknown, E, R>
}

/** Builds a Detector from a stream (a watch, an informer, a webhook receiver …). */
export const fromStream = <E, R>(name: string, signals: Stream.Stream<Signal | unknown, E, R>): Detector<E, R> => ({ name, signals })

/**
 * Builds a polling Detector: runs `poll` on `schedule` and emits every signal it returns. A poll
 * that fails is logged and skipped; the detector keeps polling (it never dies from a bad poll).
 */
export const poll = <E, R, X>(
  name: string,
  options: {
    readonly schedule: Schedule.Schedule<X, unknown, never, R>
    readonly poll: Effect.Effect<ReadonlyArray<Signal | unknown>, E, R>
  }
): Detector<never, R> => ({
  name,
  signals: Stream.fromEffectSchedule(
    options.poll.pipe(
      Effect.catchCause((cause) =>
        Effect.as(Effect.logWarning(`detector ${name}: poll failed: ${Cause.pretty(cause)}`), [] as ReadonlyArray<unknown>)
      )
    ),
    options.schedule
  ).pipe(Stream.flatMap((signals) => Stream.fromIterable(signals)))
})

/** Merges several detectors into one (a runbook with several signal sources). */
export const merge = <E, R>(name: string, detectors: ReadonlyArray<Detector<E, R>>): Detector<E, R> => ({
  name,
  signals: Stream.mergeAll(detectors.map((d) => d.signals), { concurrency: "unbounded" })
})
