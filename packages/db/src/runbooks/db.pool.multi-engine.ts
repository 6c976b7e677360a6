/**
 * `db.pool.multi-engine` — "Autonomous DB connection pool exhaustion recovery for Postgres,
 * MySQL, and MongoDB: classify idle-in-transaction leak / long-running query / app-side leak /
 * traffic spike / undersized pool, terminate connections within per-minute safety caps, raise
 * pool ceiling within 20% headroom, re-poll utilization at 30s/90s/180s, file structured
 * postmortem."
 *
 * Family `db.pool`, after `db.pool.six-class` (precedence 60 > 50): the Catalog routes a
 * `db.pool.exhaustion` signal to six-class unless the Catalog's `enable` turns multi-engine on
 * for the target. Composed from the package's parts:
 *
 * 1. **Detect** — `PoolExhaustion.postgres` / `.mysql`, `MongoPoolExhaustion.make` (≥ 80 %).
 * 2. **Diagnose** — `MultiEngineFacts.postgres` / `.mysql` (the six-class diagnosers' sessions)
 *    and `.mongodb` (serverStatus, currentOp `$all` + `idleSessions`), plus the per-target
 *    trend of polls and the pluggable request rate.
 * 3. **Classify** — `MultiEngineClassifier` (seed's order, documented confidences).
 * 4. **Remediate** — `MultiEngineRemediator`: kills under `kills_per_minute_cap` (the kill
 *    kinds' guardrails, shared per database target with the other runbooks), the rollout-restart
 *    hand-off, the ceiling raise (`pgbouncer.raisePoolSize`, `mysql.setMaxConnections` + a
 *    config-file ChangeProposal, ChangeProposals for MongoDB's maxPoolSize and PostgreSQL without
 *    pgbouncer), held to ≤ 1.2× the lease-time baseline by `Guardrail.ceiling.multipleOfBaseline`.
 * 5. **Verify** — `Verifier.schedules.repoll30_90_180`: utilization below 70 % at the 180 s poll
 *    decides; every poll is reported, polls ≥ 80 % flagged (`observed.flagged`).
 *    Then the postmortem: per-engine fingerprints of the statements / operations involved and
 *    the permanent fix.
 *
 * MongoDB on the test machines is `@byteport/db/testing`'s `MongoFake` — a wire-protocol fake,
 * not MongoDB (see its docs for what it does not model).
 *
 * @since 0.1.0
 */
import { Guardrail, Runbook, Verdict, Verifier } from "@byteport/core"
import type { ActionHandler, Check, Fact, Json } from "@byteport/core"
import { Clock, Effect } from "effect"
import * as PgBouncerRaisePoolSize from "./../actions/PgBouncerRaisePoolSize"
import type { SessionGuardOptions } from "../actions/SessionGuardrails"
import type { Mongo } from "../mongo/Mongo"
import * as MongoActivity from "../mongo/MongoActivity"
import * as MongoKill from "../mongo/MongoKill"
import type { MySql } from "../MySql"
import * as Fingerprint from "../postmortem/Fingerprint"
import type { Postgres } from "../Postgres"
import * as UtilizationBelow from "../verifiers/UtilizationBelow"
import type * as PoolDiagnoser from "../diagnosers/PoolDiagnoser"
import * as MultiEngineClassifier from "./multi-engine/Classifier"
import * as MultiEngineFacts from "./multi-engine/Facts"
import * as MySqlSetMaxConnections from "./multi-engine/MySqlSetMaxConnections"
import * as MultiEngineRemediator from "./multi-engine/Remediator"
import * as PoolFamily from "./internal/poolFamily"

/** The runbook id. */
export const ID = "db.pool.multi-engine"

/** Polls at or above this share are flagged in the verification report. */
export const FLAG_RATIO = 0.8

/** Options (every seed number is a default). */
export interface Options extends SessionGuardOptions, PoolFamily.BaseOptions, MultiEngineRemediator.Options, MultiEngineFacts.DiagnoseOptions {
  /** Options of the PostgreSQL / MySQL diagnosers of db.pool.six-class the facts are read with (probe timeout, deploy source …). */
  readonly pool?: PoolDiagnoser.Options
  /** When to verify (default 30 s / 90 s / 180 s). */
  readonly verifySchedule?: Verifier.VerifySchedule
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** The lease-time baseline: the pool ceiling the raise is measured from. */
export const baseline = (facts: Fact.Facts<MultiEngineFacts.MultiEngineFacts>): Json.JsonObject => {
  const c = known(facts.ceiling)
  if (c === undefined) return {}
  const v = c.kind === "pgbouncer" ? c.defaultPoolSize : c.kind === "max_connections" ? c.value : c.maxPoolSize
  return v === null ? {} : { poolCeiling: v }
}

/** The ceiling guardrail: a raise proposes at most 1.2× the baseline taken at lease time. */
export const ceilingGuard: Guardrail.Guardrail<never> = Guardrail.when(
  Guardrail.isKind(PgBouncerRaisePoolSize.KIND, MySqlSetMaxConnections.KIND),
  Guardrail.ceiling.multipleOfBaseline({
    name: "pool ceiling ≤ 1.2× the lease-time baseline",
    baselineKey: "poolCeiling",
    factor: MultiEngineRemediator.CEILING_FACTOR,
    proposed: (ctx) => {
      const v = ctx.action.kind === PgBouncerRaisePoolSize.KIND ? ctx.action.params["defaultPoolSize"] : ctx.action.params["to"]
      return typeof v === "number" ? v : undefined
    }
  })
)

/** Flags a verdict's checks at or above 80 %. */
const flagged = (v: Verdict.Verdict): Verdict.Verdict => ({
  ...v,
  checks: v.checks.map((c) => {
    const r = (c.observed as { ratio?: unknown } | undefined)?.ratio
    return typeof r === "number" ? { ...c, observed: { ...(c.observed as Json.JsonObject), flagged: r >= FLAG_RATIO } } : c
  })
})

/** The MongoDB verifier: utilization below `maxRatio` (default 0.70). */
export const mongoBelow = (maxRatio = UtilizationBelow.DEFAULT_MAX_RATIO): Verifier.Verifier<unknown, Mongo> => () =>
  Effect.gen(function*() {
    const u = yield* MongoActivity.utilization
    const clients = u.current - u.own
    return Verdict.fromChecks([{
      name: "mongodb utilization",
      ok: u.ratio < maxRatio,
      detail: `${(u.ratio * 100).toFixed(1)}% (${clients}/${u.max}) ${u.ratio < maxRatio ? "<" : ">="} ${(maxRatio * 100).toFixed(1)}%`,
      observed: { ratio: u.ratio, connections: clients, max: u.max, flagged: u.ratio >= FLAG_RATIO }
    }], yield* Clock.currentTimeMillis)
  }).pipe(Effect.catchCause(() => Effect.map(Clock.currentTimeMillis, (at) => Verdict.inconclusive("utilization could not be read", at))))

/** The postmortem: per-engine fingerprints of the sessions involved and the permanent fix. */
export const postmortem = (input: Runbook.PostmortemInput<MultiEngineFacts.MultiEngineFacts>) =>
  Effect.sync((): Json.JsonObject => {
    const engine = known(input.facts.engine) ?? null
    const sessions = known(input.facts.sessions) ?? []
    const cls = input.classification._tag === "Classified" ? input.classification.class : null
    const involved = sessions.filter((s) => s.state !== "idle" && s.query !== null)
    const groups = new Map<string, { fingerprint: string; count: number; applications: Set<string> }>()
    for (const s of involved) {
      const fp = s.engine === "mongodb" ? `mongodb ${s.mongo?.commandName ?? "?"} ${s.mongo?.ns ?? "?"} ${s.query}` : Fingerprint.fingerprint(s.query!, { dialect: s.engine === "mysql" ? "mysql" : "postgres" })
      const id = Fingerprint.fingerprintId(fp)
      const g = groups.get(id) ?? { fingerprint: fp, count: 0, applications: new Set<string>() }
      g.count++
      g.applications.add(s.application)
      groups.set(id, g)
    }
    const fix: Record<string, string> = {
      idle_in_transaction_leak: engine === "mongodb"
        ? "end every session's transaction (commit/abort in finally); set transactionLifetimeLimitSeconds"
        : engine === "mysql" ? "close transactions in finally; set wait_timeout / innodb_lock_wait_timeout" : "close transactions in finally; set idle_in_transaction_session_timeout",
      long_running_query: engine === "mongodb" ? "add indexes for the fingerprints above; set maxTimeMS on the application's queries" : "add indexes / rewrite the fingerprints above; set statement_timeout (MySQL: max_execution_time)",
      app_side_leak: "fix the connection handling of the leaking application (return connections to its pool; bound the pool); the restart only drains it",
      traffic_spike: "size the pool for the peak request rate (the raise is within 20 % headroom); autoscale readers or add a pooler",
      undersized_pool: "make the raised ceiling permanent (the ChangeProposal), sized from the peak utilization"
    }
    const polls = input.verdicts.map((v) => ({
      status: v._tag,
      checks: v.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail, flagged: (c.observed as { flagged?: unknown } | undefined)?.flagged === true }))
    }))
    return {
      engine,
      class: cls,
      query_fingerprints: [...groups.entries()].map(([id, g]) => ({ fingerprint_id: id, fingerprint: g.fingerprint, count: g.count, applications: [...g.applications] })),
      permanent_fix: cls === null ? "unclassified: investigate by hand" : fix[cls] ?? "",
      polls,
      actions: {
        applied: input.outcomes.filter((o) => o.status === "applied" && o.kind !== "handoff").length,
        denied: input.outcomes.filter((o) => o.status === "denied").length,
        failed: input.outcomes.filter((o) => o.status === "failed").length
      }
    }
  })

const common = (options: Options) => ({
  ...PoolFamily.wiring(options, [ceilingGuard]),
  id: ID,
  description: "Autonomous DB connection pool exhaustion recovery for Postgres, MySQL, and MongoDB",
  precedence: 60,
  classify: MultiEngineClassifier.classifier(options.thresholds ?? {}),
  remediate: (c: Parameters<typeof MultiEngineRemediator.planOf>[0], f: Fact.Facts<MultiEngineFacts.MultiEngineFacts>, s: Parameters<typeof MultiEngineRemediator.planOf>[2]) =>
    MultiEngineRemediator.planOf(c, f, s, options),
  verifySchedule: options.verifySchedule ?? Verifier.schedules.repoll30_90_180,
  baseline,
  postmortem
})

/** The runbook for PostgreSQL (pgbouncer used when a PgBouncer service is provided). */
export const make = (options: Options = {}): Runbook.Runbook<MultiEngineFacts.MultiEngineFacts, Postgres> =>
  Runbook.make<MultiEngineFacts.MultiEngineFacts, Postgres>({
    ...common(options),
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: MultiEngineFacts.postgres(options),
    verify: (ctx) => Effect.map(UtilizationBelow.postgres(options.verifyMaxRatio)(ctx), flagged)
  })

/** The runbook for MySQL / MariaDB. */
export const makeMySql = (options: Options = {}): Runbook.Runbook<MultiEngineFacts.MultiEngineFacts, MySql> =>
  Runbook.make<MultiEngineFacts.MultiEngineFacts, MySql>({
    ...common(options),
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: MultiEngineFacts.mysql(options),
    verify: (ctx) => Effect.map(UtilizationBelow.mysql(options.verifyMaxRatio)(ctx), flagged)
  })

/** The runbook for MongoDB. */
export const makeMongo = (options: Options = {}): Runbook.Runbook<MultiEngineFacts.MultiEngineFacts, Mongo> =>
  Runbook.make<MultiEngineFacts.MultiEngineFacts, Mongo>({
    ...common(options),
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: MultiEngineFacts.mongodb(options),
    verify: mongoBelow(options.verifyMaxRatio)
  })

/** The PostgreSQL check the kills re-poll between them (`db.pool.below`): register it with the handlers. */
export const checks = (): ReadonlyArray<Check.Check<Postgres>> => [UtilizationBelow.check()]

/** The MySQL / MariaDB check (`db.pool.below.mysql`). */
export const mysqlChecks = (): ReadonlyArray<Check.Check<MySql>> => [UtilizationBelow.mysqlCheck()]

/** The MongoDB check (`db.pool.below.mongodb`). */
export const mongoChecks = (): ReadonlyArray<Check.Check<Mongo>> => [UtilizationBelow.mongoCheck()]

/** The MongoDB action handlers (`mongo.killOp`, `mongo.killSessions`). */
export const mongoHandlers = (options: SessionGuardOptions = {}): ReadonlyArray<ActionHandler.ActionHandler<Mongo>> => MongoKill.handlers(options)

/** The MySQL / MariaDB ceiling handler (`mysql.setMaxConnections`); register it with `PoolSixClassRunbook.mysqlHandlers`. */
export const mysqlHandlers = (): ReadonlyArray<ActionHandler.ActionHandler<MySql>> => [MySqlSetMaxConnections.make()]
