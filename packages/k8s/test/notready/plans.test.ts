import { assert, describe, it } from "@effect/vitest"
import { type Classification, Plan } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { Effect } from "effect"
import * as path from "node:path"
import * as NodeClassifier from "../../src/classifiers/nodeNotReady"
import * as Remediator from "../../src/remediators/nodeNotReady"
import * as F from "./fixtures"

const planFor = (name: string, s: Remediator.NodeRemediation = Remediator.defaults) =>
  Effect.gen(function*() {
    const f = F.load(name)
    const facts = yield* F.factsOf(f)
    const c = NodeClassifier.classify()(facts)
    assert.strictEqual(c._tag, "Classified", JSON.stringify(c))
    return Remediator.plan(c as Classification.Classified, facts, F.signalOf(f), s)
  })

const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)
const escalates = (s: Plan.Step): boolean =>
  s._tag === "Escalate" || (s._tag === "Seq" && s.steps.some(escalates)) || (s._tag === "Fallback" && (escalates(s.primary) || escalates(s.otherwise)))

describe("k8s.node.not-ready golden plans (one per class, from recorded fixtures)", () => {
  const goldens: ReadonlyArray<readonly [string, string, Partial<Remediator.NodeRemediation>?]> = [
    ["transient_kubelet_hang", "transient_kubelet_hang"],
    ["runtime_crash", "runtime_crash"],
    ["runtime_crash-crio", "runtime_crash-crio"],
    ["resource_pressure_disk", "resource_pressure_disk"],
    ["resource_pressure_mem_pid", "resource_pressure_mem_pid"],
    ["resource_pressure_mem_pid", "resource_pressure_mem_pid-auto-replace", { autoReplaceNodes: true }],
    ["network_plugin_failure", "network_plugin_failure"],
    ["network_plugin_failure-no-cni-pod", "network_plugin_failure-no-cni-pod"],
    ["hardware_cloud_failure", "hardware_cloud_failure"],
    ["hardware_cloud_failure", "hardware_cloud_failure-auto-replace", { autoReplaceNodes: true }],
    ["control-plane-hang", "control-plane-hang"]
  ]
  for (const [fixture, golden, s] of goldens) {
    it.effect(`${golden}`, () =>
      Effect.gen(function*() {
        const plan = yield* planFor(fixture, { ...Remediator.defaults, ...s })
        // plans are data: they round-trip through JSON
        assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
        expectPlan(plan, path.join(F.dir(fixture), `${golden === fixture ? "plan" : golden.slice(fixture.length + 1)}.golden`))
      }))
  }

  it.effect("cordon first, in every class that acts; uncordon last", () =>
    Effect.gen(function*() {
      for (const f of ["transient_kubelet_hang", "runtime_crash", "resource_pressure_disk", "resource_pressure_mem_pid", "network_plugin_failure", "hardware_cloud_failure"]) {
        const k = kinds(yield* planFor(f))
        assert.strictEqual(k[0], "k8s.cordonNode", f)
        if (f !== "hardware_cloud_failure") assert.strictEqual(k[k.length - 1], "k8s.uncordonNode", f)
      }
    }))

  it.effect("the seed's steps per class", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(kinds(yield* planFor("transient_kubelet_hang")), ["k8s.cordonNode", "k8s.restartNodeUnit", "k8s.uncordonNode"])
      const rt = yield* planFor("runtime_crash")
      assert.deepStrictEqual(kinds(rt), ["k8s.cordonNode", "k8s.drainNode", "k8s.restartNodeUnit", "k8s.restartNodeUnit", "k8s.uncordonNode"])
      assert.deepStrictEqual(Plan.actions(rt.root).filter((a) => a.action.kind === "k8s.restartNodeUnit").map((a) => a.action.params["unit"]), ["containerd", "kubelet"])
      const crio = yield* planFor("runtime_crash-crio")
      assert.deepStrictEqual(Plan.actions(crio.root).filter((a) => a.action.kind === "k8s.restartNodeUnit").map((a) => a.action.params["unit"]), ["crio", "kubelet"])
      assert.deepStrictEqual(kinds(yield* planFor("resource_pressure_disk")), ["k8s.cordonNode", "k8s.drainNode", "k8s.pruneNodeImages", "k8s.deleteEvictedPods", "k8s.restartNodeUnit", "k8s.uncordonNode"])
      assert.deepStrictEqual(kinds(yield* planFor("network_plugin_failure")), ["k8s.cordonNode", "k8s.recreateCniPod", "k8s.uncordonNode"])
      const cni = Plan.actions((yield* planFor("network_plugin_failure")).root).find((a) => a.action.kind === "k8s.recreateCniPod")!.action
      assert.strictEqual(cni.params["uid"], "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f")
      assert.deepStrictEqual(cni.precondition, { uid: "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f" })
    }))

  it.effect("hardware: always escalates, never restarts; replacement only with auto-replace on, only after the drain", () =>
    Effect.gen(function*() {
      const off = yield* planFor("hardware_cloud_failure")
      assert.deepStrictEqual(kinds(off), ["k8s.cordonNode"])
      assert.isTrue(escalates(off.root))
      assert.notInclude(JSON.stringify(off), "node-replacement")
      const on = yield* planFor("hardware_cloud_failure", { ...Remediator.defaults, autoReplaceNodes: true })
      // the shared replacement step: the guarded reservation, then the awaited hand-off (denied → escalate)
      assert.deepStrictEqual(kinds(on), ["k8s.cordonNode", "k8s.drainNode", "k8s.requestNodeReplacement"])
      assert.isTrue(escalates(on.root))
      const root = on.root as Extract<Plan.Step, { _tag: "Seq" }>
      assert.deepStrictEqual(root.steps.map((s) => s._tag), ["Act", "Act", "Fallback", "Escalate"])
      const replace = (root.steps[2] as Extract<Plan.Step, { _tag: "Fallback" }>).primary as Extract<Plan.Step, { _tag: "Seq" }>
      const h = replace.steps[1] as Extract<Plan.Step, { _tag: "HandOff" }>
      assert.strictEqual(h.signal.type, "k8s.node-replacement.requested")
      assert.isDefined(h.await)
    }))

  it.effect("mem_pid: memory still ≥ 95% → escalate (auto-replace off) or replace then escalate (on)", () =>
    Effect.gen(function*() {
      const off = yield* planFor("resource_pressure_mem_pid")
      const fb = (off.root as Extract<Plan.Step, { _tag: "Seq" }>).steps[1] as Extract<Plan.Step, { _tag: "Fallback" }>
      assert.strictEqual(fb._tag, "Fallback")
      assert.deepStrictEqual(fb.on, ["check"])
      assert.strictEqual(fb.check?.kind, "k8s.node.memory-below")
      assert.strictEqual(fb.check?.params["ratio"], 0.95)
      assert.strictEqual(fb.otherwise._tag, "Escalate")
      const on = yield* planFor("resource_pressure_mem_pid", { ...Remediator.defaults, autoReplaceNodes: true })
      const fb2 = (on.root as Extract<Plan.Step, { _tag: "Seq" }>).steps[1] as Extract<Plan.Step, { _tag: "Fallback" }>
      assert.deepStrictEqual((fb2.otherwise as Extract<Plan.Step, { _tag: "Seq" }>).steps.map((s) => s._tag), ["Fallback", "Escalate"])
      assert.include(kinds(on), "k8s.requestNodeReplacement")
      assert.notInclude(kinds(off), "k8s.requestNodeReplacement")
    }))

  it.effect("a control-plane node is never cordoned: escalate", () =>
    Effect.gen(function*() {
      const p = yield* planFor("control-plane-hang")
      assert.deepStrictEqual(kinds(p), [])
      assert.strictEqual(p.root._tag, "Escalate")
    }))

  it.effect("no CNI pod on the node → escalate after the cordon, nothing deleted", () =>
    Effect.gen(function*() {
      const p = yield* planFor("network_plugin_failure-no-cni-pod")
      assert.deepStrictEqual(kinds(p), ["k8s.cordonNode"])
      assert.isTrue(escalates(p.root))
    }))
})
