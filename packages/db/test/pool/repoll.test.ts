/**
 * db.pool.six-class with a utilization re-poll (the seed's 30/90/180 s, scaled down to real-time
 * milliseconds) on the real PostgreSQL 15: every poll runs and is recorded — after the first one
 * recovered too — each with its readings, and the report's Verification section lists them.
 */
import { Report, Runbook, Verifier } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as UtilizationBelow from "../../src/verifiers/UtilizationBelow"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { alive, pgWorld, reportOf, runbook, signal, target } from "./world"

describeWithServices(["postgres"], "db.pool.six-class re-poll (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())

  it("the seed's re-poll schedule runs every poll", () => {
    assert.deepStrictEqual(UtilizationBelow.REPOLL_SCHEDULE.offsets, [30_000, 90_000, 180_000])
    assert.strictEqual(UtilizationBelow.REPOLL_SCHEDULE.polls, "all")
  })

  it.live("idle_in_tx_backlog verified by a re-poll: three polls recorded with their readings, the last one's verdict decides", () =>
    Effect.gen(function*() {
      const name = uniqueName("repoll-api")
      const leaky = yield* Effect.promise(() => Promise.all(Array.from({ length: 3 }, () => openSession(appUrl, name))))
      yield* Effect.promise(() => Promise.all(leaky.map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))))
      yield* Effect.sleep("500 millis")
      const rb = runbook(new Set(leaky.map((s) => s.pid)), { verifySchedule: Verifier.at(["0 millis", "400 millis", "800 millis"]) })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("repoll")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      const left = yield* Effect.promise(() => alive(env, leaky.map((s) => s.pid)))
      assert.strictEqual(left.size, 0, "the backlog was terminated")
      // a retry schedule would have stopped at the first Recovered: the re-poll goes on
      assert.strictEqual(r.verdicts.length, 3, JSON.stringify(r.verdicts))
      assert.deepStrictEqual(r.verdicts.map((v) => [v.poll?.attempt, v.poll?.offsetMs]), [[1, 0], [2, 400], [3, 800]])
      for (const v of r.verdicts) {
        const u = v.checks.find((c) => c.name === "postgres utilization")
        assert.isDefined(u)
        const observed = u!.observed as { ratio: number; clientBackends: number; available: number }
        assert.isAbove(observed.available, 0)
        assert.isAtLeast(observed.clientBackends, 1)
        assert.closeTo(observed.ratio, observed.clientBackends / observed.available, 1e-9)
      }
      // polls start at their offsets from the window's start; a verdict's `at` is when its poll
      // ended, so the gap is 800 ms less the first poll's own (cold-connection) duration
      assert.isAtLeast(r.verdicts[2]!.at - r.verdicts[0]!.at, 650)
      assert.deepStrictEqual(r.verdicts.map((v) => v.poll?.offsetMs), [0, 400, 800])
      assert.strictEqual(r.status, r.verdicts[2]!._tag === "Recovered" ? "recovered" : "escalated", "the last poll decides")
      const md = Report.toMarkdown(r)
      for (const n of [1, 2, 3]) assert.match(md, new RegExp(`### (Recovered|NotRecovered|Inconclusive) at [^\\n]* \\(check ${n}, \\+`))
      assert.strictEqual((md.match(/\| postgres utilization \| (yes|no) \|/g) ?? []).length, 3)
    }).pipe(Effect.provide(pgWorld(env))), 60_000)
})
