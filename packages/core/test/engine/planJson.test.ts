import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Plan } from "@byteport/core"
import * as W from "./world"

const repoRoot = nodePath.resolve(__dirname, "../../../..")

/** Runs the plan runner in a fresh Node process (argv array, no shell). */
const runInFreshProcess = (planFile: string) =>
  Effect.callback<string, Error>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", nodePath.join(__dirname, "scripts/runPlan.ts"), planFile], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (c) => (out += c))
    child.stderr.on("data", (c) => (err += c))
    child.on("close", (code) => resume(code === 0 ? Effect.succeed(out) : Effect.fail(new Error(`runner exited ${code}: ${err}`))))
  })

describe("a Plan is data", () => {
  it.live("encoded to JSON and run in a fresh process, it behaves like the original", () =>
    Effect.gen(function*() {
      const plan = W.everyStepPlan()
      const text = Plan.toJson(plan)
      // The JSON round trip is lossless.
      assert.deepStrictEqual(Plan.fromJson(text), plan)
      assert.strictEqual(Plan.digest(Plan.fromJson(text)), Plan.digest(plan))

      // In this process.
      const world = W.makeWorld()
      const hs = W.handlers(world)
      const here = yield* W.execute(plan).pipe(Effect.provide(W.layer(world, hs)))
      const local = {
        status: here.status,
        planDigest: here.planDigest,
        outcomes: here.outcomes.map((o) => [o.stepPath, o.kind, o.status]),
        writes: Object.values(hs).flatMap((h) => h.writes.map((w) => w.action.description)),
        handoffs: here.handoffs.map((s) => [s.type, s.parent?.hop ?? 0]),
        proposals: here.proposals.map((p) => p.title),
        bumps: world.bumps
      }

      // What the plan does (so the comparison is not between two empty runs).
      assert.strictEqual(local.status, "escalated")
      assert.deepStrictEqual(local.outcomes, [
        ["0.0.p", "w.fail", "failed"],
        ["0.0.o", "w.ok", "applied"],
        ["0.1.p", "w.denied", "denied"],
        ["0.1.o", "w.ok", "applied"],
        ["0.2.p", "w.ok", "applied"],
        ["0.2.check", "check:w.bumpsAtLeast", "check_failed"],
        ["0.2.o", "w.bump", "applied"],
        ["0.3.0", "w.bump", "applied"],
        ["0.3.1", "w.bump", "applied"],
        ["0.3", "check:w.bumpsAtLeast", "check_passed"],
        ["0.4", "wait:w.ticksAtLeast", "check_passed"],
        ["0.5", "handoff", "handed_off"],
        ["0.6", "propose", "proposed"],
        ["0.7", "escalate", "escalated"]
      ])
      assert.strictEqual(local.bumps, 3) // Until stopped after the 3rd bump: #9 and #10 never ran

      // In a fresh process, from the JSON text only.
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-plan-"))
      const file = nodePath.join(dir, "plan.json")
      fs.writeFileSync(file, text)
      const out = yield* runInFreshProcess(file)
      fs.rmSync(dir, { recursive: true, force: true })
      assert.deepStrictEqual(JSON.parse(out), local)
    }), { timeout: 60_000 })
})
