import { CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as KubeSim from "../../src/KubeSim"
import { Controllers, Scenario, VirtualClock, installer } from "../../src/scenario/index"
import { R } from "../../src/controllers/util"
import { cs, harness, podsOf, type Harness } from "./helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

describe("mutation helpers", () => {
  it("setMemoryModel turns a healthy workload into a leaking one from its next container start", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "api", replicas: 1, memoryLimit: "256Mi", memory: { kind: "steady", bytes: "100Mi" } }] }).build() })
    h.sim.advance("10m")
    assert.strictEqual(cs((await podsOf(h, "api"))[0]!).restartCount, 0)
    h.sim.setMemoryModel({ workload: "api" }, { kind: "leak", baseBytes: "100Mi", bytesPerMinute: "20Mi" })
    h.sim.advance("10m")
    assert.strictEqual(cs((await podsOf(h, "api"))[0]!).restartCount, 0, "the running container keeps its model")
    await h.core.deleteNamespacedPod({ name: (await podsOf(h, "api"))[0]!.metadata!.name!, namespace: "default", gracePeriodSeconds: 0 })
    h.sim.advance("20m")
    const p = (await podsOf(h, "api"))[0]!
    assert.strictEqual(cs(p).lastState!.terminated!.reason, "OOMKilled")
    assert.throws(() => h!.sim.setMemoryModel({ workload: "api" }, { kind: "nope" } as never), TypeError)
  })

  it("setNodeCondition forces a condition and its taint; clearing it restores the kubelet's view", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 2 }).build() })
    h.sim.setNodeCondition("node-1", "PIDPressure", "True")
    let n = await h.core.readNode({ name: "node-1" })
    assert.deepInclude(n.status!.conditions!.find((c) => c.type === "PIDPressure"), { status: "True", reason: "KubeletHasInsufficientPID" })
    assert.isTrue(n.spec!.taints!.some((t) => t.key === "node.kubernetes.io/pid-pressure"))
    h.sim.setNodeCondition("node-1", "PIDPressure", undefined)
    n = await h.core.readNode({ name: "node-1" })
    assert.strictEqual(n.status!.conditions!.find((c) => c.type === "PIDPressure")!.status, "False")
    assert.isUndefined(n.spec!.taints)
  })

  it("setImage fixes a registry answer and the next pull succeeds", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.crashloop.imagePullAuth({ name: "api", image: "private.example.com/a:1" })).build() })
    h.sim.setImage("private.example.com/a:1", "ok")
    h.sim.advance("6m")
    assert.isTrue((await podsOf(h, "api")).every((p) => p.status!.phase === "Running"))
  })
})

describe("installation", () => {
  it("installs into KubeSim.start with a shared virtual clock; runRealtime drives it from the wall clock", async () => {
    const clock = new VirtualClock(Date.UTC(2026, 5, 1))
    let c: Controllers | undefined
    const api = await KubeSim.start({ now: () => clock.now(), install: [installer({ clock, onReady: (x) => (c = x) })] })
    try {
      const kc = new KubeConfig()
      kc.loadFromString(api.kubeconfig())
      const core = kc.makeApiClient(CoreV1Api)
      await core.createNode({ body: { metadata: { name: "n1" }, status: { capacity: { cpu: "2", memory: "4Gi", pods: "10" }, allocatable: { cpu: "2", memory: "4Gi", pods: "10" } } } })
      const pod = await core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "img:1" }] } } })
      assert.strictEqual(pod.metadata!.creationTimestamp!.toISOString(), "2026-06-01T00:00:00.000Z")
      // auto-settle after the HTTP write: scheduled without advancing time
      await new Promise((r) => setTimeout(r, 5))
      assert.strictEqual((await core.readNamespacedPod({ name: "p", namespace: "default" })).spec!.nodeName, "n1")
      const stop = c!.runRealtime(1000, 5)
      await new Promise((r) => setTimeout(r, 40))
      stop()
      assert.isAtLeast(clock.now() - Date.UTC(2026, 5, 1), 5_000)
      const p = (await core.readNamespacedPod({ name: "p", namespace: "default" }))
      assert.strictEqual(p.status!.phase, "Running")
      assert.isTrue(api.store.gracefulDeletion)
      assert.strictEqual(api.store.list(R.events).filter((e) => e["reason"] === "Started").length, 1)
    } finally {
      await api.close()
    }
  })
})

describe("scenarioStartOptions (for the command line)", () => {
  it("starts a scenario in real time through KubeSim.start", async () => {
    const { scenarioStartOptions } = await import("../../src/scenario/index")
    const yaml = ["nodes: 2", "warmup: 30s", "workloads:", "  - name: web", "    replicas: 2", ""].join("\n")
    const api = await KubeSim.start(scenarioStartOptions(yaml, { realtimeSpeed: 100 }))
    try {
      const kc = new KubeConfig()
      kc.loadFromString(api.kubeconfig())
      const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default", labelSelector: "app=web" })
      assert.strictEqual(pods.items.length, 2)
      assert.isTrue(pods.items.every((p) => p.status!.phase === "Running"))
      const prom = (await (await fetch(`${api.url}/api/v1/query?query=${encodeURIComponent("count(kube_pod_container_status_ready == 1)")}`)).json()) as any
      assert.strictEqual(prom.data.result[0].value[1], "2")
    } finally {
      await api.close()
    }
  })
})

describe("bare pods and annotations", () => {
  it("restartPolicy Never/OnFailure end in Failed/Succeeded; the memory annotation drives OOM", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 1 }).build() })
    const mk = (name: string, policy: string, behaviour: object, extra: Record<string, string> = {}, limit?: string) =>
      h!.core.createNamespacedPod({
        namespace: "default",
        body: {
          metadata: { name, annotations: { "kube-sim.byteport.io/behavior": JSON.stringify({ main: behaviour }), ...extra } },
          spec: { restartPolicy: policy, containers: [{ name: "main", image: "tool:1", ...(limit ? { resources: { limits: { memory: limit } } } : {}) }] }
        }
      })
    await mk("fails", "Never", { exitAfterSeconds: 2, exitCode: 3 })
    await mk("works", "OnFailure", { exitAfterSeconds: 2, exitCode: 0 })
    await mk("oom", "Always", {}, { "kube-sim.byteport.io/memory": JSON.stringify({ kind: "leak", baseBytes: "10Mi", bytesPerMinute: "10Mi" }) }, "50Mi")
    h.sim.advance("10m")
    const fails = await h.core.readNamespacedPod({ name: "fails", namespace: "default" })
    assert.strictEqual(fails.status!.phase, "Failed")
    assert.deepInclude(cs(fails).state!.terminated!, { exitCode: 3, reason: "Error" })
    const works = await h.core.readNamespacedPod({ name: "works", namespace: "default" })
    assert.strictEqual(works.status!.phase, "Succeeded")
    assert.deepInclude(cs(works).state!.terminated!, { exitCode: 0, reason: "Completed" })
    const oom = await h.core.readNamespacedPod({ name: "oom", namespace: "default" })
    assert.strictEqual(cs(oom).lastState!.terminated!.reason, "OOMKilled")
    // 10Mi → 50Mi at 10Mi/min: the first kill lands 4 minutes after the start
    const t = cs(oom).lastState!.terminated!
    assert.isAtLeast(cs(oom).restartCount, 1)
    assert.approximately(t.finishedAt!.getTime() - t.startedAt!.getTime(), 240_000, 1000)
  })
})
