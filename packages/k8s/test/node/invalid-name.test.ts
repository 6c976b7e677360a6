/**
 * `cordonDrainSteps` on a node name the API never holds (issue 17 §1, found by the fuzzing):
 * it used to throw `InvalidTargetRef` out of the plan; now the plan escalates and names no action.
 */
import { Classification, Fact, Plan, Signal, TargetRef } from "@byteport/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as NodePressure from "../../src/classifiers/nodePressure"
import * as NodePressureRemediator from "../../src/remediators/nodePressure"

describe("node pressure: a node name the API never holds", () => {
  for (const name of ["", "Not_A_Node", "a/b"]) {
    it(`cordonDrainSteps(${JSON.stringify(name)}) escalates with no action`, () => {
      const steps = NodePressureRemediator.cordonDrainSteps(name, "prod", "memory_pressure")
      expect(steps.cordon._tag).toBe("Escalate")
      const plan = Plan.make("k8s.node.pressure-drain", "memory_pressure", "x", Plan.seq(steps.cordon, steps.drain, steps.uncordon))
      expect(Plan.actions(plan.root)).toHaveLength(0)
      expect(Effect.runSyncExit(Plan.validate(plan))._tag).toBe("Success")
    })
  }

  it("the runbook's plan for a node named \"\" escalates instead of throwing", () => {
    const node = { name: "", resourceVersion: "1", ready: "True", memoryPressure: true, diskPressure: false, pidPressure: false, cordoned: false, cordonedBy: null, controlPlane: false, providerID: null } as const
    const facts = { node: Fact.known(node), cluster: Fact.known({ total: 1, unavailable: [] }) }
    const c = Classification.classified("memory_pressure", 0.85, ["MemoryPressure=True"])
    const signal = Signal.make({ type: "k8s.node.condition", target: TargetRef.make("k8s.node", "prod/x"), observedAt: 0, evidence: {} })
    const plan = NodePressureRemediator.plan(c as any, facts as any, signal)
    expect(Plan.actions(plan.root)).toHaveLength(0)
    expect(JSON.stringify(plan.root)).toMatch(/cannot be cordoned/)
  })

  it("a valid name still cordons, drains and uncordons", () => {
    const steps = NodePressureRemediator.cordonDrainSteps("worker-1", "prod", "memory_pressure")
    expect([steps.cordon, steps.drain, steps.uncordon].map((s) => s._tag)).toEqual(["Act", "Act", "Act"])
  })

  it("nodeState and clusterState read retyped or null fields as absent, never throw (client-node objects are not decoded)", () => {
    const retyped: ReadonlyArray<unknown> = [
      { metadata: { name: "worker-1" }, status: { conditions: "Ready=True" }, spec: { taints: { key: "x" } } },
      { metadata: { name: 42, resourceVersion: 7 }, status: { conditions: [null, { type: "Ready", status: true }] }, spec: { taints: [null, { key: 3 }], providerID: {} } },
      { metadata: { name: "worker-2", labels: "node-role" }, status: { conditions: { length: 1, "0": { type: "Ready" } } }, spec: { taints: "NoSchedule" } }
    ]
    for (const n of retyped) {
      const st = NodePressure.nodeState(n as any)
      expect(st.ready).toBe("absent")
      expect(typeof st.name).toBe("string")
      expect(st.controlPlane).toBe(false)
      expect(st.providerID).toBe(null)
    }
    expect(NodePressure.clusterState(retyped as any).total).toBe(3)
  })
})
