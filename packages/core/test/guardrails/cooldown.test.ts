import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Guardrails from "../../src/Guardrails"
import * as TargetRef from "../../src/TargetRef"
import { acquire, check, reasonOf, retryAfterOf, windowCount, withStore } from "./helpers"

const node1 = TargetRef.make("k8s/Node", "prod/node-1")
const node2 = TargetRef.make("k8s/Node", "prod/node-2")
const TEN_MIN = 600_000

describe("cooldown", () => {
  const g = Guardrails.cooldown({ key: Guardrails.keys.perTarget("kubelet-restart"), duration: "10 minutes" })
  const storeKey = Guardrails.cooldownStoreKey("kubelet-restart:" + TargetRef.key(node1))

  it.effect("denies within the cooldown, with the time left; passes exactly at its end", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* acquire(g, { target: node1 })).result._tag, "Pass")
      yield* TestClock.adjust("4 minutes")
      const during = yield* check(g, { target: node1 })
      assert.strictEqual(during._tag, "Deny")
      assert.strictEqual(retryAfterOf(during), 6 * 60_000)
      assert.include(reasonOf(during), "is cooling down (last action 4m ago; retry in 6m)")
      yield* TestClock.adjust(6 * 60_000 - 1)
      assert.strictEqual(retryAfterOf(yield* check(g, { target: node1 })), 1)
      assert.strictEqual((yield* acquire(g, { target: node1 })).result._tag, "Deny")
      yield* TestClock.adjust(1)
      assert.strictEqual((yield* check(g, { target: node1 }))._tag, "Pass")
      assert.strictEqual((yield* acquire(g, { target: node1 })).result._tag, "Pass")
    })))

  it.effect("keys are independent, check records nothing, release undoes the record", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(g, { target: node1 }))._tag, "Pass")
      assert.strictEqual(yield* windowCount(storeKey, TEN_MIN), 0)
      const a = yield* acquire(g, { target: node1 })
      assert.strictEqual(yield* windowCount(storeKey, TEN_MIN), 1)
      assert.strictEqual((yield* acquire(g, { target: node2 })).result._tag, "Pass")
      assert.strictEqual((yield* check(g, { target: node1 }))._tag, "Deny")
      yield* a.release
      assert.strictEqual(yield* windowCount(storeKey, TEN_MIN), 0)
      assert.strictEqual((yield* check(g, { target: node1 }))._tag, "Pass")
      assert.strictEqual((yield* check(g, { target: node2 }))._tag, "Deny")
    })))

  it.effect("does not share its record with a rate limit on the same key", () =>
    withStore(Effect.gen(function*() {
      const rl = Guardrails.rateLimit({ key: Guardrails.keys.perTarget("kubelet-restart"), max: 1, window: "1 hour" })
      assert.strictEqual((yield* acquire(g, { target: node1 })).result._tag, "Pass")
      assert.strictEqual((yield* acquire(rl, { target: node1 })).result._tag, "Pass")
    })))

  it.effect("an invalid duration denies every action", () =>
    withStore(Effect.gen(function*() {
      const bad = Guardrails.cooldown({ key: Guardrails.keys.global("k"), duration: "Infinity" })
      assert.include(reasonOf(yield* check(bad)), "duration must be a positive finite duration")
    })))
})
