/**
 * host.disk.cleanup settings (BYTEPORT_DISK_*, validated with core `Settings` at startup) and the
 * statfs detector's threshold edge.
 */
import { Runbook } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as DiskUsage from "../../src/detectors/DiskUsage"
import type * as Statfs from "../../src/readers/Statfs"
import * as HostDiskCleanup from "../../src/runbooks/host.disk.cleanup"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

const usage = (usedPercent: number, freeInodes = 1000): Statfs.Usage => ({
  path: "/var",
  type: 0xef53,
  blockSize: 4096,
  totalBytes: 100,
  usedBytes: usedPercent,
  availableBytes: 100 - usedPercent,
  usedPercent,
  totalInodes: 10_000,
  usedInodes: 10_000 - freeInodes,
  freeInodes,
  inodeUsedPercent: 0
})

describe("host.disk.cleanup settings", () => {
  it.effect("defaults: floor 80, escalate above 85, logs > 7 d, temp > 24 h, both opt-ins off, logrotate > 100 MB, vacuum to 200M", () =>
    Effect.gen(function*() {
      const s = yield* HostDiskCleanup.settings
      assert.deepStrictEqual(s, {
        floorPercent: 80,
        escalatePercent: 85,
        logMaxAgeDays: 7,
        tmpMaxAgeHours: 24,
        dockerPruneEnabled: false,
        packageCachePruneEnabled: false,
        aggressivePrune: false,
        logrotateMinMb: 100,
        vacuumSize: "200M"
      })
    }).pipe(withEnv({})))

  it.effect("configured values are read; a bad one is a ConfigError naming the key, at startup", () =>
    Effect.gen(function*() {
      const s = yield* HostDiskCleanup.settings.pipe(withEnv({ BYTEPORT_DISK_FLOOR_PERCENT: "75", BYTEPORT_DISK_DOCKER_PRUNE_ENABLED: "true" }))
      assert.strictEqual(s.floorPercent, 75)
      assert.isTrue(s.dockerPruneEnabled)
      for (const [key, value] of [["BYTEPORT_DISK_FLOOR_PERCENT", "0"], ["BYTEPORT_DISK_FLOOR_PERCENT", "101"], ["BYTEPORT_DISK_TMP_MAX_AGE_HOURS", "-1"], ["BYTEPORT_DISK_PACKAGE_CACHE_PRUNE_ENABLED", "maybe"], ["BYTEPORT_DISK_JOURNAL_VACUUM_SIZE", "lots"], ["BYTEPORT_DISK_LOGROTATE_MIN_MB", "0"]] as const) {
        const e = yield* Effect.flip(HostDiskCleanup.settings.pipe(withEnv({ [key]: value })))
        assert.include(String(e), key)
      }
      const root = fs.realpathSync(os.tmpdir())
      const rb = HostDiskCleanup.make({ tmpRoots: [root], logRoots: [root], prefix: root })
      const bad = yield* Effect.flip(Runbook.validateConfig(rb).pipe(withEnv({ BYTEPORT_DISK_ESCALATE_PERCENT: "abc" })))
      assert.include(String(bad), "BYTEPORT_DISK_ESCALATE_PERCENT")
      const made = yield* HostDiskCleanup.fromConfig({ tmpRoots: [root], logRoots: [root], prefix: root }).pipe(withEnv({ BYTEPORT_DISK_FLOOR_PERCENT: "70" }))
      assert.strictEqual(made.id, "host.disk.cleanup")
    }))
})

describe("DiskUsage detector", () => {
  it("fires at 80% (the floor) and not at 79%; ≤ 5% inodes free fires whatever the bytes", () => {
    assert.isUndefined(DiskUsage.signalOf(usage(79), 80, 0))
    const s = DiskUsage.signalOf(usage(80), 80, 0)
    assert.strictEqual(s?.type, "host.disk.usage")
    assert.deepStrictEqual(s?.target, { kind: "host.mount", ref: "/var" })
    assert.isDefined(DiskUsage.signalOf(usage(10, 500), 80, 0))
    assert.isUndefined(DiskUsage.signalOf(usage(10, 501), 80, 0))
  })
})
