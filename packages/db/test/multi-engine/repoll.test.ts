/**
 * db.pool.multi-engine re-polls the pool between kills (`Plan.until` over `db.pool.below`): on
 * the real PostgreSQL 15, a pool that recovers after the first kill costs fewer kills than the
 * plan names. The bar sits half a connection under the reading at plan time (the server is
 * shared, so no absolute bar fits): one termination takes it under.
 */
import { Plan, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import * as Utilization from "../../src/Utilization"
import { agentPg, alive, reportOf, signal, target } from "../pool/world"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

describeWithServices(["postgres"], "db.pool.multi-engine: kills re-poll the pool (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())
  const world = () =>
    Testing.layer<any>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 })] as any, checks: PoolMultiEngineRunbook.checks() as any }).pipe(
      Layer.provideMerge(agentPg(env))
    )

  it.live("the pool below the bar part-way through the kills: fewer terminations than planned, the rest of the leak left alone", () =>
    Effect.gen(function*() {
      const name = uniqueName("repoll")
      const sessions = yield* Effect.promise(async () => {
        const out = []
        for (let i = 0; i < 6; i++) {
          const s = await openSession(appUrl, name)
          await s.q("BEGIN; SELECT 1")
          out.push(s)
          await new Promise((r) => setTimeout(r, 40)) // oldest first
        }
        return out
      })
      yield* Effect.sleep("400 millis")
      const pids = new Set(sessions.map((s) => s.pid))
      const u = yield* Utilization.postgres
      // three kills bring the pool under the bar when the server is quiet; other test files share the
      // server, so the bar sits 2.5 sessions down: ±2 sessions of their churn still stops the kills early
      const bar = (u.clientBackends - 2.5) / u.available
      const rb = PoolMultiEngineRunbook.make({
        sessions: (s) => s.pg !== undefined && pids.has(s.pg.pid),
        thresholds: { idleInTxMs: 300 },
        pool: { timeout: "10 seconds" },
        stopBelowRatio: bar,
        verifySchedule: { offsets: [0], description: "check once (test)" },
        defaultMode: "auto"
      })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-repoll")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_transaction_leak")
      const planned = Plan.actions(r.plan!.root).map((a) => a.action.params["pid"])
      assert.strictEqual(planned.length, 6, "the plan names the whole leak")
      const killed = r.outcomes.filter((o) => o.kind === PgTerminateBackend.KIND && o.status === "applied").map((o) => o.result?.["pid"])
      assert.isAtLeast(killed.length, 1)
      assert.isBelow(killed.length, planned.length, "the re-poll stopped the kills early")
      assert.deepStrictEqual(killed, planned.slice(0, killed.length), "longest idle first")
      assert.isTrue(r.outcomes.some((o) => o.kind === "check:db.pool.below" && o.status === "check_passed"), JSON.stringify(r.outcomes.map((o) => [o.kind, o.status])))
      const left = yield* Effect.promise(() => alive(env, [...pids]))
      assert.strictEqual(left.size, pids.size - killed.length, "exactly the reported sessions are gone")
      for (const pid of killed) assert.isFalse(left.has(pid as number))
    }).pipe(Effect.provide(world())), { retry: 2 }) // the re-poll reads the server-wide count other test files share
})
