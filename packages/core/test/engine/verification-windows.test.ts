/**
 * Hold windows and re-polls (`Verifier.hold`, `Verifier.at`, `Verifier.runSchedule`) under the
 * TestClock: a window is Recovered only when every poll of it passed; a failing poll ends it at
 * once; the schedule's retry starts a new window; a re-poll records every poll and the last
 * decides. Then through `Runbook.handle` and the report.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Action, Classification, IncidentReport, Plan, Report, Runbook, Verdict, Verifier } from "@byteport/core"
import type { Signal } from "@byteport/core"
import * as F from "./fixture"

const SINCE = 1_000_000

const cls = Classification.classified("c", 0.9, ["test"])

const ctx = {
  incidentId: "inc-1",
  signal: F.signal() as Signal.Signal,
  facts: {} as never,
  classification: cls,
  plan: Plan.make("test", "c", "scale", Plan.act(Action.make({ kind: "pool.scale", target: F.target, params: { from: 2, to: 4 }, description: "scale" }))),
  outcomes: [],
  applied: [],
  since: SINCE
}

/** A verifier whose verdict depends on the virtual time since SINCE. */
const byTime = (ok: (elapsedMs: number) => boolean): Verifier.Verifier<never> =>
  Verifier.fromChecks(() =>
    Effect.map(Clock.currentTimeMillis, (now) => [{ name: "healthy", ok: ok(now - SINCE), detail: `at +${now - SINCE}`, observed: { elapsedMs: now - SINCE } }])
  )

const window5m = Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "30 seconds", for: "5 minutes" })

/** Runs a schedule in a fiber, advancing the TestClock in 1 s steps until it ends (max 30 min). */
const run = (verifier: Verifier.Verifier<never>, schedule: Verifier.VerifySchedule) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(SINCE)
    const fiber = yield* Effect.forkChild(Verifier.runSchedule(verifier, schedule, ctx))
    let steps = 0
    while (fiber.pollUnsafe() === undefined && steps < 1800) {
      yield* TestClock.adjust("1 second")
      steps++
    }
    const verdicts = yield* Fiber.join(fiber)
    return { verdicts, endedAt: SINCE + steps * 1000 }
  })

describe("Verifier.hold", () => {
  it.effect("a healthy window polls every 30 s for 5 min and is Recovered only when it ends", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(SINCE)
      const fiber = yield* Effect.forkChild(Verifier.runSchedule(byTime(() => true), window5m, ctx))
      yield* TestClock.adjust("299 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "still holding before the window's end")
      yield* TestClock.adjust("1 second")
      const verdicts = yield* Fiber.join(fiber)
      assert.strictEqual(verdicts.length, 11)
      assert.isTrue(verdicts.every((v) => v._tag === "Recovered"))
      assert.deepStrictEqual(verdicts.map((v) => v.poll?.offsetMs), [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300].map((s) => s * 1000))
      assert.deepStrictEqual(verdicts.map((v) => v.at - SINCE), verdicts.map((v) => v.poll!.offsetMs))
      assert.deepStrictEqual(verdicts.map((v) => v.poll?.poll), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      assert.isTrue(verdicts.every((v) => v.poll?.attempt === 1 && v.poll.window?.startedAt === SINCE && v.poll.window.forMs === 300_000))
    }))

  it.effect("a poll failing at minute 2 ends the window at once; the retry 15 s later fails too → NotRecovered", () =>
    Effect.gen(function*() {
      const { verdicts, endedAt } = yield* run(byTime((t) => t < 120_000), window5m)
      // window 1: polls at 0 … 90 s pass, the one at 120 s fails and ends it
      const w1 = verdicts.filter((v) => v.poll?.attempt === 1)
      assert.deepStrictEqual(w1.map((v) => [v._tag, v.poll!.offsetMs]), [
        ["Recovered", 0], ["Recovered", 30_000], ["Recovered", 60_000], ["Recovered", 90_000], ["NotRecovered", 120_000]
      ])
      // window 2 starts 15 s after the failure and its first poll fails: no further polls
      const w2 = verdicts.filter((v) => v.poll?.attempt === 2)
      assert.deepStrictEqual(w2.map((v) => [v._tag, v.poll!.offsetMs, v.poll!.window?.startedAt]), [["NotRecovered", 135_000, SINCE + 135_000]])
      assert.strictEqual(verdicts.length, 6)
      assert.strictEqual(verdicts[verdicts.length - 1]!._tag, "NotRecovered")
      assert.isAtMost(endedAt - SINCE, 136_000, "ended right after the failing poll, not at the window's end")
    }))

  it.effect("the retry rule: a window failing at its first poll is retried 15 s later with a fresh full window", () =>
    Effect.gen(function*() {
      const { verdicts } = yield* run(byTime((t) => t >= 10_000), window5m)
      assert.strictEqual(verdicts.length, 12)
      assert.deepStrictEqual([verdicts[0]!._tag, verdicts[0]!.poll?.attempt], ["NotRecovered", 1])
      const w2 = verdicts.slice(1)
      assert.isTrue(w2.every((v) => v._tag === "Recovered" && v.poll?.attempt === 2))
      assert.strictEqual(w2[0]!.poll!.offsetMs, 15_000)
      assert.strictEqual(w2[10]!.poll!.offsetMs, 315_000)
    }))

  it.effect("an inconclusive (dying) poll ends the window; with no retry left the verdict is Inconclusive", () =>
    Effect.gen(function*() {
      const dies: Verifier.Verifier<never> = () =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => (now - SINCE >= 60_000 ? Effect.die(new Error("probe crashed")) : Effect.succeed(Verdict.fromChecks([], now))))
      const { verdicts } = yield* run(dies, Verifier.hold(Verifier.once("0 millis"), { every: "30 seconds", for: "5 minutes" }))
      assert.deepStrictEqual(verdicts.map((v) => v._tag), ["Recovered", "Recovered", "Inconclusive"])
      assert.match((verdicts[2] as { reason: string }).reason, /verifier died/)
    }))

  it.effect("a window due in the past (a resumed incident, last action 10 min ago) starts now and still holds its full length", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(SINCE + 600_000)
      const fiber = yield* Effect.forkChild(Verifier.runSchedule(byTime(() => true), window5m, ctx))
      yield* TestClock.adjust("299 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "no poll is taken back-to-back for the past")
      yield* TestClock.adjust("1 second")
      const verdicts = yield* Fiber.join(fiber)
      assert.strictEqual(verdicts.length, 11)
      assert.deepStrictEqual(verdicts.map((v) => v.at - SINCE), [600, 630, 660, 690, 720, 750, 780, 810, 840, 870, 900].map((s) => s * 1000))
      assert.strictEqual(verdicts[0]!.poll!.window!.startedAt, SINCE + 600_000)
    }))

  it("rejects windows that cannot be polled", () => {
    assert.throws(() => Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "0 seconds", for: "5 minutes" }), RangeError)
    assert.throws(() => Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "1 minute", for: "30 seconds" }), RangeError)
    assert.throws(() => Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "1 minute", for: "Infinity" }), RangeError)
    assert.throws(() => Verifier.every("0 seconds", "1 minute"), RangeError)
    assert.deepStrictEqual(Verifier.windowOffsets({ everyMs: 40_000, forMs: 100_000 }), [0, 40_000, 80_000, 100_000])
  })
})

describe("Verifier re-poll", () => {
  it.effect("30/90/180 s: every poll runs and is recorded; the verdict is the last poll's", () =>
    Effect.gen(function*() {
      // recovered at 30 s, relapsed at 90 s, recovered again at 180 s
      const a = yield* run(byTime((t) => t < 60_000 || t >= 150_000), Verifier.schedules.repoll30_90_180)
      assert.deepStrictEqual(a.verdicts.map((v) => [v._tag, v.poll?.offsetMs]), [["Recovered", 30_000], ["NotRecovered", 90_000], ["Recovered", 180_000]])
      // recovered at 30 s is not the end: the relapse at 180 s decides
      const b = yield* run(byTime((t) => t < 150_000), Verifier.schedules.repoll30_90_180)
      assert.deepStrictEqual(b.verdicts.map((v) => v._tag), ["Recovered", "Recovered", "NotRecovered"])
    }))

  it.effect("retry schedules still stop at the first Recovered", () =>
    Effect.gen(function*() {
      const { verdicts } = yield* run(byTime(() => true), Verifier.schedules.retryOnceAt15s)
      assert.deepStrictEqual(verdicts.map((v) => [v._tag, v.poll?.attempt, v.poll?.window]), [["Recovered", 1, undefined]])
    }))
})

describe("hold windows through Runbook.handle and the report", () => {
  const schedule = Verifier.hold(Verifier.schedules.retryOnceAt15s, { every: "30 seconds", for: "5 minutes" })

  /** Runs `handle` in a fiber; `during(elapsedMs)` runs before each 1 s step. */
  const handle = (pool: F.Pool, during: (elapsedMs: number) => void = () => {}) =>
    Effect.gen(function*() {
      const t0 = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.forkChild(Runbook.handle(F.runbook(pool, { verifySchedule: schedule }), F.signal(t0)))
      let elapsed = 0
      while (fiber.pollUnsafe() === undefined && elapsed < 1_800_000) {
        during(elapsed)
        yield* TestClock.adjust("1 second")
        elapsed += 1000
      }
      const r = yield* Fiber.join(fiber)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      return { report: r, elapsed }
    })

  it.effect("a healthy window: recovered only after the full 5 minutes, every poll in the report", () => {
    const pool = F.makePool()
    return Effect.gen(function*() {
      const { report, elapsed } = yield* handle(pool)
      assert.strictEqual(report.status, "recovered")
      assert.isAtLeast(elapsed, 300_000)
      assert.strictEqual(report.verdicts.length, 11)
      const decoded = Schema.decodeUnknownSync(IncidentReport.IncidentReport)(JSON.parse(Report.toJson(report)))
      assert.strictEqual(decoded.verdicts[10]?.poll?.poll, 11)
      assert.strictEqual(report.timeline.filter((e) => e.phase === "verify" && /^window 1, poll \d+\/11/.test(e.message)).length, 11)
      const md = Report.toMarkdown(report)
      assert.match(md, /### Window 1: every 30s for 5m from .* — Recovered, 11\/11 polls passed/)
      assert.strictEqual((md.match(/\| queue drained \| yes \| queue 0 \|/g) ?? []).length, 11)
      assert.include(md, "| 11 | ")
      assert.include(md, "+5m")
    }).pipe(Effect.provide(F.layer(pool)))
  })

  it.effect("the backlog returning at minute 2 ends the window NotRecovered and escalates; the report lists each poll", () => {
    const pool = F.makePool()
    return Effect.gen(function*() {
      let relapsed = false
      const { report, elapsed } = yield* handle(pool, (t) => {
        if (!relapsed && t >= 100_000) {
          relapsed = true
          pool.queue = 300
        }
      })
      assert.strictEqual(report.status, "escalated")
      assert.isBelow(elapsed, 200_000, "escalated at the failing poll, not after 5 minutes")
      assert.match(report.escalation!.reason, /not recovered after 6 checks: queue drained: queue 300/)
      assert.strictEqual(report.escalation!.verdicts.length, 6)
      assert.deepStrictEqual(report.verdicts.map((v) => v._tag), ["Recovered", "Recovered", "Recovered", "Recovered", "NotRecovered", "NotRecovered"])
      const md = Report.toMarkdown(report)
      assert.match(md, /### Window 1: every 30s for 5m from .* — NotRecovered at poll 5\/11 \(.*\): queue drained: queue 300/)
      assert.match(md, /### Window 2: every 30s for 5m from .* — NotRecovered at poll 1\/11/)
      assert.match(md, /\| 5 \| [^|]+ \| \+2m \| NotRecovered \| queue drained \| no \| queue 300 \|/)
    }).pipe(Effect.provide(F.layer(pool)))
  })
})
