/**
 * The remediator of `db.pool.multi-engine`: a Plan per class and engine.
 *
 * | class | PostgreSQL | MySQL / MariaDB | MongoDB |
 * |---|---|---|---|
 * | idle_in_transaction_leak | `pg.terminateBackend`, longest idle first | `mysql.killConnection` | `mongo.killSessions` |
 * | long_running_query | `pg.cancelBackend`, `pg.terminateBackend` if the cancel fails | `mysql.killQuery`, then `mysql.killConnection` | `mongo.killOp` |
 * | app_side_leak | `k8s.rollout-restart.requested` hand-off of the owning workload (else escalate) | same | same |
 * | traffic_spike, undersized_pool | `pgbouncer.raisePoolSize` (with pgbouncer), else a ChangeProposal (max_connections / pool size) | `mysql.setMaxConnections` + a config-file ChangeProposal | a ChangeProposal for the driver's `maxPoolSize` |
 *
 * Every kill step is `capped` (a `kills_per_minute_cap` denial leaves the rest running and is
 * escalated), and the kills run inside `Plan.until`: the pool's utilization is re-polled before
 * each and after the last, so none goes once it is below the bar (`stopBelowRatio`). Kills never name a superuser, protected or out-of-scope session. The new ceiling is
 * ⌊1.2 × current⌋ ("within 20 % headroom"); the runbook's `Guardrail.ceiling.multipleOfBaseline`
 * holds it to 1.2× the value at lease time, so two incidents never compound.
 *
 * @since 0.1.0
 */
import { Annotations, Plan, TargetRef } from "@byteport/core"
import type { Classification, Fact, Signal } from "@byteport/core"
import { Effect, Option } from "effect"
import * as MySqlKillConnection from "../../actions/MySqlKillConnection"
import * as MySqlKillQuery from "../../actions/MySqlKillQuery"
import * as PgBouncerRaisePoolSize from "../../actions/PgBouncerRaisePoolSize"
import * as PgCancelBackend from "../../actions/PgCancelBackend"
import * as PgTerminateBackend from "../../actions/PgTerminateBackend"
import { isProtectedApplication } from "../../actions/SessionGuardrails"
import * as MongoKill from "../../mongo/MongoKill"
import * as PoolRemediator from "../../remediators/PoolRemediator"
import * as SaturationRemediator from "../../remediators/SaturationRemediator"
import * as UtilizationBelow from "../../verifiers/UtilizationBelow"
import * as PgKill from "../../sessions/PgKill"
import * as MultiEngineClassifier from "./Classifier"
import type { EngineSession, MultiEngineFacts } from "./Facts"
import * as MySqlSetMaxConnections from "./MySqlSetMaxConnections"

/** The runbook id the plans name. */
export const RUNBOOK_ID = "db.pool.multi-engine"

/** "Within 20 % headroom": the new ceiling is at most this multiple of the current one. */
export const CEILING_FACTOR = 1.2

/** Options. */
export interface Options extends Pick<PoolRemediator.Options, "protectedApplications" | "protectedUsers"> {
  readonly thresholds?: Partial<MultiEngineClassifier.Thresholds>
  /** Which sessions the runbook may act on (default every client session). */
  readonly sessions?: (s: EngineSession) => boolean
  /** application → `k8s.workload` ref (`<cluster>/<namespace>/<Kind>/<name>`) for the app-side-leak restart. */
  readonly workloads?: Readonly<Record<string, string>>
  /** Cluster name used when the workload comes from the `AnnotationSource` (client address → Pod → owner). */
  readonly cluster?: string
  /** The config file the MySQL / MariaDB ChangeProposal edits (default `/etc/mysql/conf.d/byteport.cnf`). */
  readonly mysqlConfigPath?: string
  /** pgbouncer.ini (default the PgBouncer service's). */
  readonly iniPath?: string
  /**
   * The kills (idle-in-transaction leak, long-running query) run inside `Plan.until`: the
   * engine's utilization is re-polled (`UtilizationBelow.checkRef`) before each kill and after
   * the last, and no further session goes once it is below this share (default: the verifier's
   * bar, `verifyMaxRatio`, else 0.70). Register the checks (`PoolMultiEngineRunbook.checks()` …).
   */
  readonly stopBelowRatio?: number
  /** The verifier's bar (the default of `stopBelowRatio`). */
  readonly verifyMaxRatio?: number
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)
const secs = (ms: number) => `${Math.round(ms / 1000)} s`

/** Pure: whether the plan may name a session. */
export const eligible = (options: Options) => (s: EngineSession): boolean => {
  const apps = options.protectedApplications ?? PgKill.DEFAULT_PROTECTED_APPLICATIONS
  const users = options.protectedUsers ?? []
  if (s.pg !== undefined && !PoolRemediator.eligible(s.engine, {
    ...(options.protectedApplications ? { protectedApplications: options.protectedApplications } : {}),
    ...(options.protectedUsers ? { protectedUsers: options.protectedUsers } : {})
  })(s.pg)) return false
  return !s.superuser && !isProtectedApplication(s.application, apps) && !users.includes(s.user ?? "") && (options.sessions === undefined || options.sessions(s))
}

/** Pure: the raised ceiling "within 20 % headroom": ⌊1.2 × from⌋ (no raise when that is not above `from`: a pool under 5). */
export const raisedCeiling = (from: number): number => Math.floor(from * CEILING_FACTOR + 1e-9)

const noRoom = (what: string, from: number) =>
  `no room within 20 % headroom: ${what} ${from} → ⌊1.2 × ${from}⌋ = ${raisedCeiling(from)}`

const terminate = (target: TargetRef.TargetRef, s: EngineSession, why: string) =>
  s.engine === "mongodb"
    ? s.mongo !== undefined ? MongoKill.killSessionsAction(target, s.mongo, why) : undefined
    : s.pg === undefined ? undefined : s.engine === "mysql" ? MySqlKillConnection.action(target, s.pg, why) : PgTerminateBackend.action(target, s.pg, why)

const stopStatement = (target: TargetRef.TargetRef, s: EngineSession, why: string): Plan.Step | undefined => {
  if (s.engine === "mongodb") {
    const a = s.mongo !== undefined ? MongoKill.killOpAction(target, s.mongo, why) : undefined
    return a === undefined ? undefined : Plan.act(a)
  }
  if (s.pg === undefined) return undefined
  const c = s.engine === "mysql" ? MySqlKillQuery.action(target, s.pg, why) : PgCancelBackend.action(target, s.pg, why)
  const k = s.engine === "mysql" ? MySqlKillConnection.action(target, s.pg, `${why}; the cancel did not stop it`) : PgTerminateBackend.action(target, s.pg, `${why}; the cancel did not stop it`, { statement: true })
  if (c === undefined || k === undefined) return undefined
  return Plan.fallback(Plan.act(c), Plan.act(k), { on: ["failed"] })
}

/** The workload of an application: configured, else the AnnotationSource (client address → Pod → owner). */
const workloadOf = (application: string, sessions: ReadonlyArray<EngineSession>, options: Options) =>
  Effect.gen(function*() {
    const configured = options.workloads?.[application]
    if (configured !== undefined) return TargetRef.make("k8s.workload", configured)
    const source = yield* Effect.serviceOption(Annotations.AnnotationSource)
    if (Option.isNone(source)) return null
    for (const s of sessions.filter((x) => x.application === application && x.client !== null)) {
      const w = yield* source.value.workloadOf({ address: s.client!, applicationName: application }).pipe(Effect.orElseSucceed(() => undefined))
      if (w !== undefined && w.namespace !== undefined) return TargetRef.make("k8s.workload", `${options.cluster ?? "default"}/${w.namespace}/${w.kind}/${w.name}`)
    }
    return null
  })

/** The plan for a classified incident. */
export const planOf = (
  classification: Classification.Classified,
  facts: Fact.Facts<MultiEngineFacts>,
  signal: Signal.Signal,
  options: Options = {}
): Effect.Effect<Plan.Plan> =>
  Effect.gen(function*() {
    const t = { ...MultiEngineClassifier.DEFAULT_THRESHOLDS, ...options.thresholds }
    const target = signal.target
    const engine = known(facts.engine) ?? "postgres"
    const all = known(facts.sessions) ?? []
    const ok = eligible(options)
    const plan = (summary: string, root: Plan.Step) => Plan.make(RUNBOOK_ID, classification.class, summary, root)
    const escalate = (reason: string, steps: ReadonlyArray<string>) => plan(reason, Plan.escalate(reason, steps))
    const left = (chosen: ReadonlyArray<EngineSession>) => {
      const n = chosen.filter((s) => !ok(s)).length
      return n === 0 ? "" : ` (${n} superuser/protected/out-of-scope session(s) left alone)`
    }
    // kills re-poll the pool between them: none goes once it is below the bar
    const untilBelow = (steps: ReadonlyArray<Plan.Step>) =>
      SaturationRemediator.untilBelow(UtilizationBelow.checkRef(engine, target, options.stopBelowRatio ?? options.verifyMaxRatio ?? UtilizationBelow.DEFAULT_MAX_RATIO), steps)
    switch (classification.class as MultiEngineClassifier.MultiEngineClass) {
      case "idle_in_transaction_leak": {
        const idle = MultiEngineClassifier.idleInTransaction(all, t.idleInTxMs)
        const steps = idle.filter(ok).flatMap((s) => {
          const a = terminate(target, s, `idle in a transaction for ${secs(s.idleMs)}`)
          return a === undefined ? [] : [PoolRemediator.capped(Plan.act(a))]
        })
        if (steps.length === 0) return escalate(`no eligible idle-in-transaction session to end${left(idle)}`, ["find the application holding transactions open"])
        return plan(`${engine === "mongodb" ? "killSessions" : "terminate"} ${steps.length} session(s) idle in a transaction over ${secs(t.idleInTxMs)}${left(idle)}`, untilBelow(steps))
      }
      case "long_running_query": {
        const long = MultiEngineClassifier.longRunning(all, t.queryBudgetMs)
        const steps = long.filter(ok).flatMap((s) => {
          const step = stopStatement(target, s, `running for ${secs(s.runningMs)} (budget ${secs(t.queryBudgetMs)})`)
          return step === undefined ? [] : [PoolRemediator.capped(step)]
        })
        if (steps.length === 0) return escalate(`no eligible long-running statement to stop${left(long)}`, ["review the long-running statements by hand"])
        return plan(`${engine === "mongodb" ? "killOp" : "cancel (terminate if the cancel fails)"} ${steps.length} statement(s) over ${secs(t.queryBudgetMs)}${left(long)}`, untilBelow(steps))
      }
      case "app_side_leak": {
        const app = String((classification.evidence as { application?: unknown } | undefined)?.["application"] ?? "")
        const workload = yield* workloadOf(app, all, options)
        if (workload === null) {
          return escalate(`application ${JSON.stringify(app)} leaks connections and no workload is known to restart`, [
            `restart the service that runs ${JSON.stringify(app)}`,
            "map the application to its workload (options.workloads) or provide an AnnotationSource"
          ])
        }
        return plan(`hand off a rollout restart of ${workload.ref} (application ${JSON.stringify(app)} leaks connections)`, Plan.handOff({
          type: PoolRemediator.ROLLOUT_RESTART_REQUESTED,
          target: workload,
          observedAt: signal.observedAt,
          evidence: { reason: `application ${app} leaks idle connections`, database: TargetRef.key(target), application: app }
        }, "restart the leaking workload to drop its leaked connection handles"))
      }
      case "traffic_spike":
      case "undersized_pool": {
        const ceiling = known(facts.ceiling)
        if (ceiling === undefined) return escalate("the pool ceiling is unknown", ["size the pool by hand"])
        const why = classification.class === "traffic_spike" ? "traffic spike" : "undersized pool"
        if (ceiling.kind === "pgbouncer") {
          const to = raisedCeiling(ceiling.defaultPoolSize)
          if (to <= ceiling.defaultPoolSize) return escalate(noRoom("default_pool_size", ceiling.defaultPoolSize), ["raise the pool by hand, or add a replica"])
          if (to * ceiling.pools > ceiling.capacity) return escalate(`no room: ${ceiling.pools} pool(s) of ${to} would pass PostgreSQL's ${ceiling.capacity} connections`, ["raise max_connections first, or add a replica"])
          return plan(`raise pgbouncer default_pool_size ${ceiling.defaultPoolSize} → ${to} (${why})`, Plan.act(PgBouncerRaisePoolSize.action(target, {
            from: ceiling.defaultPoolSize,
            to,
            projectedTotal: to * ceiling.pools,
            available: ceiling.capacity,
            ...(options.iniPath !== undefined ? { iniPath: options.iniPath } : {})
          }, why)))
        }
        if (ceiling.kind === "max_connections" && ceiling.engine === "mysql") {
          const to = raisedCeiling(ceiling.value)
          if (to <= ceiling.value) return escalate(noRoom("max_connections", ceiling.value), ["raise max_connections by hand"])
          const path = options.mysqlConfigPath ?? "/etc/mysql/conf.d/byteport.cnf"
          return plan(`SET GLOBAL max_connections ${ceiling.value} → ${to} and propose it in ${path} (${why})`, Plan.seq(
            Plan.act(MySqlSetMaxConnections.action(target, ceiling.value, to, why)),
            Plan.propose({
              title: `max_connections ${ceiling.value} → ${to} on ${target.ref}`,
              body: `BytePort raised max_connections at run time (SET GLOBAL, lost at restart) after a ${why}. Make it permanent:\n\n[mysqld]\nmax_connections = ${to}`,
              target,
              files: [{ path, description: "the server's max_connections", after: `[mysqld]\nmax_connections = ${to}\n` }]
            })
          ))
        }
        if (ceiling.kind === "max_connections") {
          const to = Math.max(ceiling.value + 1, raisedCeiling(ceiling.value))
          return plan(`propose max_connections ${ceiling.value} → ${to} (no pgbouncer; ${why})`, Plan.propose({
            title: `PostgreSQL max_connections ${ceiling.value} → ${to}, or put pgbouncer in front of ${target.ref}`,
            body: `The ${why} on ${target.ref} reached ${(known(facts.utilization)?.ratio ?? 0) * 100}% of its connections. Without a pooler, raise max_connections (restart needed) within 20 % headroom, or add pgbouncer / PgCat.`,
            target,
            files: [{ path: "postgresql.conf", description: "max_connections", after: `max_connections = ${to}\n` }]
          }))
        }
        const from = ceiling.maxPoolSize
        const to = from === null ? null : Math.max(from + 1, raisedCeiling(from))
        return plan(`propose the driver's maxPoolSize ${from ?? "?"} → ${to ?? "?"} (${why})`, Plan.propose({
          title: `MongoDB maxPoolSize ${from ?? "(driver default 100)"} → ${to ?? "+20 %"} for ${target.ref}`,
          body: `The ${why} on ${target.ref} used ${known(facts.utilization)?.connections ?? "?"} of ${ceiling.maxIncomingConnections} connections. Raise the application's maxPoolSize within 20 % headroom, never past net.maxIncomingConnections (${ceiling.maxIncomingConnections}).`,
          target,
          files: [{ path: "connection string", description: "maxPoolSize", after: `maxPoolSize=${to ?? "<+20 %>"}` }]
        }))
      }
    }
    return escalate(`no plan for class ${classification.class}`, [])
  })
