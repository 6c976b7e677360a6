/**
 * Process control on real processes (renice, oom_score_adj, signals, restart through a
 * LocalSupervisor), each conditional on pid + starttime; the never-touched set on this machine's
 * table and, as a property, over generated process tables: no critical process is ever acted on.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Action, ActionHandler, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Effect, Exit, Scope } from "effect"
import * as fc from "fast-check"
import * as Permit from "../../../core/src/Permit"
import { LocalSupervisor, ProcessControl, ProcessGuard, ServiceManager } from "../../src/index"
import { eventually } from "../support/serviceManagerContract"

const run = (h: ActionHandler.ActionHandler, params: Json.JsonObject, mode: "auto" | "dry_run" = "auto") => {
  const action = Action.make({ kind: h.kind, target: TargetRef.make("host.process", String(params["pid"])), params, description: h.kind })
  const permit = Permit.mint(Action.digest(action), "inc-1", Date.now() + 60_000, mode, `p-${Math.random()}`)
  return { action, run: h.run(action, permit), observe: h.observe!(action, { incidentId: "inc-1", since: 0 }) }
}
const failure = (exit: Exit.Exit<unknown, unknown>): { message: string; conflict?: boolean } => {
  assert.isTrue(Exit.isFailure(exit))
  return (exit as Exit.Failure<unknown, unknown>).cause.reasons.map((r) => (r as { error?: unknown }).error).find(Boolean) as { message: string; conflict?: boolean }
}
const target = (pid: number) => {
  const p = ProcessGuard.read(pid)!
  return { pid, starttime: p.starttime, comm: p.comm }
}

describe("ProcessControl on real processes", () => {
  let child: ChildProcess
  beforeAll(() => {
    child = spawn(process.execPath, ["-e", "process.on('SIGUSR2',()=>{console.log('usr2');});setInterval(()=>{},1000)"], { stdio: ["ignore", "pipe", "ignore"] })
  })
  afterAll(() => {
    child.kill("SIGKILL")
  })

  it.effect("renice: dry_run changes nothing; auto sets the nice value; observe tells; raising priority is refused", () =>
    Effect.gen(function*() {
      const h = ProcessControl.reniceHandler()
      const t = target(child.pid!)
      const from = os.getPriority(child.pid!)
      const dry = run(h, { ...t, fromNice: from, nice: 10 }, "dry_run")
      yield* dry.run
      assert.strictEqual(os.getPriority(child.pid!), from)
      assert.strictEqual((yield* dry.observe)._tag, "NotApplied")
      const real = run(h, { ...t, fromNice: from, nice: 10 })
      yield* real.run
      assert.strictEqual(os.getPriority(child.pid!), 10)
      assert.strictEqual((yield* real.observe)._tag, "Applied")
      const up = failure(yield* Effect.exit(run(h, { ...t, fromNice: 10, nice: 0 }).run))
      assert.match(up.message, /only lowers priority/)
      assert.strictEqual(os.getPriority(child.pid!), 10)
    }))

  it.effect("oom_score_adj: raised for real; lowering refused; a stale starttime is a conflict and changes nothing", () =>
    Effect.gen(function*() {
      const h = ProcessControl.oomScoreAdjHandler()
      const t = target(child.pid!)
      const score = () => Number(fs.readFileSync(`/proc/${child.pid}/oom_score_adj`, "utf8"))
      const from = score()
      yield* run(h, { ...t, fromScore: from, score: 500 }).run
      assert.strictEqual(score(), 500)
      const down = failure(yield* Effect.exit(run(h, { ...t, fromScore: 500, score: 0 }).run))
      assert.match(down.message, /only raised/)
      const stale = failure(yield* Effect.exit(run(h, { ...t, starttime: t.starttime + 1, fromScore: 500, score: 900 }).run))
      assert.isTrue(stale.conflict)
      assert.strictEqual(score(), 500)
    }))

  it.live("signal: SIGUSR2 reaches the process; SIGTERM / SIGKILL are not signals this kind sends", () =>
    Effect.gen(function*() {
      const h = ProcessControl.signalHandler()
      const t = target(child.pid!)
      let got = ""
      child.stdout!.on("data", (d: Buffer) => (got += d.toString()))
      yield* run(h, { ...t, signal: "SIGUSR2" }).run
      yield* eventually(() => Effect.succeed(got.includes("usr2") ? true : undefined), 5_000)
      for (const signal of ["SIGTERM", "SIGKILL"]) {
        const e = failure(yield* Effect.exit(run(h, { ...t, signal }).run))
        assert.match(e.message, /invalid params/)
      }
      assert.isNull(child.exitCode)
      assert.isNull(child.signalCode)
    }))

  it.effect("the never-touched set on this machine: PID 1, BytePort itself and its parent are refused", () =>
    Effect.gen(function*() {
      const h = ProcessControl.reniceHandler()
      for (const pid of [1, process.pid, process.ppid]) {
        const t = target(pid)
        const e = failure(yield* Effect.exit(run(h, { ...t, fromNice: os.getPriority(pid), nice: 19 }).run))
        assert.match(e.message, /refused: (PID 1|BytePort itself|an ancestor of BytePort)/)
      }
      const table = ProcessGuard.snapshot()
      for (const p of table.values()) if (p.kernelThread) assert.strictEqual(ProcessGuard.decide(table, p.pid)._tag, "Critical")
    }))
})

describe("ProcessControl restart through a ServiceManager (LocalSupervisor)", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  let dbDir: string
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    // a "database": sleep under the name postgres (the kernel takes comm from the executed path)
    dbDir = fs.mkdtempSync("/tmp/byteport-db-")
    fs.symlinkSync(fs.realpathSync("/bin/sleep"), `${dbDir}/postgres`)
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({
      units: [{ name: "bp-worker.service", argv: ["sleep", "1000"] }, { name: "bp-db.service", argv: [`${dbDir}/postgres`, "1000"] }]
    })))
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(dbDir, { recursive: true, force: true })
  })

  it.live("restarts only while MainPID is the planned pid + starttime; observe sees the new main process", () =>
    Effect.gen(function*() {
      const manager = ServiceManager.systemd(sup.shell)
      const h = ProcessControl.restartHandler(manager)
      const pid = sup.snapshot("bp-worker.service")!.mainPid!
      const t = { unit: "bp-worker.service", ...target(pid) }
      const dry = run(h, t, "dry_run")
      yield* dry.run
      assert.strictEqual(sup.snapshot("bp-worker.service")!.mainPid, pid)
      assert.strictEqual((yield* dry.observe)._tag, "NotApplied")
      const real = run(h, t)
      yield* real.run
      const now = sup.snapshot("bp-worker.service")!.mainPid!
      assert.notStrictEqual(now, pid)
      assert.strictEqual((yield* real.observe)._tag, "Applied")
      const again = failure(yield* Effect.exit(run(h, t).run))
      assert.isTrue(again.conflict, "the planned main process is gone: a conflict, no second restart")
      assert.strictEqual(sup.snapshot("bp-worker.service")!.mainPid, now)
    }))

  it.live("a stateful service is restarted only when statefulAllowlist names it", () =>
    Effect.gen(function*() {
      const manager = ServiceManager.systemd(sup.shell)
      const pid = sup.snapshot("bp-db.service")!.mainPid!
      const t = { unit: "bp-db.service", ...target(pid) }
      assert.strictEqual(t.comm, "postgres")
      const refused = failure(yield* Effect.exit(run(ProcessControl.restartHandler(manager), t).run))
      assert.match(refused.message, /stateful service not in statefulAllowlist/)
      assert.strictEqual(sup.snapshot("bp-db.service")!.mainPid, pid)
      yield* run(ProcessControl.restartHandler(manager, { statefulAllowlist: ["postgres"] }), t).run
      assert.notStrictEqual(sup.snapshot("bp-db.service")!.mainPid, pid)
    }))
})

// ---------------------------------------------------------------------------------------------
// property: over generated process tables, no critical process is ever acted on

const CRITICAL = ["sshd", "systemd", "systemd-journald", "systemd-udevd", "kubelet", "containerd", "containerd-shim-runc-v2", "dockerd", "crio", "conmon", "runc", "etcd"]
const STATEFUL = ["postgres", "mysqld", "mariadbd", "mongod", "redis-server"]
const ORDINARY = ["node", "java", "python3", "nginx", "worker", "x) y (z", "app"]
const POD = "/kubepods/burstable/pod0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9/" + "ab".repeat(32)

interface Row extends ProcessGuard.Proc {}

const tableArb = fc.record({
  rows: fc.array(
    fc.record({
      comm: fc.constantFrom(...CRITICAL, ...STATEFUL, ...ORDINARY, ...ORDINARY),
      kernel: fc.boolean().map((b) => b && Math.random() < 0.2),
      pod: fc.boolean().map((b) => b && Math.random() < 0.3),
      parent: fc.nat(40)
    }),
    { minLength: 3, maxLength: 40 }
  ),
  self: fc.nat(40),
  operator: fc.subarray(ORDINARY, { maxLength: 2 }),
  allow: fc.subarray(STATEFUL, { maxLength: 2 })
}).map(({ rows, self, operator, allow }) => {
  const table = new Map<number, Row>()
  table.set(1, { pid: 1, ppid: 0, comm: "init", cmdline: ["/sbin/init"], starttime: 1, kernelThread: false, cgroup: "0::/" })
  table.set(2, { pid: 2, ppid: 0, comm: "kthreadd", cmdline: [], starttime: 1, kernelThread: true, cgroup: "0::/" })
  rows.forEach((r, i) => {
    const pid = 100 + i
    const ppid = r.parent % (i + 1) === 0 ? 1 : 100 + (r.parent % i)
    table.set(pid, {
      pid, ppid: r.kernel ? 2 : ppid, comm: r.comm, cmdline: r.kernel ? [] : [`/usr/bin/${r.comm}`], starttime: 1000 + pid,
      kernelThread: r.kernel, cgroup: r.pod ? `4:memory:${POD}\n` : "4:memory:/user.slice\n"
    })
  })
  const selfPid = 100 + (self % rows.length)
  return { table, selfPid, operator, allow }
})

/** An independent oracle of the never-touched set. */
const critical = (table: ReadonlyMap<number, Row>, pid: number, selfPid: number, operator: ReadonlyArray<string>, allow: ReadonlyArray<string>): boolean => {
  const p = table.get(pid)!
  const ancestors = new Set<number>()
  for (let cur: number | undefined = selfPid; cur !== undefined && cur > 0 && !ancestors.has(cur); cur = table.get(cur)?.ppid) ancestors.add(cur)
  return pid === 1 || p.kernelThread || p.ppid === 2 || pid === 2 || ancestors.has(pid) || CRITICAL.includes(p.comm) || operator.includes(p.comm) ||
    p.cgroup.includes("kubepods") || (STATEFUL.includes(p.comm) && !allow.includes(p.comm))
}

describe("ProcessControl property", () => {
  it.effect("over generated process tables: no critical process is reniced, re-scored or signalled", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(tableArb, async ({ table, selfPid, operator, allow }) => {
          const acted: Array<number> = []
          const ops: ProcessControl.Ops = {
            table: () => table,
            nice: () => 0,
            setNice: (pid) => void acted.push(pid),
            oomScoreAdj: () => 0,
            setOomScoreAdj: (pid) => void acted.push(pid),
            kill: (pid) => void acted.push(pid)
          }
          const options = { ops, selfPid, operatorList: operator, statefulAllowlist: allow }
          const hs = [ProcessControl.reniceHandler(options), ProcessControl.oomScoreAdjHandler(options), ProcessControl.signalHandler(options)]
          for (const p of table.values()) {
            const t = { pid: p.pid, starttime: p.starttime, comm: p.comm }
            await Effect.runPromise(Effect.exit(run(hs[0]!, { ...t, fromNice: 0, nice: 10 }).run))
            await Effect.runPromise(Effect.exit(run(hs[1]!, { ...t, fromScore: 0, score: 500 }).run))
            await Effect.runPromise(Effect.exit(run(hs[2]!, { ...t, signal: "SIGUSR2" }).run))
          }
          for (const pid of acted) assert.isFalse(critical(table, pid, selfPid, operator, allow), `acted on critical pid ${pid} (${table.get(pid)!.comm})`)
          // and every non-critical process was acted on three times: the guard is not simply "refuse all"
          for (const p of table.values()) {
            if (!critical(table, p.pid, selfPid, operator, allow)) assert.strictEqual(acted.filter((x) => x === p.pid).length, 3, `pid ${p.pid} ${p.comm}`)
          }
        }),
        { numRuns: 100 }
      )
    ))

  it("a kubepods process names its pod; the systemd-driver form too", () => {
    assert.deepStrictEqual(ProcessGuard.kubepods(`4:memory:${POD}\n`), { podUid: "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", containerId: "ab".repeat(32) })
    const sd = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a_6978_8695_a4b3c2d1e0f9.slice/cri-containerd-" + "cd".repeat(32) + ".scope\n"
    assert.deepStrictEqual(ProcessGuard.kubepods(sd), { podUid: "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9", containerId: "cd".repeat(32) })
    assert.strictEqual(ProcessGuard.kubepods("0::/user.slice\n"), undefined)
  })
})
