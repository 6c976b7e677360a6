import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Guardrails from "../../src/Guardrails"
import * as TargetRef from "../../src/TargetRef"
import { acquire, check, ctx, reasonOf, retryAfterOf, windowCount, withStore } from "./helpers"

const HOUR = 3_600_000
const DAY = 24 * HOUR
const podA = TargetRef.make("k8s/Pod", "prod/api/web-1")
const podB = TargetRef.make("k8s/Pod", "prod/api/web-2")

describe("rateLimit", () => {
  const bumpPerPodPerDay = Guardrails.rateLimit({
    name: "bump_per_pod_per_day",
    key: Guardrails.keys.perTarget("memory-bump"),
    max: 1,
    window: "24 hours"
  })

  it.effect("1 bump/pod/24h: the second bump is denied until exactly 24h after the first", () =>
    withStore(Effect.gen(function*() {
      const first = yield* acquire(bumpPerPodPerDay, { target: podA })
      assert.strictEqual(first.result._tag, "Pass")
      assert.strictEqual(yield* windowCount("memory-bump:k8s/Pod:prod/api/web-1", DAY), 1)

      yield* TestClock.adjust(DAY - 1) // 1 ms before the window end
      const checked = yield* check(bumpPerPodPerDay, { target: podA })
      assert.strictEqual(checked._tag, "Deny")
      assert.strictEqual(retryAfterOf(checked), 1)
      assert.include(reasonOf(checked), "1 of 1 used in the last 1d")
      const denied = yield* acquire(bumpPerPodPerDay, { target: podA })
      assert.strictEqual(denied.result._tag, "Deny")
      assert.strictEqual(retryAfterOf(denied.result), 1)

      yield* TestClock.adjust(1) // exactly at the window end: the first bump has left the window
      assert.strictEqual((yield* check(bumpPerPodPerDay, { target: podA }))._tag, "Pass")
      assert.strictEqual((yield* acquire(bumpPerPodPerDay, { target: podA })).result._tag, "Pass")
    })))

  it.effect("one step takes one unit however often it acquires (a resumed run), also concurrently; another step takes its own", () =>
    withStore(Effect.gen(function*() {
      const three = Guardrails.rateLimit({ name: "restarts", key: Guardrails.keys.perTarget("restart"), max: 3, window: "1 hour" })
      const c = yield* ctx({ target: podA, incidentId: "inc-resumed", stepPath: "0.1" })
      const first = yield* three.acquire(c)
      assert.strictEqual(first.result._tag, "Pass")
      // the agent died before journaling `acquired`: the resumed run acquires again, later
      const again = yield* three.acquire({ ...c, now: c.now + 60_000 })
      assert.strictEqual(again.result._tag, "Pass")
      const racing = yield* Effect.forEach(Array.from({ length: 20 }), () => three.acquire(c), { concurrency: "unbounded" })
      assert.isTrue(racing.every((r) => r.result._tag === "Pass"))
      assert.strictEqual(yield* windowCount("restart:k8s/Pod:prod/api/web-1", HOUR), 1)
      // another step, another incident, another plan: their own units
      assert.strictEqual((yield* three.acquire({ ...c, stepPath: "0.2" })).result._tag, "Pass")
      assert.strictEqual((yield* three.acquire({ ...c, incidentId: "inc-other" })).result._tag, "Pass")
      assert.strictEqual(yield* windowCount("restart:k8s/Pod:prod/api/web-1", HOUR), 3)
      assert.strictEqual((yield* three.acquire({ ...c, planDigest: "another-plan" })).result._tag, "Deny")
      // the refund of the resumed acquire gives back the one unit
      yield* again.release
      assert.strictEqual(yield* windowCount("restart:k8s/Pod:prod/api/web-1", HOUR), 2)
    })))

  it.effect("keys are independent: another pod has its own budget", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* acquire(bumpPerPodPerDay, { target: podA })).result._tag, "Pass")
      assert.strictEqual((yield* acquire(bumpPerPodPerDay, { target: podA })).result._tag, "Deny")
      assert.strictEqual((yield* acquire(bumpPerPodPerDay, { target: podB })).result._tag, "Pass")
    })))

  it.effect("check never changes the store", () =>
    withStore(Effect.gen(function*() {
      const max3 = Guardrails.rateLimit({ key: Guardrails.keys.perTargetKind("restart"), max: 3, window: "1 hour" })
      const key = "restart:k8s.patchMemoryLimit:" + TargetRef.key(podA)
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* check(max3, { target: podA }))._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, HOUR), 0)
      yield* acquire(max3, { target: podA })
      yield* acquire(max3, { target: podA })
      assert.strictEqual(yield* windowCount(key, HOUR), 2)
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* check(max3, { target: podA }))._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, HOUR), 2)
      yield* acquire(max3, { target: podA })
      const denied = yield* check(max3, { target: podA })
      assert.strictEqual(denied._tag, "Deny")
      assert.strictEqual(yield* windowCount(key, HOUR), 3)
    })))

  it.effect("max 3 restarts/hour: the 4th is denied with the time until the oldest leaves", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.rateLimit({ key: Guardrails.keys.perTargetKind("restart"), max: 3, window: "1 hour" })
      const o = { kind: "k8s.rolloutRestart", target: podA }
      yield* acquire(g, o)
      yield* TestClock.adjust("10 minutes")
      yield* acquire(g, o)
      yield* TestClock.adjust("10 minutes")
      yield* acquire(g, o)
      const fourth = yield* acquire(g, o)
      assert.strictEqual(fourth.result._tag, "Deny")
      assert.strictEqual(retryAfterOf(fourth.result), 40 * 60_000)
      assert.strictEqual(retryAfterOf(yield* check(g, o)), 40 * 60_000)
      yield* TestClock.adjust("40 minutes")
      assert.strictEqual((yield* acquire(g, o)).result._tag, "Pass")
    })))

  it.effect("release refunds the unit (a later guardrail denied the step)", () =>
    withStore(Effect.gen(function*() {
      const key = "rollback:" + TargetRef.key(podA)
      const g = Guardrails.rateLimit({ key: Guardrails.keys.perTarget("rollback"), max: 1, window: "1 hour" })
      const a = yield* acquire(g, { target: podA })
      assert.strictEqual(a.result._tag, "Pass")
      assert.strictEqual(yield* windowCount(key, HOUR), 1)
      yield* a.release
      assert.strictEqual(yield* windowCount(key, HOUR), 0)
      yield* a.release // idempotent
      assert.strictEqual(yield* windowCount(key, HOUR), 0)
      assert.strictEqual((yield* acquire(g, { target: podA })).result._tag, "Pass")
      // a denied acquisition's release is a no-op and does not refund someone else's unit
      const denied = yield* acquire(g, { target: podA })
      assert.strictEqual(denied.result._tag, "Deny")
      yield* denied.release
      assert.strictEqual(yield* windowCount(key, HOUR), 1)
    })))

  it.effect("guardrails building the same key share the budget (across runbooks)", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.rateLimit({ key: Guardrails.keys.perTarget("memory-bump"), max: 1, window: "24 hours" })
      yield* acquire(g, { target: podA, runbook: "k8s.oom.six-signal" })
      const other = yield* acquire(g, { target: podA, runbook: "k8s.crashloop.seven-class" })
      assert.strictEqual(other.result._tag, "Deny")
    })))

  it.effect("max from Config, and a bad config value is a Deny", () =>
    withStore(Effect.gen(function*() {
      const g = Guardrails.rateLimit({
        key: Guardrails.keys.global("restarts"),
        max: Config.Int("max_restarts_per_hour").pipe(Config.withDefault(3)),
        window: "1 hour"
      })
      const withEnv = (env: Record<string, string>) => Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
      assert.strictEqual((yield* acquire(g).pipe(withEnv({ max_restarts_per_hour: "1" }))).result._tag, "Pass")
      assert.strictEqual((yield* acquire(g).pipe(withEnv({ max_restarts_per_hour: "1" }))).result._tag, "Deny")
      assert.strictEqual((yield* acquire(g).pipe(withEnv({}))).result._tag, "Pass") // default 3
      const bad = yield* check(g).pipe(withEnv({ max_restarts_per_hour: "many" }))
      assert.strictEqual(bad._tag, "Deny")
      assert.include(reasonOf(bad), "could not read max from configuration")
      const zero = yield* check(g).pipe(withEnv({ max_restarts_per_hour: "0" }))
      assert.include(reasonOf(zero), "max must be a positive integer")
    })))

  it.effect("invalid options deny every action instead of crashing", () =>
    withStore(Effect.gen(function*() {
      const badWindow = Guardrails.rateLimit({ key: Guardrails.keys.global("x"), max: 1, window: -5 })
      const r1 = yield* check(badWindow)
      assert.strictEqual(r1._tag, "Deny")
      assert.include(reasonOf(r1), "window must be a positive finite duration")
      const badMax = Guardrails.rateLimit({ key: Guardrails.keys.global("x"), max: 1.5, window: "1 hour" })
      const r2 = yield* acquire(badMax)
      assert.strictEqual(r2.result._tag, "Deny")
      assert.include(reasonOf(r2.result), "max must be a positive integer (got 1.5)")
      const throwingKey = Guardrails.rateLimit({ key: () => { throw new Error("no target ref") }, max: 1, window: "1 hour" })
      assert.include(reasonOf(yield* check(throwingKey)), "could not compute the key: no target ref")
    })))
})

describe("keys", () => {
  it.effect("build keys from the target, action kind, runbook and incident", () =>
    Effect.gen(function*() {
      const c = yield* ctx({ target: podA, kind: "k8s.rolloutUndo", runbook: "rb", incidentId: "i-9" })
      assert.strictEqual(Guardrails.keys.perTarget("p")(c), "p:k8s/Pod:prod/api/web-1")
      assert.strictEqual(Guardrails.keys.perTargetKind("p")(c), "p:k8s.rolloutUndo:k8s/Pod:prod/api/web-1")
      assert.strictEqual(Guardrails.keys.perKind("p")(c), "p:k8s.rolloutUndo")
      assert.strictEqual(Guardrails.keys.perRunbook("p")(c), "p:rb")
      assert.strictEqual(Guardrails.keys.perRunbookTarget("p")(c), "p:rb:k8s/Pod:prod/api/web-1")
      assert.strictEqual(Guardrails.keys.perIncident("p")(c), "p:i-9")
      assert.strictEqual(Guardrails.keys.global("p")(c), "p")
    }))
})
