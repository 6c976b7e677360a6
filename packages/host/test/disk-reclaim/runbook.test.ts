/**
 * host.disk.reclaim end to end through core (`Runbook.handle`) on a real 64 MiB tmpfs: real
 * logrotate, real journal files vacuumed by the real journalctl, gzip, temp sweep, the Docker
 * prune against the Engine API fake, package caches in temp dirs. The seed's order, the stop under
 * the floor, observe / dry_run change nothing, the near misses at 79/80 %, and the machine's own
 * /var/log, /var/tmp and /var/cache/apt never touched.
 */
import { Runbook } from "@byteport/core"
import type { IncidentReport } from "@byteport/core"
import { Shell } from "@byteport/core/shell"
import * as Testing from "@byteport/core/testing"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as DiskCleanup from "../../src/classifiers/DiskCleanup"
import * as DiskUsage from "../../src/detectors/DiskUsage"
import * as Statfs from "../../src/readers/Statfs"
import * as HostDiskReclaim from "../../src/runbooks/host.disk.reclaim"
import * as DockerEngineFake from "../../src/testing/DockerEngineFake"
import { describeWithServices } from "../support/sshd"
import { fileSnapshot } from "../support/diskFixtures"
import { mountTmpfs as mountAt, old, unmount } from "../support/tmpfs"
import * as MachineGuard from "../../../../scripts/vitest-machine-guard"

const MiB = 1024 * 1024
const DAY = 24 * 3600 * 1000

/** The machine's directories the run must never change (the run-wide guard's snapshot, taken around this file too). */
const machineSnapshot = () => MachineGuard.snapshot()

const snapshot = fileSnapshot

/** Journal export format. */
const exportStream = (messages: ReadonlyArray<string>, t0: number) =>
  messages.map((m, i) => [`__REALTIME_TIMESTAMP=${(t0 + i) * 1000}`, `__MONOTONIC_TIMESTAMP=${i + 1}`, `_BOOT_ID=0123456789abcdef0123456789abcdef`, `MESSAGE=${m}`, `SYSLOG_IDENTIFIER=byteport-test`, ""].join("\n")).join("\n") + "\n"

describeWithServices(["hosttools"], "host.disk.reclaim on a real 64 MiB tmpfs", (env) => {
  let machineBefore: Map<string, number>
  beforeAll(() => {
    machineBefore = machineSnapshot()
  })

  /** logs/: a 5 MiB fresh log (logrotate > 4 MiB), two 2 MiB logs 10–11 d old; journal/: one archived file 10 d old; tmp/: six 3 MiB blobs; data/keep to the percent. */
  const fill = (mnt: string, percent = 0.95) =>
    Effect.gen(function*() {
      for (const d of ["logs", "tmp", "data", "journal", "apt/archives/partial"]) fs.mkdirSync(`${mnt}/${d}`, { recursive: true })
      fs.writeFileSync(`${mnt}/logs/big.log.1`, "GET /health 200\n".repeat((5 * MiB) / 16))
      for (let i = 0; i < 2; i++) {
        fs.writeFileSync(`${mnt}/logs/app.log.${i + 1}`, "GET /health 200\n".repeat((2 * MiB) / 16))
        old(`${mnt}/logs/app.log.${i + 1}`, (11 - i) * DAY)
      }
      const jr = env["BYTEPORT_TEST_JOURNAL_REMOTE"]!
      const t0 = Date.now() - 10 * DAY
      const r = yield* Shell.local.run([jr, `--output=${mnt}/journal/x.journal`, "--split-mode=none", "-"], { stdin: exportStream(["old"], t0), timeout: "30 seconds" })
      assert.strictEqual(r.exitCode, 0, r.stderr)
      fs.renameSync(`${mnt}/journal/x.journal`, `${mnt}/journal/system@${"0123456789abcdef".repeat(2)}-0000000000000001-${(t0 * 1000).toString(16).padStart(16, "0")}.journal`)
      for (let i = 0; i < 6; i++) {
        fs.writeFileSync(`${mnt}/tmp/blob${i}`, randomBytes(3 * MiB))
        old(`${mnt}/tmp/blob${i}`, (7 - i) * DAY)
      }
      fs.writeFileSync(`${mnt}/tmp/fresh`, randomBytes(MiB))
      fs.writeFileSync(`${mnt}/apt/archives/pkg_1.0_amd64.deb`, randomBytes(2 * MiB))
      const start = yield* Statfs.read(mnt)
      fs.writeFileSync(`${mnt}/data/keep`, randomBytes(Math.max(0, Math.floor(start.totalBytes * percent) - start.usedBytes)))
      return yield* Statfs.read(mnt)
    })

  const run = (mnt: string, mode: "auto" | "dry_run" | "observe", extra: Partial<HostDiskReclaim.Options> = {}) =>
    Effect.gen(function*() {
      const roots: HostDiskReclaim.Roots = {
        tmpRoots: [`${mnt}/tmp`],
        logRoots: [`${mnt}/logs`],
        duRoots: [mnt],
        prefix: mnt,
        hostRoot: mnt,
        journal: { directory: `${mnt}/journal`, journalctl: env["BYTEPORT_TEST_JOURNALCTL"]! },
        packageCaches: [{ manager: "apt", cacheDir: `${mnt}/apt` }],
        ...(extra.docker ? { docker: extra.docker } : {})
      }
      const rb = HostDiskReclaim.make({ ...roots, mounts: [mnt], logrotateMinMb: 4, ...extra })
      const signals = yield* DiskUsage.poll({ mounts: [mnt] })
      assert.strictEqual(signals.length, 1)
      const r = yield* Runbook.handle(rb, signals[0]!, { mode }).pipe(
        Effect.provide(Testing.layer({ handlers: HostDiskReclaim.handlers(roots, Shell.local, { logrotate: env["BYTEPORT_TEST_LOGROTATE"]! }), checks: HostDiskReclaim.checks() }))
      )
      if (!("status" in r)) return assert.fail(`awaiting approval: ${r.reason}`)
      return r as IncidentReport.IncidentReport
    })

  it.live("95% full: logrotate, gzip, journal vacuum in the seed's order, stopping at the first step under 80%; later targets untouched; per-step bytes are statfs deltas", () =>
    Effect.gen(function*() {
      const mnt = mountAt({ prefix: "byteport-reclaim-" })
      if (mnt === undefined) return
      try {
        const full = yield* fill(mnt)
        assert.isTrue(full.usedPercent >= 95 && full.usedPercent <= 96, `filled to ${full.usedPercent}%`)
        const before = snapshot(mnt)
        const r = yield* run(mnt, "auto")
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation?.reason))
        const applied = r.outcomes.filter((o) => o.status === "applied")
        const kinds = applied.map((o) => o.kind)
        const order = ["host.log.rotate", "host.log.gzip", "host.journal.vacuum", "host.tmp.delete"]
        // in the seed's order
        assert.deepStrictEqual([...kinds].sort((a, b) => order.indexOf(a) - order.indexOf(b)), kinds)
        assert.deepStrictEqual(kinds.slice(0, 3), ["host.log.rotate", "host.log.gzip", "host.log.gzip"])
        assert.include(kinds, "host.journal.vacuum")
        assert.isFalse(fs.readdirSync(`${mnt}/journal`).some((n) => n.includes("@")), "the archived journal file was vacuumed")
        const end = yield* Statfs.read(mnt)
        assert.isTrue(end.usedPercent < 80, `ended at ${end.usedPercent}%`)
        // every step but the last left it at or over 80: the plan stopped at the first step under it
        assert.isTrue(applied.slice(0, -1).every((o) => (o.result?.["usedPercentAfter"] as number) >= 80))
        assert.isTrue((applied[applied.length - 1]!.result?.["usedPercentAfter"] as number) < 80)
        // later targets untouched: the newest temp blobs, the fresh file, the data, the package cache (opt-in off)
        const after = snapshot(mnt)
        for (const f of ["tmp/blob5", "tmp/blob4", "tmp/fresh", "data/keep", "apt/archives/pkg_1.0_amd64.deb"]) assert.strictEqual(after[f], before[f], f)
        assert.isFalse(fs.existsSync(`${mnt}/logs/big.log.1`))
        assert.isTrue(fs.readdirSync(`${mnt}/logs`).some((n) => n.startsWith("big.log.1.byteport-") && n.endsWith(".gz")))
        // bytes per step = statfs deltas, summing to the whole drop
        const freed = applied.reduce((n, o) => n + (o.result?.["bytesFreed"] as number), 0)
        assert.strictEqual(freed, full.usedBytes - end.usedBytes)
        const v = r.verdicts[r.verdicts.length - 1]!
        const steps = (v.checks[0]!.observed as { steps: Array<{ step: string; bytesFreed: number }> }).steps
        assert.strictEqual(steps[0]!.step, "logrotate > 100 MB")
      } finally {
        unmount(mnt)
      }
    }), 90_000)

  it.live("opt-ins on: the Docker prune (Engine API fake) runs after the journal vacuum, never volumes; package caches only after tmp; off by default they never run", () =>
    Effect.gen(function*() {
      const mnt = mountAt({ prefix: "byteport-reclaim-" })
      if (mnt === undefined) return
      const fake = yield* Effect.promise(() =>
        DockerEngineFake.start({
          socketPath: `${mnt}/docker.sock`,
          state: { images: [{ Id: "sha256:d", RepoTags: [], Size: 5 * MiB }], volumes: [{ Name: "v", Size: MiB, used: false }] }
        })
      )
      try {
        yield* fill(mnt, 0.99)
        const r = yield* run(mnt, "auto", { dockerPruneEnabled: true, packageCachePruneEnabled: true, docker: { socketPath: `${mnt}/docker.sock` } })
        const kinds = r.outcomes.filter((o) => o.status === "applied").map((o) => o.kind)
        const d = kinds.indexOf("host.docker.prune")
        assert.isAbove(d, kinds.indexOf("host.journal.vacuum"), kinds.join(","))
        assert.isTrue(fake.requests.some((q) => q.method === "POST" && q.path.endsWith("/images/prune")))
        assert.isFalse(fake.requests.some((q) => q.path.includes("/volumes")))
        assert.deepStrictEqual(fake.state.volumes.map((v) => v.Name), ["v"])
        if (kinds.includes("host.package-cache.prune")) assert.isAbove(kinds.indexOf("host.package-cache.prune"), kinds.lastIndexOf("host.tmp.delete"))
      } finally {
        yield* Effect.promise(() => fake.close())
        unmount(mnt)
      }
    }), 90_000)

  it.live("observe and dry_run change nothing (every opt-in on): not a file, not a byte, not a Docker image", () =>
    Effect.gen(function*() {
      const mnt = mountAt({ prefix: "byteport-reclaim-" })
      if (mnt === undefined) return
      const fake = yield* Effect.promise(() => DockerEngineFake.start({ socketPath: `${mnt}/docker.sock`, state: { images: [{ Id: "sha256:d", RepoTags: [], Size: 5 * MiB }] } }))
      try {
        const full = yield* fill(mnt)
        const before = snapshot(mnt)
        for (const mode of ["observe", "dry_run"] as const) {
          const r = yield* run(mnt, mode, { dockerPruneEnabled: true, packageCachePruneEnabled: true, docker: { socketPath: `${mnt}/docker.sock` } })
          assert.strictEqual(r.mode, mode)
          assert.deepStrictEqual(snapshot(mnt), before, mode)
          assert.strictEqual((yield* Statfs.read(mnt)).usedBytes, full.usedBytes, mode)
          assert.strictEqual(r.outcomes.filter((o) => o.status === "applied").length, 0, mode)
        }
        assert.strictEqual(fake.state.images.length, 1)
        assert.isFalse(fake.requests.some((q) => q.method === "POST"))
      } finally {
        yield* Effect.promise(() => fake.close())
        unmount(mnt)
      }
    }), 90_000)

  it.live("over 85% after every step: escalation naming each step's statfs bytes, the top directories and +N GiB", () =>
    Effect.gen(function*() {
      const mnt = mountAt({ prefix: "byteport-reclaim-" })
      if (mnt === undefined) return
      try {
        for (const d of ["logs", "tmp", "data"]) fs.mkdirSync(`${mnt}/${d}`)
        fs.writeFileSync(`${mnt}/logs/app.log.1`, "GET /health 200\n".repeat(MiB / 16))
        old(`${mnt}/logs/app.log.1`, 10 * DAY)
        fs.writeFileSync(`${mnt}/tmp/blob`, randomBytes(MiB))
        old(`${mnt}/tmp/blob`, 2 * DAY)
        const start = yield* Statfs.read(mnt)
        fs.writeFileSync(`${mnt}/data/keep`, randomBytes(Math.floor(start.totalBytes * 0.97) - start.usedBytes))
        const r = yield* run(mnt, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.deepStrictEqual(r.outcomes.filter((o) => o.status === "applied").map((o) => o.kind), ["host.log.gzip", "host.tmp.delete"])
        assert.match(r.escalation!.reason, /after every safe step \(> 85%\); reclaimed: gzip old logs: \d+ bytes reclaimed \(1 file\(s\), statfs delta\); tmp sweep: 1048576 bytes reclaimed \(1 file\(s\), statfs delta\); top directories: .*data.*; grow by \+1 GiB/)
        assert.isTrue(fs.existsSync(`${mnt}/data/keep`))
      } finally {
        unmount(mnt)
      }
    }), 60_000)

  it.live("near misses: 79% fires nothing and classifies nothing; 80% fires and classifies disk_over_floor", () =>
    Effect.gen(function*() {
      const mnt = mountAt({ prefix: "byteport-reclaim-" })
      if (mnt === undefined) return
      try {
        const u0 = yield* Statfs.read(mnt)
        const page = 4096
        // ceil(100 × used / total) = P  ⇔  (P − 1) × total / 100 < used ≤ P × total / 100
        const fillTo = (p: number) => {
          const now = fs.existsSync(`${mnt}/fill`) ? fs.statSync(`${mnt}/fill`).size : 0
          const target = Math.floor((p * u0.totalBytes) / 100 / page) * page - u0.usedBytes
          fs.writeFileSync(`${mnt}/fill`, Buffer.alloc(Math.max(now, target)))
        }
        fillTo(79)
        const at79 = yield* Statfs.read(mnt)
        assert.strictEqual(at79.usedPercent, 79)
        assert.deepStrictEqual(yield* DiskUsage.poll({ mounts: [mnt] }), [])
        assert.strictEqual(DiskCleanup.classifier()(Testing.facts({ usage: at79 }) as never)._tag, "Unclassified")
        fillTo(80)
        const at80 = yield* Statfs.read(mnt)
        assert.strictEqual(at80.usedPercent, 80)
        assert.strictEqual((yield* DiskUsage.poll({ mounts: [mnt] })).length, 1)
        const c = DiskCleanup.classifier()(Testing.facts({ usage: at80 }) as never)
        assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, "disk_over_floor")
      } finally {
        unmount(mnt)
      }
    }), 30_000)

  afterAll(() => {
    // the run never removed, truncated or gzipped anything in the machine's /var/log, /var/tmp, /var/cache/apt
    const found = MachineGuard.violations(machineBefore, machineSnapshot())
    if (found.length > 0) throw new Error(`the host.disk.reclaim tests changed the machine's files: ${found.join("; ")}`)
  })
})
