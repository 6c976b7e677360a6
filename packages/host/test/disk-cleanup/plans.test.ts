/**
 * Golden plans of host.disk.cleanup: recorded facts → the classifier → the plan, compared with
 * reviewed golden files (core's `expectPlan`; `BYTEPORT_UPDATE_GOLDEN=1` rewrites them).
 */
import { Plan, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as path from "node:path"
import * as DiskCleanup from "../../src/classifiers/DiskCleanup"
import type { DiskFacts } from "../../src/diagnosers/DiskDiagnoser"
import * as R from "../../src/remediators/DiskCleanupRemediator"
import { diskFactsFields } from "../support/diskFixtures"

const here = path.dirname(new URL(import.meta.url).pathname)

const FixtureSchema = Schema.Struct({ signal: Signal.Signal, facts: Schema.Struct(diskFactsFields) })

const load = Effect.map(Testing.loadFixture(FixtureSchema, path.join(here, "fixtures", "over-floor.json")), (f) => ({
  signal: f.signal,
  raw: f.facts as DiskFacts
}))

describe("host.disk.cleanup plans", () => {
  it.effect("over the floor with old logs and stale temp files: logs first, then temp files, one file per step inside Plan.until(floor)", () =>
    Effect.gen(function*() {
      const { raw, signal } = yield* load
      const facts = Testing.facts(raw)
      const c = DiskCleanup.classifier()(facts)
      assert.strictEqual(c._tag, "Classified")
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, "disk_over_floor")
      assert.strictEqual(c.confidence, 0.9)
      const plan = R.planOf(c, facts, signal)
      Testing.expectPlan(plan, path.join(here, "golden", "over-floor.plan.txt"))
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.params["path"]), [
        "/var/log/myapp/app.log.2",
        "/var/log/myapp/app.log.1",
        "/var/tmp/build/cache-a.bin",
        "/var/tmp/build/cache-b.bin"
      ])
      assert.strictEqual(plan.root._tag, "Fallback")
      if (plan.root._tag !== "Fallback") return
      assert.strictEqual(plan.root.primary._tag, "Until")
      if (plan.root.primary._tag === "Until") assert.deepStrictEqual(plan.root.primary.check.params, { mount: "/var", floorPercent: 80 })
      // the opt-ins are off by default: nothing but gzip and delete
      assert.deepStrictEqual([...new Set(Plan.actions(plan.root).map((a) => a.action.kind))], ["host.log.gzip", "host.tmp.delete"])
    }))

  it.effect("nothing safe to clean: an escalation naming the top-5 directories and +N GiB = ceil(used / floor − size)", () =>
    Effect.gen(function*() {
      const { raw, signal } = yield* load
      const facts = Testing.facts({ ...raw, logs: [], tmp: [] })
      const c = DiskCleanup.classifier()(facts)
      if (c._tag !== "Classified") return assert.fail("unclassified")
      const plan = R.planOf(c, facts, signal)
      Testing.expectPlan(plan, path.join(here, "golden", "nothing-to-clean.plan.txt"))
      assert.strictEqual(plan.root._tag, "Escalate")
      // used 9.5 GiB / 0.8 = 11.875 GiB − 10 GiB = 1.875 → +2 GiB
      assert.strictEqual(R.growthGiB(raw.usage), 2)
      if (plan.root._tag === "Escalate") {
        assert.match(plan.root.reason, /\+2 GiB/)
        assert.strictEqual(plan.root.nextSteps.filter((s) => s.startsWith("largest: ")).length, 5)
      }
    }))

  it("growth near the edges: exactly at the floor needs none; one byte over needs a whole GiB", () => {
    const G = 1024 ** 3
    assert.strictEqual(R.growthGiB({ usedBytes: 8 * G, availableBytes: 2 * G }), 0)
    assert.strictEqual(R.growthGiB({ usedBytes: 8 * G + 1, availableBytes: 2 * G - 1 }), 1)
    assert.strictEqual(R.growthGiB({ usedBytes: 95 * G, availableBytes: 5 * G }), 19)
  })
})
