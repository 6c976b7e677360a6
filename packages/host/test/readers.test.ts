import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as CpuStat from "../src/readers/CpuStat"
import * as Meminfo from "../src/readers/Meminfo"
import * as PidStat from "../src/readers/PidStat"
import * as ProcStatus from "../src/readers/ProcStatus"
import * as Statfs from "../src/readers/Statfs"
import { scanPackage } from "../../../scripts/doc-comments"

const failureTag = (exit: Exit.Exit<unknown, { readonly _tag: string }>): string | undefined =>
  Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error?: { _tag: string } } | undefined)?.error?._tag : undefined

describe("readers", () => {
  it("every export in packages/host/src has a doc comment", () => {
    assert.deepStrictEqual(scanPackage("host"), [])
  })

  it.effect("/proc/meminfo: the real file decodes; kB lines are bytes; MemAvailable ≤ MemTotal", () =>
    Effect.gen(function*() {
      const m = yield* Meminfo.read()
      const text = fs.readFileSync("/proc/meminfo", "utf8")
      const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(text)![1])
      assert.strictEqual(m.memTotal, kb * 1024)
      assert.isTrue(m.memAvailable <= m.memTotal && m.memAvailable > 0)
      assert.strictEqual(m.all["MemTotal"], m.memTotal)
      const u = Meminfo.usedFraction(m)
      assert.isTrue(u > 0 && u < 1)
    }))

  it.effect("/proc/meminfo: a bad line and a missing key fail with ParseError naming them", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.exit(Meminfo.parse("MemTotal: 10 kB\nMemFree: lots kB\n"))
      assert.strictEqual(failureTag(bad), "ParseError")
      assert.match(String(Exit.isFailure(bad) && (bad.cause.reasons[0] as { error: { message: string } }).error.message), /line 2/)
      const missing = yield* Effect.exit(Meminfo.parse("MemTotal: 10 kB\n"))
      assert.match(JSON.stringify(missing), /missing MemFree/)
      const noFile = yield* Effect.exit(Meminfo.read("/nonexistent/meminfo"))
      assert.strictEqual(failureTag(noFile), "HostReadError")
    }))

  it.effect("/proc/stat: aggregate and per-cpu lines; busy fraction from two samples", () =>
    Effect.gen(function*() {
      const a = yield* CpuStat.read()
      assert.strictEqual(a.total.name, "cpu")
      assert.strictEqual(a.cpus.length, os.cpus().length)
      assert.strictEqual(a.cpus[0]!.name, "cpu0")
      const before = { name: "cpu", user: 100, nice: 0, system: 0, idle: 800, iowait: 100, irq: 0, softirq: 0, steal: 0, guest: 0, guestNice: 0 }
      const after = { ...before, user: 190, idle: 805, iowait: 105, steal: 0 }
      // Δtotal = 100, Δ(idle+iowait) = 10 → busy 0.9
      assert.closeTo(CpuStat.busyFraction(before, after), 0.9, 1e-9)
      assert.strictEqual(CpuStat.busyFraction(before, before), 0)
      const short = yield* Effect.exit(CpuStat.parse("cpu 1 2\n"))
      assert.strictEqual(failureTag(short), "ParseError")
      const none = yield* Effect.exit(CpuStat.parse("intr 1 2 3\n"))
      assert.match(JSON.stringify(none), /no aggregate/)
    }))

  it.effect("/proc/<pid>/status: this process's VmRSS and its Rss split", () =>
    Effect.gen(function*() {
      const s = yield* ProcStatus.read(process.pid)
      assert.strictEqual(s.pid, process.pid)
      assert.strictEqual(s.ppid, process.ppid)
      assert.isDefined(s.vmRss)
      // VmRSS = RssAnon + RssFile + RssShmem (each rounded to kB by the kernel)
      assert.strictEqual(s.vmRss, (s.rssAnon ?? 0) + (s.rssFile ?? 0) + (s.rssShmem ?? 0))
      assert.isTrue(s.vmRss! > 10 * 1024 * 1024)
      const kthread = yield* ProcStatus.read(2)
      assert.isUndefined(kthread.vmRss)
      const bad = yield* Effect.exit(ProcStatus.parse("Name:\tx\nState:\tS (sleeping)\nPid:\t1\nPPid:\t0\nUid:\t0 0 0 0\nVmRSS:\t12 MB\n"))
      assert.strictEqual(failureTag(bad), "ParseError")
    }))

  it.effect("/proc/<pid>/stat: a real process whose comm is `x) y (z` splits at the last `)`", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-host-comm-"))
      const bin = nodePath.join(dir, "x) y (z")
      fs.copyFileSync("/bin/sleep", bin)
      fs.chmodSync(bin, 0o755)
      const child = spawn(bin, ["30"], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        child.kill("SIGKILL")
        fs.rmSync(dir, { recursive: true, force: true })
      }))
      // wait until the exec happened (the comm changes from node's to the binary's name)
      let s: PidStat.PidStat | undefined
      for (let i = 0; i < 100; i++) {
        s = yield* PidStat.read(child.pid!)
        if (s.comm === "x) y (z") break
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      }
      assert.strictEqual(s!.comm, "x) y (z")
      assert.strictEqual(s!.pid, child.pid)
      assert.strictEqual(s!.ppid, process.pid)
      assert.include(["R", "S"], s!.state) // running right after exec, then sleeping
      assert.isFalse(PidStat.isKernelThread(s!))
      // starttime is field 22: the 20th after the last ')' + state
      const raw = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8")
      assert.strictEqual(s!.starttime, Number(raw.slice(raw.lastIndexOf(")") + 2).split(" ")[19]))
      // a naive split at the first ')' would read the state as "y"
      assert.strictEqual(raw.split(")")[1]!.trim()[0], "y")
      const kthread = yield* PidStat.read(2)
      assert.isTrue(PidStat.isKernelThread(kthread))
    }).pipe(Effect.scoped))

  it.effect("statfs: df's Use% (used/(used+avail), rounded up) and IUse% match df -P on the same mount", () =>
    Effect.gen(function*() {
      const u = yield* Statfs.read("/")
      const line = execFileSync("df", ["-P", "/"], { env: { ...process.env, LC_ALL: "C" } }).toString().trim().split("\n")[1]!
      const dfUse = Number(/(\d+)%/.exec(line)![1])
      // another writer can move it by a block between the two calls; both round the same formula
      assert.isTrue(Math.abs(u.usedPercent - dfUse) <= 1, `${u.usedPercent} vs df ${dfUse}`)
      const iline = execFileSync("df", ["-P", "-i", "/"], { env: { ...process.env, LC_ALL: "C" } }).toString().trim().split("\n")[1]!
      const m = /(\d+)%/.exec(iline)
      if (m) assert.isTrue(Math.abs(u.inodeUsedPercent - Number(m[1])) <= 1)
      assert.strictEqual(Statfs.percentUp(1n, 3n), 34)
      assert.strictEqual(Statfs.percentUp(80n, 100n), 80)
      assert.strictEqual(Statfs.percentUp(0n, 0n), 0)
      // reserved blocks count as neither used nor available
      const r = yield* Statfs.fromRaw("/x", { type: 0xef53n, bsize: 4096n, blocks: 1000n, bfree: 200n, bavail: 150n, files: 100n, ffree: 96n })
      assert.strictEqual(r.usedPercent, 85) // 800 / 950 = 84.2 → 85
      assert.strictEqual(r.inodeUsedPercent, 4)
      assert.isTrue(Statfs.isOver(r, 80))
      assert.isFalse(Statfs.isOver({ ...r, usedPercent: 79 }, 80))
      assert.isTrue(Statfs.isOver({ ...r, usedPercent: 10, freeInodes: 5 }, 80)) // free inodes ≤ 5%
      const missing = yield* Effect.exit(Statfs.read("/nonexistent/path"))
      assert.strictEqual(failureTag(missing), "HostReadError")
    }))
})
