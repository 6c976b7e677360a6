/**
 * db.connections.saturation's MySQL parts on the real MariaDB: `MySqlKill`'s `noRowLocks`
 * (INNODB_TRX rows locked / modified, a blocker in INNODB_LOCK_WAITS) refuses a thread whose
 * open transaction holds row locks in the re-check right before the KILL, and the reading
 * `Utilization.mysqlConnections` ((Threads_connected − own) / max_connections).
 */
import { afterAll, afterEach, assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as MySql from "../../src/MySql"
import * as MySqlActivity from "../../src/probes/MySqlActivity"
import * as MySqlKill from "../../src/sessions/MySqlKill"
import { closeAllMySql, openConnection, type RawConnection } from "../support/mysql"
import { eventually } from "../support/pg"
import { describeWithServices } from "../support/services"

describeWithServices(["mariadb"], "db.connections.saturation MySQL parts (real MariaDB)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const agent = () => MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 2 })
  const table = `appdb.bp_satlock_${process.pid}`
  afterEach(() => closeAllMySql())
  afterAll(async () => {
    const c = await openConnection(env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? "")
    await c.q(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    await closeAllMySql()
  })

  /** A connection idle in a transaction that ran `sql` (row `id` exists). */
  const inTx = (id: number, sql: (table: string) => string) =>
    Effect.promise(async () => {
      const c = await openConnection(appUrl)
      await c.q(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
      await c.q(`REPLACE INTO ${table} VALUES (${id}, 0)`)
      await c.q("BEGIN")
      await c.q(sql(table))
      return c
    })
  const sessionOf = (c: RawConnection) =>
    Effect.promise(async () => {
      let found: MySqlActivity.MySqlSession | undefined
      await eventually(async () => {
        const rows = await Effect.runPromise(MySqlActivity.sessions.pipe(Effect.provide(agent())))
        found = rows.find((r) => r.id === c.id && r.trx_id !== null && r.command === "Sleep")
        return found !== undefined
      }, 5_000, `thread ${c.id}`, 150)
      return found!
    })
  const alive = (c: RawConnection) => Effect.promise(() => c.q("SELECT 1").then(() => true, () => false))
  const kill = (s: MySqlActivity.MySqlSession, noRowLocks: boolean) =>
    MySqlKill.killConnection(MySqlKill.targetOf(s), noRowLocks ? { noRowLocks: true } : {}).pipe(Effect.provide(agent()))

  it.live("noRowLocks: an UPDATE or SELECT … FOR UPDATE in the open transaction → refused (holds_row_locks); a plain SELECT → killed", () =>
    Effect.gen(function*() {
      const updater = yield* inTx(1, (t) => `UPDATE ${t} SET v = v + 1 WHERE id = 1`)
      const locker = yield* inTx(2, (t) => `SELECT * FROM ${t} WHERE id = 2 FOR UPDATE`)
      const reader = yield* inTx(3, (t) => `SELECT * FROM ${t} WHERE id = 3`)
      for (const c of [updater, locker]) {
        const r = yield* kill(yield* sessionOf(c), true)
        assert.deepStrictEqual(r, { _tag: "Refused", id: c.id, reason: "holds_row_locks" })
        assert.isTrue(yield* alive(c))
      }
      const r = yield* kill(yield* sessionOf(reader), true)
      assert.deepStrictEqual(r, { _tag: "Killed", id: reader.id, kind: "connection" })
      yield* Effect.promise(() => eventually(async () => reader.errors.length > 0, 2_000, "the reader's error event"))
      // without the option (db.pool.six-class) the lock holder is killed
      const r2 = yield* kill(yield* sessionOf(updater), false)
      assert.deepStrictEqual(r2, { _tag: "Killed", id: updater.id, kind: "connection" })
      yield* Effect.promise(() => locker.q("ROLLBACK"))
    }), 30_000)
})
