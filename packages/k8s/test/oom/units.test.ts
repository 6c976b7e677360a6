import { assert, describe, it } from "@effect/vitest"
import { Action, Classification, type Guardrail, MemoryStore, Plan, TargetRef } from "@byteport/core"
import { GuardrailStore } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as PatchMemoryLimit from "../../src/actions/patchMemoryLimit"
import * as RaiseHpa from "../../src/actions/raiseHpaMinReplicas"
import { skipReason } from "../../src/actions/drainNode"
import * as MemoryTrend from "../../src/probes/memoryTrend"
import { markersIn } from "../../src/probes/oomMarkers"
import { redactEnv } from "../../src/probes/podFacts"
import { fromEnv, largest } from "../../src/probes/runtimeHeap"

const Mi = 2 ** 20
const target = TargetRef.make("k8s.workload", "c1/shop/Deployment/web/app")
const bump = (toMi: number, allocatableMi: number | null = 8192) =>
  Action.make({
    kind: "k8s.patchMemoryLimit",
    target,
    params: { namespace: "shop", workloadKind: "Deployment", workloadName: "web", container: "app", fromBytes: 512 * Mi, toBytes: toMi * Mi, nodeAllocatableBytes: allocatableMi === null ? null : allocatableMi * Mi, reason: "test" },
    precondition: { resourceVersion: "1" },
    description: "bump"
  })
const ctx = (action: Action.Action, cls = "undersized_limit", baseline: Record<string, number> = { memoryLimitBytes: 512 * Mi }, now = 0): Guardrail.GuardrailContext => ({
  incidentId: "inc_1",
  runbook: "k8s.oom.six-signal",
  mode: "auto",
  signal: { type: "k8s.pod.oom_killed", target, observedAt: 0, evidence: {} },
  classification: Classification.classified(cls, 0.84, ["test"], {}),
  facts: {},
  plan: Plan.make("k8s.oom.six-signal", cls, "p", Plan.act(action)),
  planDigest: "d",
  action,
  stepPath: "0",
  now,
  baseline
})
const decide = (gs: ReadonlyArray<Guardrail.Guardrail<never>>, c: Guardrail.GuardrailContext) =>
  Effect.forEach(gs, (g) => Effect.map(g.check(c), (r) => ({ name: g.name, r })))
const denials = (rs: ReadonlyArray<{ name: string; r: Guardrail.GuardrailResult }>) => rs.filter((x) => x.r._tag === "Deny").map((x) => `${x.name}: ${(x.r as any).reason}`)
const store = Layer.effect(GuardrailStore.GuardrailStore, MemoryStore.make())

describe("k8s.patchMemoryLimit guardrails", () => {
  const gs = PatchMemoryLimit.guardrails()
  it.effect("allows ×1.5 within 2× the baseline and 80% of allocatable", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(denials(yield* decide(gs, ctx(bump(768)))), [])
    }).pipe(Effect.provide(store)))
  it.effect("ceiling: 2× the BASELINE (taken at lease time), not the current limit — 1024Mi passes, 1025Mi is denied", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(denials(yield* decide(gs, ctx(bump(1024)))), [])
      const d = denials(yield* decide(gs, ctx(bump(1025))))
      assert.strictEqual(d.length, 1)
      assert.match(d[0]!, /ceiling\(2× baseline limit\).*exceeds the ceiling 1 GiB/)
      // a second bump planned from 768Mi is still measured from the 512Mi baseline
      const second = Action.make({ ...bump(1100), params: { ...bump(1100).params, fromBytes: 768 * Mi } })
      assert.match(denials(yield* decide(gs, ctx(second)))[0]!, /baseline/)
    }).pipe(Effect.provide(store)))
  it.effect("ceiling: 80% of the node's allocatable memory (and unknown allocatable denies)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(denials(yield* decide(gs, ctx(bump(800, 1000)))), [])
      assert.match(denials(yield* decide(gs, ctx(bump(801, 1000))))[0]!, /0.8 of node allocatable/)
      assert.match(denials(yield* decide(gs, ctx(bump(768, null))))[0]!, /limit could not be determined/)
    }).pipe(Effect.provide(store)))
  it.effect("never on genuine_memory_leak", () =>
    Effect.gen(function*() {
      const d = denials(yield* decide(gs, ctx(bump(768), "genuine_memory_leak")))
      assert.deepStrictEqual(d, ["never_bump_a_leak: never bump memory on a genuine_memory_leak"])
    }).pipe(Effect.provide(store)))
  it.effect("rateLimit: 1 bump per workload container per 24 h (keyed by the target, not the pod)", () =>
    Effect.gen(function*() {
      const rl = gs[3]!
      const a = yield* rl.acquire(ctx(bump(768)))
      assert.strictEqual(a.result._tag, "Pass")
      // another incident's bump (the same step of the same incident holds its unit: its window token)
      const again = yield* rl.check({ ...ctx(bump(768), "undersized_limit", { memoryLimitBytes: 512 * Mi }, 23 * 3600_000), incidentId: "inc-next" })
      assert.strictEqual(again._tag, "Deny")
      const later = yield* rl.check({ ...ctx(bump(768), "undersized_limit", { memoryLimitBytes: 512 * Mi }, 24 * 3600_000 + 1), incidentId: "inc-next" })
      assert.strictEqual(later._tag, "Pass")
    }).pipe(Effect.provide(store)))
  it.effect("the settings are configurable (BYTEPORT_OOM_MAX_FACTOR …)", () =>
    Effect.gen(function*() {
      const three = PatchMemoryLimit.guardrails({ bumpFactor: 1.5, maxFactor: 3, nodeAllocatableRatio: 0.8, bumpsPerDay: 1, drainTimeoutSeconds: 300, evictionRetrySeconds: 5 })
      assert.deepStrictEqual(denials(yield* decide(three, ctx(bump(1536)))), [])
    }).pipe(Effect.provide(store)))
})

describe("k8s.raiseHpaMinReplicas guardrail", () => {
  const hpa = (p: Record<string, unknown>) =>
    Action.make({ kind: "k8s.raiseHpaMinReplicas", target, params: { namespace: "shop", hpa: "web", fromMinReplicas: 2, toMinReplicas: 3, maxReplicas: 6, currentReplicas: 2, reason: "t", ...p } as any, description: "scale" })
  it.effect("denies without an HPA and at maxReplicas, so the Fallback takes the bump", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(denials(yield* decide(RaiseHpa.guardrails, ctx(hpa({})))), [])
      assert.match(denials(yield* decide(RaiseHpa.guardrails, ctx(hpa({ hpa: null }))))[0]!, /no HorizontalPodAutoscaler/)
      assert.match(denials(yield* decide(RaiseHpa.guardrails, ctx(hpa({ currentReplicas: 6, toMinReplicas: 6 }))))[0]!, /at maxReplicas \(6\/6\)/)
    }).pipe(Effect.provide(store)))
})

describe("OOM probes (pure parts)", () => {
  it("markers: JVM, Go and Node OOM lines in previous logs", () => {
    const log = [
      "INFO started",
      "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
      "fatal error: runtime: out of memory",
      "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
      "exit"
    ].join("\n")
    assert.deepStrictEqual(markersIn(log).map((m) => m.runtime), ["jvm", "go", "node"])
    assert.deepStrictEqual(markersIn("out of memory? no, all good"), [])
  })
  it("env: values of secret-like vars and valueFrom entries are dropped, heap flags kept", () => {
    const env = redactEnv([
      { name: "JAVA_TOOL_OPTIONS", value: "-Xms1g -Xmx2g" },
      { name: "DB_PASSWORD", value: "hunter2" },
      { name: "API_TOKEN", value: "t0k3n" },
      { name: "DATABASE", value: "postgres://app:s3cret@db:5432/app" },
      { name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "x", key: "y" } } }
    ])
    assert.deepStrictEqual(env, [{ name: "JAVA_TOOL_OPTIONS", value: "-Xms1g -Xmx2g" }, { name: "DB_PASSWORD" }, { name: "API_TOKEN" }, { name: "DATABASE" }, { name: "FROM_SECRET" }])
    assert.notInclude(JSON.stringify(env), "hunter2")
    assert.strictEqual(largest(fromEnv(env))?.heapBytes, 2 * 2 ** 30)
  })
  it("trend: a leak grows after the warm-up on every run; a start-up ramp killed within it is a plateau", () => {
    const min = 60_000
    const leakRun = (start: number) => Array.from({ length: 40 }, (_, i) => [start + i * 15_000, 100 * Mi + i * 10 * Mi] as const)
    const leak = MemoryTrend.trendFrom({ workingSet: [{ labels: { pod: "a" }, points: [...leakRun(0), ...leakRun(11 * min), ...leakRun(22 * min), ...leakRun(33 * min)] }], requestRate: [] })
    assert.strictEqual(leak.restarts, 3)
    assert.isTrue(leak.risingAcrossRestarts)
    assert.isFalse(leak.plateau)
    const rampRun = (start: number) => Array.from({ length: 7 }, (_, i) => [start + i * 15_000, 300 * Mi + i * 35 * Mi] as const)
    const ramp = MemoryTrend.trendFrom({ workingSet: [{ labels: { pod: "a" }, points: [...rampRun(0), ...rampRun(3 * min), ...rampRun(6 * min)] }], requestRate: [] })
    assert.isTrue(ramp.plateau)
    assert.isFalse(ramp.risingAcrossRestarts)
    assert.strictEqual(ramp.peakBytes, 510 * Mi)
  })
  it("trend: correlation with the request rate, null for a constant rate, instants without traffic left out", () => {
    const pts = (f: (i: number) => number) => Array.from({ length: 20 }, (_, i) => [i * 15_000, f(i)] as const)
    const follows = MemoryTrend.trendFrom({ workingSet: [{ labels: { pod: "a" }, points: pts((i) => 100 * Mi + i * 5 * Mi) }], requestRate: [{ labels: {}, points: pts((i) => 50 + i * 10) }] })
    assert.isAbove(follows.rpsCorrelation!, 0.99)
    const flat = MemoryTrend.trendFrom({ workingSet: [{ labels: { pod: "a" }, points: pts((i) => 100 * Mi + i * Mi) }], requestRate: [{ labels: {}, points: pts(() => 40) }] })
    assert.isNull(flat.rpsCorrelation)
  })
  it("drain skips mirror pods, DaemonSet pods and finished pods", () => {
    assert.strictEqual(skipReason({ metadata: { annotations: { "kubernetes.io/config.mirror": "x" } } }), "mirror pod")
    assert.strictEqual(skipReason({ metadata: { ownerReferences: [{ kind: "DaemonSet", name: "ds", controller: true, apiVersion: "apps/v1", uid: "u" }] } }), "DaemonSet pod")
    assert.strictEqual(skipReason({ status: { phase: "Succeeded" } }), "finished")
    assert.isUndefined(skipReason({ metadata: { ownerReferences: [{ kind: "ReplicaSet", name: "rs", controller: true, apiVersion: "apps/v1", uid: "u" }] } }))
  })
})
