/**
 * `byteport replay <runbook> <fixture-dir>` over every runbook of the tree that has recorded
 * fixtures: every fixture directory decodes, classifies and plans through the runbook value; where
 * a reviewed golden plan ships next to the fixture, the replayed plan is that plan; the exit code
 * follows the documented table. Runbook ids with fixtures but no replay source are listed as
 * pending (and fail with a message saying so), never counted as passing.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Plan } from "@byteport/core"
import { planText } from "@byteport/core/testing"
import { Effect } from "effect"
import * as Replay from "../src/Replay"
import * as Sources from "../src/Sources"

const repo = path.resolve(import.meta.dirname, "../../..")

describe("replay sources", () => {
  it("every source has fixtures; pending ids are not sources; the k8s runbooks with recorded fixtures are all covered", () => {
    for (const s of Sources.all) assert.isAtLeast(s.fixtures().length, 1, s.id)
    for (const id of Sources.pendingIds) assert.isUndefined(Sources.get(id), id)
    const ids = Sources.all.map((s) => s.id).sort()
    assert.deepStrictEqual(ids, [
      "db.pool.six-class",
      "k8s.crashloop.exit-code",
      "k8s.crashloop.five-branch",
      "k8s.crashloop.seven-class",
      "k8s.deploy.failed-rollout",
      "k8s.image-pull",
      "k8s.node.pressure-drain",
      "k8s.oom.exit-137",
      "k8s.oom.six-signal",
      "k8s.pending",
      "k8s.restart-loop.container"
    ])
    // pending: listed, never passing
    console.log(`replay: pending (fixtures, no replay source yet): ${Sources.pendingIds.join(", ")}`)
  })

  for (const source of Sources.all) {
    it.effect(`${source.id}: every fixture replays; the golden plans are reproduced`, () =>
      Effect.gen(function*() {
        let goldens = 0
        for (const dir of source.fixtures()) {
          const r = yield* Replay.replay(source.id, dir)
          assert.strictEqual(r.runbook, source.id)
          const golden = path.join(dir, source.golden)
          if (r.plan && fs.existsSync(golden)) {
            const text = fs.readFileSync(golden, "utf8")
            const json = `${Plan.toJson(r.plan)}\n`
            assert.isTrue(text === planText(r.plan) || text === json, `${dir}: the replayed plan is not ${source.golden}`)
            goldens++
          }
          // the documented exit codes
          const acts = r.plan ? Plan.actions(r.plan.root).length : 0
          assert.strictEqual(r.exitCode, r.guardrails.some((g) => g.result === "deny") ? 3 : acts > 0 ? 0 : 1, dir)
          if (r.classification._tag !== "Classified") assert.isUndefined(r.plan)
        }
        // the db corpus carries its expected class in meta.json instead of golden plans
        if (source.id === "db.pool.six-class") {
          for (const dir of source.fixtures()) {
            const expected = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")).expected.class
            const r = yield* Replay.replay(source.id, dir)
            assert.strictEqual(r.classification._tag === "Classified" ? r.classification.class : r.classification._tag, expected, dir)
          }
        } else assert.isAtLeast(goldens, 1, `${source.id}: at least one golden plan reproduced`)
      }), 120_000)
  }

  it.effect("a bad fixture names the file (and the field); an unknown runbook names the replayable ones", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Replay.replay("k8s.oom.six-signal", "/nonexistent/fixture"))
      assert.strictEqual(missing._tag, "FixtureError")
      assert.include(missing.message, "/nonexistent/fixture")
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-cli-bad-"))
      fs.cpSync(path.join(repo, "packages/k8s/fixtures/oom/undersized_limit"), tmp, { recursive: true })
      const pod = JSON.parse(fs.readFileSync(path.join(tmp, "pod.json"), "utf8"))
      pod.status.containerStatuses[0].restartCount = "three"
      fs.writeFileSync(path.join(tmp, "pod.json"), JSON.stringify(pod))
      const bad = yield* Effect.flip(Replay.replay("k8s.oom.six-signal", tmp))
      assert.include(bad.message, "pod.json")
      assert.include(bad.message, "restartCount")
      fs.rmSync(tmp, { recursive: true, force: true })
      const unknown = yield* Effect.flip(Replay.replay("k8s.nope", tmp))
      assert.strictEqual(unknown._tag, "UnknownRunbook")
      assert.include(unknown.message, "k8s.oom.six-signal")
      const pending = yield* Effect.flip(Replay.replay("k8s.node.not-ready", tmp))
      assert.include(pending.message, "no replay source yet")
    }))

  it.effect("classification reasons, the plan and the JSON form", () =>
    Effect.gen(function*() {
      const dir = path.join(repo, "packages/k8s/fixtures/oom/genuine_memory_leak-2-restarts")
      const r = yield* Replay.replay("k8s.oom.six-signal", dir)
      assert.strictEqual(r.classification._tag, "Unclassified")
      assert.strictEqual(r.exitCode, 1)
      assert.isAtLeast(r.classification.reasons.length, 1)
      assert.include(Replay.render(r), "no plan")
      const ok = yield* Replay.replay("k8s.oom.six-signal", path.join(repo, "packages/k8s/fixtures/oom/undersized_limit"))
      const j = JSON.parse(Replay.toJson(ok))
      assert.strictEqual(j.exitCode, 0)
      assert.strictEqual(j.classification.class, "undersized_limit")
      assert.deepStrictEqual(Plan.fromJson(JSON.stringify(j.plan)), ok.plan)
      assert.strictEqual(j.planDigest, Plan.digest(ok.plan!))
    }))

  it.effect("guardrails: the runbook's own are checked read-only per action (exit code 3 when one denies)", () =>
    Effect.gen(function*() {
      // k8s.crashloop.exit-code declares runbook-level restart guardrails
      const source = Sources.get("k8s.crashloop.exit-code")!
      const withActs: Array<Replay.Result> = []
      for (const dir of source.fixtures()) {
        const r = yield* Replay.replay(source.id, dir)
        if (r.plan && Plan.actions(r.plan.root).length > 0) withActs.push(r)
      }
      assert.isAtLeast(withActs.length, 1)
      const guarded = withActs.filter((r) => r.guardrails.length > 0)
      assert.isAtLeast(guarded.length, 1, "a plan with actions has its guardrails checked")
      for (const r of guarded) {
        for (const g of r.guardrails) assert.include(["pass", "deny", "needs_approval"], g.result)
        assert.include(Replay.render(r), "guardrails (read-only checks):")
      }
    }))
})
