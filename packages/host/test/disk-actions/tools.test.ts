/**
 * The Shell-driven disk actions on real tools (scripts/services.sh `hosttools`): journald vacuum on
 * real journal files written by systemd-journal-remote (only archived files go), logrotate with
 * a generated config, apt-get / npm cache prune on temp cache dirs, crictl and yum/dnf/pip argv.
 * Every path is a temp dir; dry_run and observe change nothing.
 */
import { Action, TargetRef } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as CrictlPrune from "../../src/actions/CrictlPrune"
import * as JournalVacuum from "../../src/actions/JournalVacuum"
import * as Logrotate from "../../src/actions/Logrotate"
import * as PackageCaches from "../../src/actions/PackageCaches"
import * as Safety from "../../src/safety/Safety"
import { describeWithServices } from "../support/sshd"

const DAY = 24 * 3600 * 1000
const ctx = (kind: string, dryRun: boolean) => ({
  action: Action.make({ kind, target: TargetRef.make("host.test", "x"), params: {}, idempotencyKey: kind, description: kind }),
  dryRun,
  incidentId: "inc-1"
})
const octx = (kind: string) => ({ action: ctx(kind, false).action, incidentId: "inc-1", since: 0 })

/** Journal export format: `KEY=value` lines, entries separated by a blank line. */
const exportStream = (messages: ReadonlyArray<string>, t0: number) =>
  messages.map((m, i) => [`__REALTIME_TIMESTAMP=${(t0 + i) * 1000}`, `__MONOTONIC_TIMESTAMP=${i + 1}`, `_BOOT_ID=0123456789abcdef0123456789abcdef`, `MESSAGE=${m}`, `SYSLOG_IDENTIFIER=byteport-test`, `_HOSTNAME=testhost`, ""].join("\n")).join("\n") + "\n"

describeWithServices(["hosttools"], "journald vacuum and logrotate on real tools", (env) => {
  let dir: string
  beforeAll(() => {
    dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-disk-tools-")))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  const journalDir = (name: string, archivedAgesMs: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      const jdir = nodePath.join(dir, name)
      fs.mkdirSync(jdir)
      const now = Date.now()
      const names: Array<string> = []
      for (const [i, age] of archivedAgesMs.entries()) {
        const out = nodePath.join(jdir, `tmp${i}.journal`)
        const r = yield* Shell.local.run([env["BYTEPORT_TEST_JOURNAL_REMOTE"]!, `--output=${out}`, "--split-mode=none", "-"], { stdin: exportStream([`archived ${i}`], now - age), timeout: "30 seconds" })
        assert.strictEqual(r.exitCode, 0, r.stderr)
        // journald's rotation name: <name>@<seqnum id>-<head seqnum>-<head realtime µs, hex>.journal
        const archived = `system@${"0123456789abcdef".repeat(2)}-${(i + 1).toString(16).padStart(16, "0")}-${((now - age) * 1000).toString(16).padStart(16, "0")}.journal`
        fs.renameSync(out, nodePath.join(jdir, archived))
        names.push(archived)
      }
      const active = yield* Shell.local.run([env["BYTEPORT_TEST_JOURNAL_REMOTE"]!, `--output=${nodePath.join(jdir, "system.journal")}`, "--split-mode=none", "-"], { stdin: exportStream(["active"], now), timeout: "30 seconds" })
      assert.strictEqual(active.exitCode, 0, active.stderr)
      return { jdir, names }
    })

  it.live("--vacuum-time=7d (reclaim): only the archived file older than 7 d goes; the 6-day-old archive and the active file stay; dry_run and observe remove nothing", () =>
    Effect.gen(function*() {
      const { jdir, names } = yield* journalDir("j-time", [10 * DAY, 6 * DAY])
      const p: JournalVacuum.Params = { directory: jdir, vacuumTime: "7d", journalctl: env["BYTEPORT_TEST_JOURNALCTL"]! }
      const spec = JournalVacuum.spec(Shell.local)
      const before = fs.readdirSync(jdir).sort()
      const dry = yield* spec.apply(p, ctx(JournalVacuum.KIND, true))
      assert.deepStrictEqual(dry.result["files"], [nodePath.join(jdir, names[0]!)])
      assert.strictEqual((yield* spec.observe(p, octx(JournalVacuum.KIND)))._tag, "NotApplied")
      assert.deepStrictEqual(fs.readdirSync(jdir).sort(), before, "dry_run and observe removed nothing")
      const r = yield* spec.apply(p, ctx(JournalVacuum.KIND, false))
      assert.deepStrictEqual(r.result["argv"], [env["BYTEPORT_TEST_JOURNALCTL"]!, `--directory=${jdir}`, "--vacuum-time=7d"])
      assert.deepStrictEqual(fs.readdirSync(jdir).sort(), [names[1]!, "system.journal"].sort())
      assert.strictEqual((yield* spec.observe(p, octx(JournalVacuum.KIND)))._tag, "Applied")
    }))

  it.live("--vacuum-size (cleanup): archived files go oldest first until under the limit; the active file is never removed", () =>
    Effect.gen(function*() {
      const { jdir } = yield* journalDir("j-size", [3 * DAY, 2 * DAY])
      const p: JournalVacuum.Params = { directory: jdir, vacuumSize: "1K", journalctl: env["BYTEPORT_TEST_JOURNALCTL"]! }
      assert.deepStrictEqual(JournalVacuum.argv({ vacuumSize: JournalVacuum.DEFAULT_VACUUM_SIZE }), ["journalctl", "--vacuum-size=200M"])
      yield* JournalVacuum.spec(Shell.local).apply(p, ctx(JournalVacuum.KIND, false))
      assert.deepStrictEqual(fs.readdirSync(jdir), ["system.journal"])
      const read = yield* Shell.local.run([env["BYTEPORT_TEST_JOURNALCTL"]!, `--directory=${jdir}`, "-o", "cat", "--no-pager"])
      assert.strictEqual(read.stdout.trim(), "active")
    }))

  it.live("logrotate > threshold with a generated config: the log is renamed and gzipped (content intact), nothing truncated; the near miss (exactly the threshold) is no candidate", () =>
    Effect.gen(function*() {
      const logs = nodePath.join(dir, "logs")
      fs.mkdirSync(logs)
      const big = nodePath.join(logs, "app.log.1")
      const content = "GET /health 200\n".repeat(2 * 65536)
      fs.writeFileSync(big, content) // 2 MiB
      fs.writeFileSync(nodePath.join(logs, "edge.log"), Buffer.alloc(1024 * 1024, 65)) // exactly 1 MiB: not over it
      fs.writeFileSync(nodePath.join(logs, "access.log"), Buffer.alloc(3 * 1024 * 1024, 66)) // active name: never
      const policy = Safety.policy({ roots: [logs], prefix: dir, hostRoot: dir })
      const found = Logrotate.scan(policy, 1024 * 1024)
      assert.deepStrictEqual(found.map((c) => nodePath.basename(c.path)), ["app.log.1"])
      const c = found[0]!
      const p = { ...c, minBytes: 1024 * 1024 }
      const spec = Logrotate.spec(Shell.local, policy, { logrotate: env["BYTEPORT_TEST_LOGROTATE"]!, workDir: dir })
      assert.include(Logrotate.config(big, 1024 * 1024), "nocreate")
      assert.notInclude(Logrotate.config(big, 1024 * 1024), "copytruncate")
      // dry_run: logrotate -d changes nothing
      yield* spec.apply(p, ctx(Logrotate.KIND, true))
      assert.strictEqual(fs.readFileSync(big, "utf8"), content)
      assert.strictEqual((yield* spec.observe(p, octx(Logrotate.KIND)))._tag, "NotApplied")
      // open: refused
      const fd = fs.openSync(big, "r")
      try {
        const refused = yield* Effect.flip(spec.apply(p, ctx(Logrotate.KIND, false)))
        assert.isTrue(refused.conflict)
        assert.match(refused.message, /open/)
        assert.isTrue(fs.existsSync(big))
      } finally {
        fs.closeSync(fd)
      }
      const r = yield* spec.apply(p, ctx(Logrotate.KIND, false))
      const archives = r.result["archives"] as Array<string>
      assert.strictEqual(archives.length, 1)
      assert.isFalse(fs.existsSync(big))
      assert.strictEqual(execFileSync("zcat", [nodePath.join(logs, archives[0]!)], { encoding: "utf8", maxBuffer: 8 * 1024 * 1024 }), content)
      assert.strictEqual(fs.statSync(nodePath.join(logs, "access.log")).size, 3 * 1024 * 1024)
      assert.strictEqual(fs.statSync(nodePath.join(logs, "edge.log")).size, 1024 * 1024)
      assert.strictEqual((yield* spec.observe(p, octx(Logrotate.KIND)))._tag, "Applied")
    }))

  it.live("logrotate: a log swapped for a symlink between scan and act is refused; the link's target is untouched", () =>
    Effect.gen(function*() {
      const logs = nodePath.join(dir, "swap")
      const outside = nodePath.join(dir, "outside")
      fs.mkdirSync(logs)
      fs.mkdirSync(outside)
      fs.writeFileSync(nodePath.join(logs, "big.log"), Buffer.alloc(2 * 1024 * 1024, 67))
      fs.writeFileSync(nodePath.join(outside, "precious.log"), Buffer.alloc(2 * 1024 * 1024, 68))
      const policy = Safety.policy({ roots: [logs], prefix: dir, hostRoot: dir })
      const [c] = Logrotate.scan(policy, 1024 * 1024)
      fs.rmSync(c!.path)
      fs.symlinkSync(nodePath.join(outside, "precious.log"), c!.path)
      const spec = Logrotate.spec(Shell.local, policy, { logrotate: env["BYTEPORT_TEST_LOGROTATE"]!, workDir: dir })
      const e = yield* Effect.flip(spec.apply({ ...c!, minBytes: 1024 * 1024 }, ctx(Logrotate.KIND, false)))
      assert.isTrue(e.conflict)
      assert.match(e.message, /symlink/)
      assert.deepStrictEqual(fs.readdirSync(outside), ["precious.log"])
      assert.strictEqual(fs.statSync(nodePath.join(outside, "precious.log")).size, 2 * 1024 * 1024)
      assert.isTrue(fs.lstatSync(c!.path).isSymbolicLink())
    }))
})

describe("package caches (opt-in) on temp cache dirs", () => {
  let dir: string
  beforeAll(() => {
    dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-pkgcache-")))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("argv for every manager, with and without a cache dir", () => {
    assert.deepStrictEqual(PackageCaches.MANAGERS, ["apt", "yum", "dnf", "pip", "npm"])
    assert.deepStrictEqual(PackageCaches.command({ manager: "apt" }).argv, ["apt-get", "clean"])
    assert.deepStrictEqual(PackageCaches.command({ manager: "apt", cacheDir: "/c" }).argv, ["apt-get", "-o", "Dir::Cache=/c", "clean"])
    assert.deepStrictEqual(PackageCaches.command({ manager: "yum" }).argv, ["yum", "clean", "all"])
    assert.deepStrictEqual(PackageCaches.command({ manager: "dnf", cacheDir: "/c" }).argv, ["dnf", "--setopt=cachedir=/c", "clean", "all"])
    assert.deepStrictEqual(PackageCaches.command({ manager: "pip", cacheDir: "/c" }), { argv: ["pip", "cache", "purge"], env: { PIP_CACHE_DIR: "/c" } })
    assert.deepStrictEqual(PackageCaches.command({ manager: "npm", cacheDir: "/c" }).argv, ["npm", "cache", "clean", "--force", "--cache", "/c"])
    assert.deepStrictEqual(CrictlPrune.argv(), ["crictl", "rmi", "--prune"])
  })

  it.live("apt-get clean and npm cache clean, for real, on temp caches; dry_run and observe change nothing", () =>
    Effect.gen(function*() {
      const apt = nodePath.join(dir, "apt")
      fs.mkdirSync(nodePath.join(apt, "archives", "partial"), { recursive: true })
      fs.writeFileSync(nodePath.join(apt, "archives", "big_1.0_amd64.deb"), Buffer.alloc(512 * 1024, 1))
      const npm = nodePath.join(dir, "npm")
      fs.mkdirSync(nodePath.join(npm, "_cacache", "content-v2"), { recursive: true })
      fs.writeFileSync(nodePath.join(npm, "_cacache", "content-v2", "blob"), Buffer.alloc(512 * 1024, 2))
      const spec = PackageCaches.spec(Shell.local)
      const aptP: PackageCaches.Params = { manager: "apt", cacheDir: apt }
      const npmP: PackageCaches.Params = { manager: "npm", cacheDir: npm }
      for (const p of [aptP, npmP]) {
        const dry = yield* spec.apply(p, ctx(PackageCaches.KIND, true))
        assert.isAbove(dry.result["cacheBytes"] as number, 500 * 1024)
        assert.strictEqual((yield* spec.observe(p, octx(PackageCaches.KIND)))._tag, "NotApplied")
      }
      assert.isTrue(fs.existsSync(nodePath.join(apt, "archives", "big_1.0_amd64.deb")))
      yield* spec.apply(aptP, ctx(PackageCaches.KIND, false))
      assert.isFalse(fs.existsSync(nodePath.join(apt, "archives", "big_1.0_amd64.deb")))
      yield* spec.apply(npmP, ctx(PackageCaches.KIND, false))
      assert.isFalse(fs.existsSync(nodePath.join(npm, "_cacache")))
      for (const p of [aptP, npmP]) assert.strictEqual((yield* spec.observe(p, octx(PackageCaches.KIND)))._tag, "Applied")
    }), 60_000)

  it.live("crictl rmi --prune through a Shell: dry_run lists unused unpinned images from crictl's JSON, apply runs the argv", () =>
    Effect.gen(function*() {
      const ran: Array<ReadonlyArray<string>> = []
      const images = JSON.stringify({ images: [
        { id: "sha256:used", repoTags: ["app:2"], repoDigests: [], size: "100" },
        { id: "sha256:old", repoTags: ["app:1"], repoDigests: [], size: "300" },
        { id: "sha256:pause", repoTags: ["pause:3.9"], repoDigests: [], size: "1", pinned: true }
      ] })
      const ps = JSON.stringify({ containers: [{ id: "c1", podSandboxId: "p1", metadata: { name: "app", attempt: 0 }, image: { image: "sha256:used" }, imageRef: "sha256:used", state: "CONTAINER_RUNNING", createdAt: "1700000000000000000", labels: {}, annotations: {} }] })
      const shell: Shell.ShellShape = {
        name: "fake-node",
        run: (argv) =>
          Effect.sync(() => {
            ran.push(argv)
            const out = argv[1] === "images" ? images : argv[1] === "ps" ? ps : "Deleted: app:1\n"
            return { shell: "fake-node", argv, exitCode: 0, stdout: out, stderr: "", stdoutTruncated: false, stderrTruncated: false, maxOutputBytes: 1 << 20, durationMillis: 1 }
          })
      }
      const spec = CrictlPrune.spec(shell)
      const dry = yield* spec.apply({}, ctx(CrictlPrune.KIND, true))
      assert.deepStrictEqual(dry.result["images"], ["app:1"])
      assert.isFalse(ran.some((a) => a.includes("rmi")))
      assert.strictEqual((yield* spec.observe({}, octx(CrictlPrune.KIND)))._tag, "NotApplied")
      const r = yield* spec.apply({}, ctx(CrictlPrune.KIND, false))
      assert.deepStrictEqual(ran[ran.length - 1], ["crictl", "rmi", "--prune"])
      assert.strictEqual(r.result["deleted"], 1)
    }))
})
