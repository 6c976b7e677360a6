import { Fact, Signal, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import type { PoolFacts } from "../src/diagnosers/PoolDiagnoser"
import * as PoolDiagnoser from "../src/diagnosers/PoolDiagnoser"
import type { PgSession } from "../src/probes/PgActivity"
import * as Utilization from "../src/Utilization"

const NOW = 1_800_000_000_000
let nextPid = 1000
const session = (over: Partial<PgSession> = {}): PgSession => ({
  pid: nextPid++, usename: "app", rolsuper: false, datname: "appdb", application_name: "web", client_addr: "10.0.0.5",
  backend_start: new Date(NOW - 3_600_000), xact_start: null, query_start: new Date(NOW - 1_000), state_change: new Date(NOW - 1_000),
  state: "idle", wait_event_type: "Client", wait_event: "ClientRead", query: "SELECT 1", query_id: null, blocking_pids: [],
  backend_start_us: "1", xact_start_us: null, query_start_us: "1", xact_age_ms: null, query_age_ms: 1_000, state_age_ms: 1_000,
  ...over
})
const idleTx = (ageMs: number, app = "web") =>
  session({ state: "idle in transaction", state_age_ms: ageMs, xact_age_ms: ageMs + 10, application_name: app })
const running = (ageMs: number, query = "SELECT * FROM big") =>
  session({ state: "active", query_age_ms: ageMs, wait_event: null, wait_event_type: null, query })

const facts = (over: Partial<{ [K in keyof PoolFacts]: Fact.Fact<PoolFacts[K]> }> = {}): Fact.Facts<PoolFacts> => ({
  utilization: Fact.known(Utilization.postgresOf(40, 100, 3)),
  sessions: Fact.known([session(), session()]),
  idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([2, 2, 2], NOW)),
  lastDeploy: Fact.known(null),
  pgbouncer: Fact.known(null),
  poolSettings: Fact.known(null),
  ...over
})
const classify = PoolSixClass.classifier()
const classOf = (f: Fact.Facts<PoolFacts>) => {
  const c = classify(f)
  return c._tag === "Classified" ? `${c.class}@${c.confidence}` : c._tag
}

describe("db.pool.six-class classifier", () => {
  it("each class fires on its own evidence with the seed's confidence", () => {
    assert.strictEqual(classOf(facts({
      lastDeploy: Fact.known({ sha: "abc123", at: NOW - 600_000 }),
      idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([1, 3, 6], NOW)),
      sessions: Fact.known([idleTx(31_000), idleTx(2_000), idleTx(500)])
    })), "leak_after_deploy@0.88")
    assert.strictEqual(classOf(facts({ sessions: Fact.known([idleTx(31_000), idleTx(45_000), idleTx(90_000)]) })), "idle_in_tx_backlog@0.91")
    assert.strictEqual(classOf(facts({ sessions: Fact.known([running(121_000), running(130_000, "SELECT 2")]) })), "long_running_query@0.85")
    assert.strictEqual(classOf(facts({ sessions: Fact.known([running(601_000)]) })), "long_running_query@0.85")
    assert.strictEqual(classOf(facts({ pgbouncer: Fact.known({ waiting: 3, pools: [] }) })), "missing_pgbouncer@0.8")
    assert.strictEqual(classOf(facts({ sessions: Fact.known(Array.from({ length: 15 }, () => session({ application_name: "nightly-cron-report" }))) })), "runaway_cron_fanout@0.82")
    assert.strictEqual(classOf(facts({ utilization: Fact.known(Utilization.postgresOf(83, 100, 3)) })), "undersized_pool@0.75")
  })

  it("thresholds sit where the seed and the rulings put them", () => {
    assert.strictEqual(classOf(facts({ sessions: Fact.known([idleTx(31_000), idleTx(45_000), idleTx(29_000)]) })), "Unclassified")
    assert.strictEqual(classOf(facts({ sessions: Fact.known([running(121_000)]) })), "Unclassified")
    assert.strictEqual(classOf(facts({ sessions: Fact.known([running(119_000), running(119_500)]) })), "Unclassified")
    assert.strictEqual(classOf(facts({ pgbouncer: Fact.known({ waiting: 0, pools: [] }) })), "Unclassified")
    // 15 connections of an ordinary web pool are not a fan-out; 14 batch connections are not enough
    assert.strictEqual(classOf(facts({ sessions: Fact.known(Array.from({ length: 15 }, () => session({ application_name: "web-frontend" }))) })), "Unclassified")
    assert.strictEqual(classOf(facts({ sessions: Fact.known(Array.from({ length: 14 }, () => session({ application_name: "sync-worker" }))) })), "Unclassified")
    assert.strictEqual(classOf(facts({ utilization: Fact.known(Utilization.postgresOf(82, 100, 3)) })), "Unclassified")
    // a deploy two hours ago, or a flat trend, is not a leak after deploy
    assert.strictEqual(classOf(facts({ lastDeploy: Fact.known({ sha: "old", at: NOW - 7_200_000 }), idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([1, 3, 6], NOW)) })), "Unclassified")
    assert.strictEqual(classOf(facts({ lastDeploy: Fact.known({ sha: "new", at: NOW - 60_000 }), idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([6, 3, 6], NOW)) })), "Unclassified")
    const tuned = PoolSixClass.classifier({ idleInTxMs: 10_000, idleInTxMinSessions: 2 })
    const c = tuned(facts({ sessions: Fact.known([idleTx(11_000), idleTx(12_000)]) }))
    assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "idle_in_tx_backlog")
  })

  it("a rising count of sessions idle in transaction for milliseconds after a deploy is churn, not a leak (replay corpus: deploy-recent-transaction-churn)", () => {
    const after = (sessions: ReadonlyArray<ReturnType<typeof idleTx>>) =>
      classify(facts({ lastDeploy: Fact.known({ sha: "3d5e8c2", at: NOW - 1_200_000 }), idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([1, 2, 4], NOW)), sessions: Fact.known(sessions) }))
    const churn = after([idleTx(21), idleTx(9), idleTx(3), idleTx(1)])
    assert.strictEqual(churn._tag, "Unclassified")
    assert.isTrue(churn.reasons.length > 0)
    const leakRule = PoolSixClass.rules()[0]!
    const res = leakRule.when({ lastDeploy: { sha: "3d5e8c2", at: NOW - 1_200_000 }, idleInTxTrend: PoolDiagnoser.trendOf([1, 2, 4], NOW), sessions: [idleTx(21), idleTx(9)] } as never)
    assert.isFalse(typeof res === "boolean" ? res : res.matched)
    assert.match(typeof res === "boolean" ? "" : (res.reasons ?? []).join("; "), /0 session\(s\) idle in transaction for more than 30 s \(none left behind: transaction churn, not a leak\)/)
    // both sides of the threshold: one at 29.9 s is still churn, one at 31 s was left behind
    assert.strictEqual(after([idleTx(29_900), idleTx(9), idleTx(3)])._tag, "Unclassified")
    const leak = after([idleTx(31_000), idleTx(9), idleTx(3)])
    assert.strictEqual(leak._tag === "Classified" ? leak.class : leak._tag, "leak_after_deploy")
  })

  it("first match follows the seed's order, not confidence; an Unknown fact ahead of a match is Indeterminate", () => {
    // idle_in_tx_backlog (0.91) and undersized_pool both hold: the earlier rule wins
    const both = facts({
      sessions: Fact.known([idleTx(40_000), idleTx(40_000), idleTx(40_000)]),
      utilization: Fact.known(Utilization.postgresOf(95, 100, 3))
    })
    assert.strictEqual(classOf(both), "idle_in_tx_backlog@0.91")
    // long_running_query (0.85) is reached before missing_pgbouncer (0.80)
    assert.strictEqual(classOf(facts({ sessions: Fact.known([running(700_000)]), pgbouncer: Fact.known({ waiting: 9, pools: [] }) })), "long_running_query@0.85")
    const c = classify(facts({ sessions: Fact.unknown("pg_stat_activity", "DbConnectionError: refused"), utilization: Fact.known(Utilization.postgresOf(95, 100, 3)) }))
    assert.strictEqual(c._tag, "Indeterminate")
    const evidence = classify(both)
    assert.deepStrictEqual(evidence._tag === "Classified" ? Object.keys(evidence.evidence).sort() : [], ["applications", "pids"])
  })

  it("deploy markers come from the signal's evidence by default", () => {
    const s = Signal.make({ type: "db.pool.exhaustion", target: TargetRef.make("database", "orders/appdb"), observedAt: NOW, evidence: { lastDeploy: { sha: "f00d", at: NOW - 5 } } })
    assert.deepStrictEqual(PoolDiagnoser.deployFromEvidence(s), { sha: "f00d", at: NOW - 5 })
    assert.isNull(PoolDiagnoser.deployFromEvidence({ ...s, evidence: {} }))
    assert.isTrue(PoolDiagnoser.trendOf([1, 1, 2], NOW).rising)
    assert.isFalse(PoolDiagnoser.trendOf([3], NOW).rising)
  })
})
