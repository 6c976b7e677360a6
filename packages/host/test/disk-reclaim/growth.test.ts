/**
 * host.disk.reclaim's volume growth on a real loop device: an ext4 filesystem on a 64 MiB file,
 * mounted, 95 % full of data nothing may clean. The mount resolves to a volume id through a
 * by-id link (an EBS-style name in a temp dir: the test machine has no /dev/disk/by-id); the plan
 * hands `volume grow requested` off, awaited; a runbook in this test owns that hand-off (the cloud
 * package's role) and grows the loop device's backing file (+ `losetup -c`); the parent then runs
 * the real e2fsck / resize2fs offline (the test kernel has no online ext4 resize) and statfs
 * re-verifies: under the floor → recovered. Without the owner growing anything, growfs refuses and
 * the incident escalates with +N GiB.
 */
import { Action, ActionHandler, Classification, Diagnoser, Fact, HandOffs, Plan, Runbook, TargetRef, Verifier } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as VolumeGrowth from "../../src/actions/VolumeGrowth"
import * as DiskUsage from "../../src/detectors/DiskUsage"
import * as Statfs from "../../src/readers/Statfs"
import * as HostDiskReclaim from "../../src/runbooks/host.disk.reclaim"

const MiB = 1024 * 1024
const GiB = 1024 ** 3
const isCI = () => process.env["CI"] === "true" || process.env["CI"] === "1"

/** Whether loop devices work here (`losetup -f`); under CI a failure fails the suite. */
const loopReason = (() => {
  try {
    execFileSync("losetup", ["-f"], { stdio: "pipe" })
    return undefined
  } catch (e) {
    return `loop devices unavailable: ${String(e)}`
  }
})()
if (loopReason !== undefined && isCI()) throw new Error(`${loopReason} (CI=true)`)
const describeLoop = loopReason === undefined ? describe : describe.skip

const VOLUME = "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"

/** The owner of the hand-off in this test: grows the loop device's backing file to the requested size. */
const GROW = "test.loop.grow-file"
const owner = (backing: () => string, loop: () => string, grow: boolean) =>
  Runbook.make<{ readonly requested: number }>({
    id: "test.cloud.grow-volume",
    family: "test.cloud",
    signals: [HandOffs.VolumeGrowRequested.type],
    diagnose: Diagnoser.make({ requested: Diagnoser.probe("request", (s) => Effect.map(HandOffs.decode(HandOffs.VolumeGrowRequested, s), (e) => e.requestedBytes)) }),
    classify: (facts) => (Fact.value(facts.requested) !== undefined ? Classification.classified("grow", 0.9) : Classification.unclassified(["no request"])),
    remediate: (_c, facts, signal) =>
      Effect.succeed(Plan.make("test.cloud.grow-volume", "grow", "grow the volume", grow
        ? Plan.act(Action.make({ kind: GROW, target: signal.target, params: { bytes: Fact.value(facts.requested)! }, idempotencyKey: `grow:${signal.target.ref}`, description: "grow the backing file" }))
        : Plan.escalate("this cloud refuses to grow volumes"))),
    verify: Verifier.fromChecks(() =>
      Effect.sync(() => {
        const size = Number(fs.readFileSync(`/sys/class/block/${nodePath.basename(loop())}/size`, "utf8")) * 512
        return [{ name: "volume grown", ok: size > 64 * MiB, detail: `${loop()} is ${size} bytes` }]
      })),
    verifySchedule: Verifier.once("0 seconds"),
    defaultMode: "auto"
  })

const growHandler = (backing: () => string, loop: () => string) =>
  ActionHandler.make({
    kind: GROW,
    params: Schema.Struct({ bytes: Schema.Number }),
    apply: (p) =>
      Effect.sync(() => {
        fs.truncateSync(backing(), p.bytes)
        execFileSync("losetup", ["-c", loop()])
        return { detail: `grew ${backing()} to ${p.bytes}`, result: { bytes: p.bytes } }
      }),
    observe: (p) => Effect.sync(() => (fs.statSync(backing()).size >= p.bytes ? ActionHandler.applied("grown") : ActionHandler.notApplied("not grown")))
  })

describeLoop("host.disk.reclaim volume growth on a real loop device (ext4, offline resize)", () => {
  let dir: string
  let backing: string
  let loop: string
  let mnt: string
  let byId: string
  beforeEach(() => {
    dir = fs.realpathSync(fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-growth-")))
    backing = nodePath.join(dir, "disk.img")
    fs.writeFileSync(backing, "")
    fs.truncateSync(backing, 64 * MiB)
    execFileSync("mkfs.ext4", ["-q", "-F", backing])
    loop = execFileSync("losetup", ["-f", "--show", backing], { encoding: "utf8" }).trim()
    mnt = nodePath.join(dir, "mnt")
    fs.mkdirSync(mnt)
    execFileSync("mount", [loop, mnt])
    byId = nodePath.join(dir, "by-id")
    fs.mkdirSync(byId)
    fs.symlinkSync(loop, nodePath.join(byId, VOLUME))
    fs.symlinkSync("/dev/null", nodePath.join(byId, "wwn-0xnot-this-one"))
    for (const d of ["logs", "tmp"]) fs.mkdirSync(nodePath.join(mnt, d))
    const u = fs.statfsSync(mnt)
    const used = (u.blocks - u.bfree) * u.bsize
    fs.writeFileSync(nodePath.join(mnt, "data"), Buffer.alloc(Math.floor((used + u.bavail * u.bsize) * 0.95) - used, 7))
  })
  afterEach(() => {
    try {
      execFileSync("umount", [mnt], { stdio: "pipe" })
    } catch {
      // already unmounted by a failed offline resize
    }
    try {
      execFileSync("losetup", ["-d", loop], { stdio: "pipe" })
    } catch {
      // gone
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })

  const parent = () =>
    HostDiskReclaim.make({
      tmpRoots: [nodePath.join(mnt, "tmp")],
      logRoots: [nodePath.join(mnt, "logs")],
      duRoots: [mnt],
      prefix: mnt,
      hostRoot: mnt,
      mounts: [mnt],
      volumeGrowthEnabled: true,
      maxVolumeGb: 1,
      offlineExt4: true,
      growthAwait: "2 minutes",
      resolve: { byIdDir: byId }
    })

  const handle = (grow: boolean) =>
    Effect.gen(function*() {
      const signals = yield* DiskUsage.poll({ mounts: [mnt] })
      assert.strictEqual(signals.length, 1)
      const loopFiber = yield* Effect.forkChild(Runbook.run(owner(() => backing, () => loop, grow), { resumeOpen: false }))
      yield* Effect.yieldNow
      const r = yield* Runbook.handle(parent(), signals[0]!, { mode: "auto" })
      yield* Fiber.interrupt(loopFiber)
      if (!("status" in r)) return assert.fail("awaiting approval")
      return r as IncidentReport.IncidentReport
    }).pipe(Effect.provide(Testing.layer({ handlers: [...HostDiskReclaim.handlers({ tmpRoots: [], logRoots: [] }, Shell.local), growHandler(() => backing, () => loop)], checks: HostDiskReclaim.checks() })))

  it.live("mount → volume id via by-id; +25 % in whole GiB capped at maxVolumeGb; the awaited hand-off grows the file; resize2fs offline; usage re-verified under the floor", () =>
    Effect.gen(function*() {
      const v = yield* VolumeGrowth.resolve(mnt, { byIdDir: byId })
      assert.strictEqual(v.volumeId, "vol-0123456789abcdef0")
      assert.strictEqual(v.device, loop)
      assert.strictEqual(v.fstype, "ext4")
      assert.strictEqual(v.sizeBytes, 64 * MiB)
      const before = yield* Statfs.read(mnt)
      assert.isTrue(before.usedPercent >= 95, `${before.usedPercent}%`)
      const r = yield* handle(true)
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
      const handOff = r.outcomes.find((o) => o.kind === "handoff")!
      assert.strictEqual(handOff.status, "handed_off")
      assert.match(handOff.detail, /ended recovered/)
      const child = HandOffs.childResults(r.outcomes)[0]!
      assert.strictEqual(child.signalType, "volume.grow.requested")
      assert.deepStrictEqual(child.target, TargetRef.make("host.volume", "vol-0123456789abcdef0"))
      // 64 MiB × 1.25 → 1 GiB (whole GiB, rounded up), at the 1 GiB cap
      assert.strictEqual(fs.statSync(backing).size, GiB)
      const growfs = r.outcomes.find((o) => o.kind === VolumeGrowth.KIND)!
      assert.strictEqual(growfs.status, "applied", growfs.detail)
      assert.deepStrictEqual(growfs.result?.["commands"], [["umount", mnt], ["e2fsck", "-f", "-p", loop], ["resize2fs", loop], ["mount", "-t", "ext4", loop, mnt]])
      const after = yield* Statfs.read(mnt)
      assert.isAbove(after.totalBytes, 900 * MiB)
      assert.isBelow(after.usedPercent, 80)
      // the data is intact
      assert.isTrue(fs.readFileSync(nodePath.join(mnt, "data")).every((b) => b === 7))
    }), 120_000)

  it.live("the owner does not grow the volume: growfs refuses (the device is not larger), nothing is resized, the incident escalates with +N GiB", () =>
    Effect.gen(function*() {
      const r = yield* handle(false)
      assert.strictEqual(r.status, "escalated")
      const growfs = r.outcomes.find((o) => o.kind === VolumeGrowth.KIND)!
      assert.notStrictEqual(growfs.status, "applied")
      assert.match(growfs.detail, /the volume was not grown/)
      assert.strictEqual(fs.statSync(backing).size, 64 * MiB)
      assert.isTrue(execFileSync("findmnt", ["-n", "-o", "SOURCE", mnt], { encoding: "utf8" }).trim() === loop, "still mounted")
      assert.match(r.escalation!.reason + JSON.stringify(r.verdicts), /\+1 GiB/)
    }), 120_000)
})

if (loopReason !== undefined) describe.skip(`volume growth on a loop device [skipped: ${loopReason}]`, () => {})
