/**
 * The `HostFs` contract: what the local and the SFTP HostFs must both do. Every backend under
 * test sees this machine's files (SFTP through the loopback sshd), so fixtures are made with node:fs.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect } from "effect"
import type { HostFs } from "../../src/index"
import { Statfs } from "../../src/index"

/** Registers the HostFs contract tests for one backend; `identity`: whether dev/ino/nlink/blocks are known. */
export const hostFsContract = (getFs: () => HostFs.HostFsShape, options: { readonly identity: boolean }): void => {
  let dir: string
  let server: net.Server
  const NAMES = ["plain", "x) y (z", "with space", "new\nline", "ünï", "-dash", ".hidden", "it's"]
  beforeAll(async () => {
    dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-hostfs-")))
    for (const n of NAMES) fs.writeFileSync(nodePath.join(dir, n), `content of ${n}`)
    fs.writeFileSync(nodePath.join(dir, "binary"), Buffer.from([0, 1, 2, 255, 0, 10, 13]))
    fs.mkdirSync(nodePath.join(dir, "sub"))
    fs.symlinkSync(nodePath.join(dir, "plain"), nodePath.join(dir, "link"))
    fs.symlinkSync("/nonexistent/byteport", nodePath.join(dir, "dangling"))
    execFileSync("mkfifo", [nodePath.join(dir, "fifo")])
    server = net.createServer()
    await new Promise<void>((ok) => server.listen(nodePath.join(dir, "sock"), ok))
  })
  afterAll(async () => {
    await new Promise<void>((ok) => server.close(() => ok()))
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const p = (n: string) => nodePath.join(dir, n)

  it.live("readFile returns the exact bytes; readdir every name (odd ones too), without . and ..", () =>
    Effect.gen(function*() {
      const f = getFs()
      assert.deepStrictEqual([...(yield* f.readFile(p("binary")))], [0, 1, 2, 255, 0, 10, 13])
      assert.strictEqual(new TextDecoder().decode(yield* f.readFile(p("x) y (z"))), "content of x) y (z")
      const names = [...(yield* f.readdir(dir))].sort()
      assert.deepStrictEqual(names, [...NAMES, "binary", "sub", "link", "dangling", "fifo", "sock"].sort())
    }))

  it.live("lstat tells every kind and never follows a symlink; stat follows it", () =>
    Effect.gen(function*() {
      const f = getFs()
      const kinds = yield* Effect.forEach(["plain", "sub", "link", "dangling", "fifo", "sock"], (n) => Effect.map(f.lstat(p(n)), (s) => s.kind))
      assert.deepStrictEqual(kinds, ["file", "directory", "symlink", "symlink", "fifo", "socket"])
      const real = fs.lstatSync(p("plain"), { bigint: true })
      const s = yield* f.lstat(p("plain"))
      assert.strictEqual(s.size, real.size)
      assert.strictEqual(s.mode, Number(real.mode))
      assert.strictEqual(s.uid, Number(real.uid))
      assert.strictEqual(Math.floor(s.mtimeMs / 1000), Math.floor(Number(real.mtimeMs) / 1000))
      if (options.identity) {
        assert.strictEqual(s.ino, real.ino)
        assert.strictEqual(s.dev, real.dev)
        assert.strictEqual(s.nlink, 1)
        assert.strictEqual(s.blocks, real.blocks)
      } else {
        assert.isUndefined(s.ino)
        assert.isUndefined(s.nlink)
      }
      assert.strictEqual((yield* f.stat(p("link"))).kind, "file")
      assert.strictEqual(yield* f.readlink(p("link")), p("plain"))
      assert.strictEqual(yield* f.realpath(p("link")), p("plain"))
      const e = yield* Effect.flip(f.stat(p("dangling")))
      assert.strictEqual(e.code, "ENOENT")
    }))

  it.live("statfs agrees with the local statfs; filesystemId tells filesystems apart", () =>
    Effect.gen(function*() {
      const f = getFs()
      const u = yield* f.statfs(dir)
      const l = yield* Statfs.read(dir)
      assert.strictEqual(u.totalBytes, l.totalBytes)
      assert.strictEqual(u.totalInodes, l.totalInodes)
      assert.approximately(u.usedPercent, l.usedPercent, 2)
      assert.strictEqual(yield* f.filesystemId(dir), yield* f.filesystemId(p("sub")))
      assert.notStrictEqual(yield* f.filesystemId(dir), yield* f.filesystemId("/proc"))
    }))

  it.live("rename replaces its target; unlink removes one name and never follows a symlink", () =>
    Effect.gen(function*() {
      const f = getFs()
      fs.writeFileSync(p("from"), "new")
      fs.writeFileSync(p("to"), "old")
      yield* f.rename(p("from"), p("to"))
      assert.isFalse(fs.existsSync(p("from")))
      assert.strictEqual(fs.readFileSync(p("to"), "utf8"), "new")
      fs.symlinkSync(p("to"), p("to-link"))
      yield* f.unlink(p("to-link"))
      assert.isFalse(fs.existsSync(p("to-link")))
      assert.strictEqual(fs.readFileSync(p("to"), "utf8"), "new")
      yield* f.unlink(p("to"))
      assert.isFalse(fs.existsSync(p("to")))
    }))

  it.live("failures are HostReadErrors with the path, the operation and an errno code", () =>
    Effect.gen(function*() {
      const f = getFs()
      const missing = yield* Effect.flip(f.readFile(p("missing")))
      assert.strictEqual(missing._tag, "HostReadError")
      assert.strictEqual(missing.path, p("missing"))
      assert.strictEqual(missing.op, "read")
      assert.strictEqual(missing.code, "ENOENT")
      assert.strictEqual((yield* Effect.flip(f.unlink(p("missing")))).code, "ENOENT")
      assert.strictEqual((yield* Effect.flip(f.lstat(p("missing")))).op, "lstat")
      assert.strictEqual((yield* Effect.flip(f.readdir(p("missing")))).code, "ENOENT")
    }))
}
