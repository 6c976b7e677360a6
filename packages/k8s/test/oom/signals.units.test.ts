/**
 * Issue 9 items 2, 3, 5 (unit level): runtime OOM markers and the marker detector's candidate
 * terminations, the node signal's subject, node_pressure from node facts, and kubectl-shaped
 * wire JSON (nulls, managedFields).
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact } from "@byteport/core"
import { Effect, Schema } from "effect"
import * as OomClassifier from "../../src/classifiers/oom"
import type { OomFacts } from "../../src/classifiers/oom"
import { candidates } from "../../src/detectors/runtimeOomMarker"
import { markersIn } from "../../src/probes/oomMarkers"
import { workloadHint } from "../../src/probes/podFacts"
import * as Wire from "../../src/probes/wire"
import { isPressureEviction, nodeSubject } from "../../src/runbooks/k8s.oom.six-signal"

const Mi = 2 ** 20
const decodePod = (x: unknown) => Schema.decodeUnknownSync(Wire.Pod)(x)

/** A pod as `kubectl get pod -o json` prints it (managedFields, nulls and all). */
const kubectlPod = (name: string, o: { qos?: string; limits?: Record<string, string>; requests?: Record<string, string>; status?: Record<string, unknown> } = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name,
    namespace: "shop",
    uid: `uid-${name}`,
    resourceVersion: "4711",
    creationTimestamp: "2026-11-30T10:00:00Z",
    labels: { app: name.split("-")[0], "pod-template-hash": "7d9f8c6b5d" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: `${name.split("-")[0]}-7d9f8c6b5d`, uid: "rs-uid", controller: true, blockOwnerDeletion: true }],
    managedFields: [{ manager: "kube-controller-manager", operation: "Update", apiVersion: "v1", time: "2026-11-30T10:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { ".": {} } } } }]
  },
  spec: {
    nodeName: "node-2",
    containers: [{ name: "app", image: "registry.example.com/shop/app:1.0", resources: { ...(o.limits ? { limits: o.limits } : {}), ...(o.requests ? { requests: o.requests } : {}) } }]
  },
  status: { phase: "Running", qosClass: o.qos ?? "Burstable", ...o.status }
})

/** The status kubectl prints for a pod the kubelet evicted under memory pressure. */
const evictedStatus = {
  phase: "Failed",
  reason: "Evicted",
  message: "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91340Ki. Container app was using 3012340Ki, request is 0, has larger consumption of memory.",
  startTime: "2026-11-30T10:00:01Z",
  containerStatuses: [{
    name: "app",
    image: "registry.example.com/shop/app:1.0",
    imageID: "",
    ready: false,
    restartCount: 0,
    started: false,
    lastState: {},
    state: { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated", startedAt: null, finishedAt: null } }
  }]
}

describe("runtime OOM markers", () => {
  const table: ReadonlyArray<readonly [string, string, OomClassifier.OomMarker["runtime"] | null]> = [
    ["JVM ExitOnOutOfMemoryError", "Terminating due to java.lang.OutOfMemoryError: Java heap space", "jvm"],
    ["JVM exception", "Exception in thread \"main\" java.lang.OutOfMemoryError: GC overhead limit exceeded", "jvm"],
    ["V8 heap limit", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "node"],
    ["V8 near heap limit", "<--- Last few GCs ---> [1:0x5d1c2a0] Reached heap limit", "node"],
    ["Go runtime", "fatal error: runtime: out of memory", "go"],
    ["Python bare", "MemoryError", "python"],
    ["Python with message", "MemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64", "python"],
    ["numpy", "numpy.core._exceptions._ArrayMemoryError: Unable to allocate 3.73 GiB for an array", "python"],
    ["near miss: a name containing MemoryError", "registering MemoryErrorHandler for /metrics", null],
    ["near miss: prose", "caught MemoryError earlier, retrying with smaller batches", null],
    ["near miss: a panic", "panic: runtime error: invalid memory address or nil pointer dereference", null]
  ]
  for (const [name, line, runtime] of table) {
    it(`${name} → ${runtime ?? "no marker"}`, () => {
      const found = markersIn(`starting\n${line}\nexiting`)
      assert.deepStrictEqual(found.map((m) => m.runtime), runtime ? [runtime] : [])
    })
  }

  it("a Python traceback ends in MemoryError", () => {
    const log = ["Traceback (most recent call last):", "  File \"/app/worker.py\", line 42, in <module>", "    buf = bytearray(8 * 1024 ** 3)", "MemoryError"].join("\n")
    assert.deepStrictEqual(markersIn(log).map((m) => m.runtime), ["python"])
  })
})

describe("marker detector candidates (which terminations get a log read)", () => {
  const withStatus = (cs: Record<string, unknown>) => decodePod(kubectlPod("api-7d9f8c6b5d-abcde", { status: { containerStatuses: [{ name: "app", ready: false, restartCount: 2, ...cs }] } }))
  it("a restarted container that exited 3 (reason Error): its previous instance", () => {
    const got = candidates(withStatus({ state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 3, reason: "Error", startedAt: "2026-11-30T10:00:00Z", finishedAt: "2026-11-30T10:05:00Z" } } }))
    assert.deepStrictEqual(got, [{ container: "app", reason: "Error", exitCode: 3, finishedAt: "2026-11-30T10:05:00Z", restartCount: 2, previous: true }])
  })
  it("a container terminated and not yet restarted: its current instance", () => {
    const got = candidates(withStatus({ state: { terminated: { exitCode: 134, reason: "Error", startedAt: null, finishedAt: "2026-11-30T10:05:00Z" } } }))
    assert.strictEqual(got[0]?.previous, false)
    assert.strictEqual(got[0]?.exitCode, 134)
  })
  for (const [what, t] of [
    ["OOMKilled (the OOMKilled detector's)", { exitCode: 137, reason: "OOMKilled", finishedAt: "2026-11-30T10:05:00Z" }],
    ["a clean exit", { exitCode: 0, reason: "Completed", finishedAt: "2026-11-30T10:05:00Z" }],
    ["an eviction's ContainerStatusUnknown", { exitCode: 137, reason: "ContainerStatusUnknown", startedAt: null, finishedAt: null }]
  ] as const) {
    it(`not ${what}`, () => assert.deepStrictEqual(candidates(withStatus({ lastState: { terminated: t } })), []))
  }
})

describe("the node signal's subject", () => {
  const pod = (name: string, o: Parameters<typeof kubectlPod>[1] = {}) => decodePod(kubectlPod(name, o))
  const guaranteed = { qos: "Guaranteed", limits: { memory: "1Gi", cpu: "1" }, requests: { memory: "1Gi", cpu: "1" } }
  const burstable = { qos: "Burstable", limits: { memory: "1Gi" }, requests: { memory: "256Mi" } }

  it("kubectl's evicted pod decodes (null startedAt/finishedAt, managedFields) and is a pressure eviction", () => {
    const p = pod("cache-7d9f8c6b5d-x1", { qos: "BestEffort", status: evictedStatus })
    assert.isTrue(isPressureEviction(p))
    assert.isNull(p.status?.containerStatuses?.[0]?.state?.terminated?.finishedAt)
    assert.isFalse(isPressureEviction(pod("api-7d9f8c6b5d-a1", burstable)))
  })

  it("the most recent OOMKilled pod first (a kernel OOM victim on the node)", () => {
    const oom = pod("api-7d9f8c6b5d-a1", { ...burstable, status: { containerStatuses: [{ name: "app", ready: true, restartCount: 1, lastState: { terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: "2026-11-30T10:05:00Z" } } }] } })
    const s = nodeSubject([pod("cache-7d9f8c6b5d-x1", { qos: "BestEffort", status: evictedStatus }), oom])
    assert.strictEqual(s?.pod, "api-7d9f8c6b5d-a1")
    assert.strictEqual(s?.container, "app")
  })

  it("no OOMKilled pod: the kubelet's pressure evictions, BestEffort before Burstable", () => {
    const s = nodeSubject([
      pod("api-7d9f8c6b5d-a1", { ...burstable, status: evictedStatus }),
      pod("cache-7d9f8c6b5d-x1", { qos: "BestEffort", status: evictedStatus }),
      pod("db-7d9f8c6b5d-d1", guaranteed)
    ])
    assert.strictEqual(s?.pod, "cache-7d9f8c6b5d-x1")
    assert.match(s!.why, /BestEffort pod the kubelet evicted/)
  })

  it("no eviction either: the top memory consumer, BestEffort first, then by working set", () => {
    const pods = [pod("db-7d9f8c6b5d-d1", guaranteed), pod("api-7d9f8c6b5d-a1", burstable), pod("web-7d9f8c6b5d-w1", burstable)]
    const usage = new Map([["shop/db-7d9f8c6b5d-d1", 900 * Mi], ["shop/api-7d9f8c6b5d-a1", 300 * Mi], ["shop/web-7d9f8c6b5d-w1", 700 * Mi]])
    assert.strictEqual(nodeSubject(pods, usage)?.pod, "web-7d9f8c6b5d-w1", "Burstable before Guaranteed, then the larger working set")
    const be = pod("batch-7d9f8c6b5d-b1", { qos: "BestEffort" })
    assert.strictEqual(nodeSubject([...pods, be], usage)?.pod, "batch-7d9f8c6b5d-b1", "BestEffort first, even with no sample")
    assert.isUndefined(nodeSubject([]))
  })

  it("the workload hint: a ReplicaSet named <deployment>-<pod-template-hash> names the Deployment", () => {
    assert.deepStrictEqual(workloadHint(pod("api-7d9f8c6b5d-a1")), { kind: "Deployment", name: "api" })
  })
})

describe("node_pressure classifies from node facts", () => {
  const podFacts = (limit: number | null): OomClassifier.PodFacts => ({
    namespace: "shop", pod: "cache-7d9f8c6b5d-x1", container: "app", node: "node-2", restartCount: 0,
    memoryLimitBytes: limit, memoryRequestBytes: null,
    lastTermination: { reason: "ContainerStatusUnknown", exitCode: 137, finishedAt: null },
    ready: false, workload: { kind: "Deployment", name: "cache", resourceVersion: "1" }, env: []
  })
  const facts = (limit: number | null, pressure: boolean, ws: number | null): Fact.Facts<OomFacts> => ({
    pod: Fact.known(podFacts(limit)),
    runtimeHeap: Fact.known(null),
    node: Fact.known({ name: "node-2", resourceVersion: "9", unschedulable: false, memoryPressure: pressure, allocatableMemoryBytes: 7 * 1024 * Mi }),
    workingSet: Fact.known({ bytes: ws }),
    trend: Fact.unknown("prometheus memory trend", "not recorded"),
    hpa: Fact.known(null),
    lastDeploy: Fact.known(null),
    oomMarkers: Fact.known([])
  })
  const classOf = (f: Fact.Facts<OomFacts>) => {
    const c = OomClassifier.classify()(f)
    return c._tag === "Classified" ? c.class : c._tag
  }
  it("an evicted pod without a memory limit on a pressured node → node_pressure (even with no working-set sample)", () => {
    assert.strictEqual(classOf(facts(null, true, null)), "node_pressure")
    assert.strictEqual(classOf(facts(null, true, 3 * 1024 * Mi)), "node_pressure")
  })
  it("near misses: the pressure gone → not an OOM (exit 137 without OOMKilled); a limited pod at 70% → not node_pressure", () => {
    assert.strictEqual(classOf(facts(null, false, null)), "Unclassified")
    assert.notStrictEqual(classOf(facts(1024 * Mi, true, 717 * Mi)), "node_pressure")
    assert.strictEqual(classOf(facts(1024 * Mi, true, 716 * Mi)), "node_pressure")
  })
})

describe("wire JSON as kubectl prints it", () => {
  it.effect("null timestamps decode everywhere kubectl prints them", () =>
    Effect.sync(() => {
      const p = decodePod(kubectlPod("api-7d9f8c6b5d-a1", { status: { containerStatuses: [{ name: "app", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating", message: null } }, lastState: { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", startedAt: null, finishedAt: null, message: null } } }] } }))
      assert.isNull(p.status?.containerStatuses?.[0]?.lastState?.terminated?.startedAt)
      const n = Schema.decodeUnknownSync(Wire.Node)({ metadata: { name: "node-2", creationTimestamp: null }, status: { conditions: [{ type: "MemoryPressure", status: "True", lastTransitionTime: null }] } })
      assert.strictEqual(n.status?.conditions?.[0]?.status, "True")
      assert.throws(() => decodePod({ metadata: { name: "x" }, spec: { containers: [] }, status: { containerStatuses: [{ name: "app", ready: false, restartCount: 0, lastState: { terminated: { finishedAt: 5 } } }] } }))
    }))
})
