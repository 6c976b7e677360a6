/**
 * Lock-chain resolution ("cancel the blocker, not the queue"): table tests of who is acted on,
 * who is left alone and what is reported, with the near misses on both sides of every rule; then
 * the plans the remediator builds from them, and the MySQL mapping of InnoDB lock waits.
 */
import { Fact, Plan, Signal, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import * as MySqlPoolDiagnoser from "../src/diagnosers/MySqlPoolDiagnoser"
import type { PoolFacts } from "../src/diagnosers/PoolDiagnoser"
import * as PoolDiagnoser from "../src/diagnosers/PoolDiagnoser"
import type { PgSession } from "../src/probes/PgActivity"
import type { MySqlSession } from "../src/probes/MySqlActivity"
import * as PoolRemediator from "../src/remediators/PoolRemediator"
import * as LockChain from "../src/sessions/LockChain"
import * as Utilization from "../src/Utilization"

const NOW = 1_800_000_000_000
const S = 1_000
const session = (pid: number, over: Partial<PgSession> = {}): PgSession => ({
  pid, usename: "app", rolsuper: false, datname: "appdb", application_name: "web", client_addr: "10.0.0.5",
  backend_start: new Date(NOW - 3_600_000), xact_start: null, query_start: new Date(NOW - 1_000), state_change: new Date(NOW - 1_000),
  state: "idle", wait_event_type: "Client", wait_event: "ClientRead", query: "SELECT 1", query_id: null, blocking_pids: [],
  backend_start_us: `${pid}000`, xact_start_us: null, query_start_us: `${pid}001`, xact_age_ms: null, query_age_ms: 1_000, state_age_ms: 1_000,
  lock_wait_ms: null,
  ...over
})
/** An active statement running `ageS` seconds, not waiting. */
const running = (pid: number, ageS: number, query = "SELECT * FROM orders_report") =>
  session(pid, { state: "active", wait_event_type: null, wait_event: null, query_age_ms: ageS * S, state_age_ms: ageS * S, query })
/** An active statement running `ageS` seconds, waiting on `blockers` for the last `waitS` seconds (null: unknown). */
const waiting = (pid: number, ageS: number, blockers: ReadonlyArray<number>, waitS: number | null = ageS, query = "SELECT * FROM orders WHERE id = $1") =>
  session(pid, {
    state: "active", wait_event_type: "Lock", wait_event: "relation", query_age_ms: ageS * S, state_age_ms: ageS * S,
    blocking_pids: [...blockers], lock_wait_ms: waitS === null ? null : waitS * S, query
  })
const idleTx = (pid: number, ageS: number) =>
  session(pid, { state: "idle in transaction", state_age_ms: ageS * S, xact_age_ms: ageS * S + 10, xact_start_us: `${pid}002` })

const BUDGET = { budgetMs: 120 * S, idleInTxMs: 30 * S }
const resolve = (sessions: ReadonlyArray<PgSession>) => LockChain.resolve(sessions, BUDGET)
const acted = (r: LockChain.Resolution) => r.act.map((d) => `${d.action}:${d.session.pid}:${d.reason}`)
const alone = (r: LockChain.Resolution) => r.leftAlone.map((w) => w.session.pid).sort((a, b) => a - b)

/** The chain: a report holding a lock, an ALTER waiting on it, reads waiting on the ALTER. */
const classicChain = (reportS = 400, reads = 10) => [
  running(100, reportS),
  waiting(101, 300, [100], 299, "ALTER TABLE orders ADD COLUMN note text"),
  ...Array.from({ length: reads }, (_, i) => waiting(200 + i, 290 - i * 10, [101], 290 - i * 10))
]

describe("LockChain.resolve", () => {
  it("the report ← ALTER ← reads chain: one cancel, the root; the ALTER and the reads are reported, left alone", () => {
    const r = resolve(classicChain())
    assert.deepStrictEqual(acted(r), ["cancel:100:root_blocker"])
    assert.strictEqual(r.act[0]!.waiters, 11)
    assert.deepStrictEqual(alone(r), [101, ...Array.from({ length: 10 }, (_, i) => 200 + i)])
    assert.lengthOf(r.chains, 1)
    assert.strictEqual(r.chains[0]!.root, 100)
    assert.strictEqual(r.chains[0]!.depth, 2)
    assert.strictEqual(r.chains[0]!.waiters[0], 101) // the ALTER is nearest the root
    assert.deepStrictEqual(r.leftAlone.find((w) => w.session.pid === 205)?.waitsOn, [100])
    assert.deepStrictEqual(r.unresolved, [])
    assert.deepStrictEqual(r.cycles, [])
    assert.deepStrictEqual(LockChain.describe(r), [`root 100 ← 11 waiter(s): 101, ${Array.from({ length: 10 }, (_, i) => 200 + i).join(", ")}`])
  })

  const table: ReadonlyArray<{ readonly name: string; readonly sessions: ReadonlyArray<PgSession>; readonly act: ReadonlyArray<string>; readonly alone: ReadonlyArray<number>; readonly unresolved?: ReadonlyArray<number>; readonly cycles?: ReadonlyArray<ReadonlyArray<number>> }> = [
    {
      name: "a waiter over budget on its own account (500 s, 100 s of it waiting) is cancelled too",
      sessions: [running(1, 400), waiting(2, 500, [1], 100), waiting(3, 300, [1], 299)],
      act: ["cancel:1:root_blocker", "cancel:2:own_budget"],
      alone: [3]
    },
    {
      name: "near miss: a waiter with 119 s of its own is left alone",
      sessions: [running(1, 400), waiting(2, 419, [1], 300)],
      act: ["cancel:1:root_blocker"],
      alone: [2]
    },
    {
      name: "near miss: 121 s of its own is over budget",
      sessions: [running(1, 400), waiting(2, 421, [1], 300)],
      act: ["cancel:1:root_blocker", "cancel:2:own_budget"],
      alone: []
    },
    {
      name: "a waiter whose lock wait start is unknown is never charged",
      sessions: [running(1, 400), waiting(2, 1_000, [1], null)],
      act: ["cancel:1:root_blocker"],
      alone: [2]
    },
    {
      name: "two independent roots: both cancelled, the one with more waiters first",
      sessions: [running(1, 200), waiting(2, 150, [1]), running(10, 500), waiting(11, 150, [10]), waiting(12, 140, [10])],
      act: ["cancel:10:root_blocker", "cancel:1:root_blocker"],
      alone: [2, 11, 12]
    },
    {
      name: "a blocker under budget: nobody is cancelled, its waiters are left alone and it is reported",
      sessions: [running(1, 60), waiting(2, 300, [1], 299), waiting(3, 250, [2], 249)],
      act: [],
      alone: [2, 3],
      unresolved: [1]
    },
    {
      name: "near miss: a blocker at 121 s is cancelled",
      sessions: [running(1, 121), waiting(2, 121, [1])],
      act: ["cancel:1:root_blocker"],
      alone: [2]
    },
    {
      name: "a cycle (a deadlock in the making) has no root: left to the server, reported; its waiter left alone",
      sessions: [waiting(1, 300, [2]), waiting(2, 300, [1]), waiting(3, 200, [1])],
      act: [],
      alone: [1, 2, 3],
      cycles: [[1, 2]]
    },
    {
      name: "a cycle member over budget on its own account is still cancelled",
      sessions: [waiting(1, 400, [2], 10), waiting(2, 300, [1])],
      act: ["cancel:1:own_budget"],
      alone: [2],
      cycles: [[1, 2]]
    },
    {
      name: "a root idle in transaction past 30 s is terminated (a cancel would not release its locks)",
      sessions: [idleTx(1, 45), waiting(2, 200, [1]), waiting(3, 150, [2])],
      act: ["terminate:1:idle_root_blocker"],
      alone: [2, 3]
    },
    {
      name: "near miss: a root idle in transaction for 20 s is not terminated",
      sessions: [idleTx(1, 20), waiting(2, 200, [1])],
      act: [],
      alone: [2],
      unresolved: [1]
    },
    {
      name: "an idle-in-transaction session that blocks nobody is not this rule's business",
      sessions: [idleTx(1, 45), running(2, 200)],
      act: ["cancel:2:over_budget"],
      alone: []
    },
    {
      name: "a root outside the sessions read (e.g. autovacuum) is reported, its waiters left alone",
      sessions: [waiting(2, 200, [999]), waiting(3, 200, [2])],
      act: [],
      alone: [2, 3],
      unresolved: [999]
    },
    {
      name: "no chains: every statement over budget is cancelled, longest first (unchanged)",
      sessions: [running(1, 130), running(2, 700), running(3, 60)],
      act: ["cancel:2:over_budget", "cancel:1:over_budget"],
      alone: []
    },
    {
      name: "a waiter with two blockers counts for both roots",
      sessions: [running(1, 300), running(2, 90), waiting(3, 200, [1, 2])],
      act: ["cancel:1:root_blocker"],
      alone: [3],
      unresolved: [2]
    }
  ]
  for (const row of table) {
    it(row.name, () => {
      const r = resolve(row.sessions)
      assert.deepStrictEqual(acted(r), [...row.act])
      assert.deepStrictEqual(alone(r), [...row.alone])
      assert.deepStrictEqual(r.unresolved.map((u) => u.root), [...(row.unresolved ?? [])])
      assert.deepStrictEqual(r.cycles, (row.cycles ?? []).map((c) => [...c]))
    })
  }

  it("own time: the whole statement when not waiting, minus the current lock wait when waiting", () => {
    assert.strictEqual(LockChain.ownMs(running(1, 50)), 50 * S)
    assert.strictEqual(LockChain.ownMs(waiting(2, 50, [1], 20)), 30 * S)
    assert.isNull(LockChain.ownMs(waiting(2, 50, [1], null)))
    assert.isNull(LockChain.ownMs(idleTx(3, 50)))
    // rows recorded before lock_wait_ms existed decode without it: a waiter's own time is unknown
    const { lock_wait_ms: _, ...old } = waiting(4, 50, [1], 20)
    assert.isNull(LockChain.ownMs(old as PgSession))
  })
})

const target = TargetRef.make("database", "orders/appdb")
const signal = Signal.make({ type: "db.pool.exhaustion", target, observedAt: NOW, evidence: {} })
const facts = (sessions: ReadonlyArray<PgSession>, engine: "postgres" | "mysql" = "postgres"): Fact.Facts<PoolFacts> => ({
  utilization: Fact.known(engine === "postgres" ? Utilization.postgresOf(90, 100, 3) : { engine: "mysql", ratio: 0.9, clientBackends: 90, available: 100 }),
  sessions: Fact.known(sessions),
  idleInTxTrend: Fact.known(PoolDiagnoser.trendOf([0, 0], NOW)),
  lastDeploy: Fact.known(null),
  pgbouncer: Fact.known(null),
  poolSettings: Fact.known(null)
})
const planFor = (sessions: ReadonlyArray<PgSession>, engine: "postgres" | "mysql" = "postgres") => {
  const f = facts(sessions, engine)
  const c = PoolSixClass.classifier()(f)
  if (c._tag !== "Classified") throw new Error(`unclassified: ${c._tag}`)
  assert.strictEqual(c.class, "long_running_query")
  return { plan: PoolRemediator.planOf(c, f, signal), classification: c }
}
const escalations = (step: Plan.Step): Array<string> =>
  step._tag === "Escalate" ? [step.reason] : "steps" in step ? (step.steps as ReadonlyArray<Plan.Step>).flatMap(escalations) : []

describe("long_running_query plans over lock chains", () => {
  it("the classic chain → one cancel (of the root, terminate as its fallback), the 11 waiters named in the summary as left alone", () => {
    const { plan, classification } = planFor(classicChain())
    const acts = Plan.actions(plan.root).map((a) => `${a.action.kind}:${a.action.params["pid"]}`)
    assert.deepStrictEqual(acts, ["pg.cancelBackend:100", "pg.terminateBackend:100"])
    assert.match(plan.summary, /^cancel 1 statement\(s\) over 120 s.*11 waiter\(s\) over budget left alone/)
    assert.match(Plan.actions(plan.root)[0]!.action.description, /root of a lock chain \(11 waiter\(s\)\)/)
    assert.deepStrictEqual(escalations(plan.root), [])
    assert.deepStrictEqual(classification.evidence["rootBlockers"], [100])
    assert.lengthOf(classification.evidence["waiters"] as ReadonlyArray<number>, 11)
  })

  it("a blocker under budget → no cancel at all: an escalation naming the root and its waiters", () => {
    const { plan } = planFor([running(1, 60), waiting(2, 300, [1], 299), waiting(3, 250, [1], 249)])
    assert.deepStrictEqual(Plan.actions(plan.root), [])
    assert.strictEqual(plan.root._tag, "Escalate")
    assert.match(plan.summary, /2 waiter\(s\) over budget left alone/)
    const steps = plan.root._tag === "Escalate" ? plan.root.nextSteps : []
    assert.include(steps.join("\n"), "root blocker 1 running for 60 s, under the 120 s budget; 2 session(s) wait on it")
  })

  it("a superuser root is never cancelled, and its waiters are not cancelled in its place: escalated", () => {
    const { plan } = planFor([session(1, { ...running(1, 400), rolsuper: true }), waiting(2, 300, [1]), waiting(3, 300, [1])])
    assert.deepStrictEqual(Plan.actions(plan.root), [])
    assert.match(plan.summary, /1 superuser\/protected\/out-of-scope session\(s\) left alone/)
  })

  it("one root acted on, another out of reach: the cancel, then an escalation of the rest", () => {
    const { plan } = planFor([running(1, 400), waiting(2, 300, [1]), waiting(3, 300, [999])])
    assert.deepStrictEqual(Plan.actions(plan.root).map((a) => `${a.action.kind}:${a.action.params["pid"]}`), ["pg.cancelBackend:1", "pg.terminateBackend:1"])
    assert.deepStrictEqual(escalations(plan.root).length, 1)
    assert.include(escalations(plan.root)[0]!, "root blocker 999 is not among the client sessions read")
  })

  it("an idle-in-transaction root → pg.terminateBackend of that one session", () => {
    const { plan } = planFor([idleTx(1, 45), waiting(2, 200, [1]), waiting(3, 200, [1])])
    assert.deepStrictEqual(Plan.actions(plan.root).map((a) => `${a.action.kind}:${a.action.params["pid"]}:${a.action.params["state"]}`), [
      "pg.terminateBackend:1:idle in transaction"
    ])
  })
})

describe("MySQL / MariaDB lock waits", () => {
  const conn = (id: number, over: Partial<MySqlSession> = {}): MySqlSession => ({
    id, user: "app", host: "10.0.0.5:4242", db: "appdb", command: "Query", time_s: 300, state: "Sending data", info: "SELECT 1",
    command_ms: 300_000, command_started_ms: NOW - 300_000, query_id: `${id}`, trx_id: `${id}9`, trx_state: "RUNNING",
    trx_started: new Date(NOW - 300_000), trx_age_s: 300, trx_rows_locked: 1, trx_tables_locked: 1, ...over
  })
  const privs = { superusers: new Set<string>(), visible: new Set(["app"]) }

  it("INNODB_LOCK_WAITS rows fill blocking_pids and lock_wait_ms; the chain resolves to the blocker", () => {
    const waits = MySqlPoolDiagnoser.waitsByConnection([
      { waiting_id: 2, blocking_id: 1, wait_ms: 290_000 },
      { waiting_id: 3, blocking_id: 1, wait_ms: 200_000 },
      { waiting_id: 3, blocking_id: 1, wait_ms: 200_000 } // one row per lock: deduplicated
    ])
    const rows = [
      MySqlPoolDiagnoser.asPgSession(conn(1), privs, waits),
      MySqlPoolDiagnoser.asPgSession(conn(2, { trx_state: "LOCK WAIT", state: "Updating" }), privs, waits),
      MySqlPoolDiagnoser.asPgSession(conn(3, { trx_state: "LOCK WAIT", command_ms: 210_000, time_s: 210 }), privs, waits)
    ]
    assert.deepStrictEqual(rows.map((r) => r.blocking_pids), [[], [1], [1]])
    assert.deepStrictEqual(rows.map((r) => r.lock_wait_ms), [null, 290_000, 200_000])
    assert.deepStrictEqual(rows.map((r) => r.wait_event_type), [null, "Lock", "Lock"])
    const { plan } = planFor(rows, "mysql")
    assert.deepStrictEqual(Plan.actions(plan.root).map((a) => `${a.action.kind}:${a.action.params["id"] ?? a.action.params["pid"]}`).slice(0, 1), ["mysql.killQuery:1"])
    assert.lengthOf(Plan.actions(plan.root), 2) // the kill query and its kill connection fallback, of connection 1 only
  })

  it("a metadata-lock wait (the ALTER queue) is a wait with unknown blockers: never charged, never cancelled", () => {
    const s = MySqlPoolDiagnoser.asPgSession(conn(5, { state: "Waiting for table metadata lock", info: "ALTER TABLE orders ADD c int" }), privs)
    assert.strictEqual(s.wait_event_type, "Lock")
    assert.strictEqual(s.wait_event, "Waiting for table metadata lock")
    assert.isNull(LockChain.ownMs(s))
    assert.isTrue(MySqlPoolDiagnoser.isLockWaitState("Waiting for table level lock"))
    assert.isFalse(MySqlPoolDiagnoser.isLockWaitState("Sending data"))
  })
})
