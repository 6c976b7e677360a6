/**
 * deploy.render.rollback on recorded Render API responses (test/render/fixtures, recorded from the
 * fake by record-fixtures.ts): the facts the diagnoser computes from them, the class, and a
 * reviewed golden plan per class; the near misses (4.9×, not the newest, too few requests).
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as path from "node:path"
import { RenderBadDeploy, RenderDeployDiagnoser, RenderDeploys, RenderRollback } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const load = (name: string) => Testing.loadFixture(RenderDeployDiagnoser.Recording, path.join(here, "fixtures", `${name}.json`))
const classify = RenderBadDeploy.classifier()

const run = (name: string) =>
  Effect.gen(function*() {
    const rec = yield* load(name)
    const facts = RenderDeployDiagnoser.factsOf(rec)
    const c = classify(facts)
    const signal = RenderDeploys.signalOf(rec.signal.serviceId, rec.signal.deployId, rec.signal.trigger, rec.signal.observedAt)
    const plan = c._tag === "Classified" ? yield* RenderRollback.make()(c, facts, signal) : undefined
    return { rec, facts, c, plan }
  })

describe("deploy.render.rollback: golden plans from recorded Render responses", () => {
  for (const cls of ["error_rate_spike", "health_check_failing", "crash_loop"] as const) {
    it.effect(`${cls}: classified, golden plan (freeze, roll back to the last green, else deploy its commit)`, () =>
      Effect.gen(function*() {
        const { c, plan } = yield* run(cls)
        assert.strictEqual(Classification.className(c), cls)
        Testing.expectPlan(plan!, path.join(here, "golden", `recorded_${cls}.plan.txt`))
        assert.strictEqual(plan!.root._tag, "Seq")
      }))
  }

  it.effect("the recorded error rate: 20 % after vs 1 % before, 3000 requests each", () =>
    Effect.gen(function*() {
      const { facts } = yield* run("error_rate_spike")
      const e = facts.errorRate._tag === "Known" ? facts.errorRate.value : undefined
      assert.closeTo(e!.ratio, 20, 1e-9)
      assert.closeTo(e!.baseline.total, 3000, 1e-9)
      assert.isTrue(e!.windowComplete)
    }))

  it.effect("near miss 4.9×: no class (escalate with diagnostics)", () =>
    Effect.gen(function*() {
      const { facts, c } = yield* run("near_miss_error_rate_4_9x")
      assert.strictEqual(c._tag, "Unclassified")
      assert.closeTo(facts.errorRate._tag === "Known" ? facts.errorRate.value.ratio : 0, 4.9, 1e-9)
    }))

  it.effect("near miss: a newer deploy exists → the plan escalates (golden)", () =>
    Effect.gen(function*() {
      const { c, plan } = yield* run("near_miss_not_newest")
      assert.strictEqual(Classification.className(c), "crash_loop")
      assert.strictEqual(plan!.root._tag, "Escalate")
      Testing.expectPlan(plan!, path.join(here, "golden", "recorded_near_miss_not_newest.plan.txt"))
    }))

  it.effect("near miss: 10 requests per minute is too few → Indeterminate (never a guess)", () =>
    Effect.gen(function*() {
      const { facts, c } = yield* run("near_miss_too_few_requests")
      assert.strictEqual(facts.errorRate._tag, "Unknown")
      assert.strictEqual(c._tag, "Indeterminate")
    }))
})
