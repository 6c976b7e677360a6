/**
 * Issue 9 item 4: facts fail alone. One diagnosis of a real OOMKilled signal on kube-sim per row,
 * with one API made to fail (kube-sim's fault injection: 404 on the Deployment, RBAC 403 on
 * Deployments, ReplicaSets, HPAs, pod logs, nodes; metrics-server or Prometheus down). Each row
 * names exactly the facts that may become Unknown; every other fact — above all the pod's memory
 * facts — stays Known.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, Fact, type Signal } from "@byteport/core"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as OomClassifier from "../../src/classifiers/oom"
import * as OomKilled from "../../src/detectors/oomKilled"
import * as Remediator from "../../src/remediators/oom"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { clusterLayer, runWithSim, Scenario, sim } from "./harness"

type Fault = Parameters<import("../../../kube-sim/src/faults/Faults").Faults["error"]>[0]
const ns = "/apis/apps/v1/namespaces/default"

// [row, faults, the facts that become Unknown]
const table: ReadonlyArray<readonly [string, ReadonlyArray<Fault>, ReadonlyArray<string>]> = [
  ["nothing fails", [], []],
  ["the owning Deployment was deleted (404)", [{ status: 404, verb: "get", resource: "deployments" }], ["hpa", "lastDeploy", "owner"]],
  ["RBAC without get deployments (403)", [{ status: 403, verb: "get", resource: "deployments" }], ["hpa", "lastDeploy", "owner"]],
  ["RBAC without get replicasets (403)", [{ status: 403, verb: "get", pathPrefix: `${ns}/replicasets` }], ["hpa", "lastDeploy", "owner"]],
  ["RBAC without list horizontalpodautoscalers (403)", [{ status: 403, resource: "horizontalpodautoscalers" }], ["hpa"]],
  ["RBAC without list replicasets (403): only the rollout history", [{ status: 403, verb: "list", resource: "replicasets" }], ["lastDeploy"]],
  ["RBAC without pods/log (403)", [{ status: 403, subresource: "log" }], ["oomMarkers"]],
  ["RBAC without get nodes (403)", [{ status: 403, resource: "nodes" }], ["node"]],
  ["metrics-server down (503): the working set from Prometheus", [{ status: 503, pathPrefix: "/apis/metrics.k8s.io" }], []],
  ["Prometheus down (503)", [{ status: 503, pathPrefix: "/api/v1/query" }], ["trend", "workingSet"]]
]

describe("k8s.oom.six-signal facts fail alone (kube-sim faults)", () => {
  it.effect("each failing API hides only the facts that need it; the pod's memory facts stay Known", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("6m")
      const cluster = clusterLayer(s)
      const signal: Signal.Signal = (yield* runWithSim(s, Stream.runHead(OomKilled.make().signals).pipe(Effect.provide(cluster)), { max: "10 minutes" })).pipe((o: any) => o.value)
      yield* TestClock.setTime(s.now())
      const diagnose = OomRunbook.diagnose()
      for (const [row, faults, expected] of table) {
        const handles = faults.map((f) => s.api.faults.error(f))
        const facts = yield* diagnose(signal).pipe(Effect.provide(cluster))
        for (const h of handles) h.remove()
        const unknown = Fact.unknownKeys(facts).sort()
        const pod = Fact.value(facts.pod)
        if (row.startsWith("Prometheus down")) {
          // the working set is Unknown only when metrics-server has no sample either (back-off)
          assert.includeMembers(unknown, ["trend"], row)
          assert.includeMembers(["trend", "workingSet"], unknown, `${row}: ${JSON.stringify(unknown)}`)
        } else {
          assert.deepStrictEqual(unknown, [...expected].sort(), `${row}: ${JSON.stringify(Object.fromEntries(Object.entries(facts).filter(([, f]) => (f as any)._tag === "Unknown")))}`)
        }
        assert.isTrue(handles.every((h) => faults.length === 0 || h.hits > 0) || row.startsWith("metrics-server"), `${row}: the fault fired`)
        // the pod's memory facts are never hidden
        assert.strictEqual(pod?.memoryLimitBytes, 512 * 2 ** 20, row)
        assert.strictEqual(pod?.lastTermination?.reason, "OOMKilled", row)
        assert.isAbove(pod!.restartCount, 0, row)
        if (expected.includes("owner")) {
          const owner = facts.owner!
          assert.strictEqual(owner._tag, "Unknown")
          assert.match((owner as Fact.Unknown).reason, /Kube(NotFound|Forbidden)/, row)
          assert.isNull(pod!.workload, `${row}: the pod fact carries no guessed owner`)
          // the trend is still scoped to the workload (from the pod's own metadata)
          assert.isAtLeast(Fact.value(facts.trend)!.restarts, 1, row)
          // an undersized limit with an unknown owner is escalated, never patched
          const c = OomClassifier.classify()(facts)
          assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "undersized_limit", row)
          const plan = Remediator.plan(c as Classification.Classified, facts, signal)
          const text = JSON.stringify(plan)
          assert.notInclude(text, "k8s.patchMemoryLimit", row)
          assert.include(text, "owner of default/", row)
        } else {
          assert.deepStrictEqual(Fact.value(facts.owner!)?.name, "api", row)
        }
      }
    }).pipe(Effect.scoped), 120_000)
})
