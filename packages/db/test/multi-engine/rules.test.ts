/**
 * db.pool.multi-engine's classifier and remediator on facts shaped as each engine's probes
 * produce them: the seed's order, the near misses (84/85 %, 2/3 idle-in-tx sessions, 30 s,
 * rising over 2/3 polls, 79/80 % idle), a plan per class and engine, and the 1.2× ceiling.
 */
import { Catalog, Classification, Fact, GuardrailStore, MemoryStore, Plan, TargetRef } from "@byteport/core"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as Testing from "@byteport/core/testing"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as MultiEngineClassifier from "../../src/runbooks/multi-engine/Classifier"
import type { Ceiling, Engine, EngineSession, MultiEngineFacts, TrendSample } from "../../src/runbooks/multi-engine/Facts"
import * as MultiEngineRemediator from "../../src/runbooks/multi-engine/Remediator"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"

const target = TargetRef.make("database", "orders")
const signal = { type: "db.pool.exhaustion", target, observedAt: 0, evidence: {} }

let n = 0
const pgRow = (engine: Engine, state: string, ageMs: number, app: string, extra: Partial<Record<string, unknown>> = {}) => ({
  pid: 1000 + n, usename: "app", rolsuper: false, datname: "appdb", application_name: app, client_addr: "10.0.0.1",
  backend_start: null, xact_start: null, query_start: null, state_change: new Date(1_700_000_000_000), state, wait_event_type: null, wait_event: null,
  query: "SELECT * FROM orders WHERE id = 42", query_id: null, blocking_pids: [],
  backend_start_us: "1700000000000000", xact_start_us: "1700000000000000", query_start_us: "1700000000000000",
  xact_age_ms: ageMs, query_age_ms: ageMs, state_age_ms: ageMs, ...(engine === "mysql" ? { mysql_id: 1000 + n } : {}), ...extra
})

const session = (engine: Engine, state: EngineSession["state"], ms: number, app = "orders-api", extra: Partial<EngineSession> = {}): EngineSession => {
  n++
  const base = { engine, application: app, client: "10.0.0.1", user: "app", superuser: false, state, idleMs: state === "active" ? 0 : ms, runningMs: state === "active" ? ms : 0, query: "SELECT 1" }
  if (engine === "mongodb") {
    const type = state === "idle_in_transaction" ? "idleSession" as const : "op" as const
    const mongo = {
      type, opid: state === "active" ? n : undefined, active: state === "active", secsRunning: state === "active" ? ms / 1000 : 0, client: "10.0.0.1:5000", appName: app,
      connectionId: n, lsid: state === "idle_in_transaction" ? `${n.toString(16).padStart(2, "0")}${"5e55".repeat(7)}aa` : undefined, inTransaction: state === "idle_in_transaction",
      txnNumber: state === "idle_in_transaction" ? 1 : undefined, user: undefined, txnOpenSecs: ms / 1000, txnIdleSecs: state === "idle_in_transaction" ? ms / 1000 : 0,
      ns: "shop.orders", commandName: "find", commandShape: '{"find":"?","filter":{"$where":"?"}}'
    }
    return { ...base, id: `mongodb:${n}`, mongo, ...extra }
  }
  const pgState = state === "idle_in_transaction" ? "idle in transaction" : state
  return { ...base, id: `${engine}:${n}`, pg: pgRow(engine, pgState, ms, app) as never, ...extra }
}

const flat = (samples: number, total: number): ReadonlyArray<TrendSample> =>
  Array.from({ length: samples }, (_, i) => ({ at: i, total, byApplication: { "orders-api": { total, idleOutsideTx: 0 } }, requestRate: null }))

const facts = (engine: Engine, o: { sessions?: ReadonlyArray<EngineSession>; ratio?: number; trend?: ReadonlyArray<TrendSample>; ceiling?: Ceiling } = {}): Fact.Facts<MultiEngineFacts> => ({
  engine: Fact.known(engine),
  utilization: Fact.known({ ratio: o.ratio ?? 0.9, connections: Math.round((o.ratio ?? 0.9) * 100), max: 100 }),
  sessions: Fact.known(o.sessions ?? []),
  trend: Fact.known(o.trend ?? flat(3, 10)),
  ceiling: Fact.known(o.ceiling ?? (engine === "mysql" ? { kind: "max_connections", engine: "mysql", value: 100 } : engine === "mongodb" ? { kind: "mongodb", maxIncomingConnections: 100, maxPoolSize: 50 } : { kind: "pgbouncer", defaultPoolSize: 20, pools: 1, capacity: 97 }))
})

const classify = (f: Fact.Facts<MultiEngineFacts>) => MultiEngineClassifier.classifier()(f)
const cls = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

const rising = (series: ReadonlyArray<number>, idle: ReadonlyArray<number>, rates: ReadonlyArray<number | null>): ReadonlyArray<TrendSample> =>
  series.map((t, i) => ({ at: i, total: t, byApplication: { "orders-api": { total: t, idleOutsideTx: idle[i]! } }, requestRate: rates[i] ?? null }))

const ENGINES: ReadonlyArray<Engine> = ["postgres", "mysql", "mongodb"]

describe("MultiEngineClassifier (seed's order, near misses)", () => {
  for (const engine of ENGINES) {
    it(`${engine}: idle_in_transaction_leak needs 3 sessions idle in a transaction over 30 s`, () => {
      const three = [30_001, 40_000, 90_000].map((ms) => session(engine, "idle_in_transaction", ms))
      assert.strictEqual(cls(classify(facts(engine, { sessions: three }))), "idle_in_transaction_leak")
      assert.strictEqual(cls(classify(facts(engine, { sessions: three.slice(1) }))), "undersized_pool")
      const atThirty = [30_000, 40_000, 90_000].map((ms) => session(engine, "idle_in_transaction", ms))
      assert.strictEqual(cls(classify(facts(engine, { sessions: atThirty }))), "undersized_pool", "30 s exactly is not over 30 s")
    })

    it(`${engine}: long_running_query: 2 over 120 s, or 1 over 10 min; 1 at 9 min is not`, () => {
      assert.strictEqual(cls(classify(facts(engine, { sessions: [session(engine, "active", 121_000), session(engine, "active", 130_000)] }))), "long_running_query")
      assert.strictEqual(cls(classify(facts(engine, { sessions: [session(engine, "active", 601_000)] }))), "long_running_query")
      assert.strictEqual(cls(classify(facts(engine, { sessions: [session(engine, "active", 540_000)], ratio: 0.5 }))), "Unclassified")
    })
  }

  it("idle-in-transaction leak outranks long-running queries (seed's order)", () => {
    const s = [...[31_000, 32_000, 33_000].map((ms) => session("postgres", "idle_in_transaction", ms)), session("postgres", "active", 700_000)]
    assert.strictEqual(cls(classify(facts("postgres", { sessions: s }))), "idle_in_transaction_leak")
  })

  it("app_side_leak: rising over 3 polls, ≥ 80 % idle outside a transaction, no traffic correlation", () => {
    assert.strictEqual(cls(classify(facts("mongodb", { trend: rising([10, 20, 30], [8, 16, 24], [100, 100, 101]), ratio: 0.5 }))), "app_side_leak")
    // 79 % idle: not a leak
    assert.strictEqual(cls(classify(facts("mongodb", { trend: rising([10, 20, 100], [8, 16, 79], [100, 100, 101]), ratio: 0.5 }))), "Unclassified")
    // rising over 2 polls only
    assert.strictEqual(cls(classify(facts("mongodb", { trend: rising([30, 20, 30], [24, 16, 24], [null, null, null]), ratio: 0.5 }))), "Unclassified")
    // without a request-rate source: no correlation to see → a leak
    assert.strictEqual(cls(classify(facts("postgres", { trend: rising([10, 20, 30], [9, 18, 27], [null, null, null]), ratio: 0.5 }))), "app_side_leak")
  })

  it("traffic_spike: connections rising with the request rate; an app-side leak when the rate is flat", () => {
    assert.strictEqual(cls(classify(facts("mysql", { trend: rising([10, 20, 30], [8, 16, 24], [100, 200, 300]), ratio: 0.5 }))), "traffic_spike")
    assert.strictEqual(cls(classify(facts("mysql", { trend: rising([10, 20, 30], [1, 2, 3], [100, 200, 300]), ratio: 0.5 }))), "traffic_spike")
  })

  it("undersized_pool at 85 %, nothing at 84 %", () => {
    assert.strictEqual(cls(classify(facts("postgres", { ratio: 0.85 }))), "undersized_pool")
    assert.strictEqual(cls(classify(facts("postgres", { ratio: 0.84 }))), "Unclassified")
    const c = classify(facts("postgres", { ratio: 0.85 }))
    assert.isAtLeast(c._tag === "Classified" ? c.confidence : 0, 0.7)
  })
})

const planFor = (engine: Engine, f: Fact.Facts<MultiEngineFacts>, options: MultiEngineRemediator.Options = {}) =>
  Effect.runSync(Effect.gen(function*() {
    const c = classify(f)
    if (c._tag !== "Classified") throw new Error("unclassified")
    return yield* MultiEngineRemediator.planOf(c, f, { ...signal, evidence: { engine } }, options)
  }))

const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

describe("MultiEngineRemediator (a plan per class and engine)", () => {
  it("idle_in_transaction_leak: longest first; superusers and protected applications never named", () => {
    const expected: Record<Engine, string> = { postgres: "pg.terminateBackend", mysql: "mysql.killConnection", mongodb: "mongo.killSessions" }
    for (const engine of ENGINES) {
      const s = [
        session(engine, "idle_in_transaction", 31_000),
        session(engine, "idle_in_transaction", 95_000),
        session(engine, "idle_in_transaction", 60_000),
        session(engine, "idle_in_transaction", 99_000, "pgbouncer"),
        session(engine, "idle_in_transaction", 98_000, "orders-api", { superuser: true })
      ]
      const p = planFor(engine, facts(engine, { sessions: s }))
      assert.deepStrictEqual(kinds(p), [expected[engine], expected[engine], expected[engine]], engine)
      const idle = Plan.actions(p.root).map((a) => Number(a.action.params["idleSecs"] ?? 0))
      if (engine === "mongodb") assert.deepStrictEqual(idle, [95, 60, 31])
      assert.include(p.summary, "2 superuser/protected/out-of-scope session(s) left alone")
    }
  })

  it("long_running_query: cancel → terminate (SQL), killOp (MongoDB)", () => {
    const expected: Record<Engine, ReadonlyArray<string>> = {
      postgres: ["pg.cancelBackend", "pg.terminateBackend"],
      mysql: ["mysql.killQuery", "mysql.killConnection"],
      mongodb: ["mongo.killOp"]
    }
    for (const engine of ENGINES) {
      const p = planFor(engine, facts(engine, { sessions: [session(engine, "active", 700_000)] }))
      assert.deepStrictEqual(kinds(p), expected[engine], engine)
    }
  })

  it("app_side_leak: a rollout-restart hand-off of the mapped workload, else an escalation", () => {
    const f = facts("mongodb", { trend: rising([10, 20, 30], [9, 18, 27], [null, null, null]), ratio: 0.5 })
    const p = planFor("mongodb", f, { workloads: { "orders-api": "prod/shop/Deployment/orders-api" } })
    assert.strictEqual(p.root._tag, "HandOff")
    const h = p.root as Extract<Plan.Step, { _tag: "HandOff" }>
    assert.strictEqual(h.signal.type, "k8s.rollout-restart.requested")
    assert.deepStrictEqual(h.signal.target, TargetRef.make("k8s.workload", "prod/shop/Deployment/orders-api"))
    assert.strictEqual(planFor("mongodb", f).root._tag, "Escalate")
  })

  it("ceilings within 20 % headroom: pgbouncer raise, MariaDB SET GLOBAL + config proposal, MongoDB / PG-without-pgbouncer proposals", () => {
    const pg = planFor("postgres", facts("postgres", { ratio: 0.86 }))
    assert.deepStrictEqual(kinds(pg), ["pgbouncer.raisePoolSize"])
    assert.strictEqual(Plan.actions(pg.root)[0]!.action.params["defaultPoolSize"], 24)
    const my = planFor("mysql", facts("mysql", { ratio: 0.86 }))
    assert.deepStrictEqual(kinds(my), ["mysql.setMaxConnections"])
    assert.strictEqual(Plan.actions(my.root)[0]!.action.params["to"], 120)
    assert.include(JSON.stringify(my.root), "max_connections = 120")
    const mongo = planFor("mongodb", facts("mongodb", { ratio: 0.86 }))
    assert.deepStrictEqual(kinds(mongo), [])
    assert.strictEqual(mongo.root._tag, "Propose")
    assert.include(JSON.stringify(mongo.root), "maxPoolSize=60")
    const bare = planFor("postgres", facts("postgres", { ratio: 0.86, ceiling: { kind: "max_connections", engine: "postgres", value: 100 } }))
    assert.strictEqual(bare.root._tag, "Propose")
    assert.include(JSON.stringify(bare.root), "max_connections = 120")
    // never past capacity: 4 pools of 24 would need 96 of 90
    const full = planFor("postgres", facts("postgres", { ratio: 0.86, ceiling: { kind: "pgbouncer", defaultPoolSize: 20, pools: 4, capacity: 90 } }))
    assert.strictEqual(full.root._tag, "Escalate")
    // a pool of 4: ⌊4.8⌋ = 4, no raise within 20 % headroom → escalate, never a +1 the ceiling would deny
    const small = planFor("postgres", facts("postgres", { ratio: 0.86, ceiling: { kind: "pgbouncer", defaultPoolSize: 4, pools: 1, capacity: 97 } }))
    assert.strictEqual(small.root._tag, "Escalate")
    assert.include(small.summary, "no room within 20 % headroom")
  })

  it("the baseline is the ceiling at lease time; the guardrail allows 1.2× and denies more", () => {
    assert.deepStrictEqual(PoolMultiEngineRunbook.baseline(facts("mysql")), { poolCeiling: 100 })
    assert.deepStrictEqual(PoolMultiEngineRunbook.baseline(facts("postgres")), { poolCeiling: 20 })
    assert.deepStrictEqual(PoolMultiEngineRunbook.baseline(facts("mongodb", { ceiling: { kind: "mongodb", maxIncomingConnections: 100, maxPoolSize: null } })), {})
  })
})

describe("Catalog: family db.pool, after db.pool.six-class", () => {
  it("off by default (six-class is the family's best ranked), on through enable, ranked after six-class when both are on", () => {
    const six = PoolSixClassRunbook.make()
    const multi = PoolMultiEngineRunbook.make()
    assert.strictEqual(multi.family, "db.pool")
    const byDefault = Catalog.make<any>([multi, six])
    assert.deepStrictEqual(Catalog.owners(byDefault, "db.pool.exhaustion").map((r) => r.id), ["db.pool.six-class"])
    const enabled = Catalog.make<any>([six, multi], { enable: ["db.pool.multi-engine"] })
    assert.deepStrictEqual(Catalog.owners(enabled, "db.pool.exhaustion").map((r) => r.id), ["db.pool.multi-engine"])
    const both = Catalog.make<any>([multi, six], { enable: ["db.pool.six-class", "db.pool.multi-engine"] })
    assert.deepStrictEqual(Catalog.owners(both, "db.pool.exhaustion").map((r) => r.id), ["db.pool.six-class", "db.pool.multi-engine"])
  })
})

describe("property: no plan names a superuser, protected or out-of-scope session", () => {
  it("for every engine, class-producing session mix and scope", () => {
    const arb = fc.record({
      engine: fc.constantFrom<Engine>("postgres", "mysql", "mongodb"),
      rows: fc.array(fc.record({
        state: fc.constantFrom<EngineSession["state"]>("idle_in_transaction", "active", "idle"),
        ms: fc.integer({ min: 0, max: 900_000 }),
        app: fc.constantFrom("orders-api", "pgbouncer", "admin-proxy", "pgAdmin 4", "billing"),
        superuser: fc.boolean(),
        inScope: fc.boolean()
      }), { minLength: 1, maxLength: 12 })
    })
    fc.assert(fc.property(arb, ({ engine, rows }) => {
      const sessions = rows.map((r) => session(engine, r.state, r.ms, r.app, { superuser: r.superuser }))
      const scope = new Set(sessions.filter((_, i) => rows[i]!.inScope).map((s) => s.id))
      const f = facts(engine, { sessions })
      const c = classify(f)
      if (c._tag !== "Classified") return
      const p = Effect.runSync(MultiEngineRemediator.planOf(c, f, signal, { sessions: (s) => scope.has(s.id) }))
      for (const { action } of Plan.actions(p.root)) {
        const named = sessions.find((s) =>
          (s.pg !== undefined && (action.params["pid"] === s.pg.pid || action.params["id"] === s.pg.pid)) ||
          (s.mongo !== undefined && ((s.mongo.opid !== undefined && action.params["opid"] === s.mongo.opid) || (s.mongo.lsid !== undefined && action.params["lsid"] === s.mongo.lsid)))
        )
        if (named === undefined) continue
        assert.isFalse(named.superuser, "superuser named")
        assert.isTrue(scope.has(named.id), "out-of-scope session named")
        assert.notMatch(named.application, /^(pgbouncer|admin-proxy|pgadmin)/i, "protected application named")
      }
    }), { numRuns: 300 })
  })
})

describe("ceiling guardrail: ≤ 1.2× the lease-time baseline (near miss)", () => {
  const ctx = (kind: string, params: Record<string, number>, baseline: Record<string, number>) => ({
    incidentId: "i", runbook: "db.pool.multi-engine", mode: "auto", signal, classification: { _tag: "Classified", class: "undersized_pool", confidence: 0.75 },
    facts: {}, plan: {}, planDigest: "d", action: { kind, target, params, idempotencyKey: "k", description: "", timeout: 1000 }, stepPath: "0", now: 0, baseline
  }) as never
  const run = (kind: string, params: Record<string, number>, baseline: Record<string, number>) =>
    Effect.runSync(Effect.flatMap(MemoryStore.make(), (store) => Effect.provideService(PoolMultiEngineRunbook.ceilingGuard.check(ctx(kind, params, baseline)), GuardrailStore.GuardrailStore, store)))._tag
  it("MariaDB max_connections 100 → 120 passes, 121 is denied; measured from the baseline, not the current value", () => {
    assert.strictEqual(run("mysql.setMaxConnections", { from: 100, to: 120 }, { poolCeiling: 100 }), "Pass")
    assert.strictEqual(run("mysql.setMaxConnections", { from: 100, to: 121 }, { poolCeiling: 100 }), "Deny")
    // a second incident after the first raise (current 120): 144 would compound, the baseline (100) denies it
    assert.strictEqual(run("mysql.setMaxConnections", { from: 120, to: 144 }, { poolCeiling: 100 }), "Deny")
  })
  it("pgbouncer default_pool_size 20 → 24 passes, 25 is denied; other kinds are not its business", () => {
    assert.strictEqual(run("pgbouncer.raisePoolSize", { defaultPoolSize: 24, from: 20 }, { poolCeiling: 20 }), "Pass")
    assert.strictEqual(run("pgbouncer.raisePoolSize", { defaultPoolSize: 25, from: 20 }, { poolCeiling: 20 }), "Deny")
    assert.strictEqual(run("pg.terminateBackend", { pid: 1 }, {}), "Pass")
  })
})

describe("golden plans per class and engine (BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const scenarios: Record<MultiEngineClassifier.MultiEngineClass, (engine: Engine) => Fact.Facts<MultiEngineFacts>> = {
    idle_in_transaction_leak: (e) => facts(e, { sessions: [31_000, 95_000, 60_000].map((ms) => session(e, "idle_in_transaction", ms)) }),
    long_running_query: (e) => facts(e, { sessions: [session(e, "active", 700_000), session(e, "active", 130_000)] }),
    app_side_leak: (e) => facts(e, { trend: rising([10, 20, 30], [9, 18, 27], [100, 100, 100]), ratio: 0.6 }),
    traffic_spike: (e) => facts(e, { trend: rising([10, 20, 30], [5, 10, 15], [100, 200, 300]), ratio: 0.6 }),
    undersized_pool: (e) => facts(e, { ratio: 0.85 })
  }
  for (const engine of ENGINES) {
    for (const c of MultiEngineClassifier.CLASSES) {
      it(`${engine} ${c}`, () => {
        n = 0
        const f = scenarios[c](engine)
        assert.strictEqual(cls(classify(f)), c)
        const plan = planFor(engine, f, { workloads: { "orders-api": "prod/shop/Deployment/orders-api" } })
        Testing.expectPlan(plan, path.join(here, "golden", `${engine}_${c}.plan.txt`))
      })
    }
  }
})
