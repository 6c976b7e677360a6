/**
 * A test Shell per kube-sim node that answers the node commands of k8s.node.not-ready from the
 * simulator's host model (`NodeHostState`) in the tools' real formats, with cause and effect:
 * `systemctl restart kubelet` starts the kubelet (a dead machine stays dead), restarting the
 * runtime brings it back, `crictl rmi --prune` frees image bytes from the host's disk. Every
 * command it ran is logged. (kube-sim's own `sim.nodeShell` replaces this once it lands.)
 */
import { Shell } from "@byteport/core/shell"
import { Effect } from "effect"
import type { Sim } from "../oom/harness"
import * as NodeShell from "../../src/node/NodeShell"

/** Options of the simulated shell. */
export interface SimShellOptions {
  /** Commands (argv joined by spaces) that time out. */
  readonly timeouts?: ReadonlyArray<string>
  /** Bytes of unused images a prune frees from the host's disk (default 0). */
  readonly prunableImageBytes?: number
}

const usec = (ms: number) => String(ms * 1000)

/** A shell for one node. */
export const forNode = (s: Sim, node: string, log: Array<string>, o: SimShellOptions = {}): Shell.ShellShape =>
  Shell.make((req) =>
    Effect.suspend(() => {
      const key = req.argv.join(" ")
      log.push(`${node}: ${key}`)
      if (o.timeouts?.includes(key)) return Effect.never
      const h = s.controllers.ctx.host(node)
      const now = s.now()
      const out = (stdout: string, exitCode = 0, stderr = "") => Effect.succeed({ exitCode, stdout, stderr })
      const unitState = (u: string): { state: string; load: string; restarts: number } =>
        u === "kubelet"
          ? { state: h.hardwareFailure ? "inactive" : h.kubelet, load: "loaded", restarts: h.kubeletRestarts }
          : u === h.runtimeName
          ? { state: h.runtime, load: "loaded", restarts: 0 }
          : u === "containerd" || u === "crio"
          ? { state: "inactive", load: "not-found", restarts: 0 }
          : { state: "inactive", load: "not-found", restarts: 0 }
      const a = req.argv
      const journal = (lines: ReadonlyArray<string>, ident: string) =>
        lines.map((m, i) => JSON.stringify({ __REALTIME_TIMESTAMP: usec(now - (lines.length - i) * 1000), SYSLOG_IDENTIFIER: ident, _HOSTNAME: node, MESSAGE: m.replace(/^[a-z]+(?:\[\d+\])?: /, "") })).join("\n") + (lines.length ? "\n" : "")
      if (a[0] === "systemctl" && (a[1] === "is-active" || a[1] === "is-failed")) {
        const u = unitState(a[2]!)
        const ok = a[1] === "is-active" ? u.state === "active" : u.state === "failed"
        return out(`${u.state}\n`, ok ? 0 : a[1] === "is-active" ? 3 : 1)
      }
      if (a[0] === "systemctl" && a[1] === "show") {
        const u = unitState(a[2]!)
        return out(`NRestarts=${u.restarts}\nResult=${u.state === "failed" ? "exit-code" : "success"}\nLoadState=${u.load}\nActiveState=${u.state}\nSubState=${u.state === "active" ? "running" : u.state === "failed" ? "failed" : "dead"}\n`)
      }
      if (a[0] === "systemctl" && a[1] === "restart") {
        if (h.hardwareFailure) return out("", 1, `Job for ${a[2]}.service failed because the control process exited with error code.\n`)
        if (a[2] === "kubelet") {
          if (h.runtime !== "active") return out("", 1, "Job for kubelet.service failed because the control process exited with error code.\n")
          s.controllers.startKubelet(node)
        } else s.setNodeHost(node, { runtime: "active" })
        return out("")
      }
      if (key.startsWith("journalctl -k -b -1")) return out("", 1, "Specifying boot ID or boot offset has no effect, no persistent journal was found.\n")
      if (key.startsWith("journalctl -k")) return out(journal(h.kernelLog, "kernel"))
      if (key.startsWith("journalctl -u kubelet")) return out(journal(h.kubeletLog, "kubelet"))
      if (key === "df -P -B1") {
        const cap = 100 * 2 ** 30
        const used = Math.min(cap, h.hostDiskBytes)
        const pct = Math.ceil((used / cap) * 100)
        return out(`Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/vda1 ${cap} ${used} ${cap - used} ${pct}% /\n`)
      }
      if (key === "df -P -i") return out("Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/vda1 6553600 655360 5898240 10% /\n")
      if (key === "cat /proc/sys/fs/file-nr") return out("4128\t0\t9223372036854775807\n")
      if (key === "crictl images -o json") {
        const imgs = [...(s.controllers.ctx.nodeImages.get(node) ?? [])].map((i, n) => ({ id: `sha256:${String(n).padStart(64, "0")}`, repoTags: [i], size: "104857600" }))
        return out(JSON.stringify({ images: imgs }))
      }
      if (key === "crictl rmi --prune") {
        const freed = o.prunableImageBytes ?? 0
        s.setNodeHost(node, { hostDiskBytes: Math.max(0, h.hostDiskBytes - freed) })
        return out(freed ? "Deleted: registry.example.com/old/batch:0.9\n" : "")
      }
      if (key === "free -b") {
        const total = 16 * 2 ** 30
        const used = h.hostMemoryBytes
        return out(`               total        used        free      shared  buff/cache   available\nMem:     ${total} ${used} ${total - used} 0 0 ${total - used}\nSwap: 0 0 0\n`)
      }
      return Effect.fail(Shell.error(`sim:${node}`, req, "SpawnFailed", { code: "ENOENT" }))
    }), { name: `sim:${node}` })

/** A NodeShell layer over every node of the simulator. */
export const layer = (s: Sim, log: Array<string>, o: SimShellOptions = {}) => NodeShell.layer((node) => forNode(s, node, log, o))
