/**
 * k8s.pending end to end on kube-sim (the real client), each class enabled alone in auto mode,
 * the effect read from cluster state: a restored ConfigMap lets the pod start; a rollback of a
 * template whose nodeSelector broke placement gives Ready pods; the proposal classes write
 * nothing; the near miss (a mixed FailedScheduling whose other node is cordoned) still classifies.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as Pending from "../../src/runbooks/k8s.pending"
import { advance, firstSignal, http, list, podsOf, ready, runWithSim, Scenario, services, sim, type Sim, writes } from "./harness"

const run = (s: Sim, o: { readonly mode?: "auto" | "dry_run" | "observe"; readonly snapshots?: boolean; readonly before?: Effect.Effect<void, never, any> } = {}) =>
  Effect.gen(function*() {
    const rb = Pending.make({ probeTimeout: "60 seconds" })
    const report: any = yield* runWithSim(s, Effect.gen(function*() {
      if (o.before) yield* o.before
      const signal = yield* firstSignal(rb, (x) => x.type === "k8s.pod.pending_too_long")
      return yield* Runbook.handle(rb, signal, { mode: o.mode ?? "auto" })
    }).pipe(Effect.provide(services(s, { snapshots: o.snapshots ?? false }))), { max: "40 minutes" })
    return { report, text: JSON.stringify(report) }
  })

const proposalOnly = (part: any, cls: string, expect: ReadonlyArray<string>, setUp?: (s: Sim) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(part).build())
    if (setUp) yield* setUp(s)
    const before = writes(s).length
    const { report, text } = yield* run(s)
    assert.strictEqual(report.classification.class, cls, text.slice(0, 2000))
    assert.strictEqual(report.status, "proposed", "a change proposed for review (an escalation at info)")
    assert.strictEqual(report.outcomes.filter((x: any) => x.kind === "propose").length, 1, "one ChangeProposal")
    assert.strictEqual(writes(s).length, before, `nothing written: ${JSON.stringify(writes(s).slice(before).map((r) => `${r.method} ${r.path}`))}`)
    for (const e of expect) assert.include(text, e)
    return { s, report }
  })

describe("k8s.pending e2e: each class, auto", () => {
  it.effect("resource_exhaustion: 16Gi fits no node → ChangeProposal (never lower requests), nothing written; signalled at 5 minutes Pending", () =>
    Effect.gen(function*() {
      const { report } = yield* proposalOnly(Scenario.pending.insufficientMemory({ name: "batch" }), "resource_exhaustion", ["Insufficient memory", "BytePort never lowers requests"])
      assert.strictEqual(report.signal.source, "k8s.pending.unscheduled")
      const waited = report.signal.observedAt - Date.parse(report.signal.evidence.pendingSince)
      assert.isAtLeast(waited, 300_000)
      assert.isBelow(waited, 300_000 + 16_000)
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: a mixed FailedScheduling whose other node is cordoned still classifies resource_exhaustion (the cordoned node is no candidate)", () =>
    Effect.gen(function*() {
      const { report } = yield* proposalOnly(Scenario.pending.insufficientMemory({ name: "batch" }), "resource_exhaustion", ["cordoned (no candidate)"], (s) =>
        Effect.gen(function*() {
          const r = yield* http(s, "PATCH", "/api/v1/nodes/node-1", { spec: { unschedulable: true } }, "application/merge-patch+json")
          assert.strictEqual(r.status, 200)
          s.advance("1m")
        }))
      assert.match(report.facts.scheduling.value.message, /unschedulable/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("storage_constraints: an unbound PVC → ChangeProposal (never touch storage), nothing written", () =>
    proposalOnly(Scenario.pending.unboundPvc({ name: "db" }), "storage_constraints", ["PersistentVolumeClaim data", "BytePort never creates, binds or deletes storage"]).pipe(Effect.asVoid, Effect.scoped), 120_000)

  it.effect("affinity_conflict: a nodeSelector no node matches, never changed by a rollout → ChangeProposal (never relax affinity), nothing written", () =>
    proposalOnly(Scenario.pending.affinityConflict({ name: "api" }), "affinity_conflict", ["nodeSelector disktype=ssd", "BytePort never relaxes affinity or adds tolerations"]).pipe(Effect.asVoid, Effect.scoped), 120_000)

  it.effect("affinity_conflict: an untolerated taint on every node → ChangeProposal, no toleration added", () =>
    proposalOnly(Scenario.pending.untoleratedTaint({ name: "api" }), "affinity_conflict", ["untolerated taint dedicated=gpu:NoSchedule"]).pipe(Effect.asVoid, Effect.scoped), 120_000)

  it.effect("affinity_conflict from a rollout: revision 2 added a nodeSelector (Recreate) → rolled back to revision 1, pods Ready, held 2 minutes", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ workloads: [{ name: "api", replicas: 2, image: "registry.example.com/shop/api:1.4.2", cpuRequest: "100m", strategy: { type: "Recreate" }, changeCause: "deploy api 1.4.2 (commit 3f9c2ab)" }] }).build())
      assert.strictEqual(podsOf(s, "api").filter(ready).length, 2)
      const r = yield* http(s, "PATCH", "/apis/apps/v1/namespaces/default/deployments/api", {
        metadata: { annotations: { "kubernetes.io/change-cause": "pin api to ssd nodes (commit 5e5e5e5)" } },
        spec: { template: { spec: { nodeSelector: { disktype: "ssd" } } } }
      }, "application/strategic-merge-patch+json")
      assert.strictEqual(r.status, 200)
      s.advance("30s")
      assert.isTrue(podsOf(s, "api").every((p) => p.status.phase === "Pending"), "Recreate: the new pods cannot be placed")
      const before = writes(s).length
      const { report, text } = yield* run(s)
      assert.strictEqual(report.classification.class, "affinity_conflict", text.slice(0, 1500))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1)))
      assert.include(report.plan?.summary ?? text, "kubectl rollout undo deployment/api -n default --to-revision=1")
      const patches = writes(s).slice(before).filter((x) => x.method === "PATCH" && x.path.endsWith("/deployments/api"))
      assert.strictEqual(patches.length, 1, "one rollback patch")
      const d = list(s, "deployments", "apps").find((x) => x.metadata.name === "api")
      assert.isUndefined(d.spec.template.spec.nodeSelector)
      assert.strictEqual(d.status.readyReplicas, 2)
      assert.isTrue(podsOf(s, "api").length === 2 && podsOf(s, "api").every(ready))
      assert.strictEqual(report.verdicts.at(-1).poll.window.forMs, 120_000)
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_dependencies: a deleted ConfigMap with a snapshot → restored (create only), the stuck pod starts", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3, namespaces: ["default", "byteport"] } as any).with({
        objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-config", namespace: "default", labels: { team: "shop" } }, data: { "app.yaml": "port: 8080\n" } }],
        workloads: [{ name: "api", replicas: 1, image: "registry.example.com/shop/api:1.4.2", volumes: [{ name: "config", configMap: { name: "api-config" } }], volumeMounts: [{ name: "config", mountPath: "/etc/api" }] }]
      }).build())
      assert.isTrue(podsOf(s, "api").every(ready))
      const before = writes(s).length
      const takeSnapshot = Effect.gen(function*() {
        const snaps = yield* ConfigMapSnapshots.ConfigMapSnapshots
        assert.strictEqual((yield* Effect.orDie(snaps.take("default", "api-config")))._tag, "Taken")
        assert.strictEqual((yield* http(s, "DELETE", "/api/v1/namespaces/default/configmaps/api-config")).status, 200)
        const pod = podsOf(s, "api")[0]
        assert.strictEqual((yield* http(s, "DELETE", `/api/v1/namespaces/default/pods/${pod.metadata.name}`)).status, 200)
        yield* advance(s, "1 minute")
      }) as Effect.Effect<void, never, any>
      const { report, text } = yield* run(s, { snapshots: true, before: takeSnapshot })
      assert.strictEqual(report.classification.class, "missing_dependencies", text.slice(0, 1500))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1)))
      const cm = list(s, "configmaps").find((x) => x.metadata.name === "api-config" && x.metadata.namespace === "default")
      assert.deepStrictEqual(cm.data, { "app.yaml": "port: 8080\n" })
      assert.match(cm.metadata.labels["byteport.io/restored-from"], /api-config/)
      assert.isTrue(podsOf(s, "api").length === 1 && podsOf(s, "api").every(ready), "the pod starts")
      const created = writes(s).slice(before).filter((x) => x.method === "POST" && x.path === "/api/v1/namespaces/default/configmaps")
      assert.strictEqual(created.length, 1, "create only")
    }).pipe(Effect.scoped), 120_000)

  it.effect("missing_dependencies without a snapshot (snapshots off, the default) → the restore is denied, escalated, nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.pending.missingConfigMapVolume({ name: "api" })).build())
      const before = writes(s).length
      const { report, text } = yield* run(s)
      assert.strictEqual(report.classification.class, "missing_dependencies")
      assert.strictEqual(report.status, "escalated")
      // bound but stuck in ContainerCreating: signalled at 5 minutes (inclusive), not before
      assert.strictEqual(report.signal.source, "k8s.pending.stuck-creating")
      const waited = report.signal.observedAt - Date.parse(report.signal.evidence.pendingSince)
      assert.isAtLeast(waited, 300_000)
      assert.isBelow(waited, 300_000 + 16_000)
      assert.include(text, "never_restore_without_snapshot")
      assert.include(text, "re-create ConfigMap api-config from your manifests")
      assert.strictEqual(writes(s).length, before)
    }).pipe(Effect.scoped), 120_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: the rollback writes only with dryRun=All`, () =>
      Effect.gen(function*() {
        const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ workloads: [{ name: "api", replicas: 1, image: "registry.example.com/shop/api:1.4.2", strategy: { type: "Recreate" } }] }).build())
        yield* http(s, "PATCH", "/apis/apps/v1/namespaces/default/deployments/api", { spec: { template: { spec: { nodeSelector: { disktype: "ssd" } } } } }, "application/strategic-merge-patch+json")
        s.advance("30s")
        const before = writes(s).length
        const beforeDry = s.api.recorder.requests().filter((r) => r.dryRun).length
        const { report } = yield* run(s, { mode })
        assert.strictEqual(report.classification.class, "affinity_conflict")
        assert.strictEqual(writes(s).length, before, "no persisted write")
        const dry = s.api.recorder.requests().filter((r) => r.dryRun).slice(beforeDry)
        if (mode === "dry_run") {
          assert.strictEqual(report.status, "dry_run")
          assert.isTrue(dry.some((r) => r.path.endsWith("/deployments/api") && r.method === "PATCH"), "the apiserver validated the rollback")
        } else {
          assert.strictEqual(report.status, "observed")
          assert.strictEqual(dry.length, 0)
        }
      }).pipe(Effect.scoped), 120_000)
  }
})
