/**
 * The saturation windows under TestClock: over the threshold in every sample for 90 continuous
 * seconds fires, 89 s does not; 85 % (CPU) / 90 % (memory) is not over, 86 % / 91 % is; a dip resets.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { HostCpuSaturation, HostMemorySaturation, Sustained } from "../../src/index"
import { cpuStat, meminfo } from "./support"

const tmp = () => fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-window-"))

/** Runs the CPU sampler once per virtual second over `busy` (one value per second); returns the seconds at which it fired. */
const cpuRun = (busy: ReadonlyArray<number>, steal = 0) =>
  Effect.gen(function*() {
    const path = nodePath.join(tmp(), "stat")
    const stat = cpuStat(path)
    const sample = HostCpuSaturation.sampler({ statPath: path, host: "h1" })
    yield* sample // the first reading starts the clock
    const fired: Array<number> = []
    for (let i = 0; i < busy.length; i++) {
      yield* TestClock.adjust("1 second")
      stat.tick(busy[i]!, steal)
      const s = yield* sample
      if (s.length > 0) fired.push(i + 1)
    }
    return fired
  })

const memRun = (used: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const path = nodePath.join(tmp(), "meminfo")
    const sample = HostMemorySaturation.sampler({ meminfoPath: path, host: "h1" })
    const fired: Array<number> = []
    for (let i = 0; i < used.length; i++) {
      if (i > 0) yield* TestClock.adjust("1 second")
      meminfo(path, { usedPercent: used[i]! })
      const s = yield* sample
      if (s.length > 0) fired.push(i)
    }
    return fired
  })

const repeat = (v: number, n: number): Array<number> => Array.from({ length: n }, () => v)

describe("host.cpu.saturation window (TestClock)", () => {
  it.effect("86% for 89 s does not fire; the 90th second does", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* cpuRun(repeat(86, 89)), [])
      const fired = yield* cpuRun(repeat(86, 91))
      assert.deepStrictEqual(fired, [90, 91])
    }))

  it.effect("85% (not over 85%) never fires, however long", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* cpuRun(repeat(85, 200)), [])
    }))

  it.effect("a dip resets the window", () =>
    Effect.gen(function*() {
      const fired = yield* cpuRun([...repeat(90, 60), 40, ...repeat(90, 89), ...repeat(90, 1)])
      assert.deepStrictEqual(fired, [151])
    }))

  it.effect("the signal carries busy, steal, the window and the host", () =>
    Effect.gen(function*() {
      const path = nodePath.join(tmp(), "stat")
      const stat = cpuStat(path)
      const sample = HostCpuSaturation.sampler({ statPath: path, host: "h1", windowSeconds: 3 })
      yield* sample
      let last: ReadonlyArray<unknown> = []
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("1 second")
        stat.tick(95, 60)
        last = yield* sample
      }
      assert.strictEqual(last.length, 1)
      const s = last[0] as { type: string; target: { kind: string; ref: string }; evidence: Record<string, unknown> }
      assert.strictEqual(s.type, "host.cpu.saturation")
      assert.deepStrictEqual([s.target.kind, s.target.ref], ["host.cpu", "h1"])
      assert.strictEqual(s.evidence["busyPercent"], 95)
      assert.strictEqual(s.evidence["stealPercent"], 60)
      assert.strictEqual(s.evidence["forSeconds"], 3)
    }))
})

describe("host.memory.saturation window (TestClock)", () => {
  it.effect("91% for 89 s does not fire; at 90 s it does", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* memRun(repeat(91, 90)), [])
      assert.deepStrictEqual(yield* memRun(repeat(91, 92)), [90, 91])
    }))

  it.effect("90% (not over 90%) never fires; a dip resets", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* memRun(repeat(90, 200)), [])
      assert.deepStrictEqual(yield* memRun([...repeat(95, 80), 70, ...repeat(95, 91)]), [171])
    }))
})

describe("Sustained", () => {
  it("the window starts at the reading before the first sample over the threshold", () => {
    let st = Sustained.initial
    st = Sustained.step(st, 0, undefined, 85, 90_000).state
    const a = Sustained.step(st, 1000, 86, 85, 90_000)
    assert.strictEqual(a.forMs, 1000)
    const b = Sustained.step(a.state, 90_000, 86, 85, 90_000)
    assert.isTrue(b.sustained)
    const c = Sustained.step(b.state, 91_000, 85, 85, 90_000)
    assert.deepStrictEqual([c.sustained, c.forMs, c.state.since], [false, 0, undefined])
  })
})
