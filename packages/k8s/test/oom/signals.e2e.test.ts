/**
 * Issue 9 items 2 and 3 on kube-sim (real client-node): runtime OOM markers raise incidents,
 * exit 137 without OOMKilled escalates Unclassified, and node pressure without an OOMKilled pod
 * classifies node_pressure from the node's evictions and top consumers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { ConfigProvider, Effect, Stream } from "effect"
import * as RuntimeOomMarker from "../../src/detectors/runtimeOomMarker"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import { clusterLayer, firstSignal, mutations, runWithSim, Scenario, servicesLayer, sim } from "./harness"

const take = (signals: Stream.Stream<unknown, never, any>, n: number) => Stream.runCollect(signals.pipe(Stream.take(n))) as Effect.Effect<Array<any>, never, any>

/** A workload whose app logs `lines` at start-up and exits `exitCode` after 20 s (reason Error). */
const crashing = (name: string, exitCode: number, lines: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => ({
  name,
  replicas: 1,
  image: `registry.example.com/shop/${name}:1.0.0`,
  memoryLimit: "1Gi",
  memoryRequest: "1Gi",
  behaviour: { logs: [`${name} starting`, ...lines], exitAfterSeconds: 20, exitCode },
  ...extra
})

const runtimes = {
  workloads: [
    crashing("jvm", 3, ["Exception in thread \"worker-7\" java.lang.OutOfMemoryError: Java heap space", "Terminating due to java.lang.OutOfMemoryError: Java heap space"], {
      env: [{ name: "JAVA_TOOL_OPTIONS", value: "-Xmx2g -XX:+ExitOnOutOfMemoryError" }]
    }),
    crashing("v8", 134, ["<--- Last few GCs --->", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"]),
    crashing("gosvc", 2, ["fatal error: runtime: out of memory", "runtime stack:", "runtime.throw({0x9b2c1a?, 0x0?})"]),
    crashing("pyworker", 1, ["Traceback (most recent call last):", "  File \"/app/worker.py\", line 42, in <module>", "MemoryError"]),
    // a plain crash: exit 1 with no marker → no signal
    crashing("plain", 1, ["panic: runtime error: invalid memory address or nil pointer dereference"])
  ]
}

describe("k8s.oom.six-signal: every signal the seed names raises an incident (kube-sim)", () => {
  it.effect("the marker detector: JVM exit 3, V8 exit 134, Go exit 2, Python exit 1 each raise one signal; a plain crash raises none", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(runtimes).build())
      const got = yield* runWithSim(s, take(RuntimeOomMarker.make().signals, 4).pipe(Effect.provide(clusterLayer(s))), { max: "10 minutes" })
      const by = Object.fromEntries(got.map((g) => [g.target.ref.split("/")[3], g]))
      assert.deepStrictEqual(Object.keys(by).sort(), ["gosvc", "jvm", "pyworker", "v8"], JSON.stringify(got.map((g) => g.evidence)))
      assert.deepStrictEqual([by["jvm"].evidence.runtime, by["jvm"].evidence.exitCode, by["jvm"].evidence.reason], ["jvm", 3, "Error"])
      assert.deepStrictEqual([by["v8"].evidence.runtime, by["v8"].evidence.exitCode], ["node", 134])
      assert.deepStrictEqual([by["gosvc"].evidence.runtime, by["gosvc"].evidence.exitCode], ["go", 2])
      assert.deepStrictEqual([by["pyworker"].evidence.runtime, by["pyworker"].evidence.exitCode], ["python", 1])
      for (const g of got) assert.strictEqual(g.type, "k8s.pod.runtime_oom_marker")
      assert.match(by["jvm"].evidence.marker, /java\.lang\.OutOfMemoryError/)
    }).pipe(Effect.scoped), 90_000)

  it.effect("routed: the runbook's own detector raises the JVM marker incident and classifies it (runtime_misconfig, a proposal, never a bump)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with({ workloads: [runtimes.workloads[0]!] }).build())
      const runbook = OomRunbook.make()
      assert.include(runbook.signals, "k8s.pod.runtime_oom_marker")
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.pod.runtime_oom_marker")
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))), { max: "10 minutes" })
      assert.strictEqual(report.signal.type, "k8s.pod.runtime_oom_marker")
      assert.deepStrictEqual(report.facts.oomMarkers.value.map((m: any) => m.runtime), ["jvm", "jvm"])
      assert.strictEqual(report.classification?.class, "runtime_misconfig", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "proposed")
      assert.isFalse((report.outcomes ?? []).some((o: any) => o.kind === "k8s.patchMemoryLimit"))
      assert.strictEqual(mutations(s).real.length - before, 0)
    }).pipe(Effect.scoped), 90_000)

  it.effect("BYTEPORT_OOM_WORKING_SET_RATIO turns the runbook's metrics-server poll on (a ratio outside (0, 1] is a ConfigError)", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
      const bad = yield* Effect.flip(OomRunbook.fromConfig().pipe(withEnv({ BYTEPORT_OOM_WORKING_SET_RATIO: "1.5" })))
      assert.match(String(bad), /BYTEPORT_OOM_WORKING_SET_RATIO/)
      const runbook = yield* OomRunbook.fromConfig().pipe(withEnv({ BYTEPORT_OOM_WORKING_SET_RATIO: "0.9" }))
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      const signal = yield* runWithSim(s, firstSignal(runbook, (x) => x.type === "k8s.pod.working_set_high").pipe(Effect.provide(clusterLayer(s))), { max: "20 minutes" })
      assert.isAtLeast(signal.evidence["ratio"] as number, 0.9)
    }).pipe(Effect.scoped), 90_000)

  it.effect("exit 137 without OOMKilled (a liveness kill): the runbook raises it from restart growth, stays Unclassified and escalates — never a bump", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 2 }).with(Scenario.crashloop.probeMisconfigured({ name: "api" })).build())
      const runbook = OomRunbook.make()
      assert.include(runbook.signals, "k8s.pod.restart_growth")
      const before = mutations(s).real.length
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook)
        return yield* Runbook.handle(runbook, signal, { mode: "auto" })
      }).pipe(Effect.provide(servicesLayer(s))), { max: "20 minutes" })
      assert.strictEqual(report.signal.type, "k8s.pod.restart_growth")
      assert.strictEqual(report.signal.evidence.exitCode, 137)
      assert.notStrictEqual(report.signal.evidence.reason, "OOMKilled")
      assert.strictEqual(report.classification?._tag, "Unclassified", JSON.stringify(report.classification))
      assert.match(report.classification.reasons.join(" "), /exit code 137 without reason OOMKilled/)
      assert.strictEqual(report.status, "escalated")
      assert.isFalse((report.outcomes ?? []).some((o: any) => o.kind === "k8s.patchMemoryLimit"))
      assert.strictEqual(mutations(s).real.length - before, 0, "nothing written to the cluster")
    }).pipe(Effect.scoped), 90_000)

  it.effect("node pressure without an OOMKilled pod: the subject is the BestEffort hog the kubelet evicts; node_pressure from node facts → cordon + drain planned", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.memoryPressure({ node: "node-2" })).build())
      const runbook = OomRunbook.make()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        const signal = yield* firstSignal(runbook, (x) => x.type === "k8s.node.memory_pressure")
        return yield* Runbook.handle(runbook, signal, { mode: "dry_run" })
      }).pipe(Effect.provide(servicesLayer(s))), { max: "30 minutes" })
      const oomKilled = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>)
        .filter((p) => (p.status?.containerStatuses ?? []).some((c: any) => (c.lastState?.terminated ?? c.state?.terminated)?.reason === "OOMKilled"))
      assert.deepStrictEqual(oomKilled.map((p) => p.metadata.name), [], "no pod was OOM-killed")
      assert.strictEqual(report.facts.pod._tag, "Known", JSON.stringify(report.facts.pod))
      assert.match(report.facts.pod.value.pod, /^cache-warmer-/)
      assert.isNull(report.facts.pod.value.memoryLimitBytes)
      assert.isTrue(report.facts.node.value.memoryPressure)
      assert.strictEqual(report.classification?.class, "node_pressure", JSON.stringify(report.classification))
      const kinds = JSON.stringify(report.plan)
      assert.include(kinds, "k8s.cordonNode")
      assert.include(kinds, "k8s.drainNode")
    }).pipe(Effect.scoped), 120_000)
})
