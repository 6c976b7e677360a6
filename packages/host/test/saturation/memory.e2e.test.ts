/**
 * host.memory.saturation end to end through core on real processes: an allocator that keeps
 * growing runs as a unit under LocalSupervisor; the runbook considers only the supervisor's
 * processes and reads a `/proc/meminfo` the test writes. Real exhaustion → the grower's unit is
 * restarted through the ServiceManager; shmem-heavy → escalation, nothing touched; page-cache
 * pressure → nothing done (and /proc/sys/vm/drop_caches never written).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Runbook, Signal } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { HostMemorySaturation, LocalSupervisor, ServiceManager } from "../../src/index"
import { eventually } from "../support/serviceManagerContract"
import { meminfo } from "./support"

const GROWER = "bp-grower.service"
const rss = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024

describe("host.memory.saturation on a real growing allocator (LocalSupervisor)", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  let tag: string
  let dir: string
  beforeAll(async () => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-mem-"))
    scope = Effect.runSync(Scope.make())
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({
      units: [
        // grows 4 MiB every 50 ms up to 256 MiB, in its own cgroup limited to 512 MiB
        { name: GROWER, argv: [process.execPath, "-e", "const a=[];setInterval(()=>{if(a.length<64)a.push(Buffer.alloc(4<<20,1))},50)"], memoryMax: 512 * 1024 * 1024 },
        { name: "bp-steady.service", argv: ["sleep", "1000"] }
      ]
    })))
    tag = nodePath.basename(nodePath.dirname(sup.snapshot(GROWER)!.cgroup))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const dropCaches = () => {
    try {
      return fs.statSync("/proc/sys/vm/drop_caches").mtimeMs
    } catch {
      return undefined
    }
  }

  const handle = (mode: "auto" | "dry_run" | "observe", m: Parameters<typeof meminfo>[1], extra: Partial<HostMemorySaturation.Options> = {}) =>
    Effect.gen(function*() {
      const meminfoPath = nodePath.join(dir, `meminfo-${Math.random()}`)
      meminfo(meminfoPath, m)
      const rb = HostMemorySaturation.make({ meminfoPath, sampleMillis: 400, verifyAfterSeconds: 0, filter: (p) => p.cgroup.includes(tag), ...extra })
      const signal = Signal.make({ type: HostMemorySaturation.SIGNAL_TYPE, target: HostMemorySaturation.target("test-host"), observedAt: Date.now(), source: "test", evidence: { usedPercent: m.usedPercent } })
      const manager = ServiceManager.systemd(sup.shell)
      const r = yield* Runbook.handle(rb, signal, { mode }).pipe(
        Effect.provide(Testing.layer({ handlers: HostMemorySaturation.handlers(manager), checks: HostMemorySaturation.checks() }))
      )
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return { report: r as IncidentReport.IncidentReport, meminfoPath }
    })
  const cls = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : JSON.stringify(r.classification))

  it.live("dry_run and observe change nothing", () =>
    Effect.gen(function*() {
      yield* eventually(() => Effect.sync(() => (rss(sup.snapshot(GROWER)!.mainPid!) > 32 * 1024 * 1024 ? true : undefined)))
      const pid = sup.snapshot(GROWER)!.mainPid!
      for (const mode of ["observe", "dry_run"] as const) {
        const { report } = yield* handle(mode, { usedPercent: 95 })
        assert.strictEqual(cls(report), "memory_exhaustion", mode)
        assert.strictEqual(sup.snapshot(GROWER)!.mainPid, pid)
      }
    }), 30_000)

  it.live("real exhaustion: the top RSS grower's unit is restarted through the ServiceManager; the steady unit is untouched", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(GROWER)!.mainPid!
      const steady = sup.snapshot("bp-steady.service")!.mainPid!
      const drop = dropCaches()
      const { report } = yield* handle("auto", { usedPercent: 95 })
      assert.strictEqual(cls(report), "memory_exhaustion")
      const restart = report.outcomes.find((o) => o.kind === "host.service.restart")
      assert.strictEqual(restart?.status, "applied")
      assert.notStrictEqual(sup.snapshot(GROWER)!.mainPid, pid)
      assert.strictEqual(sup.snapshot("bp-steady.service")!.mainPid, steady)
      assert.strictEqual(dropCaches(), drop, "drop_caches never written")
      // the meminfo the test wrote still says 95%: not recovered
      assert.notStrictEqual(report.status, "recovered")
    }), 30_000)

  it.live("shmem-heavy: escalates naming Shmem, restarts nothing", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(GROWER)!.mainPid!
      const { report } = yield* handle("auto", { usedPercent: 95, shmemPercent: 40 })
      assert.strictEqual(cls(report), "shmem_heavy")
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation!.reason, /Shmem/)
      assert.strictEqual(sup.snapshot(GROWER)!.mainPid, pid)
    }), 30_000)

  it.live("page-cache pressure: nothing is done and the incident closes once used is under the threshold", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(GROWER)!.mainPid!
      const drop = dropCaches()
      const { report } = yield* handle("auto", { usedPercent: 70, cachedPercent: 40 })
      assert.strictEqual(cls(report), "page_cache_pressure")
      assert.strictEqual(report.status, "recovered")
      assert.deepStrictEqual(report.outcomes.filter((o) => o.status === "applied"), [])
      assert.strictEqual(sup.snapshot(GROWER)!.mainPid, pid)
      assert.strictEqual(dropCaches(), drop)
    }), 30_000)

  it.live("a protected top grower (the operator's never-touch list) escalates naming it and restarts nothing", () =>
    Effect.gen(function*() {
      yield* eventually(() => Effect.sync(() => (rss(sup.snapshot(GROWER)!.mainPid!) > 32 * 1024 * 1024 ? true : undefined)))
      const pid = sup.snapshot(GROWER)!.mainPid!
      const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()
      const { report } = yield* handle("auto", { usedPercent: 95 }, { operatorList: [comm] })
      assert.strictEqual(cls(report), "protected_grower")
      assert.strictEqual(report.status, "escalated")
      assert.include(report.escalation!.reason, `pid ${pid}`)
      assert.deepStrictEqual(report.outcomes.filter((o) => o.status === "applied"), [])
      assert.strictEqual(sup.snapshot(GROWER)!.mainPid, pid)
    }), 30_000)
})
