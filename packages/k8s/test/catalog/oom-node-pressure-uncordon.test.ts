/**
 * k8s.oom.six-signal's node_pressure plan ends with the node guardrails' `k8s.uncordonNode`: the
 * cordon is released once the node has been Ready and pressure-free for the healthy delay, so it
 * never keeps the cluster's only BytePort cordon slot; a node that does not recover stays
 * cordoned (its slot kept) and the incident escalates.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as OomRemediator from "../../src/remediators/oom"
import * as NodeGuards from "../../src/guardrails/nodeGuards"
import { firstSignal, runWithSim, Scenario, servicesLayer, sim } from "../oom/harness"

const NODE = { group: "", version: "v1", resource: "nodes" }
const nodeOf = (s: any, name: string) => s.api.store.get(NODE, undefined, name) as any
const byteportEvents = (s: any, node: string) =>
  (s.api.store.list({ group: "", version: "v1", resource: "events" }) as Array<any>).filter((e) =>
    e.involvedObject.kind === "Node" && e.involvedObject.name === node && e.source?.component === "byteport"
  )
const eventAt = (e: any): number => Date.parse(e.lastTimestamp ?? e.firstTimestamp ?? e.eventTime)

describe("k8s.oom.six-signal node_pressure: cordon, drain, uncordon after the healthy delay", () => {
  it("the plan is cordon → drain → k8s.uncordonNode with the node guardrails' delays (configurable)", () => {
    const steps = OomRemediator.pressureSettings({ ...OomRemediator.defaults, healthyDelaySeconds: 120, recoveryTimeoutSeconds: 900 })
    assert.deepStrictEqual([steps.healthyDelaySeconds, steps.recoveryTimeoutSeconds, steps.drainTimeoutSeconds], [120, 900, 300])
    const dflt = OomRemediator.pressureSettings(OomRemediator.defaults)
    assert.deepStrictEqual([dflt.healthyDelaySeconds, dflt.recoveryTimeoutSeconds], [NodeGuards.defaults.healthyDelaySeconds, NodeGuards.defaults.recoveryTimeoutSeconds])
    assert.include(OomRemediator.ActionKinds.uncordonNode, "k8s.uncordonNode")
  })

  it.effect("auto: the node is uncordoned only after Ready and pressure-free for 5 min; no BytePort cordon is left", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.nodePressure({ name: "api", node: "node-2" })).build())
      s.advance("5m")
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))), { max: "60 minutes" })
      assert.strictEqual(report.classification?.class, "node_pressure")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts))
      assert.deepStrictEqual(report.outcomes.map((o: any) => [o.kind, o.status]), [["k8s.cordonNode", "applied"], ["k8s.drainNode", "applied"], ["k8s.uncordonNode", "applied"]])
      const node = nodeOf(s, "node-2")
      assert.notStrictEqual(node.spec.unschedulable, true)
      assert.isUndefined(node.metadata.annotations?.[NodeGuards.CORDONED_BY], "the cordon annotation is gone with the cordon")
      for (const n of ["node-1", "node-2", "node-3"]) assert.notStrictEqual(nodeOf(s, n).spec.unschedulable, true, `${n}: no BytePort cordon keeps the cluster's slot`)
      const events = byteportEvents(s, "node-2")
      const drained = events.find((e) => e.reason === "Drained")
      const uncordoned = events.find((e) => e.reason === "Uncordoned")
      assert.isDefined(uncordoned, JSON.stringify(events.map((e) => e.reason)))
      const healthySince = Math.max(
        ...node.status.conditions.filter((c: any) => c.type === "Ready" || c.type === "MemoryPressure").map((c: any) => Date.parse(c.lastTransitionTime))
      )
      assert.isAtLeast(eventAt(uncordoned) - healthySince, 300_000, "the healthy delay (300 s) passed before the uncordon")
      assert.isAtLeast(eventAt(uncordoned) - eventAt(drained), 300_000, "not right after the drain")
    }).pipe(Effect.scoped), 90_000)

  it.effect("a node that stays under MemoryPressure is never uncordoned: it keeps its cordon (and the slot) and the incident escalates", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.nodePressure({ name: "api", node: "node-2" })).build())
      s.advance("5m")
      const runbook = OomRunbook.make({ remediation: { ...OomRemediator.defaults, healthyDelaySeconds: 60, recoveryTimeoutSeconds: 600, pollSeconds: 15 } })
      // once drained, the host process comes back and never lets go: MemoryPressure stays True
      const relapse = Effect.gen(function*() {
        while (!byteportEvents(s, "node-2").some((e) => e.reason === "Drained")) yield* Effect.sleep("1 second")
        s.setNodeCondition("node-2", "MemoryPressure", "True")
      })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        yield* Effect.forkChild(relapse)
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))), { max: "60 minutes", step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "node_pressure", JSON.stringify(report))
      assert.deepStrictEqual(report.outcomes.map((o: any) => o.kind), ["k8s.cordonNode", "k8s.drainNode", "k8s.uncordonNode"])
      assert.notStrictEqual(report.outcomes[2].status, "applied", JSON.stringify(report.outcomes[2]))
      assert.strictEqual(report.status, "escalated", JSON.stringify(report.outcomes))
      assert.isDefined(report.escalation)
      const node = nodeOf(s, "node-2")
      assert.isTrue(node.spec.unschedulable, "stays cordoned")
      assert.strictEqual(node.metadata.annotations?.[NodeGuards.CORDONED_BY], report.incidentId, "still owned by the incident: its slot stays taken")
      assert.notInclude(byteportEvents(s, "node-2").map((e) => e.reason), "Uncordoned")
    }).pipe(Effect.scoped), 90_000)
})
