import { GuardrailStore, MemoryStore, TargetRef } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as Leases from "../../src/targets/leases"
import * as Targets from "../../src/targets/Targets"

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)
const controlled = fc.constantFrom("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob") as fc.Arbitrary<Targets.WorkloadKind>
const workload = (kind: fc.Arbitrary<Targets.WorkloadKind>) =>
  fc.record({ cluster: name, namespace: name, kind, name, container: fc.option(name, { nil: undefined }) }).map((w) =>
    Targets.workload(w.container === undefined ? { cluster: w.cluster, namespace: w.namespace, kind: w.kind, name: w.name } : w)
  )
const anyKind = fc.oneof(fc.constantFrom(...Leases.POD_MUTATING_KINDS), fc.constantFrom("k8s.restoreConfigMap", "k8s.captureHeapProfile", "k8s.cordonNode"))

const guard = (kind: string, target: TargetRef.TargetRef) =>
  Leases.neverTouchBarePod.check({
    incidentId: "i", runbook: "r", mode: "auto", signal: { type: "t", target, observedAt: 0, source: "s", evidence: {} },
    classification: { _tag: "Unclassified" } as any, facts: {}, plan: {} as any, planDigest: "d",
    action: { kind, target, params: {}, idempotencyKey: "k", precondition: {}, timeout: 1000, description: "x" },
    stepPath: "0", now: 0, baseline: {}
  } as any).pipe(Effect.provide(MemoryStore.layer))

describe("lease targets: bumps and probe changes lease the container, rollbacks and restarts the workload", () => {
  it("property: container kinds lease the container under its workload; workload kinds the whole workload", () =>
    fc.assert(fc.property(workload(controlled), name, (target, c) => {
      const t = Targets.parseSync(target) as Targets.Workload
      const whole = Targets.toTargetRef(Targets.withoutContainer(t))
      for (const kind of Leases.WORKLOAD_KINDS) {
        const l = Leases.leaseTarget(kind, target)
        assert.isTrue(TargetRef.equals(l, whole))
        assert.isUndefined(l.parent)
      }
      for (const kind of Leases.CONTAINER_KINDS) {
        const l = Leases.leaseTarget(kind, target, c)
        assert.strictEqual(l.ref, `${whole.ref}/${c}`)
        assert.isTrue(TargetRef.equals(l.parent!, whole), "the container's lease has the workload as parent: a rollback's lease excludes it")
        const own = Leases.leaseTarget(kind, target)
        assert.strictEqual(own.ref, t.container === undefined ? whole.ref : `${whole.ref}/${t.container}`)
      }
    }))
  )
  it("unknown kinds and non-workload targets are left as they are", () => {
    const node = Targets.node({ cluster: "c", name: "node-1" })
    assert.deepStrictEqual(Leases.leaseTarget("k8s.rollbackDeployment", node), node)
    const w = Targets.workload({ cluster: "c", namespace: "ns", kind: "Deployment", name: "api", container: "app" })
    assert.deepStrictEqual(Leases.leaseTarget("custom.kind", w), w)
    assert.strictEqual(Leases.scopeOf("k8s.patchMemoryLimit"), "container")
    assert.strictEqual(Leases.scopeOf("k8s.rollbackDeployment"), "workload")
  })
})

describe("never_touch_bare_pod: bare pods are never patched, restarted or deleted", () => {
  it.effect("property: every pod-mutating kind on a bare pod is denied, naming the guardrail's reason", () =>
    Effect.promise(() => fc.assert(fc.asyncProperty(workload(fc.constant("Pod")), fc.constantFrom(...Leases.POD_MUTATING_KINDS), async (target, kind) => {
      assert.isTrue(Leases.isBarePod(target))
      const r = await Effect.runPromise(guard(kind, target))
      assert.strictEqual(r._tag, "Deny")
      if (r._tag === "Deny") assert.match(r.reason, /bare pod/)
    }))))
  it.effect("property: controlled workloads, and kinds that touch no pod, pass", () =>
    Effect.promise(() => fc.assert(fc.asyncProperty(fc.oneof(workload(controlled), workload(fc.constant("Pod"))), anyKind, async (target, kind) => {
      const r = await Effect.runPromise(guard(kind, target))
      assert.strictEqual(r._tag === "Deny", Leases.isBarePod(target) && Leases.POD_MUTATING_KINDS.has(kind))
    }))))
  it("the guardrail's name and the escalation text", () => {
    assert.strictEqual(Leases.neverTouchBarePod.name, Leases.NEVER_BARE_POD)
    assert.match(Leases.barePodEscalation(Targets.workload({ cluster: "c", namespace: "ns", kind: "Pod", name: "debug" })), /never patches, restarts or deletes/)
  })
})

describe("leases through a real GuardrailStore: a rollback's workload lease excludes the bump's container lease", () => {
  const acquire = (target: TargetRef.TargetRef, holder: string) =>
    Effect.flatMap(GuardrailStore.GuardrailStore, (store) =>
      store.acquireLease({ key: TargetRef.key(target), holder, ttlMs: 60_000, now: 0, parents: TargetRef.ancestors(target).map(TargetRef.key) }))
  const w = Targets.workload({ cluster: "c", namespace: "shop", kind: "Deployment", name: "api", container: "app" })
  it.effect("workload held → container denied; container held → workload denied; two containers coexist", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* acquire(Leases.leaseTarget("k8s.rollbackDeployment", w), "failed-rollout"))._tag, "Acquired")
      assert.strictEqual((yield* acquire(Leases.leaseTarget("k8s.patchMemoryLimit", w), "pod-runbook"))._tag, "Held")
    }).pipe(Effect.provide(MemoryStore.layer)))
  it.effect("the other way round, and sibling containers", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* acquire(Leases.leaseTarget("k8s.loosenProbe", w), "pod-runbook"))._tag, "Acquired")
      assert.strictEqual((yield* acquire(Leases.leaseTarget("k8s.patchMemoryLimit", w, "sidecar"), "other"))._tag, "Acquired")
      assert.strictEqual((yield* acquire(Leases.leaseTarget("k8s.rolloutRestart", w), "failed-rollout"))._tag, "Held")
    }).pipe(Effect.provide(MemoryStore.layer)))
})
