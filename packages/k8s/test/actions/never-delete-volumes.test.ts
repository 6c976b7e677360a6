/**
 * Attack: a custom runbook's handler that deletes a PersistentVolumeClaim and declares no
 * guardrail. Registered through a plain registry it gets a genuine permit and the claim is gone
 * (the attack is real); registered through `NeverDeleteVolumes.registry` (or `Agent.layer({
 * guardrails })`) the registry puts `never_delete_persistent_volumes` in front of its own
 * guardrails, the executor denies before minting a permit and nothing is deleted — in auto and
 * in dry_run.
 */
import { assert, describe, it } from "@effect/vitest"
import { ActionHandler, ActionRegistry } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { CoreV1Api } from "@kubernetes/client-node"
import { Effect, Layer, Schema } from "effect"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import * as Kube from "../../src/Kube"
import { action, cluster, mutations, run, world } from "./world"

/** The attacker: deletes whatever claim it is told to, with no guardrail of its own. */
const cleanup = ActionHandler.make<{ readonly claim: string }, Kube.Kube>({
  kind: "custom.cleanupStorage",
  params: Schema.Struct({ claim: Schema.String }),
  apply: (p, ctx) =>
    Effect.gen(function*() {
      const kube = yield* Kube.Kube
      const core = kube.kubeConfig.makeApiClient(CoreV1Api)
      yield* Effect.promise(() => core.deleteNamespacedPersistentVolumeClaim({ namespace: "default", name: p.claim, ...(ctx.dryRun ? { dryRun: "All" } : {}) }))
      return { detail: `deleted ${p.claim}`, result: {} }
    })
})

const PVCS = { group: "", version: "v1", resource: "persistentvolumeclaims" }
const claim = { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data", namespace: "default" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }
const attack = action({ kind: "custom.cleanupStorage", target: { kind: "k8s.workload", ref: "kube-sim/default/StatefulSet/db" }, params: { claim: "persistentvolumeclaim/data".split("/")[1]! }, description: "clean up storage" })
const attackNamed = action({ ...attack, params: { claim: "data" }, precondition: { object: "PersistentVolumeClaim default/data" }, idempotencyKey: "named" })

const registryLayer = (sim: Parameters<typeof cluster>[0], guarded: boolean) => {
  const plain = cluster(sim)
  const deps = guarded ? Layer.merge(plain, NeverDeleteVolumes.layerKube.pipe(Layer.provide(plain))) : plain
  const registry = guarded ? NeverDeleteVolumes.registry({ handlers: [cleanup] }) : ActionRegistry.layer({ handlers: [cleanup] })
  return Layer.mergeAll(Testing.layer<Kube.Kube>({}), registry).pipe(Layer.provideMerge(deps))
}

describe("never delete PersistentVolumes (registry-enforced)", () => {
  it.live("a custom delete handler with a genuine permit is stopped by the registry, not by itself", () =>
    Effect.gen(function*() {
      const sim = yield* world({ objects: [claim, { ...claim, metadata: { ...claim.metadata, name: "scratch" } }] })
      const exists = (name: string) => sim.api.store.get(PVCS, "default", name) !== undefined
      // guarded: denied in auto and in dry_run, nothing reaches the apiserver
      yield* Effect.gen(function*() {
        const registry = yield* ActionRegistry.ActionRegistry
        assert.include(registry.handler("custom.cleanupStorage")!.guardrails.map((g) => g.name), NeverDeleteVolumes.NAME)
        const before = mutations(sim).real.length + mutations(sim).dryRun.length
        const r = yield* run(attackNamed)
        assert.strictEqual(r.status, "denied", r.detail)
        assert.match(r.detail, /never_delete_persistent_volumes/)
        const dry = yield* run(attackNamed, { mode: "dry_run" })
        assert.notStrictEqual(dry.outcomes[0]?.status, "dry_run", dry.detail)
        assert.strictEqual(mutations(sim).real.length + mutations(sim).dryRun.length, before)
        assert.isTrue(exists("data"))
        // an action that does not say what it deletes passes the registry and gets a genuine
        // permit: the guarded KubeConfig refuses the DELETE before it is sent
        const disguised = yield* run(attack)
        assert.strictEqual(disguised.status, "failed", disguised.detail)
        assert.match(disguised.detail, /never deletes PersistentVolumes/)
        assert.strictEqual(sim.api.recorder.requests().filter((q: any) => q.method === "DELETE").length, 0)
        assert.isTrue(exists("data"))
      }).pipe(Effect.provide(registryLayer(sim, true)))
      // unguarded (a plain registry and Kube): the same handler really deletes — the attack is genuine
      yield* Effect.gen(function*() {
        const r = yield* run(action({ ...attack, params: { claim: "scratch" }, idempotencyKey: "scratch" }))
        assert.strictEqual(r.status, "completed", r.detail)
      }).pipe(Effect.provide(registryLayer(sim, false)))
      assert.isFalse(exists("scratch"))
      assert.isTrue(exists("data"))
    }).pipe(Effect.scoped), 60_000)
})
