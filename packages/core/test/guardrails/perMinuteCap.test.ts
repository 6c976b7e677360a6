import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Guardrails from "../../src/Guardrails"
import type { GuardrailContext } from "../../src/Guardrail"
import * as TargetRef from "../../src/TargetRef"
import { acquire, check, reasonOf, retryAfterOf, windowCount, withStore } from "./helpers"

const db = TargetRef.make("db/Postgres", "prod/orders")
const key = "pg-terminate:" + TargetRef.key(db)
const pidsWeight = (ctx: GuardrailContext) => {
  const pids = ctx.action.params["pids"]
  return Array.isArray(pids) ? pids.length : 1
}

const killsPerMinute = Guardrails.perMinuteCap({
  name: "kills_per_minute_cap",
  key: Guardrails.keys.perTarget("pg-terminate"),
  max: 20,
  weight: pidsWeight
})
const terminate = (n: number) => ({ target: db, kind: "pg.terminateBackend", params: { pids: Array.from({ length: n }, (_, i) => 1000 + i) } })

describe("perMinuteCap", () => {
  it.effect("25 terminations requested with cap 20: 20 pass, 5 are rejected with an escalation reason", () =>
    withStore(Effect.gen(function*() {
      const results: Array<string> = []
      for (let i = 0; i < 25; i++) results.push((yield* acquire(killsPerMinute, terminate(1))).result._tag)
      assert.strictEqual(results.filter((t) => t === "Pass").length, 20)
      assert.strictEqual(results.filter((t) => t === "Deny").length, 5)
      assert.deepStrictEqual(results.slice(20), ["Deny", "Deny", "Deny", "Deny", "Deny"])
      const denied = yield* acquire(killsPerMinute, terminate(1))
      assert.include(reasonOf(denied.result), "kills_per_minute_cap 20 reached")
      assert.include(reasonOf(denied.result), "rejected and escalated")
      assert.strictEqual(retryAfterOf(denied.result), 60_000)
      assert.strictEqual(yield* windowCount(key, 60_000), 20)
    })))

  it.effect("weighted acquires: a batch of N sessions takes N units, all or nothing", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* acquire(killsPerMinute, terminate(12))).result._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, 60_000), 12)
      const tooMany = yield* acquire(killsPerMinute, terminate(9))
      assert.strictEqual(tooMany.result._tag, "Deny")
      assert.include(reasonOf(tooMany.result), "12 used in the last minute")
      assert.include(reasonOf(tooMany.result), "9 more requested")
      assert.strictEqual(yield* windowCount(key, 60_000), 12) // nothing taken by the denied batch
      assert.strictEqual((yield* acquire(killsPerMinute, terminate(8))).result._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, 60_000), 20)
    })))

  it.effect("one batch larger than the cap is rejected whole and never retried", () =>
    withStore(Effect.gen(function*() {
      const r = yield* acquire(killsPerMinute, terminate(25))
      assert.strictEqual(r.result._tag, "Deny")
      assert.include(reasonOf(r.result), "kills_per_minute_cap 20 exceeded by one action of 25 units")
      assert.strictEqual(retryAfterOf(r.result), undefined)
      assert.strictEqual(yield* windowCount(key, 60_000), 0)
      assert.strictEqual((yield* check(killsPerMinute, terminate(25)))._tag, "Deny")
    })))

  it.effect("the window is 60 s: at 59.999 s still full, at exactly 60 s free again", () =>
    withStore(Effect.gen(function*() {
      yield* acquire(killsPerMinute, terminate(20))
      yield* TestClock.adjust(59_999)
      const c = yield* check(killsPerMinute, terminate(1))
      assert.strictEqual(c._tag, "Deny")
      assert.strictEqual(retryAfterOf(c), 1)
      yield* TestClock.adjust(1)
      assert.strictEqual((yield* check(killsPerMinute, terminate(20)))._tag, "Pass")
      assert.strictEqual((yield* acquire(killsPerMinute, terminate(20))).result._tag, "Pass")
    })))

  it.effect("check peeks with the weight and changes nothing; release refunds the whole batch", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(killsPerMinute, terminate(20)))._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, 60_000), 0)
      const a = yield* acquire(killsPerMinute, terminate(15))
      assert.strictEqual((yield* check(killsPerMinute, terminate(6)))._tag, "Deny")
      assert.strictEqual((yield* check(killsPerMinute, terminate(5)))._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, 60_000), 15)
      yield* a.release
      assert.strictEqual(yield* windowCount(key, 60_000), 0)
    })))

  it.effect("a weight of 0 passes and takes nothing; a bad weight denies", () =>
    withStore(Effect.gen(function*() {
      const zero = yield* acquire(killsPerMinute, terminate(0))
      assert.strictEqual(zero.result._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, 60_000), 0)
      const bad = Guardrails.perMinuteCap({ key: Guardrails.keys.perTarget("x"), max: 20, weight: () => -2 })
      assert.include(reasonOf(yield* check(bad)), "the weight must be a non-negative integer (got -2)")
    })))

  it.effect("the cap is read from configuration (kills_per_minute_cap, default 20)", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.perMinuteCap({
        name: "kills_per_minute_cap",
        key: Guardrails.keys.perTarget("pg-terminate"),
        max: Config.Int("kills_per_minute_cap").pipe(Config.withDefault(20)),
        weight: pidsWeight
      })
      const env = ConfigProvider.fromEnv({ env: { kills_per_minute_cap: "5" } })
      const r = yield* acquire(g, terminate(6)).pipe(Effect.provideService(ConfigProvider.ConfigProvider, env))
      assert.include(reasonOf(r.result), "kills_per_minute_cap 5 exceeded")
      const d = yield* acquire(g, terminate(20)).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} })))
      assert.strictEqual(d.result._tag, "Pass")
    })))
})
