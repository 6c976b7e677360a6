/**
 * Verifiers of pool-exhaustion remediations: "utilization drops below 70%" (the seed's verify
 * step for db.pool.six-class and db.connections.saturation), and the seed's re-poll schedule. A reading that cannot be taken is
 * Inconclusive, never Recovered. When a PgBouncer service is provided, the PostgreSQL verifier
 * also requires that no pgbouncer client is waiting.
 *
 * @since 0.1.0
 */
import { Check, Plan, Verdict, Verifier } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Clock, Effect, Option } from "effect"
import type { Mongo } from "../mongo/Mongo"
import * as MongoActivity from "../mongo/MongoActivity"
import type { MySql } from "../MySql"
import { PgBouncer } from "../PgBouncer"
import type { Postgres } from "../Postgres"
import * as Utilization from "../Utilization"

/** The seed's recovery bar. */
export const DEFAULT_MAX_RATIO = 0.7

/**
 * The seed's utilization re-poll ("re-poll utilization at 30s/90s/180s"): every poll runs and is
 * recorded in the report with its readings, even after one recovered; the verdict is the last
 * poll's. Pass it as a runbook's `verifySchedule`.
 */
export const REPOLL_SCHEDULE: Verifier.VerifySchedule = Verifier.schedules.repoll30_90_180

const pct = (r: number) => `${(r * 100).toFixed(1)}%`

const inconclusiveOn = <R>(eff: Effect.Effect<Verdict.Verdict, unknown, R>): Effect.Effect<Verdict.Verdict, never, R> =>
  eff.pipe(Effect.catchCause(() =>
    Effect.map(Clock.currentTimeMillis, (at) => Verdict.inconclusive("utilization could not be read", at))
  ))

/** PostgreSQL utilization below `maxRatio` (default 0.70), and no pgbouncer client waiting if a PgBouncer service is provided. */
export const postgres = (maxRatio: number = DEFAULT_MAX_RATIO): Verifier.Verifier<unknown, Postgres> => () =>
  inconclusiveOn(Effect.gen(function*() {
    const u = yield* Utilization.postgres
    const checks: Array<Verdict.CheckResult> = [{
      name: "postgres utilization",
      ok: u.ratio < maxRatio,
      detail: `${pct(u.ratio)} (${u.clientBackends}/${u.available}) ${u.ratio < maxRatio ? "<" : ">="} ${pct(maxRatio)}`,
      observed: { ratio: u.ratio, clientBackends: u.clientBackends, available: u.available }
    }]
    const bouncer = yield* Effect.serviceOption(PgBouncer)
    if (Option.isSome(bouncer)) {
      const pools = yield* Utilization.pgbouncer.pipe(Effect.provideService(PgBouncer, bouncer.value))
      const waiting = pools.reduce((n, p) => n + p.clientsWaiting, 0)
      checks.push({ name: "pgbouncer waiting clients", ok: waiting === 0, detail: `${waiting} waiting`, observed: { waiting } })
    }
    return Verdict.fromChecks(checks, yield* Clock.currentTimeMillis)
  }))

/** MySQL / MariaDB utilization below `maxRatio` (default 0.70). */
export const mysql = (maxRatio: number = DEFAULT_MAX_RATIO): Verifier.Verifier<unknown, MySql> => () =>
  inconclusiveOn(Effect.gen(function*() {
    const u = yield* Utilization.mysql
    return Verdict.fromChecks([{
      name: "mysql utilization",
      ok: u.ratio < maxRatio,
      detail: `${pct(u.ratio)} (${u.threadsConnected}/${u.maxConnections}) ${u.ratio < maxRatio ? "<" : ">="} ${pct(maxRatio)}`,
      observed: { ratio: u.ratio, threadsConnected: u.threadsConnected, maxConnections: u.maxConnections }
    }], yield* Clock.currentTimeMillis)
  }))

/** The engines whose pool utilization `Plan.until` re-polls between kills. */
export type Engine = "postgres" | "mysql" | "mongodb"

/** The check kinds (`db.pool.below`, `db.pool.below.mysql`, `db.pool.below.mongodb`), one per engine. */
export const CHECKS: Readonly<Record<Engine, string>> = {
  postgres: "db.pool.below",
  mysql: "db.pool.below.mysql",
  mongodb: "db.pool.below.mongodb"
}

/**
 * The check reference `db.pool.multi-engine` re-polls before each kill and after the last
 * (`Plan.until`): the engine's utilization reading below `maxRatio`.
 */
export const checkRef = (engine: Engine, target: TargetRef.TargetRef, maxRatio: number = DEFAULT_MAX_RATIO): Plan.CheckRef =>
  Plan.check(CHECKS[engine], target, { maxRatio }, `${engine} pool utilization below ${pct(maxRatio)}`)

const below = <R>(kind: string, reading: Effect.Effect<{ readonly ratio: number; readonly detail: string }, unknown, R>): Check.Check<R> =>
  Check.make(kind, (r) =>
    Check.safely(
      kind,
      Effect.gen(function*() {
        const maxRatio = typeof r.params["maxRatio"] === "number" ? r.params["maxRatio"] : DEFAULT_MAX_RATIO
        const u = yield* reading
        return {
          name: kind,
          ok: u.ratio < maxRatio,
          detail: `${pct(u.ratio)} (${u.detail}) ${u.ratio < maxRatio ? "<" : ">="} ${pct(maxRatio)}`,
          observed: { ratio: u.ratio }
        }
      })
    ))

/** `db.pool.below`: `Utilization.postgres` against `params.maxRatio`. Never fails: an unreadable reading is `ok: false`. */
export const check = (): Check.Check<Postgres> =>
  below(CHECKS.postgres, Effect.map(Utilization.postgres, (u) => ({ ratio: u.ratio, detail: `${u.clientBackends}/${u.available}` })))

/** `db.pool.below.mysql`: `Utilization.mysql` against `params.maxRatio`. Never fails. */
export const mysqlCheck = (): Check.Check<MySql> =>
  below(CHECKS.mysql, Effect.map(Utilization.mysql, (u) => ({ ratio: u.ratio, detail: `${u.threadsConnected}/${u.maxConnections}` })))

/** `db.pool.below.mongodb`: `MongoActivity.utilization` against `params.maxRatio`. Never fails. */
export const mongoCheck = (): Check.Check<Mongo> =>
  below(CHECKS.mongodb, Effect.map(MongoActivity.utilization, (u) => ({ ratio: u.ratio, detail: `${u.current - u.own}/${u.max}` })))
