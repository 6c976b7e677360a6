import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { Guardrail, GuardrailStore, Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

/** A guardrail that logs every check and acquire with the step path, and passes. */
const spy = (log: Array<string>, name = "spy") =>
  Guardrail.make({
    name,
    check: (ctx) => Effect.sync(() => (log.push(`check ${ctx.stepPath}`), Guardrail.pass)),
    acquire: (ctx) => Effect.sync(() => (log.push(`acquire ${ctx.stepPath}`), { result: Guardrail.pass, release: Guardrail.noRelease }))
  })

/** Passes every check, denies every acquire (the budget is gone by the time the step runs). */
const deniesOnAcquire = Guardrail.make({
  name: "denies-on-acquire",
  check: () => Effect.succeed(Guardrail.pass),
  acquire: () => Effect.succeed({ result: Guardrail.deny("gone"), release: Guardrail.noRelease })
})

const plan = (root: Plan.Step) => Plan.make("test.world", "w.broken", "test", root)

describe("Executor", () => {
  it.effect("checks every step's guardrails before the first write: a plan whose 2nd step would be denied writes nothing", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const res = yield* W.execute(plan(Plan.seq(Plan.act(W.action("w.ok", { n: 1 })), Plan.act(W.action("w.denied", { n: 2 })))))
      assert.strictEqual(res.status, "denied")
      assert.deepStrictEqual(hs.ok.runs, [])
      assert.deepStrictEqual(hs.denied.runs, [])
      assert.deepStrictEqual(res.outcomes, [])
      assert.deepStrictEqual(res.decisions.map((d) => [d.stepPath, d.phase, d.decision]), [["0.0", "check", "allow"], ["0.1", "check", "deny"]])
      const store = yield* GuardrailStore.GuardrailStore
      const journal = yield* store.readJournal("inc-test")
      assert.deepStrictEqual(journal.map((e) => e.type), ["opened"]) // no intent, no acquire
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("acquires just before each step: the budget taken by step 1 is gone when step 2 acquires", () => {
    const world = W.makeWorld()
    const log: Array<string> = []
    const hs = {
      ...W.handlers(world),
      ok: Testing.recordingHandler("w.ok", { apply: (a) => Effect.sync(() => void log.push(`apply ${a.params["n"]}`)) })
    }
    return Effect.gen(function*() {
      const budget = Guardrail.rateLimit({ name: "one per hour", key: Guardrail.keys.global("budget"), max: 1, window: "1 hour" })
      const res = yield* W.execute(
        plan(Plan.seq(Plan.act(W.action("w.ok", { n: 1 })), Plan.act(W.action("w.ok", { n: 2 })))),
        { guardrails: [spy(log), budget] }
      )
      // Both steps pass the read-only pre-check (nothing is taken yet) …
      assert.deepStrictEqual(log, ["check 0.0", "check 0.1", "acquire 0.0", "apply 1", "acquire 0.1"])
      // … but step 1 took the only unit, so step 2 is denied at its acquire.
      assert.strictEqual(res.status, "denied")
      assert.deepStrictEqual(hs.ok.writes.map((w) => w.action.params["n"]), [1])
      assert.deepStrictEqual(res.decisions.map((d) => [d.stepPath, d.phase, d.decision]), [
        ["0.0", "check", "allow"],
        ["0.1", "check", "allow"],
        ["0.0", "acquire", "allow"],
        ["0.1", "acquire", "deny"]
      ])
      assert.match(res.decisions[3]!.reason!, /1 of 1 used/)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("refunds on denial: when the 2nd guardrail of a step denies, the 1st's window count is unchanged", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const counted = Guardrail.rateLimit({ name: "five per hour", key: Guardrail.keys.global("refund"), max: 5, window: "1 hour" })
      const now = yield* Clock.currentTimeMillis
      const before = yield* store.peekWindow("refund", 3_600_000, now)
      const res = yield* W.execute(plan(Plan.act(W.action("w.ok", { n: 1 }))), { guardrails: [counted, deniesOnAcquire] })
      assert.strictEqual(res.status, "denied")
      assert.deepStrictEqual(hs.ok.runs, [])
      const after = yield* store.peekWindow("refund", 3_600_000, now)
      assert.strictEqual(before.count, 0)
      assert.strictEqual(after.count, 0)
      // Control: without the denying guardrail the same step takes one unit.
      const ok = yield* W.execute(plan(Plan.act(W.action("w.ok", { n: 2 }))), { guardrails: [counted], incidentId: "inc-2" })
      assert.strictEqual(ok.status, "completed")
      assert.strictEqual((yield* store.peekWindow("refund", 3_600_000, now)).count, 1)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("Fallback takes `otherwise` only on the conditions it names", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      // on failed: a failed primary runs otherwise.
      const a = yield* W.execute(plan(Plan.fallback(Plan.act(W.action("w.fail", { n: 1 })), Plan.act(W.action("w.ok", { n: 2 })), { on: ["failed"] })))
      assert.strictEqual(a.status, "completed")
      assert.deepStrictEqual(a.outcomes.map((o) => [o.stepPath, o.status]), [["0.p", "failed"], ["0.o", "applied"]])
      // on failed only: a denied primary does not run otherwise (and the plan is denied before it starts).
      const b = yield* W.execute(plan(Plan.fallback(Plan.act(W.action("w.denied", { n: 3 })), Plan.act(W.action("w.ok", { n: 4 })), { on: ["failed"] })), { incidentId: "inc-b" })
      assert.strictEqual(b.status, "denied")
      assert.deepStrictEqual(hs.ok.writes.map((w) => w.action.params["n"]), [2])
      // on denied: a denied primary runs otherwise.
      const c = yield* W.execute(plan(Plan.fallback(Plan.act(W.action("w.denied", { n: 5 })), Plan.act(W.action("w.ok", { n: 6 })), { on: ["denied"] })), { incidentId: "inc-c" })
      assert.strictEqual(c.status, "completed")
      assert.deepStrictEqual(c.outcomes.map((o) => [o.stepPath, o.status]), [["0.p", "denied"], ["0.o", "applied"]])
      // on check: a primary that applied but whose check fails runs otherwise; a passing check does not.
      const d = yield* W.execute(plan(Plan.fallback(Plan.act(W.action("w.ok", { n: 7 })), Plan.act(W.action("w.bump", { n: 8 })), { on: ["check"], check: W.bumpsAtLeast(1) })), { incidentId: "inc-d" })
      assert.deepStrictEqual(d.outcomes.map((o) => [o.stepPath, o.status]), [["0.p", "applied"], ["0.check", "check_failed"], ["0.o", "applied"]])
      const e = yield* W.execute(plan(Plan.fallback(Plan.act(W.action("w.ok", { n: 9 })), Plan.act(W.action("w.bump", { n: 10 })), { on: ["check"], check: W.bumpsAtLeast(1) })), { incidentId: "inc-e" })
      assert.deepStrictEqual(e.outcomes.map((o) => [o.stepPath, o.status]), [["0.p", "applied"], ["0.check", "check_passed"]])
      assert.strictEqual(world.bumps, 1)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("Until stops as soon as its check passes", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const steps = [1, 2, 3, 4, 5].map((n) => Plan.act(W.action("w.bump", { n })))
      const res = yield* W.execute(plan(Plan.until(W.bumpsAtLeast(2), ...steps)))
      assert.strictEqual(res.status, "completed")
      assert.deepStrictEqual(hs.bump.writes.map((w) => w.action.params["n"]), [1, 2])
      // Already met: no step runs at all.
      const again = yield* W.execute(plan(Plan.until(W.bumpsAtLeast(2), ...steps)), { incidentId: "inc-2" })
      assert.strictEqual(again.status, "completed")
      assert.strictEqual(hs.bump.writes.length, 2)
      // Never met: every step runs and the step ends check_failed.
      const never = yield* W.execute(plan(Plan.until(W.bumpsAtLeast(100), Plan.act(W.action("w.bump", { n: 6 })))), { incidentId: "inc-3" })
      assert.strictEqual(never.status, "failed")
      assert.strictEqual(never.outcomes.at(-1)?.status, "check_failed")
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("WaitFor times out under the TestClock (and passes when the check comes true)", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      const res = yield* Testing.runAdvancing(
        W.execute(plan(Plan.seq(Plan.waitFor(W.ticksAtLeast(1_000), { timeoutMs: 30_000, intervalMs: 5_000 }), Plan.act(W.action("w.ok", { n: 1 }))))),
        { step: "1 second" }
      )
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.strictEqual(res.status, "failed")
      assert.strictEqual(res.outcomes[0]?.status, "check_failed")
      assert.match(res.outcomes[0]!.detail, /gave up after 30s/)
      assert.deepStrictEqual(hs.ok.runs, []) // the step after the WaitFor never ran
      assert.isAtLeast(elapsed, 30_000)
      assert.strictEqual(world.ticks, 7) // polled at 0, 5, … 30 s
      const ok = yield* Testing.runAdvancing(
        W.execute(plan(Plan.waitFor(W.ticksAtLeast(9), { timeoutMs: 30_000, intervalMs: 5_000 })), { incidentId: "inc-2" })
      )
      assert.strictEqual(ok.status, "completed")
      assert.strictEqual(ok.outcomes[0]?.status, "check_passed")
    }).pipe(Effect.provide(W.layer(world, hs)))
  })
})
