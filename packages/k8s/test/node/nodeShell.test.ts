/**
 * NodeShell: `none` (no shell: facts Unknown), `layer`/`fromShell`, and `viaExec` against
 * kube-sim through the real client-node — `nsenter -t 1 …` in the node-shell DaemonSet's pod on
 * the node, the output read by core's parsers, host changes (a kubelet restart cures a hang),
 * and every way a command fails becoming a ShellError (no pod, unreachable node, 403, timeout).
 */
import { assert, describe, it } from "@effect/vitest"
import { Crictl, Df, FileNr, Free, Journalctl, Shell, Systemctl } from "@byteport/core/shell"
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { Effect, Layer, Option } from "effect"
import { Scenario, SimNodeShell, startSim, type Sim } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as NodeShell from "../../src/node/NodeShell"

const NS = "byteport-system"

const withSim = async <A>(f: (sim: Sim, core: CoreV1Api) => Promise<A>, ds: SimNodeShell.DaemonSetOptions = {}): Promise<A> => {
  const sim = await startSim({ scenario: Scenario.cluster({ nodes: 3 }).build(), now: "2026-01-01T00:00:00Z" })
  try {
    const kc = new KubeConfig()
    kc.loadFromString(sim.kubeconfig())
    const core = kc.makeApiClient(CoreV1Api)
    const took = await SimNodeShell.deploy(sim, ds)
    assert.isAtMost(took, 2 * 60_000)
    const shells = await kc.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ namespace: ds.namespace ?? NS, name: ds.name ?? "byteport-node-shell" })
    assert.strictEqual(shells.status?.numberReady, 3)
    return await f(sim, core)
  } finally {
    await sim.close()
  }
}

const kube = (sim: Sim) => Layer.orDie(Kube.layerFromString(sim.kubeconfig(), { requestTimeout: "10 seconds" }))

/** The Shell of a node through viaExec. */
const shellOf = (sim: Sim, node: string, options: NodeShell.ViaExecOptions = {}): Promise<Shell.ShellShape> =>
  Effect.runPromise(
    NodeShell.forNode(node).pipe(
      Effect.map(Option.getOrThrow),
      Effect.provide(NodeShell.viaExec(options).pipe(Layer.provide(kube(sim))))
    )
  )

const run = (shell: Shell.ShellShape, argv: ReadonlyArray<string>, options?: Shell.Options) => Effect.runPromise(shell.run(argv, options))
const runErr = (shell: Shell.ShellShape, argv: ReadonlyArray<string>, options?: Shell.Options) =>
  Effect.runPromise(Effect.flip(shell.run(argv, options)))

describe("NodeShell", () => {
  it("none: no node has a shell", async () => {
    const r = await Effect.runPromise(NodeShell.forNode("node-1").pipe(Effect.provide(NodeShell.none)))
    assert.isTrue(Option.isNone(r))
  })

  it("layer and fromShell: the user's resolver decides per node", async () => {
    const fake = Shell.make(() => Effect.succeed({ exitCode: 0, stdout: "active\n", stderr: "" }), { name: "fake" })
    const only2 = NodeShell.layer((node) => Effect.succeed(node === "node-2" ? Option.some(fake) : Option.none()))
    const [a, b] = await Effect.runPromise(Effect.all([NodeShell.forNode("node-1"), NodeShell.forNode("node-2")]).pipe(Effect.provide(only2)))
    assert.isTrue(Option.isNone(a))
    assert.strictEqual(Option.getOrThrow(b).name, "fake")
    const all = await Effect.runPromise(NodeShell.forNode("any").pipe(Effect.provide(NodeShell.fromShell(fake))))
    assert.strictEqual(Option.getOrThrow(all).name, "fake")
  })

  it("viaExec: the node's host answers in formats core's parsers read, and a restart through it cures a kubelet hang", () =>
    withSim(async (sim, core) => {
      const shell = await shellOf(sim, "node-2")
      assert.strictEqual(shell.name, "exec:node-2")
      const active = await run(shell, ["systemctl", "is-active", "kubelet"])
      assert.deepStrictEqual(Effect.runSync(Systemctl.parseIsActive(active)), Systemctl.known({ state: "active", yes: true }))
      sim.setNodeHost("node-2", { kubelet: "inactive", kubeletLog: ["systemd[1]: kubelet.service: Deactivated successfully."] })
      sim.advance("2m")
      const ready = async () => (await core.readNode({ name: "node-2" })).status!.conditions!.find((c) => c.type === "Ready")!.status
      assert.strictEqual(await ready(), "Unknown")
      const inactive = await run(shell, ["systemctl", "is-active", "kubelet"])
      assert.strictEqual(inactive.exitCode, 3)
      assert.deepStrictEqual(Effect.runSync(Systemctl.parseIsActive(inactive)), Systemctl.known({ state: "inactive", yes: false }))
      const failed = await run(shell, ["systemctl", "is-failed", "kubelet"])
      assert.deepStrictEqual(Effect.runSync(Systemctl.parseIsFailed(failed)), Systemctl.known({ state: "inactive", yes: false }))
      const unit = Effect.runSync(Systemctl.parseUnit(await run(shell, ["systemctl", "show", "-p", "LoadState,ActiveState,NRestarts", "kubelet"])))
      assert.strictEqual(unit._tag === "Known" ? unit.value?.restarts : -1, 0)
      const crio = Effect.runSync(Systemctl.parseUnit(await run(shell, ["systemctl", "show", "-p", "LoadState,ActiveState,NRestarts", "crio"])))
      assert.deepStrictEqual(crio, Systemctl.known(undefined), "containerd node: crio is no unit")
      const journal = Effect.runSync(Journalctl.parse((await run(shell, ["journalctl", "-u", "kubelet", "-o", "json", "--since", "-30min", "-n", "200", "--no-pager"])).stdout))
      assert.match(journal.at(-1)?.message ?? "", /Deactivated successfully/)
      const inodes = Effect.runSync(Df.parseHuman((await run(shell, ["df", "-i"], { env: { LC_ALL: "C" } })).stdout))
      assert.strictEqual(inodes.unit, "inodes")
      assert.strictEqual(Df.filesystemOf(inodes.filesystems, "/var/lib/kubelet")?.size, 6_553_600)
      const fileNr = Effect.runSync(FileNr.parse((await run(shell, ["cat", "/proc/sys/fs/file-nr"])).stdout))
      assert.strictEqual(fileNr.max, 9223372036854775807n)
      const images = Effect.runSync(Crictl.parseImages((await run(shell, ["crictl", "images", "-o", "json"])).stdout))
      assert.isTrue(images.some((i) => i.pinned && i.repoTags[0] === "registry.k8s.io/pause:3.9"))
      assert.strictEqual((await run(shell, ["systemctl", "restart", "kubelet"])).exitCode, 0)
      sim.advance("30s")
      assert.strictEqual(await ready(), "True")
      // output larger than one exec message, with multi-byte characters cut between messages, arrives whole
      sim.setNodeHost("node-2", { kubeletLog: Array.from({ length: 2000 }, (_, i) => `kubelet[2231]: I0101 ${i} ${"✓".repeat(60)}`) })
      const big = await run(shell, ["journalctl", "-u", "kubelet", "--no-pager"])
      assert.isAbove(Buffer.byteLength(big.stdout), 3 * 32 * 1024)
      assert.notInclude(big.stdout, "\uFFFD")
      assert.strictEqual(big.stdout.trimEnd().split("\n").length, 2000)
      const after = Effect.runSync(Systemctl.parseUnit(await run(shell, ["systemctl", "show", "-p", "NRestarts,LoadState", "kubelet"])))
      assert.strictEqual(after._tag === "Known" ? after.value?.restarts : -1, 1)
    }))

  it("viaExec finds the pods through a named DaemonSet's selector", () =>
    withSim(async (sim) => {
      const shell = await shellOf(sim, "node-1", { namespace: "ops", daemonSet: "host-tools" })
      const r = await run(shell, ["systemctl", "is-active", "containerd"])
      assert.strictEqual(r.stdout, "active\n")
      const wrong = await shellOf(sim, "node-1", { namespace: "ops", daemonSet: "absent" })
      const e = await runErr(wrong, ["true"])
      assert.strictEqual(e.reason, "SpawnFailed")
      assert.match(e.message, /no DaemonSet ops\/absent/)
    }, { namespace: "ops", name: "host-tools", labels: { app: "host-tools" } }))

  it("viaExec: no pod on the node, an unreachable node, a 403 and a timeout are ShellErrors, never results", () =>
    withSim(async (sim) => {
      const ghost = await shellOf(sim, "node-9")
      const noPod = await runErr(ghost, ["systemctl", "is-active", "kubelet"])
      assert.strictEqual(noPod.reason, "SpawnFailed")
      assert.strictEqual(noPod.code, "NoPod")
      assert.strictEqual(noPod.command, "systemctl")
      const shell = await shellOf(sim, "node-3")
      sim.setNodeHost("node-3", { reachable: false })
      const unreachable = await runErr(shell, ["systemctl", "is-active", "kubelet"])
      assert.strictEqual(unreachable.reason, "SpawnFailed")
      assert.match(unreachable.message, /exec refused: .*500/, unreachable.message)
      sim.setNodeHost("node-3", { reachable: true })
      const forbid = sim.api.faults.error({ resource: "pods", subresource: "exec", status: 403, times: 1 })
      const forbidden = await runErr(shell, ["systemctl", "is-active", "kubelet"])
      assert.strictEqual(forbidden.code, "Forbidden")
      assert.strictEqual(forbid.hits, 1)
      sim.api.faults.latency({ resource: "pods", subresource: "exec", ms: 1_500, times: 1 })
      const slow = await runErr(shell, ["systemctl", "is-active", "kubelet"], { timeout: "200 millis" })
      assert.strictEqual(slow.reason, "TimedOut")
      // stdin and cwd cannot pass through exec: refused, not silently dropped
      assert.strictEqual((await runErr(shell, ["cat"], { stdin: "x" })).reason, "InvalidCommand")
      // env travels as `env NAME=VALUE …` after nsenter
      assert.strictEqual((await run(shell, ["systemctl", "is-active", "kubelet"], { env: { LC_ALL: "C" } })).stdout, "active\n")
    }))

  it("viaExec into a pod without privileged: nsenter refused (a result with exit 1, read as Unknown by the parsers' callers)", () =>
    withSim(async (sim) => {
      const shell = await shellOf(sim, "node-1")
      const r = await run(shell, ["systemctl", "is-active", "kubelet"])
      assert.strictEqual(r.exitCode, 1)
      assert.match(r.stderr, /Operation not permitted/)
      assert.strictEqual(Effect.runSync(Systemctl.parseIsActive(r))._tag, "Unknown")
    }, { privileged: false }))

  it("kube-sim's node tools print what core's parsers read: df -h/-P, free -b, the kernel log of this and the previous boot, crictl ps/images", () =>
    withSim(async (sim) => {
      const shell = sim.nodeShell("node-1")
      const h = Effect.runSync(Df.parseHuman(shell.run(["df", "-h"]).stdout))
      assert.strictEqual(h.filesystems[0]!.mountedOn, "/")
      assert.isAbove(h.filesystems[0]!.usePercent!, 0)
      const p = Effect.runSync(Df.parse(shell.run(["df", "-P", "-B1", "/var/lib/containerd"]).stdout))
      assert.strictEqual(p.filesystems.length, 1)
      assert.strictEqual(p.filesystems[0]!.totalBytes, 100 * 2 ** 30)
      const free = Effect.runSync(Free.parse(shell.run(["free", "-b"]).stdout))
      assert.strictEqual(free.mem.total, 8 * 2 ** 30)
      assert.isAbove(free.mem.used, 0)
      // a global OOM and a machine check in this boot; no previous boot in the journal → Unknown
      sim.setNodeHost("node-1", { kernelLog: ["kernel: Out of memory: Killed process 812 (kubelet) total-vm:2000000kB", "kernel: mce: [Hardware Error]: Machine check events logged"] })
      const k = Effect.runSync(Journalctl.parse(shell.run(["journalctl", "-k", "-o", "json", "--no-pager"]).stdout))
      const f = Journalctl.kernelFindings(k.map((e) => e.message ?? ""))
      assert.lengthOf(f.globalOom, 1)
      assert.lengthOf(f.hardwareErrors, 1)
      const prev = shell.run(["journalctl", "-k", "-b", "-1", "--no-pager"])
      assert.strictEqual(prev.exitCode, 1)
      assert.isTrue(Journalctl.noJournal(prev.stderr))
      sim.setNodeHost("node-1", { previousBootKernelLog: ["kernel: Kernel panic - not syncing: Fatal machine check"] })
      const panics = Journalctl.kernelFindings(Journalctl.plainLines(shell.run(["journalctl", "-k", "-b", "-1", "--no-pager"]).stdout)).panics
      assert.lengthOf(panics, 1)
      const ps = Effect.runSync(Crictl.parsePs(shell.run(["crictl", "ps", "-o", "json"]).stdout))
      assert.isTrue(ps.some((c) => c.podNamespace === NS && c.state === "CONTAINER_RUNNING"))
      // a crashed runtime: crictl cannot connect (a result, exit 1), is-failed says failed
      sim.setNodeHost("node-1", { runtime: "failed" })
      assert.strictEqual(shell.run(["crictl", "images", "-o", "json"]).exitCode, 1)
      assert.deepStrictEqual(Effect.runSync(Systemctl.parseIsFailed(shell.run(["systemctl", "is-failed", "containerd"]))), Systemctl.known({ state: "failed", yes: true }))
      assert.strictEqual(shell.run(["systemctl", "restart", "containerd"]).exitCode, 0)
      assert.include(shell.run(["systemctl", "show", "-p", "NRestarts", "containerd"]).stdout, "NRestarts=1")
    }))
})
