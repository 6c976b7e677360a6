/**
 * The remediator of `db.connections.saturation` (PostgreSQL; MySQL / MariaDB with `engine: "mysql"`: `mysql.killConnection`).
 *
 * | class | plan |
 * |---|---|
 * | connection_leak | `Plan.until(connections below the bar, …kills)`: `pg.terminateBackend` of the longest idle-in-transaction session (> 30 s), then the next longest, up to `maxTerminationsPerIncident` (default 1: the seed's single PID), the reading re-polled (`ConnectionsBelow.check`, registered with the handlers) before each kill and after the last; once below the bar (`verifyMaxRatio`, default 70 %) no further session is terminated. Still above it after the last kill → the verifier decides. Each with `noRowLocks`: the kill's own statement refuses a session with a `backend_xid` or in some backend's `pg_blocking_pids()`. Sessions already known to hold row locks are not chosen (so the next one goes); all locked → none killed, an escalation lists them |
 * | load_driven_saturation | an escalation naming the top 3 longest-running statements (pid, redacted text) and suggesting PgBouncer / PgCat |
 *
 * The plan never names a superuser, a protected session or one out of scope. Query text is kept
 * redacted (`Fingerprint.fingerprint`: literals replaced), never verbatim.
 *
 * @since 0.1.0
 */
import { Plan } from "@byteport/core"
import type { Classification, Fact, Signal } from "@byteport/core"
import { Effect } from "effect"
import * as MySqlKillConnection from "../actions/MySqlKillConnection"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import * as ConnectionSaturation from "../classifiers/ConnectionSaturation"
import type { SaturationFacts } from "../diagnosers/SaturationDiagnoser"
import * as Fingerprint from "../postmortem/Fingerprint"
import * as PgActivity from "../probes/PgActivity"
import * as TerminateScope from "../sessions/TerminateScope"
import * as ConnectionsBelow from "../verifiers/ConnectionsBelow"
import * as PoolRemediator from "./PoolRemediator"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "db.connections.saturation"

/** The seed's single PID per incident. */
export const DEFAULT_MAX_TERMINATIONS = 1

/** Remediator options. */
export interface Options {
  /** The engine (default postgres): MySQL / MariaDB plans `mysql.killConnection` with `noRowLocks`. */
  readonly engine?: "postgres" | "mysql"
  readonly thresholds?: Partial<ConnectionSaturation.Thresholds>
  /** Terminations per incident (default 1). */
  readonly maxTerminationsPerIncident?: number
  /** Which sessions the runbook may act on (default every client session). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  readonly protectedApplications?: ReadonlyArray<string>
  readonly protectedUsers?: ReadonlyArray<string>
  /** The bar the kills re-poll against (default 0.70 of max_connections, the verifier's). */
  readonly verifyMaxRatio?: number
  /** BytePort's own application_name prefix, not counted in the re-poll (default `byteport`). */
  readonly ownApplication?: string
  /** How many long-running statements the load-driven escalation names (default 3). */
  readonly topQueries?: number
  /**
   * The places whose `byteport.io/auto_remediate: "db_terminate"` allows a termination
   * (`TerminateScope`). Given, `make` reads them at plan time and the plan names only sessions in
   * an allowing scope: any session when the database object allows, else only sessions whose own
   * workload does (each kill then names its client, for the gate to re-read at acquire).
   */
  readonly places?: TerminateScope.Places
  /** Pure plans: the pids in an allowing scope (`make` computes it from `places`); absent = no annotation filter. */
  readonly inScope?: ReadonlySet<number>
}

/** Pure: a statement's text, redacted (literals replaced), at most 500 characters. */
export const redactedQuery = (q: string | null): string | null => (q === null ? null : Fingerprint.fingerprint(q, { dialect: "postgres" }).slice(0, 500))

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** Pure: the top `n` longest-running active statements. */
export const topLongRunning = (sessions: ReadonlyArray<PgActivity.PgSession>, n = 3): ReadonlyArray<PgActivity.PgSession> =>
  PgActivity.longRunningOf(sessions, 0).slice(0, n)

/**
 * Pure: `kills` re-polling `check` before each and after the last (`Plan.until`), in a fallback
 * whose empty `otherwise` lets the incident go on to its verifier when the bar is still not met
 * after the last kill (a denied or failed kill still ends the plan).
 */
export const untilBelow = (check: Plan.CheckRef, kills: ReadonlyArray<Plan.Step>): Plan.Step =>
  Plan.fallback(Plan.until(check, ...kills), Plan.seq(), { on: ["check"] })

/** Pure: the plan. */
export const planOf = (
  classification: Classification.Classified,
  facts: Fact.Facts<SaturationFacts>,
  signal: Signal.Signal,
  options: Options = {}
): Plan.Plan => {
  const t = { ...ConnectionSaturation.DEFAULT_THRESHOLDS, ...options.thresholds }
  const sessions = known(facts.sessions) ?? []
  const plan = (summary: string, root: Plan.Step) => Plan.make(RUNBOOK_ID, classification.class, summary, root)
  if (classification.class === "connection_leak") {
    const locked = known(facts.rowLockHolders)
    const ok = PoolRemediator.eligible(options.engine ?? "postgres", {
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
      ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
    })
    const stale = PgActivity.idleInTransactionOf(sessions, t.idleInTxMs).filter(ok)
    const lockedSet = new Set(locked ?? [])
    const unlocked = stale.filter((s) => !lockedSet.has(s.pid))
    const inScope = options.inScope
    const free = inScope === undefined ? unlocked : unlocked.filter((s) => inScope.has(s.pid))
    const outOfScope = unlocked.length - free.length
    const max = Math.max(0, Math.floor(options.maxTerminationsPerIncident ?? DEFAULT_MAX_TERMINATIONS))
    const chosen = free.slice(0, max)
    const heldLocks = stale.filter((s) => lockedSet.has(s.pid))
    const lockNote = (heldLocks.length === 0 ? "" : `; ${heldLocks.length} holding row locks left alone (${heldLocks.map((s) => s.pid).join(", ")})`) +
      (outOfScope === 0 ? "" : `; ${outOfScope} in no scope annotated ${TerminateScope.ANNOTATION}: "${TerminateScope.ANNOTATION_VALUE}" left alone`)
    const client = options.places?.clients !== undefined
    const steps = chosen.flatMap((s) => {
      const why = `idle in transaction for ${Math.round((s.state_age_ms ?? 0) / 1000)} s; query: ${redactedQuery(s.query) ?? "(none)"}`
      const a = options.engine === "mysql"
        ? MySqlKillConnection.action(signal.target, s, why, { noRowLocks: true, client })
        : PgTerminateBackend.action(signal.target, s, why, { noRowLocks: true, client })
      return a === undefined ? [] : [Plan.act(a)]
    })
    if (steps.length === 0) {
      return plan(
        `connection leak: no eligible idle-in-transaction session to terminate${lockNote}`,
        Plan.escalate(`connection leak: nothing terminated${lockNote}`, [
          ...heldLocks.map((s) => `backend ${s.pid} (${JSON.stringify(s.application_name)}) holds row locks: ${redactedQuery(s.query) ?? ""}`),
          ...(outOfScope === 0 ? [] : [
            `annotate the database object (${options.places?.database?.object ?? "not configured"}) or the leaking workload with ${TerminateScope.ANNOTATION}: "${TerminateScope.ANNOTATION_VALUE}" to allow terminations`
          ]),
          "find the application holding transactions open"
        ])
      )
    }
    return plan(
      `terminate the ${steps.length} longest idle-in-transaction session(s) (${chosen.map((s) => s.pid).join(", ")})${lockNote}`,
      untilBelow(
        options.engine === "mysql"
          ? ConnectionsBelow.mysqlCheckRef(signal.target, options.verifyMaxRatio)
          : ConnectionsBelow.checkRef(signal.target, options.verifyMaxRatio, options.ownApplication),
        steps
      )
    )
  }
  const top = topLongRunning(sessions, options.topQueries ?? 3)
  return plan(
    "load-driven saturation: nothing terminated, escalate with the longest-running statements",
    Plan.escalate(
      "load-driven connection saturation: put a pooler (PgBouncer or PgCat, transaction pooling) in front of the database",
      [
        ...top.map((s) => `pid ${s.pid} running ${Math.round((s.query_age_ms ?? 0) / 1000)} s: ${redactedQuery(s.query) ?? ""}`),
        "deploy PgBouncer or PgCat in transaction pooling mode and point the applications at it",
        "or raise max_connections with the memory it costs"
      ]
    )
  )
}

/**
 * Plan time: the pids of the stale idle-in-transaction sessions in an allowing scope (read now,
 * longest idle first, stopping once `max` are found): every one when the database object allows.
 */
export const scopeOf = (
  places: TerminateScope.Places,
  candidates: ReadonlyArray<PgActivity.PgSession>,
  max: number
): Effect.Effect<ReadonlySet<number>> =>
  Effect.gen(function*() {
    if (yield* TerminateScope.databaseAllows(places)) return new Set(candidates.map((s) => s.pid))
    const out = new Set<number>()
    if (places.clients === undefined) return out
    for (const s of candidates) {
      if (out.size >= max) break
      if (yield* TerminateScope.clientAllows(places, { address: s.client_addr, applicationName: s.application_name })) out.add(s.pid)
    }
    return out
  })

/** The remediator (core `Remediator`); with `places`, the plan names only sessions in an allowing scope. */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<SaturationFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const places = options.places
    if (places === undefined || classification.class !== "connection_leak") return planOf(classification, facts, signal, options)
    const t = { ...ConnectionSaturation.DEFAULT_THRESHOLDS, ...options.thresholds }
    const locked = new Set(known(facts.rowLockHolders) ?? [])
    const ok = PoolRemediator.eligible(options.engine ?? "postgres", {
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
      ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
    })
    const candidates = PgActivity.idleInTransactionOf(known(facts.sessions) ?? [], t.idleInTxMs).filter((s) => ok(s) && !locked.has(s.pid))
    const max = Math.max(0, Math.floor(options.maxTerminationsPerIncident ?? DEFAULT_MAX_TERMINATIONS))
    const inScope = yield* scopeOf(places, candidates, max)
    return planOf(classification, facts, signal, { ...options, inScope })
  })
