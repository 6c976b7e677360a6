/**
 * k8s.node.pressure-drain end to end on kube-sim (real client-node, virtual time): a node whose
 * kubelet stops is cordoned (annotated), drained with dead-kubelet semantics, and uncordoned only
 * after it has been Ready and pressure-free for the healthy delay — never after a flap; a node
 * that does not recover stays cordoned and escalates; a human's cordon is never undone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Duration, Effect, Fiber } from "effect"
import * as PressureDrain from "../../src/runbooks/k8s.node.pressure-drain"
import * as Remediator from "../../src/remediators/nodePressure"
import { firstSignal, humanCordon, isReady, mutations as mutationsOf, nodeObj, nodeServices, nodeWrites, podsOf, runWithSim, Scenario, sim, type Sim } from "./harness"

const NODE = "node-2"
const kubeletStops = () => Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ node: NODE, cause: "kubelet-stopped" })).build()

// virtual time runs on while requests are in flight: a generous probe timeout keeps a loaded machine from timing probes out
const runbook = (o: Partial<Remediator.PressureRemediation> = {}) => PressureDrain.make({ remediation: { ...Remediator.defaults, ...o }, probeTimeout: "5 minutes" })

const handle = (s: Sim, rb: ReturnType<typeof runbook>, mode: "auto" | "dry_run" | "observe" = "auto") =>
  Effect.gen(function*() {
    const signal = yield* firstSignal(rb, (x) => x.evidence?.node === NODE)
    return (yield* Runbook.handle(rb, signal, { mode })) as any
  })

/** Sleeps on the (virtual) clock, then changes the node's host state. */
const at = (_s: Sim, after: Duration.Input, f: () => void) => Effect.forkChild(Effect.andThen(Effect.sleep(after), Effect.sync(f)))

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

  it.effect("a flap restarts the clock: the node is uncordoned 5 min after its last recovery, never in between", () =>
    Effect.gen(function*() {
      const s = yield* sim(kubeletStops())
      s.advance("5m")
      const report = yield* runWithSim(s, Effect.gen(function*() {
        const back = yield* at(s, "4 minutes", () => s.setNodeHost(NODE, { kubelet: "active" }))
        const again = yield* at(s, "7 minutes", () => s.setNodeHost(NODE, { kubelet: "inactive" }))
        const backAgain = yield* at(s, "9 minutes", () => s.setNodeHost(NODE, { kubelet: "active" }))
        const r = yield* handle(s, runbook())
        yield* Fiber.join(back)
        yield* Fiber.join(again)
        yield* Fiber.join(backAgain)
        return r
      }).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "45 minutes" })
      const uncordon = report.outcomes.find((o: any) => o.kind === "k8s.uncordonNode")
      assert.strictEqual(uncordon.status, "applied", uncordon.detail)
      assert.isAtLeast(uncordon.result.flaps, 1)
      // the last Ready transition is the second recovery; the uncordon came 5 minutes after it
      assert.isAtLeast(uncordon.at - readyAt(s), 300_000)
      assert.isBelow(uncordon.at - readyAt(s), 330_000)
      assert.strictEqual(uncordonRequests(s).length, 1)
      assert.strictEqual(report.status, "recovered")
    }).pipe(Effect.scoped), 120_000)

  it.effect("not recovered within the recovery timeout: the node stays cordoned (annotated), the incident escalates", () =>
    Effect.gen(function*() {
      const s = yield* sim(kubeletStops())
      s.advance("5m")
      const report = yield* runWithSim(s, handle(s, runbook({ recoveryTimeoutSeconds: 600 })).pipe(Effect.provide(nodeServices(s))), { step: "5 seconds", max: "40 minutes" })
      assert.strictEqual(report.status, "escalated")
      const uncordon = report.outcomes.find((o: any) => o.kind === "k8s.uncordonNode")
      assert.strictEqual(uncordon.status, "failed")
      assert.match(uncordon.detail, /stays cordoned and keeps its BytePort cordon slot/)
      const node = nodeObj(s, NODE)
      assert.isTrue(node.spec.unschedulable)
      assert.strictEqual(node.metadata.annotations["byteport.io/cordoned-by"], report.incidentId)
      assert.strictEqual(uncordonRequests(s).length, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("a human's cordon is never adopted nor undone: nothing is written, the incident escalates", () =>
    Effect.gen(function*() {
      const s = yield* sim(kubeletStops())
      s.advance("5m")
      humanCordon(s, NODE)
      const before = nodeWrites(s).real.length
      const report = yield* runWithSim(s, handle(s, runbook()).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(report.outcomes.length, 0, "denied before the first write")
      const denials = report.decisions.filter((d: any) => d.decision === "deny").map((d: any) => d.guardrail)
      assert.include(denials, "never_adopt_a_cordon")
      assert.include(denials, "never_undo_a_foreign_cordon")
      assert.strictEqual(nodeWrites(s).real.length, before)
      const node = nodeObj(s, NODE)
      assert.isTrue(node.spec.unschedulable)
      assert.isUndefined(node.metadata.annotations?.["byteport.io/cordoned-by"])
      // still cordoned after the kubelet comes back
      s.setNodeHost(NODE, { kubelet: "active" })
      s.advance("20m")
      assert.isTrue(nodeObj(s, NODE).spec.unschedulable)
    }).pipe(Effect.scoped), 120_000)

  it.effect("kubectl's refusal: a bare pod on the node stops the drain before any eviction; the node stays cordoned, saying so", () =>
    Effect.gen(function*() {
      const bare = { apiVersion: "v1", kind: "Pod", metadata: { name: "debug-shell", namespace: "default" }, spec: { nodeName: NODE, containers: [{ name: "sh", image: "busybox:1.36" }] } }
      const s = yield* sim(Scenario.cluster({ nodes: 3, objects: [bare as any] }).with(Scenario.node.notReady({ node: NODE, cause: "kubelet-stopped" })).build())
      s.advance("5m")
      const report = yield* runWithSim(s, handle(s, runbook()).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
      assert.strictEqual(report.status, "escalated")
      const drain = report.outcomes.find((o: any) => o.kind === "k8s.drainNode")
      assert.strictEqual(drain.status, "failed")
      assert.match(drain.detail, /default\/debug-shell declares no controller/)
      assert.match(drain.detail, /node node-2 stays cordoned/)
      assert.strictEqual(s.api.recorder.requests({ method: "POST" }).filter((r) => r.path.endsWith("/eviction")).length, 0)
      assert.isTrue(nodeObj(s, NODE).spec.unschedulable)
    }).pipe(Effect.scoped), 120_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: nothing persisted; only dryRun=All requests`, () =>
      Effect.gen(function*() {
        const s = yield* sim(kubeletStops())
        s.advance("5m")
        const before = mutationsOf(s)
        const report = yield* runWithSim(s, handle(s, runbook(), mode).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
        const after = mutationsOf(s)
        assert.strictEqual(report.status, mode === "observe" ? "observed" : "dry_run")
        assert.strictEqual(after.real.length, before.real.length, "no persisted write")
        assert.isUndefined(nodeObj(s, NODE).spec.unschedulable)
        if (mode === "dry_run") {
          assert.isAbove(after.dryRun.length, before.dryRun.length)
          assert.isTrue(after.dryRun.some((r) => r.path.endsWith(`/nodes/${NODE}`)), "the cordon was validated with dryRun=All")
          assert.isTrue(after.dryRun.some((r) => r.path.endsWith("/eviction")), "the evictions were validated with dryRun=All")
        } else assert.strictEqual(after.dryRun.length, before.dryRun.length)
      }).pipe(Effect.scoped), 120_000)
  }

  it.effect("dead kubelet with a StatefulSet pod on the node: evictions accepted, never force-deleted; the drain fails naming it and the node stays cordoned", () =>
    Effect.gen(function*() {
      const db = { kind: "StatefulSet" as const, name: "db", replicas: 3, image: "registry.example.com/shop/db:2.1.0", cpuRequest: "100m", readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5, failureThreshold: 3 } }
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ node: NODE, cause: "kubelet-stopped" }), { workloads: [db] }).build())
      s.advance("5m")
      const dbOnNode = podsOf(s, "db").filter((p) => p.spec.nodeName === NODE).map((p) => p.metadata.name)
      assert.isAbove(dbOnNode.length, 0, "a db pod runs on the node")
      const report = yield* runWithSim(s, handle(s, runbook()).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
      assert.strictEqual(report.status, "escalated")
      const drain = report.outcomes.find((o: any) => o.kind === "k8s.drainNode")
      assert.strictEqual(drain.status, "failed")
      assert.match(drain.detail, /StatefulSet pod\(s\) default\/db-\d/)
      assert.match(drain.detail, /never force-deletes/)
      assert.match(drain.detail, /stays cordoned/)
      // no pod was deleted by BytePort (evictions only), none with grace 0
      assert.strictEqual(s.api.recorder.requests({ method: "DELETE" }).filter((r) => r.path.includes("/pods/")).length, 0)
      for (const n of dbOnNode) {
        const pod = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).find((p) => p.metadata.name === n)
        assert.isDefined(pod, `${n} still exists (terminating), never force-deleted`)
      }
      assert.isTrue(nodeObj(s, NODE).spec.unschedulable)
    }).pipe(Effect.scoped), 120_000)

  it.effect("a 409 on the cordon's patch (the node's resourceVersion moved): read again, re-checked, cordoned once", () =>
    Effect.gen(function*() {
      const s = yield* sim(kubeletStops())
      s.advance("5m")
      s.api.faults.error({ verb: "patch", resource: "nodes", status: 409, times: 1 })
      const report = yield* runWithSim(s, handle(s, runbook({ recoveryTimeoutSeconds: 60 })).pipe(Effect.provide(nodeServices(s))), { step: "2 seconds", max: "20 minutes" })
      const cordon = report.outcomes.find((o: any) => o.kind === "k8s.cordonNode")
      assert.strictEqual(cordon.status, "applied", cordon.detail)
      const patches = s.api.recorder.requests({ method: "PATCH" }).filter((r) => r.path.endsWith(`/nodes/${NODE}`) && r.contentType === "application/strategic-merge-patch+json")
      assert.strictEqual(patches.length, 2, "one refused with 409, one accepted")
      assert.strictEqual(nodeObj(s, NODE).metadata.annotations["byteport.io/cordoned-by"], report.incidentId)
    }).pipe(Effect.scoped), 120_000)

  it.effect("DiskPressure from a log spammer pinned to the node (cause and effect): drained, uncordoned after the delay; the spammer returns, the held window sees DiskPressure again and escalates", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.diskPressure({ node: NODE })).build())
      s.advance("3m")
      const rb = runbook()
      const report = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(rb, (x) => x.type === "k8s.node.disk_pressure")
        return (yield* Runbook.handle(rb, signal, { mode: "auto" })) as any
      }).pipe(Effect.provide(nodeServices(s))), { step: "5 seconds", max: "60 minutes" })
      assert.strictEqual(report.classification.class, "disk_pressure")
      assert.deepStrictEqual(report.outcomes.map((o: any) => [o.kind, o.status]), [["k8s.cordonNode", "applied"], ["k8s.drainNode", "applied"], ["k8s.uncordonNode", "applied"]])
      assert.isAtLeast(report.outcomes[2].result.waitedSeconds, 300)
      const last = report.verdicts[report.verdicts.length - 1]
      assert.strictEqual(last._tag, "NotRecovered")
      assert.match(last.reason, /DiskPressure/)
      assert.strictEqual(report.status, "escalated")
    }).pipe(Effect.scoped), 120_000)
})

