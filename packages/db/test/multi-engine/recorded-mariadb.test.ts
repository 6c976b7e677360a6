/**
 * db.pool.multi-engine's golden plans from recorded MariaDB incidents: `mariadb --batch` exports
 * of the real MariaDB 10.11 (`test/fixtures/recordings/mariadb-*`, re-recorded by
 * `record-mariadb.ts`; SOURCE.md tells each story) decoded by `MySqlRecording` into the facts
 * `MultiEngineFacts.mysql` builds, classified and planned by the runbook's own parts. Near misses
 * edit one recorded cell or drop recorded rows, on both sides of each threshold.
 * `BYTEPORT_UPDATE_GOLDEN=1` rewrites the golden files.
 */
import { Classification, Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as PoolExhaustion from "../../src/detectors/PoolExhaustion"
import * as MultiEngineClassifier from "../../src/runbooks/multi-engine/Classifier"
import type * as MultiEngineFacts from "../../src/runbooks/multi-engine/Facts"
import * as MultiEngineRemediator from "../../src/runbooks/multi-engine/Remediator"
import { MySqlRecording, Table } from "../../src/testing/index"

const here = path.dirname(fileURLToPath(import.meta.url))
const RECORDINGS = path.join(here, "../fixtures/recordings")

/** The recording's exports, parsed (so a near miss can edit them). */
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

/** One cell set in the rows `match` selects. */
const setCell = (t: Table.Table, match: (r: Readonly<Record<string, Table.Cell>>) => boolean, column: string, value: string): Table.Table => ({
  ...t,
  rows: t.rows.map((r) => (match(r) ? { ...r, [column]: value } : r))
})
const dropRows = (t: Table.Table, match: (r: Readonly<Record<string, Table.Cell>>) => boolean): Table.Table => ({ ...t, rows: t.rows.filter((r) => !match(r)) })
const variable = (t: Table.Table, name: string, value: number) => setCell(t, (r) => r["Variable_name"] === name, "Value", String(value))
const inIds = (ids: ReadonlyArray<number>, column: string) => (r: Readonly<Record<string, Table.Cell>>) => ids.includes(Number(r[column]))

const classify = (e: Exports) =>
  Effect.map(MySqlRecording.multiEngineFacts(e), (facts) => ({ facts, c: MultiEngineClassifier.classifier()(facts) }))
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const known = <A>(f: Fact.Fact<A> | undefined): A => {
  if (f === undefined || f._tag !== "Known") throw new Error("not known")
  return f.value
}

const INCIDENTS: ReadonlyArray<{ readonly name: string; readonly class: string; readonly why: string }> = [
  { name: "mariadb-leak", class: "idle_in_transaction_leak", why: "6 threads Sleep inside a transaction past 30 s (≥ 3)" },
  { name: "mariadb-busy", class: "undersized_pool", why: "12 / 13 threads (92 % ≥ 85 %), one idle transaction, no statement past 120 s, no trend" }
]

describe("db.pool.multi-engine: golden plans from recorded MariaDB incidents (BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const incident of INCIDENTS) {
    it.effect(`${incident.name} → ${incident.class}`, () =>
      Effect.gen(function*() {
        const { facts, c } = yield* classify(yield* load(incident.name))
        assert.strictEqual(classOf(c), incident.class, incident.why)
        if (c._tag !== "Classified") return
        const signal = Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target: TargetRef.make("database", `recorded/${incident.name}`), observedAt: 0, evidence: {} })
        const plan = yield* MultiEngineRemediator.planOf(c, facts, signal)
        const byId = new Map(known(facts.sessions).map((s) => [s.id, s]))
        for (const { action } of Plan.actions(plan.root)) {
          const s = byId.get(`mysql:${String(action.params["id"] ?? action.params["pid"])}`)
          if (s === undefined) continue
          assert.isFalse(s.superuser, `superuser ${s.id} named`)
          assert.notStrictEqual(s.user, "byteport_admin")
        }
        Testing.expectPlan(plan, path.join(here, "golden", "recorded", `${incident.name}.plan.txt`))
      }))
  }

  it.effect("the decoded facts are the recorded state: exporter left out, utilization 12 / 13, the superuser known, idle ages from TIME_MS", () =>
    Effect.gen(function*() {
      const { facts } = yield* classify(yield* load("mariadb-leak"))
      const sessions: ReadonlyArray<MultiEngineFacts.EngineSession> = known(facts.sessions)
      assert.deepStrictEqual(sessions.map((s) => s.id), [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((i) => `mysql:${i}`))
      assert.deepStrictEqual(known(facts.utilization), { ratio: 12 / 13, connections: 12, max: 13 })
      assert.deepStrictEqual(sessions.filter((s) => s.superuser).map((s) => s.id), ["mysql:9"])
      assert.deepStrictEqual(sessions.filter((s) => s.state === "idle_in_transaction").map((s) => s.id), [10, 11, 12, 13, 14, 15].map((i) => `mysql:${i}`))
      assert.strictEqual(sessions.find((s) => s.id === "mysql:10")!.idleMs, 42100.701)
      assert.strictEqual(sessions.find((s) => s.id === "mysql:19")!.state, "active")
      assert.deepStrictEqual(known(facts.ceiling), { kind: "max_connections", engine: "mysql", value: 13 })
    }))
})

describe("db.pool.multi-engine near misses on the recorded MariaDB exports", () => {
  it.effect("idle-in-transaction leak: 2 threads idle in a transaction past 30 s is not (undersized pool at 92 %), 3 is", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      // the transactions of readers 12..15 ended: their INNODB_TRX rows gone
      const two = { ...e, innodbTrx: dropRows(e.innodbTrx, inIds([12, 13, 14, 15], "trx_mysql_thread_id")) }
      const three = { ...e, innodbTrx: dropRows(e.innodbTrx, inIds([13, 14, 15], "trx_mysql_thread_id")) }
      assert.strictEqual(classOf((yield* classify(two)).c), "undersized_pool")
      assert.strictEqual(classOf((yield* classify(three)).c), "idle_in_transaction_leak")
    }))
  it.effect("idle for exactly 30 s is not past 30 s: three readers at 30 000 ms → no leak, at 30 001 ms → leak", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-leak")
      const base = { ...e, innodbTrx: dropRows(e.innodbTrx, inIds([10, 11, 12], "trx_mysql_thread_id")) } // readers 13, 14, 15 left
      const at = (ms: string) => ({ ...base, processlist: setCell(base.processlist, inIds([13, 14, 15], "ID"), "TIME_MS", ms) })
      assert.strictEqual(classOf((yield* classify(at("30000.000"))).c), "undersized_pool")
      assert.strictEqual(classOf((yield* classify(at("30001.000"))).c), "idle_in_transaction_leak")
    }))
  it.effect("undersized pool: Threads_connected 84 of 100 → no class, 85 of 100 → undersized_pool", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-busy")
      const at = (threads: number) => ({ ...e, status: variable(e.status, "Threads_connected", threads), variables: variable(e.variables, "max_connections", 100) })
      assert.strictEqual(classOf((yield* classify(at(84))).c), "Unclassified")
      assert.strictEqual(classOf((yield* classify(at(85))).c), "undersized_pool")
    }))
  it.effect("long-running query: two recorded SLEEPs at 120 000 ms → not, at 120 001 ms → long_running_query", () =>
    Effect.gen(function*() {
      const e = yield* load("mariadb-busy")
      const at = (ms: string) => ({ ...e, processlist: setCell(e.processlist, inIds([27, 28], "ID"), "TIME_MS", ms) })
      assert.strictEqual(classOf((yield* classify(at("120000.000"))).c), "undersized_pool")
      assert.strictEqual(classOf((yield* classify(at("120001.000"))).c), "long_running_query")
    }))
})
