/**
 * k8s.crashloop.seven-class: a reviewed golden plan per class from `kubectl get -o json` /
 * `kubectl logs --previous` recordings (`fixtures/record-sevenclass.ts`), through the same
 * `factsFrom` the live diagnoser uses; `BYTEPORT_UPDATE_GOLDEN=1` rewrites after review.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import { Effect } from "effect"
import * as SevenClass from "../../src/classifiers/sevenClass"
import * as Remediator from "../../src/remediators/sevenClass"
import * as SevenClassFixture from "../../src/testing/sevenClassFixture"

const root = path.join(import.meta.dirname, "../../fixtures/sevenclass")

const steps = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

describe("k8s.crashloop.seven-class: golden plans from kubectl recordings", () => {
  it("there is a recording of every class", () => {
    assert.deepStrictEqual([...SevenClassFixture.names()].sort(), [...SevenClass.CLASSES].sort())
  })

  for (const cls of SevenClass.CLASSES) {
    it.effect(`${cls}: classified (confidence ${SevenClass.CONFIDENCE[cls]}) from the recording; the plan is the golden one`, () =>
      Effect.gen(function*() {
        const dir = yield* SevenClassFixture.recorded(cls)
        const { facts, signal } = yield* SevenClassFixture.decode(dir)
        const c = SevenClass.classify()(facts)
        assert.strictEqual(c._tag === "Classified" ? c.class : `${c._tag}: ${c.reasons.join("; ")}`, cls)
        assert.strictEqual(c._tag === "Classified" ? c.confidence : 0, SevenClass.CONFIDENCE[cls])
        const plan = Remediator.plan(c as any, facts, signal)
        const file = path.join(root, cls, "plan.golden")
        const text = `${Plan.toJson(plan)}\n`
        if (process.env["BYTEPORT_UPDATE_GOLDEN"] === "1") fs.writeFileSync(file, text)
        assert.strictEqual(text, fs.readFileSync(file, "utf8"))
      }))
  }

  it.effect("the plans per class: bump, rollback, escalate (migration init), loosen, escalate (no snapshot), rollback, hand-off", () =>
    Effect.gen(function*() {
      const plans: Record<string, Plan.Plan> = {}
      for (const cls of SevenClass.CLASSES) {
        const { facts, signal } = yield* SevenClassFixture.decode(yield* SevenClassFixture.recorded(cls))
        plans[cls] = Remediator.plan(SevenClass.classify()(facts) as any, facts, signal)
        assert.deepStrictEqual(Fact.unknownKeys(facts).filter((k) => k !== "previousLog"), [], cls)
      }
      assert.deepStrictEqual(steps(plans["oom_at_startup"]!), ["k8s.patchMemoryLimit"])
      const bump = Plan.actions(plans["oom_at_startup"]!.root)[0]!.action.params as { fromBytes: number; toBytes: number }
      assert.strictEqual(bump.toBytes, Math.ceil((bump.fromBytes * 1.5) / 2 ** 20) * 2 ** 20)
      assert.deepStrictEqual(steps(plans["bad_image_or_tag"]!), ["k8s.rollbackDeployment"])
      assert.deepStrictEqual(steps(plans["failed_init_container"]!), [])
      assert.match(JSON.stringify(plans["failed_init_container"]!.root), /migration/)
      assert.deepStrictEqual(steps(plans["probe_misconfigured"]!), ["k8s.loosenProbe"])
      assert.deepStrictEqual(steps(plans["missing_configmap_or_secret"]!), [])
      assert.deepStrictEqual(steps(plans["app_panic_on_boot"]!), ["k8s.rollbackDeployment"])
      assert.match(JSON.stringify(plans["app_panic_on_boot"]!.root), /c0ffee1/)
      assert.strictEqual(plans["node_pressure_eviction"]!.root._tag, "HandOff")
      const h = plans["node_pressure_eviction"]!.root as Extract<Plan.Step, { _tag: "HandOff" }>
      assert.strictEqual(h.signal.type, "k8s.node.memory_pressure")
      assert.strictEqual(h.signal.target.kind, "k8s.node")
    }))
})
