/**
 * Golden plans of host.cpu.saturation and host.memory.saturation: fixture facts → the classifier →
 * the plan, compared with reviewed golden files (`BYTEPORT_UPDATE_GOLDEN=1` rewrites them).
 */
import { Plan } from "@byteport/core"
import type { Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { CpuStat, HostCpuSaturation, HostMemorySaturation } from "../../src/index"

const here = path.dirname(new URL(import.meta.url).pathname)
/** The /proc recordings of this machine (test/fixtures/record-proc.sh; CAPTURE.txt says when and how). */
const proc = path.join(here, "..", "fixtures", "proc")

interface Fixture<F> {
  readonly signal: Signal.Signal
  readonly facts: F
  /** The recorded /proc files the numbers come from (the process tables stay hand-written). */
  readonly recording?: { readonly stat?: readonly [string, string]; readonly meminfo?: string }
}
const raw = <F>(name: string): Fixture<F> => JSON.parse(fs.readFileSync(path.join(here, "fixtures", `${name}.json`), "utf8"))

const pct = (x: number) => Math.round(x * 1000) / 10

/** A CPU fixture with busy and steal computed by the runbook's reader from its recorded /proc/stat pair. */
const recordCpu = (name: string): Effect.Effect<Fixture<HostCpuSaturation.CpuFacts>, unknown> =>
  Effect.gen(function*() {
    const f = raw<HostCpuSaturation.CpuFacts>(name)
    if (f.recording?.stat === undefined) return f
    const a = (yield* CpuStat.read(path.join(proc, f.recording.stat[0]))).total
    const b = (yield* CpuStat.read(path.join(proc, f.recording.stat[1]))).total
    const busyPercent = pct(CpuStat.busyFraction(a, b))
    const stealPercent = pct(CpuStat.stealFraction(a, b))
    return { ...f, signal: { ...f.signal, evidence: { ...f.signal.evidence, busyPercent, stealPercent } }, facts: { sample: { ...f.facts.sample, busyPercent, stealPercent } } }
  })

/** A memory fixture with the memory sample read by the runbook's reader from its recorded /proc/meminfo. */
const recordMemory = (name: string): Effect.Effect<Fixture<HostMemorySaturation.MemoryFacts>, unknown> =>
  Effect.gen(function*() {
    const f = raw<HostMemorySaturation.MemoryFacts>(name)
    if (f.recording?.meminfo === undefined) return f
    const memory = yield* HostMemorySaturation.memory(path.join(proc, f.recording.meminfo))
    return { ...f, signal: { ...f.signal, evidence: { ...f.signal.evidence, usedPercent: memory.usedPercent } }, facts: { ...f.facts, memory } }
  })

const CPU = ["cpu-runaway", "cpu-no-unit", "cpu-protected", "cpu-pod", "cpu-steal"]
const MEMORY = ["memory-exhaustion", "memory-shmem", "memory-page-cache", "memory-protected"]
const cpuFixtures = new Map<string, Fixture<HostCpuSaturation.CpuFacts>>()
const memoryFixtures = new Map<string, Fixture<HostMemorySaturation.MemoryFacts>>()
beforeAll(() =>
  Effect.runPromise(Effect.gen(function*() {
    for (const n of CPU) cpuFixtures.set(n, yield* recordCpu(n))
    for (const n of MEMORY) memoryFixtures.set(n, yield* recordMemory(n))
  })))
const loadCpu = (name: string) => cpuFixtures.get(name)!
const loadMemory = (name: string) => memoryFixtures.get(name)!

const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

describe("host.cpu.saturation plans", () => {
  const cases: ReadonlyArray<[string, string, ReadonlyArray<string>]> = [
    ["cpu-runaway", "runaway_process", ["host.process.oom-score-adj", "host.process.renice", "host.service.restart"]],
    ["cpu-no-unit", "runaway_process", ["host.process.oom-score-adj", "host.process.renice"]],
    ["cpu-steal", "steal_dominated", []],
    ["cpu-protected", "protected_consumer", []],
    ["cpu-pod", "protected_consumer", []]
  ]
  for (const [name, cls, acts] of cases) {
    it(`${name}: ${cls} → ${acts.join(", ") || "escalation"}`, () => {
      const f = loadCpu(name)
      const facts = Testing.facts(f.facts)
      const c = HostCpuSaturation.classifier()(facts)
      assert.strictEqual(c._tag, "Classified")
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, cls)
      assert.strictEqual(c.confidence, HostCpuSaturation.CONFIDENCES[cls as keyof typeof HostCpuSaturation.CONFIDENCES])
      const plan = HostCpuSaturation.planOf(c, facts, f.signal)
      Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
      assert.deepStrictEqual(Plan.fromJson(Plan.toJson(plan)), plan)
      assert.deepStrictEqual(kinds(plan), acts)
    })
  }

  it("runaway: every act is conditional on the diagnosed pid + starttime; the restart waits for the re-sample to fail", () => {
    const f = loadCpu("cpu-runaway")
    const facts = Testing.facts(f.facts)
    const c = HostCpuSaturation.classifier()(facts)
    if (c._tag !== "Classified") return assert.fail("unclassified")
    const plan = HostCpuSaturation.planOf(c, facts, f.signal)
    for (const a of Plan.actions(plan.root)) assert.deepStrictEqual([a.action.params["pid"], a.action.params["starttime"]], [4242, 987654])
    const root = plan.root
    if (root._tag !== "Seq") return assert.fail("expected a sequence")
    const last = root.steps[root.steps.length - 1]!
    assert.strictEqual(last._tag, "Fallback")
    if (last._tag === "Fallback") {
      assert.strictEqual(last.primary._tag, "WaitFor")
      assert.deepStrictEqual(last.on, ["failed"])
    }
  })

  it("the pod escalation names the pod", () => {
    const f = loadCpu("cpu-pod")
    const facts = Testing.facts(f.facts)
    const c = HostCpuSaturation.classifier()(facts)
    if (c._tag !== "Classified") return assert.fail("unclassified")
    assert.match(Plan.render(HostCpuSaturation.planOf(c, facts, f.signal)), /pod 0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9/)
  })
})

describe("the recorded /proc fixtures", () => {
  it("CPU fixtures take busy and steal from this machine's /proc/stat (recorded under one busy loop per CPU); memory-page-cache its /proc/meminfo", () => {
    assert.match(fs.readFileSync(path.join(proc, "CAPTURE.txt"), "utf8"), /command: sh packages\/host\/test\/fixtures\/record-proc\.sh/)
    for (const name of ["cpu-runaway", "cpu-no-unit", "cpu-protected", "cpu-pod"]) {
      const f = loadCpu(name)
      assert.deepStrictEqual(f.recording?.stat, ["stat.busy.0", "stat.busy.1"], name)
      assert.isAbove(f.facts.sample.busyPercent, HostCpuSaturation.DEFAULTS.busyPercent, name)
      assert.strictEqual(f.signal.evidence["busyPercent"], f.facts.sample.busyPercent)
    }
    const m = loadMemory("memory-page-cache")
    const text = fs.readFileSync(path.join(proc, "meminfo"), "utf8")
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)![1]) * 1024
    assert.deepStrictEqual([m.facts.memory.memTotal, m.facts.memory.memAvailable, m.facts.memory.shmem], [kb("MemTotal"), kb("MemAvailable"), kb("Shmem")])
    assert.isAtMost(m.facts.memory.usedPercent, HostMemorySaturation.DEFAULTS.usedPercent)
    // the fixtures that are not recordings say so, and why
    for (const name of ["cpu-steal", "memory-exhaustion", "memory-protected", "memory-shmem"]) {
      const f = raw<unknown>(name)
      assert.isUndefined(f.recording, name)
      assert.match(f.signal.source ?? "", /^hand-written: /, name)
    }
  })
})

describe("host.memory.saturation plans", () => {
  const cases: ReadonlyArray<[string, string, ReadonlyArray<string>]> = [
    ["memory-exhaustion", "memory_exhaustion", ["host.service.restart"]],
    ["memory-shmem", "shmem_heavy", []],
    ["memory-page-cache", "page_cache_pressure", []],
    ["memory-protected", "protected_grower", []]
  ]
  for (const [name, cls, acts] of cases) {
    it(`${name}: ${cls} → ${acts.join(", ") || "no action"}`, () => {
      const f = loadMemory(name)
      const facts = Testing.facts(f.facts)
      const c = HostMemorySaturation.classifier()(facts)
      assert.strictEqual(c._tag, "Classified")
      if (c._tag !== "Classified") return
      assert.strictEqual(c.class, cls)
      const plan = HostMemorySaturation.planOf(c, facts, f.signal)
      Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
      assert.deepStrictEqual(kinds(plan), acts)
      // never drop_caches, in any plan
      assert.notMatch(Plan.toJson(plan), /drop_caches"?\s*[:=]|\/proc\/sys\/vm\/drop_caches/)
    })
  }
})
