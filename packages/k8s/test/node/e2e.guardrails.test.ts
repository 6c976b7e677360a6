/**
 * The node guardrails end to end on kube-sim: three NotReady nodes seen by two agents sharing a
 * store get exactly `maxCordonedNodes` cordons; past `maxUnavailableNodes` nothing is touched and
 * the storm escalates once, naming the nodes; a drain blocked by a PodDisruptionBudget (429) is
 * retried until its timeout and leaves the node cordoned, saying so; a node that never recovered
 * keeps its cordon slot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Notifier, Runbook, type Signal } from "@byteport/core"
import { Clock, Effect, Layer, Stream } from "effect"
import * as NodeGuards from "../../src/guardrails/nodeGuards"
import * as Kube from "../../src/Kube"
import * as PressureDrain from "../../src/runbooks/k8s.node.pressure-drain"
import * as Remediator from "../../src/remediators/nodePressure"
import * as Targets from "../../src/targets/Targets"
import { nodeObj, nodeServices, nodeWrites, runWithSim, Scenario, sharedStore, sim, type Sim } from "./harness"

// virtual time runs on while requests are in flight: a generous probe timeout keeps six concurrent incidents' probes from timing out
const runbook = (o: Partial<Remediator.PressureRemediation> = {}) => PressureDrain.make({ remediation: { ...Remediator.defaults, ...o }, probeTimeout: "5 minutes" })

const notReadySignal = (name: string) =>
  Effect.gen(function*() {
    const kube = yield* Kube.Kube
    return { type: "k8s.node.not_ready", target: Targets.node({ cluster: kube.clusterName, name }), observedAt: yield* Clock.currentTimeMillis, evidence: { node: name } } satisfies Signal.Signal
  })

const cordonedNodes = (s: Sim, names: ReadonlyArray<string>) => names.filter((n) => nodeObj(s, n).spec?.unschedulable === true)

const escalationsOf = Effect.gen(function*() {
  return (yield* (yield* Notifier.NotifierRecording).get).escalations
})

describe("node guardrails e2e", () => {
  it.effect("3 NotReady nodes, two agents on one store: exactly maxCordonedNodes (1) cordon", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 6 }).with(Scenario.node.notReady({ node: "node-2", cause: "kubelet-stopped" })).build())
      s.advance("3m30s")
      s.setNodeHost("node-3", { kubelet: "inactive" })
      s.setNodeHost("node-4", { kubelet: "inactive" })
      s.advance("3m")
      const down = ["node-2", "node-3", "node-4"]
      const store = yield* sharedStore()
      const guards = { ...NodeGuards.defaults, maxUnavailableNodes: 4 }
      const agent = () => nodeServices(s, { store, guards })
      const rb = runbook({ recoveryTimeoutSeconds: 300 })
      const incidents = (layer: Layer.Layer<any, any, any>) =>
        Effect.forEach(down, (n) => Effect.flatMap(notReadySignal(n), (sig) => Runbook.handle(rb, sig, { mode: "auto" })), { concurrency: "unbounded" }).pipe(Effect.provide(layer))
      const [a, b] = yield* runWithSim(s, Effect.all([incidents(agent()), incidents(agent())], { concurrency: "unbounded" }), { step: "5 seconds", max: "30 minutes" })
      const reports = [...a, ...b] as Array<any>
      const cordons = reports.flatMap((r) => r.outcomes ?? []).filter((o: any) => o.kind === "k8s.cordonNode" && o.status === "applied")
      assert.strictEqual(cordons.length, 1, JSON.stringify(reports.map((r) => [r.status, r.outcomes?.map((o: any) => o.kind)])))
      const cordonPatches = nodeWrites(s).real.filter((r) => r.method === "PATCH" && r.contentType === "application/strategic-merge-patch+json")
      assert.strictEqual(cordonPatches.length, 1)
      assert.strictEqual(cordonedNodes(s, down).length, 1, "the node that never recovered stays cordoned")
      const slotDenials = reports.flatMap((r) => r.decisions ?? []).filter((d: any) => d.decision === "deny" && d.guardrail === "max_cordoned_nodes")
      assert.isAtLeast(slotDenials.length, 2, JSON.stringify(reports.map((r) => [r.status, r.escalation?.reason])))
    }).pipe(Effect.scoped), 180_000)

  it.effect("past maxUnavailableNodes: one storm signal, nothing touched, one escalation naming the nodes (two agents)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 10 }).with(Scenario.node.notReady({ node: "node-1", cause: "kubelet-stopped" })).build())
      s.advance("3m30s")
      s.setNodeHost("node-2", { kubelet: "inactive" })
      s.setNodeHost("node-3", { kubelet: "inactive" })
      s.advance("3m")
      const store = yield* sharedStore()
      const rb = runbook()
      const before = nodeWrites(s).real.length
      const agent = (layer: Layer.Layer<any, any, any>) =>
        Effect.gen(function*() {
          // everything the detector emits over 3 minutes of the storm
          const signals = yield* rb.detector!.signals.pipe(Stream.interruptWhen(Effect.sleep("3 minutes")), Stream.runCollect)
          const reports = yield* Effect.forEach(signals as Array<Signal.Signal>, (sig) => Runbook.handle(rb, sig, { mode: "auto" }))
          return { signals: signals as Array<any>, reports: reports as Array<any>, escalations: yield* escalationsOf }
        }).pipe(Effect.provide(layer))
      const [one, two] = yield* runWithSim(s, Effect.all([agent(nodeServices(s, { store })), agent(nodeServices(s, { store }))], { concurrency: "unbounded" }), { step: "5 seconds", max: "20 minutes" })
      for (const x of [one, two]) {
        assert.strictEqual(x.signals.length, 1, "one signal per storm, not one per node")
        assert.strictEqual(x.signals[0].evidence.node, "node-1")
        assert.deepStrictEqual(x.signals[0].evidence.unavailableNodes, ["node-1", "node-2", "node-3"])
      }
      const escalations = [...one.escalations, ...two.escalations]
      assert.strictEqual(escalations.length, 1, JSON.stringify([one.reports.map((r) => r.status), two.reports.map((r) => r.status)]))
      assert.match(escalations[0]!.reason, /max_unavailable_nodes/)
      for (const n of ["node-1", "node-2", "node-3"]) assert.include(escalations[0]!.reason, `${n} (NotReady`)
      assert.strictEqual(nodeWrites(s).real.length, before, "nothing touched")
      assert.deepStrictEqual(cordonedNodes(s, ["node-1", "node-2", "node-3"]), [])
    }).pipe(Effect.scoped), 180_000)

  it.effect("a PodDisruptionBudget that never allows the eviction: 429 retried until the 300 s timeout; the node stays cordoned, saying so", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ node: "node-2", cause: "kubelet-stopped", workload: { workload: { pdb: { minAvailable: 3 } } } })).build())
      s.advance("2m30s") // the api pods run; node-2's kubelet has just stopped, it is still Ready
      s.setNodeHost("node-2", { kubelet: "active" })
      s.setNodeCondition("node-2", "DiskPressure", "True")
      s.advance("30s")
      const rb = runbook()
      const report = yield* runWithSim(s, Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const sig: Signal.Signal = { type: "k8s.node.disk_pressure", target: Targets.node({ cluster: kube.clusterName, name: "node-2" }), observedAt: yield* Clock.currentTimeMillis, evidence: { node: "node-2" } }
        return (yield* Runbook.handle(rb, sig, { mode: "auto" })) as any
      }).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
      assert.strictEqual(report.classification.class, "disk_pressure")
      const drain = report.outcomes.find((o: any) => o.kind === "k8s.drainNode")
      assert.strictEqual(drain.status, "failed")
      assert.match(drain.detail, /timed out after 300s: evicting default\/api-[^ ]+ is still blocked by a PodDisruptionBudget/)
      assert.match(drain.detail, /node node-2 stays cordoned/)
      const blocked = s.api.recorder.requests({ method: "POST", status: 429 }).filter((r) => r.path.endsWith("/eviction"))
      assert.isAtLeast(blocked.length, 10)
      assert.strictEqual(report.status, "escalated")
      assert.isTrue(nodeObj(s, "node-2").spec.unschedulable)
      assert.strictEqual(nodeObj(s, "node-2").metadata.annotations["byteport.io/cordoned-by"], report.incidentId)
      assert.strictEqual(report.outcomes.filter((o: any) => o.kind === "k8s.uncordonNode").length, 0)
    }).pipe(Effect.scoped), 180_000)
})
