/** The saturation runbooks' settings (BYTEPORT_CPU_*, BYTEPORT_MEMORY_*): the seed's numbers as defaults, bad values refused at startup. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit } from "effect"
import { HostCpuSaturation, HostMemorySaturation, ProcessControl } from "../../src/index"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("saturation settings", () => {
  it.effect("defaults: CPU > 85% for 90 s, oom_score_adj 500, renice +10; memory > 90% for 90 s", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* HostCpuSaturation.settings.pipe(withEnv({})), HostCpuSaturation.DEFAULTS)
      assert.deepStrictEqual(HostCpuSaturation.DEFAULTS, { busyPercent: 85, windowSeconds: 90, sampleSeconds: 5, stealShare: 0.5, oomScoreAdj: 500, renice: 10, resampleSeconds: 60 })
      assert.deepStrictEqual(yield* HostMemorySaturation.settings.pipe(withEnv({})), HostMemorySaturation.DEFAULTS)
      assert.deepStrictEqual(HostMemorySaturation.DEFAULTS, { usedPercent: 90, windowSeconds: 90, sampleSeconds: 5, cacheShare: 0.2, shmemShare: 0.3 })
    }))

  it.effect("every number is configurable; a bad value fails naming its key", () =>
    Effect.gen(function*() {
      const cpu = yield* HostCpuSaturation.settings.pipe(withEnv({ BYTEPORT_CPU_BUSY_PERCENT: "75", BYTEPORT_CPU_WINDOW_SECONDS: "120" }))
      assert.deepStrictEqual([cpu.busyPercent, cpu.windowSeconds], [75, 120])
      const mem = yield* HostMemorySaturation.settings.pipe(withEnv({ BYTEPORT_MEMORY_USED_PERCENT: "95" }))
      assert.strictEqual(mem.usedPercent, 95)
      const bad = yield* Effect.exit(HostCpuSaturation.settings.pipe(withEnv({ BYTEPORT_CPU_WINDOW_SECONDS: "-3" })))
      assert.isTrue(Exit.isFailure(bad))
      assert.match(String(Exit.isFailure(bad) ? bad.cause : ""), /BYTEPORT_CPU_WINDOW_SECONDS/)
      const share = yield* Effect.exit(HostMemorySaturation.settings.pipe(withEnv({ BYTEPORT_MEMORY_SHMEM_SHARE: "2" })))
      assert.isTrue(Exit.isFailure(share))
    }))

  it("no manager, no restart: without a ServiceManager the handlers have no restart kind", () => {
    assert.deepStrictEqual(ProcessControl.handlers().map((h) => h.kind), ["host.process.renice", "host.process.oom-score-adj", "host.process.signal"])
    assert.deepStrictEqual(HostCpuSaturation.handlers(undefined).map((h) => h.kind), ["host.process.renice", "host.process.oom-score-adj", "host.process.signal"])
  })

  it("runbook ids and families", () => {
    const cpu = HostCpuSaturation.make()
    const mem = HostMemorySaturation.make()
    assert.deepStrictEqual([cpu.id, cpu.family, cpu.defaultMode], ["host.cpu.saturation", "host.cpu", "dry_run"])
    assert.deepStrictEqual([mem.id, mem.family, mem.defaultMode], ["host.memory.saturation", "host.memory", "dry_run"])
  })
})
