/**
 * host.cpu.saturation end to end through core (`Runbook.handle`) on real processes: a CPU burner
 * runs as a unit under LocalSupervisor (its own cgroup); the runbook considers only the
 * supervisor's processes (the machine is shared) and reads a `/proc/stat` the test drives.
 * auto: oom_score_adj raised, reniced to +10, re-sampled, restarted through the ServiceManager only
 * while still saturated; dry_run and observe change nothing; steal-dominated escalates.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Runbook, Signal } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { HostCpuSaturation, LocalSupervisor, ServiceManager } from "../../src/index"
import { cpuFeed } from "./support"

const UNIT = "bp-burner.service"

describe("host.cpu.saturation on a real CPU burner (LocalSupervisor)", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  let root: string
  let dir: string
  beforeAll(async () => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-cpu-"))
    scope = Effect.runSync(Scope.make())
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({
      units: [{ name: UNIT, argv: [process.execPath, "-e", "for(;;){}"] }, { name: "bp-idle.service", argv: ["sleep", "1000"] }]
    })))
    root = nodePath.basename(nodePath.dirname(sup.snapshot(UNIT)!.cgroup))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const handle = (mode: "auto" | "dry_run" | "observe", feed: { busy: number; steal?: number }, resampleSeconds = 2, extra: Partial<HostCpuSaturation.Options> = {}) =>
    Effect.gen(function*() {
      const statPath = nodePath.join(dir, `stat-${Math.random()}`)
      const f = cpuFeed(statPath, feed)
      try {
        const rb = HostCpuSaturation.make({
          statPath,
          sampleMillis: 300,
          resampleSeconds,
          verifyAfterSeconds: 0,
          filter: (p) => p.cgroup.includes(root),
          ...extra
        })
        const signal = Signal.make({ type: HostCpuSaturation.SIGNAL_TYPE, target: HostCpuSaturation.target("test-host"), observedAt: Date.now(), source: "test", evidence: { busyPercent: feed.busy } })
        const manager = ServiceManager.systemd(sup.shell)
        const r = yield* Runbook.handle(rb, signal, { mode }).pipe(
          Effect.provide(Testing.layer({ handlers: HostCpuSaturation.handlers(manager), checks: HostCpuSaturation.checks() }))
        )
        if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
        return r as IncidentReport.IncidentReport
      } finally {
        f.stop()
      }
    })
  const cls = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag)
  const nice = (pid: number) => os.getPriority(pid)
  const score = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, "utf8"))

  it.live("dry_run and observe change nothing: same main process, same nice, same oom_score_adj", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(UNIT)!.mainPid!
      for (const mode of ["observe", "dry_run"] as const) {
        const r = yield* handle(mode, { busy: 97 })
        assert.strictEqual(cls(r), "runaway_process", `${mode}: ${JSON.stringify(r.facts).slice(0, 600)} ${JSON.stringify(r.classification).slice(0, 400)}`)
        assert.strictEqual(sup.snapshot(UNIT)!.mainPid, pid)
        assert.strictEqual(nice(pid), 0)
        assert.strictEqual(score(pid), 0)
      }
    }), 30_000)

  it.live("relieved after renice: oom_score_adj 500 and nice +10 on the burner, no restart", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(UNIT)!.mainPid!
      // saturated while diagnosing; the feed drops to 40% once the renice lands (the re-sample passes)
      const feed = { busy: 97 }
      const watcher = setInterval(() => {
        if (nice(pid) === 10) feed.busy = 40
      }, 10)
      try {
        const r = yield* handle("auto", feed)
        assert.strictEqual(cls(r), "runaway_process")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation?.reason))
        assert.strictEqual(score(pid), 500)
        assert.strictEqual(nice(pid), 10)
        assert.strictEqual(sup.snapshot(UNIT)!.mainPid, pid, "not restarted")
        assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied").map((o) => o.kind), ["host.process.oom-score-adj", "host.process.renice"])
        assert.isFalse(r.outcomes.some((o) => o.kind === "host.service.restart"))
      } finally {
        clearInterval(watcher)
      }
    }), 30_000)

  it.live("still saturated after the re-sample: the unit is restarted through the ServiceManager (a new main process)", () =>
    Effect.gen(function*() {
      yield* sup.shell.run(["systemctl", "restart", UNIT])
      const pid = sup.snapshot(UNIT)!.mainPid!
      const r = yield* handle("auto", { busy: 97 })
      assert.strictEqual(cls(r), "runaway_process")
      const applied = r.outcomes.filter((o) => o.status === "applied").map((o) => o.kind)
      assert.deepStrictEqual(applied, ["host.process.oom-score-adj", "host.process.renice", "host.service.restart"])
      const now = sup.snapshot(UNIT)!.mainPid!
      assert.notStrictEqual(now, pid)
      assert.isFalse(fs.existsSync(`/proc/${pid}/stat`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"))
      // the feed stays at 97%: the verifier does not call it recovered
      assert.notStrictEqual(r.status, "recovered")
    }), 30_000)

  it.live("steal-dominated saturation escalates and touches nothing", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(UNIT)!.mainPid!
      const before = [nice(pid), score(pid)]
      const r = yield* handle("auto", { busy: 95, steal: 70 })
      assert.strictEqual(cls(r), "steal_dominated")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /hypervisor steal/)
      assert.strictEqual(sup.snapshot(UNIT)!.mainPid, pid)
      assert.deepStrictEqual([nice(pid), score(pid)], before)
    }), 30_000)

  it.live("a protected top consumer (the operator's never-touch list) escalates and touches nothing", () =>
    Effect.gen(function*() {
      const pid = sup.snapshot(UNIT)!.mainPid!
      const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()
      const before = [nice(pid), score(pid)]
      const r = yield* handle("auto", { busy: 97 }, 2, { operatorList: [comm] })
      assert.strictEqual(cls(r), "protected_consumer")
      assert.strictEqual(r.status, "escalated")
      assert.include(r.escalation!.reason, `pid ${pid}`)
      assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied"), [])
      assert.strictEqual(sup.snapshot(UNIT)!.mainPid, pid)
      assert.deepStrictEqual([nice(pid), score(pid)], before)
    }), 30_000)
})
