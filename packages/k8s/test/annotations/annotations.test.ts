import { assert, describe, it } from "@effect/vitest"
import { Annotations, Audit, Guardrail, GuardrailStore, MemoryStore, Redactor } from "@byteport/core"
import { Keys } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { Effect, Layer } from "effect"
import * as K8sAnnotations from "../../src/annotations/K8sAnnotations"
import { deployment, kubeLayer, pod, put, sim } from "../foundation/helpers"

const KEY = "byteport.io/auto_remediate"

const statefulSet = (namespace: string, name: string, annotations: Record<string, string>) => ({
  ...deployment(namespace, name, { replicas: 0, annotations }),
  kind: "StatefulSet",
  spec: { ...deployment(namespace, name).spec, replicas: 0, serviceName: name }
})

const replicaSet = (namespace: string, name: string, deploymentName: string) => ({
  apiVersion: "apps/v1",
  kind: "ReplicaSet",
  metadata: { name, namespace, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: deploymentName, uid: `${deploymentName}-uid`, controller: true }] },
  spec: { replicas: 0, selector: { matchLabels: { app: deploymentName } }, template: deployment(namespace, deploymentName).spec.template }
})

/** A pod on a node the simulator does not run (so its status stays as written), with an IP. */
const podAt = (s: KubeSimInstance, namespace: string, name: string, ip: string, owner?: { kind: string; name: string }) => {
  const p = pod(namespace, name, {}, owner ? [{ apiVersion: "apps/v1", kind: owner.kind, name: owner.name, uid: `${owner.name}-uid`, controller: true }] : undefined)
  put(s, "pods", { ...p, spec: { ...p.spec, nodeName: "ghost-node" } })
  s.store.mutate(Keys.pods, namespace, name, (o) => {
    ;(o as { status?: unknown }).status = { phase: "Running", podIP: ip, podIPs: [{ ip }] }
  })
}

const ctxOf = (params: Record<string, string>): Guardrail.GuardrailContext => {
  const target = { kind: "db.postgres", ref: "orders" }
  return {
    incidentId: "inc-a",
    runbook: "db.connections.saturation",
    mode: "auto",
    signal: { type: "x", target, observedAt: 0, evidence: {} },
    classification: { _tag: "Classified", class: "connection_leak", confidence: 0.8 },
    facts: {},
    plan: {},
    planDigest: "d",
    action: { kind: "pg.terminateBackend", target, params, idempotencyKey: "k", description: "kill", timeout: 1000 },
    stepPath: "0",
    now: 0,
    baseline: {}
  } as unknown as Guardrail.GuardrailContext
}

const auditLayer = Audit.layerMemory.pipe(Layer.provide(Redactor.layer()))
const sourceOf = (s: KubeSimInstance) => Layer.merge(K8sAnnotations.layer.pipe(Layer.provide(kubeLayer(s))), auditLayer)

const withStore = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.flatMap(MemoryStore.make(), (store) => Effect.provideService(self, GuardrailStore.GuardrailStore, store))
const reasonOf = (r: { readonly _tag: string }) => ("reason" in r ? String((r as { reason: string }).reason) : "")

describe("K8sAnnotations (kube-sim, real client-node)", () => {
  it.live("an object's annotations are read from the API server at each acquire; a changed or removed value denies; reads audited", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim()
      put(s, "statefulsets", statefulSet("db", "orders-pg", { [KEY]: "db_terminate" }))
      const gate = Guardrail.requireAnnotation(KEY, "db_terminate", { live: Annotations.ofObject({ kind: "StatefulSet", namespace: "db", name: "orders-pg" }) })
      const ctx = ctxOf({})
      yield* withStore(Effect.gen(function*() {
        const path = "/apis/apps/v1/namespaces/db/statefulsets/orders-pg"
        const before = s.recorder.count({ path })
        assert.strictEqual((yield* gate.acquire(ctx)).result._tag, "Pass")
        assert.strictEqual((yield* gate.acquire(ctx)).result._tag, "Pass")
        assert.strictEqual(s.recorder.count({ path }) - before, 2, "one GET per acquire: never cached")
        s.store.mutate(Keys.statefulsets, "db", "orders-pg", (o) => {
          o.metadata.annotations = { [KEY]: "true" }
        })
        const wrong = (yield* gate.acquire(ctx)).result
        assert.strictEqual(wrong._tag, "Deny")
        assert.include(reasonOf(wrong), 'has byteport.io/auto_remediate: "true"')
        s.store.mutate(Keys.statefulsets, "db", "orders-pg", (o) => {
          o.metadata.annotations = {}
        })
        assert.include(reasonOf((yield* gate.acquire(ctx)).result), "lacks the annotation")
        s.store.delete(Keys.statefulsets, "db", "orders-pg")
        assert.include(reasonOf((yield* gate.acquire(ctx)).result), "annotations are unknown")
        // an unsupported kind is unknown, not an error
        const crd = Guardrail.requireAnnotation(KEY, "db_terminate", { live: Annotations.ofObject({ kind: "Cluster", namespace: "db", name: "orders" }) })
        assert.strictEqual((yield* crd.check(ctx))._tag, "Deny")
        const lines = (yield* (yield* Audit.Audit).entries).filter((l) => l.event === "annotations.read")
        assert.strictEqual(lines.length, 6)
        assert.deepStrictEqual(lines.map((l) => (l.data as { found: boolean }).found), [true, true, true, true, false, false])
        assert.strictEqual((lines[0]!.data as { source: string; object: string }).source, "kubernetes")
        assert.strictEqual((lines[0]!.data as { object: string }).object, "StatefulSet/db/orders-pg")
      }).pipe(Effect.provide(sourceOf(s))))
    })))

  it.live("a client address → its Pod → the owning workload (Pod → ReplicaSet → Deployment) → that workload's annotations", () =>
    Effect.scoped(Effect.gen(function*() {
      const s = yield* sim()
      put(s, "deployments", deployment("shop", "web", { replicas: 0, annotations: { [KEY]: "restart,db_terminate" } }))
      put(s, "replicasets", replicaSet("shop", "web-5d8f", "web"))
      podAt(s, "shop", "web-5d8f-abcde", "10.244.9.7", { kind: "ReplicaSet", name: "web-5d8f" })
      put(s, "deployments", deployment("shop", "batch", { replicas: 0 }))
      put(s, "replicasets", replicaSet("shop", "batch-77aa", "batch"))
      podAt(s, "shop", "batch-77aa-xyz", "10.244.9.8", { kind: "ReplicaSet", name: "batch-77aa" })
      podAt(s, "shop", "bare", "10.244.9.9")
      const gate = Guardrail.requireAnnotation(KEY, "db_terminate", {
        live: Annotations.ofClient((ctx) => ({ address: ctx.action.params["client_addr"] as string }))
      })
      yield* withStore(Effect.gen(function*() {
        const source = yield* Annotations.AnnotationSource
        assert.deepStrictEqual(yield* source.workloadOf({ address: "10.244.9.7" }), { kind: "Deployment", namespace: "shop", name: "web" })
        assert.deepStrictEqual(yield* source.workloadOf({ address: "10.244.9.9" }), { kind: "Pod", namespace: "shop", name: "bare" })
        assert.strictEqual(yield* source.workloadOf({ address: "10.1.1.1" }), undefined)
        assert.strictEqual((yield* gate.acquire(ctxOf({ client_addr: "10.244.9.7" }))).result._tag, "Pass")
        const other = (yield* gate.acquire(ctxOf({ client_addr: "10.244.9.8" }))).result
        assert.include(reasonOf(other), "lacks the annotation")
        assert.include(reasonOf((yield* gate.acquire(ctxOf({ client_addr: "10.1.1.1" }))).result), "annotations are unknown")
        // the pod goes away: its address no longer belongs to the workload
        s.store.delete(Keys.pods, "shop", "web-5d8f-abcde")
        assert.strictEqual((yield* gate.acquire(ctxOf({ client_addr: "10.244.9.7" }))).result._tag, "Deny")
        const clients = (yield* (yield* Audit.Audit).entries).filter((l) => l.event === "annotations.client")
        assert.deepStrictEqual(clients.map((l) => (l.data as { workload: string | null }).workload), ["Deployment/shop/web", "Deployment/shop/batch", null, null])
      }).pipe(Effect.provide(sourceOf(s))))
    })))
})
