/**
 * The action-kind guardrails of db.pool.six-class, decided on their own (no server): protected
 * sessions by application name (pgAdmin's "pgAdmin 4 - …" too) or user and never by client
 * address, superusers (unknown = superuser), the pool-size ceiling and raise-only rule, and the
 * kill cap under virtual time (20 per minute, the window frees after a minute).
 */
import { Action, Fact, Guardrail, GuardrailStore, MemoryStore, Plan, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as PgBouncerRaisePoolSize from "../../src/actions/PgBouncerRaisePoolSize"
import * as SessionGuardrails from "../../src/actions/SessionGuardrails"

const target = TargetRef.make("database", "prod/orders-primary/appdb")

const ctxOf = (action: Action.Action, now = 0, facts: Guardrail.GuardrailContext["facts"] = {}): Guardrail.GuardrailContext => ({
  incidentId: "inc_test",
  runbook: "db.pool.six-class",
  mode: "auto",
  signal: { type: "db.pool.exhaustion", target, observedAt: 0, evidence: {} },
  classification: { _tag: "Classified", class: "idle_in_tx_backlog", confidence: 0.91, reasons: [], evidence: {} },
  facts,
  plan: Plan.make("db.pool.six-class", "idle_in_tx_backlog", "", Plan.act(action)),
  planDigest: "d",
  action,
  stepPath: "0",
  now,
  baseline: {}
})

const kill = (params: Record<string, unknown>, n = 0) =>
  Action.make({
    kind: "pg.terminateBackend",
    target,
    // an `undefined` here stands for a missing key (a plan never carries undefined: it cannot be encoded)
    params: Object.fromEntries(
      Object.entries({ pid: 100 + n, applicationName: "orders-api", user: "app", superuser: false, clientAddr: "10.0.0.9", ...params }).filter(([, v]) => v !== undefined)
    ) as any,
    description: "kill"
  })

const decide = (g: Guardrail.Guardrail<never>, a: Action.Action, facts: Guardrail.GuardrailContext["facts"] = {}) =>
  g.check(ctxOf(a, 0, facts)).pipe(Effect.provide(MemoryStore.layer))

describe("db.pool.six-class action-kind guardrails", () => {
  it.effect("protected: pgbouncer, admin-proxy, pgAdmin (any case, any suffix), configured names and users; never by client address", () =>
    Effect.gen(function*() {
      const g = SessionGuardrails.neverProtected("postgres")
      for (const app of ["pgbouncer", "admin-proxy", "pgAdmin 4 - DB:appdb", "PGADMIN III"]) {
        assert.strictEqual((yield* decide(g, kill({ applicationName: app })))._tag, "Deny", app)
      }
      assert.strictEqual((yield* decide(g, kill({ user: "pgbouncer" })))._tag, "Deny")
      assert.strictEqual((yield* decide(g, kill({})))._tag, "Pass")
      assert.strictEqual((yield* decide(g, kill({ clientAddr: "127.0.0.1" })))._tag, "Pass") // an address protects nothing
      assert.strictEqual((yield* decide(g, kill({ applicationName: undefined })))._tag, "Deny") // unknown: protected
      const custom = SessionGuardrails.neverProtected("postgres", { protectedApplications: ["billing-"], protectedUsers: ["ops"] })
      assert.strictEqual((yield* decide(custom, kill({ applicationName: "billing-api" })))._tag, "Deny")
      assert.strictEqual((yield* decide(custom, kill({ user: "ops" })))._tag, "Deny")
      assert.strictEqual((yield* decide(custom, kill({ applicationName: "pgadmin" })))._tag, "Pass") // the list replaces the default
    }))

  it.effect("superuser: denied when true and when not known; passes only when exactly false", () =>
    Effect.gen(function*() {
      const g = SessionGuardrails.neverSuperuser
      const su = yield* decide(g, kill({ superuser: true }))
      assert.deepStrictEqual(su, Guardrail.deny("never kill a superuser session"))
      assert.strictEqual((yield* decide(g, kill({ superuser: undefined })))._tag, "Deny")
      assert.strictEqual((yield* decide(g, kill({ superuser: "false" })))._tag, "Deny")
      assert.strictEqual((yield* decide(g, kill({})))._tag, "Pass")
    }))

  it.effect("kills_per_minute_cap: 20 per database per minute; the 21st is rejected; another database has its own budget; a minute later there is room again", () =>
    Effect.gen(function*() {
      const g = SessionGuardrails.killsPerMinuteCap({ killsPerMinuteCap: 20 })
      const results: Array<string> = []
      for (let i = 0; i < 25; i++) results.push((yield* g.acquire(ctxOf(kill({}, i), 0))).result._tag)
      assert.deepStrictEqual(results, [...Array(20).fill("Pass"), ...Array(5).fill("Deny")])
      const other = Action.make({ ...kill({}, 99), target: TargetRef.make("database", "prod/other/appdb") } as any)
      assert.strictEqual((yield* g.acquire(ctxOf({ ...other, target: TargetRef.make("database", "prod/other/appdb") }, 0))).result._tag, "Pass")
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual((yield* g.acquire(ctxOf(kill({}, 50), 61_000))).result._tag, "Pass")
    }).pipe(Effect.provide(MemoryStore.layer)))

  it.effect("pgbouncer raise: the Σ pool sizes ceiling reads the utilization fact (else the planned capacity); never lower", () =>
    Effect.gen(function*() {
      const raise = (to: number, total: number, from = 20) =>
        PgBouncerRaisePoolSize.action(target, { from, to, projectedTotal: total, available: 97 }, "test")
      const util = { utilization: Fact.known({ engine: "postgres", ratio: 0.5, clientBackends: 40, available: 50 }) } as any
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.capacityCeiling, raise(23, 46)))._tag, "Pass")
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.capacityCeiling, raise(60, 120)))._tag, "Deny")
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.capacityCeiling, raise(23, 46), util))._tag, "Pass")
      const over = yield* decide(PgBouncerRaisePoolSize.capacityCeiling, raise(30, 60), util)
      assert.match(over._tag === "Deny" ? over.reason : "", /proposed 60 connections exceeds the ceiling 50 connections/)
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.neverLower, raise(18, 36)))._tag, "Deny")
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.neverLower, raise(20, 40)))._tag, "Deny")
      assert.strictEqual((yield* decide(PgBouncerRaisePoolSize.neverLower, raise(21, 42)))._tag, "Pass")
    }))

  it.effect("the store is what a shared budget lives in (a second guardrail instance sees the first one's kills)", () =>
    Effect.gen(function*() {
      const a = SessionGuardrails.killsPerMinuteCap({ killsPerMinuteCap: 2 })
      const b = SessionGuardrails.killsPerMinuteCap({ killsPerMinuteCap: 2 })
      assert.strictEqual((yield* a.acquire(ctxOf(kill({}, 1)))).result._tag, "Pass")
      assert.strictEqual((yield* b.acquire(ctxOf(kill({}, 2)))).result._tag, "Pass")
      assert.strictEqual((yield* a.acquire(ctxOf(kill({}, 3)))).result._tag, "Deny")
      yield* GuardrailStore.GuardrailStore
    }).pipe(Effect.provide(MemoryStore.layer)))
})
