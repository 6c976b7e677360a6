/**
 * The world of the db.pool.six-class end-to-end tests: the agent's services over the real
 * servers, the runbook scoped to the sessions a test opened (the servers are shared by
 * concurrent test runs, so a test only ever acts on its own sessions), and a recording
 * implementation of the rollout restart behind core's hand-off contract (a Runbook owning
 * `k8s.rollout-restart.requested`).
 */
import { Action, Classifier, Diagnoser, type IncidentReport, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import * as PgBouncer from "../../src/PgBouncer"
import * as Postgres from "../../src/Postgres"
import * as PgBouncerRaisePoolSize from "../../src/actions/PgBouncerRaisePoolSize"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"

/** Test env record. */
export type Env = Readonly<Record<string, string>>

/** A database target of its own per test (its own kill budget). */
export const target = (label: string) => TargetRef.make("database", `test/${label}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`)

/** A pool-exhaustion signal. */
export const signal = (t: TargetRef.TargetRef, evidence: Signal.Signal["evidence"] = {}): Signal.Signal => ({
  type: "db.pool.exhaustion",
  target: t,
  observedAt: Date.now(),
  evidence
})

/** The agent's PostgreSQL service (byteport_agent: pg_monitor + pg_signal_backend). */
export const agentPg = (env: Env) => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 3 })

/** The pgbouncer admin console, with the shared ini. */
export const bouncer = (env: Env) =>
  PgBouncer.layer({ adminUrl: Redacted.make(env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? ""), iniPath: env.BYTEPORT_TEST_PGBOUNCER_INI ?? "" })

/** The rollout-restart implementation the hand-off reaches in tests: records what it received. */
export const restarter = () => {
  const handler = Testing.recordingHandler("k8s.rolloutRestart")
  const runbook = Runbook.make<{ readonly workload: string }>({
    id: "test.k8s.rollout-restart",
    signals: ["k8s.rollout-restart.requested"],
    diagnose: Diagnoser.make({ workload: Diagnoser.probe("workload", (s) => Effect.succeed(s.target.ref)) }),
    classify: Classifier.firstMatch([
      Classifier.rule<{ readonly workload: string }>()({ class: "restart_requested", confidence: 1, needs: ["workload"], when: () => true })
    ]),
    remediate: (_c, _f, s) =>
      Effect.succeed(Plan.make("test.k8s.rollout-restart", "restart_requested", `restart ${s.target.ref}`, Plan.act(Action.make({
        kind: "k8s.rolloutRestart",
        target: s.target,
        params: { reason: String(s.evidence["reason"] ?? "") },
        description: `rollout restart ${s.target.ref}`
      })))),
    defaultMode: "auto"
  })
  return { handler, runbook }
}

/** The test services: core's test layer with the db handlers (cap and cancel grace as given) over the agent's PostgreSQL. */
export const pgWorld = (env: Env, options: { readonly cap?: number; readonly withBouncer?: boolean; readonly extra?: ReadonlyArray<Testing.RecordingHandler> } = {}) => {
  const guard = { killsPerMinuteCap: options.cap ?? 20, graceMillis: 1_000 }
  const handlers = [
    PgTerminateBackend.make(guard),
    PgCancelBackend.make(guard),
    ...(options.withBouncer ? [PgBouncerRaisePoolSize.make()] : []),
    ...(options.extra ?? [])
  ]
  const deps = options.withBouncer ? Layer.mergeAll(agentPg(env), bouncer(env)) : agentPg(env)
  return Testing.layer<any>({ handlers: handlers as any }).pipe(Layer.provideMerge(deps as Layer.Layer<Postgres.Postgres | PgBouncer.PgBouncer, any>))
}

/** The runbook scoped to a set of pids, with quick diagnosis and verification for tests. */
export const runbook = (scope: { readonly has: (pid: number) => boolean }, options: PoolSixClassRunbook.Options = {}) =>
  PoolSixClassRunbook.make({
    sessions: (s) => scope.has(s.pid),
    diagnose: { trendSamples: 2, trendInterval: "50 millis", timeout: "10 seconds" },
    verifySchedule: { offsets: [0, 3_000], description: "check, then retry once at 3 s (test)" },
    defaultMode: "auto",
    ...options,
    thresholds: { idleInTxMs: 300, queryBudgetMs: 300, ...options.thresholds }
  })

/** Reads which of the pids still have a backend (as the superuser, so nothing is hidden). */
export const alive = async (env: Env, pids: ReadonlyArray<number>): Promise<Set<number>> => {
  const c = new pg.Client({ connectionString: env.BYTEPORT_TEST_PG_SUPER_URL ?? "", application_name: "bp-pool-test-observer" })
  await c.connect()
  try {
    const r = await c.query("SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])", [[...pids]])
    return new Set(r.rows.map((x) => x.pid as number))
  } finally {
    await c.end()
  }
}

/** Whether a report (not an approval pause). */
export const reportOf = (r: Runbook.HandleResult): IncidentReport.IncidentReport => {
  if (Runbook.isAwaitingApproval(r)) throw new Error(`unexpected approval pause: ${r.reason}`)
  return r
}

/** Ends the given backends (as the superuser): cleanup of scenario sessions still running a statement. */
export const terminateAll = async (env: Env, pids: ReadonlyArray<number>): Promise<void> => {
  if (pids.length === 0) return
  const c = new pg.Client({ connectionString: env.BYTEPORT_TEST_PG_SUPER_URL ?? "", application_name: "bp-pool-test-observer" })
  await c.connect()
  try {
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])", [[...pids]])
  } finally {
    await c.end()
  }
}
