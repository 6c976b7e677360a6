/**
 * The temp-file cleaner over a HostFs: the same scenario through the local HostFs and over SFTP
 * (loopback sshd): stale files go, everything the safety rules protect stays.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { Cleaners, type HostFs, Safety } from "../../src/index"
import { overLocalAndSftp, runHandler, write } from "../support/overHostFs"
import { mountTmpfs, unmount } from "../support/tmpfs"

const DAY = 24 * 3600 * 1000

const reasonOf = (exit: Exit.Exit<unknown, Safety.Refused>): string | undefined =>
  Exit.isFailure(exit) ? (JSON.parse(JSON.stringify(exit)) as { cause: { reasons?: Array<{ error?: { reason?: string } }> } }).cause.reasons?.[0]?.error?.reason ?? JSON.stringify(exit) : undefined

const scenario = (getFs: () => HostFs.HostFsShape) => {
  it.live("scan + delete over the HostFs: stale files go; fresh, open, safe-listed, linked, socket, private and other-filesystem files stay", () =>
    Effect.gen(function*() {
      const hostFs = getFs()
      const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-clean-")))
      const outside = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-outside-")))
      const mnt = mountTmpfs({ mountOptions: "size=4m" })
      const now = Date.now()
      write(`${root}/held-open`, "open", 2 * DAY)
      const holder = spawn("sh", ["-c", `exec 3<"$0"; exec sleep 60`, `${root}/held-open`], { stdio: "ignore" })
      const server = net.createServer()
      try {
        write(`${root}/stale`, "x".repeat(5000), 2 * DAY)
        write(`${root}/deep/er/stale 'two' $x`, "y", 3 * DAY)
        write(`${root}/fresh`, "z", 3600 * 1000)
        write(`${root}/logs/access.log`, "active", 2 * DAY)
        write(`${root}/systemd-private-abc/stale`, "p", 2 * DAY)
        write(`${outside}/target`, "precious", 2 * DAY)
        fs.symlinkSync(`${outside}/target`, `${root}/link-out`)
        fs.symlinkSync(outside, `${root}/dir-link-out`)
        yield* Effect.promise(() => new Promise<void>((ok) => server.listen(`${root}/old.sock`, ok)))
        if (mnt !== undefined) {
          fs.mkdirSync(`${root}/mnt`)
          write(`${mnt}/stale-elsewhere`, "m", 2 * DAY)
        }
        for (let i = 0; i < 200 && !fs.readdirSync(`/proc/${holder.pid}/fd`).includes("3"); i++) yield* Effect.sleep("10 millis")
        const policy = yield* Safety.policyOn(hostFs, { roots: [root], prefix: os.tmpdir(), hostRoot: root })
        const candidates = yield* Cleaners.scanTmpOn(hostFs, policy, { now })
        const found = candidates.map((c) => nodePath.relative(root, c.path)).sort()
        assert.deepStrictEqual(found, ["deep/er/stale 'two' $x", "held-open", "logs/access.log", "stale"])
        const outcomes: Record<string, string> = {}
        for (const r of yield* Cleaners.deleteFilesOn(hostFs, policy, candidates)) {
          outcomes[nodePath.relative(root, r.candidate.path)] = r.refused === undefined ? "deleted" : r.refused.reason
        }
        assert.deepStrictEqual(outcomes, { "stale": "deleted", "deep/er/stale 'two' $x": "deleted", "held-open": "open", "logs/access.log": "safe-listed" })
        assert.isFalse(fs.existsSync(`${root}/stale`))
        assert.isTrue(fs.existsSync(`${root}/fresh`))
        assert.isTrue(fs.existsSync(`${root}/systemd-private-abc/stale`))
        assert.strictEqual(fs.readFileSync(`${outside}/target`, "utf8"), "precious")
        assert.isTrue(fs.lstatSync(`${root}/old.sock`).isSocket())
        // outside the roots, or a root through a symlink: refused
        const outsideRefused = yield* Effect.exit(Cleaners.deleteFileOn(hostFs, policy, { ...candidates[0]!, path: `${outside}/target` }))
        assert.strictEqual(reasonOf(outsideRefused), "outside-roots")
        const badRoot = yield* Effect.exit(Safety.policyOn(hostFs, { roots: [`${root}/dir-link-out`], prefix: os.tmpdir() }))
        assert.strictEqual(reasonOf(badRoot), "bad-root")
        const notUnderPrefix = yield* Effect.exit(Safety.policyOn(hostFs, { roots: [root], prefix: "/var/empty-prefix" }))
        assert.strictEqual(reasonOf(notUnderPrefix), "bad-root")
      } finally {
        holder.kill("SIGKILL")
        server.close()
        if (mnt !== undefined) unmount(mnt)
        fs.rmSync(root, { recursive: true, force: true })
        fs.rmSync(outside, { recursive: true, force: true })
      }
    }))

  it.live("a file swapped for a symlink (its directory too) between scan and act leaves the target intact", () =>
    Effect.gen(function*() {
      const hostFs = getFs()
      const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-swap-")))
      const outside = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-victim-")))
      try {
        write(`${root}/a/victim`, "a", 2 * DAY)
        write(`${root}/b`, "b", 2 * DAY)
        write(`${outside}/victim`, "keep me", 2 * DAY)
        write(`${outside}/b`, "keep me too", 2 * DAY)
        const policy = yield* Safety.policyOn(hostFs, { roots: [root], prefix: os.tmpdir() })
        const cs = yield* Cleaners.scanTmpOn(hostFs, policy, { now: Date.now() })
        assert.strictEqual(cs.length, 2)
        fs.rmSync(`${root}/a`, { recursive: true })
        fs.symlinkSync(outside, `${root}/a`)
        fs.rmSync(`${root}/b`)
        fs.symlinkSync(`${outside}/b`, `${root}/b`)
        for (const c of cs) assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFileOn(hostFs, policy, c))), "symlink")
        assert.strictEqual(fs.readFileSync(`${outside}/victim`, "utf8"), "keep me")
        assert.strictEqual(fs.readFileSync(`${outside}/b`, "utf8"), "keep me too")
        // a file rewritten after the scan (other size or mtime) is refused as changed
        fs.rmSync(`${root}/b`)
        write(`${root}/c`, "c", 2 * DAY)
        const [c] = yield* Cleaners.scanTmpOn(hostFs, policy, { now: Date.now() })
        fs.appendFileSync(c!.path, "more")
        assert.strictEqual(reasonOf(yield* Effect.exit(Cleaners.deleteFileOn(hostFs, policy, c!))), "changed")
        assert.isTrue(fs.existsSync(c!.path))
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
        fs.rmSync(outside, { recursive: true, force: true })
      }
    }))

  it.live("the host.tmp.delete handler over the HostFs: dry_run changes nothing; observe NotApplied before, Applied after", () =>
    Effect.gen(function*() {
      const hostFs = getFs()
      const root = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-remote-handler-")))
      try {
        write(`${root}/old`, "x", 2 * DAY)
        const policy = yield* Safety.policyOn(hostFs, { roots: [root], prefix: os.tmpdir() })
        const h = Cleaners.deleteTmpHandlerOn(hostFs, policy)
        const [c] = yield* Cleaners.scanTmpOn(hostFs, policy, { now: Date.now() })
        const dry = runHandler(h, c!, "dry_run")
        const r = yield* dry.run
        assert.match(r.detail, /^would delete /)
        assert.isTrue(fs.existsSync(`${root}/old`))
        assert.strictEqual((yield* h.observe!(dry.action, { incidentId: "inc-1", since: 0 }))._tag, "NotApplied")
        const real = runHandler(h, c!, "auto")
        yield* real.run
        assert.isFalse(fs.existsSync(`${root}/old`))
        assert.strictEqual((yield* h.observe!(real.action, { incidentId: "inc-1", since: 0 }))._tag, "Applied")
      } finally {
        fs.rmSync(root, { recursive: true, force: true })
      }
    }))
}

overLocalAndSftp({ local: "temp cleanup over HostFs.local", sftp: "temp cleanup over SFTP (loopback sshd)" }, scenario)
