import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { Diagnoser, GuardrailStore, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as P from "./pool"

describe("leases", () => {
  it.effect("two concurrent handles on one target: one incident, the other a duplicate", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const rb = P.runbook(pool, {
        diagnose: Diagnoser.make<P.Facts>({
          workers: Diagnoser.probe("workers", () =>
            Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.as(pool.workers))),
          queue: Diagnoser.probe("queue", () => Effect.sync(() => pool.queue))
        }),
        verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 }))
      })
      const first = yield* Effect.forkChild(Runbook.handle(rb, P.signal(), { incidentId: "inc-first" }))
      yield* Deferred.await(started) // the first holds the lease and is diagnosing
      const second = yield* Runbook.handle(rb, P.signal(), { incidentId: "inc-second" })
      yield* Deferred.succeed(release, undefined)
      const one = yield* Fiber.join(first)
      if (Runbook.isAwaitingApproval(one) || Runbook.isAwaitingApproval(second)) return assert.fail("no approval expected")
      assert.strictEqual(one.status, "recovered")
      assert.strictEqual(second.status, "duplicate")
      assert.strictEqual(second.duplicateOf, "inc-first")
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
      const store = yield* GuardrailStore.GuardrailStore
      assert.deepStrictEqual((yield* store.listIncidents({ all: true })).map((i) => i.incidentId), ["inc-first"])
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })

  it.effect("ceilings are measured from the baseline taken at lease time: a second incident does not compound", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    return Effect.gen(function*() {
      const rb = P.runbook(pool, { verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 })), leaseTtl: "30 minutes" })
      const a = yield* Runbook.handle(rb, P.signal())
      if (Runbook.isAwaitingApproval(a)) return assert.fail("no approval expected")
      assert.strictEqual(a.status, "recovered")
      assert.strictEqual(pool.workers, 4)
      // The backlog comes back a minute later: the plan now proposes 4 → 8, but the ceiling is 2× the baseline (2).
      yield* Testing.advance("1 minute")
      const b = yield* Runbook.handle(rb, P.signal(60_000))
      if (Runbook.isAwaitingApproval(b)) return assert.fail("no approval expected")
      assert.strictEqual(b.status, "escalated")
      assert.strictEqual(b.plan?.summary, "scale 4 → 8")
      const deny = b.decisions.find((d) => d.decision === "deny")
      assert.strictEqual(deny?.guardrail, "≤2× baseline workers")
      assert.match(deny!.reason!, /exceeds the ceiling 4/)
      assert.deepStrictEqual(pool.writes, ["scale 2->4"])
      // Once the baseline has lapsed (lease + cooldown), a new incident measures from the new state.
      yield* Testing.advance("2 hours")
      const c = yield* Runbook.handle(rb, P.signal(7_260_000))
      if (Runbook.isAwaitingApproval(c)) return assert.fail("no approval expected")
      assert.strictEqual(c.status, "recovered")
      assert.deepStrictEqual(pool.writes, ["scale 2->4", "scale 4->8"])
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })
})
