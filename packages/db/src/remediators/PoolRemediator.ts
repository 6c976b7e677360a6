/**
 * The remediator of `db.pool.six-class`: a Plan per class, as the seed says, for PostgreSQL
 * (with or without pgbouncer) and MySQL / MariaDB.
 *
 * | class | plan |
 * |---|---|
 * | idle_in_tx_backlog | one `pg.terminateBackend` (`mysql.killConnection`) per eligible session idle in transaction longer than the threshold (30 s) |
 * | long_running_query | per statement over the budget (120 s) that waits on no lock (a root blocker, or in no chain), or is over budget on its own account (lock wait not counted; `sessions/LockChain`): `Plan.fallback(act(pg.cancelBackend), act(pg.terminateBackend), { on: ["failed"] })` (`mysql.killQuery`, then `mysql.killConnection`); a root blocker idle in transaction past 30 s: `pg.terminateBackend`; waiters are left alone and reported; roots nobody may act on and wait cycles are escalated |
 * | leak_after_deploy | terminate the old idle-in-transaction sessions, then a `HandOff` of `k8s.rollout-restart.requested` for the offending deployment (escalation when no deployment is known) |
 * | missing_pgbouncer | `pgbouncer.raisePoolSize` (raise default_pool_size, RELOAD) |
 * | undersized_pool | with a pgbouncer: `pgbouncer.raisePoolSize`; without one (ruling): an escalation with the recommended pool sizes |
 * | runaway_cron_fanout | the seed gives no automatic fix: an escalation with the recommended cap for the batch role |
 *
 * **Eligible sessions.** The plan never names a superuser (`rolsuper`; MySQL SUPER /
 * CONNECTION_ADMIN) or a protected session (application_name prefix `pgbouncer`, `admin-proxy`,
 * `pgadmin`, configurable; protected users) — "skipping pgbouncer/admin-proxy/superuser
 * connections". The action kinds carry the same rules as guardrails (so a hand-off or another
 * runbook gets them too) and the kill re-checks them at signal time. `sessions` narrows which
 * sessions a runbook may touch at all (e.g. one database, or one role).
 *
 * **The kill cap.** Each kill is its own Act wrapped in `Plan.fallback(act, Plan.seq(), { on:
 * ["denied"] })`: when `kills_per_minute_cap` denies the 21st termination of the minute, the
 * other sessions are still handled, and core's Runbook escalates the rejected excess by name
 * after verification.
 *
 * **New pool size** (pgbouncer): capacity `C = max_connections − superuser_reserved_connections`,
 * budget `B = floor(C × 0.8)` (20 % headroom, as in the postmortem), `n` live pools at size `s`
 * with `w` clients waiting: `to = min(floor(B / n), s + max(1, ceil(w / n)))` for
 * missing_pgbouncer, `to = min(floor(B / n), s + max(1, ceil(s / 4)))` for undersized_pool.
 * When `to ≤ s` there is no room: the plan is an escalation. The action's `ceiling` guardrail and
 * the handler's live capacity check hold the line if the pools changed since.
 *
 * @since 0.1.0
 */
import { Fact, Plan, TargetRef } from "@byteport/core"
import type { Action, Classification, Signal } from "@byteport/core"
import { Effect } from "effect"
import * as MySqlKillConnection from "../actions/MySqlKillConnection"
import * as MySqlKillQuery from "../actions/MySqlKillQuery"
import * as PgBouncerRaisePoolSize from "../actions/PgBouncerRaisePoolSize"
import * as PgCancelBackend from "../actions/PgCancelBackend"
import * as PgTerminateBackend from "../actions/PgTerminateBackend"
import { isProtectedApplication } from "../actions/SessionGuardrails"
import * as PoolSixClass from "../classifiers/PoolSixClass"
import type { PoolFacts } from "../diagnosers/PoolDiagnoser"
import * as Postmortem from "../postmortem/Postmortem"
import * as PgActivity from "../probes/PgActivity"
import * as LockChain from "../sessions/LockChain"
import * as MySqlKill from "../sessions/MySqlKill"
import * as PgKill from "../sessions/PgKill"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "db.pool.six-class"

/** The hand-off signal type of a rollout restart (owned by the Kubernetes package's restarter). */
export const ROLLOUT_RESTART_REQUESTED = "k8s.rollout-restart.requested"

/** Remediator options. */
export interface Options {
  /** The thresholds the sessions are chosen by (the classifier's: idle in transaction 30 s, query budget 120 s). */
  readonly thresholds?: Partial<PoolSixClass.Thresholds>
  /** Which sessions this runbook may act on at all (default: every client session). */
  readonly sessions?: (s: PgActivity.PgSession) => boolean
  /** Protected application_name prefixes (default `pgbouncer`, `admin-proxy`, `pgadmin`). */
  readonly protectedApplications?: ReadonlyArray<string>
  /** Protected users (default: PostgreSQL `pgbouncer`; MySQL `root`, `mysql.sys` …). */
  readonly protectedUsers?: ReadonlyArray<string>
  /**
   * The deployment to restart for leak_after_deploy (a `k8s.workload` TargetRef,
   * `<cluster>/<namespace>/Deployment/<name>`). Default: the signal's `evidence.deployment` (a
   * ref string or `{ kind, ref }`), else none (the plan escalates instead of handing off).
   */
  readonly deployment?: (signal: Signal.Signal, facts: Fact.Facts<PoolFacts>) => TargetRef.TargetRef | null
  /** The pgbouncer.ini the raise edits (default: the PgBouncer service's). */
  readonly iniPath?: string
  /** The runbook id the plans name (default `db.pool.six-class`). */
  readonly runbookId?: string
}

/** The default deployment source: `evidence.deployment` of the signal. */
export const deploymentFromEvidence = (signal: Signal.Signal): TargetRef.TargetRef | null => {
  const d = signal.evidence["deployment"]
  if (typeof d === "string" && d !== "") return TargetRef.make("k8s.workload", d)
  if (d !== null && typeof d === "object" && !Array.isArray(d)) {
    const o = d as { readonly [k: string]: unknown }
    if (typeof o["kind"] === "string" && typeof o["ref"] === "string") return TargetRef.make(o["kind"], o["ref"])
  }
  return null
}

/**
 * The default deployment source: the signal's `evidence.deployment`, else the workload named by
 * the last deploy marker (`DeployMarkers`: e.g. the Kubernetes rollout that went out).
 */
export const deploymentOf = (signal: Signal.Signal, facts: Fact.Facts<PoolFacts>): TargetRef.TargetRef | null => {
  const fromEvidence = deploymentFromEvidence(signal)
  if (fromEvidence !== null) return fromEvidence
  const workload = facts.lastDeploy?._tag === "Known" ? facts.lastDeploy.value?.workload : undefined
  return typeof workload === "string" && workload !== "" ? TargetRef.make("k8s.workload", workload) : null
}

/** Pure: whether the plan may name a session (not a superuser, not protected, in scope). */
export const eligible = (engine: string, options: Options) => (s: PgActivity.PgSession): boolean => {
  const apps = options.protectedApplications ?? PgKill.DEFAULT_PROTECTED_APPLICATIONS
  const users = options.protectedUsers ?? (engine === "mysql" ? MySqlKill.DEFAULT_PROTECTED_USERS : PgKill.DEFAULT_PROTECTED_USERS)
  return !s.rolsuper && !isProtectedApplication(s.application_name, apps) && !users.includes(s.usename ?? "") &&
    (options.sessions === undefined || options.sessions(s))
}

/** Wraps one Act so that a guardrail denial does not stop the other steps (the excess is escalated by the Runbook). */
export const capped = (step: Plan.Step): Plan.Step => Plan.fallback(step, Plan.seq(), { on: ["denied"] })

const terminate = (engine: string, target: TargetRef.TargetRef, s: PgActivity.PgSession, why: string, statement = false): Action.Action | undefined =>
  engine === "mysql" ? MySqlKillConnection.action(target, s, why) : PgTerminateBackend.action(target, s, why, { statement })

const cancel = (engine: string, target: TargetRef.TargetRef, s: PgActivity.PgSession, why: string): Action.Action | undefined =>
  engine === "mysql" ? MySqlKillQuery.action(target, s, why) : PgCancelBackend.action(target, s, why)

const seconds = (ms: number | null) => `${Math.round((ms ?? 0) / 1000)} s`

/**
 * A session's state or statement as a point in time, not an age: the plan (and so its digest)
 * stays the same when the same sessions are diagnosed again a few seconds later — an approval
 * given for a plan still matches the plan a resume re-diagnoses. The age when no time is known.
 */
const since = (what: string, at: Date | null | undefined, ageMs: number | null) =>
  at instanceof Date && Number.isFinite(at.getTime()) ? `${what} since ${at.toISOString()}` : `${what} for ${seconds(ageMs)}`

/** Pure: the recommended settings of the permanent fix, as escalation next steps. */
export const recommendations = (classification: Classification.Classification, facts: PoolFacts): ReadonlyArray<string> => {
  const fix = Postmortem.permanentFix(classification, Postmortem.fixFactsOf(facts))
  return [...fix.settings.map((s) => `${s.system} ${s.setting} = ${s.value} (${s.scope}): ${s.reason}`), ...fix.actions]
}

/** Pure: the new default_pool_size (see module docs), or why there is none. */
export const raisedPoolSize = (
  cls: "missing_pgbouncer" | "undersized_pool",
  pgbouncer: NonNullable<PoolFacts["pgbouncer"]>,
  available: number
): { readonly from: number; readonly to: number; readonly projectedTotal: number } | { readonly none: string } => {
  const n = pgbouncer.pools.length
  if (n === 0) return { none: "pgbouncer shows no pool" }
  const s = pgbouncer.pools.reduce((m, p) => Math.max(m, p.poolSize), 0)
  const budget = Math.floor(available * (1 - Postmortem.HEADROOM))
  const step = cls === "missing_pgbouncer" ? Math.max(1, Math.ceil(pgbouncer.waiting / n)) : Math.max(1, Math.ceil(s / 4))
  const to = Math.min(Math.floor(budget / n), s + step)
  if (to <= s) return { none: `no room: ${n} pools of ${s} already use the budget of ${budget} of ${available} connections` }
  return { from: s, to, projectedTotal: n * to }
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

/** Pure: the plan for a classified incident. */
export const planOf = (
  classification: Classification.Classified,
  facts: Fact.Facts<PoolFacts>,
  signal: Signal.Signal,
  options: Options = {}
): Plan.Plan => {
  const id = options.runbookId ?? RUNBOOK_ID
  const t = { ...PoolSixClass.DEFAULT_THRESHOLDS, ...options.thresholds }
  const target = signal.target
  const utilization = known(facts.utilization)
  const engine = utilization?.engine ?? "postgres"
  const all = known(facts.sessions) ?? []
  const ok = eligible(engine, options)
  const skipped = (chosen: ReadonlyArray<PgActivity.PgSession>) => {
    const n = chosen.filter((s) => !ok(s)).length
    return n === 0 ? "" : ` (${n} superuser/protected/out-of-scope session(s) left alone)`
  }
  const plan = (summary: string, root: Plan.Step) => Plan.make(id, classification.class, summary, root)
  const escalateWith = (reason: string, steps: ReadonlyArray<string>) => plan(reason, Plan.escalate(reason, steps))
  const pooled = (): PoolFacts | undefined => {
    const f: Partial<Record<keyof PoolFacts, unknown>> = {}
    for (const k of Object.keys(facts) as Array<keyof PoolFacts>) {
      const v = known(facts[k] as Fact.Fact<unknown>)
      if (v === undefined) return undefined
      f[k] = v
    }
    return f as PoolFacts
  }
  const advice = () => {
    const f = pooled()
    return f === undefined ? ["some facts are unknown: size the pools by hand"] : recommendations(classification, f)
  }
  const killIdle = () => {
    const idle = PgActivity.idleInTransactionOf(all, t.idleInTxMs)
    const chosen = idle.filter(ok)
    const steps = chosen.flatMap((s) => {
      const a = terminate(engine, target, s, since("idle in transaction", s.state_change, s.state_age_ms))
      return a === undefined ? [] : [capped(Plan.act(a))]
    })
    return { steps, note: skipped(idle) }
  }

  switch (classification.class as PoolSixClass.PoolClass) {
    case "idle_in_tx_backlog": {
      const k = killIdle()
      if (k.steps.length === 0) {
        return escalateWith(`no eligible idle-in-transaction session to terminate${k.note}`, ["find the application holding transactions open"])
      }
      return plan(`terminate ${k.steps.length} idle-in-transaction session(s) older than ${seconds(t.idleInTxMs)}${k.note}`, Plan.seq(...k.steps))
    }
    case "long_running_query": {
      // Lock chains (sessions/LockChain): cancel the root blockers and the statements over budget
      // on their own account; waiters are reported and left alone.
      const chains = LockChain.resolve(all, { budgetMs: t.queryBudgetMs, idleInTxMs: t.idleInTxMs })
      const chosen = chains.act.map((d) => d.session)
      const steps = chains.act.filter((d) => ok(d.session)).flatMap((d) => {
        const s = d.session
        if (d.action === "terminate") {
          const a = terminate(engine, target, s, `root of a lock chain (${d.waiters} waiter(s)), ${since(String(s.state), s.state_change, s.state_age_ms)}`)
          return a === undefined ? [] : [capped(Plan.act(a))]
        }
        const why = d.reason === "root_blocker"
          ? `root of a lock chain (${d.waiters} waiter(s)), ${since("statement running", s.query_start, s.query_age_ms)} (budget ${seconds(t.queryBudgetMs)})`
          : d.reason === "own_budget"
          ? `${since("statement running", s.query_start, s.query_age_ms)}, over budget on its own account besides its lock wait (budget ${seconds(t.queryBudgetMs)})`
          : `${since("statement running", s.query_start, s.query_age_ms)} (budget ${seconds(t.queryBudgetMs)})`
        const c = cancel(engine, target, s, why)
        const k = terminate(engine, target, s, `${why}; the cancel did not stop it`, true)
        if (c === undefined || k === undefined) return []
        return [capped(Plan.fallback(Plan.act(c), Plan.act(k), { on: ["failed"] }))]
      })
      const waiting = chains.leftAlone.length === 0 ? "" : `; ${chains.leftAlone.length} waiter(s) over budget left alone (waiting on a lock)`
      const open = [
        ...chains.unresolved.map((u) => `${u.why}; ${u.waiters} session(s) wait on it`),
        ...chains.cycles.map((c) => `wait cycle ${c.join(" ↔ ")}: left to the server's deadlock detector`),
        ...chains.act.filter((d) => d.reason !== "over_budget" && !ok(d.session)).map((d) =>
          `root blocker ${d.session.pid} is a superuser/protected/out-of-scope session: not ${d.action === "terminate" ? "terminated" : "cancelled"}`
        )
      ]
      const chainNote = [...open, ...LockChain.describe(chains)]
      if (steps.length === 0) {
        return escalateWith(
          `no eligible long-running statement to cancel${skipped(chosen)}${waiting}`,
          chainNote.length === 0 ? ["review the long-running statements by hand"] : [...chainNote, "end the root blocker by hand, or wait for it"]
        )
      }
      const summary = `cancel ${steps.length} statement(s) over ${seconds(t.queryBudgetMs)}, terminate where the cancel fails${skipped(chosen)}${waiting}`
      return plan(summary, open.length === 0 ? Plan.seq(...steps) : Plan.seq(...steps, Plan.escalate(`lock chain(s) not resolved: ${open.join("; ")}`, chainNote)))
    }
    case "leak_after_deploy": {
      const k = killIdle()
      const deploy = known(facts.lastDeploy)
      const workload = (options.deployment ?? deploymentOf)(signal, facts)
      const restart = workload === null
        ? Plan.escalate(`connections leak since deploy ${deploy?.sha ?? "?"}, and no deployment is known to restart`, [
          "restart the deployment that went out with the last deploy",
          "configure the runbook's deployment source"
        ])
        : Plan.handOff(
          {
            type: ROLLOUT_RESTART_REQUESTED,
            target: workload,
            observedAt: signal.observedAt,
            evidence: {
              reason: `connection leak since deploy ${deploy?.sha ?? "?"}`,
              database: TargetRef.key(target),
              ...(deploy ? { deploySha: deploy.sha } : {})
            }
          },
          "restart the leaking deployment to drain its leaked connection handles"
        )
      return plan(
        `terminate ${k.steps.length} old idle-in-transaction session(s)${k.note}, then ${workload === null ? "escalate (no deployment known)" : `restart ${workload.ref}`}`,
        Plan.seq(...k.steps, restart)
      )
    }
    case "missing_pgbouncer":
    case "undersized_pool": {
      const cls = classification.class as "missing_pgbouncer" | "undersized_pool"
      const bouncer = known(facts.pgbouncer)
      if (bouncer === undefined || bouncer === null || utilization === undefined) {
        return escalateWith(
          bouncer === null
            ? `${cls}: no pgbouncer in front of the database; the pools must be resized by hand`
            : `${cls}: pgbouncer or utilization unknown; nothing is reloaded`,
          advice()
        )
      }
      const r = raisedPoolSize(cls, bouncer, utilization.available)
      if ("none" in r) return escalateWith(`${cls}: cannot raise default_pool_size: ${r.none}`, advice())
      const action = PgBouncerRaisePoolSize.action(target, {
        ...r,
        available: utilization.available,
        ...(options.iniPath !== undefined ? { iniPath: options.iniPath } : {})
      }, cls === "missing_pgbouncer" ? `${bouncer.waiting} client(s) waiting` : `utilization ${(utilization.ratio * 100).toFixed(0)}%`)
      return plan(`raise pgbouncer default_pool_size ${r.from} → ${r.to} and RELOAD`, Plan.act(action))
    }
    case "runaway_cron_fanout":
      return escalateWith(
        `runaway_cron_fanout: ${classification.reasons.join("; ")}; no automatic fix, cap the batch role's connections`,
        advice()
      )
    default:
      return escalateWith(`no plan for class ${classification.class}`, advice())
  }
}

/** The remediator (core `Remediator`). */
export const make = (options: Options = {}) =>
(classification: Classification.Classified, facts: Fact.Facts<PoolFacts>, signal: Signal.Signal): Effect.Effect<Plan.Plan> =>
  Effect.succeed(planOf(classification, facts, signal, options))
