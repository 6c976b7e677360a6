/**
 * The verifier of `db.connections.saturation`: the seed's reading
 * (`Utilization.postgresConnections`) below 70 % of `max_connections`. A reading that cannot be
 * taken is Inconclusive, never Recovered.
 *
 * @since 0.1.0
 */
import { Check, Plan, Verdict, Verifier } from "@byteport/core"
import type { TargetRef } from "@byteport/core"
import { Clock, Effect } from "effect"
import type { MySql } from "../MySql"
import type { Postgres } from "../Postgres"
import * as Utilization from "../Utilization"

/** The seed's recovery bar. */
export const DEFAULT_MAX_RATIO = 0.7

/** The seed's schedule: wait 30 s, then check once. */
export const DEFAULT_SCHEDULE: Verifier.VerifySchedule = Verifier.once("30 seconds")

/** One reading against the bar: the check both the verifiers and the re-poll checks report. */
const belowBar = (
  name: string,
  u: { readonly ratio: number; readonly clientBackends: number; readonly maxConnections: number },
  maxRatio: number,
  barDigits: number
) => ({
  name,
  ok: u.ratio < maxRatio,
  detail: `${(u.ratio * 100).toFixed(1)}% (${u.clientBackends}/${u.maxConnections}) ${u.ratio < maxRatio ? "<" : ">="} ${(maxRatio * 100).toFixed(barDigits)}%`,
  observed: { ratio: u.ratio, clientBackends: u.clientBackends, maxConnections: u.maxConnections }
})

/** The verdict of one reading (a reading that cannot be taken is Inconclusive). */
const verdictOf = <E, R>(reading: Effect.Effect<{ readonly ratio: number; readonly clientBackends: number; readonly maxConnections: number }, E, R>, maxRatio: number) =>
  Effect.gen(function*() {
    const u = yield* reading
    return Verdict.fromChecks([belowBar("connections below max_connections bar", u, maxRatio, 0)], yield* Clock.currentTimeMillis)
  }).pipe(Effect.catchCause(() => Effect.map(Clock.currentTimeMillis, (at) => Verdict.inconclusive("connections could not be read", at))))

/** PostgreSQL client backends (BytePort's own excluded) below `maxRatio` of `max_connections`. */
export const postgres = (maxRatio: number = DEFAULT_MAX_RATIO, ownApplication?: string): Verifier.Verifier<unknown, Postgres> => () =>
  verdictOf(Utilization.postgresConnections(ownApplication), maxRatio)

/** The check kind `Plan.until` re-polls between terminations (PostgreSQL reading). */
export const CHECK = "db.connections.below"

/** The check reference: the seed's reading below `maxRatio` of `max_connections`. */
export const checkRef = (target: TargetRef.TargetRef, maxRatio: number = DEFAULT_MAX_RATIO, ownApplication = "byteport"): Plan.CheckRef =>
  Plan.check(CHECK, target, { maxRatio, ownApplication }, `connections below ${(maxRatio * 100).toFixed(1)}% of max_connections`)

/**
 * The `db.connections.below` check (register it with the handlers): `Utilization.postgresConnections`
 * against `params.maxRatio`. Never fails: a reading that cannot be taken is `ok: false`.
 */
export const check = (): Check.Check<Postgres> =>
  Check.make(CHECK, (r) =>
    Check.safely(
      CHECK,
      Effect.gen(function*() {
        const maxRatio = typeof r.params["maxRatio"] === "number" ? r.params["maxRatio"] : DEFAULT_MAX_RATIO
        const own = typeof r.params["ownApplication"] === "string" ? r.params["ownApplication"] : undefined
        const u = yield* Utilization.postgresConnections(own)
        return belowBar(CHECK, u, maxRatio, 1)
      })
    ))

/** MySQL / MariaDB: (`Threads_connected` − own) / `max_connections` below `maxRatio` (`Utilization.mysqlConnections`). */
export const mysql = (maxRatio: number = DEFAULT_MAX_RATIO): Verifier.Verifier<unknown, MySql> => () =>
  verdictOf(Utilization.mysqlConnections, maxRatio)

/** The check kind the MySQL leak plan re-polls between kills. */
export const MYSQL_CHECK = "db.connections.below.mysql"

/** The MySQL check reference (see {@link checkRef}). */
export const mysqlCheckRef = (target: TargetRef.TargetRef, maxRatio: number = DEFAULT_MAX_RATIO): Plan.CheckRef =>
  Plan.check(MYSQL_CHECK, target, { maxRatio }, `connections below ${(maxRatio * 100).toFixed(1)}% of max_connections`)

/** The `db.connections.below.mysql` check: `Utilization.mysqlConnections` against `params.maxRatio`. Never fails. */
export const mysqlCheck = (): Check.Check<MySql> =>
  Check.make(MYSQL_CHECK, (r) =>
    Check.safely(
      MYSQL_CHECK,
      Effect.gen(function*() {
        const maxRatio = typeof r.params["maxRatio"] === "number" ? r.params["maxRatio"] : DEFAULT_MAX_RATIO
        const u = yield* Utilization.mysqlConnections
        return belowBar(MYSQL_CHECK, u, maxRatio, 1)
      })
    ))
