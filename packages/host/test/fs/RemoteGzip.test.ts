/**
 * The log gzip over a HostFs, the same scenario through the local HostFs and over SFTP (loopback
 * sshd): old logs are gzipped (the archive verified, the original removed only then, times kept);
 * open, safe-listed, active, fresh and symlinked logs stay; dry_run and observe change nothing.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as zlib from "node:zlib"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Cleaners, type HostFs, Safety } from "../../src/index"
import { overLocalAndSftp, runHandler, write } from "../support/overHostFs"

const DAY = 24 * 3600 * 1000

const scenario = (getFs: () => HostFs.HostFsShape) => {
  it.live("scan + gzip over the HostFs: logs > 7 d become verified .gz archives (times kept); open, active, fresh, safe-listed and symlinked logs stay", () =>
    Effect.gen(function*() {
      const hostFs = getFs()
      const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-gzip-")))
      const outside = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-gzip-out-")))
      const body = "GET /health 200\n".repeat(4096)
      write(`${root}/app.log.2`, body, 10 * DAY)
      write(`${root}/sub/worker.log.1`, body + "tail\n", 9 * DAY)
      write(`${root}/held.log.1`, "open", 9 * DAY)
      write(`${root}/fresh.log`, "today", 3600 * 1000)
      write(`${root}/access.log`, "active", 10 * DAY)
      write(`${root}/var/log/wtmp`, "wtmp", 10 * DAY)
      write(`${outside}/precious.log`, "precious", 10 * DAY)
      fs.symlinkSync(`${outside}/precious.log`, `${root}/link.log`)
      const holder = spawn("sh", ["-c", `exec 3<"$0"; exec sleep 60`, `${root}/held.log.1`], { stdio: "ignore" })
      try {
        for (let i = 0; i < 200 && !fs.readdirSync(`/proc/${holder.pid}/fd`).includes("3"); i++) yield* Effect.sleep("10 millis")
        const policy = yield* Safety.policyOn(hostFs, { roots: [root], prefix: os.tmpdir(), hostRoot: root })
        const found = yield* Cleaners.scanLogsOn(hostFs, policy, { now: Date.now() })
        assert.deepStrictEqual(found.map((c) => nodePath.relative(root, c.path)).sort(), ["app.log.2", "held.log.1", "sub/worker.log.1", "var/log/wtmp"])
        const h = Cleaners.gzipLogHandlerOn(hostFs, policy)
        const app = found.find((c) => c.path.endsWith("app.log.2"))!
        const mtime = fs.statSync(app.path).mtimeMs
        // dry_run and observe: nothing written
        const dry = runHandler(h, app, "dry_run")
        assert.match((yield* dry.run).detail, /^would gzip /)
        assert.strictEqual((yield* h.observe!(dry.action, { incidentId: "inc-1", since: 0 }))._tag, "NotApplied")
        assert.deepStrictEqual(fs.readdirSync(root).filter((n) => n.includes(".gz")), [])
        // one open-file scan for the batch (over SFTP a request per descriptor of every process)
        const done = yield* Cleaners.gzipFilesOn(hostFs, policy, found)
        const outcomes = Object.fromEntries(done.map((o) => [nodePath.relative(root, o.candidate.path), o.done ? "gzipped" : o.refused!.reason]))
        assert.deepStrictEqual(outcomes, { "app.log.2": "gzipped", "held.log.1": "open", "sub/worker.log.1": "gzipped", "var/log/wtmp": "safe-listed" })
        assert.isFalse(fs.existsSync(app.path))
        assert.strictEqual(zlib.gunzipSync(fs.readFileSync(`${app.path}.gz`)).toString(), body)
        assert.strictEqual(zlib.gunzipSync(fs.readFileSync(`${root}/sub/worker.log.1.gz`)).toString(), body + "tail\n")
        assert.strictEqual(Math.floor(fs.statSync(`${app.path}.gz`).mtimeMs / 1000), Math.floor(mtime / 1000), "the archive keeps the log's mtime")
        assert.strictEqual((yield* h.observe!(runHandler(h, app, "auto").action, { incidentId: "inc-1", since: 0 }))._tag, "Applied")
        for (const f of ["held.log.1", "fresh.log", "access.log", "var/log/wtmp"]) assert.isTrue(fs.existsSync(`${root}/${f}`), f)
        assert.strictEqual(fs.readFileSync(`${outside}/precious.log`, "utf8"), "precious")
        assert.isTrue(fs.lstatSync(`${root}/link.log`).isSymbolicLink())
        assert.deepStrictEqual(fs.readdirSync(root).filter((n) => n.includes("byteport-")), [], "no temp archive left behind")
      } finally {
        holder.kill("SIGKILL")
        fs.rmSync(root, { recursive: true, force: true })
        fs.rmSync(outside, { recursive: true, force: true })
      }
    }), 60_000)

  it.live("a log swapped for a symlink between scan and gzip: refused, the link's target untouched, no archive", () =>
    Effect.gen(function*() {
      const hostFs = getFs()
      const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-gzip-")))
      const outside = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-gzip-out-")))
      try {
        write(`${root}/app.log.1`, "old", 10 * DAY)
        write(`${outside}/precious.log`, "old", 10 * DAY)
        const policy = yield* Safety.policyOn(hostFs, { roots: [root], prefix: os.tmpdir(), hostRoot: root })
        const [c] = yield* Cleaners.scanLogsOn(hostFs, policy, { now: Date.now() })
        fs.rmSync(c!.path)
        fs.symlinkSync(`${outside}/precious.log`, c!.path)
        const e = yield* Effect.flip(Cleaners.gzipFileOn(hostFs, policy, c!))
        assert.strictEqual(e.reason, "symlink")
        assert.strictEqual(fs.readFileSync(`${outside}/precious.log`, "utf8"), "old")
        assert.isFalse(fs.existsSync(`${c!.path}.gz`))
        assert.isFalse(fs.existsSync(`${outside}/precious.log.gz`))
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
        fs.rmSync(outside, { recursive: true, force: true })
      }
    }))
}

overLocalAndSftp({ local: "log gzip over HostFs.local", sftp: "log gzip over SFTP (loopback sshd)" }, scenario)
