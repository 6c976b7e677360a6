/**
 * Pool-exhaustion detectors: poll the utilization readings on a Schedule (databases have no
 * watch) and emit a `db.pool.exhaustion` Signal when a database crosses the threshold, or when
 * pgbouncer has clients waiting for a server connection.
 *
 * The Signal's target is a `database` TargetRef named by the caller (never a DSN: DSNs carry
 * passwords); its evidence carries the reading that fired.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, Signal } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Clock, Effect, Option, Schedule } from "effect"
import { MySql } from "../MySql"
import { PgBouncer } from "../PgBouncer"
import * as ConnectionHistory from "../history/ConnectionHistory"
import { Postgres } from "../Postgres"
import * as PgActivity from "../probes/PgActivity"
import * as Utilization from "../Utilization"

/** The signal type these detectors emit. */
export const SIGNAL_TYPE = "db.pool.exhaustion"

/** Detector options. */
export interface Options {
  /** What the signal is about, e.g. `TargetRef.make("database", "orders-primary/appdb")`. */
  readonly target: TargetRef.TargetRef
  /** Utilization at or above which a signal fires (default 0.80). */
  readonly threshold?: number
  /** Fire when pgbouncer has waiting clients (default true). */
  readonly onPgBouncerWaiting?: boolean
  /** Poll schedule (default every 15 seconds). */
  readonly schedule?: Schedule.Schedule<unknown>
  /**
   * Record every PostgreSQL poll's sessions in the connection history (`ConnectionHistory`,
   * in the GuardrailStore when one is provided; default true). A failed record never hides the reading.
   */
  readonly recordHistory?: boolean
}

/** Default utilization threshold. */
export const DEFAULT_THRESHOLD = 0.8

const round = (n: number) => (Number.isFinite(n) ? Math.round(n * 10_000) / 10_000 : null)

/** Pure: the signals of one PostgreSQL (+ optional pgbouncer) reading. */
export const postgresSignals = (
  reading: Utilization.PostgresUtilization,
  pgbouncer: ReadonlyArray<Utilization.PgBouncerPoolUtilization> | undefined,
  options: Options,
  observedAt: number
): ReadonlyArray<Signal.Signal> => {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  const waiting = (pgbouncer ?? []).reduce((n, p) => n + p.clientsWaiting, 0)
  const overThreshold = reading.ratio >= threshold
  const bouncerFires = (options.onPgBouncerWaiting ?? true) && waiting > 0
  if (!overThreshold && !bouncerFires) return []
  const evidence: Record<string, Json.Json> = {
    engine: "postgres",
    ratio: round(reading.ratio),
    threshold,
    clientBackends: reading.clientBackends,
    maxConnections: reading.maxConnections,
    superuserReservedConnections: reading.superuserReservedConnections,
    reasons: [
      ...(overThreshold ? [`utilization ${(reading.ratio * 100).toFixed(1)}% >= ${(threshold * 100).toFixed(0)}%`] : []),
      ...(bouncerFires ? [`pgbouncer has ${waiting} waiting client(s)`] : [])
    ]
  }
  if (pgbouncer !== undefined) {
    evidence.pgbouncerWaiting = waiting
    evidence.pgbouncerPools = pgbouncer.map((p) => ({
      database: p.database, user: p.user, clientsActive: p.clientsActive, clientsWaiting: p.clientsWaiting, poolSize: p.poolSize
    }))
  }
  return [Signal.make({ type: SIGNAL_TYPE, target: options.target, observedAt, evidence, source: "db.PoolExhaustion.postgres" })]
}

/** Pure: the signals of one MySQL reading. */
export const mysqlSignals = (reading: Utilization.MySqlUtilization, options: Options, observedAt: number): ReadonlyArray<Signal.Signal> => {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD
  if (reading.ratio < threshold) return []
  return [Signal.make({
    type: SIGNAL_TYPE,
    target: options.target,
    observedAt,
    source: "db.PoolExhaustion.mysql",
    evidence: {
      engine: "mysql",
      ratio: round(reading.ratio),
      threshold,
      threadsConnected: reading.threadsConnected,
      maxConnections: reading.maxConnections,
      reasons: [`utilization ${(reading.ratio * 100).toFixed(1)}% >= ${(threshold * 100).toFixed(0)}%`]
    }
  })]
}

const defaultSchedule = Schedule.spaced("15 seconds")

/**
 * One PostgreSQL poll of the detector: the utilization reading (and pgbouncer's pools), its
 * signals, and — with a GuardrailStore — the sessions recorded in the connection history.
 */
export const pollPostgres = (options: Options) =>
  Effect.gen(function*() {
    const reading = yield* Utilization.postgres
    const bouncer = yield* Effect.serviceOption(PgBouncer)
    const pools = Option.isSome(bouncer)
      ? yield* Utilization.pgbouncer.pipe(Effect.provideService(PgBouncer, bouncer.value), Effect.option, Effect.map(Option.getOrUndefined))
      : undefined
    const now = yield* Clock.currentTimeMillis
    const store = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
    if ((options.recordHistory ?? true) && Option.isSome(store)) {
      yield* Effect.flatMap(PgActivity.sessions, (rows) => ConnectionHistory.record(options.target, ConnectionHistory.sampleOf(rows, now))).pipe(
        Effect.provideService(GuardrailStore.GuardrailStore, store.value),
        Effect.ignore
      )
    }
    return postgresSignals(reading, pools, options, now)
  })

/**
 * Polls PostgreSQL utilization (and, when a PgBouncer service is provided, its pools). A failed
 * pgbouncer read does not hide the PostgreSQL reading. Every poll feeds the connection history.
 */
export const postgres = (options: Options): Detector.Detector<never, Postgres> =>
  Detector.poll("db.pool.exhaustion/postgres", {
    schedule: options.schedule ?? defaultSchedule,
    poll: pollPostgres(options)
  })

/** Polls MySQL / MariaDB utilization. */
export const mysql = (options: Options): Detector.Detector<never, MySql> =>
  Detector.poll("db.pool.exhaustion/mysql", {
    schedule: options.schedule ?? defaultSchedule,
    poll: Effect.gen(function*() {
      return mysqlSignals(yield* Utilization.mysql, options, yield* Clock.currentTimeMillis)
    })
  })

