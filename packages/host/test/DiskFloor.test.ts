import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cleaners from "../src/actions/Cleaners"
import * as DiskFloor from "../src/DiskFloor"
import * as Safety from "../src/safety/Safety"
import * as Statfs from "../src/readers/Statfs"
import { mountTmpfs as mountAt, old, unmount } from "./support/tmpfs"

/** A 64 MiB tmpfs on a fresh temp dir (see support/tmpfs). */
const mountTmpfs = () => mountAt({ prefix: "byteport-tmpfs-" })
const MiB = 1024 * 1024
const DAY = 24 * 3600 * 1000

const ident = (p: string) => {
  const s = fs.lstatSync(p)
  return `${s.ino} ${s.size} ${s.mtimeMs}`
}

describe("DiskFloor on a real 64 MiB tmpfs filled to 95%", () => {
  it.effect("cleaning until below 80%: every step starts over the floor, the first step under it stops the loop, later targets untouched; bytes are statfs deltas", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      try {
        for (const d of ["logs", "tmp", "data"]) fs.mkdirSync(`${mnt}/${d}`)
        for (let i = 0; i < 2; i++) {
          fs.writeFileSync(`${mnt}/logs/app.log.${i + 1}`, "GET /health 200\n".repeat((4 * MiB) / 16))
          old(`${mnt}/logs/app.log.${i + 1}`, (10 + i) * DAY)
        }
        for (let i = 0; i < 6; i++) {
          fs.writeFileSync(`${mnt}/tmp/blob${i}`, randomBytes(3 * MiB))
          old(`${mnt}/tmp/blob${i}`, (2 + i) * DAY)
        }
        const start = yield* Statfs.read(mnt)
        const fill = Math.floor(start.totalBytes * 0.95) - start.usedBytes
        fs.writeFileSync(`${mnt}/data/keep`, randomBytes(fill))
        const full = yield* Statfs.read(mnt)
        assert.isTrue(full.usedPercent >= 95 && full.usedPercent <= 96, `filled to ${full.usedPercent}%`)

        // one policy per cleaner: logs are gzipped only under logs/, temp files deleted only under tmp/
        const logs = Safety.policy({ roots: [`${mnt}/logs`], prefix: mnt, hostRoot: mnt })
        const tmps = Safety.policy({ roots: [`${mnt}/tmp`], prefix: mnt, hostRoot: mnt })
        const now = Date.now()
        const steps = [
          ...Cleaners.scanLogs(logs, { now }).map((c) => ({ c, policy: logs, act: Cleaners.gzipFile })),
          ...Cleaners.scanTmp(tmps, { now }).map((c) => ({ c, policy: tmps, act: Cleaners.deleteFile }))
        ]
        assert.strictEqual(steps.length, 8)
        const before = steps.map((s) => ident(s.c.path))

        // dry run first: nothing changes, not a byte
        for (const s of steps) yield* s.act(s.policy, s.c, true)
        assert.deepStrictEqual(steps.map((s) => ident(s.c.path)), before)
        assert.strictEqual((yield* Statfs.read(mnt)).usedBytes, full.usedBytes)

        const floor = DiskFloor.check()
        const ref = DiskFloor.ref(mnt)
        const gains: Array<number> = []
        const startedAt: Array<number> = []
        const endedAt: Array<number> = []
        let done = 0
        for (const s of steps) {
          const r = yield* floor.run(ref, { incidentId: "i", since: 0 })
          if (r.ok) break
          const m = yield* DiskFloor.measure(mnt, s.act(s.policy, s.c))
          gains.push(m.bytesFreed)
          startedAt.push(m.before.usedPercent)
          endedAt.push(m.after.usedPercent)
          done++
        }
        const end = yield* Statfs.read(mnt)
        assert.isTrue(end.usedPercent < 80, `ended at ${end.usedPercent}%`)
        assert.isTrue((yield* floor.run(ref, { incidentId: "i", since: 0 })).ok)
        // it stopped at the first step that brought usage under the floor
        assert.isTrue(done >= 1 && done < steps.length)
        // every executed step began over the floor; the last one brought it under
        assert.isTrue(startedAt.every((pct) => pct >= 80), `started at ${startedAt.join(", ")}`)
        assert.isTrue(endedAt[endedAt.length - 1]! < 80)
        assert.isTrue(endedAt.slice(0, -1).every((pct) => pct >= 80))
        // the later targets are exactly as they were
        assert.deepStrictEqual(steps.slice(done).map((s) => ident(s.c.path)), before.slice(done))
        // per-step gains are statfs deltas: they add up to the whole drop; a gzip frees less than the file's size
        assert.strictEqual(gains.reduce((a, b) => a + b, 0), full.usedBytes - end.usedBytes)
        assert.isTrue(gains.every((g) => g > 0))
        assert.isTrue(gains[0]! < 4 * MiB && gains[0]! > 3 * MiB, `gzip gained ${gains[0]}`)
        // the data outside the roots is untouched
        assert.strictEqual(fs.statSync(`${mnt}/data/keep`).size, fill)
      } finally {
        unmount(mnt)
      }
    }), 60_000)

  it.effect("inode exhaustion counts as over the floor even with bytes to spare", () =>
    Effect.gen(function*() {
      const dir = mountAt({ prefix: "byteport-inodes-", mountOptions: "size=16m,nr_inodes=200" })
      if (dir === undefined) return
      try {
        const ref = DiskFloor.ref(dir)
        assert.isTrue((yield* DiskFloor.check().run(ref, { incidentId: "i", since: 0 })).ok)
        for (let i = 0; i < 195; i++) fs.writeFileSync(`${dir}/f${i}`, "")
        const u = yield* Statfs.read(dir)
        assert.isTrue(u.usedPercent < 80)
        assert.isTrue(u.freeInodes * 100 <= u.totalInodes * 5, `${u.freeInodes}/${u.totalInodes}`)
        const r = yield* DiskFloor.check().run(ref, { incidentId: "i", since: 0 })
        assert.isFalse(r.ok)
        assert.match(r.detail, /inodes free/)
        // a statfs error is a failed check, not a failure
        const missing = yield* DiskFloor.check().run(DiskFloor.ref(`${dir}/nope`), { incidentId: "i", since: 0 })
        assert.isFalse(missing.ok)
      } finally {
        unmount(dir)
      }
    }))
})
