/**
 * A Detector is a stream of Signals: a watch (informer) where the API allows it, or a poll on a
 * Schedule (databases have no watch). Detectors may emit unvalidated values: `Runbook.run` and
 * `Catalog.run` decode each one under a handler that also catches defects (a throwing getter, a
 * proxy, a cyclic or huge value), so a malformed element becomes a typed `MalformedSignal` that
 * is recorded while the loop keeps going. A detector stream that fails or dies is reported
 * (`detector.failed`) and subscribed again after a backoff; one that ends is reported
 * (`detector.ended`).
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
  ).pipe(Stream.flatMap((signals) => (Array.isArray(signals) ? Stream.fromIterable(signals) : Stream.make(signals as unknown))))
})

/** Merges several detectors into one (a runbook with several signal sources). */
export const merge = <E, R>(name: string, detectors: ReadonlyArray<Detector<E, R>>): Detector<E, R> => ({
  name,
  signals: Stream.mergeAll(detectors.map((d) => d.signals), { concurrency: "unbounded" })
})
