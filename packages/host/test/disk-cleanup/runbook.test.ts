/**
 * host.disk.cleanup end to end through core (`Runbook.handle`) on a real 64 MiB tmpfs mounted in
 * the test: the statfs detector fires, the diagnoser scans, the plan runs in auto / dry_run /
 * observe, the verifier reads statfs again.
 */
import { Runbook } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as DiskUsage from "../../src/detectors/DiskUsage"
import * as Statfs from "../../src/readers/Statfs"
import * as HostDiskCleanup from "../../src/runbooks/host.disk.cleanup"
import { fileSnapshot } from "../support/diskFixtures"
import { mountTmpfs as mountAt, old, unmount } from "../support/tmpfs"

/** A 64 MiB tmpfs on a fresh temp dir (see support/tmpfs). */
const mountTmpfs = () => mountAt({ prefix: "byteport-cleanup-" })
const MiB = 1024 * 1024
const DAY = 24 * 3600 * 1000

/** Every file under the mount with its identity, size and mtime. */
const snapshot = fileSnapshot

/** logs/: two 4 MiB logs 10–11 days old; tmp/: six 3 MiB random blobs 2–7 days old; data/keep fills to 95%. */
const fill = (mnt: string, options: { readonly logs: number; readonly tmp: number; readonly tmpSize?: number; readonly percent?: number }) =>
  Effect.gen(function*() {
    for (const d of ["logs", "tmp", "data"]) fs.mkdirSync(`${mnt}/${d}`)
    for (let i = 0; i < options.logs; i++) {
      fs.writeFileSync(`${mnt}/logs/app.log.${i + 1}`, "GET /health 200\n".repeat((4 * MiB) / 16))
      old(`${mnt}/logs/app.log.${i + 1}`, (11 - i) * DAY)
    }
    for (let i = 0; i < options.tmp; i++) {
      fs.writeFileSync(`${mnt}/tmp/blob${i}`, randomBytes(options.tmpSize ?? 3 * MiB))
      old(`${mnt}/tmp/blob${i}`, (7 - i) * DAY)
    }
    // fresh files are never candidates
    fs.writeFileSync(`${mnt}/logs/app.log`, "today\n")
    fs.writeFileSync(`${mnt}/tmp/fresh`, randomBytes(MiB))
    const start = yield* Statfs.read(mnt)
    fs.writeFileSync(`${mnt}/data/keep`, randomBytes(Math.floor(start.totalBytes * (options.percent ?? 0.95)) - start.usedBytes))
    return yield* Statfs.read(mnt)
  })

const run = (mnt: string, mode: "auto" | "dry_run" | "observe") =>
  Effect.gen(function*() {
    const roots = { tmpRoots: [`${mnt}/tmp`], logRoots: [`${mnt}/logs`], duRoots: [mnt], prefix: mnt, hostRoot: mnt }
    const rb = HostDiskCleanup.make({ ...roots, mounts: [mnt] })
    const signals = yield* DiskUsage.poll({ mounts: [mnt] })
    assert.strictEqual(signals.length, 1)
    const r = yield* Runbook.handle(rb, signals[0]!, { mode }).pipe(
      Effect.provide(Testing.layer({ handlers: HostDiskCleanup.handlers(roots), checks: HostDiskCleanup.checks() }))
    )
    if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
    return r as IncidentReport.IncidentReport
  })

describe("host.disk.cleanup on a real 64 MiB tmpfs", () => {
  it.live("95% full: gzips the old logs, deletes temp files oldest first, stops at the first step under 80%, later targets untouched, per-step bytes reported", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      try {
        const full = yield* fill(mnt, { logs: 2, tmp: 6 })
        assert.isTrue(full.usedPercent >= 95 && full.usedPercent <= 96, `filled to ${full.usedPercent}%`)
        const before = snapshot(mnt)
        const r = yield* run(mnt, "auto")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation?.reason))
        assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "disk_over_floor")
        const end = yield* Statfs.read(mnt)
        assert.isTrue(end.usedPercent < 80, `ended at ${end.usedPercent}%`)
        const applied = r.outcomes.filter((o) => o.status === "applied")
        // both logs (≈ 8 MiB) then one temp file (3 MiB) bring 95% under 80%: the loop stops there
        assert.deepStrictEqual(applied.map((o) => o.result?.["path"]), [`${mnt}/logs/app.log.1`, `${mnt}/logs/app.log.2`, `${mnt}/tmp/blob0`])
        assert.isTrue(applied.slice(0, -1).every((o) => (o.result?.["usedPercentAfter"] as number) >= 80))
        assert.isTrue((applied[applied.length - 1]!.result?.["usedPercentAfter"] as number) < 80)
        assert.isTrue(r.outcomes.some((o) => o.status === "check_passed"))
        // later targets untouched, fresh files and data untouched
        const after = snapshot(mnt)
        for (const f of ["tmp/blob1", "tmp/blob2", "tmp/blob3", "tmp/blob4", "tmp/blob5", "tmp/fresh", "logs/app.log", "data/keep"]) {
          assert.strictEqual(after[f], before[f], f)
        }
        assert.isTrue(fs.existsSync(`${mnt}/logs/app.log.1.gz`) && !fs.existsSync(`${mnt}/logs/app.log.1`))
        // per-step bytes: statfs deltas, adding up to the whole drop
        const v = r.verdicts[r.verdicts.length - 1]!
        assert.strictEqual(v._tag, "Recovered")
        const steps = (v.checks[0]!.observed as { steps: Array<{ step: string; files: number; bytesFreed: number }> }).steps
        assert.deepStrictEqual(steps.map((s) => [s.step, s.files]), [["gzip old logs", 2], ["tmp sweep", 1]])
        assert.strictEqual(steps[1]!.bytesFreed, 3 * MiB)
        assert.isTrue(steps[0]!.bytesFreed > 7 * MiB && steps[0]!.bytesFreed < 8 * MiB, `${steps[0]!.bytesFreed}`)
        assert.strictEqual(steps[0]!.bytesFreed + steps[1]!.bytesFreed, full.usedBytes - end.usedBytes)
        assert.match(v.checks[0]!.detail, /gzip old logs: \d+ bytes reclaimed \(2 file\(s\), statfs delta\); tmp sweep: 3145728 bytes reclaimed/)
      } finally {
        unmount(mnt)
      }
    }), 60_000)

  it.live("observe and dry_run change nothing: not a file, not a byte", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      try {
        const full = yield* fill(mnt, { logs: 2, tmp: 6 })
        const before = snapshot(mnt)
        for (const mode of ["observe", "dry_run"] as const) {
          const r = yield* run(mnt, mode)
          assert.strictEqual(r.mode, mode)
          assert.deepStrictEqual(snapshot(mnt), before, mode)
          assert.strictEqual((yield* Statfs.read(mnt)).usedBytes, full.usedBytes, mode)
          assert.strictEqual(r.outcomes.filter((o) => o.status === "applied").length, 0, mode)
        }
      } finally {
        unmount(mnt)
      }
    }), 60_000)

  it.live("nothing cleanable and over 85%: escalation with the top directories and +N GiB", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      try {
        yield* fill(mnt, { logs: 0, tmp: 0 })
        const before = snapshot(mnt)
        const r = yield* run(mnt, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation!.reason, /nothing is safe to clean.*grow it by \+1 GiB/)
        assert.isTrue(r.escalation!.nextSteps.some((s) => s.startsWith(`largest: ${mnt}/data`)))
        assert.deepStrictEqual(snapshot(mnt), before)
      } finally {
        unmount(mnt)
      }
    }), 60_000)

  it.live("over 85% after every safe step: escalation with per-step bytes, top directories and +N GiB; an active log and an open temp file are left alone", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      let fd: number | undefined
      try {
        yield* fill(mnt, { logs: 0, tmp: 1, tmpSize: MiB })
        // an old active log name (hard safe-list) and an old temp file held open: never touched
        fs.writeFileSync(`${mnt}/logs/auth.log`, "x".repeat(MiB))
        old(`${mnt}/logs/auth.log`, 30 * DAY)
        fs.writeFileSync(`${mnt}/tmp/held`, randomBytes(MiB))
        old(`${mnt}/tmp/held`, 30 * DAY)
        fd = fs.openSync(`${mnt}/tmp/held`, "r")
        const kept = snapshot(mnt)
        const r = yield* run(mnt, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.isFalse(fs.existsSync(`${mnt}/tmp/blob0`))
        assert.strictEqual(snapshot(mnt)["logs/auth.log"], kept["logs/auth.log"])
        assert.strictEqual(snapshot(mnt)["tmp/held"], kept["tmp/held"])
        // the open file was a planned step, refused by the safety core and skipped
        assert.isTrue(r.outcomes.some((o) => o.kind === "host.tmp.delete" && o.status === "failed" && /open/.test(o.detail)), JSON.stringify(r.outcomes.map((o) => o.detail)))
        assert.match(r.escalation!.reason, /after every safe step \(> 85%\); reclaimed: gzip old logs: 0 bytes reclaimed \(0 file\(s\), statfs delta\); tmp sweep: 1048576 bytes reclaimed \(1 file\(s\), statfs delta\); top directories: .*data.*; grow by \+1 GiB/)
      } finally {
        if (fd !== undefined) fs.closeSync(fd)
        unmount(mnt)
      }
    }), 60_000)

  it.live("80–85% after every safe step closes with a warning", () =>
    Effect.gen(function*() {
      const mnt = mountTmpfs()
      if (mnt === undefined) return
      try {
        yield* fill(mnt, { logs: 0, tmp: 1, tmpSize: 2 * MiB, percent: 0.86 })
        const r = yield* run(mnt, "auto")
        const end = yield* Statfs.read(mnt)
        assert.isTrue(end.usedPercent >= 80 && end.usedPercent <= 85, `${end.usedPercent}%`)
        assert.strictEqual(r.status, "recovered")
        assert.isTrue(r.verdicts[r.verdicts.length - 1]!.checks.some((c) => c.name === "warning" && /over the 80% floor/.test(c.detail)))
      } finally {
        unmount(mnt)
      }
    }), 60_000)
})
