/**
 * `db.connections.saturation` — "Detects when PostgreSQL or MySQL active connections exceed 80%
 * of max_connections and identifies connection leaks (idle-in-transaction > 30s) vs.
 * load-driven saturation — terminating leak backends and suggesting PgBouncer configuration."
 * PostgreSQL (`make`) and MySQL / MariaDB (`makeMySql`).
 *
 * Composed from the package's exported parts, in the seed's order:
 *
 * 1. **Detect** — `ConnectionSaturation.postgres`: client backends (any state; no walsenders,
 *    background workers or BytePort's own) / `max_connections` **>** 80 %
 *    (`Utilization.postgresConnections`; `Utilization.postgres` is the other reading, over
 *    `max_connections − superuser_reserved_connections` and counting its probe).
 * 2. **Diagnose** — `SaturationDiagnoser`: that reading, the sessions, the top wait events and
 *    the sessions that may hold row locks.
 * 3. **Classify** — `ConnectionSaturation.classifier`: `connection_leak` (0.85) when sessions idle
 *    in transaction > 30 s since `state_change` are > 50 % of the idle sessions (idle + idle in
 *    transaction + aborted), else `load_driven_saturation` (0.75). The seed gives no confidences.
 * 4. **Remediate** — `SaturationRemediator`: leak → `pg.terminateBackend` (with `noRowLocks`) of
 *    the longest idle-in-transaction session, then the next longest, up to
 *    `maxTerminationsPerIncident` (default 1), re-polling the reading after each
 *    (`Plan.until` over the `db.connections.below` check: register `checks()`) and stopping once
 *    below the verifier's bar;
 *    load-driven → escalation with the top 3 longest-running statements and PgBouncer / PgCat.
 *    **Gate**: every termination needs `byteport.io/auto_remediate: "db_terminate"` (or a comma
 *    list with it) in one of three places (`TerminateScope`, `Guardrail.requireAnnotation`, read
 *    live at each acquire and audited): (a) the database object read from core's
 *    `AnnotationSource` (`database: { object }`), (b) the workload owning the session's client
 *    (`clients`: address → Pod → owner, else an application_name map; never a pooler's address)
 *    → its own sessions only, (c) the configured `database.annotations` outside Kubernetes. The
 *    plan names only sessions in an allowing scope; none → nothing is killed, the incident escalates.
 *    The kill kinds' own guardrails (`SessionGuardrails`: superusers, protected sessions,
 *    `kills_per_minute_cap`) hold as in every runbook.
 * 5. **Verify** — `ConnectionsBelow`: `Verifier.once("30 seconds")`, the reading below 70 % of
 *    `max_connections`, else escalate. The postmortem carries the pre-termination audit
 *    (connection count, top wait events, application names) and the terminated sessions'
 *    redacted queries.
 *
 * @since 0.1.0
 */
import { Guardrail, Runbook } from "@byteport/core"
import type { ActionHandler, Check, Detector, Fact } from "@byteport/core"
import { Effect } from "effect"
import * as MySqlKillConnection from "../actions/MySqlKillConnection"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import { killsPerMinuteCapConfig, protectedOf, type SessionGuardOptions } from "../actions/SessionGuardrails"
import * as ConnectionSaturation from "../classifiers/ConnectionSaturation"
import * as SaturationDetector from "../detectors/ConnectionSaturation"
import * as SaturationDiagnoser from "../diagnosers/SaturationDiagnoser"
import type { MySql } from "../MySql"
import type { Postgres } from "../Postgres"
import type { PgSession } from "../probes/PgActivity"
import * as SaturationRemediator from "../remediators/SaturationRemediator"
import * as TerminateScope from "../sessions/TerminateScope"
import * as ConnectionsBelow from "../verifiers/ConnectionsBelow"
import type { Verifier } from "@byteport/core"

/** The runbook id. */
export const ID = "db.connections.saturation"

/**
 * Ranked before `db.pool.six-class` (50): when both fire on one target (a saturated server is
 * also an exhausted pool) the Catalog opens one incident, by this runbook, and audits
 * `routed_to db.connections.saturation` for six-class — so the annotation gate, which six-class
 * does not have, is never bypassed for the same sessions.
 */
export const PRECEDENCE = 45

/** The opt-in annotation and the value it must carry. */
export const ANNOTATION = TerminateScope.ANNOTATION
/** The annotation value that allows terminations. */
export const ANNOTATION_VALUE = TerminateScope.ANNOTATION_VALUE

/**
 * The object representing the database: its configured `annotations` (place (c), outside
 * Kubernetes), or — `annotations` omitted — read live from core's `AnnotationSource` (place (a):
 * a StatefulSet, Service, CloudNativePG Cluster … e.g. `"StatefulSet/db/orders-pg"`).
 */
export type DatabaseObject = TerminateScope.DatabaseObject

/** Place (b): a client workload's annotation allows terminating its own sessions (see `TerminateScope`). */
export type ClientScope = TerminateScope.ClientScope

/** Options (every seed number is a default). */
export interface Options extends SessionGuardOptions {
  /** The database object (place (a) or (c)); absent → only client workloads (place (b)) can allow. */
  readonly database?: DatabaseObject
  /**
   * Place (b): client address → Pod → owner through the `AnnotationSource`, else the configured
   * application_name → workload map; a workload annotated allows terminating its own sessions
   * only. Absent → only the database object decides.
   */
  readonly clients?: ClientScope
  readonly thresholds?: Partial<ConnectionSaturation.Thresholds>
  /** Terminations per incident (default 1). */
  readonly maxTerminationsPerIncident?: number
  /** The detector (e.g. `ConnectionSaturation.postgres({ target })`). */
  readonly detector?: Detector.Detector<never, Postgres>
  /** Which sessions the runbook may see and act on (default every client session). */
  readonly sessions?: (s: PgSession) => boolean
  /** The recovery bar (default 0.70 of max_connections). */
  readonly verifyMaxRatio?: number
  /** When to verify (default `Verifier.once("30 seconds")`). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** BytePort's own application_name prefix, not counted (default `byteport`). */
  readonly ownApplication?: string
  /** Mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/**
 * The annotation gate over the three places (`TerminateScope.gate`): the database object
 * (configured or live) and, with `clients`, the workload owning the session's client. Nothing
 * configured or nothing allowing → denied.
 */
export const annotationGate = (database: DatabaseObject | undefined, clients?: ClientScope): Guardrail.Guardrail<never> =>
  TerminateScope.gate({ database, clients })

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** The postmortem: the pre-termination audit and what was terminated (redacted). */
export const postmortem = (thresholds: Partial<ConnectionSaturation.Thresholds> = {}) =>
(input: Runbook.PostmortemInput<SaturationDiagnoser.SaturationFacts>) =>
  Effect.sync(() => {
    const t = { ...ConnectionSaturation.DEFAULT_THRESHOLDS, ...thresholds }
    const u = known(input.facts.utilization)
    const sessions = known(input.facts.sessions) ?? []
    const byPid = new Map(sessions.map((s) => [s.pid, s]))
    const apps: Record<string, number> = {}
    for (const s of sessions) apps[s.application_name] = (apps[s.application_name] ?? 0) + 1
    const share = ConnectionSaturation.leakShareOf(sessions, t.idleInTxMs)
    const terminated = input.outcomes.flatMap((o) => {
      if (o.kind !== PgTerminateBackend.KIND && o.kind !== MySqlKillConnection.KIND) return []
      const pid = Number(o.result?.[o.kind === MySqlKillConnection.KIND ? "id" : "pid"])
      const s = byPid.get(pid)
      return [{
        pid,
        status: o.status,
        signalled: o.result?.["signalled"] === true || o.result?.["killed"] === true,
        detail: o.detail,
        application_name: s?.application_name ?? null,
        query: SaturationRemediator.redactedQuery(s?.query ?? null)
      }]
    })
    return {
      audit: {
        connections: u === undefined ? null : { clientBackends: u.clientBackends, maxConnections: u.maxConnections, ratio: u.ratio },
        top_wait_events: (known(input.facts.waitEvents) ?? []).map((w) => ({ type: w.wait_event_type, event: w.wait_event, count: w.count })),
        application_names: apps,
        idle_in_transaction_share: { stale: share.stale, idle: share.idle, share: share.share }
      },
      terminated
    }
  })

/** The remediator options both engines take from the runbook's (only those given). */
const remediatorOptions = (options: Omit<Options, "detector" | "ownApplication">): SaturationRemediator.Options => ({
  ...(options.thresholds ? { thresholds: options.thresholds } : {}),
  ...(options.maxTerminationsPerIncident !== undefined ? { maxTerminationsPerIncident: options.maxTerminationsPerIncident } : {}),
  ...(options.sessions ? { sessions: options.sessions } : {}),
  ...protectedOf(options),
  ...(options.verifyMaxRatio !== undefined ? { verifyMaxRatio: options.verifyMaxRatio } : {}),
  places: { database: options.database, clients: options.clients }
})

/** The runbook for PostgreSQL. */
export const make = (options: Options = {}): Runbook.Runbook<SaturationDiagnoser.SaturationFacts, Postgres> =>
  Runbook.make<SaturationDiagnoser.SaturationFacts, Postgres>({
    id: ID,
    family: "db.connections",
    description: "Detects when PostgreSQL active connections exceed 80% of max_connections: connection leak vs load-driven saturation",
    signals: [SaturationDetector.SIGNAL_TYPE],
    precedence: PRECEDENCE,
    // Detect
    ...(options.detector ? { detector: options.detector } : {}),
    // Diagnose
    diagnose: SaturationDiagnoser.make({
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.ownApplication !== undefined ? { ownApplication: options.ownApplication } : {})
    }),
    // Classify
    classify: ConnectionSaturation.classifier(options.thresholds ?? {}),
    // Remediate
    remediate: SaturationRemediator.make({
      ...remediatorOptions(options),
      ...(options.ownApplication !== undefined ? { ownApplication: options.ownApplication } : {})
    }),
    guardrails: [Guardrail.minConfidence(0.7), annotationGate(options.database, options.clients)],
    // Verify
    verify: ConnectionsBelow.postgres(options.verifyMaxRatio, options.ownApplication),
    verifySchedule: options.verifySchedule ?? ConnectionsBelow.DEFAULT_SCHEDULE,
    postmortem: postmortem(options.thresholds ?? {}),
    config: [killsPerMinuteCapConfig],
    defaultMode: options.defaultMode ?? "dry_run"
  })

/** The checks to register with the handlers (`db.connections.below`, which the leak plan re-polls). */
export const checks = (): ReadonlyArray<Check.Check<Postgres>> => [ConnectionsBelow.check()]

/** The action handlers to register (`pg.terminateBackend`, shared with `db.pool.six-class`). */
export const handlers = (options: PgTerminateBackend.Options = {}): ReadonlyArray<ActionHandler.ActionHandler<Postgres>> => [
  PgTerminateBackend.make(options)
]

/** MySQL / MariaDB options (as {@link Options}, with a MySQL detector). */
export interface MySqlOptions extends Omit<Options, "detector" | "ownApplication"> {
  /** The detector (e.g. `ConnectionSaturation.mysql({ target })`). */
  readonly detector?: Detector.Detector<never, MySql>
}

/**
 * The runbook for MySQL / MariaDB: (`Threads_connected` − own) / `max_connections`; threads
 * sleeping in an open InnoDB transaction (INNODB_TRX) for > 30 s (PROCESSLIST time) are idle in
 * transaction, the same 50 % rule; leak → `mysql.killConnection` with `noRowLocks` (rows
 * locked / modified in INNODB_TRX, or a blocker in INNODB_LOCK_WAITS → refused in `MySqlKill`'s
 * re-check), re-polled between kills (`db.connections.below.mysql`); the same gate and verifier bar.
 */
export const makeMySql = (options: MySqlOptions = {}): Runbook.Runbook<SaturationDiagnoser.SaturationFacts, MySql> =>
  Runbook.make<SaturationDiagnoser.SaturationFacts, MySql>({
    id: ID,
    family: "db.connections",
    description: "Detects when MySQL / MariaDB connections exceed 80% of max_connections: connection leak vs load-driven saturation",
    signals: [SaturationDetector.SIGNAL_TYPE],
    precedence: PRECEDENCE,
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: SaturationDiagnoser.mysql(options.sessions ? { sessions: options.sessions } : {}),
    classify: ConnectionSaturation.classifier(options.thresholds ?? {}),
    remediate: SaturationRemediator.make({ engine: "mysql", ...remediatorOptions(options) }),
    guardrails: [Guardrail.minConfidence(0.7), annotationGate(options.database, options.clients)],
    verify: ConnectionsBelow.mysql(options.verifyMaxRatio),
    verifySchedule: options.verifySchedule ?? ConnectionsBelow.DEFAULT_SCHEDULE,
    postmortem: postmortem(options.thresholds ?? {}),
    config: [killsPerMinuteCapConfig],
    defaultMode: options.defaultMode ?? "dry_run"
  })

/** The MySQL / MariaDB action handlers (`mysql.killConnection`, shared with `db.pool.six-class`). */
export const mysqlHandlers = (options: SessionGuardOptions = {}): ReadonlyArray<ActionHandler.ActionHandler<MySql>> => [
  MySqlKillConnection.make(options)
]

/** The MySQL / MariaDB checks (`db.connections.below.mysql`). */
export const mysqlChecks = (): ReadonlyArray<Check.Check<MySql>> => [ConnectionsBelow.mysqlCheck()]
