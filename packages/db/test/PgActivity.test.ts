import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Postgres from "../src/Postgres"
import * as PgActivity from "../src/probes/PgActivity"
import * as Utilization from "../src/Utilization"
import { closeAll, eventually, openSession, uniqueName } from "./support/pg"
import { describeWithServices } from "./support/services"

describeWithServices(["postgres"], "PgActivity probes and PostgreSQL utilization (real PostgreSQL 15)", (env) => {
  const appUrl = () => env.BYTEPORT_TEST_PG_URL ?? ""
  const agent = () => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 })
  afterEach(() => closeAll())

  const mine = (prefix: string) =>
    PgActivity.sessions.pipe(Effect.map((rows) => rows.filter((s) => s.application_name.startsWith(prefix))))

  it.live("breaks sessions down by state, with blockers, wait events and long-running queries", () =>
    Effect.gen(function*() {
      const name = uniqueName("mix")
      const table = `bp_lock_${process.pid}_${Date.now()}`
      const setup = yield* Effect.promise(() => openSession(appUrl(), `${name}-setup`))
      yield* Effect.promise(() => setup.q(`CREATE TABLE ${table} (id int PRIMARY KEY, v int); INSERT INTO ${table} VALUES (1, 0)`))
      const idle = yield* Effect.promise(() => Promise.all([1, 2, 3].map((i) => openSession(appUrl(), `${name}-idle-${i}`))))
      for (const s of idle) yield* Effect.promise(() => s.q("BEGIN; SELECT 1"))
      const aborted = yield* Effect.promise(() => openSession(appUrl(), `${name}-aborted`))
      yield* Effect.promise(() => aborted.q("BEGIN").then(() => aborted.q("SELECT 1/0")).catch(() => undefined))
      const sleeper = yield* Effect.promise(() => openSession(appUrl(), `${name}-sleep`))
      const sleeping = sleeper.q("SELECT pg_sleep(30)").catch((e: Error & { code?: string }) => e)
      const holder = yield* Effect.promise(() => openSession(appUrl(), `${name}-holder`))
      yield* Effect.promise(() => holder.q(`BEGIN; UPDATE ${table} SET v = 1 WHERE id = 1`))
      const waiter = yield* Effect.promise(() => openSession(appUrl(), `${name}-waiter`))
      const waiting = waiter.q(`UPDATE ${table} SET v = 2 WHERE id = 1`).catch((e: Error) => e)

      const run = <A, E>(eff: Effect.Effect<A, E, Postgres.Postgres>) => Effect.runPromise(Effect.provide(eff, agent()))
      let rows: ReadonlyArray<PgActivity.PgSession> = []
      yield* Effect.promise(() =>
        eventually(async () => {
          rows = await run(mine(name))
          const b = PgActivity.breakdownOf(rows)
          return b.waiting === 1 && b.active === 1 && b.idleInTransaction === 4 && b.idleInTransactionAborted === 1
        }, 5_000, "the scenario states")
      )
      yield* Effect.sleep("300 millis")
      rows = yield* mine(name).pipe(Effect.provide(agent()))
      const b = PgActivity.breakdownOf(rows)
      assert.strictEqual(b.total, 8)
      assert.strictEqual(b.idle, 1) // the setup session
      assert.strictEqual(b.idleInTransaction, 4) // 3 idle + the lock holder
      assert.strictEqual(b.idleInTransactionAborted, 1)
      assert.strictEqual(b.active, 1)
      assert.strictEqual(b.waiting, 1)
      assert.strictEqual(b.byUser.app, 8)
      assert.strictEqual(b.byApplication[`${name}-sleep`], 1)

      const w = rows.find((s) => s.pid === waiter.pid)
      assert.deepStrictEqual(w?.blocking_pids, [holder.pid])
      assert.strictEqual(w?.wait_event_type, "Lock")
      const s = rows.find((r) => r.pid === sleeper.pid)
      assert.strictEqual(s?.wait_event, "PgSleep")
      assert.strictEqual(s?.rolsuper, false)
      assert.strictEqual(s?.usename, "app")
      assert.strictEqual(s?.client_addr, "127.0.0.1")
      assert.instanceOf(s?.backend_start, Date)
      assert.match(s?.backend_start_us ?? "", /^\d{16}$/)
      assert.include(s?.query ?? "", "pg_sleep(30)")
      assert.isTrue((s?.query_age_ms ?? 0) >= 250)
      const h = rows.find((r) => r.pid === holder.pid)
      assert.instanceOf(h?.xact_start, Date)
      assert.isTrue((h?.state_age_ms ?? 0) >= 250)
      assert.deepStrictEqual(PgActivity.idleInTransactionOf(rows, 250).length, 5)
      assert.deepStrictEqual(PgActivity.idleInTransactionOf(rows, 60_000).length, 0)

      const long = PgActivity.longRunningOf(rows, 250).map((r) => r.pid)
      assert.includeMembers(long, [sleeper.pid, waiter.pid])
      const live = yield* PgActivity.longRunningQueries(250).pipe(Effect.provide(agent()))
      assert.includeMembers(live.map((r) => r.pid), [sleeper.pid, waiter.pid])
      assert.notInclude(live.map((r) => r.pid), holder.pid)

      const waits = yield* PgActivity.topWaitEvents(20).pipe(Effect.provide(agent()))
      const key = (t: string, e: string) => waits.find((x) => x.wait_event_type === t && x.wait_event === e)?.count ?? 0
      assert.isTrue(key("Timeout", "PgSleep") >= 1)
      assert.isTrue(key("Lock", "transactionid") >= 1)
      assert.isTrue(key("Client", "ClientRead") >= 5)

      yield* Effect.promise(() => holder.q("ROLLBACK"))
      const waiterResult = yield* Effect.promise(() => waiting)
      assert.notInstanceOf(waiterResult, Error)
      yield* Effect.promise(() => setup.q(`SELECT pg_cancel_backend(${sleeper.pid})`).catch(() => undefined))
      yield* Effect.promise(() => sleeping)
      yield* Effect.promise(() => setup.q(`DROP TABLE ${table}`))
    }), 20_000)

  it.live("counts a fan-out of 16 connections from one application and reads utilization", () =>
    Effect.gen(function*() {
      const name = uniqueName("cron-fanout")
      yield* Effect.promise(() => Promise.all(Array.from({ length: 16 }, () => openSession(appUrl(), name))))
      const b = yield* PgActivity.breakdown.pipe(Effect.provide(agent()))
      assert.strictEqual(b.byApplication[name], 16)
      const u = yield* Utilization.postgres.pipe(Effect.provide(agent()))
      assert.strictEqual(u.maxConnections, 100)
      assert.strictEqual(u.superuserReservedConnections, 3)
      assert.strictEqual(u.available, 97)
      assert.isTrue(u.clientBackends >= 17) // 16 + the probe itself
      assert.closeTo(u.ratio, u.clientBackends / 97, 1e-9)
      yield* Effect.promise(() => closeAll())
      yield* Effect.promise(() =>
        eventually(async () => {
          const b2 = await Effect.runPromise(PgActivity.breakdown.pipe(Effect.provide(agent())))
          return b2.byApplication[name] === undefined
        }, 5_000, "the fan-out to close")
      )
    }), 20_000)

  it("utilization is a pure function of its inputs", () => {
    assert.deepStrictEqual(Utilization.postgresOf(50, 103, 3), {
      engine: "postgres", clientBackends: 50, maxConnections: 103, superuserReservedConnections: 3, available: 100, ratio: 0.5
    })
    assert.strictEqual(Utilization.postgresOf(1, 3, 3).ratio, 1)
  })
})
