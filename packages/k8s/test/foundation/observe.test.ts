/**
 * `observe` of every k8s action kind, against kube-sim through the real client-node: before the
 * action runs it is NotApplied, after a real run (through the executor, with a genuine permit)
 * it is Applied, and a state that is neither is Unknown.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, type ActionHandler, Classification, Executor, GuardrailStore, Plan, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Clock, Effect, Layer } from "effect"
import { scenario, startSim } from "../../../kube-sim/src/scenario/index"
import * as CordonNode from "../../src/actions/cordonNode"
import * as DrainNode from "../../src/actions/drainNode"
import * as PatchMemoryLimit from "../../src/actions/patchMemoryLimit"
import * as RaiseHpa from "../../src/actions/raiseHpaMinReplicas"
import * as RolloutRestart from "../../src/actions/rolloutRestart"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Kube from "../../src/Kube"
import * as KubePatch from "../../src/KubePatch"
import * as Targets from "../../src/targets/Targets"

const world = Effect.acquireRelease(
  Effect.promise(async () => {
    const sim = await startSim({
      now: "2026-01-01T00:00:00Z",
      scenario: scenario({ nodes: 2, workloads: [{ name: "web", replicas: 2, memoryLimit: "256Mi", hpa: { min: 2, max: 5 } }] }),
      kubeSim: { namespaces: ["default", "kube-system"] }
    })
    sim.advance("2m")
    return sim
  }),
  (sim) => Effect.promise(() => sim.close())
)
type Sim = Effect.Success<typeof world>

const handlers = [PatchMemoryLimit.make(), RaiseHpa.make(), CordonNode.make(), DrainNode.make(), RolloutRestart.handler]

const servicesFor = (sim: Sim) => {
  const kube = Layer.orDie(Kube.layerFromString(sim.kubeconfig(), { requestTimeout: "10 seconds" }))
  const deps = Layer.mergeAll(kube, EventRecorder.layer({ instance: "observe-test" }).pipe(Layer.provide(kube)))
  return Testing.layer<Kube.Kube | EventRecorder.EventRecorder>({ handlers }).pipe(Layer.provideMerge(deps))
}

const workload = Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web", container: "web" })
let seq = 0

/** Runs one action through the executor in auto (a genuine permit, journaled). */
const run = (action: Action.Action) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const incidentId = `inc-observe-${++seq}`
    yield* Effect.orDie(store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "k8s.observe.test", targetKey: TargetRef.key(action.target) } }))
    const r = yield* Executor.execute({
      incidentId,
      runbook: "k8s.observe.test",
      mode: "auto",
      signal: { type: "test", target: action.target, observedAt: 0, evidence: {} },
      classification: Classification.classified("test", 0.9, ["test"]),
      facts: {},
      plan: Plan.make("k8s.observe.test", "test", action.description, Plan.act(action)),
      baseline: {},
      guardrails: []
    })
    return { ...r, incidentId }
  })

/** What the registered handler of the action's kind observes. */
const observe = (action: Action.Action, ctx: { readonly incidentId?: string; readonly since?: number } = {}) =>
  Effect.gen(function*() {
    const h = handlers.find((x) => x.kind === action.kind) as ActionHandler.ActionHandler<Kube.Kube | EventRecorder.EventRecorder>
    assert.isDefined(h.observe, `${action.kind} declares observe`)
    return yield* h.observe!(action, { incidentId: ctx.incidentId ?? "inc-x", since: ctx.since ?? 0 })
  })

const podsOn = (sim: Sim, node: string) =>
  (sim.api.store.list({ group: "", version: "v1", resource: "pods" }, {}) as ReadonlyArray<any>).filter((p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp)

describe("observe: every k8s action kind tells applied / not applied / unknown", () => {
  it.live("k8s.patchMemoryLimit and k8s.raiseHpaMinReplicas", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const mi = 2 ** 20
        const rv = (yield* kube.getDeployment("default", "web")).metadata?.resourceVersion ?? ""
        const bump = (from: number, to: number) =>
          Action.make({
            kind: PatchMemoryLimit.KIND,
            target: workload,
            precondition: { resourceVersion: rv },
            params: { namespace: "default", workloadKind: "Deployment", workloadName: "web", container: "web", fromBytes: from * mi, toBytes: to * mi, nodeAllocatableBytes: 8192 * mi, reason: "test", rolloutTimeoutSeconds: 1 },
            description: `bump ${from}Mi → ${to}Mi`
          })
        assert.strictEqual((yield* observe(bump(256, 384)))._tag, "NotApplied")
        const r = yield* run(bump(256, 384))
        assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
        const after = yield* observe(bump(256, 384))
        assert.strictEqual(after._tag, "Applied")
        assert.match(after.detail, /memory limit is 384Mi/)
        assert.strictEqual((yield* observe(bump(100, 200)))._tag, "Unknown")

        const hpaRv = (yield* kube.getHpa("default", "web")).metadata?.resourceVersion ?? ""
        const raise = (from: number, to: number) =>
          Action.make({
            kind: RaiseHpa.KIND,
            target: workload,
            precondition: { resourceVersion: hpaRv },
            params: { namespace: "default", hpa: "web", fromMinReplicas: from, toMinReplicas: to, maxReplicas: 5, currentReplicas: 2, reason: "test", scaleTimeoutSeconds: 1 },
            description: `raise min ${from} → ${to}`
          })
        assert.strictEqual((yield* observe(raise(2, 3)))._tag, "NotApplied")
        const h = yield* run(raise(2, 3))
        assert.strictEqual(h.status, "completed", JSON.stringify(h.outcomes))
        assert.strictEqual((yield* observe(raise(2, 3), { incidentId: h.incidentId }))._tag, "Applied")
        // minReplicas 3 set by another incident, or neither value: unknown
        assert.strictEqual((yield* observe(raise(2, 3), { incidentId: "inc-other" }))._tag, "Unknown")
        assert.strictEqual((yield* observe(raise(1, 4)))._tag, "Unknown")
        const missing = yield* observe(Action.make({ kind: RaiseHpa.KIND, target: workload, params: { namespace: "default", hpa: "nope", fromMinReplicas: 1, toMinReplicas: 2, maxReplicas: 5, currentReplicas: 1, reason: "x" }, description: "x" }))
        assert.strictEqual(missing._tag, "Unknown")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.cordonNode and k8s.drainNode", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        const webPod = (sim.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "default" }) as ReadonlyArray<any>).find((p) => p.spec?.nodeName)
        const node: string = webPod.spec.nodeName
        const nodeTarget = Targets.node({ cluster: "kube-sim", name: node })
        const cordon = Action.make({ kind: CordonNode.KIND, target: nodeTarget, params: { node, reason: "test" }, description: `cordon ${node}` })
        const drain = Action.make({ kind: DrainNode.KIND, target: nodeTarget, params: { node, ignoreDaemonSets: true, respectPodDisruptionBudgets: true, timeoutSeconds: 2 }, description: `drain ${node}` })
        assert.strictEqual((yield* observe(cordon))._tag, "NotApplied")
        assert.strictEqual((yield* observe(drain))._tag, "Unknown") // not cordoned: the drain's precondition does not hold
        const cordoned = yield* run(cordon)
        assert.strictEqual(cordoned.status, "completed")
        // applied for the incident that cordoned it (byteport.io/cordoned-by), unknown for any other
        assert.strictEqual((yield* observe(cordon, { incidentId: cordoned.incidentId }))._tag, "Applied")
        assert.strictEqual((yield* observe(cordon))._tag, "Unknown")
        assert.isAbove(podsOn(sim, node).length, 0)
        const before = yield* observe(drain)
        assert.strictEqual(before._tag, "NotApplied")
        assert.match(before.detail, /pod\(s\) to evict/)
        yield* run(drain) // evicts every pod (it may time out waiting for them to be gone: they are terminating)
        const after = yield* observe(drain)
        assert.strictEqual(after._tag, "Applied", after.detail)
        // uncordoned by someone else: unknown for the drain, not applied for the cordon
        const kube = yield* Kube.Kube
        const n = yield* kube.getNode(node)
        yield* kube.patch("Node", { name: node }, KubePatch.strategic(n.metadata?.resourceVersion ?? "", { spec: { unschedulable: false } }))
        assert.strictEqual((yield* observe(drain))._tag, "Unknown")
        assert.strictEqual((yield* observe(cordon))._tag, "NotApplied")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("k8s.rolloutRestart: restarted after the step was acquired is applied", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        const restart = Action.make({ kind: RolloutRestart.KIND, target: workload, params: { reason: "test" }, description: "restart web" })
        const since = yield* Clock.currentTimeMillis
        assert.strictEqual((yield* observe(restart, { since }))._tag, "NotApplied")
        assert.strictEqual((yield* run(restart)).status, "completed")
        const after = yield* observe(restart, { since })
        assert.strictEqual(after._tag, "Applied")
        assert.match(after.detail, /restartedAt is \d{4}-/)
        // a restart before the step was acquired does not count
        assert.strictEqual((yield* observe(restart, { since: (yield* Clock.currentTimeMillis) + 60_000 }))._tag, "NotApplied")
        const gone = Action.make({ kind: RolloutRestart.KIND, target: Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "nope" }), params: {}, description: "x" })
        assert.strictEqual((yield* observe(gone, { since }))._tag, "Unknown")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)
})
