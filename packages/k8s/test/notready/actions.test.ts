/**
 * The four node action kinds against kube-sim through the real client, run by core's executor
 * (permits, guardrails, dry_run): what they write, with which preconditions, and what they refuse.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, Executor, GuardrailStore, Plan, TargetRef } from "@byteport/core"
import { Effect } from "effect"
import * as DeleteEvictedPods from "../../src/actions/deleteEvictedPods"
import * as PruneNodeImages from "../../src/actions/pruneNodeImages"
import * as RecreateCniPod from "../../src/actions/recreateCniPod"
import * as RestartNodeUnit from "../../src/actions/restartNodeUnit"
import { mutations, nodeServices, runWithSim, Scenario, sim, type Sim } from "./harness"
import * as SimShell from "./simNodeShell"

const PODS = { group: "", version: "v1", resource: "pods" }
const target = TargetRef.make("k8s.node", "default/node-2")
let seq = 0
const exec = (action: Action.Action, mode: "auto" | "dry_run" = "auto") =>
  Effect.gen(function*() {
    const incidentId = `inc-${action.kind}-${mode}-${++seq}`
    const store = yield* GuardrailStore.GuardrailStore
    yield* store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "k8s.node.not-ready", targetKey: TargetRef.key(target) } })
    return yield* run(incidentId, action, mode)
  }).pipe(Effect.orDie)
const run = (incidentId: string, action: Action.Action, mode: "auto" | "dry_run") =>
  Executor.execute({
    incidentId,
    runbook: "k8s.node.not-ready",
    mode,
    signal: { type: "k8s.node.not_ready", target, observedAt: 0, evidence: { node: "node-2" } },
    classification: Classification.classified("resource_pressure_disk", 0.9, ["t"], {}),
    facts: {},
    plan: Plan.make("k8s.node.not-ready", "resource_pressure_disk", "t", Plan.act(action)),
    baseline: {},
    guardrails: []
  })
const evictedPod = (s: Sim, name: string, node: string) =>
  s.api.store.create(PODS, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { app: "spam" } },
    spec: { nodeName: node, containers: [{ name: "app", image: "busybox:1.36" }] },
    status: { phase: "Failed", reason: "Evicted", message: "The node was low on resource: ephemeral-storage." }
  } as any)

describe("node action kinds on kube-sim", () => {
  it.effect("k8s.deleteEvictedPods: dry_run validates with dryRun=All; auto deletes only the node's evicted pods, by uid", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("30s")
      evictedPod(s, "spam-evicted-1", "node-2")
      evictedPod(s, "spam-evicted-2", "node-2")
      evictedPod(s, "spam-evicted-3", "node-3")
      const action = Action.make({ kind: DeleteEvictedPods.KIND, target, params: { node: "node-2", reason: "disk" }, description: "d" })
      const before = mutations(s)
      const dry = yield* runWithSim(s, exec(action, "dry_run").pipe(Effect.provide(nodeServices(s))))
      assert.strictEqual(dry.status, "completed")
      const afterDry = mutations(s)
      assert.strictEqual(afterDry.real.length, before.real.length)
      assert.strictEqual(afterDry.dryRun.filter((r) => r.method === "DELETE").length - before.dryRun.filter((r) => r.method === "DELETE").length, 2)
      assert.lengthOf(s.api.store.list(PODS).filter((p: any) => p.metadata.name.startsWith("spam-evicted")), 3)
      const auto = yield* runWithSim(s, exec(action).pipe(Effect.provide(nodeServices(s))))
      assert.strictEqual(auto.status, "completed", JSON.stringify(auto.outcomes))
      assert.deepStrictEqual(s.api.store.list(PODS).filter((p: any) => p.metadata.name.startsWith("spam-evicted")).map((p: any) => p.metadata.name), ["spam-evicted-3"])
      const deletes = mutations(s).real.filter((r) => r.method === "DELETE")
      assert.isTrue(deletes.every((r) => /\/pods\/spam-evicted-[12]$/.test(r.path)), JSON.stringify(deletes.map((r) => r.path)))
      assert.isTrue(s.api.store.list({ group: "", version: "v1", resource: "events" }).some((e: any) => e.reason === "EvictedPodsDeleted" && e.involvedObject.name === "node-2"))
    }).pipe(Effect.scoped), 60_000)

  it.effect("k8s.recreateCniPod: a pod that is not the planned uid is never deleted (conflict)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "network-plugin" })).build())
      s.advance("3m")
      const calico = s.api.store.list(PODS, { namespace: "kube-system" }).find((p: any) => p.spec.nodeName === "node-2" && p.metadata.name.startsWith("calico-node")) as any
      const action = Action.make({
        kind: RecreateCniPod.KIND,
        target,
        params: { node: "node-2", plugin: "calico", namespace: "kube-system", pod: calico.metadata.name, uid: "not-the-uid", daemonSet: "calico-node", reason: "t" },
        description: "d"
      })
      const r = yield* runWithSim(s, exec(action).pipe(Effect.provide(nodeServices(s))))
      assert.strictEqual(r.status, "failed")
      assert.match(r.outcomes[0]!.detail, /not the planned pod/)
      assert.strictEqual((s.api.store.get(PODS, "kube-system", calico.metadata.name) as any)?.metadata.uid, calico.metadata.uid)
    }).pipe(Effect.scoped), 60_000)

  it.effect("k8s.restartNodeUnit: no NodeShell → failed, nothing run; dry_run runs no restart; auto restarts and records an Event", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("3m")
      const action = Action.make({ kind: RestartNodeUnit.KIND, target, params: { node: "node-2", unit: "kubelet", reason: "t" }, description: "d" })
      const none = yield* runWithSim(s, exec(action).pipe(Effect.provide(nodeServices(s))))
      assert.strictEqual(none.status, "failed")
      assert.match(none.outcomes[0]!.detail, /no NodeShell reaches node node-2/)
      const log: Array<string> = []
      const dry = yield* runWithSim(s, exec(action, "dry_run").pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))))
      assert.strictEqual(dry.status, "completed")
      assert.isFalse(log.some((l) => l.includes("restart")))
      assert.strictEqual(s.controllers.ctx.host("node-2").kubelet, "inactive")
      const other = Action.make({ kind: RestartNodeUnit.KIND, target, params: { node: "node-2", unit: "sshd", reason: "t" }, description: "d" })
      const denied = yield* runWithSim(s, exec(other).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))))
      assert.strictEqual(denied.status, "denied")
      assert.isFalse(log.some((l) => l.includes("sshd")))
      const auto = yield* runWithSim(s, exec(action).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))))
      assert.strictEqual(auto.status, "completed", JSON.stringify(auto.outcomes))
      assert.include(log, "node-2: systemctl restart kubelet")
      assert.strictEqual(s.controllers.ctx.host("node-2").kubelet, "active")
    }).pipe(Effect.scoped), 60_000)

  it.effect("k8s.pruneNodeImages: dry_run only lists; auto prunes the unused images and frees their bytes", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("30s")
      s.setNodeHost("node-2", { images: { "registry.example.com/batch/etl:0.9": 5 * 2 ** 30 } })
      const log: Array<string> = []
      const shell = SimShell.layer(s, log)
      const action = Action.make({ kind: PruneNodeImages.KIND, target, params: { node: "node-2", tool: "cri", reason: "t" }, description: "d" })
      const dry = yield* runWithSim(s, exec(action, "dry_run").pipe(Effect.provide(nodeServices(s, { shell }))))
      assert.strictEqual(dry.status, "completed")
      assert.isFalse(log.some((l) => l.includes("rmi")))
      assert.property(s.controllers.ctx.host("node-2").images, "registry.example.com/batch/etl:0.9")
      const auto = yield* runWithSim(s, exec(action).pipe(Effect.provide(nodeServices(s, { shell }))))
      assert.strictEqual(auto.status, "completed", JSON.stringify(auto.outcomes))
      assert.include(log, "node-2: crictl rmi --prune")
      assert.deepStrictEqual(s.controllers.ctx.host("node-2").images, {})
      assert.match(auto.outcomes[0]!.detail, /bytes freed/)
    }).pipe(Effect.scoped), 60_000)
})
