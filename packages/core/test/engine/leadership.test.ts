/**
 * Leadership in the executor (issue 18 §1, fencing): with the Leadership service only the leader
 * starts steps, its guardrail acquires carry its epoch (fenced by the store), and an acquire the
 * store refuses as stale makes it step down with nothing applied and the journal left open.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Option } from "effect"
import { Guardrail, GuardrailStore, Leadership, Plan } from "@byteport/core"
import * as W from "./world"

const plan = (root: Plan.Step) => Plan.make("test.world", "w.broken", "test", root)
const scope = "byteport/agent-leader"
const budget = () => Guardrail.rateLimit({ name: "ten per hour", key: Guardrail.keys.global("leader-budget"), max: 10, window: "1 hour" })

describe("Executor with Leadership", () => {
  it.effect("the leader's acquires carry its epoch: the store then refuses an older one", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const leader = yield* Leadership.fixed({ scope, value: 5 })
      const res = yield* W.execute(plan(Plan.act(W.action("w.ok", { n: 1 }))), { guardrails: [budget()] }).pipe(
        Effect.provideService(Leadership.Leadership, leader)
      )
      assert.strictEqual(res.status, "completed")
      assert.strictEqual(hs.ok.writes.length, 1)
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      const old = yield* Effect.flip(store.acquireWindow({ key: "other", max: 1, windowMs: 1_000, now, epoch: { scope, value: 4 } }))
      assert.strictEqual(GuardrailStore.staleEpochOf(old)?.highest, 5)
      assert.deepStrictEqual(yield* leader.stepDowns, [])
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("a replica that does not lead starts no step: interrupted before `intent`, nothing applied, the incident left open", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const follower: Leadership.LeadershipShape = { epoch: Effect.succeed(Option.none()), stepDown: () => Effect.void }
      const exit = yield* Effect.exit(
        W.execute(plan(Plan.act(W.action("w.ok", { n: 1 }))), { guardrails: [budget()] }).pipe(Effect.provideService(Leadership.Leadership, follower))
      )
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.deepStrictEqual(hs.ok.runs, [])
      const store = yield* GuardrailStore.GuardrailStore
      assert.deepStrictEqual((yield* store.readJournal("inc-test")).map((e) => e.type), ["opened"])
      assert.strictEqual((yield* store.peekWindow("leader-budget", 3_600_000, yield* Clock.currentTimeMillis)).count, 0)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it.effect("a deposed leader (a newer epoch wrote meanwhile): its acquire is refused, it steps down, units given back, nothing applied", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    return Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      // the new leader (epoch 6) has written
      assert.isTrue(yield* store.compareAndSet("new-leader-was-here", 0, true, { epoch: { scope, value: 6 } }))
      const old = yield* Leadership.fixed({ scope, value: 5 })
      const unfenced = Guardrail.rateLimit({ name: "first", key: Guardrail.keys.global("first-budget"), max: 10, window: "1 hour" })
      const exit = yield* Effect.exit(
        W.execute(plan(Plan.seq(Plan.act(W.action("w.ok", { n: 1 })), Plan.act(W.action("w.ok", { n: 2 })))), { guardrails: [unfenced, budget()] }).pipe(
          Effect.provideService(Leadership.Leadership, old)
        )
      )
      assert.isTrue(Exit.hasInterrupts(exit))
      assert.deepStrictEqual(hs.ok.runs, [])
      const downs = yield* old.stepDowns
      assert.strictEqual(downs.length, 1)
      assert.match(downs[0]!, /refused epoch 5 .* is 6/)
      assert.strictEqual((yield* store.peekWindow("first-budget", 3_600_000, now)).count, 0)
      assert.strictEqual((yield* store.peekWindow("leader-budget", 3_600_000, now)).count, 0)
      const journal = (yield* store.readJournal("inc-test")).map((e) => e.type)
      assert.deepStrictEqual(journal, ["opened", "intent"])
      // the new leader resumes it: the step runs once, with its own epoch
      const fresh = yield* Leadership.fixed({ scope, value: 6 })
      const res = yield* W.execute(plan(Plan.seq(Plan.act(W.action("w.ok", { n: 1 })), Plan.act(W.action("w.ok", { n: 2 })))), { guardrails: [unfenced, budget()] }).pipe(
        Effect.provideService(Leadership.Leadership, fresh)
      )
      assert.strictEqual(res.status, "completed")
      assert.deepStrictEqual(hs.ok.writes.map((w) => w.action.params["n"]), [1, 2])
      assert.strictEqual((yield* store.peekWindow("leader-budget", 3_600_000, now)).count, 2)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })
})
