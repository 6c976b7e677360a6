import { spawn } from "node:child_process"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const repoRoot = nodePath.resolve(__dirname, "../..")

/** Runs `examples/src/demo.ts` as `npm start` does, in a child process (argv array, no shell). */
const runDemo = Effect.callback<{ code: number | null; stdout: string; stderr: string }>((resume) => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", nodePath.join(repoRoot, "examples/src/demo.ts")], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (c) => (stdout += c))
  child.stderr.on("data", (c) => (stderr += c))
  child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
})

describe("the demo", () => {
  it.live("runs every scenario, prints the timeline phases and the postmortem, and exits 0 by itself", () =>
    Effect.gen(function*() {
      const { code, stderr, stdout } = yield* runDemo
      assert.strictEqual(code, 0, stderr)
      // Every phase of the lifecycle shows in the timelines.
      for (const phase of ["detect", "diagnose", "classify", "plan", "guardrails", "act", "verify", "approval", "escalate", "close"]) {
        assert.match(stdout, new RegExp(`^  \\d\\d:\\d\\d:\\d\\d\\.\\d{3}  ${phase}\\b`, "m"), `phase ${phase} missing`)
      }
      // The four scenarios end as they should.
      assert.match(stdout, /=== 1\. auto[^\n]*\n(?:  [^\n]*\n)*  → recovered/)
      assert.match(stdout, /deny by one scale per queue per hour/)
      assert.match(stdout, /=== 3\. dry_run[^\n]*\n(?:  [^\n]*\n)*  → dry_run/)
      assert.match(stdout, /writes during the dry run: 0/)
      assert.match(stdout, /POST \/approvals\/inc_\w+ → 202/)
      assert.match(stdout, /=== 4\. approval — resumed after approval ===\n(?:  [^\n]*\n)*  → recovered/)
      assert.match(stdout, /writes made to the service: scale emails 2->4, quarantine billing job-8841\n/)
      // The Markdown postmortem.
      assert.match(stdout, /^# Incident inc_\w+: too_few_workers on jobs\.queue default\/emails$/m)
      assert.match(stdout, /^## Timeline$/m)
      assert.match(stdout, /^## Guardrail decisions$/m)
      assert.notMatch(stdout, /demo-token/) // the approval token is never printed
    }), { timeout: 60_000 })
})
