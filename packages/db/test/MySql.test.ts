import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Signal, TargetRef } from "@byteport/core"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import * as MySqlPoolDiagnoser from "../src/diagnosers/MySqlPoolDiagnoser"
import * as MySql from "../src/MySql"
import * as UtilizationBelow from "../src/verifiers/UtilizationBelow"
import type { Verifier } from "@byteport/core"
import * as MySqlActivity from "../src/probes/MySqlActivity"
import * as MySqlKill from "../src/sessions/MySqlKill"
import * as Utilization from "../src/Utilization"
import { closeAllMySql, openConnection } from "./support/mysql"
import { eventually } from "./support/pg"
import { configFrom, describeWithServices } from "./support/services"

describeWithServices(["mariadb"], "MySql service, probes and guarded KILL (real MariaDB)", (env) => {
  const appUrl = () => env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const adminUrl = () => env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? ""
  const agent = () => MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 2 })
  const table = `bp_trx_${process.pid}`
  afterEach(() => closeAllMySql())

  const sessionOf = (id: number, pred: (s: MySqlActivity.MySqlSession) => boolean = () => true) =>
    Effect.promise(async () => {
      let found: MySqlActivity.MySqlSession | undefined
      await eventually(async () => {
        const rows = await Effect.runPromise(MySqlActivity.sessions.pipe(Effect.provide(agent())))
        found = rows.find((r) => r.id === id && pred(r))
        return found !== undefined
        // INNODB_TRX is refreshed only when nobody read it for 100 ms: poll slower than that
      }, 5_000, `thread ${id}`, 150)
      return found!
    })
  const openInTransaction = (url: string) =>
    Effect.promise(async () => {
      const c = await openConnection(url)
      await c.q(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
      await c.q("BEGIN")
      await c.q(`INSERT INTO ${table} VALUES (${c.id}, 1)`)
      return c
    })
  const alive = (c: { q: (s: string) => Promise<unknown> }) => Effect.promise(() => c.q("SELECT 1").then(() => true, () => false))

  it.live("queries, typed errors and no password in messages", () =>
    Effect.gen(function*() {
      const db = yield* MySql.MySql
      const rows = yield* db.query("SELECT ? + 1 AS n, CURRENT_USER() AS who", [41])
      assert.strictEqual(Number(rows[0]?.n), 42)
      assert.match(String(rows[0]?.who), /^app@/)
      const e = yield* Effect.flip(db.query("SELECT * FROM no_such_table"))
      assert.strictEqual(e._tag, "DbQueryError")
      assert.strictEqual(e._tag === "DbQueryError" ? e.errno : 0, 1146)
      assert.strictEqual(e._tag === "DbQueryError" ? e.code : "", "42S02")
      const secret = "Very-s3cret-mysql-pw"
      const bad = new URL(appUrl())
      bad.password = secret
      const denied = yield* Effect.flip(MySql.MySql.use((d) => d.query("SELECT 1")).pipe(Effect.provide(MySql.layer({ url: Redacted.make(bad.toString()) }))))
      assert.strictEqual(denied._tag, "DbConnectionError")
      assert.notInclude(JSON.stringify(denied), secret)
      assert.notInclude(String(denied), secret)
    }).pipe(Effect.provide(MySql.layer({ url: Redacted.make(appUrl()) }))))

  it.live("survives KILL CONNECTION of its own pooled connection and reconnects", () =>
    Effect.gen(function*() {
      const db = yield* MySql.MySql
      const [before] = yield* db.query("SELECT CONNECTION_ID() AS id")
      const admin = yield* Effect.promise(() => openConnection(adminUrl()))
      yield* Effect.promise(() => admin.q(`KILL CONNECTION ${Number(before?.id)}`))
      yield* Effect.sleep("100 millis")
      const [after] = yield* db.query("SELECT CONNECTION_ID() AS id")
      assert.notStrictEqual(Number(after?.id), Number(before?.id))
      assert.isTrue((yield* db.backgroundErrors) >= 1)
    }).pipe(Effect.provide(MySql.layer({ url: Redacted.make(appUrl()), poolMax: 1 }))))

  it.live("tells Sleep-with-open-transaction from idle through INNODB_TRX, and reads utilization", () =>
    Effect.gen(function*() {
      const inTx = yield* openInTransaction(appUrl())
      const idle = yield* Effect.promise(() => openConnection(appUrl()))
      const slow = yield* Effect.promise(() => openConnection(appUrl()))
      const sleeping = slow.q("SELECT SLEEP(30)").catch((e: Error) => e)
      const s1 = yield* sessionOf(inTx.id, (s) => s.trx_id !== null)
      const s2 = yield* sessionOf(idle.id)
      const s3 = yield* sessionOf(slow.id, (s) => s.command === "Query")
      assert.strictEqual(s1.command, "Sleep")
      assert.strictEqual(s2.command, "Sleep")
      assert.isTrue(MySqlActivity.isSleepingInTransaction(s1))
      assert.isFalse(MySqlActivity.isSleepingInTransaction(s2))
      assert.isString(s1.trx_id)
      assert.strictEqual(s1.trx_state, "RUNNING")
      assert.instanceOf(s1.trx_started, Date)
      assert.strictEqual(s3.state, "User sleep")
      assert.include(s3.info ?? "", "SLEEP(30)")
      assert.isString(s3.query_id) // MariaDB
      const b = MySqlActivity.breakdownOf([s1, s2, s3])
      assert.deepStrictEqual({ idle: b.idle, idleInTransaction: b.idleInTransaction, active: b.active }, { idle: 1, idleInTransaction: 1, active: 1 })

      const privs = yield* MySqlActivity.privileges.pipe(Effect.provide(agent()))
      assert.isTrue(MySqlActivity.isSuperuser(privs, "byteport_admin"))
      assert.isTrue(MySqlActivity.isSuperuser(privs, "root"))
      assert.isFalse(MySqlActivity.isSuperuser(privs, "app"))
      assert.isUndefined(MySqlActivity.isSuperuser(privs, "nobody_like_this"))

      const u = yield* Utilization.mysql.pipe(Effect.provide(agent()))
      assert.strictEqual(u.maxConnections, 100)
      assert.isTrue(u.threadsConnected >= 4)
      assert.closeTo(u.ratio, u.threadsConnected / 100, 1e-9)

      // a guarded KILL QUERY cancels the statement; the connection stays usable
      const k = yield* MySqlKill.killQuery(MySqlKill.targetOf(s3)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(k, { _tag: "Killed", id: slow.id, kind: "query" })
      const res = yield* Effect.promise(() => sleeping)
      // MariaDB reports an interrupted SLEEP as an error; MySQL 8 would return 1
      assert.isTrue(res instanceof Error ? /interrupted/i.test(res.message) : true)
      assert.isTrue(yield* alive(slow))
      yield* Effect.promise(() => inTx.q("ROLLBACK"))
    }), 20_000)

  it.live("kills a connection sleeping in a transaction that still matches", () =>
    Effect.gen(function*() {
      const victim = yield* openInTransaction(appUrl())
      const s = yield* sessionOf(victim.id)
      const r = yield* MySqlKill.killConnection(MySqlKill.targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r, { _tag: "Killed", id: victim.id, kind: "connection" })
      yield* Effect.promise(() => eventually(async () => victim.errors.length > 0, 2_000, "the victim's error event"))
      assert.isFalse(yield* alive(victim))
      const again = yield* MySqlKill.killConnection(MySqlKill.targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(again, { _tag: "Refused", id: victim.id, reason: "gone" })
    }))

  it.live("refuses superusers, protected users, and sessions that committed since the read", () =>
    Effect.gen(function*() {
      const admin = yield* openInTransaction(adminUrl())
      const sa = yield* sessionOf(admin.id)
      const r1 = yield* MySqlKill.killConnection(MySqlKill.targetOf(sa)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r1, { _tag: "Refused", id: admin.id, reason: "superuser" })
      assert.isTrue(yield* alive(admin))

      const committer = yield* openInTransaction(appUrl())
      const sc = yield* sessionOf(committer.id)
      yield* Effect.promise(() => committer.q("COMMIT"))
      const r2 = yield* MySqlKill.killConnection(MySqlKill.targetOf(sc)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r2, { _tag: "Refused", id: committer.id, reason: "changed" })
      // a new transaction: Sleep again, but another trx_id
      yield* Effect.promise(() => committer.q("BEGIN").then(() => committer.q(`UPDATE ${table} SET v = v + 1 WHERE id = ${committer.id}`)))
      yield* sessionOf(committer.id, (s) => s.trx_id !== null)
      const r3 = yield* MySqlKill.killConnection(MySqlKill.targetOf(sc)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r3, { _tag: "Refused", id: committer.id, reason: "changed" })
      assert.isTrue(yield* alive(committer))

      const prot = yield* MySqlKill.killConnection(MySqlKill.targetOf(yield* sessionOf(committer.id)), { protectedUsers: ["app"] }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(prot, { _tag: "Refused", id: committer.id, reason: "protected_user" })
      assert.deepStrictEqual(committer.errors, [])
      yield* Effect.promise(() => Promise.all([admin.q("ROLLBACK"), committer.q("ROLLBACK")]))
      // a viewer without PROCESS cannot re-check: a typed error, never a blind KILL
      const blind = yield* Effect.flip(MySqlKill.killConnection(MySqlKill.targetOf(yield* sessionOf(committer.id))).pipe(
        Effect.provide(MySql.layer({ url: Redacted.make(appUrl()) }))
      ))
      assert.strictEqual(blind._tag, "DbQueryError")
      assert.strictEqual(blind._tag === "DbQueryError" ? blind.errno : 0, 1227)
      assert.isTrue(yield* alive(committer))
    }), 20_000)

  it.live("the MySQL diagnoser feeds the same six-class classifier: idle_in_tx_backlog on MariaDB", () =>
    Effect.gen(function*() {
      const victims = yield* Effect.all([openInTransaction(appUrl()), openInTransaction(appUrl()), openInTransaction(appUrl())])
      const admin = yield* openInTransaction(adminUrl())
      yield* Effect.sleep("400 millis")
      const signal = Signal.make({ type: "db.pool.exhaustion", target: TargetRef.make("database", "test/mariadb"), observedAt: Date.now(), evidence: {} })
      const facts = yield* MySqlPoolDiagnoser.make({ trendSamples: 2, trendInterval: "150 millis" })(signal)
      assert.strictEqual(facts.utilization._tag === "Known" ? facts.utilization.value.engine : "", "mysql")
      assert.strictEqual(facts.pgbouncer._tag === "Known" ? facts.pgbouncer.value : "x", null)
      const rows = facts.sessions._tag === "Known" ? facts.sessions.value : []
      const mine = rows.filter((r) => victims.some((v) => v.id === r.pid))
      assert.deepStrictEqual(mine.map((r) => [r.state, r.rolsuper, r.application_name]), Array(3).fill(["idle in transaction", false, "app"]))
      assert.isTrue(mine.every((r) => (r.state_age_ms ?? 0) >= 300))
      assert.strictEqual(rows.find((r) => r.pid === admin.id)?.rolsuper, true)
      const c = PoolSixClass.classifier({ idleInTxMs: 300 })(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "idle_in_tx_backlog")
      assert.includeMembers(c._tag === "Classified" ? c.evidence.pids as Array<number> : [], victims.map((v) => v.id))
      yield* Effect.promise(() => Promise.all([...victims, admin].map((v) => v.q("ROLLBACK"))))
    }).pipe(Effect.provide(agent())), 20_000)

  it.live("layerConfig reads BYTEPORT_MYSQL_*; a statement over the timeout is a DbTimeout", () =>
    Effect.gen(function*() {
      const [row] = yield* MySql.MySql.use((db) => db.query("SELECT CURRENT_USER() AS u"))
      assert.match(String(row?.u), /^byteport_agent@/)
      const slow = yield* Effect.flip(MySql.MySql.use((db) => db.query("SELECT SLEEP(3)")))
      assert.strictEqual(slow._tag, "DbTimeout")
      const [again] = yield* MySql.MySql.use((db) => db.query("SELECT 1 AS one"))
      assert.strictEqual(Number(again?.one), 1)
    }).pipe(
      Effect.provide(MySql.layerConfig),
      Effect.provide(configFrom({ BYTEPORT_MYSQL_URL: env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? "", BYTEPORT_MYSQL_STATEMENT_TIMEOUT_MS: "400" }))
    ), 15_000)

  it.live("the MySQL verifier: Recovered below 70%, NotRecovered above the bar", () =>
    Effect.gen(function*() {
      const ctx = { since: Date.now(), attempt: 1 } as unknown as Verifier.VerifyContext<unknown>
      assert.strictEqual((yield* UtilizationBelow.mysql()(ctx))._tag, "Recovered")
      const v = yield* UtilizationBelow.mysql(0.0001)(ctx)
      assert.strictEqual(v._tag, "NotRecovered")
      assert.strictEqual(v.checks[0]?.name, "mysql utilization")
    }).pipe(Effect.provide(agent())))
})
