/**
 * pgbouncer probes: `SHOW POOLS`, `SHOW STATS`, `SHOW DATABASES` and `SHOW CONFIG`, decoded.
 * Counters come back from the console as numbers or numeric strings; both decode to numbers.
 * Columns that differ between pgbouncer versions are optional.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { DbDecodeError } from "../DbError"
import type { DbError, DbInvalidInput } from "../DbError"
import { NullableString, NumberLike } from "../internal/schemas"
import { PgBouncer } from "../PgBouncer"

const optNum = Schema.optional(NumberLike)

/** A row of `SHOW POOLS`: one pool per (database, user). */
export const PoolRow = Schema.Struct({
  database: Schema.String,
  user: Schema.String,
  cl_active: NumberLike,
  cl_waiting: NumberLike,
  sv_active: NumberLike,
  sv_idle: NumberLike,
  sv_used: NumberLike,
  sv_tested: optNum,
  sv_login: optNum,
  maxwait: optNum,
  maxwait_us: optNum,
  pool_mode: Schema.optional(NullableString)
})
/** A row of `SHOW POOLS`. */
export type PoolRow = typeof PoolRow.Type

/** A row of `SHOW STATS`: per-database totals and averages. */
export const StatsRow = Schema.Struct({
  database: Schema.String,
  total_xact_count: optNum,
  total_query_count: optNum,
  total_received: optNum,
  total_sent: optNum,
  total_xact_time: optNum,
  total_query_time: optNum,
  total_wait_time: optNum,
  avg_xact_count: optNum,
  avg_query_count: optNum,
  avg_xact_time: optNum,
  avg_query_time: optNum,
  avg_wait_time: optNum
})
/** A row of `SHOW STATS`. */
export type StatsRow = typeof StatsRow.Type

/** A row of `SHOW DATABASES`: the effective pool size per database. */
export const DatabaseRow = Schema.Struct({
  name: Schema.String,
  host: Schema.optional(NullableString),
  port: optNum,
  database: Schema.optional(NullableString),
  pool_size: NumberLike,
  reserve_pool: optNum,
  pool_mode: Schema.optional(NullableString),
  max_connections: optNum,
  current_connections: optNum,
  paused: optNum,
  disabled: optNum
})
/** A row of `SHOW DATABASES`. */
export type DatabaseRow = typeof DatabaseRow.Type

const decodeWith = <A>(schema: Schema.Decoder<A>) => {
  const decode = Schema.decodeUnknownEffect(Schema.Array(schema))
  return (rows: unknown) =>
    decode(rows).pipe(Effect.mapError((e) => new DbDecodeError({ engine: "pgbouncer", message: String(e).slice(0, 500) })))
}

/** The admin console's own pseudo-database, left out of every probe. */
export const ADMIN_DATABASE = "pgbouncer"

/** `SHOW POOLS` without the admin pseudo-database. */
export const pools: Effect.Effect<ReadonlyArray<PoolRow>, DbError | DbInvalidInput, PgBouncer> = PgBouncer.use((b) =>
  b.show("POOLS").pipe(Effect.flatMap(decodeWith(PoolRow)), Effect.map((rows) => rows.filter((r) => r.database !== ADMIN_DATABASE)))
)

/** `SHOW STATS` without the admin pseudo-database. */
export const stats: Effect.Effect<ReadonlyArray<StatsRow>, DbError | DbInvalidInput, PgBouncer> = PgBouncer.use((b) =>
  b.show("STATS").pipe(Effect.flatMap(decodeWith(StatsRow)), Effect.map((rows) => rows.filter((r) => r.database !== ADMIN_DATABASE)))
)

/** `SHOW DATABASES` without the admin pseudo-database. */
export const databases: Effect.Effect<ReadonlyArray<DatabaseRow>, DbError | DbInvalidInput, PgBouncer> = PgBouncer.use((b) =>
  b.show("DATABASES").pipe(Effect.flatMap(decodeWith(DatabaseRow)), Effect.map((rows) => rows.filter((r) => r.name !== ADMIN_DATABASE)))
)

/** `SHOW CONFIG` as a key → value record. */
export const config: Effect.Effect<Readonly<Record<string, string>>, DbError | DbInvalidInput, PgBouncer> = PgBouncer.use((b) =>
  b.show("CONFIG").pipe(
    Effect.flatMap(decodeWith(Schema.Struct({ key: Schema.String, value: NullableString }))),
    Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.key, r.value ?? ""])))
  )
)

/** Total clients waiting for a server connection, over all pools. */
export const waitingClientsOf = (rows: ReadonlyArray<PoolRow>): number => rows.reduce((n, r) => n + r.cl_waiting, 0)
