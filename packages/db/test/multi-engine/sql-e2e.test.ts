/**
 * db.pool.multi-engine end to end on the real PostgreSQL 15 and MariaDB (scripts/services.sh):
 * the runbook in auto mode, server state asserted afterwards; observe and dry_run terminate
 * nothing and run no SET GLOBAL. Each test acts only on the sessions it opened.
 */
import { Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, afterEach, assert, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import * as MySql from "../../src/MySql"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import { closeAllMySql, openConnection, type RawConnection } from "../support/mysql"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { agentPg, alive, reportOf, signal, target } from "../pool/world"

const verifyOnce = { offsets: [0], description: "check once (test)" }

describeWithServices(["postgres"], "db.pool.multi-engine end to end (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())
  const world = () =>
    Testing.layer<any>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 }), PgCancelBackend.make({ killsPerMinuteCap: 20, graceMillis: 1_000 })] as any, checks: PoolMultiEngineRunbook.checks() as any }).pipe(
      Layer.provideMerge(agentPg(env))
    )
  const scenario = Effect.gen(function*() {
    const name = uniqueName("orders-api")
    const sessions = yield* Effect.promise(() => Promise.all(Array.from({ length: 3 }, () => openSession(appUrl, name))))
    yield* Effect.promise(() => Promise.all(sessions.map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))))
    yield* Effect.sleep("600 millis")
    const pids = new Set(sessions.map((s) => s.pid))
    const rb = PoolMultiEngineRunbook.make({
      stopBelowRatio: 0, // the shared server reads far below 70 %: every kill runs (the re-poll: multi-engine/repoll.test.ts)
      sessions: (s) => s.pg !== undefined && pids.has(s.pg.pid),
      thresholds: { idleInTxMs: 300 },
      pool: { timeout: "10 seconds" },
      verifySchedule: verifyOnce,
      defaultMode: "auto"
    })
    return { sessions, rb }
  })

  it.live("idle_in_transaction_leak (auto): the sessions idle in transaction are terminated", () =>
    Effect.gen(function*() {
      const { sessions, rb } = yield* scenario
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-pg")), { mode: "auto" }).pipe(Effect.provide(world())))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_transaction_leak")
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      for (const s of sessions) assert.isFalse(left.has(s.pid), `backend ${s.pid} was terminated`)
      const pm = r.postmortem as { engine: string; query_fingerprints: ReadonlyArray<{ fingerprint: string }> }
      assert.strictEqual(pm.engine, "postgres")
      assert.isAbove(pm.query_fingerprints.length, 0)
    }))

  it.live("long_running_query (auto): both statements over budget are cancelled; their sessions survive", () =>
    Effect.gen(function*() {
      const name = uniqueName("reports")
      const sessions = yield* Effect.promise(() => Promise.all(Array.from({ length: 2 }, () => openSession(appUrl, name))))
      const running = sessions.map((s) => s.q("SELECT pg_sleep(20)").then(() => "finished", (e: Error) => e.message))
      yield* Effect.sleep("800 millis")
      const pids = new Set(sessions.map((s) => s.pid))
      const rb = PoolMultiEngineRunbook.make({
        stopBelowRatio: 0, // the shared server reads far below 70 %: every kill runs (the re-poll: multi-engine/repoll.test.ts)
        sessions: (s) => s.pg !== undefined && pids.has(s.pg.pid),
        thresholds: { queryBudgetMs: 300 },
        pool: { timeout: "10 seconds" },
        verifySchedule: verifyOnce,
        defaultMode: "auto"
      })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-pg-long")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      const results = yield* Effect.promise(() => Promise.all(running))
      for (const m of results) assert.match(m, /canceling statement due to user request/)
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      for (const s of sessions) assert.isTrue(left.has(s.pid), "a cancel ends the statement, not the session")
    }).pipe(Effect.provide(world())), 60_000)

  it.live("kills_per_minute_cap across two runbooks on one database: six-class ends 12, multi-engine 8 of its 13, 5 denied", () =>
    Effect.gen(function*() {
      const name = uniqueName("orders-api")
      const sessions = yield* Effect.promise(() => Promise.all(Array.from({ length: 25 }, () => openSession(appUrl, name))))
      yield* Effect.promise(() => Promise.all(sessions.map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))))
      yield* Effect.sleep("600 millis")
      const first = new Set(sessions.slice(0, 12).map((s) => s.pid))
      const second = new Set(sessions.slice(12).map((s) => s.pid))
      const six = PoolSixClassRunbook.make({
        sessions: (s) => first.has(s.pid),
        diagnose: { trendSamples: 1, timeout: "10 seconds" },
        thresholds: { idleInTxMs: 300 },
        verifySchedule: verifyOnce,
        defaultMode: "auto"
      })
      const multi = PoolMultiEngineRunbook.make({
        stopBelowRatio: 0, // the shared server reads far below 70 %: every kill runs (the re-poll: multi-engine/repoll.test.ts)
        sessions: (s) => s.pg !== undefined && second.has(s.pg.pid),
        thresholds: { idleInTxMs: 300 },
        pool: { timeout: "10 seconds" },
        verifySchedule: verifyOnce,
        defaultMode: "auto"
      })
      const t = target("me-cap")
      // one incident per target per cooldown: without a cooldown the second runbook gets its own incident
      const a = reportOf(yield* Runbook.handle({ ...six, cooldown: Duration.zero }, signal(t), { mode: "auto" }))
      const b = reportOf(yield* Runbook.handle({ ...multi, cooldown: Duration.zero }, { ...signal(t), observedAt: Date.now() + 5 }, { mode: "auto" }))
      const applied = (r: typeof a) => r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "applied").length
      const denied = (r: typeof a) => r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "denied").length
      assert.strictEqual(applied(a), 12, `six-class: ${a.status}`)
      assert.strictEqual(applied(b), 8, `multi-engine: ${b.status} ${JSON.stringify(b.outcomes.map((o) => [o.kind, o.status]))}`)
      assert.strictEqual(denied(b), 5)
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      assert.strictEqual(sessions.filter((s) => !left.has(s.pid)).length, 20)
    }).pipe(Effect.provide(world())), 60_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.live(`${mode}: nothing is terminated`, () =>
      Effect.gen(function*() {
        const { sessions, rb } = yield* scenario
        yield* Runbook.handle(rb, signal(target(`me-pg-${mode}`)), { mode }).pipe(Effect.provide(world()))
        const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
        for (const s of sessions) assert.isTrue(left.has(s.pid), `backend ${s.pid} survived`)
      }))
  }
})

describeWithServices(["mariadb"], "db.pool.multi-engine end to end (real MariaDB)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const adminUrl = env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? ""
  const table = `bp_me_${process.pid}`
  afterEach(() => closeAllMySql())
  afterAll(async () => {
    const c = await openConnection(adminUrl)
    await c.q(`DROP TABLE IF EXISTS appdb.${table}`).catch(() => undefined)
    await closeAllMySql()
  })
  const world = (url: string) =>
    Testing.layer<MySql.MySql>({ handlers: [...PoolSixClassRunbook.mysqlHandlers({ killsPerMinuteCap: 20 }), ...PoolMultiEngineRunbook.mysqlHandlers()] as any, checks: PoolMultiEngineRunbook.mysqlChecks() as any }).pipe(
      Layer.provideMerge(MySql.layer({ url: Redacted.make(url), poolMax: 3 }))
    )
  const maxConnections = Effect.promise(async () => {
    const c = await openConnection(adminUrl)
    const rows = (await c.q("SELECT @@GLOBAL.max_connections AS v")) as Array<{ v: number }>
    return Number(rows[0]!.v)
  })
  const setMax = (v: number) => Effect.promise(async () => (await openConnection(adminUrl)).q(`SET GLOBAL max_connections = ${v}`))

  it.live("idle_in_transaction_leak (auto): KILL CONNECTION of each connection idle in transaction", () =>
    Effect.gen(function*() {
      const conns: Array<RawConnection> = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 3 }, async () => {
          const c = await openConnection(appUrl)
          await c.q(`CREATE TABLE IF NOT EXISTS appdb.${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
          await c.q("BEGIN")
          await c.q(`INSERT INTO appdb.${table} VALUES (${c.id}, 1)`)
          return c
        }))
      )
      yield* Effect.sleep("900 millis")
      const ids = new Set(conns.map((c) => c.id))
      const rb = PoolMultiEngineRunbook.makeMySql({ stopBelowRatio: 0, sessions: (s) => s.pg !== undefined && ids.has(s.pg.pid), thresholds: { idleInTxMs: 500 }, pool: { timeout: "10 seconds" }, verifySchedule: verifyOnce, defaultMode: "auto" })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-my")), { mode: "auto" }).pipe(Effect.provide(world(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""))))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_transaction_leak")
      for (const c of conns) assert.isFalse(yield* Effect.promise(() => c.q("SELECT 1").then(() => true, () => false)), `connection ${c.id} was killed`)
    }))

  it.live("undersized_pool: auto runs SET GLOBAL max_connections ⌊1.2×⌋ and proposes the config file; dry_run and observe run no SET GLOBAL", () =>
    Effect.gen(function*() {
      const before = yield* maxConnections
      yield* Effect.addFinalizer(() => setMax(before).pipe(Effect.ignore))
      const rb = PoolMultiEngineRunbook.makeMySql({ stopBelowRatio: 0, sessions: () => false, thresholds: { undersizedRatio: 0 }, pool: { timeout: "10 seconds" }, verifySchedule: verifyOnce, defaultMode: "auto" })
      for (const mode of ["observe", "dry_run"] as const) {
        yield* Runbook.handle(rb, signal(target(`me-my-${mode}`)), { mode }).pipe(Effect.provide(world(adminUrl)))
        assert.strictEqual(yield* maxConnections, before, `${mode} ran no SET GLOBAL`)
      }
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-my-ceiling")), { mode: "auto" }).pipe(Effect.provide(world(adminUrl))))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "undersized_pool")
      assert.strictEqual(yield* maxConnections, Math.floor(before * 1.2))
      assert.include(JSON.stringify(r.plan), `max_connections = ${Math.floor(before * 1.2)}`)
    }).pipe(Effect.scoped))
})
