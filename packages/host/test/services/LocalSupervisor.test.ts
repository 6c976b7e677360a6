/**
 * LocalSupervisor: the ServiceManager contract (real processes in their own memory cgroups, real
 * OOM kills, real journal files), the Shell contract, and the journal it writes. The same
 * ServiceManager contract against real systemd runs only where systemd is PID 1.
 */
import * as fs from "node:fs"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { Shell } from "@byteport/core/shell"
import { LocalSupervisor, ServiceManager } from "../../src/index"
import { writeJournal } from "../support/journal"
import { serviceManagerContract, eventually, type Subject } from "../support/serviceManagerContract"
import { shellContract } from "../support/shellContract"
import { describeWithServices } from "../support/sshd"

const node = process.execPath
const units: ReadonlyArray<LocalSupervisor.UnitSpec> = [
  { name: "bp-sleeper.service", argv: ["sleep", "1000"] },
  { name: "bp-crasher.service", argv: ["sh", "-c", "echo crashing; sleep 0.3; exit 1"], restartMillis: 100 },
  { name: "bp-hog.service", argv: [node, "-e", "const a=[];for(;;){a.push(Buffer.alloc(8<<20,1))}"], memoryMax: 64 * 1024 * 1024, restart: "no" },
  { name: "bp-limited.service", argv: ["sleep", "1000"] }
]

describeWithServices(["hosttools"], "LocalSupervisor", () => {
  let scope: Scope.Closeable
  let sup: LocalSupervisor.LocalSupervisorShape
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    sup = await Effect.runPromise(Scope.provide(scope)(LocalSupervisor.make({ units })))
  })
  afterAll(async () => {
    const cgroups = sup.units.map((u) => sup.snapshot(u)!.cgroup)
    const pids = sup.units.map((u) => sup.snapshot(u)!.mainPid).filter((p) => p !== undefined)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    for (const p of pids) assert.isFalse(fs.existsSync(`/proc/${p}/stat`) && !fs.readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z"), `unit process ${p} stopped`)
    for (const c of cgroups) assert.isFalse(fs.existsSync(c), `cgroup ${c} removed`)
  })

  describe("ServiceManager contract (ServiceManager.systemd over the LocalSupervisor shell)", () => {
    serviceManagerContract((): Subject => ({
      manager: ServiceManager.systemd(sup.shell),
      units: { sleeper: "bp-sleeper.service", crasher: "bp-crasher.service", hog: "bp-hog.service", limited: "bp-limited.service" },
      journalDirectory: sup.journalDirectory,
      writeArchived: (ageMs) => Effect.orDie(writeJournal(sup.journalDirectory, { archived: true, ageMs, messages: ["archived"] }))
    }))
  })

  describe("Shell contract", () => {
    shellContract(() => sup.shell)
  })

  it.live("each unit runs in its own memory cgroup, with its MemoryMax as the kernel limit", () =>
    Effect.gen(function*() {
      const s = sup.snapshot("bp-sleeper.service")!
      const procs = fs.readFileSync(`${s.cgroup}/cgroup.procs`, "utf8").split("\n").filter(Boolean).map(Number)
      assert.include(procs, s.mainPid!)
      const other = sup.snapshot("bp-limited.service")!
      assert.notStrictEqual(other.cgroup, s.cgroup)
      const hog = sup.snapshot("bp-hog.service")!
      const limitFile = sup.cgroupVersion === 1 ? "memory.limit_in_bytes" : "memory.max"
      assert.strictEqual(Number(fs.readFileSync(`${hog.cgroup}/${limitFile}`, "utf8")), 64 * 1024 * 1024)
    }))

  it.live("the units' output and the manager's messages are real journal entries, read by journalctl -u", () =>
    Effect.gen(function*() {
      const entries = yield* eventually(() =>
        Effect.map(sup.shell.run(["journalctl", "-u", "bp-crasher.service", "-o", "json", "--no-pager"]), (r) => {
          const lines = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>)
          return lines.some((e) => e["MESSAGE"] === "crashing") && lines.some((e) => /Failed with result 'exit-code'/.test(e["MESSAGE"] ?? "")) ? lines : undefined
        }))
      const out = entries.find((e) => e["MESSAGE"] === "crashing")!
      assert.strictEqual(out["_SYSTEMD_UNIT"], "bp-crasher.service")
      assert.match(out["_PID"]!, /^\d+$/)
    }))

  it.live("an OOM kill is in the journal as systemd writes it", () =>
    Effect.gen(function*() {
      yield* eventually(() =>
        Effect.map(sup.shell.run(["journalctl", "-u", "bp-hog.service", "-o", "cat", "--no-pager"]), (r) =>
          /A process of this unit has been killed by the OOM killer\./.test(r.stdout) && /Failed with result 'oom-kill'\./.test(r.stdout) ? true : undefined), 20_000)
    }), 30_000)

  it.live("systemctl answers in systemctl's formats and exit codes", () =>
    Effect.gen(function*() {
      const show = yield* sup.shell.run(["systemctl", "show", "-p", "ActiveState,MemoryMax", "bp-sleeper.service"])
      assert.strictEqual(show.stdout, "ActiveState=active\nMemoryMax=infinity\n")
      const value = yield* sup.shell.run(["systemctl", "show", "-P", "LoadState", "nope.service"])
      assert.strictEqual(value.stdout, "not-found\n")
      const inactive = yield* sup.shell.run(["systemctl", "is-active", "nope.service"])
      assert.deepStrictEqual([inactive.exitCode, inactive.stdout], [3, "inactive\n"])
      const verb = yield* sup.shell.run(["systemctl", "frobnicate", "x.service"])
      assert.strictEqual(verb.exitCode, 1)
    }))
})

const pid1 = fs.readFileSync("/proc/1/comm", "utf8").trim()
describe.skipIf(pid1 !== "systemd")(`ServiceManager contract: real systemd [skipped: needs systemd as PID 1; here PID 1 is ${pid1}]`, () => {
  // transient units (systemd-run) with the contract's settings, stopped afterwards
  const tag = `bp-contract-${process.pid}`
  const names = { sleeper: `${tag}-sleeper.service`, crasher: `${tag}-crasher.service`, hog: `${tag}-hog.service`, limited: `${tag}-limited.service` }
  let journalDirectory: string
  beforeAll(async () => {
    journalDirectory = fs.mkdtempSync("/tmp/byteport-journal-")
    const run = (argv: ReadonlyArray<string>) => Effect.runPromise(Shell.runOk(argv, { timeout: "30 seconds" }).pipe(Effect.provide(Shell.layer(Shell.local))))
    await run(["systemd-run", `--unit=${names.sleeper}`, "-p", "Restart=on-failure", "sleep", "1000"])
    await run(["systemd-run", `--unit=${names.crasher}`, "-p", "Restart=on-failure", "-p", "RestartSec=100ms", "sh", "-c", "echo crashing; sleep 0.3; exit 1"])
    await run(["systemd-run", `--unit=${names.hog}`, "-p", "Restart=no", "-p", "MemoryMax=64M", node, "-e", "const a=[];for(;;){a.push(Buffer.alloc(8<<20,1))}"])
    await run(["systemd-run", `--unit=${names.limited}`, "sleep", "1000"])
  })
  afterAll(async () => {
    for (const u of Object.values(names)) await Effect.runPromise(Effect.ignore(Shell.local.run(["systemctl", "stop", u])))
    fs.rmSync(journalDirectory, { recursive: true, force: true })
  })
  serviceManagerContract((): Subject => ({
    manager: ServiceManager.systemd(Shell.local),
    units: names,
    journalDirectory,
    writeArchived: (ageMs) => Effect.orDie(writeJournal(journalDirectory, { archived: true, ageMs, messages: ["archived"] }))
  }))
})
