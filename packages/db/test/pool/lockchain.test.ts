/**
 * "Cancel the blocker, not the queue", end to end on the real PostgreSQL 15: a long report holds
 * a lock on a table, an `ALTER TABLE` waits on it, and request handlers' reads queue behind the
 * `ALTER`. Every statement is over the budget, but only the report runs: the runbook cancels
 * exactly one statement (the report's), the `ALTER` and the reads go through, the handlers
 * release their connections and utilization falls.
 */
import { Plan, Runbook } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Postgres from "../../src/Postgres"
import * as PgActivity from "../../src/probes/PgActivity"
import * as Utilization from "../../src/Utilization"
import { closeAll, eventually, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { agentPg, alive, pgWorld, reportOf, runbook, signal, target } from "./world"

describeWithServices(["postgres"], "db.pool.six-class lock chains (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())

  const open = (n: number, name: string) => Effect.promise(() => Promise.all(Array.from({ length: n }, () => openSession(appUrl, name))))
  const settled = (p: Promise<unknown>) => p.then(() => "done", (e: any) => String(e.code ?? e.message))

  it.live("report ← ALTER ← 8 reads: exactly one cancel (the report), the chain drains, utilization falls", () =>
    Effect.gen(function*() {
      const name = uniqueName("lockchain")
      const table = `bp_chain_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
      const [owner] = yield* open(1, `${name}-setup`)
      yield* Effect.promise(() => owner!.q(`CREATE TABLE ${table} (id int PRIMARY KEY, v int); INSERT INTO ${table} SELECT g, g FROM generate_series(1, 100) g`))
      const [report] = yield* open(1, `${name}-report`)
      const [migration] = yield* open(1, `${name}-migrate`)
      const handlers = yield* open(8, `${name}-api`)
      // the report holds AccessShareLock for the whole statement (autocommit: a cancel ends its transaction)
      const reportRun = settled(report!.q(`SELECT count(*), pg_sleep(60) FROM ${table}`))
      yield* Effect.sleep("150 millis")
      const alterRun = settled(migration!.q(`ALTER TABLE ${table} ADD COLUMN note text`))
      yield* Effect.sleep("150 millis")
      // request handlers: one read each, then the connection is released (closed)
      const reads = handlers.map((h) => settled(h.q(`SELECT count(*) FROM ${table}`).then(() => h.client.end())))
      const all: ReadonlyArray<RawSession> = [report!, migration!, ...handlers]
      yield* Effect.sleep("700 millis") // everyone is now over the test budget of 300 ms

      // the chain as the probe reads it: the report blocks the ALTER, the ALTER blocks the reads
      const rows = yield* PgActivity.sessions.pipe(Effect.provide(agentPg(env)))
      const byPid = new Map(rows.map((r) => [r.pid, r]))
      assert.deepStrictEqual(byPid.get(report!.pid)?.blocking_pids, [])
      assert.deepStrictEqual(byPid.get(migration!.pid)?.blocking_pids, [report!.pid])
      for (const h of handlers) assert.deepStrictEqual(byPid.get(h.pid)?.blocking_pids, [migration!.pid])
      for (const h of handlers) assert.isAbove(byPid.get(h.pid)?.lock_wait_ms ?? 0, 500, "the reads have waited since they began")
      // read through the runbook's own agent pool (3 connections at most; it may open 2 more during the run)
      const before = yield* Utilization.postgres
      // this test's own sessions (other test files share the server: its totals move with them)
      const mine = () => Effect.promise(async () => (await owner!.q(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1`, [`${name}-%`])).rows[0].n as number)
      const mineBefore = yield* mine()
      assert.strictEqual(mineBefore, 11, "report, migration, 8 handlers and the setup session")

      const r = reportOf(yield* Runbook.handle(runbook(new Set(all.map((s) => s.pid))), signal(target("lockchain")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      // exactly one signal: the report's cancel
      const planned = Plan.actions(r.plan!.root).map((a) => `${a.action.kind}:${a.action.params["pid"]}`)
      assert.deepStrictEqual(planned, [`pg.cancelBackend:${report!.pid}`, `pg.terminateBackend:${report!.pid}`])
      assert.match(r.plan!.summary, /9 waiter\(s\) over budget left alone/)
      const signalled = r.outcomes.filter((o) => o.status === "applied")
      assert.deepStrictEqual(signalled.map((o) => [o.kind, o.result?.["pid"]]), [["pg.cancelBackend", report!.pid]])

      // the chain drains: the report was cancelled, the ALTER and every read went through
      assert.strictEqual(yield* Effect.promise(() => reportRun), "57014")
      assert.strictEqual(yield* Effect.promise(() => alterRun), "done")
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(reads)), Array(8).fill("done"))
      const cols = yield* Effect.promise(() => owner!.q(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = $1 AND column_name = 'note'`, [table]))
      assert.strictEqual(cols.rows[0].n, 1)
      // the handlers released their connections; the report's and the migration's sessions live on
      yield* Effect.promise(() => eventually(async () => (await alive(env, handlers.map((h) => h.pid))).size === 0, 5_000, "handlers to disconnect"))
      const left = yield* Effect.promise(() => alive(env, all.map((s) => s.pid)))
      assert.deepStrictEqual([...left].sort(), [report!.pid, migration!.pid].sort())
      // utilization falls by the 8 released handlers: this test's sessions go from 11 to 3 (the
      // server-wide ratio is also read, but other test files running on the server move it)
      assert.strictEqual(yield* mine(), 3, "report, migration and the setup session")
      const after = yield* Utilization.postgres
      assert.isAbove(before.clientBackends, 0)
      assert.isAbove(after.available, 0)
      assert.strictEqual(r.status, "recovered")
      yield* Effect.promise(() => owner!.q(`DROP TABLE ${table}`))
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  it.live("a blocker under budget: nothing is cancelled, the waiters are left alone and the chain is escalated", () =>
    Effect.gen(function*() {
      const name = uniqueName("lockchain-young")
      const table = `bp_chain_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
      const [holder] = yield* open(1, `${name}-holder`)
      yield* Effect.promise(() => holder!.q(`CREATE TABLE ${table} (id int)`))
      // the holder took its lock long ago, in a transaction, and now runs a fresh, short statement
      yield* Effect.promise(() => holder!.q(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`))
      const waiters = yield* open(3, `${name}-api`)
      const runs = waiters.map((w) => settled(w.q(`SELECT count(*) FROM ${table}`)))
      yield* Effect.sleep("700 millis")
      const holderRun = settled(holder!.q("SELECT pg_sleep(1.5)"))
      yield* Effect.sleep("50 millis")
      const all = [holder!, ...waiters]
      const r = reportOf(yield* Runbook.handle(
        runbook(new Set(all.map((s) => s.pid)), { thresholds: { queryBudgetMs: 500, idleInTxMs: 60_000 } }),
        signal(target("lockchain-young")),
        { mode: "auto" }
      ))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      assert.deepStrictEqual(Plan.actions(r.plan!.root), [])
      assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied"), [])
      assert.include(r.escalation?.reason ?? "", "3 waiter(s) over budget left alone")
      const left = yield* Effect.promise(() => alive(env, all.map((s) => s.pid)))
      assert.strictEqual(left.size, 4)
      assert.strictEqual(yield* Effect.promise(() => holderRun), "done")
      yield* Effect.promise(() => holder!.q("COMMIT"))
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(runs)), ["done", "done", "done"]) // never cancelled
      yield* Effect.promise(() => holder!.q(`DROP TABLE ${table}`))
    }).pipe(Effect.provide(pgWorld(env))), 60_000)
})
