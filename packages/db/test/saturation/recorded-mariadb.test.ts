/**
 * db.connections.saturation's golden plans from recorded MariaDB incidents: `mariadb --batch`
 * exports of the real MariaDB 10.11 (`test/fixtures/recordings/mariadb-*`, re-recorded by
 * `record-mariadb.ts`; SOURCE.md tells each story) decoded by `MySqlRecording` into the facts
 * `SaturationDiagnoser.mysql` builds ((Threads_connected − own) / max_connections, the threads as
 * sessions, the row-lock holders from INNODB_TRX + INNODB_LOCK_WAITS), classified and planned
 * by the runbook's own parts (`engine: "mysql"`). Near misses edit one recorded cell or drop
 * recorded rows, on both sides of each threshold. `BYTEPORT_UPDATE_GOLDEN=1` rewrites the goldens.
 */
import { Classification, Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ConnectionSaturation from "../../src/classifiers/ConnectionSaturation"
import * as Detector from "../../src/detectors/ConnectionSaturation"
import * as SaturationRemediator from "../../src/remediators/SaturationRemediator"
import { MySqlRecording, Table } from "../../src/testing/index"

const here = path.dirname(fileURLToPath(import.meta.url))
const RECORDINGS = path.join(here, "../fixtures/recordings")

const load = (name: string) =>
  Effect.gen(function*() {
    const f = (file: string) => Table.read(path.join(RECORDINGS, name, file))
    return {
      processlist: yield* f("processlist.tsv"),
      innodbTrx: yield* f("innodb_trx.tsv"),
      lockWaits: yield* f("innodb_lock_waits.tsv"),
      privileges: yield* f("user_privileges.tsv"),
      status: yield* f("global_status.tsv"),
      variables: yield* f("global_variables.tsv"),
      clock: yield* f("clock.tsv")
    }
  })

type Exports = Effect.Success<ReturnType<typeof load>>
type RowOf = Readonly<Record<string, Table.Cell>>

const setCell = (t: Table.Table, match: (r: RowOf) => boolean, column: string, value: string): Table.Table => ({
  ...t,
  rows: t.rows.map((r) => (match(r) ? { ...r, [column]: value } : r))
})
const dropRows = (t: Table.Table, match: (r: RowOf) => boolean): Table.Table => ({ ...t, rows: t.rows.filter((r) => !match(r)) })
const variable = (t: Table.Table, name: string, value: number) => setCell(t, (r) => r["Variable_name"] === name, "Value", String(value))
const inIds = (ids: ReadonlyArray<number>, column: string) => (r: RowOf) => ids.includes(Number(r[column]))

const known = <A>(f: Fact.Fact<A> | undefined): A => {
  if (f === undefined || f._tag !== "Known") throw new Error("not known")
  return f.value
}
const classify = (e: Exports) =>
  Effect.map(MySqlRecording.saturationFacts(e), (facts) => ({ facts, c: ConnectionSaturation.classifier()(facts) }))
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const fires = (e: Exports) => Effect.map(MySqlRecording.saturationFacts(e), (f) => Detector.fires(known(f.utilization)))

/** The recorded incidents, their class and the threads the plan must kill (set from SOURCE.md, not from the code). */
const INCIDENTS: ReadonlyArray<{ readonly name: string; readonly class: string; readonly kills: ReadonlyArray<number>; readonly why: string }> = [
  {
    name: "mariadb-leak",
    class: "connection_leak",
    kills: [11],
    why: "6 of 10 idle threads inside a transaction past 30 s; the longest (10) holds FOR UPDATE with a waiter (19), so the next (11) goes"
  },
  { name: "mariadb-busy", class: "load_driven_saturation", kills: [], why: "1 of 7 idle threads inside a transaction; four SLEEP statements running" }
]

describe("db.connections.saturation: golden plans from recorded MariaDB incidents (BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const incident of INCIDENTS) {
    it.effect(`${incident.name} → ${incident.class}`, () =>
      Effect.gen(function*() {
        const e = yield* load(incident.name)
        assert.isTrue(yield* fires(e), "11 of 13 (84.6 %) is past 80 %")
        const { facts, c } = yield* classify(e)
        assert.strictEqual(classOf(c), incident.class, incident.why)
        if (c._tag !== "Classified") return
        const signal = Signal.make({ type: Detector.SIGNAL_TYPE, target: TargetRef.make("database", `recorded/${incident.name}`), observedAt: 0, evidence: {} })
        const plan = SaturationRemediator.planOf(c, facts, signal, { engine: "mysql" })
        const named = Plan.actions(plan.root).map((a) => Number(a.action.params["id"]))
        const holders = known(facts.rowLockHolders)
        const byId = new Map(known(facts.sessions).map((s) => [s.pid, s]))
        for (const id of named) {
          assert.isFalse(byId.get(id)!.rolsuper, `superuser ${id} named`)
          assert.notInclude(holders, id, `row-lock holder ${id} named`)
        }
        for (const a of Plan.actions(plan.root)) {
          assert.strictEqual(a.action.kind, "mysql.killConnection")
          assert.strictEqual(a.action.params["noRowLocks"], true)
        }
        assert.deepStrictEqual(named, incident.kills)
        Testing.expectPlan(plan, path.join(here, "golden", `${incident.name}.plan.txt`))
      }))
  }

  it.effect("the recorded reading and row-lock holders: (12 − 1 exporter) / 13; holder 10 and its waiter 19 (it locks the row it waits for)", () =>
    Effect.gen(function*() {
      const { facts } = yield* classify(yield* load("mariadb-leak"))
      const u = known(facts.utilization)
      assert.deepStrictEqual(u, { engine: "mysql", threadsConnected: 12, clientBackends: 11, own: 1, maxConnections: 13, ratio: 11 / 13 })
      assert.deepStrictEqual(known(facts.rowLockHolders), [10, 19])
      const waiter = known(facts.sessions).find((s) => s.pid === 19)!
      assert.deepStrictEqual([waiter.state, waiter.wait_event_type, waiter.blocking_pids], ["active", "Lock", [10]])
      assert.deepStrictEqual(ConnectionSaturation.leakShareOf(known(facts.sessions)), { stale: 6, idle: 10, share: 0.6 })
    }))
})

describe("db.connections.saturation near misses on the recorded MariaDB exports", () => {
  it.effect("detection: (Threads_connected − 1) / max_connections 79 / 100 and 80 / 100 do not fire, 81 / 100 fires", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      const at = (threads: number) => fires({ ...e, status: variable(e.status, "Threads_connected", threads), variables: variable(e.variables, "max_connections", 100) })
      assert.deepStrictEqual([yield* at(80), yield* at(81), yield* at(82)], [false, false, true])
    }))
  it.effect("leak share: 5 of 10 idle threads stale (50 %) is load-driven, 5 of 9 (56 %) is a leak", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      // reader 15's transaction ended (its INNODB_TRX row gone): 5 stale of 10 idle
      const half = { ...e, innodbTrx: dropRows(e.innodbTrx, inIds([15], "trx_mysql_thread_id")) }
      assert.strictEqual(classOf((yield* classify(half)).c), "load_driven_saturation")
      // and idle thread 18 disconnected: 5 of 9
      const more = { ...half, processlist: dropRows(half.processlist, inIds([18], "ID")) }
      assert.strictEqual(classOf((yield* classify(more)).c), "connection_leak")
    }))
  it.effect("the 30 s edge: stale readers idle exactly 30 000 ms are not stale (load-driven), at 30 001 ms they are (leak)", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      const at = (ms: string) => ({ ...e, processlist: setCell(e.processlist, inIds([10, 11, 12, 13, 14, 15], "ID"), "TIME_MS", ms) })
      assert.strictEqual(classOf((yield* classify(at("30000.000"))).c), "load_driven_saturation")
      assert.strictEqual(classOf((yield* classify(at("30001.000"))).c), "connection_leak")
    }))
  it.effect("every idle-in-transaction thread holding row locks → nothing killed, an escalation naming them", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      const locked = { ...e, innodbTrx: setCell(e.innodbTrx, inIds([11, 12, 13, 14, 15], "trx_mysql_thread_id"), "trx_rows_locked", "1") }
      const { facts, c } = yield* classify(locked)
      assert.strictEqual(classOf(c), "connection_leak")
      if (c._tag !== "Classified") return
      const plan = SaturationRemediator.planOf(c, facts, Signal.make({ type: Detector.SIGNAL_TYPE, target: TargetRef.make("database", "recorded/mariadb-leak"), observedAt: 0, evidence: {} }), { engine: "mysql" })
      assert.deepStrictEqual(Plan.actions(plan.root), [])
      assert.include(plan.summary, "10, 11, 12, 13, 14, 15")
    }))
})
