import { assert, describe, it } from "@effect/vitest"
import { HandOffs, IncidentBus, Runbook, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Fiber, Layer } from "effect"
// kube-sim's controllers half is reached by path (not in its package entry point yet).
import { scenario, startSim } from "../../../kube-sim/src/scenario/index"
import * as RolloutRestart from "../../src/actions/rolloutRestart"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Kube from "../../src/Kube"
import * as Restarter from "../../src/restarter/Restarter"
import * as LeaseStore from "../../src/stores/LeaseStore"
import { until } from "./helpers"

const world = Effect.acquireRelease(
  Effect.promise(async () => {
    const sim = await startSim({
      now: "2026-01-01T00:00:00Z",
      scenario: scenario({
        nodes: 2,
        workloads: [
          { name: "web", replicas: 2 },
          { name: "vault", replicas: 1, annotations: { [RolloutRestart.PROTECTED]: "true" } }
        ]
      }),
      kubeSim: { namespaces: ["default", "kube-system", "byteport"] }
    })
    sim.advance("2m")
    return sim
  }),
  (sim) => Effect.promise(() => sim.close())
)

type Sim = Effect.Success<typeof world>

/** Kube + EventRecorder + the core test services with the restart handler and the Lease store. */
const servicesFor = (sim: Sim) => {
  const kube = Layer.orDie(Kube.layerFromString(sim.kubeconfig()))
  const deps = Layer.mergeAll(kube, EventRecorder.layer({ instance: "agent-test" }).pipe(Layer.provide(kube)))
  return Testing.layer<Kube.Kube | EventRecorder.EventRecorder>({
    handlers: [RolloutRestart.handler],
    store: LeaseStore.layer({ namespace: "byteport" }).pipe(Layer.provide(kube))
  }).pipe(Layer.provideMerge(deps))
}

const replicaSetsOf = (sim: Sim, app: string) =>
  sim.api.store.list({ group: "apps", version: "v1", resource: "replicasets" }, { namespace: "default" }).filter((rs) => rs.metadata.name.startsWith(`${app}-`))

const template = (sim: Sim, name: string) =>
  (sim.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name) as any).spec.template.metadata.annotations ?? {}

const immediately = Verifier.at(["0 millis", "200 millis", "1 second"])

describe("Restarter: rollout restart hand-offs", () => {
  it.live("a hand-off on the bus restarts the deployment (new ReplicaSet, Event); a second one is denied by the action's rate limit", () =>
    Effect.gen(function*() {
      const sim = yield* world
      // a short lease cooldown, so the second request reaches the guardrails instead of being a duplicate
      const runbook = Restarter.runbook({ defaultMode: "auto", verifySchedule: immediately, cooldown: "1 millis" })
      yield* Effect.gen(function*() {
        const bus = yield* IncidentBus.IncidentBus
        const results: Array<Runbook.HandleResult> = []
        const fiber = yield* Effect.forkChild(Runbook.run(runbook, { resumeOpen: false, onResult: (r) => Effect.sync(() => void results.push(r)) }))
        yield* Effect.sleep("500 millis") // let the loop subscribe to the bus (PubSub has no replay) on a loaded machine
        const rsBefore = replicaSetsOf(sim, "web").length
        assert.strictEqual(template(sim, "web")[RolloutRestart.RESTARTED_AT], undefined)
        const ask = (n: number) =>
          bus.publish(
            Restarter.request(
              { cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" },
              { reason: `connection leak after deploy (#${n})`, parent: { incidentId: `db-inc-${n}`, runbook: "db.leak-after-deploy", hop: 1 } }
            )
          )
        yield* ask(1)
        yield* until(() => results.length === 1, 20_000, "first hand-off handled")
        const first = results[0]!
        if (Runbook.isAwaitingApproval(first)) return assert.fail("no approval expected")
        assert.strictEqual(first.status, "recovered", JSON.stringify(first.escalation ?? first.outcomes))
        assert.deepStrictEqual(first.parent, { incidentId: "db-inc-1", runbook: "db.leak-after-deploy", hop: 1 })
        // the template annotation changed, and the Deployment controller rolled a new ReplicaSet
        const restartedAt = template(sim, "web")[RolloutRestart.RESTARTED_AT]
        assert.isString(restartedAt)
        yield* until(() => replicaSetsOf(sim, "web").length === rsBefore + 1, 15_000, "a new ReplicaSet")
        const patches = sim.api.recorder.requests({ method: "PATCH", path: "/apis/apps/v1/namespaces/default/deployments/web" })
        assert.strictEqual(patches.length, 1)
        assert.strictEqual(patches[0]!.contentType, "application/strategic-merge-patch+json")
        assert.isString(JSON.parse(patches[0]!.body).metadata.resourceVersion, "the patch carries the planned resourceVersion")
        assert.strictEqual(patches[0]!.dryRun, false)
        // the Event on the Deployment
        const kube = yield* Kube.Kube
        const events = yield* kube.listEvents({ namespace: "default", fieldSelector: "involvedObject.name=web,reason=RolloutRestarted" })
        assert.strictEqual(events.length, 1)
        assert.include(events[0]!.message, "connection leak after deploy (#1)")
        assert.strictEqual(events[0]!.source?.component, "byteport")
        // a second request within 30 minutes: the action kind's rate limit denies it
        yield* ask(2)
        yield* until(() => results.length === 2, 20_000, "second hand-off handled")
        const second = results[1]!
        if (Runbook.isAwaitingApproval(second)) return assert.fail("no approval expected")
        assert.strictEqual(second.status, "escalated")
        assert.include(JSON.stringify(second.decisions), "rollout_restart_per_workload")
        assert.strictEqual(sim.api.recorder.count({ method: "PATCH", path: "/apis/apps/v1/namespaces/default/deployments/web" }), 1, "no second patch")
        assert.strictEqual(template(sim, "web")[RolloutRestart.RESTARTED_AT], restartedAt)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("never restarts a protected workload; dry_run sends dryRun=All and records no Event", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        const auto = Restarter.runbook({ defaultMode: "auto", verifySchedule: immediately, cooldown: "1 millis" })
        const denied = yield* Runbook.handle(auto, Restarter.request({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "vault" }, { reason: "x" }))
        if (Runbook.isAwaitingApproval(denied)) return assert.fail("no approval expected")
        assert.strictEqual(denied.status, "escalated")
        assert.include(JSON.stringify(denied.decisions), "never_protected_workload")
        assert.strictEqual(sim.api.recorder.count({ method: "PATCH" }), 0)

        const dry = Restarter.runbook({ defaultMode: "dry_run", cooldown: "1 millis" })
        const r = yield* Runbook.handle(dry, Restarter.request({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" }))
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        assert.strictEqual(r.status, "dry_run")
        const patches = sim.api.recorder.requests({ method: "PATCH" })
        assert.strictEqual(patches.length, 1)
        assert.strictEqual(patches[0]!.dryRun, true)
        assert.strictEqual(template(sim, "web")[RolloutRestart.RESTARTED_AT], undefined, "nothing persisted")
        assert.strictEqual(sim.api.recorder.count({ method: "POST", pathPrefix: "/api/v1/namespaces/default/events" }), 0)
        // dry_run spent no budget: an auto restart right after is allowed
        const real = yield* Runbook.handle(auto, Restarter.request({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" }))
        if (Runbook.isAwaitingApproval(real)) return assert.fail("no approval expected")
        assert.strictEqual(real.status, "recovered")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("the signal type and evidence Schema come from core HandOffs; a request whose evidence fails it is never acted on", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        assert.strictEqual(Restarter.SIGNAL_TYPE, HandOffs.RolloutRestartRequested.type)
        const auto = Restarter.runbook({ defaultMode: "auto", verifySchedule: immediately, cooldown: "1 millis" })
        const good = Restarter.request({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" }, { reason: "leak" })
        assert.deepStrictEqual(yield* HandOffs.decode(HandOffs.RolloutRestartRequested, good), { reason: "leak" })
        const bad = { ...good, evidence: { reason: 42 } }
        const r = yield* Runbook.handle(auto, bad)
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation!.reason, /request unknown \(request: InvalidHandOff: .*reason/s)
        assert.strictEqual(sim.api.recorder.count({ method: "PATCH" }), 0)
        // and the bus refuses to carry it at all
        const bus = yield* IncidentBus.IncidentBus
        const refused = yield* Effect.flip(bus.publish(bad))
        assert.strictEqual(refused._tag, "InvalidHandOff")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)

  it.live("a stale plan (the workload changed since diagnosis) fails as a conflict, without writing", () =>
    Effect.gen(function*() {
      const sim = yield* world
      yield* Effect.gen(function*() {
        const kube = yield* Kube.Kube
        const d = yield* kube.getDeployment("default", "web")
        const handler = RolloutRestart.handler
        // the runbook's plan, rewritten to carry an outdated resourceVersion
        const plan = Restarter.runbook({ defaultMode: "auto", verifySchedule: immediately })
        const stale = { ...plan, remediate: (c: any, f: any, s: any) => Effect.map(plan.remediate(c, f, s), (p) => JSON.parse(JSON.stringify(p).replace(`"${d.metadata!.resourceVersion}"`, "\"1\""))) }
        const r = yield* Runbook.handle(stale, Restarter.request({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "web" }))
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        assert.strictEqual(r.status, "escalated")
        assert.include(JSON.stringify(r.outcomes), "changed since the plan")
        assert.strictEqual(template(sim, "web")[RolloutRestart.RESTARTED_AT], undefined)
        assert.strictEqual(handler.kind, "k8s.rolloutRestart")
      }).pipe(Effect.provide(servicesFor(sim)))
    }).pipe(Effect.scoped), 60_000)
})
