/**
 * The host tools scripts/services.sh installs for the runbook tests, exercised for real:
 * systemd-journal-remote writes journal files that `journalctl --directory` reads and vacuums
 * (archived files only), logrotate rotates with a generated config, jcmd talks to a live JVM.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"
import { describeWithServices } from "../support/sshd"

describeWithServices(["hosttools"], "host test tools (scripts/services.sh)", (env) => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-tools-"))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const sh = Shell.local

  /** Journal export format: `KEY=value` lines, entries separated by a blank line. */
  const exportStream = (messages: ReadonlyArray<string>, t0: number) =>
    messages.map((m, i) => [`__REALTIME_TIMESTAMP=${(t0 + i) * 1000}`, `__MONOTONIC_TIMESTAMP=${i + 1}`, `_BOOT_ID=0123456789abcdef0123456789abcdef`, `MESSAGE=${m}`, `SYSLOG_IDENTIFIER=byteport-test`, `_HOSTNAME=testhost`, ""].join("\n")).join("\n") + "\n"

  it.live("journal-remote writes real journal files; journalctl --directory reads them; vacuum removes archived files only", () =>
    Effect.gen(function*() {
      const jdir = nodePath.join(dir, "journal")
      fs.mkdirSync(jdir)
      const write = (name: string, messages: ReadonlyArray<string>, t0: number) =>
        sh.run([env["BYTEPORT_TEST_JOURNAL_REMOTE"]!, `--output=${nodePath.join(jdir, name)}`, "--split-mode=none", "-"], { stdin: exportStream(messages, t0), timeout: "30 seconds" })
      const a = yield* write("old.journal", ["first message", "second message"], Date.now() - 3_600_000)
      assert.strictEqual(a.exitCode, 0, a.stderr)
      const b = yield* write("system.journal", ["active message"], Date.now())
      assert.strictEqual(b.exitCode, 0, b.stderr)
      // an archived file carries `@<seqnum id>-<head seqnum>-<head realtime>` in its name (as journald's rotation names it)
      const archived = nodePath.join(jdir, `system@${"0123456789abcdef".repeat(2)}-0000000000000001-${(Date.now() * 1000 - 3_600_000_000).toString(16).padStart(16, "0")}.journal`)
      fs.renameSync(nodePath.join(jdir, "old.journal"), archived)
      const read = yield* sh.run([env["BYTEPORT_TEST_JOURNALCTL"]!, `--directory=${jdir}`, "-o", "cat", "--no-pager"])
      assert.strictEqual(read.exitCode, 0, read.stderr)
      assert.deepStrictEqual(read.stdout.trim().split("\n").sort(), ["active message", "first message", "second message"])
      const vacuum = yield* sh.run([env["BYTEPORT_TEST_JOURNALCTL"]!, `--directory=${jdir}`, "--vacuum-size=1"])
      assert.strictEqual(vacuum.exitCode, 0, vacuum.stderr)
      assert.deepStrictEqual(fs.readdirSync(jdir), ["system.journal"])
      const after = yield* sh.run([env["BYTEPORT_TEST_JOURNALCTL"]!, `--directory=${jdir}`, "-o", "cat", "--no-pager"])
      assert.strictEqual(after.stdout.trim(), "active message")
    }))

  it.live("logrotate rotates and compresses with a generated config and its own state file", () =>
    Effect.gen(function*() {
      const log = nodePath.join(dir, "app.log")
      fs.writeFileSync(log, "line\n".repeat(1000))
      const conf = nodePath.join(dir, "logrotate.conf")
      fs.writeFileSync(conf, `${log} {\n  rotate 2\n  size 1k\n  compress\n  missingok\n  nocreate\n}\n`)
      const r = yield* sh.run([env["BYTEPORT_TEST_LOGROTATE"]!, "-s", nodePath.join(dir, "logrotate.state"), conf])
      assert.strictEqual(r.exitCode, 0, r.stderr)
      assert.isFalse(fs.existsSync(log))
      assert.isTrue(fs.existsSync(`${log}.1.gz`))
      assert.strictEqual(execFileSync("zcat", [`${log}.1.gz`], { encoding: "utf8" }), "line\n".repeat(1000))
    }))

  it.live("jcmd reads a live JVM's heap (GC.heap_info)", () =>
    Effect.gen(function*() {
      const src = nodePath.join(dir, "Idle.java")
      fs.writeFileSync(src, "public class Idle { public static void main(String[] a) throws Exception { System.out.println(\"ready\"); Thread.sleep(120000); } }\n")
      const java = nodePath.join(nodePath.dirname(fs.realpathSync(env["BYTEPORT_TEST_JCMD"]!)), "java")
      const jvm = spawn(java, ["-Xmx32m", "-XX:+UseSerialGC", src], { stdio: ["ignore", "pipe", "ignore"] })
      try {
        yield* Effect.promise(() => new Promise<void>((ok) => jvm.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && ok())))
        const r = yield* sh.run([env["BYTEPORT_TEST_JCMD"]!, String(jvm.pid), "GC.heap_info"], { timeout: "60 seconds" })
        assert.strictEqual(r.exitCode, 0, r.stderr)
        assert.match(r.stdout, /def new generation|tenured generation|Metaspace/)
      } finally {
        jvm.kill("SIGKILL")
      }
    }), 90_000)
})
