import { assert, describe, it } from "@effect/vitest"
import { type Classification, Fact } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { ConfigProvider, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as OomClassifier from "../../src/classifiers/oom"
import * as OomFixture from "../../src/probes/oomFixture"
import * as Remediator from "../../src/remediators/oom"

const dir = (name: string) => path.join(import.meta.dirname, "../../fixtures/oom", name)
const classOf = (c: Classification.Classification) => (c._tag === "Classified" ? c.class : c._tag)

describe("k8s.oom.six-signal fixtures (recorded from kube-sim, kubectl/API shapes)", () => {
  // [fixture, expected classification] — both sides of every threshold
  const table: ReadonlyArray<readonly [string, string]> = [
    ["runtime_misconfig", "runtime_misconfig"],
    ["runtime_misconfig-heap-1mi-above", "runtime_misconfig"],
    // a heap ceiling equal to the limit is not "larger" (the ruling): the runtime's overhead still
    // OOMs it at the limit, so the working-set rules decide
    ["runtime_misconfig-heap-equals-limit", "undersized_limit"],
    ["node_pressure", "node_pressure"],
    ["node_pressure-ws-69pct", "node_pressure"],
    ["node_pressure-ws-70pct", "Unclassified"],
    ["genuine_memory_leak", "genuine_memory_leak"],
    ["genuine_memory_leak-2-restarts", "Unclassified"],
    ["traffic_spike", "traffic_spike"],
    ["undersized_limit", "undersized_limit"],
    ["undersized_limit-85pct", "undersized_limit"],
    ["undersized_limit-84pct", "Unclassified"],
    ["liveness_kill_137", "Unclassified"]
  ]
  for (const [fixture, expected] of table) {
    it.effect(`${fixture} → ${expected}`, () =>
      Effect.gen(function*() {
        const facts = yield* OomFixture.decode(dir(fixture))
        const c = OomClassifier.classify()(facts)
        assert.strictEqual(classOf(c), expected, JSON.stringify({ c, trend: Fact.value(facts.trend), ws: Fact.value(facts.workingSet) }))
      }))
  }

  it.effect("restarts: the leak fixtures sit on each side of 3 restarts", () =>
    Effect.gen(function*() {
      const three = Fact.value((yield* OomFixture.decode(dir("genuine_memory_leak"))).trend)!
      const two = Fact.value((yield* OomFixture.decode(dir("genuine_memory_leak-2-restarts"))).trend)!
      assert.isAtLeast(three.restarts, 3)
      assert.isTrue(three.risingAcrossRestarts)
      assert.strictEqual(two.restarts, 2)
      assert.isTrue(two.risingAcrossRestarts)
    }))

  it.effect("the liveness kill is exit 137 without OOMKilled and is said not to be an OOM", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(dir("liveness_kill_137"))
      const pod = Fact.value(facts.pod)!
      assert.strictEqual(pod.lastTermination?.exitCode, 137)
      assert.notStrictEqual(pod.lastTermination?.reason, "OOMKilled")
      const c = OomClassifier.classify()(facts)
      assert.strictEqual(c._tag, "Unclassified")
      assert.match(c.reasons.join(" "), /exit code 137 without reason OOMKilled/)
    }))

  for (const [confidence, expected] of [["0.69", "Unclassified"], ["0.70", "undersized_limit"]] as const) {
    it.effect(`undersized_limit with its confidence configured to ${confidence} → ${expected} (minimum 0.70)`, () =>
      Effect.gen(function*() {
        const t = yield* OomClassifier.thresholdsConfig
        const facts = yield* OomFixture.decode(dir("undersized_limit"))
        assert.strictEqual(classOf(OomClassifier.classify(t)(facts)), expected)
      }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_OOM_CONFIDENCE_UNDERSIZED_LIMIT: confidence } })))))
  }

  it.effect("Prometheus unreachable: trend Unknown → Indeterminate, never a bump", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(dir("undersized_limit"))
      const c = OomClassifier.classify()({ ...facts, trend: Fact.unknown("prometheus memory trend", "PrometheusUnavailable: connection refused") })
      assert.strictEqual(c._tag, "Indeterminate")
    }))

  it.effect("a malformed fixture names the file and the bad field's path", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(import.meta.dirname, "../../fixtures/.tmp-"))
      try {
        fs.cpSync(dir("undersized_limit"), tmp, { recursive: true })
        const pod = JSON.parse(fs.readFileSync(path.join(tmp, "pod.json"), "utf8"))
        pod.status.containerStatuses[0].restartCount = "3"
        fs.writeFileSync(path.join(tmp, "pod.json"), JSON.stringify(pod))
        const e = yield* Effect.flip(OomFixture.decode(tmp))
        assert.strictEqual(e._tag, "FixtureError")
        assert.deepStrictEqual(e.path, ["status", "containerStatuses", 0, "restartCount"])
        assert.include(e.message, "pod.json")
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true })
      }
    }))

  // reviewed golden plans, one per class (BYTEPORT_UPDATE_GOLDEN=1 rewrites them; a change shows as a diff)
  for (const cls of OomClassifier.classes) {
    it.effect(`golden plan: ${cls}`, () =>
      Effect.gen(function*() {
        const facts = yield* OomFixture.decode(dir(cls))
        const c = OomClassifier.classify()(facts)
        assert.strictEqual(c._tag, "Classified")
        if (c._tag !== "Classified") return
        const plan = Remediator.plan(c, facts, yield* OomFixture.signal(dir(cls)))
        expectPlan(plan, path.join(dir(cls), "plan.golden"))
      }))
  }
})
