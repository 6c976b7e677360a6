import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { FileStore, GuardrailStore, Notifier, Plan, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
// the `byteport` command line moved to @byteport/cli
import { main } from "../../../cli/src/Cli"
import { parseArgs, parseTtl } from "../../../cli/src/Args"
import * as M from "./fixtures/replayModule"

const repoRoot = nodePath.resolve(__dirname, "../../../..")
const cli = (args: ReadonlyArray<string>) =>
  Effect.callback<{ code: number; stdout: string; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", nodePath.join(__dirname, "../../../cli/src/main.ts"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("close", (code) => resume(Effect.succeed({ code: code ?? -1, stdout, stderr })))
  })

const target = TargetRef.make("pool", "default/jobs")

describe("recording handlers and the test layer", () => {
  it.effect("records every run with its mode; dry_run never calls apply", () => {
    let applied = 0
    const rec = Testing.recordingHandler("pool.scale", { apply: () => Effect.sync(() => void applied++) })
    return Effect.gen(function*() {
      const facts = { workers: 2, queue: 500 }
      const withFacts = Runbook.make<M.Facts>({ ...baseOptions(), diagnose: () => Effect.succeed(Testing.facts(facts)) })
      const dry = yield* Runbook.handle(withFacts, signal(), { mode: "dry_run" })
      assert.strictEqual((dry as any).status, "dry_run")
      assert.deepStrictEqual(rec.runs.map((r) => r.mode), ["dry_run"])
      assert.strictEqual(applied, 0)
      assert.deepStrictEqual(rec.writes, [])
      yield* Testing.advance("6 minutes") // past the dry_run incident's cooldown lease on the target
      const auto = yield* Runbook.handle(withFacts, signal(), { mode: "auto" })
      assert.strictEqual((auto as any).status, "recovered")
      assert.deepStrictEqual(rec.runs.map((r) => r.mode), ["dry_run", "auto"])
      assert.strictEqual(applied, 1)
      assert.strictEqual(rec.writes[0]!.action.params["to"], 4)
      const notes = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(notes.plans.length, 1)
      assert.strictEqual(notes.reports.length, 2)
      rec.reset()
      assert.deepStrictEqual(rec.runs, [])
    }).pipe(Effect.provide(Testing.layer({ handlers: [rec] })))
  })

  it.effect("runAdvancing drives an effect that sleeps; advance moves the clock", () =>
    Effect.gen(function*() {
      const t0 = yield* Clock.currentTimeMillis
      const v = yield* Testing.runAdvancing(Effect.as(Effect.sleep("90 seconds"), "done"), { step: "15 seconds" })
      assert.strictEqual(v, "done")
      assert.strictEqual((yield* Clock.currentTimeMillis) - t0, 90_000)
      yield* Testing.advance("1 hour")
      assert.strictEqual((yield* Clock.currentTimeMillis) - t0, 90_000 + 3_600_000)
      const stuck = yield* Effect.exit(Testing.runAdvancing(Effect.never, { step: "1 hour", max: "3 hours" }))
      assert.strictEqual(stuck._tag, "Failure")
    }))
})

describe("replay", () => {
  it.effect("replay(runbook, facts) builds the plan without probing or writing", () =>
    Effect.gen(function*() {
      const r = yield* Testing.replay(M.runbook, Testing.facts({ workers: 3, queue: 900 }))
      assert.strictEqual(r.classification._tag, "Classified")
      assert.strictEqual(r.plan?.summary, "scale 3 → 6, else escalate")
      assert.strictEqual(r.planDigest, Plan.digest(r.plan!))
      assert.deepStrictEqual(M.writes, []) // no probe ran
      const fromFile = yield* Testing.replayFixture(M, nodePath.join(__dirname, "fixtures/pool.json"))
      assert.strictEqual(fromFile.plan?.summary, "scale 2 → 4, else escalate")
      const bad = yield* Effect.flip(Testing.replayFixture(M, nodePath.join(__dirname, "fixtures/pool-bad.json")))
      assert.deepStrictEqual(bad.path, ["workers"])
      const none = yield* Testing.replay(M.runbook, Testing.facts({ workers: 3, queue: 0 }))
      assert.strictEqual(none.plan, undefined)
      assert.strictEqual(none.classification._tag, "Unclassified")
    }))

  it.live("`byteport replay <module> <fixture>` prints the plan; a malformed fixture names the path", () =>
    Effect.gen(function*() {
      const mod = nodePath.join(__dirname, "fixtures/replayModule.ts")
      const ok = yield* cli(["replay", mod, nodePath.join(__dirname, "fixtures/pool.json")])
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, /classification: too_few_workers \(confidence 0\.90\)/)
      assert.match(ok.stdout, /Plan \(example\.pool\.backlog \/ too_few_workers\): scale 2 → 4, else escalate/)
      assert.match(ok.stdout, /\[pool\.scale\] scale pool default\/jobs to 4 workers/)
      const bad = yield* cli(["replay", mod, nodePath.join(__dirname, "fixtures/pool-bad.json")])
      assert.strictEqual(bad.code, 1)
      assert.match(bad.stderr, /pool-bad\.json: at \["workers"\]: Expected number, got "two"/)
      const noModule = yield* cli(["replay", nodePath.join(__dirname, "fixtures/pool.json"), nodePath.join(__dirname, "fixtures/pool.json")])
      assert.strictEqual(noModule.code, 4)
    }), { timeout: 60_000 })

  it.live("byteport pending / approve / usage, in process", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-cli-"))
      const saved = process.env["BYTEPORT_STORE_DIR"]
      process.env["BYTEPORT_STORE_DIR"] = dir
      const out: Array<string> = []
      const write = process.stdout.write
      const errWrite = process.stderr.write
      process.stdout.write = ((c: string) => (out.push(String(c)), true)) as any
      process.stderr.write = ((c: string) => (out.push(String(c)), true)) as any
      try {
        // a paused incident in the FileStore
        yield* Effect.gen(function*() {
          const store = yield* GuardrailStore.GuardrailStore
          yield* store.appendJournal({ incidentId: "inc-p", at: 1, type: "opened", data: { runbook: "r", targetKey: "t:x" } })
          yield* store.appendJournal({ incidentId: "inc-p", at: 2, type: "awaiting_approval", data: { planDigest: "d1", expiresAt: 4_000_000_000_000, reason: "drain" } })
        }).pipe(Effect.provide(FileStore.layer({ directory: dir, fsync: false })))
        assert.strictEqual(yield* Effect.promise(() => main(["pending", "inc-p"])), 0)
        assert.match(out.join(""), /"planDigest": "d1"/)
        assert.strictEqual(yield* Effect.promise(() => main(["pending", "inc-none"])), 2)
        assert.strictEqual(yield* Effect.promise(() => main(["approve", "inc-p", "--digest", "d1"])), 1)
        assert.strictEqual(yield* Effect.promise(() => main(["approve", "inc-p", "--digest", "d1", "--approver", "x", "--bogus", "1"])), 1)
        assert.strictEqual(yield* Effect.promise(() => main(["approve", "inc-p", "--digest", "d2", "--approver", "x"])), 3)
        assert.strictEqual(yield* Effect.promise(() => main(["approve", "inc-p", "--digest", "d1", "--approver", "x", "--ttl", "1h"])), 0)
        assert.strictEqual(yield* Effect.promise(() => main(["frobnicate"])), 1)
        assert.strictEqual(yield* Effect.promise(() => main([])), 1)
      } finally {
        process.stdout.write = write
        process.stderr.write = errWrite
        if (saved === undefined) delete process.env["BYTEPORT_STORE_DIR"]
        else process.env["BYTEPORT_STORE_DIR"] = saved
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))

  it("the CLI parses flags and TTLs", () => {
    assert.deepStrictEqual(parseArgs(["a", "--digest", "d", "--ttl=2h"]).flags, new Map([["digest", "d"], ["ttl", "2h"]]))
    assert.throws(() => parseArgs(["--digest"]), /needs a value/)
    assert.strictEqual(parseTtl("30m").toString(), parseTtl("30 minutes").toString())
    assert.throws(() => parseTtl("soon"), /expected a duration/)
  })
})

const signal = () => ({ type: "pool.backlog", target, observedAt: 0, evidence: {} })
const baseOptions = (): Runbook.MakeOptions<M.Facts, never> => ({
  id: "example.pool.backlog",
  signals: ["pool.backlog"],
  diagnose: M.runbook.diagnose,
  classify: M.runbook.classify,
  remediate: M.runbook.remediate,
  verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 })),
  defaultMode: "auto"
})

