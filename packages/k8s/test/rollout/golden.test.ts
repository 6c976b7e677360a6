/**
 * A reviewed golden plan per class, from `kubectl get -o json` recordings (with the API's
 * `null`s) and the per-revision Prometheus numbers of the same moment
 * (`packages/k8s/fixtures/record-rollout.ts` records them; `plan.golden` is reviewed by hand).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import { fromFixture } from "../../fixtures/record-rollout"
import * as RolloutClassifier from "../../src/classifiers/rollout"
import * as Remediator from "../../src/remediators/rollout"

const root = path.join(import.meta.dirname, "../../fixtures/rollout")

describe("k8s.deploy.failed-rollout: golden plans from kubectl recordings", () => {
  it("there is a recording of every class", () => {
    assert.deepStrictEqual(fs.readdirSync(root).sort(), [...RolloutClassifier.CLASSES].sort())
  })

  for (const cls of RolloutClassifier.CLASSES) {
    it(`${cls}: classified from the recording, and the plan is the golden one`, () => {
      const dir = path.join(root, cls)
      // kubectl's output keeps the API's nulls, and the facts read them as they are
      assert.include(fs.readFileSync(path.join(dir, "deployment.json"), "utf8"), `"creationTimestamp": null`)
      assert.include(fs.readFileSync(path.join(dir, "events.json"), "utf8"), `"eventTime": null`)
      const facts = fromFixture(dir)
      assert.deepStrictEqual(Fact.unknownKeys(facts), [])
      const c = RolloutClassifier.classify()(facts)
      assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, cls)
      const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"))
      const plan = Remediator.plan(c as any, facts, meta.signal)
      assert.strictEqual(`${Plan.toJson(plan)}\n`, fs.readFileSync(path.join(dir, "plan.golden"), "utf8"))
    })
  }
})
