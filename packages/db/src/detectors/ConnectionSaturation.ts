/**
 * The detector of `db.connections.saturation`: polls the seed's reading
 * (`Utilization.postgresConnections`: client backends, BytePort's own excluded, over
 * `max_connections`) and emits a `db.connections.saturation` Signal when it **exceeds** the
 * threshold (default 0.80: "exceed 80% of max_connections", so exactly 80 % does not fire).
 *
 * @since 0.1.0
 */
import { Detector, Signal } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Clock, Effect, Schedule } from "effect"
import type { MySql } from "../MySql"
import type { Postgres } from "../Postgres"
import * as Utilization from "../Utilization"

/** The signal type. */
export const SIGNAL_TYPE = "db.connections.saturation"

/** The seed's detection threshold. */
export const DEFAULT_THRESHOLD = 0.8

/** Detector options. */
export interface Options {
  /** The database the signal is about (never a DSN). */
  readonly target: TargetRef.TargetRef
  /** Ratio the reading must exceed (default 0.80). */
  readonly threshold?: number
  /** Poll schedule (default every 15 seconds). */
  readonly schedule?: Schedule.Schedule<unknown>
  /** BytePort's own application_name prefix, not counted (default `byteport`). */
  readonly ownApplication?: string
}

/** Pure: whether a reading fires (`ratio > threshold`). */
export const fires = (reading: Utilization.PostgresConnections | Utilization.MySqlConnections, threshold: number = DEFAULT_THRESHOLD): boolean => reading.ratio > threshold

/**
 * Pure: the signals of one reading of either engine: none unless it fires; else one whose
 * evidence holds the engine, the ratio, the threshold, the engine's own count (`count`), own,
 * max_connections and the reason (`what` = `ratio`% > threshold% of max_connections).
 */
const signalsOf = (
  engine: "postgres" | "mysql",
  reading: Utilization.PostgresConnections | Utilization.MySqlConnections,
  count: { readonly clientBackends: number } | { readonly threadsConnected: number },
  what: string,
  options: Options,
  observedAt: number
): ReadonlyArray<Signal.Signal> => {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  if (!fires(reading, threshold)) return []
  return [Signal.make({
    type: SIGNAL_TYPE,
    target: options.target,
    observedAt,
    source: `db.ConnectionSaturation.${engine}`,
    evidence: {
      engine,
      ratio: Math.round(reading.ratio * 10_000) / 10_000,
      threshold,
      ...count,
      own: reading.own,
      maxConnections: reading.maxConnections,
      reasons: [`${what} = ${(reading.ratio * 100).toFixed(1)}% > ${(threshold * 100).toFixed(0)}% of max_connections`]
    }
  })]
}

/** Pure: the signals of one reading. */
export const postgresSignals = (reading: Utilization.PostgresConnections, options: Options, observedAt: number): ReadonlyArray<Signal.Signal> =>
  signalsOf(
    "postgres",
    reading,
    { clientBackends: reading.clientBackends },
    `${reading.clientBackends}/${reading.maxConnections} client backends`,
    options,
    observedAt
  )

/** One poll: the reading and its signals. */
export const pollPostgres = (options: Options): Effect.Effect<ReadonlyArray<Signal.Signal>, unknown, Postgres> =>
  Effect.gen(function*() {
    const reading = yield* Utilization.postgresConnections(options.ownApplication)
    return postgresSignals(reading, options, yield* Clock.currentTimeMillis)
  })

/** The PostgreSQL detector. */
export const postgres = (options: Options): Detector.Detector<never, Postgres> =>
  Detector.poll("db.connections.saturation/postgres", {
    schedule: options.schedule ?? Schedule.spaced("15 seconds"),
    poll: pollPostgres(options)
  })

/** Pure: the signals of one MySQL / MariaDB reading ((`Threads_connected` − own) / `max_connections`). */
export const mysqlSignals = (reading: Utilization.MySqlConnections, options: Options, observedAt: number): ReadonlyArray<Signal.Signal> =>
  signalsOf(
    "mysql",
    reading,
    { threadsConnected: reading.threadsConnected },
    `${reading.clientBackends}/${reading.maxConnections} threads (Threads_connected ${reading.threadsConnected} − own ${reading.own})`,
    options,
    observedAt
  )

/** One MySQL / MariaDB poll. */
export const pollMySql = (options: Options): Effect.Effect<ReadonlyArray<Signal.Signal>, unknown, MySql> =>
  Effect.gen(function*() {
    const reading = yield* Utilization.mysqlConnections
    return mysqlSignals(reading, options, yield* Clock.currentTimeMillis)
  })

/** The MySQL / MariaDB detector. */
export const mysql = (options: Options): Detector.Detector<never, MySql> =>
  Detector.poll("db.connections.saturation/mysql", {
    schedule: options.schedule ?? Schedule.spaced("15 seconds"),
    poll: pollMySql(options)
  })
