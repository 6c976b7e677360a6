import { Signal, TargetRef } from "@byteport/core"
import type { Verifier } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schedule, Stream } from "effect"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import * as PoolExhaustion from "../src/detectors/PoolExhaustion"
import * as PoolDiagnoser from "../src/diagnosers/PoolDiagnoser"
import * as PgBouncer from "../src/PgBouncer"
import * as Postgres from "../src/Postgres"
import * as UtilizationBelow from "../src/verifiers/UtilizationBelow"
import { closeAll, openSession, uniqueName } from "./support/pg"
import { describeWithServices } from "./support/services"

describeWithServices(["postgres", "pgbouncer"], "db.pool.six-class parts against real PostgreSQL", (env) => {
  const agent = () => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 })
  const bouncer = () => PgBouncer.layer({ adminUrl: Redacted.make(env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? "") })
  const target = TargetRef.make("database", "test/appdb")
  const signal = Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target, observedAt: Date.now(), evidence: {} })
  afterEach(() => closeAll())

  it.live("the detector polls utilization and emits a signal at or above its threshold only", () =>
    Effect.gen(function*() {
      const fires = PoolExhaustion.postgres({ target, threshold: 0, schedule: Schedule.spaced("50 millis") })
      const [s] = yield* Stream.runCollect(Stream.take(fires.signals, 1))
      const decoded = yield* Signal.decode(s)
      assert.strictEqual(decoded.type, "db.pool.exhaustion")
      assert.deepStrictEqual(decoded.target, target)
      assert.strictEqual(decoded.evidence.engine, "postgres")
      assert.strictEqual(decoded.evidence.maxConnections, 100)
      assert.isArray(decoded.evidence.pgbouncerPools) // the PgBouncer service was provided
      assert.notInclude(JSON.stringify(decoded), "Test7") // no credentials in a signal
      const quiet = PoolExhaustion.postgres({ target, threshold: 1.01, onPgBouncerWaiting: false, schedule: Schedule.spaced("20 millis") })
      const none = yield* Stream.runCollect(Stream.take(quiet.signals, 1)).pipe(Effect.timeoutOption("300 millis"))
      assert.strictEqual(none._tag, "None")
    }).pipe(Effect.provide(Layer.mergeAll(agent(), bouncer()))))

  it.live("diagnoses real idle-in-transaction sessions and classifies idle_in_tx_backlog", () =>
    Effect.gen(function*() {
      const name = uniqueName("leaky-api")
      const sessions = yield* Effect.promise(() => Promise.all([1, 2, 3].map(() => openSession(env.BYTEPORT_TEST_PG_URL ?? "", name))))
      for (const s of sessions) yield* Effect.promise(() => s.q("BEGIN; SELECT 1"))
      yield* Effect.sleep("400 millis")
      const facts = yield* PoolDiagnoser.make({ trendSamples: 2, trendInterval: "50 millis" })(signal)
      assert.strictEqual(facts.sessions._tag, "Known")
      assert.strictEqual(facts.pgbouncer._tag === "Known" ? facts.pgbouncer.value : "unknown", null) // no PgBouncer service provided
      assert.isTrue(facts.idleInTxTrend._tag === "Known" && facts.idleInTxTrend.value.samples.every((n) => n >= 3))
      const c = PoolSixClass.classifier({ idleInTxMs: 300 })(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "idle_in_tx_backlog")
      assert.includeMembers(c._tag === "Classified" ? c.evidence.pids as Array<number> : [], sessions.map((s) => s.pid))
    }).pipe(Effect.provide(agent())))

  it.live("classifies a batch fan-out of 15 connections as runaway_cron_fanout", () =>
    Effect.gen(function*() {
      const name = `nightly-cron-${uniqueName("fanout")}`
      yield* Effect.promise(() => Promise.all(Array.from({ length: 15 }, () => openSession(env.BYTEPORT_TEST_PG_URL ?? "", name))))
      const facts = yield* PoolDiagnoser.make({ trendSamples: 2, trendInterval: "10 millis" })(signal)
      const c = PoolSixClass.classifier({ idleInTxMs: 3_600_000, queryBudgetMs: 3_600_000 })(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "runaway_cron_fanout")
      assert.strictEqual(c._tag === "Classified" ? (c.evidence.applications as Record<string, number>)[name] : 0, 15)
    }).pipe(Effect.provide(agent())))

  it.live("a database that cannot be reached gives Unknown facts and an Indeterminate classification", () =>
    Effect.gen(function*() {
      const facts = yield* PoolDiagnoser.make({ trendSamples: 2, trendInterval: "10 millis", timeout: "3 seconds" })(signal)
      assert.strictEqual(facts.sessions._tag, "Unknown")
      assert.strictEqual(PoolSixClass.classifier()(facts)._tag, "Indeterminate")
    }).pipe(Effect.provide(Postgres.layer({ url: Redacted.make("postgres://app:x@127.0.0.1:1/appdb"), connectTimeoutMillis: 500 }))))

  it.live("the verifier: Recovered below 70%, NotRecovered above the bar, Inconclusive when unreadable", () =>
    Effect.gen(function*() {
      const ctx = { signal, since: Date.now(), attempt: 1 } as unknown as Verifier.VerifyContext<unknown>
      const ok = yield* UtilizationBelow.postgres()(ctx).pipe(Effect.provide(Layer.mergeAll(agent(), bouncer())))
      assert.strictEqual(ok._tag, "Recovered")
      assert.deepStrictEqual(ok.checks.map((c) => c.name), ["postgres utilization", "pgbouncer waiting clients"])
      const strict = yield* UtilizationBelow.postgres(0.0001)(ctx).pipe(Effect.provide(agent()))
      assert.strictEqual(strict._tag, "NotRecovered")
      assert.match(strict._tag === "NotRecovered" ? strict.reason : "", /postgres utilization: .*>= 0\.0%/)
      const down = yield* UtilizationBelow.postgres()(ctx).pipe(
        Effect.provide(Postgres.layer({ url: Redacted.make("postgres://app:x@127.0.0.1:1/appdb"), connectTimeoutMillis: 300 }))
      )
      assert.strictEqual(down._tag, "Inconclusive")
    }))
})
