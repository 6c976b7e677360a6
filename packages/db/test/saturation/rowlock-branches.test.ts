/**
 * `MySqlKill`'s row-lock re-check has two branches: the thread's open transaction locked or
 * modified rows (`INNODB_TRX.trx_rows_locked` / `trx_rows_modified` > 0), or it blocks another
 * transaction (a `blocking_trx_id` in `INNODB_LOCK_WAITS`). On a real MariaDB every blocker has
 * locked a row too (a gap lock on the supremum pseudo-record counts as one: measured on 10.11),
 * so no live scenario tells them apart. Here each branch is proved alone:
 *
 * - the decision (`MySqlKill.holdsRowLocks`, what the re-check applies to its row): each
 *   condition alone refuses, none lets the KILL through;
 * - over recorded rows (`mariadb-leak`) where the two conditions differ: the holder with its
 *   rows-locked count set to 0 is still refused because it blocks the waiter, and with the lock
 *   wait gone and rows locked it is refused for its rows;
 * - on the real MariaDB, the re-check's SQL (`MySqlKill.rowLocksSql`) reports `blocks` 1 for a
 *   transaction another one waits on and 0 for one that locked a row nobody waits for, so the
 *   `blocks` column measures the lock-waits condition and not the rows-locked one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import * as path from "node:path"
import { NumberLike } from "../../src/internal/schemas"
import * as MySql from "../../src/MySql"
import * as MySqlKill from "../../src/sessions/MySqlKill"
import { MySqlRecording, Table } from "../../src/testing/index"
import { closeAllMySql, openConnection } from "../support/mysql"
import { eventually } from "../support/pg"
import { describeWithServices } from "../support/services"

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/recordings/mariadb-leak")
const f = (file: string) => path.join(dir, file)

describe("MySqlKill row-lock re-check: each branch alone", () => {
  it("the decision: rows locked alone, rows modified alone, blocking alone each refuse; none lets the KILL through", () => {
    assert.isTrue(MySqlKill.holdsRowLocks({ rows_locked: 1, rows_modified: 0, blocks: 0 }))
    assert.isTrue(MySqlKill.holdsRowLocks({ rows_locked: 0, rows_modified: 1, blocks: 0 }))
    assert.isTrue(MySqlKill.holdsRowLocks({ rows_locked: 0, rows_modified: 0, blocks: 1 }))
    assert.isFalse(MySqlKill.holdsRowLocks({ rows_locked: 0, rows_modified: 0, blocks: 0 }))
  })

  it.effect("recorded rows where the conditions differ: a blocker with 0 rows locked is a holder; rows locked without a waiter is a holder; neither is not", () =>
    Effect.gen(function*() {
      const trx = yield* Table.read(f("innodb_trx.tsv"))
      const waits = yield* Table.read(f("innodb_lock_waits.tsv"))
      const base = { processlist: f("processlist.tsv"), clock: f("clock.tsv") }
      const setRowsLocked = (thread: number, v: string): Table.Table => ({
        ...trx,
        rows: trx.rows.map((r) => (Number(r["trx_mysql_thread_id"]) === thread ? { ...r, trx_rows_locked: v } : r))
      })
      const noWaits: Table.Table = { ...waits, rows: [] }
      const holders = (innodbTrx: Table.Table, lockWaits: Table.Table) =>
        Effect.map(MySqlRecording.decode({ ...base, innodbTrx, lockWaits }), (d) => d.rowLockHolders.filter((id) => id === 10))
      // as recorded: thread 10 locked row 1 (FOR UPDATE) and thread 19 waits on it
      assert.deepStrictEqual(yield* holders(trx, waits), [10])
      // blocking alone (its rows-locked count 0): still a holder
      assert.deepStrictEqual(yield* holders(setRowsLocked(10, "0"), waits), [10])
      // rows locked alone (the waiter gone): still a holder
      assert.deepStrictEqual(yield* holders(trx, noWaits), [10])
      // neither: not a holder
      assert.deepStrictEqual(yield* holders(setRowsLocked(10, "0"), noWaits), [])
    }))
})

const RowLocks = Schema.Struct({ rows_locked: NumberLike, rows_modified: NumberLike, blocks: NumberLike })

describeWithServices(["mariadb"], "MySqlKill row-lock re-check SQL on the real MariaDB", (env) => {
  const agent = () => MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 2 })
  const table = `appdb.bp_rlbranch_${process.pid}`

  it.live("blocks = 1 only for the transaction another waits on; 0 for one holding a row lock nobody waits for", () =>
    Effect.gen(function*() {
      const read = (id: number) =>
        MySql.MySql.use((db) => db.queryAs(RowLocks, MySqlKill.rowLocksSql(true), [id])).pipe(Effect.provide(agent()), Effect.map((rows) => rows[0]))
      const [blocker, lone, waiter] = yield* Effect.promise(async () => {
        const admin = await openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? "")
        await admin.q(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
        await admin.q(`REPLACE INTO ${table} VALUES (1, 0), (2, 0)`)
        const b = await openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? "")
        await b.q("BEGIN")
        await b.q(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`)
        const l = await openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? "")
        await l.q("BEGIN")
        await l.q(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`)
        const w = await openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? "")
        await w.q("SET SESSION innodb_lock_wait_timeout = 30")
        void w.q(`UPDATE ${table} SET v = v + 1 WHERE id = 1`).catch(() => undefined)
        return [b, l, w] as const
      })
      try {
        let b: typeof RowLocks.Type | undefined
        yield* Effect.promise(() =>
          eventually(async () => {
            b = await Effect.runPromise(read(blocker.id))
            return b?.blocks === 1
          }, 5_000, "the waiter queued on the blocker", 150))
        assert.deepStrictEqual(b, { rows_locked: 1, rows_modified: 0, blocks: 1 })
        assert.deepStrictEqual(yield* read(lone.id), { rows_locked: 1, rows_modified: 0, blocks: 0 })
        // the waiter's own (waiting) lock counts as a locked row; it blocks nobody
        assert.deepStrictEqual(yield* read(waiter.id), { rows_locked: 1, rows_modified: 0, blocks: 0 })
        // and both are refused by the decision the re-check applies: one for blocking, one for its rows
        assert.isTrue(MySqlKill.holdsRowLocks(b!))
      } finally {
        yield* Effect.promise(() => closeAllMySql())
      }
    }), 30_000)
})
