/**
 * k8s.node.not-ready end to end on kube-sim with the shipped `NodeShell.viaExec`: the runbook's
 * commands go through the real client-node's pods/exec into the privileged hostPID node-shell
 * DaemonSet pod (`nsenter -t 1 …`), and kube-sim's host model answers and changes (issue §8):
 * kubelet restart → Ready; image prune → no DiskPressure; recreated CNI pod → Ready; MCE →
 * escalation, no restart; then the uncordon only after the healthy delay.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { Effect, Layer } from "effect"
import { SimNodeShell } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as NodeShell from "../../src/node/NodeShell"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import { firstSignal, mutations, nodeServices, runWithSim, Scenario, sim, type Sim } from "./harness"

const NODES = { group: "", version: "v1", resource: "nodes" }
const node = (s: Sim, name: string): any => s.api.store.get(NODES, undefined, name)
const cond = (s: Sim, name: string, type: string) => node(s, name)?.status?.conditions?.find((c: any) => c.type === type)?.status

/** Installs the node-shell DaemonSet (privileged, hostPID) viaExec execs into. */
const installNodeShell = (s: Sim) =>
  Effect.promise(async () => {
    const kc = new KubeConfig()
    kc.loadFromString(s.kubeconfig())
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "byteport-system" } } })
    await kc.makeApiClient(AppsV1Api).createNamespacedDaemonSet({ namespace: "byteport-system", body: SimNodeShell.daemonSetManifest({}) as never })
    s.advance("30s")
  })

const viaExec = (s: Sim) => NodeShell.viaExec().pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "30 seconds" }))))

const handle = (s: Sim, rb: ReturnType<typeof NodeNotReady.make>, mode: "auto" | "dry_run" = "auto") =>
  runWithSim(s, Effect.gen(function*() {
    return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode })
  }).pipe(Effect.provide(nodeServices(s, { shell: viaExec(s) }))), { step: "5 seconds", max: "40 minutes" })

const uncordonedAt = (report: any) => report.outcomes.find((o: any) => o.kind === "k8s.uncordonNode" && o.status === "applied")?.at as number | undefined

describe("k8s.node.not-ready e2e through NodeShell.viaExec (pods/exec + nsenter into kube-sim's host model)", () => {
  it.effect("transient_kubelet_hang: restart through exec → Ready; uncordoned only after the healthy delay; recovered", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      yield* installNodeShell(s)
      s.advance("4m")
      const rb = NodeNotReady.make()
      const report: any = yield* handle(s, rb)
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
      assert.strictEqual(cond(s, "node-2", "Ready"), "True")
      assert.notStrictEqual(node(s, "node-2").spec.unschedulable, true, "uncordoned at the end")
      const restart = report.outcomes.find((o: any) => o.kind === "k8s.restartNodeUnit")
      assert.isAtLeast(uncordonedAt(report)! - restart.at, 300_000, "the uncordon waits the 5 min healthy delay")
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 1)
    }).pipe(Effect.scoped), 120_000)

  it.effect("resource_pressure_disk: unused images fill the disk; drain, crictl rmi --prune → no DiskPressure, kubelet restart → Ready", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      yield* installNodeShell(s)
      // 90 GiB of images no pod uses on a 100 GiB disk
      s.setNodeHost("node-2", { images: { "registry.example.com/batch/etl:0.9": 45 * 2 ** 30, "registry.example.com/batch/etl:0.8": 45 * 2 ** 30 } })
      s.advance("4m")
      const rb = NodeNotReady.make()
      const report: any = yield* handle(s, rb)
      assert.strictEqual(report.classification?.class, "resource_pressure_disk", JSON.stringify(report.classification))
      const kinds = report.outcomes.filter((o: any) => o.status === "applied").map((o: any) => o.kind)
      assert.includeMembers(kinds, ["k8s.cordonNode", "k8s.drainNode", "k8s.pruneNodeImages", "k8s.deleteEvictedPods", "k8s.restartNodeUnit", "k8s.uncordonNode"])
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
      assert.deepStrictEqual(s.controllers.ctx.host("node-2").images, {})
      assert.strictEqual(cond(s, "node-2", "DiskPressure"), "False")
      assert.strictEqual(cond(s, "node-2", "Ready"), "True")
    }).pipe(Effect.scoped), 120_000)

  it.effect("network_plugin_failure: the calico pod recreated through the API → Ready", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "network-plugin" })).build())
      yield* installNodeShell(s)
      s.advance("4m")
      const report: any = yield* handle(s, NodeNotReady.make())
      assert.strictEqual(report.classification?.class, "network_plugin_failure", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
      assert.strictEqual(cond(s, "node-2", "Ready"), "True")
    }).pipe(Effect.scoped), 120_000)

  it.effect("runtime_crash: drain (dead kubelet: evictions accepted), restart containerd then kubelet → Ready", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "runtime-crash" })).build())
      yield* installNodeShell(s)
      s.advance("4m")
      const report: any = yield* handle(s, NodeNotReady.make())
      assert.strictEqual(report.classification?.class, "runtime_crash", JSON.stringify(report.classification))
      const units = report.outcomes.filter((o: any) => o.kind === "k8s.restartNodeUnit").map((o: any) => o.detail)
      assert.deepStrictEqual(units, ["restarted containerd on node node-2", "restarted kubelet on node node-2"])
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
    }).pipe(Effect.scoped), 120_000)

  it.effect("hardware_cloud_failure (MCE): escalation, no restart, no replacement unless gated on", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "hardware" })).build())
      yield* installNodeShell(s)
      s.advance("4m")
      const report: any = yield* handle(s, NodeNotReady.make())
      assert.strictEqual(report.classification?.class, "hardware_cloud_failure")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartNodeUnit" || o.kind === "handoff" || o.kind === "k8s.requestNodeReplacement"))
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 0)
      assert.notStrictEqual(cond(s, "node-2", "Ready"), "True")
    }).pipe(Effect.scoped), 120_000)

  it.effect("observe: detect, diagnose, classify through exec; nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      yield* installNodeShell(s)
      s.advance("4m")
      const before = mutations(s)
      const rb = NodeNotReady.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "observe" })
      }).pipe(Effect.provide(nodeServices(s, { shell: viaExec(s) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang")
      const after = mutations(s)
      const writes = (m: typeof after) => [...m.real, ...m.dryRun].filter((r) => !/\/exec$|\/exec\?/.test(r.path) && !r.path.includes("/events"))
      assert.strictEqual(writes(after).length, writes(before).length)
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 0)
    }).pipe(Effect.scoped), 120_000)
})
