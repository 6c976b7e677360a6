/**
 * db.replica.lag without servers: the lag definition (LSNs on both servers), the detector's
 * hold at the seed's 30 s / 60 s with near misses from recorded psql exports, the classifier's
 * rules in the seed's order, golden plans per class, and the plan's "nevers" as properties.
 */
import { Classification, Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as path from "node:path"
import * as ReplicaLagClassifier from "../../src/classifiers/ReplicaLag"
import * as Detector from "../../src/detectors/ReplicaLag"
import type { ReplicaLagFacts } from "../../src/diagnosers/ReplicaLagDiagnoser"
import type { PgSession } from "../../src/probes/PgActivity"
import * as ReplicaLag from "../../src/probes/ReplicaLag"
import * as Remediator from "../../src/remediators/ReplicaLagRemediator"
import * as ReplicaRecording from "../../src/testing/ReplicaRecording"
import * as Table from "../../src/testing/Table"

const here = path.dirname(new URL(import.meta.url).pathname)
const fixture = (name: string) => path.join(here, "fixtures", name)

describe("ReplicaLag.lagOf / LagTracker (time since the primary first reached an LSN the replica has not replayed)", () => {
  it("an idle primary, everything replayed: 0 however long nothing happens (not now() − last replay timestamp)", () => {
    const t = ReplicaLag.makeTracker()
    for (let k = 0; k < 100; k++) {
      const lag = t.record({ at: k * 60_000, primaryLsn: "0/3000100", receiveLsn: "0/3000100", replayLsn: "0/3000100" })
      assert.strictEqual(lag.lagMs, 0)
    }
    assert.isAtMost(t.size(), 2, "replayed samples are pruned")
  })

  it("a stall: the lag counts from the first poll that saw the primary past the replayed LSN, and keeps growing while frozen", () => {
    const t = ReplicaLag.makeTracker()
    t.record({ at: 0, primaryLsn: "0/3000100", receiveLsn: "0/3000100", replayLsn: "0/3000100" })
    assert.strictEqual(t.record({ at: 1_000, primaryLsn: "0/3000200", receiveLsn: "0/3000200", replayLsn: "0/3000100" }).lagMs, 0)
    assert.strictEqual(t.record({ at: 5_000, primaryLsn: "0/3000300", receiveLsn: "0/3000300", replayLsn: "0/3000100" }).lagMs, 4_000)
    // the primary goes idle: the frozen replica's lag still grows (replay_lag would stay frozen)
    const l = t.record({ at: 65_000, primaryLsn: "0/3000300", receiveLsn: "0/3000300", replayLsn: "0/3000100" })
    assert.strictEqual(l.lagMs, 64_000)
    assert.strictEqual(l.unreplayedBytes, 0x200)
    assert.strictEqual(l.unreceivedBytes, 0)
    // replay passes 0/3000200: the lag now counts from the poll that saw 0/3000300
    assert.strictEqual(t.record({ at: 66_000, primaryLsn: "0/3000300", receiveLsn: "0/3000300", replayLsn: "0/3000250" }).lagMs, 61_000)
    assert.strictEqual(t.record({ at: 67_000, primaryLsn: "0/3000300", receiveLsn: "0/3000300", replayLsn: "0/3000300" }).lagMs, 0)
  })

  it("a fresh tracker cannot look back further than its first sample (sinceFirstSample)", () => {
    const t = ReplicaLag.makeTracker()
    const first = t.record({ at: 10_000, primaryLsn: "1/0", receiveLsn: "0/FFFFFF00", replayLsn: "0/FFFFFF00" })
    assert.isTrue(first.sinceFirstSample)
    assert.strictEqual(first.lagMs, 0)
    assert.strictEqual(first.unreceivedBytes, 0x100, "LSN arithmetic across the 32-bit boundary")
    assert.strictEqual(t.record({ at: 20_000, primaryLsn: "1/0", receiveLsn: "1/0", replayLsn: "0/FFFFFF00" }).lagMs, 10_000)
  })

  it("LSNs: parse, diff, reject garbage", () => {
    assert.strictEqual(ReplicaLag.lsnToBigInt("16/B374D848"), (0x16n << 32n) + 0xB374D848n)
    assert.strictEqual(ReplicaLag.lsnDiff("0/10", "0/20"), 0)
    assert.throws(() => ReplicaLag.lsnToBigInt("16B374D848"))
  })
})

describe("detector hold: > 30 s for > 60 s", () => {
  const lag = (at: number, lagMs: number): ReplicaLag.Lag => ({ at, lagMs, sinceFirstSample: false, primaryLsn: "0/2", receiveLsn: "0/2", replayLsn: "0/1", unreceivedBytes: 0, unreplayedBytes: 1 })
  it("exactly 30 s is not over; exactly 60 s held is not more; a dip restarts the count", () => {
    let s: Detector.HoldState = { overSince: undefined }
    const step = (at: number, l: number) => {
      const r = Detector.step(s, lag(at, l))
      s = r.state
      return r
    }
    assert.isFalse(step(0, 30_000).fires)
    assert.strictEqual(s.overSince, undefined)
    assert.isFalse(step(1_000, 30_001).fires)
    assert.isFalse(step(61_000, 40_000).fires, "held exactly 60 s")
    assert.isTrue(step(61_001, 40_000).fires)
    assert.isFalse(step(62_000, 29_000).fires)
    assert.isFalse(step(100_000, 90_000).fires, "the count restarted")
  })

  it.effect("recorded polls: lag 31 s held 59 s → no signal; held 61 s → a signal at the 61st second; lag 29 s for 2 minutes → none", () =>
    Effect.gen(function*() {
      const at59 = ReplicaRecording.replay(yield* ReplicaRecording.samples(fixture("lag31_held59.csv")))
      assert.isFalse(at59.some((r) => r.fires))
      assert.closeTo(at59.at(-1)!.heldMs, 59_000, 5)
      assert.closeTo(at59.at(-1)!.lag.lagMs, 31_000, 5)
      const at61 = ReplicaRecording.replay(yield* ReplicaRecording.samples(fixture("lag31_held61.csv")))
      assert.deepStrictEqual(at61.flatMap((r, i) => (r.fires ? [i] : [])), [102])
      assert.closeTo(at61[102]!.heldMs, 61_000, 5)
      const at29 = ReplicaRecording.replay(yield* ReplicaRecording.samples(fixture("lag29_held120.csv")))
      assert.isFalse(at29.some((r) => r.fires))
      assert.closeTo(Math.max(...at29.map((r) => r.lag.lagMs)), 29_000, 5)
      // lowered by configuration, the same recording fires
      assert.isTrue(ReplicaRecording.replay(yield* ReplicaRecording.samples(fixture("lag29_held120.csv")), { thresholdMs: 28_000 }).some((r) => r.fires))
    }))

  it.effect("a malformed recording fails naming file, row and column", () =>
    Effect.gen(function*() {
      const t = yield* Table.parse("bad.csv", "at,primary_lsn,receive_lsn,replay_lsn\n2026-12-07 14:00:00+00,0/1,0/1,0/1\n2026-12-07 14:00:01+00,zz,0/1,0/1\n")
      const e = yield* Effect.flip(ReplicaRecording.samples(t))
      assert.strictEqual(e._tag, "DecodeError")
      assert.strictEqual(e.row, 2)
      assert.strictEqual(e.column, "primary_lsn")
    }))
})

// ---------------------------------------------------------------------------------------- classification

const session = (over: Partial<PgSession> & { readonly pid: number }): PgSession => ({
  usename: "app",
  rolsuper: false,
  datname: "appdb",
  application_name: "reports",
  client_addr: "10.0.0.7",
  backend_start: null,
  xact_start: null,
  query_start: null,
  state_change: null,
  state: "idle in transaction",
  wait_event_type: "Client",
  wait_event: "ClientRead",
  query: "SELECT count(*) FROM orders WHERE region = 'eu'",
  query_id: null,
  blocking_pids: [],
  backend_start_us: `17650000000000${over.pid}`,
  xact_start_us: `17650000100000${over.pid}`,
  query_start_us: `17650000100000${over.pid}`,
  xact_age_ms: 95_000,
  query_age_ms: 95_000,
  state_age_ms: 95_000,
  ...over
})

const baseFacts: ReplicaLagFacts = {
  lag: { at: 1_765_100_000_000, lagMs: 95_000, sinceFirstSample: false, primaryLsn: "0/5000000", receiveLsn: "0/5000000", replayLsn: "0/3000000", unreceivedBytes: 0, unreplayedBytes: 0x2000000 },
  standby: { pid: 77, application_name: "walreceiver", client_addr: "10.0.0.9", state: "streaming", sync_state: "async", sent_lsn: "0/5000000", write_lsn: "0/5000000", flush_lsn: "0/5000000", replay_lsn: "0/3000000", write_lag_ms: 1.2, flush_lag_ms: 1.5, replay_lag_ms: 94_000, reply_age_ms: 800 },
  receiver: { status: "streaming", written_lsn: "0/5000000", flushed_lsn: "0/5000000", latest_end_lsn: "0/5000000", last_msg_age_ms: 300, sender_host: "10.0.0.8", sender_port: 5432 },
  startup: { pid: 29333, samples: 10, counts: { "Lock/relation": 10 }, lock: 10, io: 0, conflict: 0, other: 0 },
  replayPaused: false,
  blockers: [session({ pid: 4101 })],
  snapshotBlockers: [],
  primaryWriters: [],
  conflicts: [{ datname: "appdb", tablespace: 0, lock: 0, snapshot: 0, bufferpin: 0, deadlock: 0 }],
  settings: { max_standby_streaming_delay: "-1", max_standby_archive_delay: "30s", hot_standby_feedback: "off", wal_receiver_status_interval: "10s" },
  ioPressure: { someAvg10: 0.5, someAvg60: 0.3, fullAvg10: 0.1, fullAvg60: 0.05 }
}

const FACTS: Record<string, ReplicaLagFacts> = {
  standby_queries_block_replay: baseFacts,
  network_latency: {
    ...baseFacts,
    lag: { ...baseFacts.lag, receiveLsn: "0/3000000", unreceivedBytes: 0x2000000, unreplayedBytes: 0 },
    standby: { ...baseFacts.standby!, write_lsn: "0/3000000", reply_age_ms: 41_000, write_lag_ms: 38_000 },
    receiver: { ...baseFacts.receiver!, last_msg_age_ms: 40_000 },
    startup: { pid: 29333, samples: 10, counts: { "Activity/RecoveryWalStream": 10 }, lock: 0, io: 0, conflict: 0, other: 0 },
    blockers: []
  },
  disk_io_saturation: {
    ...baseFacts,
    startup: { pid: 29333, samples: 10, counts: { "IO/WALRead": 6, "IO/DataFileRead": 2, CPU: 2 }, lock: 0, io: 8, conflict: 0, other: 0 },
    blockers: [],
    ioPressure: { someAvg10: 62.4, someAvg60: 48.1, fullAvg10: 40.2, fullAvg60: 31 }
  },
  primary_statement_floods_wal: {
    ...baseFacts,
    startup: { pid: 29333, samples: 10, counts: { CPU: 7, "IO/WALRead": 3 }, lock: 0, io: 3, conflict: 0, other: 0 },
    blockers: [],
    primaryWriters: [session({ pid: 5201, state: "active", application_name: "backfill", query: "UPDATE orders SET total = total * 1.1 WHERE id > 100", query_age_ms: 600_000, wait_event_type: null, wait_event: null })]
  },
  replay_paused: {
    ...baseFacts,
    replayPaused: true,
    startup: { pid: 29333, samples: 10, counts: { "IPC/RecoveryPause": 10 }, lock: 0, io: 0, conflict: 0, other: 10 },
    blockers: []
  }
}

const known = (f: ReplicaLagFacts): Fact.Facts<ReplicaLagFacts> =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Fact.known(v)])) as unknown as Fact.Facts<ReplicaLagFacts>

const replica = TargetRef.make("database", "orders-replica-1")
const primary = TargetRef.make("database", "orders-primary")
const signal: Signal.Signal = Signal.make({ type: Detector.SIGNAL_TYPE, target: replica, observedAt: 1_765_100_000_000, evidence: { primary: { kind: primary.kind, ref: primary.ref }, lagMs: 95_000 } })
const classify = ReplicaLagClassifier.classifier()

describe("ReplicaLag classifier (seed's order) and golden plans", () => {
  const expected: Record<string, [string, number, string | undefined]> = {
    standby_queries_block_replay: ["long_running_queries_on_primary", 0.9, "standby_queries_block_replay"],
    network_latency: ["network_latency", 0.85, "network"],
    disk_io_saturation: ["disk_io_saturation", 0.8, "disk_io"],
    primary_statement_floods_wal: ["long_running_queries_on_primary", 0.75, "primary_statement_floods_wal"]
  }
  for (const [name, [cls, confidence, cause]] of Object.entries(expected)) {
    it(`${name} → ${cls} (${confidence}); golden plan`, () => {
      const c = classify(known(FACTS[name]!))
      assert.strictEqual(c._tag, "Classified", JSON.stringify(c))
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, cls)
      assert.strictEqual(c.confidence, confidence)
      assert.strictEqual(c.evidence["cause"], cause)
      const plan = Remediator.planOf(c, known(FACTS[name]!), signal)
      Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
    })
  }

  it("standby conflict: the blocker is terminated on the replica's target, nothing on the primary", () => {
    const c = classify(known(FACTS.standby_queries_block_replay!)) as Classification.Classified
    const acts = Plan.actions(Remediator.planOf(c, known(FACTS.standby_queries_block_replay!), signal).root)
    assert.deepStrictEqual(acts.map((a) => [a.action.kind, a.action.target.ref, a.action.params["pid"]]), [["pg.terminateBackend", "orders-replica-1", 4101]])
  })

  it("snapshot conflict (IPC/RecoveryConflictSnapshot): the snapshot holder older than the lag is terminated, a younger one is not", () => {
    const facts: ReplicaLagFacts = {
      ...baseFacts,
      startup: { pid: 29333, samples: 10, counts: { "IPC/RecoveryConflictSnapshot": 10 }, lock: 0, io: 0, conflict: 10, other: 0 },
      blockers: [],
      snapshotBlockers: [session({ pid: 4201, xact_age_ms: 120_000 }), session({ pid: 4202, xact_age_ms: 20_000 })]
    }
    const c = classify(known(facts)) as Classification.Classified
    assert.strictEqual(c.class, "long_running_queries_on_primary")
    assert.strictEqual(c.evidence["cause"], "standby_queries_block_replay")
    assert.deepStrictEqual(Plan.actions(Remediator.planOf(c, known(facts), signal).root).map((a) => a.action.params["pid"]), [4201])
    // only younger snapshots: nobody to blame, no class (escalate)
    assert.strictEqual(classify(known({ ...facts, snapshotBlockers: [session({ pid: 4202, xact_age_ms: 20_000 })] }))._tag, "Unclassified")
  })

  it("WAL flood: cancelled on the primary only with cancelPrimaryQueries (golden)", () => {
    const c = classify(known(FACTS.primary_statement_floods_wal!)) as Classification.Classified
    const plan = Remediator.planOf(c, known(FACTS.primary_statement_floods_wal!), signal, { cancelPrimaryQueries: true })
    assert.deepStrictEqual(Plan.actions(plan.root).map((a) => [a.action.kind, a.action.target.ref, a.action.params["pid"]]), [["pg.cancelBackend", "orders-primary", 5201]])
    Testing.expectPlan(plan, path.join(here, "golden", "primary_statement_floods_wal.cancel.plan.txt"))
  })

  it("near misses: replay paused on purpose is no class (not disk I/O); IO waits in 4 of 10 looks are not disk I/O; a writer on the primary keeps the network rule off", () => {
    assert.strictEqual(classify(known(FACTS.replay_paused!))._tag, "Unclassified")
    const fewIo = { ...FACTS.disk_io_saturation!, startup: { pid: 1, samples: 10, counts: { "IO/WALRead": 4, CPU: 6 }, lock: 0, io: 4, conflict: 0, other: 0 } }
    assert.strictEqual(classify(known(fewIo))._tag, "Unclassified")
    assert.strictEqual((classify(known({ ...fewIo, startup: { ...fewIo.startup, io: 5 } })) as Classification.Classified).class, "disk_io_saturation")
    const netWithWriter = { ...FACTS.network_latency!, primaryWriters: FACTS.primary_statement_floods_wal!.primaryWriters }
    const c = classify(known(netWithWriter)) as Classification.Classified
    assert.strictEqual(c.evidence["cause"], "primary_statement_floods_wal")
  })

  it("an unknown fact the first rule needs is Indeterminate, never a later class", () => {
    const f = { ...known(FACTS.network_latency!), receiver: Fact.unknown("receiver", "timed out") } as Fact.Facts<ReplicaLagFacts>
    assert.strictEqual(classify(f)._tag, "Indeterminate")
  })
})

describe("property: what a db.replica.lag plan never does", () => {
  const arbSession = fc.record({
    pid: fc.integer({ min: 100, max: 99_999 }),
    rolsuper: fc.boolean(),
    application_name: fc.constantFrom("reports", "pgbouncer", "PgAdmin 4", "admin-proxy-1", "etl", ""),
    usename: fc.constantFrom("app", "pgbouncer", "analyst", null)
  }).map((s) => session(s))
  const arbFacts = fc.record({
    blockers: fc.uniqueArray(arbSession, { selector: (s) => s.pid, maxLength: 8 }),
    writers: fc.uniqueArray(arbSession.map((s) => ({ ...s, state: "active" })), { selector: (s) => s.pid, maxLength: 3 }),
    lock: fc.integer({ min: 0, max: 10 }),
    conflict: fc.integer({ min: 0, max: 3 }),
    snapshot: fc.uniqueArray(arbSession, { selector: (s) => s.pid, maxLength: 4 }),
    io: fc.integer({ min: 0, max: 10 }),
    unreceived: fc.integer({ min: 0, max: 1 << 26 }),
    unreplayed: fc.integer({ min: 0, max: 1 << 26 }),
    paused: fc.boolean(),
    streaming: fc.boolean(),
    cancel: fc.boolean(),
    max: fc.integer({ min: 0, max: 10 })
  }).map((a) => ({
    ...a,
    // one server holds one session per pid: a snapshot holder never shares a pid with a lock blocker
    // on the same replica (the generator drew them apart; seed -1578454775 drew pid 106 twice)
    snapshot: a.snapshot.filter((s) => !a.blockers.some((b) => b.pid === s.pid))
  }))

  it("never a superuser or protected session; never more than the cap; never the primary for a standby blocker; never a cancel without cancelPrimaryQueries; network / disk never act", () => {
    fc.assert(fc.property(arbFacts, (a) => {
      const facts: ReplicaLagFacts = {
        ...baseFacts,
        lag: { ...baseFacts.lag, unreceivedBytes: a.unreceived, unreplayedBytes: a.unreplayed },
        receiver: a.streaming ? baseFacts.receiver : null,
        startup: { pid: 1, samples: 10, counts: {}, lock: a.lock, io: Math.min(a.io, 10 - a.lock), conflict: a.conflict, other: 0 },
        replayPaused: a.paused,
        blockers: a.blockers,
        snapshotBlockers: a.snapshot,
        primaryWriters: a.writers
      }
      const c = classify(known(facts))
      if (c._tag !== "Classified") return true
      const plan = Remediator.planOf(c, known(facts), signal, { cancelPrimaryQueries: a.cancel, maxTerminationsPerIncident: a.max })
      const acts = Plan.actions(plan.root).map((x) => x.action)
      // pids are per server: a standby blocker and a primary writer may share one
      const onReplica = new Map([...a.blockers, ...a.snapshot].map((s) => [s.pid, s]))
      const onPrimary = new Map(a.writers.map((s) => [s.pid, s]))
      for (const act of acts) {
        const s = (act.target.ref === replica.ref ? onReplica : onPrimary).get(Number(act.params["pid"]))
        if (s === undefined) return false
        if (s.rolsuper) return false
        if (["pgbouncer", "pgadmin", "admin-proxy"].some((p) => s.application_name.toLowerCase().startsWith(p))) return false
        if (s.usename === "pgbouncer") return false
        if (act.kind === "pg.terminateBackend" && act.target.ref !== replica.ref) return false
        if (act.kind === "pg.cancelBackend" && (!a.cancel || act.target.ref !== primary.ref)) return false
      }
      if (acts.filter((x) => x.kind === "pg.terminateBackend").length > a.max) return false
      if ((c.class === "network_latency" || c.class === "disk_io_saturation") && acts.length > 0) return false
      return true
    }), { numRuns: 300 })
  })
})
