/**
 * A reviewed golden plan per class of k8s.crashloop.five-branch, from `kubectl get -o json` /
 * `kubectl logs --previous` recordings (`fixtures/record-five-branch.ts`), through the same pure
 * `factsFrom` the live diagnoser uses. `BYTEPORT_UPDATE_GOLDEN=1` rewrites after review.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { Effect } from "effect"
import * as FiveBranch from "../../src/classifiers/fiveBranch"
import * as Remediator from "../../src/remediators/fiveBranch"
import * as FiveBranchFixture from "../../src/testing/fiveBranchFixture"

const root = path.join(import.meta.dirname, "../../fixtures/five-branch")

describe("k8s.crashloop.five-branch: golden plans from kubectl recordings", () => {
  it("there is a recording of every class", () => {
    assert.deepStrictEqual(fs.readdirSync(root).sort(), [...FiveBranch.CLASSES].sort())
    assert.deepStrictEqual([...FiveBranchFixture.names()], [...FiveBranch.CLASSES].sort(), "shipped with the package")
  })

  for (const cls of FiveBranch.CLASSES) {
    it.effect(`${cls}: classified from the recording; the plan is the golden one`, () =>
      Effect.gen(function*() {
        const dir = yield* FiveBranchFixture.recorded(cls)
        assert.strictEqual(dir, path.join(root, cls))
        const { facts, signal } = yield* FiveBranchFixture.decode(dir)
        const c = FiveBranch.classify()(facts)
        assert.strictEqual(c._tag === "Classified" ? c.class : `${c._tag}: ${JSON.stringify(c)}`, cls)
        if (cls !== "image_pull_failure") assert.strictEqual(facts.previousLog._tag, "Known")
        assert.deepStrictEqual(Fact.unknownKeys(facts).filter((k) => k !== "previousLog" && k !== "dependency"), [])
        expectPlan(Remediator.plan(c, facts, signal), path.join(dir, "plan.golden"))
      }))
  }

  it.effect("a malformed recording fails naming the file and the field", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(import.meta.dirname, ".tmp-"))
      try {
        for (const f of fs.readdirSync(path.join(root, "dependency_not_ready"))) fs.copyFileSync(path.join(root, "dependency_not_ready", f), path.join(tmp, f))
        const slices = JSON.parse(fs.readFileSync(path.join(tmp, "endpointslices.json"), "utf8"))
        slices.items[0].endpoints = [{ conditions: { ready: "yes" } }]
        fs.writeFileSync(path.join(tmp, "endpointslices.json"), JSON.stringify(slices))
        const e = yield* Effect.flip(FiveBranchFixture.decode(tmp))
        assert.include(e.message, "endpointslices.json")
        assert.include(e.message, "ready")
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true })
      }
    }))
})
