import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Du from "../src/Du"

const tmp = () => fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-du-"))
const MiB = 1024 * 1024

describe("Du.walk", () => {
  it.effect("a sparse 10 GB file does not top du; allocated bytes match du -sB1", () =>
    Effect.gen(function*() {
      const root = tmp()
      fs.mkdirSync(nodePath.join(root, "sparse"))
      fs.mkdirSync(nodePath.join(root, "real"))
      const fd = fs.openSync(nodePath.join(root, "sparse", "big.img"), "w")
      fs.ftruncateSync(fd, 10 * 1024 ** 3)
      fs.closeSync(fd)
      fs.writeFileSync(nodePath.join(root, "real", "data"), Buffer.alloc(4 * MiB, 1))
      const r = yield* Du.walk(root)
      assert.strictEqual(r.entries[0]!.path, nodePath.join(root, "real"))
      assert.isTrue(r.entries[0]!.bytes >= 4 * MiB)
      const sparse = r.entries.find((e) => e.path.endsWith("sparse"))!
      assert.isTrue(sparse.bytes < MiB, `sparse dir counts ${sparse.bytes}`)
      assert.isFalse(r.partial)
      const du = Number(execFileSync("du", ["-sB1", root]).toString().split("\t")[0])
      assert.strictEqual(r.bytes, du)
      fs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("hard links count once; symlinks are not followed (a link to a big file outside counts only itself)", () =>
    Effect.gen(function*() {
      const root = tmp()
      const outside = tmp()
      fs.writeFileSync(nodePath.join(outside, "huge"), Buffer.alloc(8 * MiB, 1))
      fs.mkdirSync(nodePath.join(root, "a"))
      fs.writeFileSync(nodePath.join(root, "a", "f"), Buffer.alloc(2 * MiB, 1))
      for (let i = 0; i < 5; i++) fs.linkSync(nodePath.join(root, "a", "f"), nodePath.join(root, "a", `l${i}`))
      fs.symlinkSync(outside, nodePath.join(root, "dirlink"))
      fs.symlinkSync(nodePath.join(outside, "huge"), nodePath.join(root, "filelink"))
      fs.symlinkSync(root, nodePath.join(root, "a", "loop"))
      const r = yield* Du.walk(root, { depth: 2 })
      assert.isTrue(r.bytes < 3 * MiB, `total ${r.bytes}`)
      assert.isTrue(r.bytes >= 2 * MiB)
      const du = Number(execFileSync("du", ["-sB1", root]).toString().split("\t")[0])
      assert.strictEqual(r.bytes, du)
      assert.strictEqual(r.entries.find((e) => e.path.endsWith("dirlink"))!.kind, "other")
      fs.rmSync(root, { recursive: true, force: true })
      fs.rmSync(outside, { recursive: true, force: true })
    }))

  it.effect("stays on one filesystem: a tmpfs mounted inside the root is skipped", () =>
    Effect.gen(function*() {
      const root = tmp()
      const mnt = nodePath.join(root, "mnt")
      fs.mkdirSync(mnt)
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt])
      } catch (e) {
        if (process.env["CI"] === "true") throw e
        console.warn(`tmpfs mount unavailable, one-filesystem test not run: ${String(e)}`)
        return
      }
      try {
        fs.writeFileSync(nodePath.join(mnt, "inside"), Buffer.alloc(8 * MiB, 1))
        const r = yield* Du.walk(root)
        assert.isTrue(r.bytes < MiB, `counted ${r.bytes}`)
        // the mount point's own root inode lives on the tmpfs: skipped
        assert.strictEqual(r.otherFilesystem, 1)
      } finally {
        execFileSync("umount", [mnt])
        fs.rmSync(root, { recursive: true, force: true })
      }
    }))

  it.effect("a budget that runs out marks the result partial (lower bounds)", () =>
    Effect.gen(function*() {
      const root = tmp()
      for (let i = 0; i < 200; i++) {
        fs.mkdirSync(nodePath.join(root, `d${i}`))
        for (let j = 0; j < 10; j++) fs.writeFileSync(nodePath.join(root, `d${i}`, `f${j}`), "x")
      }
      const full = yield* Du.walk(root, { budgetMillis: 60_000 })
      assert.isFalse(full.partial)
      assert.strictEqual(full.inodes, 1 + 200 + 2000)
      const cut = yield* Du.walk(root, { budgetMillis: 0 })
      assert.isTrue(cut.partial)
      assert.isTrue(cut.inodes < full.inodes)
      fs.rmSync(root, { recursive: true, force: true })
    }))
})
