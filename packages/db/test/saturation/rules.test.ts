/**
 * db.connections.saturation, pure parts: the detector's threshold (79/80/81 %), the leak share
 * (50/51 %), the plans (longest idle-in-tx first, row-lock holders, superusers and protected
 * sessions never named, max terminations, the load-driven escalation) and the annotation gate.
 */
import { Annotations, Classification, Fact, Guardrail, MemoryStore, Plan, Signal, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import * as ConnectionSaturation from "../../src/classifiers/ConnectionSaturation"
import * as Detector from "../../src/detectors/ConnectionSaturation"
import type { SaturationFacts } from "../../src/diagnosers/SaturationDiagnoser"
import type { PgSession } from "../../src/probes/PgActivity"
import * as SaturationRemediator from "../../src/remediators/SaturationRemediator"
import * as Saturation from "../../src/runbooks/db.connections.saturation"
import * as TerminateScope from "../../src/sessions/TerminateScope"
import * as Utilization from "../../src/Utilization"

const target = TargetRef.make("database", "test/orders")
let nextPid = 1000
const session = (state: string, stateAgeMs: number, extra: Partial<PgSession> = {}): PgSession => {
  const pid = nextPid++
  return {
    pid, usename: "app", rolsuper: false, datname: "appdb", application_name: "web", client_addr: "10.0.0.1",
    backend_start: new Date(0), xact_start: state.startsWith("idle in") ? new Date(0) : null, query_start: new Date(0),
    state_change: new Date(0), state, wait_event_type: null, wait_event: null,
    query: "SELECT * FROM carts WHERE user_id = 42", query_id: null, blocking_pids: [],
    backend_start_us: `${pid}000`, xact_start_us: state.startsWith("idle in") ? `${pid}001` : null, query_start_us: `${pid}002`,
    xact_age_ms: stateAgeMs, query_age_ms: stateAgeMs, state_age_ms: stateAgeMs, ...extra
  }
}
const many = (n: number, state: string, ageMs: number) => Array.from({ length: n }, () => session(state, ageMs))

const facts = (sessions: ReadonlyArray<PgSession>, rowLockHolders: ReadonlyArray<number> = []): Fact.Facts<SaturationFacts> => ({
  utilization: Fact.known(Utilization.connectionsOf(90, 1, 100)),
  sessions: Fact.known(sessions),
  waitEvents: Fact.known([]),
  rowLockHolders: Fact.known(rowLockHolders)
})
const classify = (sessions: ReadonlyArray<PgSession>) => ConnectionSaturation.classifier()(facts(sessions))
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)
const signal = Signal.make({ type: Detector.SIGNAL_TYPE, target, observedAt: 0, evidence: {} })
const planFor = (sessions: ReadonlyArray<PgSession>, locked: ReadonlyArray<number> = [], options: SaturationRemediator.Options = {}) => {
  const f = facts(sessions, locked)
  const c = ConnectionSaturation.classifier()(f)
  if (c._tag !== "Classified") throw new Error("not classified")
  return SaturationRemediator.planOf(c, f, signal, options)
}
const terminatedPids = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.params["pid"])

describe("db.connections.saturation: detection threshold (client backends / max_connections > 80 %)", () => {
  it("79 % and exactly 80 % do not fire, 81 % fires", () => {
    const at = (n: number) => Detector.postgresSignals(Utilization.connectionsOf(n, 1, 100), { target }, 0).length
    assert.deepStrictEqual([at(79), at(80), at(81)], [0, 0, 1])
  })
  it("the seed's reading vs Utilization.postgres: 80 of 100 with 3 reserved is 80 % here, 81/97 there", () => {
    assert.strictEqual(Utilization.connectionsOf(80, 1, 100).ratio, 0.8)
    assert.closeTo(Utilization.postgresOf(81, 100, 3).ratio, 0.835, 0.001)
  })
})

describe("db.connections.saturation: leak share (> 50 % of idle sessions idle in tx > 30 s)", () => {
  it("50 % is load-driven, 51 % is a leak", () => {
    // 50 of 100 idle sessions stale
    assert.strictEqual(classOf(classify([...many(50, "idle in transaction", 31_000), ...many(50, "idle", 60_000)])), "load_driven_saturation")
    // 51 of 100
    assert.strictEqual(classOf(classify([...many(51, "idle in transaction", 31_000), ...many(49, "idle", 60_000)])), "connection_leak")
  })
  it("30 s exactly is not stale; aborted transactions count; active sessions are not idle", () => {
    assert.strictEqual(classOf(classify([...many(3, "idle in transaction", 30_000), ...many(1, "idle", 1)])), "load_driven_saturation")
    assert.strictEqual(classOf(classify([...many(2, "idle in transaction (aborted)", 40_000), ...many(1, "idle", 1), ...many(50, "active", 1)])), "connection_leak")
    const share = ConnectionSaturation.leakShareOf([...many(2, "idle in transaction", 40_000), ...many(2, "idle", 1), ...many(9, "active", 1)])
    assert.deepStrictEqual(share, { stale: 2, idle: 4, share: 0.5 })
  })
})

describe("db.connections.saturation: plans", () => {
  it("leak: terminates only the longest idle-in-tx session, with noRowLocks, query redacted", () => {
    const old = session("idle in transaction", 90_000)
    const p = planFor([session("idle in transaction", 40_000), old, session("idle in transaction", 60_000)])
    assert.deepStrictEqual(terminatedPids(p), [old.pid])
    const a = Plan.actions(p.root)[0]!.action
    assert.strictEqual(a.kind, "pg.terminateBackend")
    assert.strictEqual(a.params["noRowLocks"], true)
    assert.notInclude(a.description, "42")
    assert.include(a.description, "user_id = ?")
  })
  it("leak: the longest holds row locks → the next goes; maxTerminationsPerIncident 2 → two, in order", () => {
    const a = session("idle in transaction", 90_000)
    const b = session("idle in transaction", 60_000)
    const c = session("idle in transaction", 40_000)
    assert.deepStrictEqual(terminatedPids(planFor([c, a, b], [a.pid])), [b.pid])
    assert.deepStrictEqual(terminatedPids(planFor([c, a, b], [], { maxTerminationsPerIncident: 2 })), [a.pid, b.pid])
  })
  it("leak: superusers, protected sessions and all-locked → nothing terminated, an escalation naming the locked", () => {
    const su = session("idle in transaction", 90_000, { rolsuper: true })
    const admin = session("idle in transaction", 80_000, { application_name: "pgAdmin 4" })
    const locked = session("idle in transaction", 70_000)
    const p = planFor([su, admin, locked], [locked.pid])
    assert.deepStrictEqual(terminatedPids(p), [])
    assert.strictEqual(p.root._tag, "Escalate")
    assert.include(JSON.stringify(p.root), `backend ${locked.pid}`)
  })
  it("load-driven: no kill, an escalation with the top 3 longest-running statements and PgBouncer/PgCat", () => {
    const running = [10_000, 50_000, 30_000, 70_000].map((ms) => session("active", ms))
    const p = planFor([...running, ...many(5, "idle", 1)])
    assert.strictEqual(p.class, "load_driven_saturation")
    assert.deepStrictEqual(terminatedPids(p), [])
    const text = JSON.stringify(p.root)
    assert.include(text, "PgBouncer or PgCat")
    const named = [running[3]!, running[1]!, running[2]!].map((s) => `pid ${s.pid} `)
    for (const n of named) assert.include(text, n)
    assert.notInclude(text, `pid ${running[0]!.pid} `)
  })
})

describe("db.connections.saturation: annotation gate (configuration source)", () => {
  const ctx = { action: { kind: "pg.terminateBackend", target, params: {}, description: "" }, facts: {} } as unknown as Guardrail.GuardrailContext
  const check = (database: Saturation.DatabaseObject | undefined) => Effect.runSync(Saturation.annotationGate(database).check(ctx).pipe(Effect.provide(MemoryStore.layer)))._tag
  it("db_terminate (alone or in a comma list) passes; absent, another value, 'true' or no object configured denies", () => {
    const obj = (v?: string): Saturation.DatabaseObject => ({
      object: "host/orders",
      annotations: v === undefined ? {} : { "byteport.io/auto_remediate": v }
    })
    assert.strictEqual(check(obj("db_terminate")), "Pass")
    assert.strictEqual(check(obj("restart, db_terminate")), "Pass")
    assert.strictEqual(check(obj("true")), "Deny")
    assert.strictEqual(check(obj()), "Deny")
    assert.strictEqual(check(undefined), "Deny")
  })
})

describe("db.connections.saturation: per-workload scope (place (b), configuration source)", () => {
  const ctxFor = (params: Record<string, unknown>) =>
    ({ action: { kind: "pg.terminateBackend", target, params, description: "" }, facts: {} }) as unknown as Guardrail.GuardrailContext
  const source = Annotations.layerConfiguration({
    objects: { "Deployment/shop/web": { "byteport.io/auto_remediate": "db_terminate" }, "Deployment/shop/batch": {}, "Deployment/db/pgbouncer": { "byteport.io/auto_remediate": "db_terminate" } },
    addresses: { "10.0.0.2": { kind: "Deployment", namespace: "shop", name: "web" }, "10.0.0.3": { kind: "Deployment", namespace: "shop", name: "batch" }, "10.0.0.9": { kind: "Deployment", namespace: "db", name: "pgbouncer" } }
  })
  const check = (clients: TerminateScope.ClientScope, params: Record<string, unknown>) =>
    Effect.runSync(TerminateScope.gate({ clients }).check(ctxFor(params)).pipe(Effect.provide(Layer.merge(MemoryStore.layer, source))))._tag
  it("address → workload decides; the application map only when the address is unknown or a pooler's; a pooler's workload never allows", () => {
    const apps = { applications: { web: "Deployment/shop/web" } }
    assert.strictEqual(check({}, { applicationName: "x", clientAddr: "10.0.0.2" }), "Pass")
    assert.strictEqual(check(apps, { applicationName: "web", clientAddr: "10.0.0.3" }), "Deny", "batch claiming web's name")
    assert.strictEqual(check(apps, { applicationName: "web", clientAddr: "10.9.9.9" }), "Pass", "unknown address: the map")
    assert.strictEqual(check({}, { applicationName: "web", clientAddr: "10.0.0.9" }), "Deny", "pgbouncer's workload (by name) never allows")
    assert.strictEqual(check({ ...apps, poolerAddresses: ["10.0.0.2"] }, { applicationName: "batch", clientAddr: "10.0.0.2" }), "Deny", "a configured pooler address is not traced")
    assert.strictEqual(check({ ...apps, poolerAddresses: ["10.0.0.9"] }, { applicationName: "web", clientAddr: "10.0.0.9" }), "Pass", "through the pooler: the map")
    assert.strictEqual(check(apps, { applicationName: "web" }), "Deny", "an action without its client: only the database object decides")
  })
  it("property: no plan names a session outside the scope, a superuser, a protected or a row-locking session", () => {
    const arb = fc.array(fc.record({ age: fc.integer({ min: 31_000, max: 900_000 }), su: fc.boolean(), app: fc.constantFrom("web", "pgbouncer", "pgAdmin 4"), locked: fc.boolean(), inScope: fc.boolean() }), { minLength: 1, maxLength: 12 })
    fc.assert(fc.property(arb, fc.integer({ min: 1, max: 5 }), (rows, max) => {
      const sessions = rows.map((r) => session("idle in transaction", r.age, { rolsuper: r.su, application_name: r.app }))
      const f = facts(sessions, sessions.filter((_, i) => rows[i]!.locked).map((x) => x.pid))
      const inScope = new Set(sessions.filter((_, i) => rows[i]!.inScope).map((x) => x.pid))
      const c = ConnectionSaturation.classifier()(f)
      if (c._tag !== "Classified") return
      const p = SaturationRemediator.planOf(c, f, signal, { maxTerminationsPerIncident: max, inScope, places: { clients: {} } })
      const pids = terminatedPids(p)
      assert.isAtMost(pids.length, max)
      for (const pid of pids) {
        const i = sessions.findIndex((x) => x.pid === pid)
        const r = rows[i]!
        assert.isTrue(r.inScope && !r.su && !r.locked && r.app === "web", JSON.stringify(r))
      }
      for (const a of Plan.actions(p.root)) assert.strictEqual(a.action.params["clientAddr"], "10.0.0.1")
    }), { numRuns: 200 })
  })
})
