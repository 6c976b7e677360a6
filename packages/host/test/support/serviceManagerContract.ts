/**
 * The `ServiceManager` contract: what `ServiceManager.systemd` must answer, whoever answers its
 * systemctl / journalctl argv (real systemd, LocalSupervisor). `serviceManagerContract(get)`
 * registers the tests in the current `describe`. The subject runs four units:
 *
 * - `sleeper`: a long-running process (`Restart=on-failure`);
 * - `crasher`: exits 1 after ~300 ms (`Restart=on-failure`, `RestartSec` ~100 ms);
 * - `hog`: allocates without bound under `MemoryMax=64M` (`Restart=no`): the kernel OOM-kills it;
 * - `limited`: a long-running process whose MemoryMax the tests change.
 */
import * as fs from "node:fs"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { ServiceManager } from "../../src/index"

/** The subject of the contract. */
export interface Subject {
  readonly manager: ServiceManager.ServiceManagerShape
  readonly units: { readonly sleeper: string; readonly crasher: string; readonly hog: string; readonly limited: string }
  /** A journal directory the manager's vacuum may use (archived files the test writes there). */
  readonly journalDirectory: string
  /** Writes an archived journal file into the directory; returns its path. */
  readonly writeArchived: (ageMs: number) => Effect.Effect<string>
}

const known = <A>(c: ServiceManager.Check<A>): A => {
  if (c._tag !== "Known") throw new Error(`expected a Known fact, got Unknown: ${c.reason}`)
  return c.value
}

const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

/** Polls `f` every 50 ms until it returns a value (not undefined), for at most `ms`. */
export const eventually = <A>(f: () => Effect.Effect<A | undefined, unknown>, ms = 10_000): Effect.Effect<A, unknown> =>
  Effect.gen(function*() {
    const end = Date.now() + ms
    for (;;) {
      const v = yield* f()
      if (v !== undefined) return v
      if (Date.now() > end) return yield* Effect.fail(new Error(`not within ${ms} ms`))
      yield* Effect.sleep("50 millis")
    }
  })

/** Registers the contract tests. */
export const serviceManagerContract = (get: () => Subject): void => {
  const status = (unit: string) => Effect.map(Effect.suspend(() => get().manager.show(unit)), (c) => known(c))

  it.live("is-active: a running unit is active; a unit that does not exist is inactive, never Unknown", () =>
    Effect.gen(function*() {
      const { manager, units } = get()
      const a = known(yield* manager.isActive(units.sleeper))
      assert.deepStrictEqual(a, { state: "active", yes: true })
      const none = known(yield* manager.isActive("byteport-contract-none.service"))
      assert.deepStrictEqual(none, { state: "inactive", yes: false })
    }))

  it.live("show: ActiveState, a live MainPID, NRestarts, MemoryMax; a unit that does not exist is Known(undefined)", () =>
    Effect.gen(function*() {
      const { manager, units } = get()
      const s = yield* status(units.sleeper)
      assert.isDefined(s)
      assert.strictEqual(s!.activeState, "active")
      assert.strictEqual(s!.subState, "running")
      assert.isTrue(alive(s!.mainPid!), "MainPID is a live process")
      assert.strictEqual(s!.memoryMax, undefined)
      const none = yield* manager.show("byteport-contract-none.service")
      assert.deepStrictEqual(none, { _tag: "Known", value: undefined })
    }))

  it.live("restart: a new main process, the old one gone, NRestarts unchanged (it counts automatic restarts only)", () =>
    Effect.gen(function*() {
      const { manager, units } = get()
      const before = (yield* status(units.sleeper))!
      yield* manager.restart(units.sleeper)
      const after = (yield* status(units.sleeper))!
      assert.strictEqual(after.activeState, "active")
      assert.notStrictEqual(after.mainPid, before.mainPid)
      assert.isTrue(alive(after.mainPid!))
      assert.isFalse(alive(before.mainPid!), "the old main process is gone")
      assert.strictEqual(after.restarts, before.restarts)
    }))

  it.live("restart of a unit that does not exist fails NoSuchUnit; set-property too", () =>
    Effect.gen(function*() {
      const { manager } = get()
      const e = yield* Effect.flip(manager.restart("byteport-contract-none.service"))
      assert.strictEqual(e.reason, "NoSuchUnit")
      const f = yield* Effect.flip(manager.setMemoryMax("byteport-contract-none.service", 1 << 26))
      assert.strictEqual(f.reason, "NoSuchUnit")
    }))

  it.live("a unit that fails is restarted by the manager and NRestarts counts it", () =>
    Effect.gen(function*() {
      const { units } = get()
      const first = (yield* status(units.crasher))!
      const later = yield* eventually(() => Effect.map(status(units.crasher), (s) => (s!.restarts >= first.restarts + 1 ? s : undefined)))
      assert.isAtLeast(later.restarts, first.restarts + 1)
    }))

  it.live("set-property --runtime MemoryMax: show reads the new limit back; infinity lifts it", () =>
    Effect.gen(function*() {
      const { manager, units } = get()
      yield* manager.setMemoryMax(units.limited, 256 * 1024 * 1024)
      assert.strictEqual((yield* status(units.limited))!.memoryMax, 256 * 1024 * 1024)
      yield* manager.setMemoryMax(units.limited, "infinity")
      assert.strictEqual((yield* status(units.limited))!.memoryMax, undefined)
    }))

  it.live("a unit over its MemoryMax is OOM-killed for real: Result=oom-kill", () =>
    Effect.gen(function*() {
      const { units } = get()
      const s = yield* eventually(() => Effect.map(status(units.hog), (s) => (s!.activeState === "failed" ? s : undefined)), 20_000)
      assert.strictEqual(s.result, "oom-kill")
      assert.strictEqual(s.mainPid, undefined)
      assert.strictEqual(s.memoryMax, 64 * 1024 * 1024)
    }), 30_000)

  it.live("journal vacuum removes archived journal files only", () =>
    Effect.gen(function*() {
      const { manager, journalDirectory, writeArchived } = get()
      const old = yield* writeArchived(3_600_000)
      const active = fs.readdirSync(journalDirectory).filter((f) => !f.includes("@"))
      const r = yield* manager.vacuumJournal({ size: 1, directory: journalDirectory })
      assert.include(r.deleted.map((d) => d.path), old)
      assert.isFalse(fs.existsSync(old))
      for (const f of active) assert.isTrue(fs.existsSync(`${journalDirectory}/${f}`), `${f} (active) kept`)
    }))
}
