import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { VirtualClock, parseDuration } from "../../src/clock/VirtualClock"
import { Rng, SAFE_ALPHABET } from "../../src/clock/Rng"
import { QuantityError, parseQuantity, intOrPercent } from "../../src/controllers/quantity"
import { crossingTime, demandAt, heapCeilingFromEnv, validateMemoryModel, type DemandInput } from "../../src/controllers/memory"
import { killTime, probeTiming, readyTime } from "../../src/controllers/probes"
import { goDuration } from "../../src/controllers/Kubelet"
import { sameTemplate, templateHash } from "../../src/controllers/DeploymentController"
import { tolerates } from "../../src/controllers/Scheduler"
import { TimeSeriesDB } from "../../src/metrics/TimeSeries"
import { PromQLError, query, queryRange } from "../../src/metrics/PromQL"
import { Scenario, ScenarioError, loadScenario } from "../../src/scenario/index"

const input = (env: Record<string, string> = {}, rps = 0): DemandInput => ({ startedAt: 0, env, rpsAt: () => rps, rpsBreakpoints: () => [] })

describe("clock and RNG", () => {
  it("fires timers and wake-ups in order and lands on the target", () => {
    const c = new VirtualClock(1000)
    const seen: Array<number> = []
    c.schedule(5000, () => seen.push(c.now()))
    c.wakeAt(3000)
    c.wakeAt(3000)
    const stops: Array<number> = []
    const n = c.advanceTo(10_000, () => stops.push(c.now()))
    assert.deepStrictEqual(seen, [5000])
    assert.deepStrictEqual(stops, [3000, 5000, 10_000])
    assert.strictEqual(n, 2)
    assert.strictEqual(c.iso(), "1970-01-01T00:00:10Z")
  })

  it("parses durations and rejects garbage", () => {
    assert.strictEqual(parseDuration("1h30m"), 5_400_000)
    assert.strictEqual(parseDuration("250ms"), 250)
    assert.throws(() => parseDuration("5 minutes"), RangeError)
    assert.throws(() => parseDuration(-1), RangeError)
  })

  it("is deterministic per seed and uses the safe alphabet", () => {
    const a = new Rng(42)
    const b = new Rng(42)
    const xs = Array.from({ length: 20 }, () => a.suffix(5))
    assert.deepStrictEqual(xs, Array.from({ length: 20 }, () => b.suffix(5)))
    assert.notDeepEqual(xs, Array.from({ length: 20 }, () => new Rng(43).suffix(5)))
    for (const x of xs) for (const ch of x) assert.include(SAFE_ALPHABET, ch)
    assert.match(a.uid(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})

describe("quantities", () => {
  it("parses binary, decimal and milli quantities", () => {
    assert.strictEqual(parseQuantity("512Mi"), 512 * 2 ** 20)
    assert.strictEqual(parseQuantity("1G"), 1e9)
    assert.strictEqual(parseQuantity("250m"), 0.25)
    assert.strictEqual(parseQuantity("2e3"), 2000)
    assert.throws(() => parseQuantity("12 GB"), QuantityError)
    assert.strictEqual(intOrPercent("25%", 3, true, "25%"), 1)
    assert.strictEqual(intOrPercent("25%", 3, false, "25%"), 0)
    assert.strictEqual(intOrPercent(undefined, 10, true, "25%"), 3)
  })
})

describe("memory models", () => {
  it("plateau crossing is exact; a higher limit is never crossed", () => {
    const m = { kind: "plateau" as const, plateauBytes: 1100, startBytes: 500, rampSeconds: 60 }
    const t = crossingTime(m, input(), 1000, 0, 3_600_000)!
    // 500 + 600 × t/60000 > 1000 → t > 50 000 ms
    assert.strictEqual(t, 50_001)
    assert.isUndefined(crossingTime(m, input(), 1200, 0, 86_400_000))
    assert.strictEqual(demandAt(m, input(), 120_000), 1100)
  })

  it("a leak crosses any limit eventually", () => {
    const m = { kind: "leak" as const, baseBytes: 100, bytesPerMinute: 10 }
    assert.strictEqual(crossingTime(m, input(), 200, 0, 86_400_000), 600_001)
    assert.strictEqual(crossingTime(m, input(), 10_000, 0, 30 * 86_400_000), 59_400_001)
  })

  it("traffic follows requests per pod; runtime heap follows the env flag", () => {
    const t = { kind: "traffic" as const, baseBytes: 100, bytesPerRps: 2 }
    assert.strictEqual(demandAt(t, input({}, 50), 0), 200)
    assert.deepStrictEqual(heapCeilingFromEnv({ JAVA_TOOL_OPTIONS: "-XX:+UseG1GC -Xmx2g" }), { bytes: 2 * 2 ** 30, source: "JAVA_TOOL_OPTIONS=-XX:+UseG1GC -Xmx2g" })
    assert.strictEqual(heapCeilingFromEnv({ GOMEMLIMIT: "1536MiB" })!.bytes, 1536 * 2 ** 20)
    assert.strictEqual(heapCeilingFromEnv({ NODE_OPTIONS: "--max-old-space-size=4096" })!.bytes, 4096 * 2 ** 20)
    const h = { kind: "runtimeHeap" as const, overheadBytes: 100, defaultHeapBytes: 1000, heapGrowthBytesPerMinute: 1000 }
    assert.strictEqual(demandAt(h, input({ JAVA_TOOL_OPTIONS: "-Xmx1k" }), 3_600_000), 100 + 1024)
    assert.strictEqual(validateMemoryModel({ kind: "leak", baseBytes: "1Gi" }), "memory model leak: field bytesPerMinute must be a quantity")
    assert.match(validateMemoryModel({ kind: "spiky" })!, /unknown memory model kind/)
  })
})

describe("probes, back-off and templates", () => {
  it("computes liveness kills and readiness from probe settings and start-up time", () => {
    const tight = probeTiming({ initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 })!
    const health = { upAt: 45_000, latencyMs: 5, neverReady: false }
    assert.strictEqual(killTime(tight, 0, 0, health), 15_000)
    const loose = probeTiming({ initialDelaySeconds: 60, periodSeconds: 5, failureThreshold: 3 })!
    assert.isUndefined(killTime(loose, 0, 0, health))
    const slow = { upAt: 0, latencyMs: 2000, neverReady: false }
    assert.strictEqual(killTime(probeTiming({ periodSeconds: 10, timeoutSeconds: 1 })!, 0, 0, slow), 20_000)
    assert.strictEqual(readyTime(probeTiming({ initialDelaySeconds: 5, periodSeconds: 5 })!, 0, 0, { upAt: 12_000, latencyMs: 5, neverReady: false }), 15_000)
    assert.deepStrictEqual([10, 20, 40, 80, 160, 300].map(goDuration), ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"])
  })

  it("template hash and equality ignore pod-template-hash and empty values", () => {
    const a = { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "x", image: "i:1" }] } }
    const b = { metadata: { labels: { app: "x", "pod-template-hash": "abc" }, creationTimestamp: null, annotations: {} }, spec: { containers: [{ name: "x", image: "i:1" }] } }
    assert.isTrue(sameTemplate(a, b))
    assert.isFalse(sameTemplate(a, { ...a, spec: { containers: [{ name: "x", image: "i:2" }] } }))
    assert.strictEqual(templateHash(a), templateHash(structuredClone(a)))
    assert.notStrictEqual(templateHash(a), templateHash(a, 1))
    assert.match(templateHash(a), /^[bcdfghjklmnpqrstvwxz2456789]+$/)
    assert.isTrue(tolerates({ operator: "Exists" }, { key: "k", effect: "NoSchedule" }))
    assert.isFalse(tolerates({ key: "k", value: "a", effect: "NoExecute" }, { key: "k", value: "a", effect: "NoSchedule" }))
  })
})

describe("PromQL subset", () => {
  const db = new TimeSeriesDB()
  for (let t = 0; t <= 600_000; t += 15_000) {
    db.add({ __name__: "req_total", pod: "a", code: "200" }, t, t / 1000 * 10)
    db.add({ __name__: "req_total", pod: "a", code: "500" }, t, t / 1000)
    db.add({ __name__: "req_total", pod: "b", code: "200" }, t, t / 1000 * 30)
    for (const [le, f] of [["0.1", 0.5], ["0.5", 0.9], ["1", 0.99], ["+Inf", 1]] as const) db.add({ __name__: "lat_bucket", pod: "a", le }, t, (t / 1000) * 100 * f)
  }
  it("evaluates rate, aggregation, binary operators and histogram_quantile", () => {
    const v = query(db, 'sum by (pod) (rate(req_total[5m]))', 600_000)
    assert.strictEqual(v.type, "vector")
    const byPod = Object.fromEntries((v as any).samples.map((s: any) => [s.metric.pod, s.value]))
    assert.approximately(byPod.a, 11, 1e-9)
    assert.approximately(byPod.b, 30, 1e-9)
    const ratio = query(db, 'sum(rate(req_total{code=~"5.."}[5m])) / sum(rate(req_total[5m]))', 600_000) as any
    assert.approximately(ratio.samples[0].value, 1 / 41, 1e-9)
    const q = query(db, "histogram_quantile(0.95, sum by (le) (rate(lat_bucket[5m])))", 600_000) as any
    // between 0.5 (90%) and 1 (99%): 0.5 + 0.5 × 5/9
    assert.approximately(q.samples[0].value, 0.5 + 0.5 * (5 / 9), 1e-9)
    const filtered = query(db, 'rate(req_total[5m]) > 20', 600_000) as any
    assert.deepStrictEqual(filtered.samples.map((s: any) => s.metric.pod), ["b"])
    const m = queryRange(db, 'sum(rate(req_total{pod="a"}[1m]))', 300_000, 600_000, 60_000)
    assert.strictEqual(m[0]!.points.length, 6)
  })
  it("rejects what it does not support with a PromQLError", () => {
    for (const bad of ["topk(2, req_total)", "rate(req_total)", "req_total offset 5m", "sum(req_total) by", "a @ 1", "{}"]) {
      assert.throws(() => query(db, bad, 0), PromQLError, undefined, bad)
    }
  })
})

describe("scenario loading", () => {
  it("loads JSON and YAML files and names the bad field", () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-scn-"))
    const yaml = join(dir, "s.yaml")
    writeFileSync(yaml, ["nodes: 2", "workloads:", "  - name: api", "    memoryLimit: 512Mi", "    memory: { kind: leak, baseBytes: 100Mi, bytesPerMinute: 10Mi }", ""].join("\n"))
    const s = loadScenario(yaml)
    assert.strictEqual(s.nodes, 2)
    const json = join(dir, "s.json")
    writeFileSync(json, JSON.stringify(Scenario.cluster().with(Scenario.oom.leak()).build()))
    assert.strictEqual((loadScenario(json).workloads![0] as any).workloads[0].memory.kind, "leak")
    const bad = (v: unknown, path: string) => {
      try {
        loadScenario(v as any)
        assert.fail("expected a ScenarioError")
      } catch (e) {
        assert.instanceOf(e, ScenarioError)
        assert.strictEqual((e as ScenarioError).path, path)
      }
    }
    bad({ workloads: [{ name: "api", memory: { kind: "leak", baseBytes: "1Gi" } }] }, "workloads[0].memory")
    bad({ workloads: [{ name: "API" }] }, "workloads[0].name")
    bad({ workloads: [{ name: "a", memoryLimit: "lots" }] }, "workloads[0].memoryLimit")
    bad({ nodes: -1 }, "nodes")
    bad({ warmup: "soon" }, "warmup")
    bad({ steps: [{ action: "explode" }] }, "steps[0].action")
    bad({ workloads: [{ workloads: [{ name: "a", behaviour: { startupSeconds: "slow" } }] }] }, "workloads[0].workloads[0].behaviour")
    assert.throws(() => loadScenario("{ not json"), ScenarioError)
    const piped = Scenario.cluster({ nodes: 1 }).pipe(Scenario.oom.leak(), (x) => ({ ...x, warmup: "1m" }), { name: "web" }).build()
    assert.strictEqual(piped.warmup, "1m")
    assert.strictEqual(piped.workloads!.length, 2)
  })
})
