/**
 * `byteport run --config <file>` as a child process against `kube-sim serve` (another child):
 * it elects itself leader on the configured coordination.k8s.io Lease, runs the enabled runbooks,
 * and on SIGTERM stops, releases the election Lease (holder cleared) and exits 0. A bad config
 * file exits 2 naming the file and the field.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { inProcess, mainTs, repo } from "./support/child"

/** Spawns a child and resolves once a stdout line matches. */
const spawnUntil = (argv: ReadonlyArray<string>, ready: RegExp, timeoutMs = 90_000) =>
  Effect.callback<{ child: ChildProcess; match: RegExpMatchArray; out: () => string; closed: Promise<number | null> }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", ...argv], { cwd: repo, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } })
    let out = ""
    let done = false
    const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)))
    const timer = setTimeout(() => {
      if (!done) resume(Effect.die(new Error(`no ${ready} within ${timeoutMs} ms: ${out}`)))
    }, timeoutMs)
    child.stdout!.on("data", (c) => {
      out += c
      const m = out.match(ready)
      if (m && !done) {
        done = true
        clearTimeout(timer)
        resume(Effect.succeed({ child, match: m, out: () => out, closed }))
      }
    })
    child.stderr!.on("data", (c) => (out += c))
  })

const getJson = (url: string, token?: string) =>
  Effect.promise(() => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {}).then((r) => r.json() as Promise<any>))

describe("byteport run (child process against kube-sim serve)", () => {
  it.live("leads on the configured Lease; SIGTERM → stops, releases the Lease, exits 0", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-run-"))
      const kubeconfig = path.join(dir, "kubeconfig")
      const sim = yield* Effect.acquireRelease(
        spawnUntil([path.join(repo, "packages/kube-sim/src/cli.ts"), "serve", "--port", "0", "--kubeconfig", kubeconfig], /kube-sim ready (\{.*\})/),
        (s) => Effect.sync(() => s.child.kill("SIGTERM"))
      )
      const { url } = JSON.parse(sim.match[1]!) as { url: string }
      const config = path.join(dir, "byteport.yaml")
      fs.writeFileSync(config, [
        `kubeconfig: ${kubeconfig}`,
        "runbooks: [k8s.oom.six-signal]",
        "modes: { default: dry_run }",
        "store: { kind: memory }",
        "leaderElection: { enabled: true, namespace: default, name: byteport-test-leader, identity: agent-a, leaseDuration: 15 seconds, renewDeadline: 10 seconds, retryPeriod: 1 second }"
      ].join("\n"))
      const agent = yield* spawnUntil([mainTs, "run", "--config", config], /leading \(epoch (\d+)\)/)
      const lease = yield* getJson(`${url}/apis/coordination.k8s.io/v1/namespaces/default/leases/byteport-test-leader`)
      assert.strictEqual(lease.spec.holderIdentity, "agent-a")
      assert.strictEqual(lease.spec.leaseTransitions, Number(agent.match[1]))
      agent.child.kill("SIGTERM")
      const code = yield* Effect.promise(() => agent.closed)
      assert.strictEqual(code, 0, agent.out())
      assert.match(agent.out(), /stopped \(SIGTERM\); leases released/)
      const after = yield* getJson(`${url}/apis/coordination.k8s.io/v1/namespaces/default/leases/byteport-test-leader`)
      assert.include(["", undefined, null], after.spec.holderIdentity, JSON.stringify(after.spec))
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.scoped), 240_000)

  it.live("a bad config exits 2 naming the file and the field", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-run-bad-"))
      const config = path.join(dir, "bad.yaml")
      fs.writeFileSync(config, "runbooks: [k8s.oom.six-signal]\nmodes: { default: atuo }\n")
      const r = yield* inProcess(["run", "--config", config])
      assert.strictEqual(r.code, 2, r.text)
      assert.include(r.text, config)
      assert.include(r.text, "modes")
      fs.writeFileSync(config, "runbooks: [k8s.nope]\n")
      const unknown = yield* inProcess(["run", "--config", config])
      assert.strictEqual(unknown.code, 2)
      assert.include(unknown.text, "unknown runbook id k8s.nope")
      fs.rmSync(dir, { recursive: true, force: true })
    }), 120_000)
})
