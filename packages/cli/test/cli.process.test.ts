/**
 * The `byteport` program as a user runs it (a child process from source): `replay` prints the
 * golden output for two recorded fixtures (text and --json), opening no socket and writing
 * nothing — every connect and every file-system write of the child is intercepted and reported
 * (test/support/no-io.mjs; the interceptor is shown to catch `record`'s connect) — and the
 * documented exit codes. The program starts without vitest installed (test/support/no-vitest.mjs).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { byteport, inProcess, repo } from "./support/child"

const golden = (name: string, actual: string) => {
  const file = path.join(import.meta.dirname, "golden", name)
  if (process.env["BYTEPORT_UPDATE_GOLDEN"] === "1") fs.writeFileSync(file, actual)
  assert.strictEqual(actual, fs.readFileSync(file, "utf8"), `${file} (BYTEPORT_UPDATE_GOLDEN=1 rewrites it after review)`)
}

describe("byteport replay (child process)", () => {
  it.live("golden output for two fixtures; no socket, no write (intercepted); the interceptor catches a connect", () =>
    Effect.gen(function*() {
      const [text, json, control, bare] = yield* Effect.all([
        byteport(["replay", "k8s.oom.six-signal", "packages/k8s/fixtures/oom/undersized_limit"], { noIo: true }),
        byteport(["replay", "k8s.crashloop.five-branch", "packages/k8s/fixtures/five-branch/dependency_not_ready", "--json"], { noIo: true }),
        // the positive control: record must connect, and the interceptor refuses and reports it
        Effect.gen(function*() {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-noio-"))
          const kc = path.join(dir, "kubeconfig")
          fs.writeFileSync(kc, [
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:9\", insecure-skip-tls-verify: true}}]",
            "contexts: [{name: c, context: {cluster: c, user: u}}]",
            "users: [{name: u, user: {token: t}}]",
            "current-context: c"
          ].join("\n"))
          const out = path.join(dir, "out")
          const r = yield* byteport(["record", "k8s.oom.six-signal", "--target", "default/api-0", "--out", out, "--kubeconfig", kc], { noIo: true })
          assert.isFalse(fs.existsSync(out))
          fs.rmSync(dir, { recursive: true, force: true })
          return r
        }),
        // without vitest / @effect/vitest installed the program starts (the fixture decoders that need them load lazily)
        byteport(["run", "--config", "/no/such/byteport.yaml"], { noVitest: true })
      ], { concurrency: 4 })
      for (const r of [text, json]) {
        assert.strictEqual(r.code, 0, r.stderr)
        assert.notInclude(r.stderr, "NO-IO:", "replay opened a socket or wrote a file")
      }
      golden("replay-oom-undersized_limit.txt", text.stdout)
      golden("replay-five-branch-dependency_not_ready.json", json.stdout)
      assert.strictEqual(JSON.parse(json.stdout).classification.class, "dependency_not_ready")
      assert.match(control.stderr, /NO-IO: connect 127\.0\.0\.1:9/)
      assert.strictEqual(control.code, 4)
      assert.notInclude(bare.stderr, "NO-VITEST")
      assert.strictEqual(bare.code, 2, bare.stderr)
      assert.include(bare.stderr, "/no/such/byteport.yaml")
    }), 180_000)
})

describe("byteport exit codes (in process)", () => {
  it.live("replay: 0 plan, 1 no action, 2 usage / unknown runbook / bad fixture naming the path; help 0; unknown command 1", () =>
    Effect.gen(function*() {
      const ok = yield* inProcess(["replay", "k8s.oom.six-signal", path.join(repo, "packages/k8s/fixtures/oom/undersized_limit")])
      assert.strictEqual(ok.code, 0, ok.text)
      const none = yield* inProcess(["replay", "k8s.oom.six-signal", path.join(repo, "packages/k8s/fixtures/oom/liveness_kill_137")])
      assert.strictEqual(none.code, 1, none.text)
      assert.include(none.text, "exit code 137 without reason OOMKilled")
      const missing = yield* inProcess(["replay", "k8s.oom.six-signal", "/no/such/dir"])
      assert.strictEqual(missing.code, 2)
      assert.include(missing.text, "/no/such/dir")
      const unknown = yield* inProcess(["replay", "k8s.nope", "/no/such/dir"])
      assert.strictEqual(unknown.code, 2)
      assert.include(unknown.text, "replayable: ")
      assert.strictEqual((yield* inProcess(["replay", "k8s.oom.six-signal"])).code, 2)
      assert.strictEqual((yield* inProcess(["replay", "a", "b", "--bogus", "x"])).code, 2)
      assert.strictEqual((yield* inProcess(["record", "db.pool.six-class", "--target", "default/p", "--out", "/tmp/x"])).code, 2)
      const unsupported = yield* inProcess(["record", "db.pool.six-class", "--target", "default/p", "--out", "/tmp/x"])
      assert.include(unsupported.text, "supported: k8s.oom.six-signal, k8s.crashloop.five-branch")
      assert.strictEqual((yield* inProcess(["run"])).code, 2)
      assert.strictEqual((yield* inProcess(["run", "--config", "/no/such/config.yaml"])).code, 2)
      assert.strictEqual((yield* inProcess(["--help"])).code, 0)
      assert.strictEqual((yield* inProcess(["frobnicate"])).code, 1)
    }), 60_000)
})
