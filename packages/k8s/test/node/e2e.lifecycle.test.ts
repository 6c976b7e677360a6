/**
 * k8s.node.pressure-drain end to end on kube-sim (real client-node, virtual time): a node whose
 * kubelet stops is cordoned (annotated), drained with dead-kubelet semantics, and uncordoned only
 * after it has been Ready and pressure-free for the healthy delay — never after a flap; a node
 * that does not recover stays cordoned and escalates; a human's cordon is never undone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect, Fiber } from "effect"
import * as PressureDrain from "../../src/runbooks/k8s.node.pressure-drain"
import * as Remediator from "../../src/remediators/nodePressure"
import { firstSignal, humanCordon, isReady, nodeObj, nodeServices, nodeWrites, podsOf, runWithSim, Scenario, sim, type Sim } from "./harness"

const NODE = "node-2"
const kubeletStops = () => Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ node: NODE, cause: "kubelet-stopped" })).build()

const runbook = (o: Partial<Remediator.PressureRemediation> = {}) => PressureDrain.make({ remediation: { ...Remediator.defaults, ...o } })

const handle = (s: Sim, rb: ReturnType<typeof runbook>, mode: "auto" | "dry_run" | "observe" = "auto") =>
  Effect.gen(function*() {
    const signal = yield* firstSignal(rb, (x) => x.evidence?.node === NODE)
    return (yield* Runbook.handle(rb, signal, { mode })) as any
  })

/** Sleeps on the (virtual) clock, then changes the node's host state. */
const at = (s: Sim, after: string, f: () => void) => Effect.forkChild(Effect.andThen(Effect.sleep(after), Effect.sync(f)))

const readyAt = (s: Sim) => Date.parse(nodeObj(s, NODE).status.conditions.find((c: any) => c.type === "Ready").lastTransitionTime)
const uncordonRequests = (s: Sim) => nodeWrites(s).real.filter((r) => r.method === "PATCH" && r.contentType === "application/json-patch+json")

describe("k8s.node.pressure-drain e2e: cordon → drain → wait → uncordon", () => {
  it.effect("kubelet stops: cordoned and annotated, drained (dead kubelet: replacements Ready elsewhere), uncordoned 5 min after it is Ready again", () =>
    Effect.gen(function*() {
      const s = yield* sim(kubeletStops())
      s.advance("5m")
      const report = yield* runWithSim(s, Effect.gen(function*() {
        const back = yield* at(s, "4 minutes", () => s.setNodeHost(NODE, { kubelet: "active" }))
        const r = yield* handle(s, runbook())
        yield* Fiber.join(back)
        return r
      }).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "40 minutes" })
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.outcomes.map((o: any) => [o.kind, o.status, o.detail])))
      assert.strictEqual(report.classification.class, "node_not_ready")
      const [cordon, drain, uncordon] = report.outcomes
      assert.strictEqual(cordon.kind, "k8s.cordonNode")
      assert.strictEqual(drain.kind, "k8s.drainNode")
      assert.isTrue(drain.result.kubeletDead)
      assert.isAtLeast(drain.result.evicted.length, 1)
      assert.strictEqual(uncordon.kind, "k8s.uncordonNode")
      assert.isTrue(uncordon.result.uncordoned)
      // the annotation went on with the cordon, and came off with the uncordon
      const cordonPatch = nodeWrites(s).real.find((r) => r.method === "PATCH" && r.contentType === "application/strategic-merge-patch+json")!
      assert.include(cordonPatch.body, `"byteport.io/cordoned-by":"${report.incidentId}"`)
      const node = nodeObj(s, NODE)
      assert.isUndefined(node.spec.unschedulable)
      assert.isUndefined(node.metadata.annotations?.["byteport.io/cordoned-by"])
      // uncordoned only after 5 minutes of Ready
      const patches = uncordonRequests(s)
      assert.strictEqual(patches.length, 1)
      assert.isAtLeast(uncordon.at - readyAt(s), 300_000)
      assert.isBelow(uncordon.at - readyAt(s), 330_000)
      // the api pods are Ready (rescheduled while node-2 was down)
      assert.isTrue(podsOf(s, "api").filter(isReady).length >= 3)
    }).pipe(Effect.scoped), 120_000)
})
