import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as ProcInfo from "../src/readers/ProcInfo"

describe("ProcInfo", () => {
  it.effect("a real child: oom_score_adj, argv with spaces, and only the named environ variables", () =>
    Effect.gen(function*() {
      const child = spawn("/bin/sleep", ["30"], {
        stdio: "ignore",
        env: { PATH: "/usr/bin:/bin", NODE_OPTIONS: "--max-old-space-size=256 --heapsnapshot-signal=SIGUSR2", GOMEMLIMIT: "512MiB", DB_PASSWORD: "s3cret" }
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      yield* Effect.promise(() => new Promise((r) => child.once("spawn", r)))
      for (let i = 0; i < 100 && fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8").startsWith("/bin/sleep") === false; i++) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      }
      fs.writeFileSync(`/proc/${child.pid}/oom_score_adj`, "500")
      assert.strictEqual(yield* ProcInfo.oomScoreAdj(child.pid!), 500)
      assert.deepStrictEqual(yield* ProcInfo.cmdline(child.pid!), ["/bin/sleep", "30"])
      const env = yield* ProcInfo.environ(child.pid!)
      assert.deepStrictEqual(env, { NODE_OPTIONS: "--max-old-space-size=256 --heapsnapshot-signal=SIGUSR2", GOMEMLIMIT: "512MiB" })
      assert.notInclude(JSON.stringify(env), "s3cret")
      assert.deepStrictEqual(yield* ProcInfo.environ(child.pid!, ["DB_PASSWORD"]), { DB_PASSWORD: "s3cret" })
      assert.deepStrictEqual(yield* ProcInfo.cmdline(2), []) // a kernel thread
      const gone = yield* Effect.exit(ProcInfo.oomScoreAdj(999_999_999))
      assert.isTrue(Exit.isFailure(gone))
      assert.match(JSON.stringify(gone), /HostReadError/)
    }).pipe(Effect.scoped))
})
