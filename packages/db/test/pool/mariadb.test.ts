/**
 * db.pool.six-class end to end on the real MariaDB 10.11, where the classes apply: idle in
 * transaction (Sleep with an open InnoDB transaction) and long-running statements, with the
 * same rules as PostgreSQL, a leak after a deploy handed off for a rollout restart — `mysql.killConnection` / `mysql.killQuery`, never a superuser
 * (SUPER / CONNECTION_ADMIN), the kill cap, a connection that committed between plan and kill
 * surviving. Every test acts only on the connections it opened.
 */
import { IncidentBus, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, afterEach, assert, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import * as MySql from "../../src/MySql"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import { closeAllMySql, openConnection, type RawConnection } from "../support/mysql"
import { describeWithServices } from "../support/services"
import { reportOf, restarter, signal, target } from "./world"

describeWithServices(["mariadb"], "db.pool.six-class end to end (real MariaDB)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const adminUrl = env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? ""
  const table = `bp_pool_${process.pid}`
  afterEach(() => closeAllMySql())
  afterAll(async () => {
    const c = await openConnection(adminUrl)
    await c.q(`DROP TABLE IF EXISTS appdb.${table}`).catch(() => undefined)
    await closeAllMySql()
  })

  const world = (cap = 20, extra: ReadonlyArray<Testing.RecordingHandler> = []) =>
    Testing.layer<MySql.MySql>({ handlers: [...PoolSixClassRunbook.mysqlHandlers({ killsPerMinuteCap: cap }), ...extra] as any }).pipe(
      Layer.provideMerge(MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 3 }))
    )
  const runbook = (ids: ReadonlyArray<RawConnection>, thresholds = {}) => {
    const scope = new Set(ids.map((c) => c.id))
    return PoolSixClassRunbook.makeMySql({
      sessions: (s) => scope.has(s.pid),
      diagnose: { trendSamples: 2, trendInterval: "150 millis", timeout: "10 seconds" },
      thresholds: { idleInTxMs: 500, queryBudgetMs: 500, ...thresholds },
      verifySchedule: { offsets: [0, 3_000], description: "check, then retry once at 3 s (test)" },
      defaultMode: "auto"
    })
  }
  const inTransaction = (url: string, n: number) =>
    Effect.promise(() =>
      Promise.all(Array.from({ length: n }, async () => {
        const c = await openConnection(url)
        await c.q(`CREATE TABLE IF NOT EXISTS appdb.${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
        await c.q("BEGIN")
        await c.q(`INSERT INTO appdb.${table} VALUES (${c.id}, 1)`)
        return c
      }))
    )
  const usable = (c: RawConnection) => Effect.promise(() => c.q("SELECT 1").then(() => true, () => false))

  it.live("idle_in_tx_backlog: kills the app's connections idle in transaction; an admin (SUPER) and a connection that committed between plan and kill survive", () =>
    Effect.gen(function*() {
      const leaky = yield* inTransaction(appUrl, 3)
      const [admin] = yield* inTransaction(adminUrl, 1)
      const [committer] = yield* inTransaction(appUrl, 1)
      yield* Effect.sleep("900 millis")
      const base = runbook([...leaky, admin!, committer!])
      const rb = {
        ...base,
        remediate: (c: any, f: any, s: any) =>
          Effect.tap(base.remediate(c, f, s), () => Effect.promise(() => committer!.q("COMMIT")))
      }
      const r = reportOf(yield* Runbook.handle(rb, signal(target("maria-backlog")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      const byId = new Map(r.outcomes.map((o) => [o.result?.["id"], o]))
      assert.isFalse(byId.has(admin!.id), "the SUPER holder is never planned")
      for (const c of leaky) assert.match(byId.get(c.id)?.detail ?? "", /^killed connection/)
      assert.match(byId.get(committer!.id)?.detail ?? "", /^skipped: session changed/)
      for (const c of leaky) assert.isFalse(yield* usable(c))
      assert.isTrue(yield* usable(admin!))
      assert.isTrue(yield* usable(committer!))
      assert.strictEqual(r.status, "recovered")
    }).pipe(Effect.provide(world())), 60_000)

  it.live("the kill cap holds on MariaDB too: 3 eligible with a cap of 2 → 2 killed, 1 rejected and escalated", () =>
    Effect.gen(function*() {
      const conns = yield* inTransaction(appUrl, 3)
      yield* Effect.sleep("900 millis")
      const r = reportOf(yield* Runbook.handle(runbook(conns), signal(target("maria-cap")), { mode: "auto" }))
      assert.deepStrictEqual(r.outcomes.map((o) => o.status).sort(), ["applied", "applied", "denied"])
      assert.isDefined(r.escalation)
      let alive = 0
      for (const c of conns) if (yield* usable(c)) alive++
      assert.strictEqual(alive, 1)
    }).pipe(Effect.provide(world(2))), 60_000)

  it.live("long_running_query: SLEEP statements are killed with KILL QUERY; the connections live on", () =>
    Effect.gen(function*() {
      const conns = yield* Effect.promise(() => Promise.all([openConnection(appUrl), openConnection(appUrl)]))
      const running = conns.map((c) => c.q("SELECT SLEEP(60) AS bp_report").then((rows: any) => `rows:${JSON.stringify(rows)}`, (e: any) => String(e.errno)))
      yield* Effect.sleep("1200 millis")
      const r = reportOf(yield* Runbook.handle(runbook(conns), signal(target("maria-long")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["mysql.killQuery", "applied"], ["mysql.killQuery", "applied"]])
      const results = yield* Effect.promise(() => Promise.all(running))
      // MariaDB ends an interrupted SLEEP() early: it returns 1 (or errors with ER_QUERY_INTERRUPTED)
      for (const x of results) assert.isTrue(x === "1317" || /"bp_report":1/.test(x), x)
      for (const c of conns) assert.isTrue(yield* usable(c))
      const pm = r.postmortem as any
      assert.strictEqual(pm.explain_queries.length, 2)
      assert.include(pm.explain_queries[0].query, "SLEEP(60)")
    }).pipe(Effect.provide(world())), 60_000)

  it.live("runaway_cron_fanout: 15 connections of one batch user (the user stands in for application_name) → escalated with the recommended cap; nothing killed", () =>
    Effect.gen(function*() {
      const user = `bp_cron_${process.pid}`
      const password = `pw-${Math.random().toString(36).slice(2)}`
      const admin = yield* Effect.promise(() => openConnection(adminUrl))
      yield* Effect.promise(async () => {
        await admin.q(`DROP USER IF EXISTS '${user}'@'%'`)
        await admin.q(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`)
        await admin.q(`GRANT SELECT ON appdb.* TO '${user}'@'%'`)
      })
      try {
        const url = new URL(appUrl)
        url.username = user
        url.password = password
        const conns = yield* Effect.promise(() => Promise.all(Array.from({ length: 15 }, () => openConnection(url.toString()))))
        const r = reportOf(yield* Runbook.handle(runbook(conns), signal(target("maria-fanout")), { mode: "auto" }))
        assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "runaway_cron_fanout")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation!.reason, new RegExp(`"${user}" holds 15 connections`))
        for (const c of conns) assert.isTrue(yield* usable(c))
      } finally {
        yield* Effect.promise(() => closeAllMySql())
        const again = yield* Effect.promise(() => openConnection(adminUrl))
        yield* Effect.promise(() => again.q(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => undefined))
      }
    }).pipe(Effect.provide(world())), 60_000)

  it.live("undersized_pool on MariaDB (no pgbouncer, ruling): an escalation with the recommended pool sizes, nothing changed", () =>
    Effect.gen(function*() {
      const r = reportOf(yield* Runbook.handle(runbook([], { undersizedRatio: 0 }), signal(target("maria-undersized")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "undersized_pool")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /no pgbouncer in front of the database/)
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), ["escalated"])
    }).pipe(Effect.provide(world())), 60_000)

  const restart = restarter()
  it.live("leak_after_deploy: kills the old connections idle in transaction, then hands off the rollout restart (recorded)", () =>
    Effect.gen(function*() {
      const old = yield* inTransaction(appUrl, 2)
      yield* Effect.sleep("900 millis")
      const fresh = yield* Effect.promise(() => Promise.all([openConnection(appUrl), openConnection(appUrl)]))
      const workload = `test/shop/Deployment/maria-checkout-${process.pid}`
      const leak = yield* Effect.forkChild(Effect.promise(async () => {
        for (const c of fresh) {
          await new Promise((res) => setTimeout(res, 250))
          await c.q("BEGIN")
          await c.q(`INSERT INTO appdb.${table} VALUES (${c.id}, 2)`)
        }
      }))
      const rb = PoolSixClassRunbook.makeMySql({
        sessions: (s) => [...old, ...fresh].some((c) => c.id === s.pid),
        diagnose: { trendSamples: 3, trendInterval: "400 millis", timeout: "10 seconds" },
        thresholds: { idleInTxMs: 500, queryBudgetMs: 500 },
        verifySchedule: { offsets: [0, 3_000], description: "check, then retry once at 3 s (test)" },
        defaultMode: "auto"
      })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("maria-leak"), { lastDeploy: { sha: "beefcafe", at: Date.now() - 60_000 }, deployment: workload }), { mode: "auto" }))
      yield* Fiber.join(leak)
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "leak_after_deploy")
      for (const c of old) assert.isFalse(yield* usable(c))
      assert.strictEqual(r.outcomes.find((o) => o.kind === "handoff")?.status, "handed_off")
      const published = (yield* (yield* IncidentBus.IncidentBus).published).filter((x) => x.type === "k8s.rollout-restart.requested")
      assert.strictEqual(published.length, 1)
      const child = reportOf(yield* Runbook.handle(restart.runbook, published[0]!, { mode: "auto" }))
      assert.strictEqual(child.status, "recovered")
      assert.deepStrictEqual(restart.handler.writes.map((w) => w.action.target.ref), [workload])
    }).pipe(Effect.provide(world(20, [restart.handler]))), 60_000)
})
