/**
 * `@byteport/db/testing` `MySqlRecording`: MariaDB's `mariadb --batch` exports decode as the
 * probes read the live server. The `mariadb-leak` / `mariadb-busy` recordings were exported from
 * the real MariaDB 10.11 (`test/fixtures/recordings/record-mariadb.ts`); the small tables below
 * are real-shaped exports for the edge cases (escapes, NULL, no rows, missing parts), and every
 * bad input names file, row and column.
 */
import { Fact } from "@byteport/core"
import { DecodeError, MySqlRecording, Table } from "@byteport/db/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/recordings")
const leak = (file: string) => path.join(dir, "mariadb-leak", file)
const recording = (name: string): MySqlRecording.Recording => {
  const f = (file: string) => path.join(dir, name, file)
  return {
    processlist: f("processlist.tsv"),
    innodbTrx: f("innodb_trx.tsv"),
    lockWaits: f("innodb_lock_waits.tsv"),
    privileges: f("user_privileges.tsv"),
    status: f("global_status.tsv"),
    variables: f("global_variables.tsv"),
    clock: f("clock.tsv")
  }
}

const PL_HEADER = "ID\tUSER\tHOST\tDB\tCOMMAND\tTIME\tSTATE\tINFO\tTIME_MS\tQUERY_ID"
const tsv = (file: string, ...lines: ReadonlyArray<string>) => Table.parse(file, lines.join("\n") + "\n")

describe("MySqlRecording: the real MariaDB 10.11 recordings", () => {
  it.effect("threads as MySqlActivity reads them: exporter left out, transactions joined, times from TIME_MS and the clock export", () =>
    Effect.gen(function*() {
      const d = yield* MySqlRecording.decode(recording("mariadb-leak"))
      assert.strictEqual(d.capturedAt, 1796679876247) // UNIX_TIMESTAMP(NOW(6)) of clock.tsv, to the millisecond
      assert.deepStrictEqual(d.threads.map((t) => t.id), [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]) // not 21, the export's own thread
      const holder = d.threads.find((t) => t.id === 10)!
      assert.deepStrictEqual(
        [holder.user, holder.host, holder.db, holder.command, holder.time_s, holder.command_ms, holder.trx_id, holder.trx_state, holder.trx_rows_locked, holder.query_id, holder.info],
        ["rec_cart", "127.0.0.1:60188", "appdb", "Sleep", 42, 42100.701, "32", "RUNNING", 1, "43", null]
      )
      assert.strictEqual(holder.command_started_ms, Math.round(d.capturedAt - 42100.701))
      // trx_started is printed without a zone (the session's, SYSTEM = UTC here): placed by the clock export
      assert.strictEqual(holder.trx_started?.toISOString(), "2026-12-07T21:43:54.000Z")
      assert.strictEqual(holder.trx_age_s, 42)
      // read-only transactions show trx_id 0 on MariaDB 10.6+: still a transaction
      assert.deepStrictEqual(d.threads.filter((t) => t.trx_id === "0").map((t) => t.id), [11, 12, 13, 14, 15])
      assert.deepStrictEqual(d.lockWaits, [{ waiting_id: 19, blocking_id: 10, wait_ms: d.capturedAt - Date.parse("2026-12-07T21:44:00Z") }])
      assert.deepStrictEqual([...d.privileges.superusers].sort(), ["byteport_admin", "byteport_agent", "root"]) // SUPER or CONNECTION ADMIN
      assert.deepStrictEqual([d.threadsConnected, d.maxConnections, d.own], [12, 13, 1])
      const waiter = d.sessions.find((s) => s.pid === 19)!
      assert.deepStrictEqual([waiter.state, waiter.wait_event_type, waiter.blocking_pids, waiter.query], ["active", "Lock", [10], "UPDATE rec_carts SET v = v + 1 WHERE id = 1"])
    }))

  it.effect("six-class facts: utilization Threads_connected / max_connections, pgbouncer null, a one-sample trend", () =>
    Effect.gen(function*() {
      const f = yield* MySqlRecording.facts(recording("mariadb-busy"))
      assert.deepStrictEqual(f.utilization, Fact.known({ engine: "mysql" as const, ratio: 12 / 13, clientBackends: 12, available: 13 }))
      assert.deepStrictEqual(f.pgbouncer, Fact.known(null))
      const trend = f.idleInTxTrend._tag === "Known" ? f.idleInTxTrend.value : undefined
      assert.deepStrictEqual(trend?.samples, [1])
      const sessions = f.sessions._tag === "Known" ? f.sessions.value : []
      assert.deepStrictEqual(sessions.filter((s) => s.state === "active").map((s) => [s.pid, s.query_age_ms]), [[27, 40095.824], [28, 39089.785], [29, 38087.035], [30, 37079.205]])
    }))

  it.effect("missing parts: no INNODB_TRX → no transactions; no USER_PRIVILEGES → everyone a superuser; no status → utilization Unknown", () =>
    Effect.gen(function*() {
      const d = yield* MySqlRecording.decode({ processlist: leak("processlist.tsv"), clock: leak("clock.tsv") })
      assert.isTrue(d.threads.every((t) => t.trx_id === null))
      assert.isTrue(d.sessions.every((s) => s.rolsuper))
      assert.deepStrictEqual(d.rowLockHolders, [])
      const f = yield* MySqlRecording.saturationFacts({ processlist: leak("processlist.tsv"), clock: leak("clock.tsv") })
      assert.strictEqual(f.utilization._tag, "Unknown")
      const m = yield* MySqlRecording.multiEngineFacts({ processlist: leak("processlist.tsv"), capturedAt: 0 })
      assert.strictEqual(m.utilization._tag, "Unknown")
    }))
})

describe("MySqlRecording: --batch exports", () => {
  it.effect("escapes undone, NULL read as null, an empty file is no rows, MySQL's PROCESSLIST without TIME_MS uses TIME", () =>
    Effect.gen(function*() {
      const t = yield* tsv("pl.tsv", PL_HEADER, "7\tapp\t10.0.0.7:5000\tNULL\tQuery\t3\tSending data\tSELECT 'a\\tb'\\nFROM t WHERE p = 'c:\\\\x'\t3001.5\t12")
      const r = Table.row(t, 0)
      assert.strictEqual(r.stringOrNull("INFO"), "SELECT 'a\tb'\nFROM t WHERE p = 'c:\\x'")
      assert.isNull(r.stringOrNull("DB"))
      const empty = yield* Table.parse("waits.tsv", "")
      assert.deepStrictEqual([empty.format, empty.rows.length], ["tsv", 0])
      const mysql = yield* tsv("mysql8.tsv", "ID\tUSER\tHOST\tDB\tCOMMAND\tTIME\tSTATE\tINFO", "7\tapp\t10.0.0.7:5000\tshop\tSleep\t45\t\tNULL")
      const d = yield* MySqlRecording.decode({ processlist: mysql, capturedAt: 1_000_000 })
      assert.deepStrictEqual([d.threads[0]!.command_ms, d.threads[0]!.command_started_ms, d.threads[0]!.query_id], [45_000, 955_000, null])
      // MySQL 8's lock waits come from performance_schema.data_lock_waits
      const trx8 = yield* tsv("trx8.tsv", "trx_id\ttrx_state\ttrx_started\ttrx_mysql_thread_id\ttrx_rows_locked\ttrx_rows_modified", "1301\tRUNNING\t2026-12-07 21:00:00\t7\t0\t0", "1302\tLOCK WAIT\t2026-12-07 21:00:01\t8\t1\t0")
      const waits8 = yield* tsv("waits8.tsv", "ENGINE\tREQUESTING_ENGINE_TRANSACTION_ID\tBLOCKING_ENGINE_TRANSACTION_ID", "INNODB\t1302\t1301")
      const pl8 = yield* tsv("pl8.tsv", "ID\tUSER\tHOST\tDB\tCOMMAND\tTIME\tSTATE\tINFO", "7\tapp\th\tshop\tSleep\t45\t\tNULL", "8\tapp\th\tshop\tQuery\t44\tupdating\tUPDATE t SET v = 1 WHERE id = 1")
      const d8 = yield* MySqlRecording.decode({ processlist: pl8, innodbTrx: trx8, lockWaits: waits8, capturedAt: Date.parse("2026-12-07T21:00:45Z") })
      assert.deepStrictEqual(d8.lockWaits.map((w) => [w.waiting_id, w.blocking_id]), [[8, 7]])
      assert.deepStrictEqual(d8.rowLockHolders, [7, 8]) // 7 blocks (0 rows locked), 8 locks the row it waits for
    }))

  it.effect("bad inputs name file, row and column", () =>
    Effect.gen(function*() {
      const bad = yield* tsv("pl.tsv", PL_HEADER, "7\tapp\th\tdb\tSleep\tsoon\t\tNULL\t1.0\t1")
      const e1 = yield* Effect.flip(MySqlRecording.decode({ processlist: bad, capturedAt: 0 }))
      assert.instanceOf(e1, DecodeError)
      assert.deepStrictEqual([e1.file, e1.row, e1.column], ["pl.tsv", 1, "TIME"])
      const e2 = yield* Effect.flip(tsv("pl.tsv", PL_HEADER, "7\tapp"))
      assert.deepStrictEqual([e2.file, e2.row], ["pl.tsv", 1])
      const e3 = yield* Effect.flip(MySqlRecording.decode({ processlist: leak("processlist.tsv") }))
      assert.include(e3.message, "no capture time")
      const e4 = yield* Effect.flip(MySqlRecording.decode({ processlist: leak("innodb_trx.tsv"), capturedAt: 0 }))
      assert.include(e4.message, "not a information_schema.PROCESSLIST export")
      const trx = yield* tsv("trx.tsv", "trx_id\ttrx_state\ttrx_started\ttrx_mysql_thread_id\ttrx_rows_locked\ttrx_rows_modified", "5\tRUNNING\tyesterday\t7\t0\t0")
      const e5 = yield* Effect.flip(MySqlRecording.decode({ processlist: leak("processlist.tsv"), innodbTrx: trx, capturedAt: 0 }))
      assert.deepStrictEqual([e5.file, e5.row, e5.column], ["trx.tsv", 1, "trx_started"])
      const e6 = yield* Effect.flip(Table.parse("x.tsv", "a\tb\n1\t\\q\n"))
      assert.deepStrictEqual([e6.row, e6.message.includes("lone backslash")], [1, true])
    }))
})
