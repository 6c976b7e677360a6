import { afterEach, assert, describe, it } from "@effect/vitest"
import { Scenario, startSim } from "../../src/scenario/index"
import { R } from "../../src/controllers/util"
import { cs, eventsWith, harness, podsOf, ready, smp, type Harness } from "./helpers"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

describe("Deployment → ReplicaSet → Pod", () => {
  it("rolls out with revisions, change-cause, pod-template-hash and maxSurge/maxUnavailable bounds; status and conditions", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 4, changeCause: "v1", readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 5 }, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }] }).build() })
    const d0 = await h.apps.readNamespacedDeployment({ name: "web", namespace: "default" })
    assert.strictEqual(d0.metadata!.annotations!["deployment.kubernetes.io/revision"], "1")
    assert.deepInclude(d0.status!.conditions!.find((c) => c.type === "Progressing"), { status: "True", reason: "NewReplicaSetAvailable" })
    assert.deepInclude(d0.status!.conditions!.find((c) => c.type === "Available"), { status: "True", reason: "MinimumReplicasAvailable" })
    await h.apps.patchNamespacedDeployment({ name: "web", namespace: "default", body: { metadata: { annotations: { "kubernetes.io/change-cause": "v2" } }, spec: { template: { spec: { containers: [{ name: "web", image: "registry.example.com/shop/web:2.0.0" }] } } } } }, smp)
    const store = h.sim.api.store
    let maxPods = 0
    let minAvailable = Infinity
    let sawUpdated = false
    for (let i = 0; i < 120; i++) {
      h.sim.advance("1s")
      const pods = store.list(R.pods).filter((p) => p.metadata.labels?.["app"] === "web" && !p.metadata.deletionTimestamp)
      maxPods = Math.max(maxPods, pods.length)
      minAvailable = Math.min(minAvailable, pods.filter((p) => (p["status"] as any).conditions?.some((c: any) => c.type === "Ready" && c.status === "True")).length)
      const d = store.get(R.deployments, "default", "web") as any
      if (d.status.conditions.some((c: any) => c.reason === "ReplicaSetUpdated")) sawUpdated = true
    }
    assert.strictEqual(maxPods, 5, "never more than replicas + maxSurge")
    assert.strictEqual(minAvailable, 3, "never fewer than replicas - maxUnavailable ready")
    assert.isTrue(sawUpdated)
    const d = await h.apps.readNamespacedDeployment({ name: "web", namespace: "default" })
    assert.strictEqual(d.metadata!.annotations!["deployment.kubernetes.io/revision"], "2")
    assert.deepInclude(d.status!, { replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4 })
    const rss = (await h.apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=web" })).items
    const newRs = rss.find((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"] === "2")!
    const hash = newRs.metadata!.labels!["pod-template-hash"]!
    assert.strictEqual(newRs.metadata!.name, `web-${hash}`)
    assert.strictEqual(newRs.spec!.selector!.matchLabels!["pod-template-hash"], hash)
    assert.strictEqual(newRs.metadata!.annotations!["kubernetes.io/change-cause"], "v2")
    assert.strictEqual(newRs.metadata!.ownerReferences![0]!.kind, "Deployment")
    const pods = await podsOf(h, "web")
    assert.isTrue(pods.every((p) => p.metadata!.labels!["pod-template-hash"] === hash && p.metadata!.name!.startsWith(`web-${hash}-`)))
    assert.deepInclude(pods[0]!.metadata!.ownerReferences![0]!, { kind: "ReplicaSet", controller: true, blockOwnerDeletion: true })
    const scaling = (await eventsWith(h, "ScalingReplicaSet")).map((e) => e.message)
    assert.include(scaling, `Scaled up replica set web-${hash} from 0 to 1`)
  })

  it("a never-ready revision hits ProgressDeadlineExceeded; `rollout undo` (template patch) restores the old ReplicaSet", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.rollout.neverReady({ name: "api", progressDeadlineSeconds: 120 })).build() })
    h.sim.advance("30s")
    let d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.deepInclude(d.status!.conditions!.find((c) => c.type === "Progressing"), { status: "True" })
    h.sim.advance("3m")
    d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    const rss = (await h.apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=api" })).items
    const bad = rss.find((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"] === "2")!
    assert.deepInclude(d.status!.conditions!.find((c) => c.type === "Progressing"), { status: "False", reason: "ProgressDeadlineExceeded", message: `ReplicaSet "${bad.metadata!.name}" has timed out progressing.` })
    assert.strictEqual(d.status!.readyReplicas, 3, "old pods still serve")
    assert.isTrue((await eventsWith(h, "Unhealthy")).some((e) => e.message === "Readiness probe failed: HTTP probe failed with statuscode: 503"))
    const good = rss.find((r) => r.metadata!.annotations!["deployment.kubernetes.io/revision"] === "1")!
    const tpl = structuredClone(good.spec!.template!) as any
    delete tpl.metadata.labels["pod-template-hash"]
    tpl.metadata.creationTimestamp = null
    // kubectl rollout undo sends a JSON patch replacing the whole template
    await h.apps.patchNamespacedDeployment({ name: "api", namespace: "default", body: [{ op: "replace", path: "/spec/template", value: tpl }] })
    h.sim.advance("2m")
    d = await h.apps.readNamespacedDeployment({ name: "api", namespace: "default" })
    assert.strictEqual(d.metadata!.annotations!["deployment.kubernetes.io/revision"], "3")
    assert.deepInclude(d.status!.conditions!.find((c) => c.type === "Progressing"), { status: "True", reason: "NewReplicaSetAvailable" })
    assert.deepInclude(d.status!, { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 })
    const after = (await h.apps.listNamespacedReplicaSet({ namespace: "default", labelSelector: "app=api" })).items
    assert.strictEqual(after.length, 2, "the old ReplicaSet was re-adopted, not duplicated")
    assert.strictEqual(after.find((r) => r.metadata!.name === bad.metadata!.name)!.spec!.replicas, 0)
  })

  it("StatefulSets get ordered stable names; DaemonSets one pod per node", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ kind: "StatefulSet", name: "db", replicas: 3, readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 } }, { kind: "DaemonSet", name: "agent" }] }).build() })
    const db = await podsOf(h, "db")
    assert.deepStrictEqual(db.map((p) => p.metadata!.name), ["db-0", "db-1", "db-2"])
    assert.isTrue(db.every(ready))
    const created = db.map((p) => p.metadata!.creationTimestamp!.getTime())
    assert.isTrue(created[0]! < created[1]! && created[1]! < created[2]!, "OrderedReady")
    const agents = await podsOf(h, "agent")
    assert.deepStrictEqual(agents.map((p) => p.spec!.nodeName).sort(), ["node-1", "node-2", "node-3"])
    const ds = await h.apps.readNamespacedDaemonSet({ name: "agent", namespace: "default" })
    assert.deepInclude(ds.status!, { desiredNumberScheduled: 3, numberReady: 3 })
  })

  it("garbage collection: deleting a Deployment removes its ReplicaSets and pods", async () => {
    h = await harness({ scenario: Scenario.cluster().with({ workloads: [{ name: "web", replicas: 2 }] }).build() })
    await h.apps.deleteNamespacedDeployment({ name: "web", namespace: "default" })
    h.sim.advance("40s")
    assert.lengthOf((await h.apps.listNamespacedReplicaSet({ namespace: "default" })).items, 0)
    assert.lengthOf(await podsOf(h, "web"), 0)
  })
})

describe("scheduler", () => {
  it("FailedScheduling with the real message and PodScheduled=False/Unschedulable", async () => {
    h = await harness({ scenario: Scenario.cluster().with(Scenario.pending.insufficientMemory({ name: "batch", request: "6Gi" })).build() })
    // 1 node cordoned, 2 without room
    await h.core.patchNode({ name: "node-1", body: { spec: { unschedulable: true } } }, smp)
    await h.apps.patchNamespacedDeployment({ name: "batch", namespace: "default", body: { spec: { replicas: 4 } } }, smp)
    h.sim.advance("10s")
    const pods = await podsOf(h, "batch")
    const pending = pods.filter((p) => !p.spec!.nodeName)
    assert.strictEqual(pods.length - pending.length, 3)
    assert.strictEqual(pending.length, 1)
    const msg = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    assert.deepInclude(pending[0]!.status!.conditions!.find((c) => c.type === "PodScheduled"), { status: "False", reason: "Unschedulable", message: msg })
    const ev = (await eventsWith(h, "FailedScheduling")).find((e) => e.involvedObject.name === pending[0]!.metadata!.name)!
    assert.strictEqual(ev.message, msg)
    assert.strictEqual(ev.type, "Warning")
    assert.strictEqual(ev.source!.component, "default-scheduler")
    // uncordon: node-1 is now schedulable but full too; the scheduler says so
    await h.core.patchNode({ name: "node-1", body: { spec: { unschedulable: false } } }, smp)
    h.sim.advance("10s")
    const again = await h.core.readNamespacedPod({ name: pending[0]!.metadata!.name!, namespace: "default" })
    assert.strictEqual(again.status!.conditions!.find((c) => c.type === "PodScheduled")!.message, "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    // a node with room appears: the pod is scheduled there
    await h.core.createNode({ body: { metadata: { name: "node-4", labels: { "kubernetes.io/hostname": "node-4" } }, status: { capacity: { cpu: "4", memory: "16Gi", pods: "110" }, allocatable: { cpu: "4", memory: "16Gi", pods: "110" } } } })
    h.sim.advance("10s")
    const bound = await h.core.readNamespacedPod({ name: pending[0]!.metadata!.name!, namespace: "default" })
    assert.strictEqual(bound.spec!.nodeName, "node-4")
    assert.isTrue((await eventsWith(h, "Scheduled")).some((e) => e.message === `Successfully assigned default/${bound.metadata!.name} to node-4`))
  })

  it("pending reasons: unbound PVC, affinity conflict, untolerated taint, insufficient cpu, missing configmap volume", async () => {
    const cases: Array<[ReturnType<typeof Scenario.pending.unboundPvc>, string, string]> = [
      [Scenario.pending.unboundPvc({ name: "db" }), "db", "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."],
      [Scenario.pending.affinityConflict({ name: "api" }), "api", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."],
      [Scenario.pending.untoleratedTaint({ name: "api" }), "api", "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."],
      [Scenario.pending.insufficientCpu({ name: "batch" }), "batch", "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."]
    ]
    for (const [part, app, msg] of cases) {
      h = await harness({ scenario: Scenario.cluster().with(part).build() })
      const p = (await podsOf(h, app))[0]!
      assert.strictEqual(p.status!.phase, "Pending")
      assert.strictEqual(p.status!.conditions!.find((c) => c.type === "PodScheduled")!.message, msg)
      await h.sim.close()
      h = undefined
    }
    h = await harness({ scenario: Scenario.cluster().with(Scenario.pending.missingConfigMapVolume({ name: "api", configMap: "api-config" })).build() })
    const p = (await podsOf(h, "api"))[0]!
    assert.isDefined(p.spec!.nodeName)
    assert.strictEqual(cs(p).state!.waiting!.reason, "ContainerCreating")
    assert.isTrue((await eventsWith(h, "FailedMount")).some((e) => e.message === 'MountVolume.SetUp failed for volume "config" : configmap "api-config" not found'))
  })
})

describe("determinism", () => {
  it("the same seed and the same advances give identical state", async () => {
    const run = async () => {
      // a fixed start: an unpinned clock starts at the wall clock, and timestamps are part of the state
      const sim = await startSim({ seed: 7, now: "2026-01-01T00:00:00Z", scenario: Scenario.cluster().with(Scenario.oom.leak({ name: "api", minutesToLimit: 5 }), Scenario.crashloop.missingEnv({ name: "worker" })).build() })
      // long enough for the leak's first OOM kill (5 min to the limit) and several crash-loop back-offs
      sim.advance("6m")
      sim.advance("1m")
      const dump = JSON.stringify([R.pods, R.replicasets, R.deployments, R.events, R.nodes].map((k) => sim.api.store.list(k)))
      await sim.close()
      return dump
    }
    const a = await run()
    const b = await run()
    assert.isAbove(a.length, 10_000)
    assert.include(a, '"reason":"OOMKilled"')
    assert.include(a, '"reason":"CrashLoopBackOff"')
    assert.strictEqual(a, b)
  })
})
