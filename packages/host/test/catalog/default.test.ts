import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Catalog, Classification, Runbook, Signal, TargetRef } from "@byteport/core"
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"
import * as HostCatalog from "../../src/catalog"
import * as Cleaners from "../../src/actions/Cleaners"
import * as HostFs from "../../src/fs/HostFs"
import * as Safety from "../../src/safety/Safety"
import * as ServiceManager from "../../src/services/ServiceManager"
import * as CpuSaturation from "../../src/runbooks/host.cpu.saturation"
import * as DiskUsage from "../../src/detectors/DiskUsage"
import * as FiveClass from "../../src/runbooks/host.memory.five-class"
import * as Runaway from "../../src/runbooks/host.memory.runaway"
import * as MemorySaturation from "../../src/runbooks/host.memory.saturation"

const withPrecedence = <R>(catalog: Catalog.Catalog<R>) =>
  catalog.entries.map((e) => `${e.rank + 1} ${e.runbook.id} ${e.runbook.family} ${e.runbook.precedence} ${e.enabled ? "on" : "off"}`)

const enabledIds = <R>(catalog: Catalog.Catalog<R>) => catalog.entries.filter((e) => e.enabled).map((e) => e.runbook.id)

const signal = (type: string, kind = "host.memory") => Signal.make({ type, target: TargetRef.make(kind, "h1"), observedAt: 0, source: "test", evidence: {} })

describe("HostCatalog: the default catalog", () => {
  it("pins families, precedence, ranking and the defaults: five-class, cpu.saturation, disk.cleanup", () => {
    const catalog = HostCatalog.make()
    assert.deepStrictEqual(withPrecedence(catalog), [
      "1 host.memory.five-class host.memory 30 on",
      "2 host.memory.saturation host.memory 40 off",
      "3 host.memory.runaway host.memory 45 off",
      "4 host.cpu.saturation host.cpu 50 on",
      "5 host.disk.cleanup host.disk 50 on",
      "6 host.disk.reclaim host.disk 60 off"
    ])
    // the core table, signals included: a runbook that gains or loses a signal shows here
    expect(Catalog.describe(catalog)).toMatchInlineSnapshot(`
      "| rank | runbook | family | enabled | signals |
      |---|---|---|---|---|
      | 1 | host.memory.five-class | host.memory | yes | host.memory.pressure, oom.observed |
      | 2 | host.memory.saturation | host.memory | no | host.memory.saturation |
      | 3 | host.memory.runaway | host.memory | no | host.memory.runaway |
      | 4 | host.cpu.saturation | host.cpu | yes | host.cpu.saturation |
      | 5 | host.disk.cleanup | host.disk | yes | host.disk.usage |
      | 6 | host.disk.reclaim | host.disk | no | host.disk.usage |"
    `)
    assert.deepStrictEqual(enabledIds(catalog), [...HostCatalog.defaults])
    assert.deepStrictEqual([...new Set(catalog.entries.map((e) => e.runbook.family))], Object.values(HostCatalog.Family))
  })

  it("enable adds saturation, runaway and reclaim on top of the defaults; disable wins; only replaces", () => {
    const all = HostCatalog.make({ enable: [MemorySaturation.ID, Runaway.ID, "host.disk.reclaim"] })
    assert.deepStrictEqual(enabledIds(all), [...HostCatalog.ids])
    const off = HostCatalog.make({ enable: [Runaway.ID], disable: [Runaway.ID, CpuSaturation.ID] })
    assert.deepStrictEqual(enabledIds(off), [FiveClass.ID, "host.disk.cleanup"])
    assert.deepStrictEqual(enabledIds(HostCatalog.make({ only: [Runaway.ID] })), [Runaway.ID])
    assert.throws(() => HostCatalog.make({ enable: ["host.memory.nope"] }), /unknown runbook id host.memory.nope/)
  })

  it("precedence routes a target's signals: five-class before saturation before runaway, cleanup before reclaim; order overrides", () => {
    const all = HostCatalog.make({ enable: [...HostCatalog.ids] })
    const memory = [signal(MemorySaturation.SIGNAL_TYPE), signal(Runaway.SIGNAL_TYPE), signal(FiveClass.SIGNAL_TYPE)]
    assert.strictEqual(Catalog.route(all, memory)?.runbook.id, FiveClass.ID)
    assert.strictEqual(Catalog.route(all, memory.slice(0, 2))?.runbook.id, MemorySaturation.ID)
    assert.strictEqual(Catalog.route(all, [signal(Runaway.SIGNAL_TYPE)])?.runbook.id, Runaway.ID)
    assert.strictEqual(Catalog.route(all, [signal(DiskUsage.SIGNAL_TYPE, "host.disk")])?.runbook.id, "host.disk.cleanup")
    // with only the defaults on, saturation and runaway signals find no runbook
    assert.isUndefined(Catalog.route(HostCatalog.make(), memory.slice(0, 2)))
    // the user's order ranks reclaim first: it becomes host.disk's default
    const reordered = HostCatalog.make({ order: ["host.disk.reclaim"] })
    assert.deepStrictEqual(enabledIds(reordered), ["host.disk.reclaim", FiveClass.ID, CpuSaturation.ID])
    assert.strictEqual(Catalog.route(reordered, [signal(DiskUsage.SIGNAL_TYPE, "host.disk")])?.runbook.id, "host.disk.reclaim")
  })

  it("each runbook's options reach it; extra runbooks join and rank by precedence", () => {
    const extra = Runbook.make<{}>({
      id: "acme.host.memory",
      family: HostCatalog.Family.memory,
      signals: [MemorySaturation.SIGNAL_TYPE],
      precedence: 10,
      diagnose: () => Effect.succeed({}),
      classify: () => Classification.unclassified(["custom"]),
      remediate: () => Effect.die("unused")
    })
    const dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-catalog-")))
    fs.mkdirSync(`${dir}/tmp`)
    fs.mkdirSync(`${dir}/log`)
    // the disk roots reach both disk runbooks: a root that does not exist is refused when the catalog is built
    assert.throws(() => HostCatalog.make({ disk: { tmpRoots: [`${dir}/nowhere`], logRoots: [`${dir}/log`] } }), /nowhere/)
    assert.throws(() => HostCatalog.make({ disk: { tmpRoots: [`${dir}/tmp`], logRoots: [`${dir}/log`] }, runbooks: { "host.disk.reclaim": { logRoots: [`${dir}/gone`] } } }), /gone/)
    const catalog = HostCatalog.make({
      disk: { tmpRoots: [`${dir}/tmp`], logRoots: [`${dir}/log`] },
      runbooks: { "host.cpu.saturation": { defaultMode: "auto" }, "host.disk.reclaim": { defaultMode: "observe" } },
      extra: [extra]
    })
    const byId = new Map(catalog.entries.map((e) => [e.runbook.id, e.runbook]))
    assert.strictEqual(byId.get(CpuSaturation.ID)!.defaultMode, "auto")
    assert.strictEqual(byId.get("host.disk.reclaim")!.defaultMode, "observe")
    assert.strictEqual(byId.get("host.disk.cleanup")!.defaultMode, "dry_run")
    // the extra runbook outranks five-class in host.memory and becomes its default
    assert.deepStrictEqual(enabledIds(catalog), ["acme.host.memory", CpuSaturation.ID, "host.disk.cleanup"])
    assert.deepStrictEqual(HostCatalog.DEFAULT_DISK_ROOTS.tmpRoots, ["/tmp", "/var/tmp"])
    fs.rmSync(dir, { recursive: true, force: true })
  })
})

describe("HostCatalog.handlers: every action kind its plans use, each declaring observe", () => {
  it("one handler per kind; with a ServiceManager restarts and MemoryMax, without none; every kind has observe", () => {
    const dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-catalog-")))
    fs.mkdirSync(`${dir}/tmp`)
    fs.mkdirSync(`${dir}/log`)
    const disk = { tmpRoots: [`${dir}/tmp`], logRoots: [`${dir}/log`] }
    const withManager = HostCatalog.handlers({ manager: ServiceManager.systemd(Shell.local), disk })
    const kinds = withManager.map((h) => h.kind)
    assert.deepStrictEqual([...kinds].sort(), [
      "host.crictl.prune",
      "host.docker.prune",
      "host.journal.vacuum",
      "host.jvm.heap-dump",
      "host.log.gzip",
      "host.log.rotate",
      "host.memory.runaway.restart-requested",
      "host.package-cache.prune",
      "host.process.oom-score-adj",
      "host.process.renice",
      "host.process.signal",
      "host.service.memory-max",
      "host.service.restart",
      "host.tmp.delete",
      "host.volume.growfs"
    ])
    // no manager: no restart, no MemoryMax (never a kill instead)
    const bare = HostCatalog.handlers({ disk }).map((h) => h.kind)
    assert.notInclude(bare, "host.service.restart")
    assert.notInclude(bare, "host.service.memory-max")
    // the cleaners over a HostFs too
    const policy = Safety.policy({ roots: [`${dir}/tmp`] })
    const all = [...withManager, Cleaners.deleteTmpHandlerOn(HostFs.local, policy), Cleaners.gzipLogHandlerOn(HostFs.local, policy)]
    for (const h of all) assert.isFunction(h.observe, `${h.kind} declares observe`)
    assert.deepStrictEqual(HostCatalog.checks().map((c) => c.kind).sort(), ["host.cpu.below", "host.disk.below-floor", "host.memory.below", "host.memory.five-class.below"].sort())
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
