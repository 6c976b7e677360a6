import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Testing from "@byteport/core/testing"
import * as M from "./fixtures/replayModule"

const tmp = () => fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-golden-"))
const saved = { update: process.env["BYTEPORT_UPDATE_GOLDEN"], ci: process.env["CI"] }
afterEach(() => {
  for (const [k, v] of [["BYTEPORT_UPDATE_GOLDEN", saved.update], ["CI", saved.ci]] as const) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

describe("golden files", () => {
  it.effect("expectPlan matches the reviewed golden plan", () =>
    Effect.gen(function*() {
      const r = yield* Testing.replay(M.runbook, Testing.facts({ workers: 2, queue: 500 }))
      // Reviewed file, committed: a changed plan fails here with a diff.
      Testing.expectPlan(r.plan!, nodePath.join(__dirname, "golden/pool-backlog.plan.golden"))
    }))

  it("a changed value throws a readable diff; BYTEPORT_UPDATE_GOLDEN=1 rewrites the file", () => {
    delete process.env["BYTEPORT_UPDATE_GOLDEN"]
    const dir = tmp()
    const file = nodePath.join(dir, "x.golden.json")
    fs.writeFileSync(file, Testing.serialize({ a: 1, b: [1, 2, 3], c: "same" }))
    Testing.expectGolden({ a: 1, b: [1, 2, 3], c: "same" }, file)
    try {
      Testing.expectGolden({ a: 2, b: [1, 2, 3], c: "same" }, file)
      assert.fail("should have thrown")
    } catch (e) {
      assert.instanceOf(e, Testing.GoldenMismatch)
      const m = (e as Error).message
      assert.match(m, /BYTEPORT_UPDATE_GOLDEN=1/)
      assert.match(m, /^-  "a": 1,$/m)
      assert.match(m, /^\+  "a": 2,$/m)
      assert.match(m, /^ {3}"b": \[$/m) // context line
    }
    process.env["BYTEPORT_UPDATE_GOLDEN"] = "1"
    Testing.expectGolden({ a: 2, b: [1, 2, 3], c: "same" }, file)
    assert.strictEqual(fs.readFileSync(file, "utf8"), Testing.serialize({ a: 2, b: [1, 2, 3], c: "same" }))
    delete process.env["BYTEPORT_UPDATE_GOLDEN"]
    Testing.expectGolden({ a: 2, b: [1, 2, 3], c: "same" }, file)
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("a missing golden file is written on first run, but fails under CI=true", () => {
    delete process.env["BYTEPORT_UPDATE_GOLDEN"]
    const dir = tmp()
    process.env["CI"] = "true"
    assert.throws(() => Testing.expectGolden("hello", nodePath.join(dir, "ci.golden")), Testing.GoldenMismatch)
    assert.isFalse(fs.existsSync(nodePath.join(dir, "ci.golden")))
    delete process.env["CI"]
    Testing.expectGolden("hello", nodePath.join(dir, "sub/new.golden"))
    assert.strictEqual(fs.readFileSync(nodePath.join(dir, "sub/new.golden"), "utf8"), "hello\n")
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
