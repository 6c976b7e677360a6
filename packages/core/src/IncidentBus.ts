/**
 * The IncidentBus carries hand-offs between runbooks: a `HandOff` step publishes a typed Signal
 * with a parent link; the runbook that owns that kind of target (by the Catalog) takes it,
 * classifies and guards it as its own incident, linked to the parent. A hop limit stops
 * hand-off cycles. Domain packages never import each other; they meet here.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, PubSub, Schema, Stream } from "effect"
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
    /** Publishes a child signal (which must carry `parent`); fails when `parent.hop` exceeds the limit. */
    readonly publish: (signal: Signal) => Effect.Effect<void, HopLimitExceeded>
    /** Every signal published from now on. */
    readonly signals: Stream.Stream<Signal>
    /** Everything published so far (for reports and tests). */
    readonly published: Effect.Effect<ReadonlyArray<Signal>>
  }
>()("@byteport/core/IncidentBus") {}

/** An in-process bus (default hop limit 3). */
export const layer = (options: { readonly hopLimit?: number } = {}): Layer.Layer<IncidentBus> =>
  Layer.effect(
    IncidentBus,
    Effect.gen(function*() {
      const hopLimit = options.hopLimit ?? 3
      const pubsub = yield* PubSub.unbounded<Signal>({ replay: 0 })
      const log: Array<Signal> = []
      return IncidentBus.of({
        hopLimit,
        publish: (signal) => {
          const hop = signal.parent?.hop ?? 1
          if (hop > hopLimit) {
            return Effect.fail(
              new HopLimitExceeded({ hop, limit: hopLimit, message: `hand-off chain of ${hop} hops exceeds the limit of ${hopLimit}` })
            )
          }
          log.push(signal)
          return Effect.asVoid(PubSub.publish(pubsub, signal))
        },
        signals: Stream.fromPubSub(pubsub),
        published: Effect.sync(() => [...log])
      })
    })
  )
