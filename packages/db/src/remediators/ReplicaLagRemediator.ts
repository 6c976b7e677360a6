/**
 * The remediator of `db.replica.lag`.
 *
 * | class (cause) | plan |
 * |---|---|
 * | long_running_queries_on_primary (standby queries block replay) | `pg.terminateBackend` of each standby session holding the lock replay waits for, longest transaction first, up to `maxTerminationsPerIncident` (default 5), inside `Plan.until(db.replica.replay_unblocked)`: re-polled before each kill and after the last, no further session goes once replay no longer waits on a lock; on the **replica** (the action's target is the replica: the handler runs its conditional statement on the replica's connection, `PgTargets`). Each kill is wrapped so a denial (`kills_per_minute_cap`) does not stop the others. Superusers and protected sessions are never planned: they are listed in an escalation instead |
 * | long_running_queries_on_primary (a primary statement floods WAL) | with `cancelPrimaryQueries: true`: `pg.cancelBackend` of the writing statements on the **primary**; otherwise (the default) an escalation naming them |
 * | network_latency | an escalation with the diagnosis (received vs replayed, reply age, walreceiver state) |
 * | disk_io_saturation | an escalation with the diagnosis (startup waits, I/O pressure) |
 *
 * The kill kinds' own guardrails (`SessionGuardrails`) hold: never a superuser or a protected
 * session, `kills_per_minute_cap` per database target.
 *
 * @since 0.1.0
 */
import { Plan, TargetRef } from "@byteport/core"
import type { Classification, Fact, Signal } from "@byteport/core"
import { Effect } from "effect"
import * as PgCancelBackend from "../actions/PgCancelBackend"
import * as ReplicaLagClassifier from "../classifiers/ReplicaLag"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import type { ReplicaLagFacts } from "../diagnosers/ReplicaLagDiagnoser"
import type * as PgActivity from "../probes/PgActivity"
import * as PoolRemediator from "./PoolRemediator"
import * as ReplicaLagBelow from "../verifiers/ReplicaLagBelow"
import { redactedQuery, untilBelow } from "./SaturationRemediator"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "db.replica.lag"

/** Default cap of standby sessions terminated per incident. */
export const DEFAULT_MAX_TERMINATIONS = 5

/** Remediator options. */
export interface Options {
  /** Cancel WAL-flooding statements on the primary (default false: escalate instead). */
  readonly cancelPrimaryQueries?: boolean
  /** Standby sessions terminated per incident (default 5). */
  readonly maxTerminationsPerIncident?: number
  /** The primary's target (default: the signal's `evidence.primary`). */
  readonly primary?: TargetRef.TargetRef
  readonly protectedApplications?: ReadonlyArray<string>
  readonly protectedUsers?: ReadonlyArray<string>
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)
const sec = (ms: number | null | undefined) => `${Math.round((ms ?? 0) / 1000)} s`

/** Pure: the primary's target from the options or the signal's evidence. */
export const primaryOf = (signal: Signal.Signal, options: Options = {}): TargetRef.TargetRef | undefined => {
  if (options.primary) return options.primary
  const p = (signal.evidence as Record<string, unknown> | undefined)?.["primary"]
  if (p && typeof p === "object" && typeof (p as Record<string, unknown>)["kind"] === "string" && typeof (p as Record<string, unknown>)["ref"] === "string") {
    return TargetRef.make((p as Record<string, string>)["kind"]!, (p as Record<string, string>)["ref"]!)
  }
  return undefined
}

const describe = (s: PgActivity.PgSession) =>
  `backend ${s.pid} (${JSON.stringify(s.application_name)}, user ${JSON.stringify(s.usename)}, ${s.state}, transaction ${sec(s.xact_age_ms)}): ${redactedQuery(s.query) ?? ""}`

/** Pure: the diagnosis lines every escalation carries. */
export const diagnosis = (facts: Fact.Facts<ReplicaLagFacts>): ReadonlyArray<string> => {
  const lag = known(facts.lag)
  const receiver = known(facts.receiver)
  const standby = known(facts.standby)
  const startup = known(facts.startup)
  const settings = known(facts.settings)
  const io = known(facts.ioPressure)
  return [
    lag === undefined ? "lag: unknown" : `lag ${sec(lag.lagMs)}: primary ${lag.primaryLsn}, received ${lag.receiveLsn ?? "?"}, replayed ${lag.replayLsn ?? "?"} (${lag.unreceivedBytes} B not received, ${lag.unreplayedBytes} B not replayed)`,
    `walreceiver: ${receiver === undefined ? "unknown" : receiver === null ? "not running" : `${receiver.status}, last message ${sec(receiver.last_msg_age_ms)} ago`}`,
    `pg_stat_replication: ${standby === undefined ? "unknown" : standby === null ? "no walsender for this replica" : `${standby.state}, reply ${sec(standby.reply_age_ms)} ago, write/flush/replay lag ${sec(standby.write_lag_ms)}/${sec(standby.flush_lag_ms)}/${sec(standby.replay_lag_ms)}`}`,
    `startup process waits: ${startup === undefined ? "unknown" : JSON.stringify(startup.counts)}`,
    ...(settings === undefined ? [] : [`max_standby_streaming_delay = ${settings.max_standby_streaming_delay}, hot_standby_feedback = ${settings.hot_standby_feedback}`]),
    ...(io === undefined || io === null ? [] : [`/proc/pressure/io: some avg10 ${io.someAvg10}%, full avg10 ${io.fullAvg10}%`])
  ]
}

/** Pure: the plan. */
export const planOf = (
  classification: Classification.Classified,
  facts: Fact.Facts<ReplicaLagFacts>,
  signal: Signal.Signal,
  options: Options = {}
): Plan.Plan => {
  const plan = (summary: string, root: Plan.Step) => Plan.make(RUNBOOK_ID, classification.class, summary, root)
  const why = diagnosis(facts)
  const cause = classification.evidence["cause"]
  const ok = PoolRemediator.eligible("postgres", {
    ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
    ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
  })
  if (classification.class === "long_running_queries_on_primary" && cause === "standby_queries_block_replay") {
    const lag = known(facts.lag)
    const startup = known(facts.startup)
    const blockers = lag === undefined || startup === undefined
      ? []
      : ReplicaLagClassifier.replayBlockersOf({ lag, startup, blockers: known(facts.blockers) ?? [], snapshotBlockers: known(facts.snapshotBlockers) ?? [] })
    const max = Math.max(0, Math.floor(options.maxTerminationsPerIncident ?? DEFAULT_MAX_TERMINATIONS))
    const chosen = blockers.filter(ok).slice(0, max)
    const left = blockers.filter((b) => !chosen.includes(b))
    const steps = chosen.flatMap((b) => {
      const a = PgTerminateBackend.action(signal.target, b, `its transaction (${sec(b.xact_age_ms)}) blocks WAL replay (a lock or a snapshot replay waits for); query: ${redactedQuery(b.query) ?? "(none)"}`)
      return a === undefined ? [] : [PoolRemediator.capped(Plan.act(a))]
    })
    const leftNote = left.length === 0 ? "" : `; ${left.length} left alone (superuser, protected or over the cap): ${left.map((b) => b.pid).join(", ")}`
    if (steps.length === 0) {
      return plan(
        `standby queries block replay: none may be terminated${leftNote}`,
        Plan.escalate("WAL replay on the replica is blocked by standby sessions BytePort may not terminate", [...left.map(describe), ...why])
      )
    }
    // re-polled before each kill and after the last: once replay no longer waits on a lock, no further session goes
    const terminate = untilBelow(ReplicaLagBelow.replayCheckRef(signal.target), steps)
    return plan(
      `terminate the ${steps.length} standby session(s) blocking WAL replay (${chosen.map((b) => b.pid).join(", ")})${leftNote}`,
      left.length === 0
        ? terminate
        : Plan.seq(terminate, Plan.escalate(`standby sessions left alone still hold the lock replay waits for`, left.map(describe)))
    )
  }
  if (classification.class === "long_running_queries_on_primary") {
    const writers = (known(facts.primaryWriters) ?? []).filter(ok)
    const primary = primaryOf(signal, options)
    if (options.cancelPrimaryQueries === true && primary !== undefined && writers.length > 0) {
      const steps = writers.flatMap((w) => {
        const a = PgCancelBackend.action(primary, w, `writing for ${sec(w.query_age_ms)}, its WAL outruns the replica`)
        return a === undefined ? [] : [Plan.act(a)]
      })
      if (steps.length > 0) {
        return plan(`cancel the ${steps.length} long-running writing statement(s) on the primary (${writers.map((w) => w.pid).join(", ")})`, Plan.seq(...steps))
      }
    }
    return plan(
      "a long-running statement on the primary floods WAL: nothing cancelled (cancelPrimaryQueries is off), escalate",
      Plan.escalate("a long-running statement on the primary writes WAL faster than the replica takes it", [
        ...(known(facts.primaryWriters) ?? []).map(describe),
        "split the statement into batches, or cancel it (cancelPrimaryQueries: true lets BytePort do so)",
        ...why
      ])
    )
  }
  if (classification.class === "network_latency") {
    return plan(
      "network latency between primary and replica: escalate with the diagnosis",
      Plan.escalate("the replica does not receive WAL fast enough (network latency or bandwidth)", [
        ...why,
        "check the network path (latency, packet loss, bandwidth) between the primary and the replica",
        "consider wal_compression = on on the primary"
      ])
    )
  }
  return plan(
    "disk I/O saturation on the replica: escalate with the diagnosis",
    Plan.escalate("WAL replay on the replica is slowed by disk I/O", [
      ...why,
      "check the replica's disk (iostat, /proc/pressure/io on its host) and other I/O on it",
      "move the replica to faster storage, or reduce competing I/O"
    ])
  )
}

/** The remediator (core `Remediator`). */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<ReplicaLagFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.succeed(planOf(classification, facts, signal, options))
