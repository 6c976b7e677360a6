/**
 * k8s.restart-loop.container, dependency_failure with an owner in the catalog (kube-sim, the real
 * client, virtual time, auto mode): a small runbook registered in a core `Catalog` owns
 * `dependency.unavailable` on the Service's workload (`Runbook.owns`, `Catalog.owners`), receives
 * the awaited hand-off through `Catalog.run` and makes the dependency healthy itself — it scales
 * the Service's Deployment up through the API, its pods turn Ready, the EndpointSlice gets ready
 * endpoints — and verifies that. The awaited hand-off completes, then exactly one `k8s.restartPod`
 * of the held pod; read back from the cluster (the pod replaced and Ready, one pod DELETE).
 * Near miss: the owner fails (the API refuses its scale-up): the hand-off reports an escalated
 * child, the parent escalates, nothing is restarted.
 */
import { assert, describe, it } from "@effect/vitest"
import { ActionHandler, Catalog, Classifier, Diagnoser, HandOffs, IncidentBus, MemoryStore, Notifier, Plan, Runbook, Action, Verdict } from "@byteport/core"
import { Clock, Effect, Fiber, Layer, Schema } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import { Kube } from "../../src/Kube"
import * as KubePatch from "../../src/KubePatch"
import * as Dependency from "../../src/probes/dependency"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import * as Targets from "../../src/targets/Targets"
import { clusterLayer, fast, firstSignal, handlers, mutations, podsOf, ready, runWithSim, Scenario, sim, type Sim } from "./harness"

const SLICES = { group: "discovery.k8s.io", version: "v1", resource: "endpointslices" }
const readyEndpoints = (s: Sim, service = "postgres") =>
  Dependency.endpointsOf(s.api.store.list(SLICES, { namespace: "default" }) as ReadonlyArray<Dependency.EndpointSliceLike>, { name: service, namespace: "default" }).ready
const podDeletes = (s: Sim) => mutations(s).real.filter((r) => r.method === "DELETE" && r.path.includes("/pods/"))
const postgres: Dependency.CheckParams = { namespace: "default", service: "postgres", host: "postgres", port: 5432 }

/** The owner's one action: scale the dependency's Deployment up to 1 replica (conditional on its resourceVersion). */
const SCALE = "test.scaleDependencyUp"
const scaleUp = ActionHandler.make<{ readonly namespace: string; readonly name: string }, Kube>({
  kind: SCALE,
  params: Schema.Struct({ namespace: Schema.String, name: Schema.String }),
  apply: (p) =>
    Effect.gen(function*() {
      const kube = yield* Kube
      const fail = (e: { readonly message: string }) => new ActionHandler.ActionFailed({ kind: SCALE, message: e.message })
      const d = yield* kube.getDeployment(p.namespace, p.name).pipe(Effect.mapError(fail))
      yield* kube.patch("Deployment", { namespace: p.namespace, name: p.name }, KubePatch.merge(d.metadata?.resourceVersion ?? "", { spec: { replicas: 1 } })).pipe(Effect.mapError(fail))
      return { detail: `scaled ${p.namespace}/${p.name} to 1 replica`, result: { replicas: 1 } }
    }),
  observe: (p) =>
    Effect.gen(function*() {
      const d = yield* (yield* Kube).getDeployment(p.namespace, p.name)
      return (d.spec?.replicas ?? 0) >= 1 ? ActionHandler.applied("scaled up") : ActionHandler.notApplied("still 0 replicas")
    })
})

/** The owner of `dependency.unavailable` on a k8s.workload: scales the workload up, waits for ready endpoints, verifies them. */
const owner = Runbook.make<{ readonly dependency: string }, Kube>({
  id: "test.dependency-owner",
  family: "test.dependency-owner",
  signals: [HandOffs.DependencyUnavailable.type],
  targetKinds: [Targets.WORKLOAD],
  diagnose: Diagnoser.make({ dependency: Diagnoser.probe("dependency", (signal) => Effect.succeed(String(signal.evidence["dependency"]))) }),
  classify: Classifier.firstMatch([Classifier.rule<{ readonly dependency: string }>()({ class: "dependency_scaled_down", confidence: 0.9, needs: ["dependency"], when: () => true })]),
  remediate: (_c, _f, signal) => {
    const t = Targets.parseSync(signal.target) as Targets.Workload
    return Effect.succeed(Plan.make("test.dependency-owner", "dependency_scaled_down", "scale the dependency up and wait for ready endpoints", Plan.seq(
      Plan.act(Action.make({ kind: SCALE, target: signal.target, params: { namespace: t.namespace, name: t.name }, description: `scale ${t.namespace}/${t.name} up` })),
      Plan.waitFor(Plan.check(Dependency.CHECK_KIND, signal.target, { ...postgres }, "postgres has ready endpoints"), { timeoutMs: 5 * 60_000, intervalMs: 5_000 })
    )))
  },
  verify: () =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return Verdict.fromChecks([yield* Dependency.healthy(postgres)], now)
    }),
  defaultMode: "auto"
})

const services = (s: Sim) => {
  const cluster = Layer.mergeAll(clusterLayer(s), HeapProfiler.unavailable("no heap profiler configured"))
  const deps = Layer.mergeAll(cluster, ConfigMapSnapshots.layer({ enabled: false, namespace: "byteport" }).pipe(Layer.provide(cluster)))
  const registry = NeverDeleteVolumes.registry({ handlers: [...handlers(), scaleUp as never], checks: RestartLoop.checks() }).pipe(Layer.provide(deps))
  return Layer.mergeAll(deps, registry, Layer.orDie(MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

const run = (s: Sim) => {
  const rb = RestartLoop.make({ verify: fast })
  const catalog = Catalog.make([owner as never], { settle: "1 second" })
  return runWithSim(
    s,
    Effect.gen(function*() {
      const signal = yield* firstSignal(rb as any, (x) => x.type === "k8s.pod.restart_loop" && String(x.evidence?.pod ?? "").startsWith("api-"))
      const loop = yield* Effect.forkChild(Catalog.run(catalog, { resumeOpen: false, timedUndo: false }))
      yield* Effect.yieldNow
      const before = podsOf(s)[0]
      const report: any = yield* Runbook.handle(rb, signal, { mode: "auto" })
      yield* Fiber.interrupt(loop)
      return { report, before, catalog }
    }).pipe(Effect.provide(services(s))) as Effect.Effect<any>,
    { max: "60 minutes", step: "2 seconds" }
  )
}

describe("k8s.restart-loop.container e2e, dependency_failure with an owner in the catalog", () => {
  it.effect("the catalog's owner scales the dependency up, its endpoints turn ready, the awaited hand-off completes, then exactly one restartPod", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api", replicas: 1 })).build())
      assert.strictEqual(readyEndpoints(s), 0)
      const { report, before, catalog } = yield* run(s)
      // routing: the catalog's owner of the hand-off on a workload is the test owner
      assert.deepStrictEqual(Catalog.owners(catalog, HandOffs.DependencyUnavailable.type, Targets.WORKLOAD).map((r) => r.id), ["test.dependency-owner"])
      assert.strictEqual(report.classification.class, "dependency_failure")
      const child = HandOffs.childResults(report.outcomes)[0]
      assert.strictEqual(child?.runbook, "test.dependency-owner")
      assert.strictEqual(child?.status, "recovered", JSON.stringify(child))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      const restarts = report.outcomes.filter((o: any) => o.kind === "k8s.restartPod")
      assert.deepStrictEqual(restarts.map((o: any) => o.status), ["applied"])
      // cluster state: the owner's scale-up (the only Deployment write), ready endpoints, one pod DELETE of the held pod, replaced and Ready
      const scale = mutations(s).real.filter((r) => r.method === "PATCH" && r.path.endsWith("/deployments/postgres") && r.status < 300)
      assert.strictEqual(scale.length, 1)
      assert.isAbove(readyEndpoints(s), 0)
      const deletes = podDeletes(s)
      assert.strictEqual(deletes.length, 1)
      assert.include(deletes[0]!.path, before.metadata.name)
      assert.include(deletes[0]!.body, before.metadata.uid)
      assert.isAbove(deletes[0]!.seq, scale[0]!.seq, "the restart comes after the owner fixed the dependency")
      const after = podsOf(s)
      assert.strictEqual(after.length, 1)
      assert.notStrictEqual(after[0].metadata.uid, before.metadata.uid)
      assert.isTrue(ready(after[0]))
      assert.strictEqual(after[0].status.containerStatuses[0].restartCount, 0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: the owner fails (the API refuses its scale-up): the child escalates, the parent escalates, no restart", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api", replicas: 1 })).build())
      s.api.faults.error({ method: "PATCH", resource: "deployments", pathPattern: /\/deployments\/postgres$/, status: 403 })
      const { report, before } = yield* run(s)
      assert.strictEqual(report.classification.class, "dependency_failure")
      const child = HandOffs.childResults(report.outcomes)[0]
      assert.strictEqual(child?.runbook, "test.dependency-owner")
      assert.notStrictEqual(child?.status, "recovered", JSON.stringify(child))
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod"))
      assert.strictEqual(podDeletes(s).length, 0)
      assert.strictEqual(readyEndpoints(s), 0)
      assert.strictEqual(podsOf(s)[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 120_000)
})
