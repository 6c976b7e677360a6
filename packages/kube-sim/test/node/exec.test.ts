/**
 * pods/exec over WebSocket with the real client-node `Exec` (v5/v4 channel protocols) and
 * kubectl exec; the node-shell DaemonSet's `nsenter -t 1 …` reaching `sim.nodeShell(node)`; the
 * apiserver's refusals for missing, unscheduled and completed pods.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Exec, type V1Pod, type V1Status } from "@kubernetes/client-node"
import { request } from "node:http"
import { PassThrough, Writable } from "node:stream"
import { writeFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Scenario, SimNodeShell } from "../../src/scenario/index"
import { harness, smp, type Harness } from "../controllers/helpers"
import { kubectlAvailable, runner } from "../kubectl/kubectl"

let h: Harness | undefined
afterEach(async () => {
  await h?.sim.close()
  h = undefined
})

const NS = "byteport-system"

const withShell = async (o: SimNodeShell.DaemonSetOptions = {}): Promise<Harness> => {
  const hh = await harness({ scenario: Scenario.cluster({ nodes: 3 }).build() })
  await hh.core.createNamespace({ body: { metadata: { name: NS } } })
  await hh.apps.createNamespacedDaemonSet({ namespace: NS, body: SimNodeShell.daemonSetManifest(o) as never })
  hh.sim.advance("30s")
  return hh
}

const shellPod = async (hh: Harness, node: string): Promise<V1Pod> => {
  const pods = await hh.core.listNamespacedPod({ namespace: NS, fieldSelector: `spec.nodeName=${node}` })
  const p = pods.items.find((x) => x.status?.phase === "Running")
  if (!p) throw new Error(`no running shell pod on ${node}`)
  return p
}

interface ExecOut { stdout: string; stderr: string; status: V1Status | undefined; protocol: string }

const exec = async (hh: Harness, ns: string, pod: string, container: string, command: Array<string>): Promise<ExecOut> => {
  let stdout = ""
  let stderr = ""
  const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) })
  let done: (s: V1Status | undefined) => void = () => {}
  const status = new Promise<V1Status | undefined>((r) => (done = r))
  const ws = await new Exec(hh.kc).exec(ns, pod, container, command, sink((s) => (stdout += s)), sink((s) => (stderr += s)), null, false, (st) => done(st))
  const st = await status
  return { stdout, stderr, status: st, protocol: ws.protocol }
}

describe("pods/exec", () => {
  it("runs nsenter -t 1 in the node-shell pod on the node's host: real output and exit codes, v5 protocol", async () => {
    h = await withShell()
    const pod = await shellPod(h, "node-2")
    const enter = ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"]
    const active = await exec(h, NS, pod.metadata!.name!, "shell", [...enter, "systemctl", "is-active", "kubelet"])
    assert.strictEqual(active.stdout, "active\n")
    assert.strictEqual(active.status?.status, "Success")
    assert.strictEqual(active.protocol, "v5.channel.k8s.io")
    h.sim.setNodeHost("node-2", { kubelet: "inactive" })
    const inactive = await exec(h, NS, pod.metadata!.name!, "shell", [...enter, "systemctl", "is-active", "kubelet"])
    assert.strictEqual(inactive.stdout, "inactive\n")
    assert.strictEqual(inactive.status?.reason, "NonZeroExitCode")
    assert.deepStrictEqual(inactive.status?.details?.causes, [{ reason: "ExitCode", message: "3" }])
    const missing = await exec(h, NS, pod.metadata!.name!, "shell", [...enter, "docker", "image", "prune", "-af"])
    assert.deepStrictEqual(missing.status?.details?.causes, [{ reason: "ExitCode", message: "127" }])
    assert.match(missing.stderr, /failed to execute docker/)
  })

  it("refuses nsenter without privileged; without hostPID systemctl finds no systemd", async () => {
    h = await withShell({ privileged: false })
    const pod = await shellPod(h, "node-1")
    const r = await exec(h, NS, pod.metadata!.name!, "shell", ["nsenter", "-t", "1", "-m", "--", "systemctl", "is-active", "kubelet"])
    assert.match(r.stderr, /Operation not permitted/)
    assert.strictEqual(r.status?.reason, "NonZeroExitCode")
    await h.sim.close()
    h = await withShell({ hostPID: false })
    const p2 = await shellPod(h, "node-1")
    const r2 = await exec(h, NS, p2.metadata!.name!, "shell", ["nsenter", "-t", "1", "-m", "--", "systemctl", "is-active", "kubelet"])
    assert.match(r2.stderr, /not been booted with systemd/)
  })

  it("answers a program the container lacks as the runtime does, and refuses missing, unscheduled and completed pods", async () => {
    h = await withShell()
    const pod = await shellPod(h, "node-1")
    const echo = await exec(h, NS, pod.metadata!.name!, "shell", ["echo", "hi", "there"])
    assert.strictEqual(echo.stdout, "hi there\n")
    const nope = await exec(h, NS, pod.metadata!.name!, "shell", ["ls", "/"])
    assert.strictEqual(nope.status?.reason, "InternalError")
    assert.match(nope.status?.message ?? "", /executable file not found in \$PATH/)
    const err = (p: Promise<unknown>) => p.then(() => assert.fail("expected a refusal"), (e: unknown) => e)
    const notFound = await err(exec(h, NS, "nope", "shell", ["true"]))
    assert.match(String((notFound as { message?: string }).message ?? notFound), /404/)
    const wrongContainer = await err(exec(h, NS, pod.metadata!.name!, "other", ["true"]))
    assert.match(String((wrongContainer as { message?: string }).message ?? wrongContainer), /400/)
    await h.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "pending" }, spec: { nodeSelector: { nowhere: "x" }, containers: [{ name: "c", image: "busybox" }] } } })
    h.sim.settle()
    const pending = await err(exec(h, "default", "pending", "c", ["true"]))
    assert.match(String((pending as { message?: string }).message ?? pending), /400/)
    const completed = await h.core.createNamespacedPod({ namespace: "default", body: { metadata: { name: "done" }, spec: { nodeName: "node-1", restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } } })
    await h.core.patchNamespacedPodStatus({ namespace: "default", name: completed.metadata!.name!, body: { status: { phase: "Succeeded" } } }, smp)
    const done = await err(exec(h, "default", "done", "c", ["true"]))
    assert.match(String((done as { message?: string }).message ?? done), /400/)
    const statuses = h.sim.api.recorder.requests().filter((r) => r.path.endsWith("/exec")).map((r) => r.status)
    assert.deepStrictEqual(statuses, [101, 101, 404, 400, 400, 400])
  })

  it("changes the host: crictl rmi --prune cures image DiskPressure; restarting the kubelet cures a hang", async () => {
    h = await withShell()
    const shell = h.sim.nodeShell("node-3")
    h.sim.setNodeHost("node-3", { images: { "registry.example.com/old/app:1.0": 40 * 2 ** 30, "registry.example.com/old/app:1.1": 40 * 2 ** 30 } })
    h.sim.advance("1m")
    const cond = async (type: string) => (await h!.core.readNode({ name: "node-3" })).status!.conditions!.find((c) => c.type === type)!.status
    assert.strictEqual(await cond("DiskPressure"), "True")
    const pod = await shellPod(h, "node-3")
    const pruned = await exec(h, NS, pod.metadata!.name!, "shell", ["nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--", "crictl", "rmi", "--prune"])
    assert.include(pruned.stdout, "Deleted: registry.example.com/old/app:1.0")
    assert.notInclude(pruned.stdout, "alpine", "an image in use is never pruned")
    h.sim.advance("6m")
    assert.strictEqual(await cond("DiskPressure"), "False")
    // a hang: kubelet inactive → NotReady; a restart through the shell → Ready, NRestarts counts it
    h.sim.setNodeHost("node-3", { kubelet: "inactive" })
    h.sim.advance("2m")
    assert.strictEqual(await cond("Ready"), "Unknown")
    assert.strictEqual(shell.run(["systemctl", "restart", "kubelet"]).exitCode, 0)
    h.sim.advance("30s")
    assert.strictEqual(await cond("Ready"), "True")
    assert.include(shell.run(["systemctl", "show", "-p", "NRestarts", "kubelet"]).stdout, "NRestarts=1")
  })

  it("log growth is not cured by a prune; an MCE is cured by no restart", async () => {
    h = await withShell()
    const shell = h.sim.nodeShell("node-2")
    h.sim.setNodeHost("node-2", { hostDiskBytes: 95 * 2 ** 30 })
    h.sim.advance("1m")
    const cond = async (node: string, type: string) => (await h!.core.readNode({ name: node })).status!.conditions!.find((c) => c.type === type)!.status
    assert.strictEqual(await cond("node-2", "DiskPressure"), "True")
    shell.run(["crictl", "rmi", "--prune"])
    h.sim.advance("6m")
    assert.strictEqual(await cond("node-2", "DiskPressure"), "True")
    const mce = h.sim.nodeShell("node-1")
    h.sim.setNodeHost("node-1", { hardwareFailure: true, kernelLog: ["kernel: mce: [Hardware Error]: Machine check events logged"] })
    h.sim.advance("1m")
    for (const unit of ["kubelet", "containerd"]) assert.strictEqual(mce.run(["systemctl", "restart", unit]).exitCode, 0)
    h.sim.advance("5m")
    assert.strictEqual(await cond("node-1", "Ready"), "Unknown")
    assert.include(mce.run(["journalctl", "-k", "--no-pager"]).stdout, "[Hardware Error]")
  })

  it("kubectl exec reaches the node's host through the same route, with the exit code", async () => {
    if (!kubectlAvailable()) return
    h = await withShell()
    const dir = mkdtempSync(join(tmpdir(), "kube-sim-exec-"))
    const cfg = join(dir, "config")
    writeFileSync(cfg, h.sim.kubeconfig())
    const k = runner(cfg)
    try {
      const pod = await shellPod(h, "node-2")
      const r = await k.run(["exec", "-n", NS, pod.metadata!.name!, "--", "nsenter", "-t", "1", "-m", "--", "cat", "/proc/sys/fs/file-nr"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(r.stdout, "9824\t0\t9223372036854775807\n")
      h.sim.setNodeHost("node-2", { kubelet: "failed" })
      const f = await k.run(["exec", "-n", NS, pod.metadata!.name!, "--", "nsenter", "-t", "1", "-m", "--", "systemctl", "is-active", "kubelet"])
      assert.strictEqual(f.code, 3, f.stderr)
      assert.strictEqual(f.stdout, "failed\n")
      const missing = await k.run(["exec", "-n", NS, "nope", "--", "true"])
      assert.notStrictEqual(missing.code, 0)
      assert.match(missing.stderr, /not found/)
    } finally {
      k.cleanup()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("pods/exec wire protocol", () => {
  const upgrade = (hh: Harness, path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: Record<string, unknown>; frames: Array<{ opcode: number; payload: Buffer }>; body: string }>((resolve, reject) => {
      const u = new URL(hh.sim.url)
      const req = request({ host: u.hostname, port: u.port, path, headers: { Connection: "Upgrade", ...headers } })
      req.on("response", (res) => {
        let body = ""
        res.on("data", (c: Buffer) => (body += String(c)))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, frames: [], body }))
      })
      req.on("upgrade", (res, socket, head) => {
        let buf = Buffer.from(head)
        socket.on("data", (c: Buffer) => (buf = Buffer.concat([buf, c])))
        socket.on("end", () => {
          const frames: Array<{ opcode: number; payload: Buffer }> = []
          let off = 0
          while (off + 2 <= buf.length) {
            const opcode = buf[off]! & 0x0f
            let len = buf[off + 1]! & 0x7f
            let start = off + 2
            if (len === 126) (len = buf.readUInt16BE(off + 2), start = off + 4)
            else if (len === 127) (len = Number(buf.readBigUInt64BE(off + 2)), start = off + 10)
            frames.push({ opcode, payload: buf.subarray(start, start + len) })
            off = start + len
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, frames, body: "" })
        })
        socket.end()
      })
      req.on("error", reject)
      req.end()
    })

  it("negotiates v4 when offered alone, sends stdout and the Status on their channels, then a normal close", async () => {
    h = await withShell()
    const pod = await shellPod(h, "node-1")
    const r = await upgrade(h, `/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}/exec?command=echo&command=v4&stdout=true&stderr=true`, {
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Protocol": "v4.channel.k8s.io"
    })
    assert.strictEqual(r.status, 101)
    assert.strictEqual(r.headers["sec-websocket-protocol"], "v4.channel.k8s.io")
    assert.strictEqual(r.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    assert.deepStrictEqual(r.frames.map((f) => [f.opcode, f.payload[0]]), [[2, 1], [2, 3], [8, 0x03]])
    assert.strictEqual(r.frames[0]!.payload.subarray(1).toString(), "v4\n")
    assert.deepStrictEqual(JSON.parse(r.frames[1]!.payload.subarray(1).toString()), { metadata: {}, status: "Success" })
  })

  it("refuses SPDY, an unknown subprotocol and no stream with the apiserver's 400 Status", async () => {
    h = await withShell()
    const pod = await shellPod(h, "node-1")
    const path = `/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}/exec?command=true&stdout=true`
    const spdy = await upgrade(h, path, { Upgrade: "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io" })
    assert.strictEqual(spdy.status, 400)
    assert.match(JSON.parse(spdy.body).message, /WebSocket only/)
    const ws = { Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" }
    const old = await upgrade(h, path, { ...ws, "Sec-WebSocket-Protocol": "channel.k8s.io" })
    assert.strictEqual(old.status, 400)
    const none = await upgrade(h, `/api/v1/namespaces/${NS}/pods/${pod.metadata!.name}/exec?command=true`, { ...ws, "Sec-WebSocket-Protocol": "v5.channel.k8s.io" })
    assert.strictEqual(none.status, 400)
    assert.strictEqual(JSON.parse(none.body).message, "you must specify at least 1 of stdin, stdout, stderr")
  })

  it("reads stdin until v5's close-stream, and carries output larger than 64 KiB", async () => {
    h = await withShell()
    const pod = await shellPod(h, "node-2")
    let stdout = ""
    let done: (s: V1Status | undefined) => void = () => {}
    const status = new Promise<V1Status | undefined>((r) => (done = r))
    const input = new PassThrough()
    await new Exec(h.kc).exec(NS, pod.metadata!.name!, "shell", ["cat"], new Writable({ write: (c, _e, cb) => ((stdout += String(c)), cb()) }), null, input, false, (st) => done(st))
    input.end("from stdin\n")
    assert.strictEqual((await status)?.status, "Success")
    assert.strictEqual(stdout, "from stdin\n")
    const lines = Array.from({ length: 3000 }, (_, i) => `kubelet[2231]: I0101 line ${i} ${"x".repeat(40)}`)
    h.sim.setNodeHost("node-2", { kubeletLog: lines })
    const big = await exec(h, NS, pod.metadata!.name!, "shell", ["nsenter", "-t", "1", "-m", "--", "journalctl", "-u", "kubelet", "--no-pager"])
    assert.isAbove(big.stdout.length, 65_536)
    assert.strictEqual(big.stdout.trimEnd().split("\n").length, 3000)
    assert.match(big.stdout.split("\n")[2999] ?? "", /line 2999/)
  })
})

describe("sim.nodeShell from a scenario", () => {
  it("images listed in a scenario's hosts fill the disk; a prune cures it, and crictl images lists what is left", async () => {
    h = await harness({ scenario: Scenario.cluster({ nodes: 3 }).with({ hosts: { "node-2": { images: { "registry.example.com/old:1": 85 * 2 ** 30 } } } }).build() })
    h.sim.advance("1m")
    const disk = async () => (await h!.core.readNode({ name: "node-2" })).status!.conditions!.find((c) => c.type === "DiskPressure")!.status
    assert.strictEqual(await disk(), "True")
    const shell = h.sim.nodeShell("node-2")
    const before = JSON.parse(shell.run(["crictl", "images", "-o", "json"]).stdout) as { images: Array<{ repoTags: Array<string>; size: string }> }
    assert.isTrue(before.images.some((i) => i.repoTags[0] === "registry.example.com/old:1" && i.size === String(85 * 2 ** 30)))
    const df = shell.run(["df", "-h", "/var/lib/containerd"]).stdout.split("\n")[1] ?? ""
    assert.match(df, /^\/dev\/nvme0n1p1\s+100G\s+\S+\s+\S+\s+(9\d|100)% \/$/)
    assert.strictEqual(shell.run(["crictl", "rmi", "--prune"]).stdout, "Deleted: registry.example.com/old:1\n")
    assert.strictEqual(shell.run(["crictl", "rmi", "--prune"]).stdout, "", "a second prune has nothing left to remove")
    h.sim.advance("6m")
    assert.strictEqual(await disk(), "False")
    const after = JSON.parse(shell.run(["crictl", "images", "-o", "json"]).stdout) as { images: Array<{ repoTags: Array<string> }> }
    assert.isFalse(after.images.some((i) => i.repoTags[0] === "registry.example.com/old:1"))
    assert.isTrue(after.images.some((i) => i.repoTags[0] === "registry.k8s.io/pause:3.9"), "the pinned pause image stays")
  })
})
