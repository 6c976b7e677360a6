import { assert, describe, it } from "@effect/vitest"
import { Notifier, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as http from "node:http"
import { gzipSync } from "node:zlib"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import { advance, firstSignal, mutations, runWithSim, Scenario, servicesLayer, sim } from "./harness"

const deploymentOf = (s: any, name: string) => s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name)

/** A loopback pprof endpoint serving a gzipped heap profile. */
const pprofServer: Effect.Effect<{ url: string; server: http.Server; hits: Array<string> }, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ url: string; server: http.Server; hits: Array<string> }>((resolve) => {
      const hits: Array<string> = []
      const profile = gzipSync(Buffer.from("heap profile: 12: 4194304 [12: 4194304] @ heap/1048576\n1: 4194304 [1: 4194304] @ 0x4a1b2c 0x4a3d4e\n"))
      const server = http.createServer((req, res) => {
        hits.push(req.url ?? "")
        if (!req.url?.startsWith("/debug/pprof/heap")) return void res.writeHead(404).end()
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(profile)
      })
      server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as any).port}`, server, hits }))
    })
  ),
  (p) => Effect.promise(() => new Promise<void>((r) => p.server.close(() => r())))
)

describe("k8s.oom.six-signal e2e per class", () => {
  it.effect("genuine_memory_leak: no bump, a heap profile attached to the escalation, a ticket; the OOMs continue", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.leak({ name: "api", limit: "512Mi", minutesToLimit: 8 })).build())
      s.advance("40m")
      const pprof = yield* pprofServer
      const profiler = HeapProfiler.pprofHttp({ urlFor: (t) => Effect.succeed(`${pprof.url}/debug/pprof/heap?ns=${t.namespace}&pod=${t.pod}`) })
      const runbook = OomRunbook.make()
      const before = mutations(s).real.length
      const { report, recorded } = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook)
        const report: any = yield* Runbook.handle(runbook, signal, { mode: "auto" })
        const recorded = yield* (yield* Notifier.NotifierRecording).get
        return { report, recorded }
      }).pipe(Effect.provide(servicesLayer(s, { profiler }))))
      assert.strictEqual(report.classification?.class, "genuine_memory_leak", JSON.stringify(report.facts.trend))
      assert.strictEqual(report.status, "escalated")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit"))
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "512Mi")
      assert.strictEqual(mutations(s).real.length - before, 0, "the leak path writes nothing to the cluster")
      const att = report.escalation.attachments
      assert.strictEqual(att.length, 1)
      assert.strictEqual(att[0].encoding, "base64")
      assert.match(att[0].name, /^heap-default-api-.*\.pb\.gz$/)
      assert.isTrue(pprof.hits.length === 1 && pprof.hits[0]!.includes("pod=api-"))
      assert.strictEqual(recorded.tickets.length, 1)
      const restarts = () => s.api.store.list({ group: "", version: "v1", resource: "pods" }).filter((p: any) => p.metadata.name.startsWith("api-")).reduce((a: number, p: any) => a + p.status.containerStatuses[0].restartCount, 0)
      const r0 = restarts()
      yield* advance(s, "20 minutes")
      assert.isAbove(restarts(), r0, "the OOMs continue (no bump hides a leak)")
    }).pipe(Effect.scoped), 60_000)

  it.effect("genuine_memory_leak without a profiler: escalates saying the profile was not captured", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.leak({ name: "api", limit: "512Mi", minutesToLimit: 8 })).build())
      s.advance("40m")
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "genuine_memory_leak")
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation.reason, /heap profile not captured/)
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "k8s.captureHeapProfile" && o.status === "failed" && /not captured: no heap profiler configured/.test(o.detail)))
    }).pipe(Effect.scoped), 60_000)

  it.effect("runtime_misconfig: a ChangeProposal with -Xmx below the limit, never applied", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.runtimeHeapFlag({ name: "api", runtime: "jvm", limit: "1Gi", heap: "2Gi" })).build())
      s.advance("10m")
      const runbook = OomRunbook.make()
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "runtime_misconfig")
      assert.strictEqual(report.status, "proposed")
      assert.strictEqual(report.proposals.length, 1)
      assert.include(report.proposals[0].body, "-Xmx768m")
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 60_000)

  it.effect("traffic_spike with the HPA at max: scale-out denied, the Fallback bumps the limit; working set stays ≥80% → escalates after the retry", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.trafficSpike({ name: "api", limit: "512Mi" })).build())
      s.advance("12m")
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "traffic_spike", JSON.stringify(report.facts.trend))
      const denied = report.decisions.find((d: any) => d.actionKind === "k8s.raiseHpaMinReplicas" && d.decision === "deny")
      assert.isDefined(denied)
      assert.match(denied.reason, /maxReplicas/)
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit" && o.status === "applied"))
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "768Mi")
      // 400 rps over 3 capped replicas (133 rps per pod) needs ≈ 1.22× the old limit, ~81% of the
      // bumped one: the OOMs stop, but the seed's
      // "working set < 80% of the new limit" fails twice (check + retry at 15 s) → escalation with the bundle
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(report.verdicts.length, 2)
      assert.isTrue(report.verdicts.every((v: any) => v._tag === "NotRecovered" && /working set < 80% of the new limit/.test(v.reason)))
      assert.strictEqual(report.verdicts[1].at - report.verdicts[0].at, 15_000)
      assert.match(report.escalation.reason, /not recovered after 2 checks/)
      assert.strictEqual(report.escalation.severity, "critical")
      assert.isTrue(report.escalation.verdicts.length === 2 && report.escalation.plan.class === "traffic_spike" && report.escalation.decisions.length > 0)
      assert.isTrue(report.verdicts[0].checks.find((c: any) => c.name === "0 OOMKilled since the action").ok)
    }).pipe(Effect.scoped), 60_000)

  it.effect("traffic_spike with the HPA at max and a spike the bump accommodates: scale-out denied, limit ×1.5, verification passes → recovered", () =>
    Effect.gen(function*() {
      // 360 rps over 3 capped replicas: 120 rps per pod needs 0.35 + 0.0065 × 120 ≈ 1.13× the 512Mi
      // limit (OOM-killed), and ≈ 75% of the 768Mi it is bumped to. The rollout surges all 3 pods at
      // once (maxSurge 100%): they turn Ready together and share the traffic — a pod rolled out
      // alone while the old ones crash-loop would take all 360 rps (2.7× the old limit).
      const strategy = { type: "RollingUpdate", rollingUpdate: { maxSurge: "100%", maxUnavailable: 0 } }
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.trafficSpike({ name: "api", limit: "512Mi", spikeRps: 360, workload: { strategy } })).build())
      s.advance("12m")
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "traffic_spike", JSON.stringify(report.facts.trend))
      const denied = report.decisions.find((d: any) => d.actionKind === "k8s.raiseHpaMinReplicas" && d.decision === "deny")
      assert.isDefined(denied)
      assert.match(denied.reason, /maxReplicas/)
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "k8s.patchMemoryLimit" && o.status === "applied"))
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "768Mi")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts))
      // the checks held for 5 minutes: 11 polls, every one passing
      assert.strictEqual(report.verdicts.length, 11)
      assert.isTrue(report.verdicts.every((v: any) => v._tag === "Recovered" && v.checks.every((c: any) => c.ok)), JSON.stringify(report.verdicts.map((v: any) => v.checks)))
      assert.isUndefined(report.escalation)
      const restarts = () => (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp).reduce((a, p) => a + p.status.containerStatuses[0].restartCount, 0)
      const r0 = restarts()
      yield* advance(s, "10 minutes")
      assert.strictEqual(restarts(), r0, "no OOMKill after recovery")
    }).pipe(Effect.scoped), 60_000)

  it.effect("node_pressure: cordon, a PDB-aware drain, then the uncordon once healthy; the victim's pods run Ready elsewhere", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.nodePressure({ name: "api", node: "node-2" })).build())
      s.advance("5m")
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(runbook, yield* firstSignal(runbook), { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))))
      assert.strictEqual(report.classification?.class, "node_pressure", JSON.stringify(report.facts))
      const node = s.api.store.get({ group: "", version: "v1", resource: "nodes" }, undefined, "node-2") as any
      assert.notStrictEqual(node.spec.unschedulable, true, "the cordon ends with the uncordon (it never keeps the cordon slot)")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts))
      assert.deepStrictEqual(report.outcomes.map((o: any) => [o.kind, o.status]), [["k8s.cordonNode", "applied"], ["k8s.drainNode", "applied"], ["k8s.uncordonNode", "applied"]])
      const pods = s.api.store.list({ group: "", version: "v1", resource: "pods" }).filter((p: any) => p.metadata.name.startsWith("api-") && !p.metadata.deletionTimestamp) as Array<any>
      assert.strictEqual(pods.length, 3)
      assert.isTrue(pods.every((p) => p.spec.nodeName !== "node-2"))
      const reasons = s.api.store.list({ group: "", version: "v1", resource: "events" }).filter((e: any) => e.involvedObject.kind === "Node" && e.involvedObject.name === "node-2" && e.source?.component === "byteport").map((e: any) => e.reason)
      assert.includeMembers(reasons, ["Cordoned", "Drained", "Uncordoned"])
    }).pipe(Effect.scoped), 60_000)
})
