import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fact from "../../src/Fact"
import type { GuardrailContext } from "../../src/Guardrail"
import * as Guardrails from "../../src/Guardrails"
import { acquire, check, reasonOf, withStore } from "./helpers"

const Mi = 1024 * 1024
const proposedBytes = (ctx: GuardrailContext) => {
  const v = ctx.action.params["limitBytes"]
  return typeof v === "number" ? v : undefined
}
const mi = (n: number) => `${n / Mi}Mi`
const twiceBaseline = Guardrails.ceiling.multipleOfBaseline({
  name: "memory_limit_2x_baseline",
  baselineKey: "memoryLimitBytes",
  factor: 2,
  proposed: proposedBytes,
  describe: mi
})
const bump = (current: number, baseline: number) => ({
  params: { limitBytes: Math.round(current * 1.5), fromBytes: current },
  baseline: { memoryLimitBytes: baseline }
})

describe("ceiling", () => {
  it.effect("≤2× the baseline: equal passes, above denies with both values", () =>
    withStore(Effect.gen(function*() {
      assert.strictEqual((yield* check(twiceBaseline, { params: { limitBytes: 1024 * Mi }, baseline: { memoryLimitBytes: 512 * Mi } }))._tag, "Pass")
      const over = yield* check(twiceBaseline, { params: { limitBytes: 1024 * Mi + 1 }, baseline: { memoryLimitBytes: 512 * Mi } })
      assert.strictEqual(over._tag, "Deny")
      assert.include(reasonOf(over), "memory_limit_2x_baseline: proposed 1024.0000009536743Mi exceeds the ceiling 1024Mi")
    })))

  it.effect("bumps do not compound: a second bump from an already bumped value is capped by 2× the ORIGINAL baseline", () =>
    withStore(Effect.gen(function*() {
      const baseline = 512 * Mi // taken when the lease was acquired
      const first = yield* check(twiceBaseline, bump(512 * Mi, baseline)) // 512 → 768
      assert.strictEqual(first._tag, "Pass")
      const second = yield* check(twiceBaseline, bump(768 * Mi, baseline)) // 768 → 1152 > 1024
      assert.strictEqual(second._tag, "Deny")
      assert.include(reasonOf(second), "proposed 1152Mi exceeds the ceiling 1024Mi")
      // measured from the bumped value the same bump would have passed (1152 ≤ 1536): the baseline is what stops it
      assert.strictEqual((yield* check(twiceBaseline, bump(768 * Mi, 768 * Mi)))._tag, "Pass")
    })))

  it.effect("a missing or non-numeric baseline, or an unknown proposal, denies", () =>
    withStore(Effect.gen(function*() {
      const noBaseline = yield* check(twiceBaseline, { params: { limitBytes: 600 * Mi }, baseline: {} })
      assert.include(reasonOf(noBaseline), "the limit could not be determined: the baseline has no memoryLimitBytes")
      const textBaseline = yield* check(twiceBaseline, { params: { limitBytes: 600 * Mi }, baseline: { memoryLimitBytes: "512Mi" } })
      assert.include(reasonOf(textBaseline), 'baseline.memoryLimitBytes is not a number ("512Mi")')
      const numericString = yield* check(twiceBaseline, { params: { limitBytes: 600 * Mi }, baseline: { memoryLimitBytes: String(512 * Mi) } })
      assert.strictEqual(numericString._tag, "Pass")
      const noProposal = yield* check(twiceBaseline, { params: {}, baseline: { memoryLimitBytes: 512 * Mi } })
      assert.include(reasonOf(noProposal), "the proposed value could not be determined")
    })))

  it.effect("≤80% of node allocatable, from a Known fact; an Unknown fact denies", () =>
    withStore(Effect.gen(function*() {
      const nodeShare = Guardrails.ceiling.fractionOfFact({ fact: "nodeAllocatableMemoryBytes", fraction: 0.8, proposed: proposedBytes })
      const facts = { nodeAllocatableMemoryBytes: Fact.known(1000 * Mi) }
      assert.strictEqual((yield* check(nodeShare, { params: { limitBytes: 800 * Mi }, facts }))._tag, "Pass")
      const over = yield* check(nodeShare, { params: { limitBytes: 801 * Mi }, facts })
      assert.strictEqual(over._tag, "Deny")
      assert.include(reasonOf(over), "ceiling(0.8 of nodeAllocatableMemoryBytes)")
      const unknown = yield* check(nodeShare, {
        params: { limitBytes: 10 * Mi },
        facts: { nodeAllocatableMemoryBytes: Fact.unknown("kube.describeNode", "timeout") }
      })
      assert.include(reasonOf(unknown), "the fact nodeAllocatableMemoryBytes is unknown (kube.describeNode: timeout)")
    })))

  it.effect("a custom ceiling from any computation; a throwing limit denies", () =>
    withStore(Effect.gen(function*() {
      const maxVolume = Guardrails.ceiling({
        name: "policy.maxVolumeGb",
        proposed: (ctx) => ctx.action.params["sizeGb"] as number,
        limit: () => 500
      })
      assert.strictEqual((yield* check(maxVolume, { params: { sizeGb: 500 } }))._tag, "Pass")
      assert.include(reasonOf(yield* check(maxVolume, { params: { sizeGb: 625 } })), "policy.maxVolumeGb: proposed 625 exceeds the ceiling 500")
      const throwing = Guardrails.ceiling({ name: "c", proposed: () => 1, limit: () => { throw new Error("policy missing") } })
      assert.include(reasonOf(yield* check(throwing)), "could not compute the limit: policy missing")
      const nan = Guardrails.ceiling({ name: "c", proposed: () => NaN, limit: () => 1 })
      assert.strictEqual((yield* check(nan))._tag, "Deny")
      const badFactor = Guardrails.ceiling.multipleOfBaseline({ baselineKey: "x", factor: -1, proposed: () => 1 })
      assert.include(reasonOf(yield* check(badFactor)), "factor must be a positive number")
    })))

  it.effect("acquire equals check and releases nothing", () =>
    withStore(Effect.gen(function*() {
      const acq = yield* acquire(twiceBaseline, bump(768 * Mi, 512 * Mi))
      assert.strictEqual(acq.result._tag, "Deny")
      yield* acq.release
    })))
})
