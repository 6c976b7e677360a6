import { assert, describe, it } from "@effect/vitest"
import { TargetRef } from "@byteport/core"
import { Effect } from "effect"
import * as Kube from "../../src/Kube"
import * as resolve from "../../src/targets/resolve"
import * as Targets from "../../src/targets/Targets"
import { deployment, kubeLayer, pod, put, sim } from "./helpers"

const owner = (kind: string, name: string) => [{ apiVersion: kind === "ReplicaSet" ? "apps/v1" : "batch/v1", kind, name, uid: `${name}-uid`, controller: true }]

describe("workload targets", () => {
  it("formats and parses each kind back", () => {
    const w = Targets.workload({ cluster: "prod-eu", namespace: "shop", kind: "Deployment", name: "web", container: "app" })
    assert.deepStrictEqual(w, {
      kind: "k8s.workload",
      ref: "prod-eu/shop/Deployment/web/app",
      parent: { kind: "k8s.workload", ref: "prod-eu/shop/Deployment/web" }
    })
    assert.deepStrictEqual(Targets.parseSync(w), { _tag: "Workload", cluster: "prod-eu", namespace: "shop", kind: "Deployment", name: "web", container: "app" })
    const p = Targets.pod({ cluster: "c", namespace: "shop", name: "web-1" })
    assert.deepStrictEqual(p, { kind: "k8s.pod", ref: "c/shop/web-1" })
    assert.deepStrictEqual(Targets.parseSync(p), { _tag: "Pod", cluster: "c", namespace: "shop", name: "web-1" })
    const n = Targets.node({ cluster: "c", name: "node-3" })
    assert.deepStrictEqual(Targets.parseSync(n), { _tag: "Node", cluster: "c", name: "node-3" })
    const whole = Targets.withoutContainer(Targets.parseSync(w) as Targets.Workload)
    assert.strictEqual(Targets.toTargetRef(whole).ref, "prod-eu/shop/Deployment/web")
  })

  it("a workload ref with a container declares its workload as parent; the parent is not part of the key", () => {
    const c = Targets.workload({ cluster: "c", namespace: "shop", kind: "StatefulSet", name: "db", container: "pg" })
    const whole = Targets.workload({ cluster: "c", namespace: "shop", kind: "StatefulSet", name: "db" })
    assert.deepStrictEqual(c.parent, whole)
    assert.strictEqual(whole.parent, undefined)
    assert.deepStrictEqual(TargetRef.ancestors(c), [whole])
    assert.isTrue(TargetRef.isWithin(c, whole))
    assert.strictEqual(TargetRef.key(c), "k8s.workload:c/shop/StatefulSet/db/pg")
    // refs from elsewhere (a journal, another package) get their parent back
    assert.deepStrictEqual(Targets.withParent({ kind: c.kind, ref: c.ref }), c)
    assert.deepStrictEqual(Targets.withParent(whole), whole)
    const p = Targets.pod({ cluster: "c", namespace: "shop", name: "db-0" })
    assert.strictEqual(Targets.withParent(p), p)
    const bad = { kind: "k8s.workload", ref: "nope" }
    assert.strictEqual(Targets.withParent(bad), bad)
  })

  it("cluster names from kubeconfigs (EKS ARNs) become valid ref segments", () => {
    const c = Kube.clusterNameOf("arn:aws:eks:eu-west-1:123456789012:cluster/prod")
    assert.strictEqual(c, "arn:aws:eks:eu-west-1:123456789012:cluster_prod")
    const ref = Targets.workload({ cluster: c, namespace: "shop", kind: "Deployment", name: "web" })
    assert.deepStrictEqual(Targets.parseSync(ref), { _tag: "Workload", cluster: c, namespace: "shop", kind: "Deployment", name: "web" })
  })

  it("rejects malformed refs with a typed error naming the problem", () => {
    const cases: Array<[TargetRef.TargetRef, string]> = [
      [{ kind: "k8s.workload", ref: "c/shop/web" }, "expected <cluster>/<namespace>/<Kind>/<name>"],
      [{ kind: "k8s.workload", ref: "c/shop/Rollout/web" }, "invalid k8s.workload ref"],
      [{ kind: "k8s.pod", ref: "c/Shop/web-1" }, "invalid k8s.pod ref"],
      [{ kind: "k8s.node", ref: "c/a/b" }, "expected <cluster>/<name>"],
      [{ kind: "db.postgres", ref: "x" }, "unknown kind"]
    ]
    for (const [ref, message] of cases) {
      const e = Targets.parseSync(ref)
      assert.instanceOf(e, Targets.InvalidTargetRef)
      assert.include((e as Targets.InvalidTargetRef).message, message)
      assert.strictEqual((e as Targets.InvalidTargetRef).ref, ref.ref)
    }
    assert.throws(() => Targets.pod({ cluster: "c", namespace: "a/b", name: "x" }))
  })

  it.live("ten OOMing replicas of one Deployment map to ONE TargetRef", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("default", "web", { replicas: 10 }))
      put(s, "replicasets", {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: "web-5d8f", namespace: "default", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "web-uid", controller: true }] },
        spec: { replicas: 10, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "i" }] } } }
      })
      for (let i = 0; i < 10; i++) put(s, "pods", pod("default", `web-5d8f-${i}`, { app: "web" }, owner("ReplicaSet", "web-5d8f")))
      const refs = yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const pods = yield* kube.listPods({ namespace: "default", labelSelector: "app=web" })
        assert.strictEqual(pods.length, 10)
        return yield* Effect.forEach(pods, (p) => resolve.workloadRefOf(p, { container: "app" }))
      }).pipe(Effect.provide(kubeLayer(s)))
      const keys = new Set(refs.map(TargetRef.key))
      assert.deepStrictEqual([...keys], ["k8s.workload:kube-sim/default/Deployment/web/app"])
    }).pipe(Effect.scoped))

  it.live("resolves StatefulSet, DaemonSet, Job → CronJob, orphan ReplicaSet and bare pods", () =>
    Effect.gen(function*() {
      const s = yield* sim()
      put(s, "replicasets", {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: "lonely", namespace: "default" },
        spec: { replicas: 1, selector: { matchLabels: { app: "l" } }, template: { metadata: { labels: { app: "l" } }, spec: { containers: [{ name: "app", image: "i" }] } } }
      })
      put(s, "jobs", {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "nightly-123", namespace: "default", ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "nightly", uid: "cj", controller: true }] },
        spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "app", image: "i" }] } } }
      })
      const cases: Array<[object, string]> = [
        [pod("default", "db-0", {}, [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: "u", controller: true }]), "default/StatefulSet/db"],
        [pod("default", "agent-x", {}, [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "agent", uid: "u", controller: true }]), "default/DaemonSet/agent"],
        [pod("default", "nightly-123-abc", {}, owner("Job", "nightly-123")), "default/CronJob/nightly"],
        [pod("default", "lonely-abc", {}, owner("ReplicaSet", "lonely")), "default/ReplicaSet/lonely"],
        [pod("default", "gone-abc", {}, owner("ReplicaSet", "gone")), "default/ReplicaSet/gone"],
        [pod("default", "bare"), "default/Pod/bare"]
      ]
      for (const [p, expected] of cases) {
        const ref = yield* resolve.workloadRefOf(p as resolve.OwnedObject).pipe(Effect.provide(kubeLayer(s)))
        assert.strictEqual(ref.ref, `kube-sim/${expected}`)
      }
    }).pipe(Effect.scoped))
})
