/**
 * host.memory.runaway's windows under TestClock: the growth window (every interval strictly over
 * the rate for the whole window; near misses on both sides: 570 s vs 600 s, exactly 10 vs 10.1
 * MiB/min; a plateau or a restart resets) and the crash-loop budget (3 restarts requested in the
 * hour → the 4th is a crash loop; still at 59 min; restarts allowed again after 60 min).
 */
import { Action, ActionHandler, Classification, Diagnoser, HandOffs, Plan, Runbook, Signal, TargetRef, Verifier } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { HostMemoryRunaway, RunawayGrowth } from "../../src/index"

const MiB = 1024 * 1024
const S = { growthMiBPerMinute: 10, windowSeconds: 600 }
const reading = (rssMiB: number, pid = 100, starttime = 5): RunawayGrowth.Reading => ({ unit: "web.service", pid, starttime, comm: "node", rssBytes: Math.round(rssMiB * MiB) })

/** Feeds readings every 30 s at `rate` MiB/min; returns the step at each reading. */
const run = (rates: ReadonlyArray<number>, start = 100) => {
  let track: RunawayGrowth.Track | undefined
  let rss = start
  const out: Array<RunawayGrowth.Step> = []
  rates.forEach((rate, i) => {
    if (i > 0) rss += rate / 2
    const st = RunawayGrowth.step(track, i * 30_000, reading(rss), S)
    track = st.track
    out.push(st)
  })
  return out
}

describe("host.memory.runaway growth window", () => {
  it("10.1 MiB/min: 570 s does not fire, 600 s does", () => {
    const steps = run(Array.from({ length: 21 }, () => 10.1))
    assert.isFalse(steps[19]!.sustained, "570 s")
    assert.isTrue(steps[20]!.sustained, "600 s")
    assert.strictEqual(steps[20]!.forMs, 600_000)
    assert.closeTo(steps[20]!.grownBytes / MiB, 101, 0.01)
  })

  it("exactly 10 MiB/min never fires (not over the rate)", () => {
    assert.isFalse(run(Array.from({ length: 40 }, () => 10)).some((s) => s.sustained))
  })

  it("one plateau interval resets the window", () => {
    const rates = [...Array.from({ length: 15 }, () => 30), 0, ...Array.from({ length: 19 }, () => 30)]
    const steps = run(rates)
    assert.isFalse(steps.some((s) => s.sustained), "15 + 19 intervals, each under the window")
    const more = run([...rates, 30, 30])
    assert.isTrue(more[more.length - 1]!.sustained)
  })

  it("a new pid + starttime (a restart) starts afresh", () => {
    let track: RunawayGrowth.Track | undefined
    for (let i = 0; i <= 19; i++) track = RunawayGrowth.step(track, i * 30_000, reading(100 + i * 20), S).track
    const restarted = RunawayGrowth.step(track, 20 * 30_000, reading(500, 101, 9), S)
    assert.isFalse(restarted.sustained)
    assert.strictEqual(restarted.forMs, 0)
  })

  it.effect("the sampler under TestClock: fires at 600 s of growth, not at 570 s; configurable", () =>
    Effect.gen(function*() {
      let rss = 100
      const poll = HostMemoryRunaway.sampler({ read: () => [reading(rss)], host: "h" })
      const fired: Array<number> = []
      for (let i = 0; i <= 20; i++) {
        if ((yield* poll).length > 0) fired.push(i * 30)
        rss += 6
        yield* TestClock.adjust("30 seconds")
      }
      assert.deepStrictEqual(fired, [600])
      let small = 100
      const quick = HostMemoryRunaway.sampler({ read: () => [reading(small)], growthMiBPerMinute: 1, windowSeconds: 60, host: "h" })
      const hits: Array<number> = []
      for (let i = 0; i <= 3; i++) {
        const s = yield* quick
        if (s.length > 0) hits.push(i * 30)
        small += 1
        yield* TestClock.adjust("30 seconds")
      }
      assert.deepStrictEqual(hits, [60, 90])
    }))
})

const ownerKind = "test.owner.rollout"
const owner = Runbook.make<{ readonly ok: boolean }>({
  id: "test.owner.rollout",
  family: "test.owner",
  signals: [HandOffs.RolloutRestartRequested.type],
  diagnose: Diagnoser.make({ ok: Diagnoser.probe("request", (s) => Effect.as(HandOffs.decode(HandOffs.RolloutRestartRequested, s), true)) }),
  classify: () => Classification.classified("owned", 0.9),
  remediate: (_c, _f, signal) =>
    Effect.succeed(Plan.make("test.owner.rollout", "owned", "restart", Plan.act(Action.make({ kind: ownerKind, target: signal.target, params: {}, idempotencyKey: `${ownerKind}:${signal.observedAt}`, description: "rollout restart" })))),
  verify: Verifier.fromChecks(() => Effect.succeed([{ name: "restarted", ok: true, detail: "done" }])),
  verifySchedule: Verifier.once("0 seconds"),
  cooldown: "0 seconds",
  defaultMode: "auto"
})
const ownerHandler = ActionHandler.make({
  kind: ownerKind,
  params: Schema.Struct({}),
  apply: () => Effect.succeed({ detail: "restarted", result: {} }),
  observe: () => Effect.succeed(ActionHandler.applied("restarted"))
})

describe("host.memory.runaway crash-loop budget under TestClock", () => {
  it.effect("3 restarts requested in the hour → the 4th is a crash loop (also at 59 min); after 60 min a restart again", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Runbook.run(owner, { resumeOpen: false }))
      yield* Effect.yieldNow
      const target = TargetRef.make("render.service", "srv-abc")
      const rb = HostMemoryRunaway.make({ verifyAfterSeconds: 0, cooldown: "0 seconds", handOffAwaitMinutes: 1 })
      const once = Effect.gen(function*() {
        yield* Effect.yieldNow
        const signal = Signal.make({ type: HostMemoryRunaway.SIGNAL_TYPE, target, observedAt: yield* Clock.currentTimeMillis, source: "test", evidence: { rssBytes: 700 * MiB } })
        const r = yield* Runbook.handle(rb, signal, { mode: "auto" })
        if (!("status" in r)) return assert.fail("awaiting approval")
        const report = r as IncidentReport.IncidentReport
        return { cls: report.classification?._tag === "Classified" ? report.classification.class : "none", report }
      })
      for (let i = 0; i < 3; i++) {
        const { cls, report } = yield* once
        assert.strictEqual(cls, "runaway_service", `request ${i + 1}`)
        assert.strictEqual(report.status, "recovered", `request ${i + 1}: ${JSON.stringify(report.escalation)}`)
        yield* TestClock.adjust("1 minute")
      }
      const fourth = yield* once
      assert.strictEqual(fourth.cls, "crash_loop")
      assert.strictEqual(fourth.report.status, "escalated")
      assert.deepStrictEqual(HandOffs.childResults(fourth.report.outcomes), [])
      // the first request was at 0; now 3 min; at 59 min all three are still in the hour
      yield* TestClock.adjust("56 minutes")
      assert.strictEqual((yield* once).cls, "crash_loop")
      // 60 min + 1 s after the first: two remain in the window → a restart again
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual((yield* once).cls, "runaway_service")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer({ handlers: [HostMemoryRunaway.restartRequestedHandler(), ownerHandler], checks: [] }))), 60_000)
})
