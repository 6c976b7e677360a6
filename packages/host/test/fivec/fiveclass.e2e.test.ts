/**
 * host.memory.five-class end to end on real processes under LocalSupervisor (each unit in its own
 * memory cgroup): a real JVM (a tiny Java program compiled here) probed with jcmd GC.heap_info,
 * heap-dumped with jcmd GC.heap_dump and restarted on memory_leak; a JVM whose -Xmx exceeds its
 * limit → runtime_misconfig proposal, nothing changed; a Node plateau at ≥ 90 % of its limit with
 * rps-correlated history → MemoryMax raised to 2× and the incident recovers (a bump cures a
 * plateau); a Node leaker really OOM-killed in its cgroup → the /dev/kmsg detector names its unit,
 * and memory_leak restarts it (no bump, never a bare SIGUSR1). observe / dry_run change nothing.
 */
import { Runbook, Signal } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { CgroupMemory, FiveClassStats, HostMemoryFiveClass as F, Kmsg, LocalSupervisor, ServiceManager } from "../../src/index"
import { eventually } from "../support/serviceManagerContract"

const MiB = 1024 * 1024
const JVM = "bp-jvm.service"
const JVM_BIG = "bp-jvm-big.service"
const PLATEAU = "bp-plateau.service"
const LEAK = "bp-leak.service"

const LEAKER_JAVA = `import java.util.*;
public class Leak {
  public static void main(String[] a) throws Exception {
    List<byte[]> keep = new ArrayList<>();
    while (true) { if (keep.size() < 16) keep.add(new byte[1 << 20]); Thread.sleep(200); }
  }
}
`

const climbing = (limit: number, hours: number, rps?: (i: number) => number): ReadonlyArray<FiveClassStats.Sample> =>
  Array.from({ length: 25 }, (_, i) => ({ at: Date.now() - hours * 3_600_000 + (i * hours * 3_600_000) / 24, bytes: Math.round((0.4 + (0.55 * i) / 24) * limit), rps: rps?.(i) }))

describe("host.memory.five-class on real JVMs and Node processes (LocalSupervisor)", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  let manager: ServiceManager.ServiceManagerShape
  let dir: string
  const histories: Record<string, ReadonlyArray<FiveClassStats.Sample>> = {}

  beforeAll(async () => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-fivec-e2e-"))
    fs.writeFileSync(nodePath.join(dir, "Leak.java"), LEAKER_JAVA)
    execFileSync("javac", ["-d", dir, nodePath.join(dir, "Leak.java")])
    scope = Effect.runSync(Scope.make())
    const java = (xmx: string) => ["java", "-XX:+UseSerialGC", "-Xss512k", "-XX:TieredStopAtLevel=1", `-Xmx${xmx}`, "-cp", dir, "Leak"] as const
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({
      units: [
        { name: JVM, argv: [...java("64m")], memoryMax: 384 * MiB, restart: "always" },
        { name: JVM_BIG, argv: [...java("2g")], memoryMax: 384 * MiB, restart: "always" },
        // holds 48 MiB and stays there
        { name: PLATEAU, argv: [process.execPath, "-e", "const a=[];for(let i=0;i<12;i++)a.push(Buffer.alloc(4<<20,1));setInterval(()=>a.length,1000)"], memoryMax: 512 * MiB },
        // grows 4 MiB every 150 ms without end: the OOM killer ends it in its 160 MiB cgroup
        { name: LEAK, argv: [process.execPath, "-e", "const a=[];setInterval(()=>a.push(Buffer.alloc(4<<20,1)),150)"], memoryMax: 160 * MiB, restart: "always", restartMillis: 2000 }
      ]
    })))
    manager = ServiceManager.systemd(sup.shell)
  }, 60_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const watched = (unit: string): F.Watched => ({ unit, cgroup: sup.snapshot(unit)!.cgroup })
  const handle = (unit: string, mode: "auto" | "dry_run" | "observe", meminfoPath?: string) =>
    Effect.gen(function*() {
      const rb = F.make({ history: (u) => Effect.succeed(histories[u] ?? []), shell: sup.shell, manager, verifyAfterSeconds: 0, dumpDirectory: dir, ...(meminfoPath ? { meminfoPath } : {}) })
      const u = yield* F.usage(watched(unit))
      const signal = Signal.make({ type: F.SIGNAL_TYPE, target: F.target(unit, "test-host"), observedAt: Date.now(), source: "test", evidence: { ...watched(unit), percent: u.percent } })
      const r = yield* Runbook.handle(rb, signal, { mode }).pipe(Effect.provide(Testing.layer({ handlers: F.handlers(manager, sup.shell), checks: F.checks() })))
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return r as IncidentReport.IncidentReport
    })
  const cls = (r: IncidentReport.IncidentReport) => (r.classification?._tag === "Classified" ? r.classification.class : JSON.stringify(r.classification))
  const jcmdReady = (unit: string) =>
    eventually(() => Effect.sync(() => {
      const pid = sup.snapshot(unit)?.mainPid
      if (pid === undefined) return undefined
      try {
        return execFileSync("jcmd", [String(pid), "VM.version"], { stdio: "pipe" }).toString().includes("JDK") ? pid : undefined
      } catch {
        return undefined
      }
    }), 30_000)

  it.live("a real JVM: jcmd GC.heap_info is read; a leak history → heap dump then restart; observe and dry_run change nothing", () =>
    Effect.gen(function*() {
      const pid = yield* jcmdReady(JVM)
      const limit = (yield* CgroupMemory.read(sup.snapshot(JVM)!.cgroup)).limitBytes!
      histories[JVM] = climbing(limit, 3)
      const heap = yield* F.heap(watched(JVM), { shell: sup.shell, manager })
      assert.strictEqual(heap.kind, "jvm")
      assert.isAbove(heap.totalBytes!, 0)
      for (const mode of ["observe", "dry_run"] as const) {
        const r = yield* handle(JVM, mode)
        assert.strictEqual(cls(r), "memory_leak", mode)
        assert.strictEqual(sup.snapshot(JVM)!.mainPid, pid)
        assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".hprof")), [])
      }
      const r = yield* handle(JVM, "auto")
      assert.strictEqual(cls(r), "memory_leak")
      assert.strictEqual(r.outcomes.find((o) => o.kind === F.HEAP_DUMP)?.status, "applied")
      assert.strictEqual(r.outcomes.find((o) => o.kind === "host.service.restart")?.status, "applied")
      const dumps = fs.readdirSync(dir).filter((f) => f.endsWith(".hprof"))
      assert.strictEqual(dumps.length, 1)
      assert.isAbove(fs.statSync(nodePath.join(dir, dumps[0]!)).size, 1024)
      yield* eventually(() => Effect.sync(() => (sup.snapshot(JVM)!.mainPid !== undefined && sup.snapshot(JVM)!.mainPid !== pid ? true : undefined)))
    }), 90_000)

  it.live("-Xmx2g under a 384 MiB limit → runtime_misconfig: a proposal of -Xmx288m, nothing applied", () =>
    Effect.gen(function*() {
      const pid = yield* jcmdReady(JVM_BIG)
      histories[JVM_BIG] = []
      const r = yield* handle(JVM_BIG, "auto")
      assert.strictEqual(cls(r), "runtime_misconfig")
      assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied"), [])
      assert.include(JSON.stringify(r), "-Xmx288m")
      assert.strictEqual(sup.snapshot(JVM_BIG)!.mainPid, pid)
      assert.strictEqual(sup.snapshot(JVM_BIG)!.memoryMax, 384 * MiB)
    }), 90_000)

  it.live("a plateau at ≥ 90 % with rps-correlated growth → traffic_spike: MemoryMax 2× and the incident recovers", () =>
    Effect.gen(function*() {
      const cg = sup.snapshot(PLATEAU)!.cgroup
      const settled = yield* eventually(() => Effect.map(CgroupMemory.read(cg), (c) => (c.usageBytes > 48 * MiB ? c.usageBytes : undefined)), 15_000)
      yield* Effect.sleep("500 millis")
      const usage = (yield* CgroupMemory.read(cg)).usageBytes
      const tight = Math.ceil(Math.max(usage, settled) / 0.93 / 4096) * 4096
      yield* manager.setMemoryMax(PLATEAU, tight)
      const before = yield* F.usage(watched(PLATEAU))
      assert.isAtLeast(before.percent, 90)
      histories[PLATEAU] = climbing(tight, 1, (i) => 100 + 40 * i)
      const pid = sup.snapshot(PLATEAU)!.mainPid
      const r = yield* handle(PLATEAU, "auto")
      assert.strictEqual(cls(r), "traffic_spike")
      assert.strictEqual(r.outcomes.find((o) => o.kind === F.MEMORY_MAX)?.status, "applied")
      assert.strictEqual(sup.snapshot(PLATEAU)!.memoryMax, 2 * tight)
      assert.strictEqual(sup.snapshot(PLATEAU)!.mainPid, pid, "no restart for a plateau")
      assert.strictEqual(r.status, "recovered")
    }), 60_000)

  it.live("a steady plateau (p99 > 80 % of the limit) → undersized_limit: a p99 × 1.5 proposal, MemoryMax unchanged; the node at 96 % with the service at < 70 % → noisy_neighbor escalation naming a neighbour", () =>
    Effect.gen(function*() {
      const cg = sup.snapshot(PLATEAU)!.cgroup
      const usage = (yield* CgroupMemory.read(cg)).usageBytes
      const tight = Math.ceil(usage / 0.85 / 4096) * 4096
      yield* manager.setMemoryMax(PLATEAU, tight)
      histories[PLATEAU] = Array.from({ length: 25 }, (_, i) => ({ at: Date.now() - 4 * 3_600_000 + i * 600_000, bytes: usage + (i % 2) * 4096 }))
      const pid = sup.snapshot(PLATEAU)!.mainPid
      const r = yield* handle(PLATEAU, "auto")
      assert.strictEqual(cls(r), "undersized_limit")
      assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied"), [])
      assert.include(JSON.stringify(r), `MemoryMax=${Math.ceil((usage + 4096) * 1.5 / MiB)}M`)
      assert.strictEqual(sup.snapshot(PLATEAU)!.memoryMax, tight)
      // relax the limit so the service is well-behaved; the node (a recorded meminfo) is at 96 %
      yield* manager.setMemoryMax(PLATEAU, tight * 2)
      histories[PLATEAU] = []
      const meminfoPath = nodePath.join(dir, "meminfo")
      fs.writeFileSync(meminfoPath, ["MemTotal: 8388608 kB", "MemFree: 100000 kB", "MemAvailable: 335544 kB", "Buffers: 0 kB", "Cached: 100000 kB", "SwapCached: 0 kB", "Shmem: 1000 kB", "SwapTotal: 0 kB", "SwapFree: 0 kB", ""].join("\n"))
      const n = yield* handle(PLATEAU, "auto", meminfoPath)
      assert.strictEqual(cls(n), "noisy_neighbor")
      assert.strictEqual(n.status, "escalated")
      assert.match(n.escalation!.reason, /largest consumer is .+ \(pid \d+/)
      assert.strictEqual(sup.snapshot(PLATEAU)!.mainPid, pid)
      assert.strictEqual(sup.snapshot(PLATEAU)!.memoryMax, tight * 2)
    }), 60_000)

  it.live("a Node leaker really OOM-killed: the /dev/kmsg detector names its unit; memory_leak restarts it, no bump, no bare SIGUSR1", () =>
    Effect.gen(function*() {
      const since = Number(process.hrtime.bigint() / 1000n)
      const det = F.oomDetector([watched(LEAK), watched(PLATEAU)], { kills: Kmsg.oomKills("/dev/kmsg", { sinceUsec: since }) })
      const first = yield* Stream.runHead(det.signals).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(first._tag, "Some")
      const s = first._tag === "Some" ? (first.value as Signal.Signal) : undefined
      assert.strictEqual(s?.evidence["unit"], LEAK)
      assert.strictEqual(s?.evidence["trigger"], "oom-kill")
      // the respawned leaker, young enough to live through the incident
      const pid = yield* eventually(() => Effect.sync(() => sup.snapshot(LEAK)?.mainPid !== undefined && sup.snapshot(LEAK)!.mainPid !== s?.evidence["killedPid"] ? sup.snapshot(LEAK)!.mainPid : undefined))
      const limit = sup.snapshot(LEAK)!.memoryMax!
      histories[LEAK] = climbing(limit, 3)
      const r = yield* handle(LEAK, "auto")
      assert.strictEqual(cls(r), "memory_leak")
      assert.deepStrictEqual(r.outcomes.map((o) => o.kind), ["host.service.restart"], JSON.stringify(r.escalation))
      assert.strictEqual(sup.snapshot(LEAK)!.memoryMax, limit, "a leak is never bumped")
      assert.notInclude(JSON.stringify(r), "SIGUSR1")
      assert.isTrue(r.outcomes[0]!.status === "applied" || sup.snapshot(LEAK)!.mainPid !== pid)
    }), 60_000)
})
