import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Notifier, Runbook, Verdict } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as P from "./pool"

describe("escalation", () => {
  it.effect("a verifier failing twice escalates with the full bundle, after running the undo actions", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    return Effect.gen(function*() {
      const rb = P.runbook(pool)
      const r = yield* Testing.runAdvancing(Runbook.handle(rb, P.signal()), { step: "5 seconds" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      // The action ran once, then its undo (NotRecovered).
      assert.deepStrictEqual(pool.writes, ["scale 2->4", "scale 4->2"])
      assert.strictEqual(pool.workers, 2)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.escalations.length, 1)
      const e = rec.escalations[0]!
      assert.strictEqual(e.incidentId, r.incidentId)
      assert.strictEqual(e.severity, "critical")
      assert.match(e.reason, /not recovered after 2 checks: queue drained: queue 500/)
      // signal
      assert.deepStrictEqual(e.signal, P.signal())
      // facts
      assert.deepStrictEqual(e.facts, { workers: { _tag: "Known", value: 2 }, queue: { _tag: "Known", value: 500 } })
      // classification
      assert.strictEqual(e.classification?._tag, "Classified")
      assert.strictEqual((e.classification as any).class, "too_few_workers")
      // plan
      assert.strictEqual(e.plan?.summary, "scale 2 → 4")
      // decisions (plan step checked and acquired; the undo step checked and acquired)
      assert.deepStrictEqual(e.decisions.map((d) => [d.stepPath, d.phase, d.decision]), [
        ["0", "check", "allow"],
        ["0", "acquire", "allow"],
        ["undo.0", "check", "allow"],
        ["undo.0", "acquire", "allow"]
      ])
      // outcomes: the action applied, the undo applied
      assert.deepStrictEqual(e.outcomes.map((o) => [o.stepPath, o.status, o.detail]), [
        ["0", "applied", "scaled 2 → 4"],
        ["undo.0", "applied", "scaled 4 → 2"]
      ])
      // verdicts: checked at 0 s and retried at 15 s, both NotRecovered
      assert.deepStrictEqual(e.verdicts.map((v) => v._tag), ["NotRecovered", "NotRecovered"])
      assert.strictEqual(e.verdicts[1]!.at - e.verdicts[0]!.at, 15_000)
      // next steps
      assert.deepStrictEqual(e.nextSteps, ["look at the job producers"])
      assert.deepStrictEqual(e.proposals, [])
      // The report carries the same bundle.
      assert.deepStrictEqual(r.escalation, e)
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })

  it.effect("Inconclusive escalates without undo", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    return Effect.gen(function*() {
      const rb = P.runbook(pool, { verify: () => Effect.succeed(Verdict.inconclusive("metrics unavailable", 0)) })
      const r = yield* Testing.runAdvancing(Runbook.handle(rb, P.signal()), { step: "5 seconds" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /inconclusive: metrics unavailable/)
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })

  it.effect("a verifier that recovers on the retry does not escalate", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    let calls = 0
    return Effect.gen(function*() {
      const rb = P.runbook(pool, {
        verify: (ctx) => Effect.sync(() => (++calls === 1 ? Verdict.fromChecks([{ name: "q", ok: false, detail: "not yet" }], ctx.since) : Verdict.fromChecks([{ name: "q", ok: true, detail: "drained" }], ctx.since)))
      })
      const r = yield* Testing.runAdvancing(Runbook.handle(rb, P.signal()), { step: "5 seconds" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(calls, 2)
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })
})
