/**
 * Performance targets of issue 17 §3 held as request counts (never times): the OOM probes ask
 * kube-sim for one pod's PodMetrics (not the namespace's) and for the ReplicaSets a Deployment's
 * selector matches (the list request carries a labelSelector), kube-sim's recorder the witness.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { scenario } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as LastDeploy from "../../src/probes/lastDeploy"
import * as WorkingSet from "../../src/probes/workingSet"
import { sim } from "../oom/harness"

const kubeOf = (s: { kubeconfig: () => string }) => Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "30 seconds" }))

describe("probe requests (issue 17 §3)", () => {
  it.effect("workingSet: one GET of the pod's own PodMetrics, never the namespace's list", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 1, workloads: [{ name: "web", replicas: 3 }, { name: "api", replicas: 3 }] }))
      s.advance("2m")
      const pod = (s.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "default", labelSelector: "app=web" }) as Array<any>)[0]
      assert.ok(pod, "a web pod runs")
      s.api.recorder.clear()
      const ws = yield* WorkingSet.probe("default", pod.metadata.name, "web").pipe(Effect.provide(kubeOf(s)))
      assert.ok(ws.bytes !== null && ws.bytes > 0, `a working set was read: ${ws.bytes}`)
      const reqs = s.api.recorder.requests().map((r) => `${r.method} ${r.path}`)
      assert.deepStrictEqual(reqs, [`GET /apis/metrics.k8s.io/v1beta1/namespaces/default/pods/${pod.metadata.name}`])
      // no sample (a pod that does not exist): null, still one small request
      s.api.recorder.clear()
      const none = yield* WorkingSet.probe("default", "gone-0", "web").pipe(Effect.provide(kubeOf(s)))
      assert.strictEqual(none.bytes, null)
      assert.deepStrictEqual(s.api.recorder.requests().map((r) => r.path), ["/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/gone-0"])
    }).pipe(Effect.scoped), 60_000)

  it.effect("lastDeploy and the template diff list ReplicaSets by the Deployment's selector (labelSelector on the request)", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 1, workloads: [{ name: "web", replicas: 1 }, { name: "api", replicas: 1 }, { name: "batch", replicas: 1 }] }))
      s.advance("1m")
      const dep = s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", "web") as any
      const selector = LastDeploy.selectorString(dep)
      assert.ok(selector, "the Deployment has a selector")
      s.api.recorder.clear()
      const facts = yield* LastDeploy.probe("default", { kind: "Deployment", name: "web" }).pipe(Effect.provide(kubeOf(s)))
      assert.ok(facts !== null, "deploy facts found through the selected ReplicaSets")
      assert.strictEqual(facts!.revision, dep.metadata.annotations["deployment.kubernetes.io/revision"])
      const diff = yield* LastDeploy.diffProbe("default", "web").pipe(Effect.provide(kubeOf(s)))
      assert.ok(diff.current, "the current revision found")
      const rsLists = s.api.recorder.requests({ method: "GET", pathPrefix: "/apis/apps/v1/namespaces/default/replicasets" })
      assert.strictEqual(rsLists.length, 2, "one ReplicaSet list per probe")
      for (const r of rsLists) assert.strictEqual(r.query["labelSelector"], selector, "the list is selected, not the namespace's every ReplicaSet")
    }).pipe(Effect.scoped), 60_000)

  it("selectorString: matchLabels and matchExpressions; none or an unknown operator → undefined (list the namespace)", () => {
    assert.strictEqual(LastDeploy.selectorString({ spec: { selector: { matchLabels: { app: "web", tier: "fe" } } } }), "app=web,tier=fe")
    assert.strictEqual(
      LastDeploy.selectorString({ spec: { selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "env", operator: "In", values: ["a", "b"] }, { key: "x", operator: "NotIn", values: ["c"] }, { key: "y", operator: "Exists" }, { key: "z", operator: "DoesNotExist" }] } } }),
      "app=web,env in (a,b),x notin (c),y,!z"
    )
    assert.strictEqual(LastDeploy.selectorString({ spec: {} }), undefined)
    assert.strictEqual(LastDeploy.selectorString({ spec: { selector: { matchExpressions: [{ key: "k", operator: "Gt" }] } } }), undefined)
  })
})
