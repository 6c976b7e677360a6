/**
 * db.pool.multi-engine's golden plans from MongoDB `currentOp` output in its real shape: the
 * fixtures `test/fixtures/recordings/mongodb-docs-*` are HAND-ASSEMBLED from MongoDB's documented
 * output fields (no mongod runs here; SOURCE.md says how), serialized as mongosh's
 * `EJSON.stringify` prints them (canonical and relaxed), decoded by `MongoRecording` (through
 * `MongoActivity.decodeOp`, the probe's own decoder) into the facts `MultiEngineFacts.mongodb`
 * builds, classified and planned by the runbook's own parts. Near misses edit one field, on both
 * sides of each threshold. `BYTEPORT_UPDATE_GOLDEN=1` rewrites the golden files.
 */
import { Classification, Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { DecodeError, MongoRecording } from "@byteport/db/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { BSON } from "mongodb"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as PoolExhaustion from "../../src/detectors/PoolExhaustion"
import * as MultiEngineClassifier from "../../src/runbooks/multi-engine/Classifier"
import * as MultiEngineRemediator from "../../src/runbooks/multi-engine/Remediator"

const here = path.dirname(fileURLToPath(import.meta.url))
const RECORDINGS = path.join(here, "../fixtures/recordings")
const file = (name: string, f: string) => path.join(RECORDINGS, name, f)
const recording = (name: string): MongoRecording.Recording => ({ currentOp: file(name, "currentOp.json"), serverStatus: file(name, "serverStatus.json") })

/** The currentOp reply as a plain JSON value (its Extended JSON text, parsed without BSON types), for edits. */
const raw = (name: string): { inprog: Array<Record<string, any>> } => JSON.parse(fs.readFileSync(file(name, "currentOp.json"), "utf8"))
const edited = (name: string, edit: (inprog: Array<Record<string, any>>) => void): MongoRecording.Recording => {
  const r = raw(name)
  edit(r.inprog)
  return { currentOp: { text: JSON.stringify(r), file: `${name}/currentOp.json (edited)` }, serverStatus: file(name, "serverStatus.json") }
}

const known = <A>(f: Fact.Fact<A> | undefined): A => {
  if (f === undefined || f._tag !== "Known") throw new Error("not known")
  return f.value
}
const classify = (r: MongoRecording.Recording) =>
  Effect.map(MongoRecording.multiEngineFacts(r), (facts) => ({ facts, c: MultiEngineClassifier.classifier()(facts) }))
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

const INCIDENTS: ReadonlyArray<{ readonly name: string; readonly class: string; readonly kinds: ReadonlyArray<string>; readonly why: string }> = [
  { name: "mongodb-docs-idle-txn", class: "idle_in_transaction_leak", kinds: ["mongo.killSessions", "mongo.killSessions", "mongo.killSessions"], why: "three sessions idle inside a transaction past 30 s (95, 61, 44 s)" },
  { name: "mongodb-docs-long-ops", class: "long_running_query", kinds: ["mongo.killOp", "mongo.killOp"], why: "two operations past 120 s (340 s, 125 s)" }
]

describe("db.pool.multi-engine: golden plans from MongoDB currentOp output (documented shape; BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const incident of INCIDENTS) {
    it.effect(`${incident.name} → ${incident.class}`, () =>
      Effect.gen(function*() {
        const { facts, c } = yield* classify(recording(incident.name))
        assert.strictEqual(classOf(c), incident.class, incident.why)
        if (c._tag !== "Classified") return
        const signal = Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target: TargetRef.make("database", `recorded/${incident.name}`), observedAt: 0, evidence: {} })
        const plan = yield* MultiEngineRemediator.planOf(c, facts, signal)
        const actions = Plan.actions(plan.root).map((a) => a.action)
        assert.deepStrictEqual(actions.map((a) => a.kind), incident.kinds)
        // BytePort's own operation is never named
        for (const a of actions) assert.notStrictEqual(a.params["opid"], 9001)
        Testing.expectPlan(plan, path.join(here, "golden", "recorded", `${incident.name}.plan.txt`))
      }))
  }

  it.effect("canonical EJSON ($numberInt / $numberLong / $binary) decodes as the probe reads a live reply: session ids as hex, micros to seconds, own connection not counted", () =>
    Effect.gen(function*() {
      const d = yield* MongoRecording.decode(recording("mongodb-docs-idle-txn"))
      const idle = d.ops.filter((o) => o.type === "idleSession")
      assert.deepStrictEqual(idle.map((o) => [o.lsid, o.txnNumber, o.txnIdleSecs, o.appName]), [
        ["eb3477368c7e4ca78c7ba43b8e61cd16", 7, 95, "cart-service"],
        ["c1a0e6a23f7b4e0c9a550d6f4f1b2c01", 3, 61, "cart-service"],
        ["5d2b9e0f71c44b8aa3e26c9f0a1b2c02", 12, 44, "cart-service"],
        ["9a7c3d110b2e4f5a8c6d7e8f9a0b1c03", 1, 12, "cart-service"]
      ])
      assert.deepStrictEqual(d.utilization, { current: 88, own: 1, max: 100, ratio: 0.87 })
      const find = d.ops.find((o) => o.opid === 9105)!
      assert.deepStrictEqual([find.active, find.secsRunning, find.ns, find.commandName, find.user, find.client], [true, 2.104511, "shop.orders", "find", "orders", "10.42.0.21:51021"])
      assert.notInclude(find.commandShape ?? "", "c-1029") // values never kept
      const facts = yield* MongoRecording.multiEngineFacts(recording("mongodb-docs-idle-txn"))
      assert.isFalse(known(facts.sessions).some((s) => s.application === "byteport-agent"))
      assert.deepStrictEqual(known(facts.ceiling), { kind: "mongodb", maxIncomingConnections: 100, maxPoolSize: null })
    }))

  it.effect("relaxed EJSON (plain numbers, $date as text) decodes the same fields; the capture time is the newest currentOpTime", () =>
    Effect.gen(function*() {
      const d = yield* MongoRecording.decode(recording("mongodb-docs-long-ops"))
      assert.deepStrictEqual(d.ops.filter((o) => o.active && o.appName !== "byteport-agent").map((o) => [o.opid, o.secsRunning]), [[9201, 340.512345], [9202, 125.004001], [9203, 119.870222]])
      assert.strictEqual(d.capturedAt, Date.parse("2026-12-07T21:30:00Z"))
    }))
})

describe("db.pool.multi-engine near misses on the MongoDB currentOp output", () => {
  it.effect("idle-in-transaction leak: the third session idle 30 000 000 µs (exactly 30 s) → not a leak, 30 000 001 µs → leak", () =>
    Effect.gen(function*() {
      const at = (micros: string) =>
        edited("mongodb-docs-idle-txn", (inprog) => {
          inprog[3]!["transaction"]["timeInactiveMicros"] = { $numberLong: micros }
        })
      assert.strictEqual(classOf((yield* classify(at("30000000"))).c), "undersized_pool")
      assert.strictEqual(classOf((yield* classify(at("30000001"))).c), "idle_in_transaction_leak")
    }))
  it.effect("long-running: the second operation at exactly 120 s → not (one past 120 s, none past 10 min), 120.000001 s → long_running_query", () =>
    Effect.gen(function*() {
      const at = (micros: number) =>
        edited("mongodb-docs-long-ops", (inprog) => {
          inprog[2]!["microsecs_running"] = micros
        })
      assert.strictEqual(classOf((yield* classify(at(120_000_000))).c), "Unclassified")
      assert.strictEqual(classOf((yield* classify(at(120_000_001))).c), "long_running_query")
    }))
  it.effect("one operation past 10 minutes alone is long-running: 600 s → not, 600.000001 s → yes", () =>
    Effect.gen(function*() {
      const at = (micros: number) =>
        edited("mongodb-docs-long-ops", (inprog) => {
          inprog[1]!["microsecs_running"] = micros
          inprog[2]!["microsecs_running"] = 1_000_000
        })
      assert.strictEqual(classOf((yield* classify(at(600_000_000))).c), "Unclassified")
      assert.strictEqual(classOf((yield* classify(at(600_000_001))).c), "long_running_query")
    }))
  it.effect("undersized pool: 84 of 100 connections (one own) → nothing, 86 of 100 → undersized_pool", () =>
    Effect.gen(function*() {
      const status = (current: number) => {
        const s = BSON.EJSON.parse(fs.readFileSync(file("mongodb-docs-long-ops", "serverStatus.json"), "utf8")) as Record<string, any>
        s["connections"] = { ...s["connections"], current, available: 100 - current }
        return { value: s }
      }
      const noLong = edited("mongodb-docs-long-ops", (inprog) => {
        for (const o of inprog) if (o["microsecs_running"] !== undefined) o["microsecs_running"] = 1_000
      })
      assert.strictEqual(classOf((yield* classify({ ...noLong, serverStatus: status(85) })).c), "Unclassified") // (85 − 1) / 100
      assert.strictEqual(classOf((yield* classify({ ...noLong, serverStatus: status(86) })).c), "undersized_pool") // 85 / 100
    }))
})

describe("MongoRecording: bad output names the file, the entry and the field", () => {
  it.effect("retyped fields, a missing inprog, a string session id, broken Extended JSON", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(MongoRecording.decode(edited("mongodb-docs-long-ops", (inprog) => {
        inprog[1]!["microsecs_running"] = "long"
      })))
      assert.instanceOf(e1, DecodeError)
      assert.deepStrictEqual([e1.row, e1.column], [2, "microsecs_running"])
      const e2 = yield* Effect.flip(MongoRecording.decode(edited("mongodb-docs-idle-txn", (inprog) => {
        inprog[2]!["lsid"] = { id: "eb347736" }
      })))
      assert.deepStrictEqual([e2.row, e2.column], [3, "lsid.id"])
      const e3 = yield* Effect.flip(MongoRecording.decode(edited("mongodb-docs-idle-txn", (inprog) => {
        inprog[1]!["transaction"]["timeInactiveMicros"] = { nope: 1 }
      })))
      assert.deepStrictEqual([e3.row, e3.column], [2, "transaction.timeInactiveMicros"])
      const e4 = yield* Effect.flip(MongoRecording.decode({ currentOp: { value: { ok: 1 }, file: "reply.json" } }))
      assert.deepStrictEqual([e4.file, e4.column], ["reply.json", "inprog"])
      const e5 = yield* Effect.flip(MongoRecording.decode({ currentOp: { text: "{\"inprog\": [{\"opid\": {\"$numberLong\": 12}}]}", file: "bad.json" } }))
      assert.strictEqual(e5.file, "bad.json")
      const e6 = yield* Effect.flip(MongoRecording.decode(edited("mongodb-docs-long-ops", (inprog) => {
        inprog[1]!["active"] = "yes"
      })))
      assert.deepStrictEqual([e6.row, e6.column], [2, "active"])
      // no serverStatus: the utilization is Unknown, the sessions are known
      const f = yield* MongoRecording.multiEngineFacts({ currentOp: file("mongodb-docs-idle-txn", "currentOp.json") })
      assert.strictEqual(f.utilization._tag, "Unknown")
      assert.strictEqual(known(f.sessions).length, 8)
    }))
})
