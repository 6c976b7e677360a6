/**
 * kubectl over TLS with a bearer token, and the `kube-sim serve` command line (pure API and with a
 * scenario) driven by kubectl.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { KubeSim } from "../../src/index"
import { kubectlAvailable, runner } from "./kubectl"

const d = kubectlAvailable() ? describe : describe.skip

d("kubectl over TLS with a bearer token", () => {
  it("sends the token over https; a wrong token is Unauthorized", async () => {
    const sim = await KubeSim.start({ tls: true, token: "s3cret" })
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-tls-"))
    try {
      sim.writeKubeconfig(join(dir, "good"))
      sim.writeKubeconfig(join(dir, "bad"), { token: "wrong" })
      const good = runner(join(dir, "good"))
      const bad = runner(join(dir, "bad"))
      try {
        const ok = await good.run(["get", "namespaces", "-o", "name"])
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.include(ok.stdout, "namespace/default")
        const denied = await bad.run(["get", "namespaces"])
        assert.notStrictEqual(denied.code, 0)
        assert.include(denied.stderr, "error: You must be logged in to the server")
        assert.isAtLeast(sim.recorder.count({ status: 401 }), 1)
      } finally {
        good.cleanup()
        bad.cleanup()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await sim.close()
    }
  })
})

const serveCli = async (args: ReadonlyArray<string>): Promise<{ child: ReturnType<typeof spawn>; url: string }> => {
  const cli = resolve(import.meta.dirname, "../../src/cli.ts")
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  const ready = await new Promise<{ url: string }>((res, rej) => {
    let out = ""
    let err = ""
    const t = setTimeout(() => rej(new Error(`CLI not ready: ${out} ${err}`)), 30_000)
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()))
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString()
      const m = /kube-sim ready (\{.*\})/.exec(out)
      if (m) {
        clearTimeout(t)
        res(JSON.parse(m[1]!))
      }
    })
    child.on("exit", (code) => rej(new Error(`CLI exited ${code}: ${out} ${err}`)))
  })
  return { child, url: ready.url }
}

const stopCli = async (child: ReturnType<typeof spawn>): Promise<number | null> => {
  if (child.exitCode !== null) return child.exitCode
  const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)))
  child.kill("SIGTERM")
  return exit
}

d("kube-sim serve --scenario (CLI with controllers) and kubectl", () => {
  it("serves the scenario's cluster; pods become ready in real time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-cli-"))
    const file = join(dir, "scenario.yaml")
    writeFileSync(file, ["name: cli", "nodes: 2", "workloads:", "  - name: web", "    replicas: 2", "    image: registry.local/web:1.0", ""].join("\n"))
    const kubeconfig = join(dir, "config")
    const { child } = await serveCli(["--scenario", file, "--speed", "20", "--kubeconfig", kubeconfig])
    const k = runner(kubeconfig)
    try {
      const nodes = await k.run(["get", "nodes", "-o", "name"])
      assert.strictEqual(nodes.code, 0, nodes.stderr)
      assert.strictEqual(nodes.stdout.trim().split("\n").length, 2)
      const st = await k.run(["rollout", "status", "deployment/web", "--timeout=60s"], 90_000)
      assert.strictEqual(st.code, 0, st.stderr)
      const pods = await k.run(["get", "pods", "-l", "app=web"])
      assert.strictEqual(pods.stdout.trim().split("\n").filter((l) => /\s1\/1\s+Running\s/.test(l)).length, 2, pods.stdout)
      assert.strictEqual(await stopCli(child), 0)
    } finally {
      k.cleanup()
      await stopCli(child)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("reports a bad scenario file with exit code 2", async () => {
    const cli = resolve(import.meta.dirname, "../../src/cli.ts")
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", "--scenario", "/nonexistent/scenario.yaml"], { stdio: ["ignore", "pipe", "pipe"] })
    let err = ""
    child.stderr.on("data", (c: Buffer) => (err += c.toString()))
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)))
    assert.strictEqual(code, 2)
    assert.include(err, "cannot load scenario /nonexistent/scenario.yaml")
  }, 60_000)
})

d("kube-sim serve (CLI) with kubectl", () => {
  it("serves until SIGTERM and writes a working kubeconfig", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-cli-"))
    const kubeconfig = join(dir, "config")
    const cli = resolve(import.meta.dirname, "../../src/cli.ts")
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cli, "serve", "--port", "0", "--kubeconfig", kubeconfig, "--tls", "--token", "cli-token"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const ready = await new Promise<{ url: string; port: number }>((res, rej) => {
        let out = ""
        const t = setTimeout(() => rej(new Error(`CLI not ready: ${out}`)), 30_000)
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString()
          const m = /kube-sim ready (\{.*\})/.exec(out)
          if (m) {
            clearTimeout(t)
            res(JSON.parse(m[1]!))
          }
        })
        child.on("exit", (code) => rej(new Error(`CLI exited ${code}: ${out}`)))
      })
      assert.match(ready.url, /^https:\/\/127\.0\.0\.1:\d+$/)
      const k = runner(kubeconfig)
      try {
        const r = await k.run(["get", "namespaces", "-o", "name"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.include(r.stdout.split("\n"), "namespace/default")
        const c = await k.run(["create", "configmap", "from-cli", "--from-literal=a=1"])
        // typed generators send protobuf: the server answers 415 like the contract says
        assert.notStrictEqual(c.code, 0)
        assert.include(c.stderr, "the body of the request was in an unknown format")
      } finally {
        k.cleanup()
      }
      const exit = new Promise<number | null>((res) => child.on("exit", (code) => res(code)))
      child.kill("SIGTERM")
      assert.strictEqual(await exit, 0)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
