import { assert, describe, it } from "@effect/vitest"
import { Context, Data, Effect } from "effect"
import * as Guardrails from "../../src/Guardrails"
import { acquire, check, reasonOf, withStore } from "./helpers"

class ProbeFailed extends Data.TaggedError("ProbeFailed")<{ readonly message: string }> {}
const observed = (healthy: number, total: number) => () => Effect.succeed({ healthy, total })

describe("blastRadius", () => {
  it.effect("minHealthy as a percentage: 70% of 10 means at least 7 healthy after acting", () =>
    withStore(Effect.gen(function*() {
      const at = (healthy: number) => Guardrails.blastRadius({ minHealthy: "70%", observe: observed(healthy, 10) })
      assert.strictEqual((yield* check(at(8)))._tag, "Pass") // 8 - 1 = 7 ≥ 7
      const r = yield* check(at(7)) // 7 - 1 = 6 < 7
      assert.strictEqual(r._tag, "Deny")
      assert.include(reasonOf(r), "acting would leave 6/10 healthy, fewer than the minimum 7 (70%) (7/10 healthy now)")
      // rounding up: 70% of 3 = 2.1 → 3
      const small = Guardrails.blastRadius({ minHealthy: "70%", observe: observed(3, 3) })
      assert.strictEqual((yield* check(small))._tag, "Deny")
    })))

  it.effect("minHealthy as a count and maxUnhealthy, with the number of members affected", () =>
    withStore(Effect.gen(function*() {
      const g = (healthy: number, total: number, affected?: number) =>
        Guardrails.blastRadius({ minHealthy: 2, maxUnhealthy: 1, observe: observed(healthy, total), affected: affected === undefined ? undefined : () => affected })
      assert.strictEqual((yield* check(g(3, 3)))._tag, "Pass") // leaves 2 healthy, 1 unhealthy
      const tooManyDown = yield* check(g(3, 4)) // 2 healthy, 2 unhealthy
      assert.include(reasonOf(tooManyDown), "acting would leave 2/4 unhealthy, more than the maximum 1")
      assert.strictEqual((yield* check(g(2, 3)))._tag, "Deny") // leaves 1 < 2
      assert.strictEqual((yield* check(g(2, 3, 0)))._tag, "Pass") // restarting an already unhealthy member
      assert.strictEqual((yield* check(g(4, 4, 2)))._tag, "Deny") // a batch of 2 → 2 unhealthy
      assert.strictEqual((yield* acquire(g(3, 3))).result._tag, "Pass")
    })))

  it.effect("a failing, dying or inconsistent observation is a Deny, never a Pass", () =>
    withStore(Effect.gen(function*() {
      const failing = Guardrails.blastRadius({ minHealthy: 1, observe: () => Effect.fail(new ProbeFailed({ message: "kube API unreachable" })) })
      const f = yield* check(failing)
      assert.strictEqual(f._tag, "Deny")
      assert.include(reasonOf(f), "could not measure blast radius: kube API unreachable")
      assert.strictEqual((yield* acquire(failing)).result._tag, "Deny")
      const dying = Guardrails.blastRadius({ maxUnhealthy: 1, observe: () => Effect.die(new Error("bug in probe")) })
      assert.include(reasonOf(yield* check(dying)), "could not measure blast radius: bug in probe")
      const throwing = Guardrails.blastRadius({ maxUnhealthy: 1, observe: () => { throw new Error("sync throw") } })
      assert.include(reasonOf(yield* check(throwing)), "could not measure blast radius: sync throw")
      const leaky = Guardrails.blastRadius({
        minHealthy: 1,
        observe: () => Effect.fail(new ProbeFailed({ message: "connect to postgres://agent:s3cr3t-pw@db.internal:5432/orders failed" }))
      })
      const leakyReason = reasonOf(yield* check(leaky))
      assert.include(leakyReason, "could not measure blast radius")
      assert.notInclude(leakyReason, "s3cr3t-pw")
      const inconsistent = Guardrails.blastRadius({ maxUnhealthy: 5, observe: observed(11, 10) })
      assert.include(reasonOf(yield* check(inconsistent)), "could not measure blast radius: inconsistent measurement")
    })))

  it.effect("the observation can use services (R is carried in the guardrail's type)", () =>
    Effect.gen(function*() {
      class Pool extends Context.Service<Pool, { readonly ready: number; readonly size: number }>()("@byteport/core/test/Pool") {}
      const g = Guardrails.blastRadius({
        minHealthy: "50%",
        observe: () => Effect.map(Effect.service(Pool), (p) => ({ healthy: p.ready, total: p.size }))
      })
      const r = yield* check(g).pipe(withStore, Effect.provideService(Pool, { ready: 2, size: 4 }))
      assert.strictEqual(r._tag, "Deny")
      const ok = yield* check(g).pipe(withStore, Effect.provideService(Pool, { ready: 4, size: 4 }))
      assert.strictEqual(ok._tag, "Pass")
    }))

  it.effect("invalid options deny every action", () =>
    withStore(Effect.gen(function*() {
      assert.include(reasonOf(yield* check(Guardrails.blastRadius({ observe: observed(1, 1) }))), "give maxUnhealthy or minHealthy")
      assert.include(reasonOf(yield* check(Guardrails.blastRadius({ minHealthy: "170%", observe: observed(1, 1) }))), "percentage from 0% to 100%")
      assert.include(reasonOf(yield* check(Guardrails.blastRadius({ maxUnhealthy: -1, observe: observed(1, 1) }))), "maxUnhealthy must be")
    })))
})
