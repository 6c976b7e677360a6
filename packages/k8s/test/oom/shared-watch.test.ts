/**
 * One shared watch per kind per cluster, end to end: k8s.oom.six-signal, the rollout-restart
 * runbook (k8s.handoff.rollout-restart) and a custom pod detector run together in one Catalog
 * against kube-sim, and kube-sim's request recorder is the witness.
 *
 * Time: kube-sim's cluster (controllers, kubelet, timestamps) and the runbooks' TestClock advance
 * together by 10 virtual minutes. The watches themselves are real HTTP streams on real sockets
 * (client-node's timers are real time), so what 10 idle minutes can add — a relist, a poll, a
 * second watch of a kind — is what the recorder would show; client-node's 30 s inactivity
 * reconnect (a watch request from the same resourceVersion, never a list) is covered in
 * test/foundation/informer.test.ts ("idle: zero non-watch requests …").
 */
import { assert, describe, it } from "@effect/vitest"
import { Catalog, Classifier, Diagnoser, Fact, type IncidentReport, Plan, Runbook, Verifier } from "@byteport/core"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { scenario } from "../../../kube-sim/src/scenario/index"
import * as K8sDetector from "../../src/informers/K8sDetector"
import * as Resource from "../../src/informers/Resource"
import type * as EventRecorder from "../../src/events/EventRecorder"
import type * as Kube from "../../src/Kube"
import type * as Metrics from "../../src/metrics/Metrics"
import * as Restarter from "../../src/restarter/Restarter"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { until } from "../foundation/helpers"
import { Scenario, servicesLayer, sim } from "./harness"

/** The collection paths of the five shared watches (cluster-wide). */
const KINDS = ["/api/v1/pods", "/api/v1/nodes", "/api/v1/events", "/apis/apps/v1/deployments", "/apis/apps/v1/replicasets"].sort()

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** A user's runbook with a detector of its own on pods: failed pods in `default`. */
const customRunbook = Runbook.make<{ readonly pod: string }, Kube.Kube>({
  id: "acme.pods.failed",
  family: "acme.pods",
  description: "A custom pod detector sharing the pod watch",
  signals: ["acme.pod.failed"],
  detector: K8sDetector.fromInformer({
    name: "acme.pods.failed",
    resource: Resource.pods,
    namespace: "default",
    fieldSelector: "status.phase=Failed",
    toSignals: (e) =>
      e.type === "delete"
        ? []
        : [{ type: "acme.pod.failed", target: { kind: "k8s.pod", ref: `kube-sim/default/${e.object.metadata?.name}` }, observedAt: 0, evidence: { pod: e.object.metadata?.name ?? "" } }]
  }),
  diagnose: Diagnoser.make<{ readonly pod: string }>({ pod: Diagnoser.probe("pod", (s) => Effect.succeed(String(s.evidence["pod"]))) }),
  classify: Classifier.firstMatch([]),
  remediate: () => Effect.succeed(Plan.make("acme.pods.failed", "failed", "escalate", Plan.escalate("a pod failed"))),
  verify: Verifier.fromChecks(() => Effect.succeed([])),
  defaultMode: "observe"
})

describe("one shared watch per kind (kube-sim recorder)", () => {
  it.effect("six-signal + rollout-restart + a custom pod detector: one list+watch per kind, then 10 idle virtual minutes with zero non-watch requests", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 2, workloads: [{ name: "web", replicas: 2 }] }))
      s.advance("2m")
      s.api.recorder.clear()
      const catalog = Catalog.make<Kube.Kube | Metrics.Metrics | EventRecorder.EventRecorder>([OomRunbook.make(), Restarter.runbook(), customRunbook])
      assert.deepStrictEqual(catalog.entries.map((e) => e.enabled), [true, true, true], "all three run")
      const results: Array<Runbook.HandleResult> = []
      yield* TestClock.setTime(s.now())
      const services = servicesLayer(s)
      const fiber = yield* Catalog.run(catalog, { onResult: (r) => Effect.sync(() => void results.push(r)) }).pipe(
        Effect.provide(services),
        Effect.forkChild
      )
      yield* until(() => s.api.openWatches >= KINDS.length, 20_000, "five watches open")
      yield* realDelay(300)
      const startup = s.api.recorder.requests()
      const watches = startup.filter((r) => r.watch).map((r) => r.path).sort()
      const lists = startup.filter((r) => !r.watch).map((r) => `${r.method} ${r.path}`).sort()
      assert.deepStrictEqual(watches, KINDS, "exactly one watch per kind")
      assert.deepStrictEqual(lists, KINDS.map((p) => `GET ${p}`), "exactly one list per kind, and nothing else")
      for (const w of startup.filter((r) => r.watch)) assert.ok(w.query.resourceVersion && w.query.resourceVersion !== "0", `${w.path} resumes from its list's resourceVersion`)

      // 10 idle virtual minutes: the cluster runs (controllers, kubelet), the runbooks' clock too
      const mark = startup.at(-1)!.seq
      const t0 = s.now()
      for (let i = 0; i < 60; i++) {
        s.advance(10_000)
        yield* TestClock.adjust("10 seconds")
        yield* realDelay(15)
      }
      assert.strictEqual(s.now() - t0, 600_000, "10 virtual minutes passed")
      const idle = s.api.recorder.requests().filter((r) => r.seq > mark)
      assert.deepStrictEqual(idle.filter((r) => !r.watch).map((r) => `${r.method} ${r.path}`), [], "zero non-watch requests")
      assert.deepStrictEqual(s.api.recorder.requests({ watch: true }).map((r) => r.path).sort(), KINDS, "still one watch per kind")
      assert.strictEqual(s.api.openWatches, KINDS.length)
      assert.deepStrictEqual(results, [], "nothing happened, nothing handled")

      // the custom detector is live on the shared pod watch: a failed pod becomes an incident
      const pod = s.api.store.list({ group: "", version: "v1", resource: "pods" }, { namespace: "default" })[0]!
      s.api.store.mutate({ group: "", version: "v1", resource: "pods" }, "default", pod.metadata.name, (p: any) => {
        p.status = { ...p.status, phase: "Failed", reason: "Evicted" }
      })
      for (let i = 0; i < 200 && results.length === 0; i++) {
        yield* TestClock.adjust("1 second")
        yield* realDelay(10)
      }
      assert.strictEqual(results.length, 1, "the custom detector's signal was handled")
      assert.strictEqual(results[0]!.runbook, customRunbook.id)
      assert.deepStrictEqual(s.api.recorder.requests({ watch: true }).map((r) => r.path).sort(), KINDS, "no watch of its own")

      yield* Fiber.interrupt(fiber)
      yield* until(() => s.api.openWatches === 0, 20_000, "every watch closed when the catalog stops")
    }).pipe(Effect.scoped), 90_000)

  it.effect("an OOM incident in the same Catalog: detection and diagnosis read pods, nodes, ReplicaSets, Deployments from the shared caches (no GET of them)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("3m")
      s.api.recorder.clear()
      const six = OomRunbook.make({ defaultMode: "observe" })
      const catalog = Catalog.make<Kube.Kube | Metrics.Metrics | EventRecorder.EventRecorder>([six, Restarter.runbook(), customRunbook])
      const results: Array<Runbook.HandleResult> = []
      yield* TestClock.setTime(s.now())
      const fiber = yield* Catalog.run(catalog, { onResult: (r) => Effect.sync(() => void results.push(r)) }).pipe(
        Effect.provide(servicesLayer(s)),
        Effect.forkChild
      )
      for (let i = 0; i < 600 && results.length === 0; i++) {
        yield* realDelay(5)
        if (results.length > 0) break
        s.advance(1000)
        yield* TestClock.adjust("1 second")
      }
      assert.strictEqual(results.length, 1, "one incident handled")
      const report = results[0] as IncidentReport.IncidentReport
      assert.strictEqual(report.runbook, six.id)
      assert.deepStrictEqual(Fact.unknownKeys(report.facts as Fact.Facts<Record<string, unknown>>).filter((k) => ["pod", "node", "lastDeploy"].includes(k)), [], "the cached facts are known")
      const pod = Fact.value((report.facts as Fact.Facts<{ pod: { pod: string; workload: { kind: string; name: string } | null } }>).pod)
      assert.deepStrictEqual(pod?.workload?.kind, "Deployment", "ReplicaSet → Deployment resolved from the caches")
      const cachedKinds = /^\/(api\/v1|apis\/apps\/v1)\/(namespaces\/[^/]+\/)?(pods|nodes|events|deployments|replicasets)(\/[^/]+)?$/
      const reads = s.api.recorder.requests().filter((r) => !r.watch && cachedKinds.test(r.path))
      assert.deepStrictEqual(reads.map((r) => `${r.method} ${r.path}`).sort(), KINDS.map((p) => `GET ${p}`), "only the five initial lists")
      assert.deepStrictEqual(s.api.recorder.requests({ watch: true }).map((r) => r.path).sort(), KINDS)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.scoped), 90_000)

  it.effect("the restart runbook alone (no detector) opens no watch and makes no request while idle", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 2, workloads: [{ name: "web", replicas: 2 }] }))
      s.api.recorder.clear()
      yield* TestClock.setTime(s.now())
      const fiber = yield* Catalog.run(Catalog.make([Restarter.runbook()])).pipe(Effect.provide(servicesLayer(s)), Effect.forkChild)
      for (let i = 0; i < 60; i++) {
        s.advance(10_000)
        yield* TestClock.adjust("10 seconds")
        yield* realDelay(5)
      }
      assert.strictEqual(s.api.recorder.count(), 0)
      assert.strictEqual(s.api.openWatches, 0)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.scoped), 60_000)
})
