/**
 * Issue 17 §3: one diagnosis of db.pool.six-class reads `pg_stat_activity` + `pg_blocking_pids`
 * once (the sessions fact, the history's current sample and the trend's first sample derive from
 * it); later trend samples are a server-side count. The statements issued are recorded from the
 * Postgres service and asserted (a count, never a time).
 */
import { GuardrailStore, MemoryStore, Signal, TargetRef } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as PoolDiagnoser from "../../src/diagnosers/PoolDiagnoser"
import * as PgActivity from "../../src/probes/PgActivity"
import * as Postgres from "../../src/Postgres"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

describeWithServices(["postgres"], "db.pool.six-class: statements per diagnosis (real PostgreSQL)", (env) => {
  const statements: Array<string> = []
  /** The agent's Postgres service, every statement it issues recorded. */
  const recording = () =>
    Layer.effect(
      Postgres.Postgres,
      Effect.map(Effect.service(Postgres.Postgres), (db): Postgres.PostgresApi => ({
        ...db,
        query: (text, params) => Effect.suspend(() => (statements.push(text), db.query(text, params))),
        queryAs: (schema, text, params) => Effect.suspend(() => (statements.push(text), db.queryAs(schema, text, params)))
      }))
    ).pipe(Layer.provide(Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 })))
  const target = TargetRef.make("database", "test/appdb")
  const sessionReads = () => statements.filter((s) => s === PgActivity.SESSIONS_SQL || s === PgActivity.SESSIONS_SQL_COMPAT).length
  afterEach(() => closeAll())

  it.live("without history: 1 session read, 2 counts for a 3-sample trend, 1 utilization; the trend still sees the sessions", () =>
    Effect.gen(function*() {
      const name = uniqueName("stmts")
      const sessions = yield* Effect.promise(() => Promise.all([1, 2].map(() => openSession(env.BYTEPORT_TEST_PG_URL ?? "", name))))
      for (const s of sessions) yield* Effect.promise(() => s.q("BEGIN; SELECT 1"))
      statements.length = 0
      const signal = Signal.make({ type: "db.pool.exhaustion", target, observedAt: Date.now(), evidence: {} })
      const facts = yield* PoolDiagnoser.make({ trendSamples: 3, trendInterval: "10 millis" })(signal)
      assert.strictEqual(facts.sessions._tag, "Known")
      assert.isTrue(facts.idleInTxTrend._tag === "Known" && facts.idleInTxTrend.value.samples.length === 3 && facts.idleInTxTrend.value.samples.every((n) => n >= 2), JSON.stringify(facts.idleInTxTrend))
      assert.strictEqual(sessionReads(), 1, `one pg_stat_activity + pg_blocking_pids read: ${statements.length} statements`)
      assert.strictEqual(statements.filter((s) => s === PoolDiagnoser.IDLE_IN_TX_COUNT_SQL).length, 2, "the later trend samples are counts")
      assert.strictEqual(statements.length, 4, statements.map((s) => s.replace(/\s+/g, " ").slice(0, 60)).join(" | "))
      // a second diagnosis reads afresh (the memo is per diagnosis, never stale)
      statements.length = 0
      yield* PoolDiagnoser.make({ trendSamples: 2, trendInterval: "10 millis" })(signal)
      assert.strictEqual(sessionReads(), 1)
    }).pipe(Effect.provide(recording())))

  it.live("with a connection history (GuardrailStore): the current sample is the same one read", () =>
    Effect.gen(function*() {
      statements.length = 0
      const signal = Signal.make({ type: "db.pool.exhaustion", target, observedAt: Date.now(), evidence: {} })
      const facts = yield* PoolDiagnoser.make({ trendSamples: 2, trendInterval: "10 millis" })(signal)
      assert.strictEqual(facts.sessions._tag, "Known")
      assert.strictEqual(facts.idleInTxTrend._tag, "Known")
      assert.strictEqual(sessionReads(), 1, `one read with history recording too: ${statements.length} statements`)
      const history = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
      assert.strictEqual(history._tag, "Some", "the history path ran (a GuardrailStore is provided)")
    }).pipe(Effect.provide(Layer.mergeAll(recording(), MemoryStore.layer))))
})
