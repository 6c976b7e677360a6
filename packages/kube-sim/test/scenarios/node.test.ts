import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario } from "../../src/scenario/index"
import { eventsWith, harness, podsOf, ready, smp, type Harness } from "../controllers/helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const cond = async (h: Harness, node: string, type: string) => (await h.core.readNode({ name: node })).status!.conditions!.find((c) => c.type === type)!
const taints = async (h: Harness, node: string) => ((await h.core.readNode({ name: node })).spec!.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort()

describe("node family", () => {
  it("kubelet stopped: Unknown after the grace period, unreachable taints, pods NotReady, evicted after 300s and rescheduled", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.notReady({ node: "node-2", cause: "kubelet-stopped" })).build() })
    h.sim.advance("1m")
    assert.deepInclude(await cond(h, "node-2", "Ready"), { status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." })
    assert.deepInclude(await cond(h, "node-2", "MemoryPressure"), { status: "Unknown", reason: "NodeStatusUnknown" })
    assert.deepStrictEqual(await taints(h, "node-2"), ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"])
    const onNode = (await podsOf(h, "api")).filter((p) => p.spec!.nodeName === "node-2")
    assert.strictEqual(onNode.length, 1)
    assert.isFalse(ready(onNode[0]!))
    assert.isTrue((await eventsWith(h, "NodeNotReady")).some((e) => e.involvedObject.kind === "Node" && e.message === "Node node-2 status is now: NodeNotReady"))
    h.sim.advance("5m")
    const pods = await podsOf(h, "api")
    const stuck = pods.find((p) => p.metadata!.name === onNode[0]!.metadata!.name)!
    assert.isDefined(stuck.metadata!.deletionTimestamp, "taint eviction marked it; it stays Terminating while the kubelet is down")
    assert.isTrue((await eventsWith(h, "TaintManagerEviction")).some((e) => e.message === `Marking for deletion Pod default/${stuck.metadata!.name}`))
    const live = pods.filter((p) => !p.metadata!.deletionTimestamp)
    assert.strictEqual(live.length, 3)
    assert.isTrue(live.every((p) => p.spec!.nodeName !== "node-2" && ready(p)))
    // the kubelet comes back: Ready again, the terminating pod is finalised
    h.sim.controllers.startKubelet("node-2")
    h.sim.advance("1m")
    assert.deepInclude(await cond(h, "node-2", "Ready"), { status: "True", reason: "KubeletReady" })
    assert.deepStrictEqual(await taints(h, "node-2"), [])
    assert.strictEqual((await podsOf(h, "api")).length, 3)
  })

  it("runtime crash, network plugin and hardware causes show their own conditions; a recreated CNI pod heals the network", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.notReady({ node: "node-2", cause: "runtime-crash" })).build() })
    h.sim.advance("10s")
    const r = await cond(h, "node-2", "Ready")
    assert.deepInclude(r, { status: "False", reason: "KubeletNotReady" })
    assert.include(r.message!, "container runtime is down")
    assert.include(await taints(h, "node-2"), "node.kubernetes.io/not-ready:NoExecute")
    assert.strictEqual(h.sim.controllers.ctx.host("node-2").runtime, "failed")
    await h.sim.close()

    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.notReady({ node: "node-2", cause: "network-plugin" })).build() })
    h.sim.advance("10s")
    assert.include((await cond(h, "node-2", "Ready")).message!, "NetworkPluginNotReady")
    assert.deepInclude(await cond(h, "node-2", "NetworkUnavailable"), { status: "True" })
    assert.include(await taints(h, "node-2"), "node.kubernetes.io/network-unavailable:NoSchedule")
    const cni = (await h.core.listNamespacedPod({ namespace: "kube-system", labelSelector: "app=calico-node" })).items.find((p) => p.spec!.nodeName === "node-2")!
    await h.core.deleteNamespacedPod({ name: cni.metadata!.name!, namespace: "kube-system" })
    h.sim.advance("2m")
    assert.deepInclude(await cond(h, "node-2", "Ready"), { status: "True" })
    assert.deepInclude(await cond(h, "node-2", "NetworkUnavailable"), { status: "False" })
    await h.sim.close()

    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.notReady({ node: "node-3", cause: "hardware" })).build() })
    h.sim.advance("1m")
    assert.deepInclude(await cond(h, "node-3", "Ready"), { status: "Unknown" })
    assert.isTrue(h.sim.controllers.ctx.host("node-3").kernelLog.some((l) => l.includes("Machine Check Exception")))
  })

  it("memory pressure: a BestEffort hog is evicted with the real message; healthy pods stay; the condition clears after the transition period", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.memoryPressure({ node: "node-2" })).build() })
    h.sim.advance("8m")
    const evicted = (await h.core.listNamespacedPod({ namespace: "default", fieldSelector: "status.phase=Failed" })).items
    assert.isAtLeast(evicted.length, 1)
    const e = evicted[0]!
    assert.strictEqual(e.metadata!.labels!["app"], "cache-warmer")
    assert.strictEqual(e.status!.reason, "Evicted")
    assert.match(e.status!.message!, /^The node was low on resource: memory\. Threshold quantity: 100Mi, available: \d+Ki\. Container cache-warmer was using \d+Ki, request is 0, has larger consumption of memory\. $/)
    assert.isTrue((await eventsWith(h, "Evicted")).some((x) => x.involvedObject.name === e.metadata!.name && x.source!.component === "kubelet"))
    assert.isTrue((await eventsWith(h, "EvictionThresholdMet")).some((x) => x.message === "Attempting to reclaim memory"))
    assert.isTrue((await podsOf(h, "api")).every((p) => ready(p)), "healthy pods stay")
    const mp = await cond(h, "node-2", "MemoryPressure")
    assert.strictEqual(mp.reason, mp.status === "True" ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory")
  })

  it("disk and PID pressure evict the culprit", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.diskPressure({ node: "node-2" })).build() })
    h.sim.advance("30s")
    assert.deepInclude(await cond(h, "node-2", "DiskPressure"), { status: "True", reason: "KubeletHasDiskPressure", message: "kubelet has disk pressure" })
    assert.include(await taints(h, "node-2"), "node.kubernetes.io/disk-pressure:NoSchedule")
    const ev = (await h.core.listNamespacedPod({ namespace: "default", fieldSelector: "status.phase=Failed" })).items
    assert.strictEqual(ev[0]!.metadata!.labels!["app"], "log-spammer")
    assert.match(ev[0]!.status!.message!, /^The node was low on resource: ephemeral-storage\./)
    h.sim.advance("6m")
    // the condition clears after the 5-minute transition period; the Deployment's replacement (pinned there) then fills the disk again
    const msgs = (await h.core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=node-2" })).items.map((e) => e.reason)
    assert.includeMembers(msgs, ["NodeHasDiskPressure", "NodeHasNoDiskPressure"])
    await h.sim.close()
    h = await harness({ scenario: Scenario.cluster().with(Scenario.node.pidPressure({ node: "node-2" })).build() })
    h.sim.advance("30s")
    const pp = (await h.core.readNode({ name: "node-2" })).status!.conditions!.find((c) => c.type === "PIDPressure")!
    assert.isTrue(pp.status === "True" || (await h.core.listNamespacedPod({ namespace: "default", fieldSelector: "status.phase=Failed" })).items.some((p) => p.status!.message!.startsWith("The node was low on resource: pids.")))
  })

  it("cordon + eviction (a drain) moves pods off a node and the PDB is honoured", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 3, pdb: { maxUnavailable: 1 }, readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 5 }, behaviour: { startupSeconds: 20 } }] }).build() })
    await h.core.patchNode({ name: "node-1", body: { spec: { unschedulable: true } } }, smp)
    h.sim.settle()
    assert.include(await taints(h, "node-1"), "node.kubernetes.io/unschedulable:NoSchedule")
    assert.isTrue((await eventsWith(h, "NodeNotSchedulable")).some((e) => e.message === "Node node-1 status is now: NodeNotSchedulable"))
    const victims = (await podsOf(h, "web")).filter((p) => p.spec!.nodeName === "node-1")
    for (const v of victims) await h.core.createNamespacedPodEviction({ name: v.metadata!.name!, namespace: "default", body: { metadata: { name: v.metadata!.name!, namespace: "default" } } })
    h.sim.advance("1m")
    const pods = (await podsOf(h, "web")).filter((p) => !p.metadata!.deletionTimestamp)
    assert.strictEqual(pods.length, 3)
    assert.isTrue(pods.every((p) => p.spec!.nodeName !== "node-1" && ready(p)))
  })
})
