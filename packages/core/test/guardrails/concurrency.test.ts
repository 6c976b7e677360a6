import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { GuardrailStore } from "../../src/GuardrailStore"
import * as MemoryStore from "../../src/stores/MemoryStore"
import { TestClock } from "effect/testing"
import { Guardrail, TargetRef } from "@byteport/core"
import { acquire, windowCount, withStore } from "./helpers"

/** A MemoryStore whose every operation first yields to other fibers, so concurrent guardrails interleave between read and write. */
const withInterleavingStore = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(MemoryStore.make(), (inner) => {
    const y = <X, Y>(e: Effect.Effect<X, Y>) => Effect.andThen(Effect.yieldNow, e)
    const store = {
      ...inner,
      acquireWindow: (r: Parameters<typeof inner.acquireWindow>[0]) => y(inner.acquireWindow(r)),
      peekWindow: (k: string, w: number, n: number) => y(inner.peekWindow(k, w, n)),
      get: (k: string) => y(inner.get(k)),
      compareAndSet: (k: string, v: number, x: Parameters<typeof inner.compareAndSet>[2]) => y(inner.compareAndSet(k, v, x))
    }
    return Effect.provideService(self, GuardrailStore, store)
  })

const db = TargetRef.make("db/Postgres", "prod/orders")

describe("guardrails under concurrency (through the public Guardrail namespace)", () => {
  it.effect("25 concurrent terminations against kills_per_minute_cap 20: exactly 20 pass", () =>
    withInterleavingStore(Effect.gen(function*() {
      const cap = Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key: Guardrail.keys.perTarget("pg-terminate"), max: 20 })
      const results = yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), () => acquire(cap, { target: db }), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.filter((r) => r.result._tag === "Pass").length, 20)
      assert.strictEqual(results.filter((r) => r.result._tag === "Deny").length, 5)
      assert.strictEqual(yield* windowCount("pg-terminate:" + TargetRef.key(db), 60_000), 20)
    })))

  it.effect("concurrent attempts under one backoff: exactly one is recorded (compare-and-swap)", () =>
    withInterleavingStore(Effect.gen(function*() {
      const g = Guardrail.backoff({ key: Guardrail.keys.perTarget("restart") })
      yield* TestClock.adjust("1 hour")
      const results = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => acquire(g, { target: db }), { concurrency: "unbounded" })
      assert.strictEqual(results.filter((r) => r.result._tag === "Pass").length, 1)
      assert.strictEqual((yield* Guardrail.backoff.state("restart:" + TargetRef.key(db)))?.attempts, 1)
    })))

  it.effect("the vocabulary and the interface share one namespace", () =>
    Effect.sync(() => {
      for (const name of [
        "make", "pass", "deny", "needsApproval", "rateLimit", "perMinuteCap", "ceiling", "never", "requireOptIn",
        "requireAnnotation", "minConfidence", "blastRadius", "cooldown", "changeWindow", "approval", "backoff", "when", "named"
      ]) assert.isDefined((Guardrail as Record<string, unknown>)[name], name)
      assert.strictEqual(Guardrail.Approval.key("i"), "approval:i")
      assert.isFunction(Guardrail.ceiling.multipleOfBaseline)
    }))
})
