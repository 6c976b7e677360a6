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
import { ConfigProvider, Effect, Layer } from "effect"
import { SimNodeShell } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as NodeShell from "../../src/node/NodeShell"
import * as Remediator from "../../src/remediators/nodeNotReady"
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

/**
 * A NotReady node after the node-shell DaemonSet runs: the scenario's workloads first, the shell's
 * pods scheduled and Running, then the cause (the scenario's host change) and 4 minutes.
 */
const notReady = (cause: "kubelet-stopped" | "runtime-crash" | "network-plugin" | "hardware", before: (s: Sim) => void = () => {}) =>
  Effect.gen(function*() {
    const part = Scenario.node.notReady({ cause })
    const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ ...part, steps: [] }).build())
    yield* installNodeShell(s)
    before(s)
    const step = part.steps![0] as { readonly node: string; readonly host: Record<string, unknown> }
    // as the scenario's step does: the network goes down now (a CNI pod created before that does not heal it)
    s.setNodeHost(step.node, { ...step.host, ...(step.host["network"] === "down" ? { networkDownAt: s.now() } : {}) } as never)
    s.advance("4m")
    return s
  })

const viaExec = (s: Sim) => NodeShell.viaExec().pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "30 seconds" }))))

/** The runbook, with command timeouts that leave room for real exec round trips while virtual time runs. */
const make = () => NodeNotReady.make({ host: { commandTimeout: "2 minutes" }, probeTimeout: "3 minutes" })

const handle = (s: Sim, rb: ReturnType<typeof NodeNotReady.make>, mode: "auto" | "dry_run" = "auto") =>
  runWithSim(s, Effect.gen(function*() {
    return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode })
  }).pipe(Effect.provide(nodeServices(s, { shell: viaExec(s) }))), { step: "5 seconds", max: "60 minutes", settleMs: 40 })

const uncordonedAt = (report: any) => report.outcomes.find((o: any) => o.kind === "k8s.uncordonNode" && o.status === "applied")?.at as number | undefined

describe("k8s.node.not-ready e2e through NodeShell.viaExec (pods/exec + nsenter into kube-sim's host model)", () => {
  it.effect("transient_kubelet_hang: restart through exec → Ready; uncordoned only after the healthy delay; recovered", () =>
    Effect.gen(function*() {
      const s = yield* notReady("kubelet-stopped")
      const rb = make()
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
      // 90 GiB of images no pod uses on a 100 GiB disk, and the kubelet wedged
      const s = yield* notReady("kubelet-stopped", (s) => s.setNodeHost("node-2", { images: { "registry.example.com/batch/etl:0.9": 45 * 2 ** 30, "registry.example.com/batch/etl:0.8": 45 * 2 ** 30 } }))
      const rb = make()
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
      const s = yield* notReady("network-plugin")
      const report: any = yield* handle(s, make())
      assert.strictEqual(report.classification?.class, "network_plugin_failure", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
      assert.strictEqual(cond(s, "node-2", "Ready"), "True")
    }).pipe(Effect.scoped), 120_000)

  it.effect("runtime_crash: drain (dead kubelet: evictions accepted), restart containerd then kubelet → Ready", () =>
    Effect.gen(function*() {
      const s = yield* notReady("runtime-crash")
      const report: any = yield* handle(s, make())
      assert.strictEqual(report.classification?.class, "runtime_crash", JSON.stringify(report.classification))
      const units = report.outcomes.filter((o: any) => o.kind === "k8s.restartNodeUnit").map((o: any) => o.detail)
      assert.deepStrictEqual(units, ["restarted containerd on node node-2", "restarted kubelet on node node-2"])
      assert.strictEqual(report.status, "recovered", JSON.stringify({ o: report.outcomes.map((o: any) => [o.kind, o.status, o.detail]), v: report.verdicts?.slice(-1) }))
    }).pipe(Effect.scoped), 120_000)

  it.effect("hardware_cloud_failure (MCE): escalation, no restart, no replacement unless gated on", () =>
    Effect.gen(function*() {
      const s = yield* notReady("hardware")
      const report: any = yield* handle(s, make())
      assert.strictEqual(report.classification?.class, "hardware_cloud_failure")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartNodeUnit" || o.kind === "handoff" || o.kind === "k8s.requestNodeReplacement"))
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 0)
      assert.notStrictEqual(cond(s, "node-2", "Ready"), "True")
    }).pipe(Effect.scoped), 120_000)

  it.effect("hardware_cloud_failure with BYTEPORT_AUTO_REPLACE_NODES=true: drained, the replacement reserved and handed off, escalated, no restart", () =>
    Effect.gen(function*() {
      const s = yield* notReady("hardware", (s) =>
        s.api.store.mutate(NODES, undefined, "node-2", (o: any) => {
          o.spec = { ...(o.spec ?? {}), providerID: "aws:///eu-west-1a/i-0abc" }
        }))
      const rb = NodeNotReady.make({ host: { commandTimeout: "2 minutes" }, probeTimeout: "3 minutes", remediation: { ...Remediator.defaults, autoReplaceNodes: true, replaceAwaitSeconds: 300 } })
      const report: any = yield* handle(s, rb).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_AUTO_REPLACE_NODES: "true" } }))))
      assert.strictEqual(report.classification?.class, "hardware_cloud_failure")
      assert.strictEqual(report.status, "escalated")
      const kinds = report.outcomes.map((o: any) => `${o.kind}:${o.status}`)
      assert.deepStrictEqual(kinds.slice(0, 4), ["k8s.cordonNode:applied", "k8s.drainNode:applied", "k8s.requestNodeReplacement:applied", "handoff:escalated"], JSON.stringify(kinds))
      assert.isFalse(kinds.some((k: string) => k.startsWith("k8s.restartNodeUnit")))
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("observe: detect, diagnose, classify through exec; nothing written", () =>
    Effect.gen(function*() {
      const s = yield* notReady("kubelet-stopped")
      const before = mutations(s)
      const rb = make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "observe" })
      }).pipe(Effect.provide(nodeServices(s, { shell: viaExec(s) }))), { step: "5 seconds", settleMs: 40 })
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang")
      const after = mutations(s)
      const writes = (m: typeof after) => [...m.real, ...m.dryRun].filter((r) => !/\/exec$|\/exec\?/.test(r.path) && !r.path.includes("/events"))
      assert.strictEqual(writes(after).length, writes(before).length)
      assert.strictEqual(s.controllers.ctx.host("node-2").kubeletRestarts, 0)
    }).pipe(Effect.scoped), 120_000)
})
