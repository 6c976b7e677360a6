/**
 * The facts of `db.pool.multi-engine`, engine-neutral: PostgreSQL (± pgbouncer) and MySQL /
 * MariaDB sessions come from the `db.pool.six-class` diagnosers (`PoolDiagnoser`,
 * `MySqlPoolDiagnoser`), MongoDB's from `currentOp` (`MongoActivity`); each becomes an
 * {@link EngineSession} that keeps its engine row for the kill actions. A per-target trend of
 * polls (connections per application, idle outside a transaction, the request rate from a
 * pluggable source) feeds the app-side-leak and traffic-spike rules.
 *
 * @since 0.1.0
 */
import { Fact, TargetRef } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as MySqlPoolDiagnoser from "../../diagnosers/MySqlPoolDiagnoser"
import * as PoolDiagnoser from "../../diagnosers/PoolDiagnoser"
import type { MySql } from "../../MySql"
import { Mongo } from "../../mongo/Mongo"
import * as MongoActivity from "../../mongo/MongoActivity"
import type { Postgres } from "../../Postgres"
import type { PgSession } from "../../probes/PgActivity"

/** The engines. */
export type Engine = "postgres" | "mysql" | "mongodb"

/** One client session (or MongoDB operation / idle session), engine-neutral. */
export interface EngineSession {
  readonly engine: Engine
  /** `pg:<pid>`, `mysql:<thread id>`, `mongodb:op:<opid>`, `mongodb:conn:<id>`, `mongodb:session:<lsid>`. */
  readonly id: string
  readonly application: string
  readonly client: string | null
  readonly user: string | null
  readonly superuser: boolean
  readonly state: "active" | "idle" | "idle_in_transaction"
  /** Milliseconds idle (idle, idle in transaction). */
  readonly idleMs: number
  /** Milliseconds the statement / operation has run (active). */
  readonly runningMs: number
  /** Statement text (SQL) or command shape (MongoDB, values removed). */
  readonly query: string | null
  /** The SQL row (PostgreSQL, MySQL) the kill actions are built from. */
  readonly pg?: PgSession | undefined
  /** The MongoDB currentOp entry the kill actions are built from. */
  readonly mongo?: MongoActivity.MongoOp | undefined
}

/** One poll of the trend. */
export interface TrendSample {
  readonly at: number
  readonly total: number
  readonly byApplication: Readonly<Record<string, { readonly total: number; readonly idleOutsideTx: number }>>
  /** Requests per second from the pluggable source, when one is configured. */
  readonly requestRate: number | null
}

/** The pool ceiling BytePort may raise, per engine. */
export type Ceiling =
  | { readonly kind: "pgbouncer"; readonly defaultPoolSize: number; readonly pools: number; readonly capacity: number }
  | { readonly kind: "max_connections"; readonly engine: "postgres" | "mysql"; readonly value: number }
  | { readonly kind: "mongodb"; readonly maxIncomingConnections: number; readonly maxPoolSize: number | null }

/** The facts. */
export interface MultiEngineFacts {
  readonly engine: Engine
  readonly utilization: { readonly ratio: number; readonly connections: number; readonly max: number }
  readonly sessions: ReadonlyArray<EngineSession>
  /** Oldest first, the current poll last. */
  readonly trend: ReadonlyArray<TrendSample>
  readonly ceiling: Ceiling
}

/** Where the trend's samples are kept between polls (in memory by default, per runbook instance). */
export interface TrendStore {
  readonly record: (target: TargetRef.TargetRef, sample: TrendSample) => Effect.Effect<void>
  readonly samples: (target: TargetRef.TargetRef, last: number) => Effect.Effect<ReadonlyArray<TrendSample>>
}

/** An in-memory trend store (keeps the last 50 samples per target). */
export const memoryTrend = (): TrendStore => {
  const m = new Map<string, Array<TrendSample>>()
  return {
    record: (target, sample) =>
      Effect.sync(() => {
        const k = TargetRef.key(target)
        const xs = m.get(k) ?? []
        xs.push(sample)
        if (xs.length > 50) xs.shift()
        m.set(k, xs)
      }),
    samples: (target, last) => Effect.sync(() => (m.get(TargetRef.key(target)) ?? []).slice(-last))
  }
}

/** Diagnoser options shared by the engines. */
export interface DiagnoseOptions {
  /** The trend store (default: in memory, per runbook instance). */
  readonly trend?: TrendStore
  /** Polls the trend rules read (default 5). */
  readonly trendPolls?: number
  /** The request rate (requests per second) of the service in front of the database; default none. */
  readonly requestRate?: (signal: Signal.Signal) => Effect.Effect<number | null>
  /** MongoDB: the application's driver `maxPoolSize`, when known (for the ChangeProposal). */
  readonly mongoMaxPoolSize?: number
}

/** Pure: a sample of the current sessions. */
export const sampleOf = (sessions: ReadonlyArray<EngineSession>, at: number, requestRate: number | null): TrendSample => {
  const by: Record<string, { total: number; idleOutsideTx: number }> = {}
  const conns = new Set<string>()
  for (const s of sessions) {
    if (s.id.startsWith("mongodb:session:")) continue // an idle session is not a connection
    conns.add(s.id)
    const e = by[s.application] ?? { total: 0, idleOutsideTx: 0 }
    e.total++
    if (s.state === "idle") e.idleOutsideTx++
    by[s.application] = e
  }
  return { at, total: conns.size, byApplication: by, requestRate }
}

const stateOf = (s: string | null): EngineSession["state"] =>
  s === "active" ? "active" : s !== null && s.startsWith("idle in transaction") ? "idle_in_transaction" : "idle"

/** Pure: a SQL session row → an engine session. */
export const fromSql = (engine: "postgres" | "mysql", s: PgSession): EngineSession => ({
  engine,
  id: `${engine === "postgres" ? "pg" : "mysql"}:${s.pid}`,
  application: s.application_name,
  client: s.client_addr,
  user: s.usename,
  superuser: s.rolsuper,
  state: stateOf(s.state),
  idleMs: s.state === "active" ? 0 : s.state_age_ms ?? 0,
  runningMs: s.state === "active" ? s.query_age_ms ?? 0 : 0,
  query: s.query,
  pg: s
})

/** Pure: currentOp entries → engine sessions (BytePort's own left out). */
export const fromMongo = (ops: ReadonlyArray<MongoActivity.MongoOp>, ownApp: string): ReadonlyArray<EngineSession> =>
  ops.filter((o) => !MongoActivity.isOwn(o, ownApp)).map((o): EngineSession => ({
    engine: "mongodb",
    id: o.type === "idleSession" ? `mongodb:session:${o.lsid ?? "?"}` : o.active ? `mongodb:op:${o.opid ?? "?"}` : `mongodb:conn:${o.connectionId ?? "?"}`,
    application: o.appName ?? "",
    client: o.client?.replace(/:\d+$/, "") ?? null,
    user: o.user ?? null,
    superuser: false,
    state: o.type === "idleSession" ? "idle_in_transaction" : o.active ? "active" : "idle",
    idleMs: o.type === "idleSession" ? o.txnIdleSecs * 1000 : 0,
    runningMs: o.active ? o.secsRunning * 1000 : 0,
    query: o.commandShape ?? null,
    mongo: o
  }))

const unknown = (probe: string, reason: string) => Fact.unknown(probe, reason)

const withTrend = <R>(
  signal: Signal.Signal,
  options: DiagnoseOptions,
  store: TrendStore,
  base: Effect.Effect<Omit<MultiEngineFacts, "trend"> | string, never, R>
): Effect.Effect<Fact.Facts<MultiEngineFacts>, never, R> =>
  Effect.gen(function*() {
    const b = yield* base
    if (typeof b === "string") {
      return { engine: unknown("engine", b), utilization: unknown("utilization", b), sessions: unknown("sessions", b), trend: unknown("trend", b), ceiling: unknown("ceiling", b) } as Fact.Facts<MultiEngineFacts>
    }
    const rate = options.requestRate === undefined ? null : yield* options.requestRate(signal).pipe(Effect.orElseSucceed(() => null))
    yield* store.record(signal.target, sampleOf(b.sessions, yield* Clock.currentTimeMillis, rate))
    const trend = yield* store.samples(signal.target, options.trendPolls ?? 5)
    return {
      engine: Fact.known(b.engine),
      utilization: Fact.known(b.utilization),
      sessions: Fact.known(b.sessions),
      trend: Fact.known(trend),
      ceiling: Fact.known(b.ceiling)
    }
  })

/** The PostgreSQL (± pgbouncer) diagnoser. */
export const postgres = (options: DiagnoseOptions & { readonly pool?: PoolDiagnoser.Options } = {}, store: TrendStore = options.trend ?? memoryTrend()) =>
(signal: Signal.Signal): Effect.Effect<Fact.Facts<MultiEngineFacts>, never, Postgres> =>
  withTrend(signal, options, store, Effect.map(PoolDiagnoser.make({ trendSamples: 1, ...options.pool })(signal), (f) => {
    if (f.utilization._tag !== "Known" || f.sessions._tag !== "Known") return "the PostgreSQL utilization or sessions could not be read"
    const u = f.utilization.value
    const bouncer = f.pgbouncer._tag === "Known" ? f.pgbouncer.value : null
    const ceiling: Ceiling = bouncer !== null && bouncer.pools.length > 0
      ? { kind: "pgbouncer", defaultPoolSize: bouncer.pools.reduce((m, p) => Math.max(m, p.poolSize), 0), pools: bouncer.pools.length, capacity: u.available }
      : { kind: "max_connections", engine: "postgres", value: u.available }
    return {
      engine: "postgres" as const,
      utilization: { ratio: u.ratio, connections: u.clientBackends, max: u.available },
      sessions: f.sessions.value.map((s) => fromSql("postgres", s)),
      ceiling
    }
  }))

/** The MySQL / MariaDB diagnoser. */
export const mysql = (options: DiagnoseOptions & { readonly pool?: PoolDiagnoser.Options } = {}, store: TrendStore = options.trend ?? memoryTrend()) =>
(signal: Signal.Signal): Effect.Effect<Fact.Facts<MultiEngineFacts>, never, MySql> =>
  withTrend(signal, options, store, Effect.map(MySqlPoolDiagnoser.make({ trendSamples: 1, ...options.pool })(signal), (f) => {
    if (f.utilization._tag !== "Known" || f.sessions._tag !== "Known") return "the MySQL utilization or sessions could not be read"
    const u = f.utilization.value
    return {
      engine: "mysql" as const,
      utilization: { ratio: u.ratio, connections: u.clientBackends, max: u.available },
      sessions: f.sessions.value.map((s) => fromSql("mysql", s)),
      ceiling: { kind: "max_connections", engine: "mysql", value: u.available } as Ceiling
    }
  }))

/** The MongoDB diagnoser. */
export const mongodb = (options: DiagnoseOptions = {}, store: TrendStore = options.trend ?? memoryTrend()) =>
(signal: Signal.Signal): Effect.Effect<Fact.Facts<MultiEngineFacts>, never, Mongo> =>
  withTrend(signal, options, store, Effect.gen(function*() {
    const mongo = yield* Mongo
    const u = yield* MongoActivity.utilization
    const ops = yield* MongoActivity.currentOp
    return {
      engine: "mongodb" as const,
      utilization: { ratio: u.ratio, connections: u.current - u.own, max: u.max },
      sessions: fromMongo(ops, mongo.appName),
      ceiling: { kind: "mongodb", maxIncomingConnections: u.max, maxPoolSize: options.mongoMaxPoolSize ?? null } as Ceiling
    }
  }).pipe(Effect.catch((e) => Effect.succeed(`MongoDB could not be read: ${e.message}`))))
