/**
 * Golden plans of host.cpu.saturation and host.memory.saturation: fixture facts → the classifier →
 * the plan, compared with reviewed golden files (`BYTEPORT_UPDATE_GOLDEN=1` rewrites them).
 */
import { Plan } from "@byteport/core"
import type { Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { HostCpuSaturation, HostMemorySaturation } from "../../src/index"

const here = path.dirname(new URL(import.meta.url).pathname)
const load = <F>(name: string): { signal: Signal.Signal; facts: F } => JSON.parse(fs.readFileSync(path.join(here, "fixtures", `${name}.json`), "utf8"))

const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

describe("host.cpu.saturation plans", () => {
  const cases: ReadonlyArray<[string, string, ReadonlyArray<string>]> = [
    ["cpu-runaway", "runaway_process", ["host.process.oom-score-adj", "host.process.renice", "host.service.restart"]],
    ["cpu-no-unit", "runaway_process", ["host.process.oom-score-adj", "host.process.renice"]],
    ["cpu-steal", "steal_dominated", []],
    ["cpu-protected", "protected_consumer", []],
    ["cpu-pod", "protected_consumer", []]
  ]
  for (const [name, cls, acts] of cases) {
    it(`${name}: ${cls} → ${acts.join(", ") || "escalation"}`, () => {
      const f = load<HostCpuSaturation.CpuFacts>(name)
      const facts = Testing.facts(f.facts)
      const c = HostCpuSaturation.classifier()(facts)
      assert.strictEqual(c._tag, "Classified")
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, cls)
      assert.strictEqual(c.confidence, HostCpuSaturation.CONFIDENCES[cls as keyof typeof HostCpuSaturation.CONFIDENCES])
      const plan = HostCpuSaturation.planOf(c, facts, f.signal)
      Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), acts)
    })
  }

  it("runaway: every act is conditional on the diagnosed pid + starttime; the restart waits for the re-sample to fail", () => {
    const f = load<HostCpuSaturation.CpuFacts>("cpu-runaway")
    const facts = Testing.facts(f.facts)
    const c = HostCpuSaturation.classifier()(facts)
    if (c._tag !== "Classified") return assert.fail("unclassified")
    const plan = HostCpuSaturation.planOf(c, facts, f.signal)
    for (const a of Plan.actions(plan.root)) assert.deepStrictEqual([a.action.params["pid"], a.action.params["starttime"]], [4242, 987654])
    const root = plan.root
    if (root._tag !== "Seq") return assert.fail("expected a sequence")
    const last = root.steps[root.steps.length - 1]!
    assert.strictEqual(last._tag, "Fallback")
    if (last._tag === "Fallback") {
      assert.strictEqual(last.primary._tag, "WaitFor")
      assert.deepStrictEqual(last.on, ["failed"])
    }
  })

  it("the pod escalation names the pod", () => {
    const f = load<HostCpuSaturation.CpuFacts>("cpu-pod")
    const facts = Testing.facts(f.facts)
    const c = HostCpuSaturation.classifier()(facts)
    if (c._tag !== "Classified") return assert.fail("unclassified")
    assert.match(Plan.render(HostCpuSaturation.planOf(c, facts, f.signal)), /pod 0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9/)
  })
})

describe("host.memory.saturation plans", () => {
  const cases: ReadonlyArray<[string, string, ReadonlyArray<string>]> = [
    ["memory-exhaustion", "memory_exhaustion", ["host.service.restart"]],
    ["memory-shmem", "shmem_heavy", []],
    ["memory-page-cache", "page_cache_pressure", []],
    ["memory-protected", "protected_grower", []]
  ]
  for (const [name, cls, acts] of cases) {
    it(`${name}: ${cls} → ${acts.join(", ") || "no action"}`, () => {
      const f = load<HostMemorySaturation.MemoryFacts>(name)
      const facts = Testing.facts(f.facts)
      const c = HostMemorySaturation.classifier()(facts)
      assert.strictEqual(c._tag, "Classified")
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, cls)
      const plan = HostMemorySaturation.planOf(c, facts, f.signal)
      Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
      assert.deepStrictEqual(kinds(plan), acts)
      // never drop_caches, in any plan
      assert.notMatch(Plan.toJson(plan), /drop_caches"?\s*[:=]|\/proc\/sys\/vm\/drop_caches/)
    })
  }
})
