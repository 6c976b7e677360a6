/**
 * `db.replica.lag` — "Detects PostgreSQL replica lag exceeding 30 seconds for more than 60
 * seconds — distinguishing between network latency, disk I/O saturation, and long-running
 * queries on the primary — and terminates blocking queries to resume replication."
 *
 * Composed from the package's exported parts, in the seed's order:
 *
 * 1. **Detect** — `ReplicaLagDetector`: lag = time since the primary first reached an LSN the
 *    replica has not replayed (LSNs read on both servers, `ReplicaLag.LagTracker`), > 30 s at
 *    every poll for > 60 s.
 * 2. **Diagnose** — `ReplicaLagDiagnoser`: the lag, pg_stat_replication, pg_stat_wal_receiver,
 *    the startup process' waits, the standby sessions holding the lock replay waits for,
 *    long-running writers on the primary, pg_stat_database_conflicts, standby settings,
 *    /proc/pressure/io.
 * 3. **Classify** — `ReplicaLag.classifier`: network_latency (0.85), disk_io_saturation (0.80),
 *    long_running_queries_on_primary (standby queries block replay 0.90; a primary statement
 *    floods WAL 0.75). Nothing matched → escalate.
 * 4. **Remediate** — `ReplicaLagRemediator`: terminate the standby sessions blocking replay
 *    (`pg.terminateBackend` on the replica's connection); cancel a WAL-flooding primary
 *    statement (`pg.cancelBackend` on the primary) only with `cancelPrimaryQueries`; network and
 *    disk I/O escalate with the diagnosis. The kill kinds' `SessionGuardrails` hold (superusers,
 *    protected sessions, `kills_per_minute_cap`). With `database` configured, every kill also
 *    needs `byteport.io/auto_remediate: "db_terminate"` on it (`Guardrail.requireAnnotation`,
 *    as `db.connections.saturation`).
 * 5. **Verify** — `ReplicaLagBelow`: lag < 30 s held for 60 s (polls every 10 s), windows
 *    starting until 5 minutes after the last action.
 *
 * Services: `Postgres` (the primary) and `ReplicaLag.PgReplica` (the replica). Register the
 * kill handlers over both with `PgTargets` (see {@link handlersLayer}).
 *
 * @since 0.1.0
 */
import { ActionRegistry, Guardrail, Runbook } from "@byteport/core"
import type { ActionHandler, Check, TargetRef } from "@byteport/core"
import { Layer, type Schedule } from "effect"
import * as PgCancelBackend from "../actions/PgCancelBackend"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import { killsPerMinuteCapConfig, type SessionGuardOptions } from "../actions/SessionGuardrails"
import * as ReplicaLagClassifier from "../classifiers/ReplicaLag"
import * as ReplicaLagDetector from "../detectors/ReplicaLag"
import * as ReplicaLagDiagnoser from "../diagnosers/ReplicaLagDiagnoser"
import type { Postgres } from "../Postgres"
import type * as PgActivity from "../probes/PgActivity"
import * as ReplicaLag from "../probes/ReplicaLag"
import * as ReplicaLagRemediator from "../remediators/ReplicaLagRemediator"
import * as PgTargets from "../sessions/PgTargets"
import * as ReplicaLagBelow from "../verifiers/ReplicaLagBelow"
import { annotationGate, type DatabaseObject } from "./db.connections.saturation"

/** The runbook id. */
export const ID = "db.replica.lag"

/** Options (every seed number is a default). */
export interface Options extends SessionGuardOptions {
  /** The replica (signals, standby kills). */
  readonly replica: TargetRef.TargetRef
  /** The primary (WAL-flooding statement cancels). */
  readonly primary: TargetRef.TargetRef
  /** Lag bar, ms: detection ("exceeding 30 seconds") and verification (default 30 000). */
  readonly thresholdMs?: number
  /** How long the lag must exceed the bar, ms (default 60 000); also the verifier's hold window. */
  readonly holdMs?: number
  /** Detector poll schedule (default every 5 s). */
  readonly schedule?: Schedule.Schedule<unknown>
  /** Verifier: poll interval in the hold window (default 10 000 ms) and deadline (default 300 000 ms). */
  readonly verifyEveryMs?: number
  readonly verifyDeadlineMs?: number
  /** Shared by detector, diagnoser and verifier (default: one per runbook). */
  readonly tracker?: ReplicaLag.LagTracker
  /** The replica's application_name in pg_stat_replication (default: the only standby). */
  readonly standbyName?: string
  /** Which sessions (standby blockers, primary writers) the runbook may see and act on (default all). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  /** A primary statement writing longer than this is long-running (default 60 000 ms). */
  readonly primaryStatementMs?: number
  /** Cancel WAL-flooding primary statements (default false: escalate). */
  readonly cancelPrimaryQueries?: boolean
  /** Standby sessions terminated per incident (default 5). */
  readonly maxTerminationsPerIncident?: number
  /** With it, kills need `byteport.io/auto_remediate: "db_terminate"` on this object. */
  readonly database?: DatabaseObject
  /** Classifier thresholds. */
  readonly thresholds?: Partial<ReplicaLagClassifier.Thresholds>
  /** I/O pressure file (default `/proc/pressure/io`). */
  readonly ioPressurePath?: string
  /** Mode when configuration says nothing (default dry_run). */
  readonly defaultMode?: "observe" | "dry_run" | "auto"
}

/** The runbook. */
export const make = (options: Options): Runbook.Runbook<ReplicaLagDiagnoser.ReplicaLagFacts, Postgres | ReplicaLag.PgReplica> => {
  const tracker = options.tracker ?? ReplicaLag.makeTracker()
  const holdMs = options.holdMs ?? ReplicaLagDetector.DEFAULT_HOLD_MS
  const thresholdMs = options.thresholdMs ?? ReplicaLagDetector.DEFAULT_THRESHOLD_MS
  return Runbook.make<ReplicaLagDiagnoser.ReplicaLagFacts, Postgres | ReplicaLag.PgReplica>({
    id: ID,
    family: "db.replica",
    description: "Detects PostgreSQL replica lag over 30 s for more than 60 s: network latency vs disk I/O saturation vs long-running queries on the primary",
    signals: [ReplicaLagDetector.SIGNAL_TYPE],
    precedence: 50,
    detector: ReplicaLagDetector.make({
      target: options.replica,
      primary: options.primary,
      thresholdMs,
      holdMs,
      tracker,
      ...(options.schedule ? { schedule: options.schedule } : {})
    }),
    diagnose: ReplicaLagDiagnoser.make({
      tracker,
      ...(options.standbyName !== undefined ? { standbyName: options.standbyName } : {}),
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.primaryStatementMs !== undefined ? { primaryStatementMs: options.primaryStatementMs } : {}),
      ...(options.ioPressurePath !== undefined ? { ioPressurePath: options.ioPressurePath } : {})
    }),
    classify: ReplicaLagClassifier.classifier(options.thresholds ?? {}),
    remediate: ReplicaLagRemediator.make({
      primary: options.primary,
      ...(options.cancelPrimaryQueries !== undefined ? { cancelPrimaryQueries: options.cancelPrimaryQueries } : {}),
      ...(options.maxTerminationsPerIncident !== undefined ? { maxTerminationsPerIncident: options.maxTerminationsPerIncident } : {}),
      ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
      ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
    }),
    guardrails: [Guardrail.minConfidence(0.7), ...(options.database ? [annotationGate(options.database)] : [])],
    verify: ReplicaLagBelow.make(tracker, thresholdMs),
    verifySchedule: ReplicaLagBelow.schedule({
      holdMs,
      ...(options.verifyEveryMs !== undefined ? { everyMs: options.verifyEveryMs } : {}),
      ...(options.verifyDeadlineMs !== undefined ? { deadlineMs: options.verifyDeadlineMs } : {})
    }),
    config: [killsPerMinuteCapConfig],
    defaultMode: options.defaultMode ?? "dry_run"
  })
}

/** The action handlers (`pg.terminateBackend`, `pg.cancelBackend`, shared with the other db runbooks). */
export const handlers = (options: PgTerminateBackend.Options = {}): ReadonlyArray<ActionHandler.ActionHandler<Postgres>> => [
  PgTerminateBackend.make(options),
  PgCancelBackend.make(options)
]

/** The checks to register with the handlers (`db.replica.replay_unblocked`, re-polled between standby kills). */
export const checks = (): ReadonlyArray<Check.Check<ReplicaLag.PgReplica>> => [ReplicaLagBelow.replayCheck()]

/**
 * The registry of the kill handlers and the runbook's check with the replica routed to its own
 * connection: kills whose target is `replica` run on `PgReplica`, every other target on
 * `Postgres`. Add your other handlers and checks in `parts`.
 */
export const handlersLayer = <R = never>(
  replica: TargetRef.TargetRef,
  parts: { readonly handlers?: ReadonlyArray<ActionHandler.ActionHandler<R>>; readonly checks?: ReadonlyArray<Check.Check<R>> } = {},
  options: PgTerminateBackend.Options = {}
): Layer.Layer<ActionRegistry.ActionRegistry, never, R | Postgres | ReplicaLag.PgReplica> =>
  ActionRegistry.layer<R | Postgres | ReplicaLag.PgReplica>({ handlers: [...handlers(options), ...(parts.handlers ?? [])], checks: [...checks(), ...(parts.checks ?? [])] }).pipe(
    Layer.provide(PgTargets.layerFrom(replica, ReplicaLag.PgReplica))
  )
