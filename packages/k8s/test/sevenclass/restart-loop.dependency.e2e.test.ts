/**
 * k8s.restart-loop.container, dependency_failure end to end on kube-sim (real client, virtual
 * time, auto mode): the awaited `dependency.unavailable` hand-off is answered by an owner on the
 * bus (standing in for the runbook of the Service's workload or the Database: it holds until the
 * Service has ready EndpointSlice endpoints and verifies that), then the runbook confirms the
 * endpoints itself, restarts the looping pod exactly once and holds its verification window.
 * Near misses: the dependency never becomes ready (the owner escalates), and an owner that
 * reports recovery while the Service still has no ready endpoints: no restart either way.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classifier, Diagnoser, HandOffs, Plan, Runbook, Verdict } from "@byteport/core"
import { Clock, type Duration, Effect, Fiber } from "effect"
import * as Dependency from "../../src/probes/dependency"
import type { Kube } from "../../src/Kube"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import { fast, firstSignal, mutations, podsOf, ready, runWithSim, Scenario, sevenServices, sim, type Sim } from "./harness"

const SLICES = { group: "discovery.k8s.io", version: "v1", resource: "endpointslices" }
const readyEndpoints = (s: Sim, service = "postgres") =>
  Dependency.endpointsOf(s.api.store.list(SLICES, { namespace: "default" }) as ReadonlyArray<Dependency.EndpointSliceLike>, { name: service, namespace: "default" }).ready
const podDeletes = (s: Sim) => mutations(s).real.filter((r) => r.method === "DELETE" && r.path.includes("/pods/"))

const postgres: Dependency.CheckParams = { namespace: "default", service: "postgres", host: "postgres", port: 5432 }

/** The owner of `dependency.unavailable` (auto): holds until the Service has ready endpoints; `trusting` reports recovery without looking. */
const owner = (o: { readonly trusting?: boolean } = {}) =>
  Runbook.make<{ readonly dependency: string }, Kube>({
    id: "test.dependency-owner",
    family: "test.dependency-owner",
    signals: [HandOffs.DependencyUnavailable.type],
    diagnose: Diagnoser.make({ dependency: Diagnoser.probe("dependency", (signal) => Effect.succeed(String(signal.evidence["dependency"]))) }),
    classify: Classifier.firstMatch([Classifier.rule<{ readonly dependency: string }>()({ class: "dependency_down", confidence: 0.9, needs: ["dependency"], when: () => true })]),
    remediate: (_c, _f, signal) =>
      Effect.succeed(Plan.make("test.dependency-owner", "dependency_down", "hold until the dependency has ready endpoints", o.trusting
        ? Plan.seq()
        : Plan.waitFor(Plan.check(Dependency.CHECK_KIND, signal.target, { ...postgres }, "postgres has ready endpoints"), { timeoutMs: 8 * 60_000, intervalMs: 5_000 }))),
    verify: () =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const c = o.trusting ? { name: "trusted", ok: true, detail: "reported without looking" } : yield* Dependency.healthy(postgres)
        return Verdict.fromChecks([c], now)
      }),
    defaultMode: "auto"
  })

const run = (s: Sim, o: { readonly fixAfter?: Duration.Input; readonly trusting?: boolean }) => {
  const rb = RestartLoop.make({ verify: fast })
  return runWithSim(
    s,
    Effect.gen(function*() {
      const signal = yield* firstSignal(rb as any, (x) => x.type === "k8s.pod.restart_loop" && String(x.evidence?.pod ?? "").startsWith("api-"))
      const loop = yield* Effect.forkChild(Runbook.run(owner(o), { resumeOpen: false }))
      yield* Effect.yieldNow
      let fixedAt: number | undefined
      if (o.fixAfter) {
        yield* Effect.forkChild(Effect.gen(function*() {
          yield* Effect.sleep(o.fixAfter!)
          s.makeDependencyReady({ service: "postgres" })
          fixedAt = s.now()
        }))
      }
      const before = podsOf(s)[0]
      const report: any = yield* Runbook.handle(rb, signal, { mode: "auto" })
      yield* Fiber.interrupt(loop)
      return { report, before, fixedAt }
    }).pipe(Effect.provide(sevenServices(s))) as Effect.Effect<any>,
    { max: "60 minutes", step: "2 seconds" }
  )
}

describe("k8s.restart-loop.container e2e, dependency_failure chained", () => {
  it.effect("the dependency becomes ready: its owner answers the hand-off, the endpoints are confirmed, exactly one restartPod, the window held", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api", replicas: 1 })).build())
      const { report, before, fixedAt } = yield* run(s, { fixAfter: "90 seconds" })
      assert.strictEqual(report.classification.class, "dependency_failure")
      const child = HandOffs.childResults(report.outcomes)[0]
      assert.strictEqual(child?.runbook, "test.dependency-owner")
      assert.strictEqual(child?.status, "recovered", JSON.stringify(child))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.verdicts?.at(-1)))
      const restarts = report.outcomes.filter((o: any) => o.kind === "k8s.restartPod")
      assert.strictEqual(restarts.length, 1)
      assert.strictEqual(restarts[0].status, "applied")
      assert.isTrue(report.outcomes.some((o: any) => o.kind === `wait:${Dependency.CHECK_KIND}` && o.status === "check_passed"), JSON.stringify(report.outcomes.map((o: any) => [o.kind, o.status])))
      // cluster state: one pod DELETE, with the uid precondition of the looping pod, after the dependency turned ready
      const deletes = podDeletes(s)
      assert.strictEqual(deletes.length, 1)
      assert.include(deletes[0]!.path, before.metadata.name)
      assert.isAbove(readyEndpoints(s), 0)
      const after = podsOf(s)
      assert.strictEqual(after.length, 1)
      assert.notStrictEqual(after[0].metadata.uid, before.metadata.uid)
      assert.isTrue(ready(after[0]))
      assert.isAtLeast(Date.parse(after[0].metadata.creationTimestamp), fixedAt! - 1000, "replaced only after the dependency was fixed")
      // the verification window was held: the Recovered verdict comes ≥ the window after the restart
      const recovered = report.verdicts.filter((v: any) => v._tag === "Recovered").at(-1)
      assert.isDefined(recovered)
      assert.isAtLeast(recovered.at - Date.parse(after[0].metadata.creationTimestamp), fast.minReadySeconds * 1000)
      assert.strictEqual(after[0].status.containerStatuses[0].restartCount, 0, "the replacement never crashed")
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: the dependency never becomes ready: the owner escalates, the pod is never restarted", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api", replicas: 1 })).build())
      const { report, before } = yield* run(s, {})
      assert.strictEqual(report.classification.class, "dependency_failure")
      assert.notStrictEqual(HandOffs.childResults(report.outcomes)[0]?.status, "recovered")
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod"))
      assert.strictEqual(podDeletes(s).length, 0)
      assert.strictEqual(readyEndpoints(s), 0)
      assert.strictEqual(podsOf(s)[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: an owner reports recovery while the Service still has no ready endpoints: the confirmation fails, no restart", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.dependencyNotReady({ name: "api", replicas: 1 })).build())
      const { report, before } = yield* run(s, { trusting: true })
      assert.strictEqual(HandOffs.childResults(report.outcomes)[0]?.status, "recovered")
      assert.strictEqual(report.status, "escalated")
      assert.isTrue(report.outcomes.some((o: any) => o.kind === `wait:${Dependency.CHECK_KIND}` && o.status !== "check_passed"), JSON.stringify(report.outcomes.map((o: any) => [o.kind, o.status])))
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod"))
      assert.strictEqual(podDeletes(s).length, 0)
      assert.strictEqual(podsOf(s)[0].metadata.uid, before.metadata.uid)
    }).pipe(Effect.scoped), 120_000)
})
