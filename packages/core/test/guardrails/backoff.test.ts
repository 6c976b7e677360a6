import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as Backoff from "../../src/Backoff"
import { GuardrailStore } from "../../src/GuardrailStore"
import * as Guardrails from "../../src/Guardrails"
import * as TargetRef from "../../src/TargetRef"
import { acquire, check, reasonOf, retryAfterOf, withStore } from "./helpers"

const S = 1000

describe("Backoff", () => {
  it("delays are 30s × 2^N capped at 300s: 30/60/120/240/300/300", () => {
    const delay = Backoff.delay({ base: "30 seconds", factor: 2, cap: "300 seconds" })
    assert.deepStrictEqual([0, 1, 2, 3, 4, 5].map((n) => Duration.toSeconds(delay(n))), [30, 60, 120, 240, 300, 300])
    assert.deepStrictEqual([0, 1, 2, 3, 4, 5, 40].map(Backoff.millis()), [30, 60, 120, 240, 300, 300, 300].map((s) => s * S))
    assert.strictEqual(Backoff.millis(delay)(-1), 30 * S)
    assert.strictEqual(Backoff.millis({ base: "1 second", factor: 3, cap: "1 minute" })(2), 9 * S)
  })

  it("invalid options are a typed InvalidBackoff", () => {
    assert.instanceOf(Backoff.resolve({ factor: 0.5 }), Backoff.InvalidBackoff)
    assert.instanceOf(Backoff.resolve({ base: "10 minutes", cap: "1 minute" }), Backoff.InvalidBackoff)
    assert.instanceOf(Backoff.resolve({ base: "Infinity" }), Backoff.InvalidBackoff)
    assert.throws(() => Backoff.delay({ factor: Number.NaN }), /factor must be a finite number/)
    assert.deepStrictEqual(Backoff.resolve(), { baseMs: 30 * S, factor: 2, capMs: 300 * S })
  })

  it.effect("schedule waits the same delays between retries", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make<Array<number>>([])
      const failing = Effect.gen(function*() {
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        yield* Ref.update(attempts, (xs) => [...xs, now])
        return yield* Effect.fail("still down")
      })
      const fiber = yield* Effect.forkChild(Effect.retry(failing, Backoff.schedule().pipe(Schedule.upTo({ times: 6 }))).pipe(Effect.flip))
      yield* TestClock.adjust("30 minutes")
      assert.strictEqual(yield* Fiber.join(fiber), "still down")
      const times = yield* Ref.get(attempts)
      const gaps = times.slice(1).map((t, i) => (t - times[i]!) / S)
      assert.deepStrictEqual(gaps, [30, 60, 120, 240, 300, 300])
    }))
})

describe("Guardrail.backoff", () => {
  const target = TargetRef.make("k8s/Workload", "prod/api/Deployment/web/app")
  const g = Guardrails.backoff({ key: Guardrails.keys.perTargetKind("restart"), base: "30 seconds", cap: "300 seconds" })
  const o = { target, kind: "k8s.rolloutRestart" }
  const key = "restart:k8s.rolloutRestart:" + TargetRef.key(target)

  it.effect("the first attempt is free; each next one waits 30/60/120/240/300/300 s after the last", () =>
    withStore(Effect.gen(function*() {
      const waits: Array<number> = []
      for (let i = 0; i < 7; i++) {
        const denied = yield* acquire(g, o)
        if (i === 0) {
          assert.strictEqual(denied.result._tag, "Pass")
          continue
        }
        assert.strictEqual(denied.result._tag, "Deny")
        const wait = retryAfterOf(denied.result)!
        waits.push(wait / S)
        yield* TestClock.adjust(wait - 1) // 1 ms before: still denied
        assert.strictEqual(retryAfterOf(yield* check(g, o)), 1)
        yield* TestClock.adjust(1) // exactly when the backoff ends
        assert.strictEqual((yield* check(g, o))._tag, "Pass")
        assert.strictEqual((yield* acquire(g, o)).result._tag, "Pass")
      }
      assert.deepStrictEqual(waits.slice(0, 6), [30, 60, 120, 240, 300, 300])
      assert.strictEqual((yield* Guardrails.backoff.state(key))?.attempts, 7)
    })))

  it.effect("check records nothing; release takes the attempt back; keys are independent", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(g, o))._tag, "Pass")
      assert.strictEqual(yield* Guardrails.backoff.state(key), undefined)
      const a = yield* acquire(g, o)
      assert.strictEqual((yield* Guardrails.backoff.state(key))?.attempts, 1)
      const d = yield* check(g, o)
      assert.include(reasonOf(d), "backing off after 1 attempt")
      assert.strictEqual((yield* check(g, { ...o, kind: "k8s.patchMemoryLimit" }))._tag, "Pass")
      yield* a.release
      assert.strictEqual(yield* Guardrails.backoff.state(key), undefined)
      assert.strictEqual((yield* check(g, o))._tag, "Pass")
    })))

  it.effect("the count resets after resetAfter without attempts, or explicitly", () =>
    withStore(Effect.gen(function*() {
      const short = Guardrails.backoff({ key: Guardrails.keys.perTargetKind("restart"), resetAfter: "10 minutes" })
      yield* acquire(short, o)
      yield* TestClock.adjust("30 seconds")
      yield* acquire(short, o)
      yield* TestClock.adjust("60 seconds")
      yield* acquire(short, o)
      assert.strictEqual(retryAfterOf(yield* check(short, o)), 120 * S)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* acquire(short, o)).result._tag, "Pass")
      assert.strictEqual((yield* Guardrails.backoff.state(key))?.attempts, 1) // started again
      assert.strictEqual(retryAfterOf(yield* check(short, o)), 30 * S)
      yield* Guardrails.backoff.reset(key)
      assert.strictEqual((yield* check(short, o))._tag, "Pass")
    })))

  it.effect("a malformed record denies (fail safe) until reset", () =>
    withStore(Effect.gen(function*() {
      const store = yield* GuardrailStore
      yield* store.compareAndSet(Guardrails.backoffStoreKey(key), 0, { attempts: "many" })
      assert.include(reasonOf(yield* check(g, o)), "is malformed")
      assert.strictEqual((yield* acquire(g, o)).result._tag, "Deny")
      yield* Guardrails.backoff.reset(key)
      assert.strictEqual((yield* acquire(g, o)).result._tag, "Pass")
    })))

  it.effect("invalid options deny every action", () =>
    withStore(Effect.gen(function*() {
      const bad = Guardrails.backoff({ key: () => "k", factor: 0 })
      assert.include(reasonOf(yield* check(bad)), "factor must be a finite number ≥ 1")
    })))
})
