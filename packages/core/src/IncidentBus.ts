/**
 * The IncidentBus carries hand-offs between runbooks: a `HandOff` step publishes a typed Signal
 * with a parent link; the runbook that owns that kind of target (by the Catalog) takes it,
 * classifies and guards it as its own incident, linked to the parent. A hop limit stops
 * hand-off cycles. Domain packages never import each other; they meet here.
 *
 * `publish` checks the evidence of every known hand-off type (`HandOffs`): evidence that fails
 * its Schema is an `InvalidHandOff` and nothing is published. A child incident raised by a
 * hand-off reports back (`reportBack`) when it ends, so a parent awaiting it (`awaitReport`)
 * sees its verdict.
 *
 * @since 0.1.0
 */
import { Context, Deferred, Effect, Layer, PubSub, Schema, Stream } from "effect"
import * as HandOffs from "./HandOffs"
import type { Signal } from "./Signal"

/** A hand-off was refused because its chain is too long. */
export class HopLimitExceeded extends Schema.TaggedError<HopLimitExceeded>()("HopLimitExceeded", {
  hop: Schema.Number,
  limit: Schema.Number,
  message: Schema.String
}) {}

/** The bus service. */
export class IncidentBus extends Context.Service<
  IncidentBus,
  {
    readonly hopLimit: number
    /**
     * Publishes a child signal (which must carry `parent`); fails when `parent.hop` exceeds the
     * limit, or when the signal is a known hand-off whose evidence fails its Schema.
     */
    readonly publish: (signal: Signal) => Effect.Effect<void, HopLimitExceeded | HandOffs.InvalidHandOff>
    /** Every signal published from now on. */
    readonly signals: Stream.Stream<Signal>
    /** Everything published so far (for reports and tests). */
    readonly published: Effect.Effect<ReadonlyArray<Signal>>
    /** A child incident's result, reported back under its hand-off id (the first report wins). */
    readonly reportBack: (result: HandOffs.ChildResult) => Effect.Effect<void>
    /** Waits for the result reported under a hand-off id (returns at once when it is already in). */
    readonly awaitReport: (handOff: string) => Effect.Effect<HandOffs.ChildResult>
  }
>()("@byteport/core/IncidentBus") {}

/** Options of `layer`. */
export interface LayerOptions {
  /** The longest hand-off chain (default 3). */
  readonly hopLimit?: number
  /** Hand-off types checked on publish besides the built-in `HandOffs.all`. */
  readonly handOffs?: ReadonlyArray<HandOffs.HandOff<unknown, unknown>>
}

/** An in-process bus (default hop limit 3). */
export const layer = (options: LayerOptions = {}): Layer.Layer<IncidentBus> =>
  Layer.effect(
    IncidentBus,
    Effect.gen(function*() {
      const hopLimit = options.hopLimit ?? 3
      const known = [...(options.handOffs ?? []), ...HandOffs.all]
      const pubsub = yield* PubSub.unbounded<Signal>({ replay: 0 })
      const log: Array<Signal> = []
      const reports = new Map<string, Deferred.Deferred<HandOffs.ChildResult>>()
      const slot = (id: string) =>
        Effect.suspend(() => {
          const existing = reports.get(id)
          if (existing) return Effect.succeed(existing)
          return Effect.map(Deferred.make<HandOffs.ChildResult>(), (d) => {
            const again = reports.get(id)
            if (again) return again
            reports.set(id, d)
            return d
          })
        })
      return IncidentBus.of({
        hopLimit,
        publish: (signal) => {
          const hop = signal.parent?.hop ?? 1
          if (hop > hopLimit) {
            return Effect.fail(
              new HopLimitExceeded({ hop, limit: hopLimit, message: `hand-off chain of ${hop} hops exceeds the limit of ${hopLimit}` })
            )
          }
          return HandOffs.validate(signal, "emit", known).pipe(
            Effect.andThen(Effect.sync(() => void log.push(signal))),
            Effect.andThen(PubSub.publish(pubsub, signal)),
            Effect.asVoid
          )
        },
        signals: Stream.fromPubSub(pubsub),
        published: Effect.sync(() => [...log]),
        reportBack: (result) => Effect.flatMap(slot(result.handOff), (d) => Effect.asVoid(Deferred.succeed(d, result))),
        awaitReport: (id) => Effect.flatMap(slot(id), Deferred.await)
      })
    })
  )
