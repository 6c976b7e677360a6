/**
 * The MongoDB `db.pool.exhaustion` detector: polls serverStatus and currentOp on a Schedule and
 * emits the same signal type as `PoolExhaustion.postgres` / `.mysql` (evidence `engine:
 * "mongodb"`) when (connections − BytePort's own) / (current + available) reaches the threshold
 * (default 80 %).
 *
 * @since 0.1.0
 */
import { Detector, Signal } from "@byteport/core"
import type { Json, TargetRef } from "@byteport/core"
import { Clock, Effect, Schedule } from "effect"
import * as PoolExhaustion from "../detectors/PoolExhaustion"
import type { Mongo } from "./Mongo"
import * as MongoActivity from "./MongoActivity"

/** Detector options. */
export interface Options {
  /** What the signal is about, e.g. `TargetRef.make("database", "orders-mongo")` (never a URL). */
  readonly target: TargetRef.TargetRef
  /** Utilization at or above which a signal fires (default 0.80). */
  readonly threshold?: number
  /** Poll schedule (default every 15 seconds). */
  readonly schedule?: Schedule.Schedule<unknown>
}

const round = (n: number) => Math.round(n * 10_000) / 10_000

/** Pure: the signals of one reading. */
export const signals = (reading: MongoActivity.MongoUtilization, options: Options, observedAt: number): ReadonlyArray<Signal.Signal> => {
  const threshold = options.threshold ?? PoolExhaustion.DEFAULT_THRESHOLD
  if (reading.ratio < threshold) return []
  const evidence: Record<string, Json.Json> = {
    engine: "mongodb",
    ratio: round(reading.ratio),
    threshold,
    connections: reading.current,
    own: reading.own,
    maxConnections: reading.max,
    reasons: [`utilization ${(reading.ratio * 100).toFixed(1)}% >= ${(threshold * 100).toFixed(0)}%`]
  }
  return [Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target: options.target, observedAt, evidence, source: "db.PoolExhaustion.mongodb" })]
}

/** One poll. */
export const poll = (options: Options) =>
  Effect.gen(function*() {
    const reading = yield* MongoActivity.utilization
    return signals(reading, options, yield* Clock.currentTimeMillis)
  })

/** Polls a mongod's connection utilization. */
export const make = (options: Options): Detector.Detector<never, Mongo> =>
  Detector.poll("db.pool.exhaustion/mongodb", {
    schedule: options.schedule ?? Schedule.spaced("15 seconds"),
    poll: poll(options)
  })
