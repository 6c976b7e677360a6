/**
 * Lock chains on the real MariaDB 10.11 (`information_schema.INNODB_LOCK_WAITS`, what
 * `sys.innodb_lock_waits` reads there): a long UPDATE holds a row lock, two UPDATEs of the same
 * row queue behind it. All three are over the budget; only the holder runs, so exactly one
 * `KILL QUERY` is sent, and the queue goes through. And the classic metadata-lock chain (a report,
 * an ALTER waiting for its metadata lock, reads queued behind the ALTER): the waiters' blockers
 * are not reported by InnoDB, so they count as waits of unknown own time and only the report is
 * killed.
 */
import { Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as MySql from "../../src/MySql"
import * as MySqlPoolDiagnoser from "../../src/diagnosers/MySqlPoolDiagnoser"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import { closeAllMySql, openConnection } from "../support/mysql"
import { describeWithServices } from "../support/services"
import { reportOf, signal, target } from "./world"

describeWithServices(["mariadb"], "db.pool.six-class lock chains (real MariaDB)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const table = `appdb.bp_chain_${process.pid}`
  afterEach(() => closeAllMySql())
  afterAll(async () => {
    const c = await openConnection(env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? "")
    await c.q(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    await closeAllMySql()
  })
  const agent = MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 3 })
  const world = Testing.layer<MySql.MySql>({ handlers: [...PoolSixClassRunbook.mysqlHandlers({ killsPerMinuteCap: 20 })] as any }).pipe(Layer.provideMerge(agent))

  it.live("row-lock chain: one KILL QUERY (the holder), the waiting UPDATEs go through", () =>
    Effect.gen(function*() {
      const [holder, w1, w2] = yield* Effect.promise(() => Promise.all([openConnection(appUrl), openConnection(appUrl), openConnection(appUrl)]))
      yield* Effect.promise(async () => {
        await holder!.q(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
        await holder!.q(`REPLACE INTO ${table} VALUES (1, 0)`)
      })
      const held = holder!.q(`UPDATE ${table} SET v = v + SLEEP(30) WHERE id = 1`).then(() => "done", (e: any) => String(e.errno))
      yield* Effect.sleep("200 millis")
      const queue = [w1!, w2!].map((w) => w.q(`UPDATE ${table} SET v = 5 WHERE id = 1`).then(() => "done", (e: any) => String(e.errno)))
      yield* Effect.sleep("1000 millis")

      const waits = yield* MySqlPoolDiagnoser.lockWaits.pipe(Effect.provide(agent))
      const byWaiter = MySqlPoolDiagnoser.waitsByConnection(waits)
      // InnoDB reports a waiter blocked by every conflicting lock ahead of it, granted or queued:
      // the second UPDATE waits on the holder and on the first
      for (const w of [w1!, w2!]) assert.include(byWaiter.get(w.id)?.blockers ?? [], holder!.id)
      assert.isFalse(byWaiter.has(holder!.id))
      assert.isAbove(byWaiter.get(w1!.id)?.waitMs ?? 0, 500)

      const scope = new Set([holder!.id, w1!.id, w2!.id])
      const rb = PoolSixClassRunbook.makeMySql({
        sessions: (s) => scope.has(s.pid),
        diagnose: { trendSamples: 2, trendInterval: "150 millis", timeout: "10 seconds" },
        thresholds: { idleInTxMs: 60_000, queryBudgetMs: 500 },
        verifySchedule: { offsets: [0, 3_000], description: "check, then retry once at 3 s (test)" },
        defaultMode: "auto"
      })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("maria-chain")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status, o.result?.["id"]]), [["mysql.killQuery", "applied", holder!.id]])
      assert.match(r.plan!.summary, /2 waiter\(s\) over budget left alone/)
      assert.strictEqual(yield* Effect.promise(() => held), "1317") // ER_QUERY_INTERRUPTED: rolled back, lock released
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(queue)), ["done", "done"])
    }).pipe(Effect.provide(world)), 60_000)

  it.live("metadata-lock chain (report ← ALTER ← reads): one KILL QUERY (the report), the ALTER and the reads go through", () =>
    Effect.gen(function*() {
      const mdl = `${table}_mdl`
      const [report, migration, r1, r2] = yield* Effect.promise(() => Promise.all([openConnection(appUrl), openConnection(appUrl), openConnection(appUrl), openConnection(appUrl)]))
      yield* Effect.promise(async () => {
        await report!.q(`CREATE TABLE IF NOT EXISTS ${mdl} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
        await report!.q(`REPLACE INTO ${mdl} VALUES (1, 0)`)
      })
      const reporting = report!.q(`SELECT COUNT(*), SLEEP(30) FROM ${mdl}`).then(() => "done", (e: any) => String(e.errno))
      yield* Effect.sleep("200 millis")
      const altering = migration!.q(`ALTER TABLE ${mdl} ADD COLUMN note VARCHAR(10)`).then(() => "done", (e: any) => String(e.errno))
      yield* Effect.sleep("200 millis")
      const reads = [r1!, r2!].map((c) => c.q(`SELECT COUNT(*) FROM ${mdl}`).then(() => "done", (e: any) => String(e.errno)))
      yield* Effect.sleep("1000 millis")
      const scope = new Set([report!.id, migration!.id, r1!.id, r2!.id])
      const rb = PoolSixClassRunbook.makeMySql({
        sessions: (s) => scope.has(s.pid),
        diagnose: { trendSamples: 2, trendInterval: "150 millis", timeout: "10 seconds" },
        thresholds: { idleInTxMs: 60_000, queryBudgetMs: 500 },
        verifySchedule: { offsets: [0, 3_000], description: "check, then retry once at 3 s (test)" },
        defaultMode: "auto"
      })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("maria-mdl")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status, o.result?.["id"]]), [["mysql.killQuery", "applied", report!.id]])
      assert.match(r.plan!.summary, /3 waiter\(s\) over budget left alone/)
      const ended = yield* Effect.promise(() => reporting)
      assert.isTrue(ended === "1317" || ended === "done", ended) // MariaDB ends an interrupted SLEEP() early
      assert.strictEqual(yield* Effect.promise(() => altering), "done")
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(reads)), ["done", "done"])
      yield* Effect.promise(() => report!.q(`DROP TABLE IF EXISTS ${mdl}`))
    }).pipe(Effect.provide(world)), 60_000)
})
