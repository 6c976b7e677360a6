import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import * as Remediator from "../../src/remediators/nodeNotReady"
import { firstSignal, mutations, nodeServices, runWithSim, Scenario, sim } from "./harness"
import * as SimShell from "./simNodeShell"

const node = (s: any, name: string) => s.api.store.get({ group: "", version: "v1", resource: "nodes" }, undefined, name)
const ready = (s: any, name: string) => node(s, name)?.status?.conditions?.find((c: any) => c.type === "Ready")?.status
// The probes' 15 s timeout is virtual time, which the harness advances 5 s per few real ms: the
// file's first probe (a cold client: connection, JIT) outlived it on a loaded CI machine. A
// generous virtual budget keeps the e2e about the classes; timeouts are unit-tested.
const runbook = () => NodeNotReady.make({ remediation: { ...Remediator.defaults, uncordon: false }, probeTimeout: "20 minutes" })

describe("k8s.node.not-ready e2e on kube-sim (real client, a node shell over the host model)", () => {
  it.effect("transient_kubelet_hang: cordon, systemctl restart kubelet → the node is Ready again; verified", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("4m")
      assert.notStrictEqual(ready(s, "node-2"), "True")
      const log: Array<string> = []
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify({ s: report.status, o: report.outcomes, v: report.verdicts?.slice(-1) }))
      assert.include(log, "node-2: systemctl restart kubelet")
      assert.strictEqual(ready(s, "node-2"), "True")
      assert.isTrue(node(s, "node-2").spec.unschedulable, "cordoned first (the uncordon is k8s.uncordonNode's)")
      const events = s.api.store.list({ group: "", version: "v1", resource: "events" }).filter((e: any) => e.involvedObject?.name === "node-2" && e.reason === "NodeUnitRestarted")
      assert.lengthOf(events, 1)
    }).pipe(Effect.scoped), 60_000)

  it.effect("hardware_cloud_failure (MCE): escalation with the bundle, cordoned, never a restart", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "hardware" })).build())
      s.advance("4m")
      const log: Array<string> = []
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "hardware_cloud_failure")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(log.some((l) => l.includes("systemctl restart")), log.join("\n"))
      assert.match(report.escalation.reason, /Machine Check Exception|Hardware Error/)
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "handoff" || /replacement/.test(o.detail ?? "")))
      assert.notStrictEqual(ready(s, "node-2"), "True", "no restart cures an MCE")
    }).pipe(Effect.scoped), 60_000)

  it.effect("network_plugin_failure: the node's calico pod is recreated (uid precondition) → Ready", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "network-plugin" })).build())
      s.advance("4m")
      const podsOn = () => s.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "kube-system" }).filter((p: any) => p.spec.nodeName === "node-2" && p.metadata.name.startsWith("calico-node"))
      const before = podsOn()[0]!.metadata.uid
      const log: Array<string> = []
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "network_plugin_failure", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes, v: report.verdicts?.slice(-1) }))
      assert.notStrictEqual(podsOn()[0]?.metadata.uid, before)
      assert.strictEqual(ready(s, "node-2"), "True")
    }).pipe(Effect.scoped), 60_000)

  it.effect("no NodeShell: facts Unknown → Indeterminate → escalation, nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("4m")
      const before = mutations(s).real.length
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s))), { step: "5 seconds" })
      assert.strictEqual(report.classification?._tag, "Indeterminate")
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(mutations(s).real.length - before, 0)
      assert.isUndefined(node(s, "node-2").spec.unschedulable)
    }).pipe(Effect.scoped), 60_000)

  it.effect("dry_run: the plan validated with dryRun=All, nothing restarted, nothing persisted", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("4m")
      const before = mutations(s)
      const log: Array<string> = []
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "dry_run" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang")
      const after = mutations(s)
      assert.strictEqual(after.real.length - before.real.length, 0, JSON.stringify(after.real.slice(before.real.length)))
      assert.isAbove(after.dryRun.length - before.dryRun.length, 0, "the cordon went to the apiserver with dryRun=All")
      assert.isFalse(log.some((l) => l.includes("systemctl restart")))
      assert.notStrictEqual(ready(s, "node-2"), "True")
    }).pipe(Effect.scoped), 60_000)
})
