/**
 * db.pool.six-class end to end through a real pgbouncer (transaction pooling, pool of 4):
 * missing_pgbouncer from real waiting clients, and undersized_pool; both raise default_pool_size
 * in pgbouncer.ini (backed up first) and RELOAD, observed in SHOW DATABASES / SHOW CONFIG.
 * The shared test pgbouncer is used by concurrent runs (and PgBouncer.test.ts edits its ini),
 * so these tests run a private pgbouncer configured like it (see privateBouncer.ts); the ini is
 * still restored (and RELOADed) right after each test and the backups removed.
 */
import { Runbook } from "@byteport/core"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import pg from "pg"
import * as PgBouncer from "../../src/PgBouncer"
import * as PgBouncerIni from "../../src/pgbouncer/PgBouncerIni"
import * as PgBouncerStats from "../../src/probes/PgBouncerStats"
import { describeWithServices } from "../support/services"
import * as PrivateBouncer from "./privateBouncer"
import { pgWorld, reportOf, runbook, signal, target } from "./world"

describeWithServices(["postgres", "pgbouncer"], "db.pool.six-class end to end (real pgbouncer)", (sharedEnv) => {
  let bouncer: PrivateBouncer.PrivateBouncer | undefined
  beforeAll(async () => {
    bouncer = await PrivateBouncer.start(sharedEnv)
  }, 30_000)
  afterAll(() => bouncer?.stop())
  /** The services' settings with the private pgbouncer in place of the shared one. */
  const penv = (): Readonly<Record<string, string>> => ({
    ...sharedEnv,
    BYTEPORT_TEST_PGBOUNCER_URL: bouncer!.url,
    BYTEPORT_TEST_PGBOUNCER_ADMIN_URL: bouncer!.adminUrl,
    BYTEPORT_TEST_PGBOUNCER_INI: bouncer!.iniPath
  })
  const iniPath = () => bouncer!.iniPath
  const nobody = { has: () => false } // act on no PostgreSQL session: only pgbouncer is under test

  /** Runs `body` and restores the ini afterwards (RELOAD), removing the backups made meanwhile. */
  const withIniRestored = <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const original = fs.readFileSync(iniPath(), "utf8")
      const before = new Set(fs.readdirSync(iniPath().replace(/[^/]+$/, "")))
      return yield* body.pipe(Effect.ensuring(Effect.gen(function*() {
        fs.writeFileSync(iniPath(), original)
        yield* PgBouncer.PgBouncer.use((b) => b.reload).pipe(Effect.ignore)
        const dir = iniPath().replace(/[^/]+$/, "")
        for (const f of fs.readdirSync(dir)) if (!before.has(f) && f.includes(".bak-")) fs.rmSync(dir + f)
      })))
    })

  const assertRaised = (r: ReturnType<typeof reportOf>, from: number) =>
    Effect.gen(function*() {
      const o = r.outcomes.find((x) => x.kind === "pgbouncer.raisePoolSize")
      assert.strictEqual(o?.status, "applied", o?.detail)
      const to = Number(o!.result!["after"])
      assert.isAbove(to, from)
      assert.strictEqual(Number(o!.result!["before"]), from)
      const text = fs.readFileSync(iniPath(), "utf8")
      assert.strictEqual((yield* PgBouncerIni.readPoolSizes(text)).defaultPoolSize, to)
      const backup = String(o!.result!["backupPath"])
      assert.isTrue(fs.existsSync(backup), "the ini was backed up first")
      assert.strictEqual((yield* PgBouncerIni.readPoolSizes(fs.readFileSync(backup, "utf8"))).defaultPoolSize, from)
      const config = yield* PgBouncerStats.config
      assert.strictEqual(Number(config["default_pool_size"]), to) // RELOAD took
      const dbs = yield* PgBouncerStats.databases
      assert.strictEqual(dbs.find((d) => d.name === "appdb")?.pool_size, to)
      return to
    })

  it.live("missing_pgbouncer: clients waiting on a saturated pool → default_pool_size raised and RELOADed; waiting drops to 0", () =>
    withIniRestored(Effect.gen(function*() {
      const from = (yield* PgBouncerIni.readPoolSizes(fs.readFileSync(iniPath(), "utf8"))).defaultPoolSize
      const pool = new pg.Pool({ connectionString: penv().BYTEPORT_TEST_PGBOUNCER_URL ?? "", max: from + 3 })
      pool.on("error", () => undefined)
      // 8 s: the pool must still be saturated when the runbook diagnoses it, even on a loaded CI machine.
      const sleeps = Array.from({ length: from + 3 }, () => pool.query("SELECT pg_sleep(8)").catch(() => undefined))
      try {
        // Saturated = clients still waiting on two reads 200 ms apart (not a transient login wait).
        let waiting = 0
        for (let i = 0; i < 40 && waiting === 0; i++) {
          yield* Effect.sleep("50 millis")
          const first = PgBouncerStats.waitingClientsOf(yield* PgBouncerStats.pools)
          if (first === 0) continue
          yield* Effect.sleep("200 millis")
          waiting = PgBouncerStats.waitingClientsOf(yield* PgBouncerStats.pools)
        }
        assert.isAbove(waiting, 0, "the pool is saturated")
        const r = reportOf(yield* Runbook.handle(runbook(nobody), signal(target("bouncer")), { mode: "auto" }))
        assert.strictEqual(
          r.classification?._tag === "Classified" ? r.classification.class : "",
          "missing_pgbouncer",
          JSON.stringify({ classification: r.classification, unknown: Object.entries(r.facts).filter(([, f]) => f._tag === "Unknown") })
        )
        yield* assertRaised(r, from)
        assert.strictEqual(r.status, "recovered")
        const last = r.verdicts.at(-1)!
        assert.deepInclude(last.checks.map((c) => [c.name, c.ok]), ["pgbouncer waiting clients", true])
      } finally {
        yield* Effect.promise(() => Promise.all(sleeps))
        yield* Effect.promise(() => pool.end())
      }
    })).pipe(Effect.provide(pgWorld(penv(), { withBouncer: true }))), 60_000)

  it.live("undersized_pool with pgbouncer: default_pool_size raised in the ini (backup kept), RELOAD observed; restored afterwards", () =>
    Effect.gen(function*() {
      const from = (yield* PgBouncerIni.readPoolSizes(fs.readFileSync(iniPath(), "utf8"))).defaultPoolSize
      yield* withIniRestored(Effect.gen(function*() {
        const rb = runbook(nobody, { thresholds: { undersizedRatio: 0 } })
        const r = reportOf(yield* Runbook.handle(rb, signal(target("undersized")), { mode: "auto" }))
        assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "undersized_pool")
        yield* assertRaised(r, from)
      }))
      // restored: the ini and the live pool are back where they were
      assert.strictEqual((yield* PgBouncerIni.readPoolSizes(fs.readFileSync(iniPath(), "utf8"))).defaultPoolSize, from)
      assert.strictEqual(Number((yield* PgBouncerStats.config)["default_pool_size"]), from)
    }).pipe(Effect.provide(pgWorld(penv(), { withBouncer: true }))), 60_000)

  it.live("dry_run of the raise checks capacity and writes nothing", () =>
    Effect.gen(function*() {
      const text = fs.readFileSync(iniPath(), "utf8")
      const rb = runbook(nobody, { thresholds: { undersizedRatio: 0 } })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("undersized-dry")), { mode: "dry_run" }))
      assert.strictEqual(r.outcomes[0]?.status, "dry_run")
      assert.match(r.outcomes[0]!.detail, /^would raise default_pool_size \d+ → \d+ and RELOAD/)
      assert.strictEqual(fs.readFileSync(iniPath(), "utf8"), text)
    }).pipe(Effect.provide(pgWorld(penv(), { withBouncer: true }))), 60_000)
})
