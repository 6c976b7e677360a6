/**
 * Golden plans per class from kubectl recordings (`fixtures/pod/exitcode_*`, JSON with nulls as
 * the API prints it) through `ExitCodeFixture` from `@byteport/k8s/testing`: the classification
 * and the reviewed plan of each runbook; near misses escalate. `BYTEPORT_UPDATE_GOLDEN=1`
 * rewrites a golden after review.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Classification } from "@byteport/core"
import { expectPlan, FixtureError } from "@byteport/core/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Classifier from "../../src/classifiers/exitCode"
import * as Remediator from "../../src/remediators/exitCode"
import * as Exit137 from "../../src/runbooks/k8s.oom.exit-137"
import { ExitCodeFixture } from "../../src/testing/index"

const dirOf = (name: string) => path.join(import.meta.dirname, "../../fixtures/pod", name)
const label = (c: Classification.Classification) => (c._tag === "Classified" ? `${c.class}@${c.confidence}` : c._tag)

const cases: ReadonlyArray<readonly [string, string]> = [
  ["exitcode_oom_killed", "oom_killed@0.95"],
  ["exitcode_missing_binary_start_error", "missing_binary@0.92"],
  ["exitcode_missing_binary_127", "missing_binary@0.85"],
  ["exitcode_image_auth", "image_auth@0.9"],
  ["exitcode_config_error_kubelet", "config_error@0.93"],
  ["exitcode_config_error_78", "config_error@0.78"],
  ["exitcode_not_executable_126", "Unclassified"],
  ["exitcode_liveness_137", "Unclassified"],
  ["exitcode_sidecar_only", "Unclassified"]
]

describe("k8s.crashloop.exit-code golden plans", () => {
  it("ships every exit-code fixture", () => {
    assert.includeMembers([...ExitCodeFixture.names()], [...cases.map(([n]) => n), "exitcode_heap_above_limit"])
  })
  for (const [name, expected] of cases) {
    it.effect(`${name} → ${expected}`, () =>
      Effect.gen(function*() {
        const d = yield* ExitCodeFixture.decode(dirOf(name))
        const c = Classifier.classify()(d.exitCode)
        assert.strictEqual(label(c), expected, JSON.stringify(c))
        if (c._tag !== "Classified") return
        const plan = yield* Remediator.plan(c, d.exitCode, d.signal)
        expectPlan(plan, path.join(dirOf(name), "exit-code.plan.golden"))
      }))
  }
})

describe("k8s.oom.exit-137 golden plans", () => {
  for (const [name, expected] of [["exitcode_oom_killed", "oom_killed@0.95"], ["exitcode_heap_above_limit", "heap_above_limit@0.93"], ["exitcode_liveness_137", "Unclassified"]] as const) {
    it.effect(`${name} → ${expected}`, () =>
      Effect.gen(function*() {
        const d = yield* ExitCodeFixture.decode(dirOf(name))
        const c = Exit137.classify()(d.exit137)
        assert.strictEqual(label(c), expected, JSON.stringify(c))
        if (c._tag !== "Classified") return
        expectPlan(Exit137.plan(c, d.exit137, d.oomSignal), path.join(dirOf(name), "exit-137.plan.golden"))
      }))
  }
  it.effect("the declared debug switch rides in the bump's patch; its previous value is recorded for the undo", () =>
    Effect.gen(function*() {
      const d = yield* ExitCodeFixture.decode(dirOf("exitcode_oom_killed"))
      const plan = Exit137.plan(Exit137.classify()(d.exit137) as Classification.Classified, d.exit137, d.oomSignal)
      assert.deepStrictEqual((plan.root as any).action.params.debugLogging, { env: "LOG_LEVEL", value: "debug", previous: "info" })
    }))
})

describe("ExitCodeFixture", () => {
  it.effect("a malformed workloads.json fails naming the file and the field", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exitcode-fixture-"))
      for (const f of fs.readdirSync(dirOf("exitcode_config_error_78"))) fs.copyFileSync(path.join(dirOf("exitcode_config_error_78"), f), path.join(tmp, f))
      fs.writeFileSync(path.join(tmp, "workloads.json"), JSON.stringify({ items: [{ kind: "Deployment", metadata: { name: 7 } }] }))
      const e = yield* Effect.flip(ExitCodeFixture.decode(tmp))
      assert.instanceOf(e, FixtureError)
      assert.match(e.message, /workloads\.json/)
      assert.match(e.message, /name/)
    }))
  it.effect("without objects.json the references are Unknown, so a restart class escalates instead of guessing", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exitcode-fixture-"))
      for (const f of fs.readdirSync(dirOf("exitcode_config_error_78"))) if (f !== "objects.json") fs.copyFileSync(path.join(dirOf("exitcode_config_error_78"), f), path.join(tmp, f))
      const d = yield* ExitCodeFixture.decode(tmp)
      assert.strictEqual(d.exitCode.refs._tag, "Unknown")
      const plan = yield* Remediator.plan(Classifier.classify()(d.exitCode) as Classification.Classified, d.exitCode, d.signal)
      assert.strictEqual(plan.root._tag, "Escalate")
    }))
})
