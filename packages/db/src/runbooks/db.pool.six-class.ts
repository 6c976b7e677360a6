/**
 * `db.pool.six-class` — "Detects database connection pool exhaustion across Postgres, MySQL,
 * and pgbouncer": classify root cause across 6 classes, terminate idle-in-transaction sessions
 * and long-running queries within hard safety caps, reload pgbouncer with a raised pool size,
 * trigger a rolling restart of leaking deployments, and verify utilization drops below 70% with
 * a structured postmortem including query fingerprints and the permanent-fix recommendation.
 *
 * Composed from the package's exported parts, in the seed's order:
 *
 * 1. **Detect** — `PoolExhaustion.postgres` / `.mysql`: utilization ≥ 80 %, or pgbouncer clients waiting.
 * 2. **Diagnose** — `PoolDiagnoser` / `MySqlPoolDiagnoser`: state breakdown, wait events, long
 *    statements, pgbouncer SHOW POOLS, the idle-in-transaction trend against the last deploy,
 *    Hikari / SQLAlchemy / pgx pool settings.
 * 3. **Classify** — `PoolSixClass.classifier`: first match in the seed's order, confidence ≥ 0.70.
 * 4. **Remediate** — `PoolRemediator`: the action kinds `pg.terminateBackend`,
 *    `pg.cancelBackend` (falling back to terminate when the cancel fails), `mysql.killConnection`,
 *    `mysql.killQuery`, `pgbouncer.raisePoolSize` and the `k8s.rollout-restart.requested`
 *    hand-off. The safety guardrails belong to those action kinds: `kills_per_minute_cap`
 *    (default 20; excess rejected and escalated), never pgbouncer / admin-proxy / pgadmin /
 *    protected users, never a superuser (re-checked in the statement that kills).
 * 5. **Verify** — `UtilizationBelow`: utilization below 70 % and no pgbouncer client waiting.
 *    Schedule: check right after the last action, retry once at 15 s (core's default). The
 *    six-class entry says only "verify utilization drops below 70%" (the 30/90/180 s re-poll is
 *    `db.pool.multi-engine`'s); a terminated backend frees its slot at once
 *    (`pg_terminate_backend` waits for the exit), so the first check is meaningful, and the retry
 *    covers pgbouncer draining its queue after a RELOAD. `verifySchedule` overrides it.
 *    Then the postmortem: query fingerprints, the permanent fix, and the text of the statements
 *    that were cancelled (`explain_queries`, for EXPLAIN).
 *
 * Rulings (RUNBOOKS.md): idle-in-transaction threshold 30 s, query budget 120 s;
 * missing_pgbouncer = pgbouncer present with clients waiting; undersized_pool RELOADs only where
 * a pgbouncer exists, else escalates with the recommended pool sizes; runaway_cron_fanout only
 * for batch-looking application names (`cron|job|worker|batch|scheduler`), and — the seed giving
 * it no automatic fix — it escalates with the recommended cap.
 *
 * Decisions: a session that changed between plan and kill survives and its step succeeds as
 * `skipped: session changed` (the leak resolved itself; verification decides); kills denied by
 * the cap leave the rest of the plan running and are escalated by name after verification, the
 * report's status staying what verification says.
 *
 * @since 0.1.0
 */
import { Runbook, Verifier } from "@byteport/core"
import type { ActionHandler, Fact, Signal } from "@byteport/core"
import { Effect } from "effect"
import * as MySqlKillConnection from "../actions/MySqlKillConnection"
import * as MySqlKillQuery from "../actions/MySqlKillQuery"
import * as PgBouncerRaisePoolSize from "../actions/PgBouncerRaisePoolSize"
import * as PgCancelBackend from "../actions/PgCancelBackend"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import type { SessionGuardOptions } from "../actions/SessionGuardrails"
import * as PoolSixClass from "../classifiers/PoolSixClass"
import * as MySqlPoolDiagnoser from "../diagnosers/MySqlPoolDiagnoser"
import * as PoolDiagnoser from "../diagnosers/PoolDiagnoser"
import type { MySql } from "../MySql"
import type { PgBouncer } from "../PgBouncer"
import * as Fingerprint from "../postmortem/Fingerprint"
import * as Postmortem from "../postmortem/Postmortem"
import type { Postgres } from "../Postgres"
import type { PgSession } from "../probes/PgActivity"
import * as PoolRemediator from "../remediators/PoolRemediator"
import * as UtilizationBelow from "../verifiers/UtilizationBelow"
import * as PoolFamily from "./internal/poolFamily"

/** The runbook id. */
export const ID = "db.pool.six-class"

/** The verification schedule by default: check, then retry once at 15 s (see module docs). */
export const DEFAULT_VERIFY_SCHEDULE: Verifier.VerifySchedule = Verifier.schedules.retryOnceAt15s

/** Options of the runbook (every seed number is a default here). */
export interface Options extends SessionGuardOptions, PoolFamily.BaseOptions {
  /** Classifier thresholds (and the sessions the plan picks): idle in transaction 30 s, budget 120 s … */
  readonly thresholds?: Partial<PoolSixClass.Thresholds>
  /** Diagnoser options (trend samples, deploy source, app env, probe timeout). */
  readonly diagnose?: PoolDiagnoser.Options
  /** Which sessions the runbook may see and act on (default: every client session). */
  readonly sessions?: (s: PgSession) => boolean
  /** The deployment to restart on leak_after_deploy (default: the signal's `evidence.deployment`). */
  readonly deployment?: PoolRemediator.Options["deployment"]
  /** pgbouncer.ini to edit (default: the PgBouncer service's `BYTEPORT_PGBOUNCER_INI`). */
  readonly iniPath?: string
  /** When to verify (default {@link DEFAULT_VERIFY_SCHEDULE}); the mode when configuration says nothing: dry_run (`BYTEPORT_MODE_DB_POOL_SIX_CLASS` overrides). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** Options of the postmortem (fingerprint grouping, extra facts such as `processes`). */
  readonly postmortem?: Postmortem.PostmortemOptions
}

/** Restricts the sessions fact to the runbook's scope. */
export const scoped = <R>(
  diagnose: (signal: Signal.Signal) => Effect.Effect<Fact.Facts<PoolDiagnoser.PoolFacts>, never, R>,
  sessions: ((s: PgSession) => boolean) | undefined
) =>
(signal: Signal.Signal): Effect.Effect<Fact.Facts<PoolDiagnoser.PoolFacts>, never, R> =>
  sessions === undefined
    ? diagnose(signal)
    : Effect.map(diagnose(signal), (f) => ({
      ...f,
      sessions: f.sessions._tag === "Known" ? { _tag: "Known" as const, value: f.sessions.value.filter(sessions) } : f.sessions
    }))

/** Every fact Known, or undefined. */
const allKnown = (facts: Fact.Facts<PoolDiagnoser.PoolFacts>): PoolDiagnoser.PoolFacts | undefined => {
  const out: Record<string, unknown> = {}
  for (const [k, f] of Object.entries(facts) as Array<[string, Fact.Fact<unknown>]>) {
    if (f._tag !== "Known") return undefined
    out[k] = f.value
  }
  return out as unknown as PoolDiagnoser.PoolFacts
}

/** The postmortem: `Postmortem.make` plus the statements that were cancelled, for EXPLAIN. */
export const postmortem = (options: Postmortem.PostmortemOptions = {}, dialect: Fingerprint.Dialect = "postgres") =>
(input: Runbook.PostmortemInput<PoolDiagnoser.PoolFacts>) =>
  Effect.sync(() => {
    const facts = allKnown(input.facts)
    const base = facts === undefined
      ? { class: input.classification._tag === "Classified" ? input.classification.class : null, summary: "some facts are unknown: no permanent fix computed", query_fingerprints: [] }
      : Postmortem.make(input.classification, facts, options)
    const explain = input.outcomes.flatMap((o) => {
      const q = o.result?.["query"]
      if ((o.kind !== PgCancelBackend.KIND && o.kind !== MySqlKillQuery.KIND) || typeof q !== "string") return []
      const fp = Fingerprint.fingerprint(q, { dialect })
      return [{ session: String(o.result?.["pid"] ?? o.result?.["id"] ?? ""), status: o.status, fingerprint_id: Fingerprint.fingerprintId(fp), fingerprint: fp, query: q }]
    })
    const count = (status: string) => input.outcomes.filter((o) => o.status === status && o.kind !== "handoff").length
    const skipped = input.outcomes.filter((o) => o.status === "applied" && o.detail.startsWith("skipped:")).length
    return {
      ...base,
      explain_queries: explain,
      actions: { applied: count("applied") - skipped, skipped_session_changed: skipped, denied: count("denied"), failed: count("failed") }
    }
  })

const common = (options: Options) => ({
  ...PoolFamily.wiring(options),
  id: ID,
  description: "Detects database connection pool exhaustion across Postgres, MySQL, and pgbouncer",
  precedence: 50,
  classify: PoolSixClass.classifier(options.thresholds ?? {}),
  remediate: PoolRemediator.make({
    ...(options.thresholds ? { thresholds: options.thresholds } : {}),
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
    ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {}),
    ...(options.deployment ? { deployment: options.deployment } : {}),
    ...(options.iniPath !== undefined ? { iniPath: options.iniPath } : {}),
    runbookId: ID
  }),
  verifySchedule: options.verifySchedule ?? DEFAULT_VERIFY_SCHEDULE
})

/** The runbook for PostgreSQL (pgbouncer is used when a PgBouncer service is provided). */
export const make = (options: Options = {}): Runbook.Runbook<PoolDiagnoser.PoolFacts, Postgres> =>
  Runbook.make<PoolDiagnoser.PoolFacts, Postgres>({
    ...common(options),
    // Detect
    ...(options.detector ? { detector: options.detector } : {}),
    // Diagnose
    diagnose: scoped(PoolDiagnoser.make(options.diagnose ?? {}), options.sessions),
    // Classify, Remediate: see common()
    // Verify
    verify: UtilizationBelow.postgres(options.verifyMaxRatio),
    postmortem: postmortem(options.postmortem ?? {}, "postgres")
  })

/** The runbook for MySQL / MariaDB (same classes; no pgbouncer). */
export const makeMySql = (options: Options = {}): Runbook.Runbook<PoolDiagnoser.PoolFacts, MySql> =>
  Runbook.make<PoolDiagnoser.PoolFacts, MySql>({
    ...common(options),
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: scoped(MySqlPoolDiagnoser.make(options.diagnose ?? {}), options.sessions),
    verify: UtilizationBelow.mysql(options.verifyMaxRatio),
    postmortem: postmortem(options.postmortem ?? {}, "mysql")
  })

/** The PostgreSQL / pgbouncer action handlers to register (`ActionRegistry.layer({ handlers })`). */
export const handlers = (
  options: SessionGuardOptions & PgCancelBackend.Options & PgTerminateBackend.Options = {}
): ReadonlyArray<ActionHandler.ActionHandler<Postgres | PgBouncer>> => [
  PgTerminateBackend.make(options),
  PgCancelBackend.make(options),
  PgBouncerRaisePoolSize.make()
]

/** The MySQL / MariaDB action handlers to register. */
export const mysqlHandlers = (options: SessionGuardOptions = {}): ReadonlyArray<ActionHandler.ActionHandler<MySql>> => [
  MySqlKillConnection.make(options),
  MySqlKillQuery.make(options)
]
