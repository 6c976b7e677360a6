/**
 * Golden plans of host.memory.runaway: recorded fixture facts → the classifier → the plan,
 * compared with reviewed golden files (`BYTEPORT_UPDATE_GOLDEN=1` rewrites them). Also the deploy
 * window's edges and the crash-loop count's edges.
 */
import { Plan } from "@byteport/core"
import type { Fact, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { HostMemoryRunaway } from "../../src/index"

const here = path.dirname(new URL(import.meta.url).pathname)
const load = (name: string): { signal: Signal.Signal; facts: HostMemoryRunaway.RunawayFacts } => JSON.parse(fs.readFileSync(path.join(here, "fixtures", `${name}.json`), "utf8"))

const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)
const handOffs = (s: Plan.Step): Array<string> =>
  s._tag === "HandOff" ? [s.signal.type] : s._tag === "Seq" ? s.steps.flatMap(handOffs) : s._tag === "Fallback" ? [...handOffs(s.primary), ...handOffs(s.otherwise)] : []

const classify = (signal: Signal.Signal, facts: Fact.Facts<HostMemoryRunaway.RunawayFacts>, settings?: Partial<HostMemoryRunaway.RunawaySettings>) =>
  HostMemoryRunaway.classifier({ ...HostMemoryRunaway.DEFAULTS, ...settings }, () => signal.observedAt)(facts)

describe("host.memory.runaway plans", () => {
  const cases: ReadonlyArray<[string, string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
    ["systemd-runaway", "runaway_service", ["host.service.restart"], []],
    ["systemd-old-deploy", "runaway_service", ["host.service.restart"], []],
    ["recent-deploy", "deploy_regression", [], ["deployment.regression"]],
    ["crash-loop", "crash_loop", [], []],
    ["crash-loop-deploy", "crash_loop", [], ["deployment.regression"]],
    ["kubernetes-runaway", "runaway_service", ["host.memory.runaway.restart-requested"], ["k8s.rollout-restart.requested"]],
    ["render-runaway", "runaway_service", ["host.memory.runaway.restart-requested"], ["k8s.rollout-restart.requested"]],
    ["protected", "protected_consumer", [], []],
    ["pod", "protected_consumer", [], []]
  ]
  for (const [name, cls, acts, handed] of cases) {
    it.effect(`${name}: ${cls} → ${[...acts, ...handed].join(", ") || "escalation"}`, () =>
      Effect.gen(function*() {
        const f = load(name)
        const facts = Testing.facts(f.facts)
        const c = classify(f.signal, facts)
        assert.strictEqual(c._tag, "Classified")
        if (c._tag !== "Classified") return
        assert.strictEqual(c.class, cls)
        assert.strictEqual(c.confidence, HostMemoryRunaway.CONFIDENCES[cls as keyof typeof HostMemoryRunaway.CONFIDENCES])
        const plan = yield* HostMemoryRunaway.planOf(c, facts, f.signal)
        Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
        assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
        assert.deepStrictEqual(kinds(plan), acts)
        assert.deepStrictEqual(handOffs(plan.root), handed)
        // a deploy or a crash loop never restarts
        if (cls === "deploy_regression" || cls === "crash_loop") assert.notInclude(Plan.toJson(plan), "host.service.restart")
        if (acts.length === 0 && handed.length === 0) assert.strictEqual(plan.root._tag, "Escalate")
      }))
  }

  it.effect("the systemd restart is conditional on the diagnosed pid + starttime", () =>
    Effect.gen(function*() {
      const f = load("systemd-runaway")
      const facts = Testing.facts(f.facts)
      const c = classify(f.signal, facts)
      if (c._tag !== "Classified") return assert.fail("unclassified")
      const plan = yield* HostMemoryRunaway.planOf(c, facts, f.signal)
      const [a] = Plan.actions(plan.root)
      assert.deepStrictEqual([a!.action.params["unit"], a!.action.params["pid"], a!.action.params["starttime"]], ["billing.service", 4242, 987654])
    }))

  it.effect("hand-offs are awaited, carry valid evidence and name the target", () =>
    Effect.gen(function*() {
      for (const name of ["recent-deploy", "kubernetes-runaway"]) {
        const f = load(name)
        const facts = Testing.facts(f.facts)
        const c = classify(f.signal, facts)
        if (c._tag !== "Classified") return assert.fail("unclassified")
        const plan = yield* HostMemoryRunaway.planOf(c, facts, f.signal, { handOffAwaitMinutes: 7 })
        const step = plan.root._tag === "HandOff" ? plan.root : plan.root._tag === "Seq" ? plan.root.steps.find((s) => s._tag === "HandOff") : undefined
        if (step?._tag !== "HandOff") return assert.fail("no hand-off")
        assert.strictEqual(step.await, 7 * 60_000)
        assert.deepStrictEqual(step.signal.target, f.signal.target)
        if (name === "recent-deploy") assert.deepStrictEqual([step.signal.evidence["revision"], step.signal.evidence["previousRevision"]], ["9f3c2ab", "51d0e77"])
      }
    }))

  it("deploy window edges: 30 min ago is within (regression), 30 min + 1 s is not (restart); configurable", () => {
    const f = load("recent-deploy")
    const at = (ms: number) => Testing.facts({ ...f.facts, deploy: { revision: "9f3c2ab", deployedAt: f.signal.observedAt - ms } })
    const cls = (ms: number, s?: Partial<HostMemoryRunaway.RunawaySettings>) => {
      const c = classify(f.signal, at(ms), s)
      return c._tag === "Classified" ? c.class : "unclassified"
    }
    assert.strictEqual(cls(30 * 60_000), "deploy_regression")
    assert.strictEqual(cls(30 * 60_000 + 1000), "runaway_service")
    assert.strictEqual(cls(44 * 60_000, { deployWindowMinutes: 45 }), "deploy_regression")
    assert.strictEqual(cls(46 * 60_000, { deployWindowMinutes: 45 }), "runaway_service")
  })

  it("crash-loop edges: 2 restarts in the hour restart again, 3 do not; configurable", () => {
    const f = load("systemd-runaway")
    const cls = (n: number, s?: Partial<HostMemoryRunaway.RunawaySettings>) => {
      const c = classify(f.signal, Testing.facts({ ...f.facts, restarts: n }), s)
      return c._tag === "Classified" ? c.class : "unclassified"
    }
    assert.strictEqual(cls(2), "runaway_service")
    assert.strictEqual(cls(3), "crash_loop")
    assert.strictEqual(cls(3, { maxRestartsPerHour: 4 }), "runaway_service")
  })
})
