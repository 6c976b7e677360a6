/**
 * db.connections.saturation and db.pool.six-class both firing on one target (the real
 * PostgreSQL 15): the Catalog opens one incident, by saturation (ranked first), and audits
 * `routed_to` for six-class; only saturation's plan runs (the longest idle-in-transaction
 * session goes; six-class would have ended all three).
 */
import { Catalog, Notifier, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterEach, assert, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as Detector from "../../src/detectors/ConnectionSaturation"
import * as Saturation from "../../src/runbooks/db.connections.saturation"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import * as Utilization from "../../src/Utilization"
import { agentPg, alive, signal } from "../pool/world"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

describeWithServices(["postgres"], "db.connections.saturation + db.pool.six-class on one target (Catalog, real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())

  it.live("one incident, by saturation; routed_to audited for six-class; only saturation's kill runs", () =>
    Effect.gen(function*() {
      const name = uniqueName("sat-route")
      const leaking = yield* Effect.promise(async () => {
        const out = []
        for (let i = 0; i < 3; i++) {
          const s = await openSession(appUrl, name)
          await s.q("BEGIN; SELECT 1")
          out.push(s)
          await new Promise((r) => setTimeout(r, 40))
        }
        return out
      })
      yield* Effect.sleep("400 millis")
      const pids = new Set(leaking.map((s) => s.pid))
      const reading = yield* Utilization.postgresConnections()
      const t = `test/sat-route-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
      const satSignals = yield* Detector.pollPostgres({ target: { kind: "database", ref: t }, threshold: reading.ratio - 1 / (2 * reading.maxConnections) })
      assert.strictEqual(satSignals.length, 1)
      const sat = Saturation.make({
        sessions: (s) => pids.has(s.pid),
        thresholds: { idleInTxMs: 300 },
        database: { object: "host/test-pg", annotations: { "byteport.io/auto_remediate": "db_terminate" } },
        verifySchedule: { offsets: [200], description: "once at 0.2 s (test)" },
        verifyMaxRatio: 0,
        defaultMode: "auto"
      })
      const six = PoolSixClassRunbook.make({
        sessions: (s) => pids.has(s.pid),
        thresholds: { idleInTxMs: 300 },
        diagnose: { trendSamples: 1, timeout: "10 seconds" },
        verifySchedule: { offsets: [0], description: "once (test)" },
        defaultMode: "auto"
      })
      const catalog = Catalog.make<any>([six, sat], { settle: "200 millis" })
      assert.deepStrictEqual(Catalog.owners(catalog, "db.pool.exhaustion").map((r) => r.id), ["db.pool.six-class"])
      const results: Array<Runbook.HandleResult> = []
      const done = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(Catalog.run(catalog, {
        sources: [Stream.fromIterable([signal({ kind: "database", ref: t }), satSignals[0]!])],
        resumeOpen: false,
        timedUndo: false,
        onResult: (r) => Effect.andThen(Effect.sync(() => void results.push(r)), Deferred.succeed(done, undefined))
      }))
      yield* Deferred.await(done).pipe(Effect.timeout("20 seconds"))
      yield* Effect.sleep("500 millis") // a second incident would show up here
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(results.map((r) => r.runbook), ["db.connections.saturation"])
      const audit = (yield* (yield* Notifier.NotifierRecording).get).audit.filter((a) => a.event === "routed_to")
      assert.strictEqual(audit.length, 1, JSON.stringify(audit))
      assert.strictEqual(audit[0]!.data["routed_to"], "db.connections.saturation")
      assert.include(JSON.stringify(audit[0]!.data), "db.pool.six-class")
      const left = yield* Effect.promise(() => alive(env, [...pids]))
      assert.deepStrictEqual(leaking.map((s) => left.has(s.pid)), [false, true, true], "saturation's single kill, not six-class's three")
    }).pipe(Effect.provide(
      Testing.layer<any>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 })] as any, checks: Saturation.checks() as any }).pipe(Layer.provideMerge(agentPg(env)))
    )), 60_000)
})
