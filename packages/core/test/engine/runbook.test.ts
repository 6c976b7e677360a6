import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Notifier, Runbook } from "@byteport/core"
import * as F from "./fixture"

describe("Runbook.handle", () => {
  it.effect("auto: diagnose → classify → plan → act → verify → recovered", () => {
    const pool = F.makePool()
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(F.runbook(pool), F.signal())
      assert.isFalse(Runbook.isAwaitingApproval(r))
      if (Runbook.isAwaitingApproval(r)) return
      assert.strictEqual(r.status, "recovered")
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
      assert.strictEqual(r.classification?._tag, "Classified")
      assert.strictEqual(r.verdicts[0]?._tag, "Recovered")
      assert.deepStrictEqual(r.decisions.map((d) => [d.phase, d.decision]), [["check", "allow"], ["acquire", "allow"]])
    }).pipe(Effect.provide(F.layer(pool)))
  })

  it.effect("a second incident within the hour is denied by the action-kind rate limit and escalated", () => {
    const pool = F.makePool()
    return Effect.gen(function*() {
      const rb = F.runbook(pool, { cooldown: "1 millis" })
      yield* Runbook.handle(rb, F.signal())
      pool.workers = 2
      pool.queue = 500
      const { TestClock } = yield* Effect.promise(() => import("effect/testing"))
      yield* TestClock.adjust("1 minute")
      const r = yield* Runbook.handle(rb, F.signal())
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.strictEqual(r.status, "escalated")
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
      const rec = yield* Notifier.NotifierRecording
      const got = yield* rec.get
      assert.strictEqual(got.escalations.length, 1)
      assert.match(got.escalations[0]!.reason, /pool.scale 1\/hour/)
    }).pipe(Effect.provide(F.layer(pool)))
  })

  it.effect("dry_run writes nothing and posts the plan", () => {
    const pool = F.makePool()
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(F.runbook(pool), F.signal(), { mode: "dry_run" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.strictEqual(r.status, "dry_run")
      assert.deepStrictEqual(pool.writes, [])
      assert.strictEqual(r.outcomes[0]?.status, "dry_run")
      const got = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(got.plans.length, 1)
    }).pipe(Effect.provide(F.layer(pool)))
  })
})
