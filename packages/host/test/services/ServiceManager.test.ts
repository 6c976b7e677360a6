/**
 * `ServiceManager.systemd` against the real programs of this machine: systemctl without systemd as
 * PID 1 (every fact Unknown, every action `NoSystemd`), and journalctl vacuuming real journal files
 * written by systemd-journal-remote (archived files only). The argv it issues is pinned here; the
 * behaviour with a manager that answers is the contract suite (LocalSupervisor).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Shell } from "@byteport/core/shell"
import { ServiceManager } from "../../src/index"
import { describeWithServices } from "../support/sshd"
import { writeJournal } from "../support/journal"

describe("ServiceManager argv", () => {
  it("issues exactly systemctl's and journalctl's argv", () => {
    assert.deepStrictEqual(ServiceManager.isActiveArgv("web.service"), ["systemctl", "is-active", "web.service"])
    assert.deepStrictEqual(ServiceManager.showArgv("web.service"), ["systemctl", "show", "-p", "Id,LoadState,ActiveState,SubState,MainPID,NRestarts,MemoryMax,Result", "web.service"])
    assert.deepStrictEqual(ServiceManager.restartArgv("web.service"), ["systemctl", "restart", "web.service"])
    assert.deepStrictEqual(ServiceManager.setMemoryMaxArgv("web.service", 536870912), ["systemctl", "set-property", "--runtime", "web.service", "MemoryMax=536870912"])
    assert.deepStrictEqual(ServiceManager.vacuumArgv({ size: 200 * 1024 * 1024 }), ["journalctl", "--vacuum-size=209715200"])
    assert.deepStrictEqual(ServiceManager.vacuumArgv({ timeSeconds: 7 * 86400, directory: "/var/log/journal" }), ["journalctl", "--directory=/var/log/journal", "--vacuum-time=604800s"])
  })

  it("refuses unit names that would be options or carry shell text", () => {
    for (const bad of ["", "-x", "--all", "a b", "a;b", "$(id)", "x".repeat(300)]) assert.isFalse(ServiceManager.isUnitName(bad), bad)
    for (const good of ["web.service", "getty@tty1.service", "a-b_c:d.socket"]) assert.isTrue(ServiceManager.isUnitName(good), good)
  })

  it("reads systemd's sizes and vacuum report", () => {
    assert.strictEqual(ServiceManager.parseSize("8.0M"), 8 * 1024 * 1024)
    assert.strictEqual(ServiceManager.parseSize("0B"), 0)
    assert.strictEqual(ServiceManager.parseSize("1.5G"), 1.5 * 1024 ** 3)
    assert.strictEqual(ServiceManager.parseSize("x"), undefined)
    assert.deepStrictEqual(ServiceManager.parseMemoryMax("infinity"), undefined)
    assert.deepStrictEqual(ServiceManager.parseMemoryMax("1048576"), 1048576)
    assert.deepStrictEqual(ServiceManager.parseMemoryMax("1M"), "malformed")
    assert.deepStrictEqual(
      ServiceManager.parseVacuum("Deleted archived journal /j/system@a-1-2.journal (8.0M).\nVacuuming done, freed 8.0M of archived journals from /j.\n"),
      { deleted: [{ path: "/j/system@a-1-2.journal", bytes: 8 * 1024 * 1024 }], freedBytes: 8 * 1024 * 1024 }
    )
    assert.strictEqual(ServiceManager.parseVacuum("nothing"), undefined)
  })
})

const pid1 = fs.readFileSync("/proc/1/comm", "utf8").trim()
const hasSystemctl = fs.existsSync("/usr/bin/systemctl") || fs.existsSync("/bin/systemctl")
describe.skipIf(pid1 === "systemd" || !hasSystemctl)(`ServiceManager.systemd without systemd as PID 1 (this machine: PID 1 is ${pid1})`, () => {
  const manager = ServiceManager.systemd(Shell.local)

  it.effect("facts are Unknown, never a guess; actions fail NoSystemd; a bad unit name never reaches systemctl", () =>
    Effect.gen(function*() {
      const active = yield* manager.isActive("byteport-none.service")
      assert.strictEqual(active._tag, "Unknown")
      const shown = yield* manager.show("byteport-none.service")
      assert.strictEqual(shown._tag, "Unknown")
      const restart = yield* Effect.flip(manager.restart("byteport-none.service"))
      assert.strictEqual(restart.reason, "NoSystemd")
      const limit = yield* Effect.flip(manager.setMemoryMax("byteport-none.service", 1 << 20))
      assert.strictEqual(limit.reason, "NoSystemd")
      const bad = yield* Effect.flip(manager.restart("--all"))
      assert.strictEqual(bad.reason, "InvalidArgument")
      const zero = yield* Effect.flip(manager.setMemoryMax("web.service", 0))
      assert.strictEqual(zero.reason, "InvalidArgument")
    }))
})

describeWithServices(["hosttools"], "ServiceManager.vacuumJournal with real journal files", () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-vacuum-"))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
  const manager = ServiceManager.systemd(Shell.local)

  it.effect("--vacuum-size removes archived files only and reports the bytes freed", () =>
    Effect.gen(function*() {
      const old = yield* writeJournal(dir, { archived: true, ageMs: 3_600_000, messages: ["old one"] })
      yield* writeJournal(dir, { archived: false, messages: ["active"] })
      const result = yield* manager.vacuumJournal({ size: 1, directory: dir })
      assert.deepStrictEqual(result.deleted.map((d) => d.path), [old])
      assert.isAbove(result.freedBytes, 0)
      assert.deepStrictEqual(fs.readdirSync(dir), ["system.journal"])
    }))

  it.effect("--vacuum-time keeps archived files younger than the limit", () =>
    Effect.gen(function*() {
      const young = yield* writeJournal(dir, { archived: true, ageMs: 60_000, messages: ["young"] })
      const result = yield* manager.vacuumJournal({ timeSeconds: 7 * 86400, directory: dir })
      assert.deepStrictEqual(result, { deleted: [], freedBytes: 0 })
      assert.isTrue(fs.existsSync(young))
    }))
})
