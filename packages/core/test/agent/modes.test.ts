/**
 * `Modes.fromFile`: operators flip a runbook's mode in a file while the agent runs. The next
 * incident uses the new mode; an invalid edit keeps the last good mode and is reported (typed
 * error, logged once); values are case-insensitive; an unknown mode is rejected; the file wins
 * over the environment, a per-call `{ mode }` over the file.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Modes, Notifier, Runbook } from "@byteport/core"
import * as F from "../engine/fixture"

const tmpFile = (name: string, text: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "byteport-modes-")), name)
  fs.writeFileSync(file, text)
  return file
}

const id = "test.pool.backlog"

/** Handles one backlog incident on a fresh backlog; returns its mode and the writes it made. */
const incident = (pool: F.Pool, options: { readonly mode?: "observe" | "dry_run" | "auto" } = {}) =>
  Effect.gen(function*() {
    pool.workers = 2
    pool.queue = 500
    pool.writes.length = 0
    const r = yield* Runbook.handle(F.runbook(pool, { cooldown: "1 millis", defaultMode: "observe" }), F.signal(), options)
    if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
    yield* TestClock.adjust("1 hour") // past the cooldown and the action kind's 1/hour budget: every auto incident scales
    return { mode: r.mode, writes: [...pool.writes] }
  })

describe("Modes.parse", () => {
  it("JSON and YAML, case-insensitive values", () => {
    const yaml = Modes.parse("m.yaml", `default: DRY_RUN\nrunbooks:\n  k8s.oom.six-signal: " Auto "\n  db.pool: Observe\n`)
    assert.deepStrictEqual(yaml, { default: "dry_run", runbooks: { "k8s.oom.six-signal": "auto", "db.pool": "observe" } })
    const json = Modes.parse("m.json", JSON.stringify({ default: "dry_run", runbooks: { "k8s.oom.six-signal": "AUTO" } }))
    assert.deepStrictEqual(json, { default: "dry_run", runbooks: { "k8s.oom.six-signal": "auto" } })
    assert.deepStrictEqual(Modes.parse("m.yaml", "runbooks: {}\n"), { runbooks: {} })
  })

  it("rejects an unknown mode, an unknown key, a non-mapping and broken syntax, naming the place", () => {
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      ["m.yaml", "runbooks:\n  k8s.oom.six-signal: atuo\n", /runbooks\.k8s\.oom\.six-signal must be observe, dry_run or auto \(any case\), got "atuo"/],
      ["m.yaml", "default: yes-please\n", /default must be observe, dry_run or auto/],
      ["m.yaml", "default: 3\n", /default must be observe, dry_run or auto .*got 3/],
      ["m.yaml", "defualt: auto\n", /unknown key "defualt"/],
      ["m.yaml", "- auto\n", /expected a mapping/],
      ["m.yaml", "", /expected a mapping .*got nothing/],
      ["m.yaml", "runbooks: [auto]\n", /"runbooks" must map runbook ids to modes/],
      ["m.json", "{ \"default\": ", /not valid JSON/],
      ["m.yaml", "default: [unclosed\n", /not valid YAML/]
    ]
    for (const [file, text, expected] of cases) {
      const r = Modes.parse(file, text)
      assert.instanceOf(r, Modes.ModesFileError, text)
      if (r instanceof Modes.ModesFileError) {
        assert.match(r.message, expected)
        assert.strictEqual(r.path, file)
      }
    }
  })
})

describe("Modes.fromFile", () => {
  it.effect("flipping the file at run time: the next incident uses the new mode, without a restart", () => {
    const pool = F.makePool()
    const file = tmpFile("modes.yaml", `default: observe\nrunbooks:\n  ${id}: dry_run\n`)
    return Effect.gen(function*() {
      const a = yield* incident(pool)
      assert.deepStrictEqual(a, { mode: "dry_run", writes: [] })
      fs.writeFileSync(file, `default: observe\nrunbooks:\n  ${id}: AUTO\n`) // the operator's edit
      const b = yield* incident(pool)
      assert.deepStrictEqual(b, { mode: "auto", writes: ["scale 2->4"] })
      fs.writeFileSync(file, `default: observe\nrunbooks: {}\n`) // entry removed: the file's default
      const c = yield* incident(pool)
      assert.deepStrictEqual(c, { mode: "observe", writes: [] })
    }).pipe(Effect.provide(Layer.mergeAll(F.layer(pool), Modes.fromFile(file))))
  })

  it.effect("an invalid edit keeps the last good mode and reports a typed error, once per bad version", () => {
    const pool = F.makePool()
    const file = tmpFile("modes.json", JSON.stringify({ runbooks: { [id]: "auto" } }))
    const logged: Array<string> = []
    const capture = Logger.make((o) => void logged.push(`${o.logLevel} ${(Array.isArray(o.message) ? o.message : [o.message]).map(String).join(" ")}`))
    return Effect.gen(function*() {
      const source = (yield* Modes.Current)!
      assert.strictEqual((yield* incident(pool)).mode, "auto")
      fs.writeFileSync(file, JSON.stringify({ runbooks: { [id]: "atuo" } })) // a typo
      const b = yield* incident(pool)
      assert.deepStrictEqual(b, { mode: "auto", writes: ["scale 2->4"] }, "the last good mode stays")
      const errors = yield* source.errors
      assert.strictEqual(errors.length, 1)
      assert.strictEqual(errors[0]!._tag, "ModesFileError")
      assert.match(errors[0]!.message, /modes\.json: runbooks\.test\.pool\.backlog must be observe, dry_run or auto \(any case\), got "atuo"/)
      assert.strictEqual(logged.filter((l) => l.startsWith("Error") && l.includes("atuo") && l.includes("keeping the last good modes")).length, 1)
      const audited = () =>
        Effect.gen(function*() {
          const got = yield* (yield* Notifier.NotifierRecording).get
          return got.audit.filter((a) => a.event === "config.invalid_mode")
        })
      const first = yield* audited()
      assert.strictEqual(first.length, 1, "the incident audited the bad edit")
      assert.deepStrictEqual(first[0]!.data["runbook"], id)
      assert.match(String(first[0]!.data["warning"]), /got "atuo": keeping the last good modes/)
      yield* incident(pool) // the same bad version: not reported again
      assert.strictEqual((yield* source.errors).length, 1)
      assert.strictEqual((yield* audited()).length, 1)
      fs.writeFileSync(file, "{ not json") // another bad version
      assert.strictEqual((yield* incident(pool)).mode, "auto")
      assert.strictEqual((yield* source.errors).length, 2)
      assert.match((yield* source.errors)[1]!.message, /not valid JSON/)
      fs.rmSync(file) // deleted: still the last good table
      assert.strictEqual((yield* incident(pool)).mode, "auto")
      assert.match((yield* source.errors)[2]!.message, /cannot be read/)
      fs.writeFileSync(file, JSON.stringify({ runbooks: { [id]: "Dry_Run" } })) // fixed
      assert.deepStrictEqual(yield* incident(pool), { mode: "dry_run", writes: [] })
      assert.strictEqual((yield* source.errors).length, 3)
    }).pipe(Effect.provide(Layer.mergeAll(F.layer(pool), Modes.fromFile(file), Logger.layer([capture]))))
  })

  it.effect("the file wins over the environment; a runbook the file says nothing about falls back to it; a per-call mode wins over the file", () => {
    const pool = F.makePool()
    const file = tmpFile("modes.yaml", `runbooks:\n  some.other.runbook: auto\n`)
    const env = ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_MODE: "dry_run" }))
    return Effect.gen(function*() {
      assert.strictEqual((yield* incident(pool)).mode, "dry_run", "no entry, no default: the environment")
      fs.writeFileSync(file, `runbooks:\n  ${id}: auto\n`)
      assert.strictEqual((yield* incident(pool)).mode, "auto", "the file's entry over BYTEPORT_MODE")
      assert.strictEqual((yield* incident(pool, { mode: "observe" })).mode, "observe", "the per-call option over the file")
    }).pipe(Effect.provide(Layer.mergeAll(F.layer(pool), Modes.fromFile(file), env)))
  })

  it.effect("at construction, a missing or invalid file fails the layer with ModesFileError", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Layer.build(Modes.fromFile(path.join(os.tmpdir(), "byteport-no-such-dir", "modes.yaml"))).pipe(Effect.scoped))
      assert.strictEqual(missing._tag, "ModesFileError")
      assert.match(missing.message, /cannot be read/)
      const bad = yield* Effect.flip(Layer.build(Modes.fromFile(tmpFile("modes.yaml", "default: sometimes\n"))).pipe(Effect.scoped))
      assert.match(bad.message, /default must be observe, dry_run or auto/)
    }))

  it.live("the watcher re-reads a saved file at once: a bad edit is reported before any incident", () => {
    const file = tmpFile("modes.yaml", `default: dry_run\n`)
    return Effect.gen(function*() {
      const source = (yield* Modes.Current)!
      fs.writeFileSync(file, `default: atuo\n`)
      for (let i = 0; i < 100 && (yield* source.errors).length === 0; i++) yield* Effect.sleep("20 millis")
      assert.strictEqual((yield* source.errors).length, 1, "reported by the watcher, no lookup made")
      fs.writeFileSync(file, `default: auto\n`)
      assert.deepStrictEqual(yield* source.current, { default: "auto", runbooks: {} })
    }).pipe(Effect.provide(Modes.fromFile(file)))
  })
})
