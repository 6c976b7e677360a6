/**
 * Golden plans of db.pool.six-class: recorded pg_stat_activity rows (and the other facts) →
 * Facts (decoded with Schema) → the classifier → the plan, compared with reviewed golden files
 * (core's testing kit: `expectPlan`; `BYTEPORT_UPDATE_GOLDEN=1` rewrites them).
 */
import { Plan, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as path from "node:path"
import * as PoolSixClass from "../../src/classifiers/PoolSixClass"
import type { PoolFacts } from "../../src/diagnosers/PoolDiagnoser"
import { PgSession } from "../../src/probes/PgActivity"
import * as PoolRemediator from "../../src/remediators/PoolRemediator"

const here = path.dirname(new URL(import.meta.url).pathname)

const FixtureSchema = Schema.Struct({
  signal: Signal.Signal,
  facts: Schema.Struct({
    utilization: Schema.Struct({ engine: Schema.String, ratio: Schema.Number, clientBackends: Schema.Number, available: Schema.Number }),
    sessions: Schema.Array(PgSession),
    idleInTxTrend: Schema.Struct({ samples: Schema.Array(Schema.Number), sampledAt: Schema.Number, rising: Schema.Boolean }),
    lastDeploy: Schema.NullOr(Schema.Struct({ sha: Schema.String, at: Schema.Number })),
    pgbouncer: Schema.NullOr(Schema.Struct({
      waiting: Schema.Number,
      pools: Schema.Array(Schema.Struct({
        engine: Schema.Literal("pgbouncer"),
        database: Schema.String,
        user: Schema.String,
        clientsActive: Schema.Number,
        clientsWaiting: Schema.Number,
        serverConnections: Schema.Number,
        poolSize: Schema.Number,
        ratio: Schema.Number
      }))
    })),
    poolSettings: Schema.Null
  })
})

const load = (name: string) =>
  Effect.map(Testing.loadFixture(FixtureSchema, path.join(here, "fixtures", `${name}.json`)), (f) => ({
    signal: f.signal,
    facts: Testing.facts(f.facts as unknown as PoolFacts)
  }))

const planFor = (name: string, expectedClass: string) =>
  Effect.gen(function*() {
    const { facts, signal } = yield* load(name)
    const c = PoolSixClass.classifier()(facts)
    assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, expectedClass)
    if (c._tag !== "Classified") throw new Error("unclassified")
    const plan = PoolRemediator.planOf(c, facts, signal)
    Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
    assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan) // plans are data
    return plan
  })

const kinds = (plan: Plan.Plan) => Plan.actions(plan.root).map((a) => a.action.kind)
const pids = (plan: Plan.Plan) => Plan.actions(plan.root).map((a) => a.action.params["pid"] ?? a.action.params["id"])

describe("db.pool.six-class golden plans (fixtures → facts → plan)", () => {
  it.effect("idle_in_tx_backlog: one capped termination per eligible old session; superuser, pgAdmin, pgbouncer and young sessions left alone", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("idle_in_tx_backlog", "idle_in_tx_backlog")
      assert.deepStrictEqual(kinds(plan), Array(4).fill("pg.terminateBackend"))
      assert.deepStrictEqual(pids(plan), [40004, 40003, 40002, 40001]) // oldest first
      assert.match(plan.summary, /2 superuser\/protected\/out-of-scope session\(s\) left alone/)
      assert.strictEqual(plan.root._tag, "Seq")
      if (plan.root._tag === "Seq") {
        for (const s of plan.root.steps) assert.deepStrictEqual(s._tag === "Fallback" ? [s.on, s.otherwise] : s._tag, [["denied"], Plan.seq()])
      }
      const a = Plan.actions(plan.root)[0]!.action
      assert.deepStrictEqual(Object.keys(a.precondition).sort(), ["backendStartUs", "pid", "state", "xactStartUs"])
      assert.strictEqual(a.params["superuser"], false)
    }))

  it.effect("long_running_query: cancel, terminate if the cancel fails; the superuser's VACUUM is left alone", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("long_running_query", "long_running_query")
      assert.deepStrictEqual(kinds(plan), ["pg.cancelBackend", "pg.terminateBackend", "pg.cancelBackend", "pg.terminateBackend"])
      const step = plan.root._tag === "Seq" ? plan.root.steps[0] : undefined
      const inner = step?._tag === "Fallback" ? step.primary : undefined
      assert.deepStrictEqual(inner?._tag === "Fallback" ? inner.on : [], ["failed"])
      const cancel = Plan.actions(plan.root)[0]!.action
      assert.match(String(cancel.params["query"]), /^SELECT customer_id/) // kept for the EXPLAIN postmortem
      const terminate = Plan.actions(plan.root)[1]!.action
      assert.strictEqual(terminate.params["queryStartUs"], cancel.params["queryStartUs"]) // the same statement
    }))

  it.effect("leak_after_deploy: terminate the old idle-in-transaction sessions, then hand off a rollout restart", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("leak_after_deploy", "leak_after_deploy")
      assert.deepStrictEqual(kinds(plan), Array(3).fill("pg.terminateBackend"))
      const last = plan.root._tag === "Seq" ? plan.root.steps.at(-1) : undefined
      assert.strictEqual(last?._tag, "HandOff")
      if (last?._tag === "HandOff") {
        assert.strictEqual(last.signal.type, "k8s.rollout-restart.requested")
        assert.deepStrictEqual(last.signal.target, { kind: "k8s.workload", ref: "prod/shop/Deployment/checkout" })
        assert.strictEqual(last.signal.evidence["deploySha"], "a1b2c3d")
      }
    }))

  it.effect("missing_pgbouncer: raise default_pool_size by the waiting clients per pool, within capacity", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("missing_pgbouncer", "missing_pgbouncer")
      const a = Plan.actions(plan.root)
      assert.deepStrictEqual(a.map((x) => x.action.kind), ["pgbouncer.raisePoolSize"])
      // 2 pools of 20, 6 waiting: 20 + ceil(6 / 2) = 23, within floor(97 × 0.8 / 2) = 38
      assert.deepStrictEqual([a[0]!.action.params["from"], a[0]!.action.params["defaultPoolSize"], a[0]!.action.params["projectedTotal"]], [20, 23, 46])
    }))

  it.effect("runaway_cron_fanout: no automatic fix; an escalation with the recommended cap", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("runaway_cron_fanout", "runaway_cron_fanout")
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.deepStrictEqual(kinds(plan), [])
    }))

  it.effect("undersized_pool without pgbouncer (ruling): an escalation with recommended pool sizes, nothing reloaded", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("undersized_pool", "undersized_pool")
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.isAbove(plan.root._tag === "Escalate" ? plan.root.nextSteps.length : 0, 0)
      assert.match(plan.summary, /no pgbouncer/)
    }))

  it.effect("undersized_pool with pgbouncer: raise default_pool_size by a quarter", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("undersized_pool_pgbouncer", "undersized_pool")
      const a = Plan.actions(plan.root)
      assert.deepStrictEqual([a[0]!.action.kind, a[0]!.action.params["defaultPoolSize"]], ["pgbouncer.raisePoolSize", 25])
    }))

  it.effect("MySQL idle_in_tx_backlog: mysql.killConnection per eligible thread; root (SUPER) left alone", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("mysql_idle_in_tx_backlog", "idle_in_tx_backlog")
      assert.deepStrictEqual(kinds(plan), Array(3).fill("mysql.killConnection"))
    }))

  it.effect("25 eligible sessions: 25 separately capped terminations (the cap decides at run time)", () =>
    Effect.gen(function*() {
      const plan = yield* planFor("kill_cap_25", "idle_in_tx_backlog")
      assert.strictEqual(kinds(plan).length, 25)
    }))

  it.effect("a malformed fixture names the bad field", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Testing.decodeFixture(FixtureSchema, "bad.json", { signal: {}, facts: {} }))
      assert.match(e.message, /bad\.json/)
    }))
})
