/**
 * The host of a simulated node, as a shell sees it: `sim.nodeShell(node).run(argv)` answers the
 * node tools from the node's `NodeHostState` in their real output formats, and the commands that
 * change the host act on it (cause and effect):
 *
 * - `systemctl is-active|is-failed|show|restart|start|stop <unit>` (kubelet, containerd or crio):
 *   real exit codes; an unknown unit is `LoadState=not-found`. Restarting the kubelet cures a hang
 *   (and counts in `NRestarts`); restarting the runtime cures a runtime crash; no restart cures a
 *   hardware failure (MCE).
 * - `journalctl -u kubelet|containerd|crio`, `journalctl -k [-b -1]` (short or `-o json`, `-n N`).
 * - `df` (`-h`, `-i`, `-P`, `-B1`, paths), `free -b`, `cat /proc/sys/fs/file-nr`.
 * - `crictl images|pods|ps -o json`, `crictl rmi --prune`: removes the images no pod on the node
 *   uses, which frees their bytes; DiskPressure from images clears, from logs (`hostDiskBytes`) not.
 * - Anything else: `nsenter: failed to execute X: No such file or directory` (127).
 *
 * Every answer is computed now, on the virtual clock; changes settle the controllers.
 */
import type { Controllers } from "../controllers/Controllers"
import { hostDiskUsed, type NodeHostState } from "../controllers/context"
import { tryQuantity } from "../controllers/quantity"
import { R, type Json } from "../controllers/util"
import type { KubeObject } from "../store/types"

/** What a command printed and its exit code. */
export interface Output {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** A node's host shell. */
export interface SimNodeShell {
  /** The node. */
  readonly node: string
  /** Runs one command (argv, never a shell string) on the node's host. */
  run(argv: ReadonlyArray<string>): Output
}

/** The pause image every node holds (pinned, never pruned). */
export const PAUSE_IMAGE = "registry.k8s.io/pause:3.9"
/** The size listed for an image the kubelet pulled that `NodeHostState.images` does not list. */
export const NOMINAL_IMAGE_BYTES = 48 * 2 ** 20

const ok = (stdout: string, stderr = ""): Output => ({ exitCode: 0, stdout, stderr })
const exit = (exitCode: number, stdout: string, stderr = ""): Output => ({ exitCode, stdout, stderr })

/** fnv-1a, for stable fake ids. */
const hash = (s: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, "0")
}
const sha = (s: string): string => (hash(s) + hash(`${s}.1`) + hash(`${s}.2`) + hash(`${s}.3`)).repeat(2)

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const shortTime = (t: number): string => {
  const d = new Date(t)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
}

/** GNU df's human sizes: one decimal under 10, rounded up; K, M, G, T powers of 1024. */
export const humanSize = (n: number): string => {
  if (n < 1024) return String(n)
  const units = ["K", "M", "G", "T", "P"]
  let v = n
  let u = -1
  do {
    v /= 1024
    u++
  } while (v >= 1024 && u < units.length - 1)
  if (v < 10) {
    const r = Math.ceil(v * 10) / 10
    return r >= 10 ? `${Math.ceil(r)}${units[u]}` : `${r.toFixed(1)}${units[u]}`
  }
  return `${Math.ceil(v)}${units[u]}`
}
/** `df -hi` scales inode counts with the same 1024-based suffixes. */
const humanCount = humanSize

type Unit = "kubelet" | "runtime"

/** Build the shell of one node of a running simulator. */
export const make = (controllers: Controllers, node: string): SimNodeShell => {
  const ctx = controllers.ctx
  const host = (): NodeHostState => ctx.host(node)
  const nodeObj = (): KubeObject | undefined => ctx.store.get(R.nodes, undefined, node)

  const unitOf = (name: string | undefined): Unit | undefined => {
    if (name === undefined) return undefined
    const n = name.endsWith(".service") ? name.slice(0, -".service".length) : name
    if (n === "kubelet") return "kubelet"
    if (n === host().runtimeName) return "runtime"
    return undefined
  }
  const unitName = (u: Unit): string => (u === "kubelet" ? "kubelet" : host().runtimeName)
  const stateOf = (u: Unit): "active" | "inactive" | "failed" => (u === "kubelet" ? host().kubelet : host().runtime)
  const restartsOf = (u: Unit): number => (u === "kubelet" ? host().kubeletRestarts : host().runtimeRestarts)

  // ------------------------------------------------------------------------------- systemctl
  const systemctl = (args: ReadonlyArray<string>): Output => {
    const props: Array<string> = []
    let value = false
    const rest: Array<string> = []
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!
      if (a === "-p" || a === "--property") props.push(...(args[++i] ?? "").split(","))
      else if (a.startsWith("--property=")) props.push(...a.slice("--property=".length).split(","))
      else if (a.startsWith("-p") && a.length > 2) props.push(...a.slice(2).split(","))
      else if (a === "--value") value = true
      else if (a === "--no-pager" || a === "--quiet" || a === "-q" || a === "--no-legend" || a === "--plain") continue
      else rest.push(a)
    }
    const [verb, name] = rest
    if (verb === undefined) return exit(1, "", "Too few arguments.\n")
    const quiet = args.includes("--quiet") || args.includes("-q")
    const unit = unitOf(name)
    const full = name === undefined ? "" : name.includes(".") ? name : `${name}.service`
    switch (verb) {
      case "is-active": {
        if (name === undefined) return exit(1, "", "Too few arguments.\n")
        const s = unit ? stateOf(unit) : "inactive"
        return exit(s === "active" ? 0 : 3, quiet ? "" : `${s}\n`)
      }
      case "is-failed": {
        if (name === undefined) return exit(1, "", "Too few arguments.\n")
        const s = unit ? stateOf(unit) : "inactive"
        return exit(s === "failed" ? 0 : 1, quiet ? "" : `${s}\n`)
      }
      case "show": {
        if (name === undefined) return exit(1, "", "Too few arguments.\n")
        const s = unit ? stateOf(unit) : "inactive"
        const all: Record<string, string> = {
          Id: full,
          Names: full,
          Description: unit === "kubelet" ? "kubelet: The Kubernetes Node Agent" : unit ? `${unitName(unit)} container runtime` : full,
          LoadState: unit ? "loaded" : "not-found",
          ActiveState: s,
          SubState: s === "active" ? "running" : s === "failed" ? "failed" : "dead",
          Result: s === "failed" ? "exit-code" : "success",
          MainPID: s === "active" ? (unit === "kubelet" ? "2231" : "1187") : "0",
          NRestarts: String(unit ? restartsOf(unit) : 0),
          Restart: unit ? "always" : "no",
          UnitFileState: unit ? "enabled" : ""
        }
        const keys = props.length > 0 ? props.filter((p) => p.length > 0) : Object.keys(all)
        const lines = keys.map((k) => (value ? (all[k] ?? "") : `${k}=${all[k] ?? ""}`))
        return ok(`${lines.join("\n")}\n`)
      }
      case "restart":
      case "start":
      case "stop": {
        if (name === undefined) return exit(1, "", "Too few arguments.\n")
        if (!unit) return exit(5, "", `Failed to ${verb} ${full}: Unit ${full} not found.\n`)
        const h = host()
        const now = ctx.now()
        if (verb === "stop") {
          if (unit === "kubelet") h.kubelet = "inactive"
          else h.runtime = "inactive"
          h.kubeletLog.push(`systemd[1]: Stopped ${unit === "kubelet" ? "kubelet: The Kubernetes Node Agent" : `${unitName(unit)} container runtime`}.`)
        } else {
          const restarting = verb === "restart" || stateOf(unit) !== "active"
          if (unit === "kubelet") {
            if (restarting && verb === "restart") h.kubeletRestarts++
            h.kubelet = "active"
            // the kubelet posts status again at once (a restart does not cure a dead machine)
            if (!h.hardwareFailure) h.lastPostAt = now
          } else {
            if (restarting && verb === "restart") h.runtimeRestarts++
            h.runtime = "active"
          }
          h.kubeletLog.push(`systemd[1]: Started ${unit === "kubelet" ? "kubelet: The Kubernetes Node Agent" : `${unitName(unit)} container runtime`}.`)
        }
        controllers.settle()
        return ok("")
      }
      default:
        return exit(1, "", `Unknown command verb '${verb}'.\n`)
    }
  }

  // ------------------------------------------------------------------------------- journalctl
  const journalctl = (args: ReadonlyArray<string>): Output => {
    let unit: string | undefined
    let kernel = false
    let boot: string | undefined
    let format = "short"
    let lines: number | undefined
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!
      if (a === "-u" || a === "--unit") unit = args[++i]
      else if (a.startsWith("--unit=")) unit = a.slice(7)
      else if (a === "-k" || a === "--dmesg") kernel = true
      else if (a === "-b" || a === "--boot") {
        const next = args[i + 1]
        if (next !== undefined && /^-?\d+$|^[0-9a-f]{32}$/.test(next)) boot = args[++i]
        else boot = "0"
      } else if (a.startsWith("--boot=")) boot = a.slice(7)
      else if (a === "-o" || a === "--output") format = args[++i] ?? ""
      else if (a.startsWith("--output=")) format = a.slice(9)
      else if (a === "-n" || a === "--lines") lines = Number(args[++i])
      else if (a.startsWith("--lines=")) lines = Number(a.slice(8))
      else if (a === "--since" || a === "--until" || a === "-S" || a === "-U") i++
      else if (a.startsWith("--since=") || a.startsWith("--until=") || a === "--no-pager" || a === "-q" || a === "--quiet" || a === "--utc" || a === "--all" || a === "-a") continue
      else return exit(1, "", `journalctl: unrecognized option '${a}'\n`)
    }
    if (format !== "short" && format !== "json" && format !== "cat" && format !== "short-iso") return exit(1, "", `Failed to parse output format: ${format}\n`)
    const h = host()
    let raw: ReadonlyArray<string>
    let unitName: string | undefined
    if (kernel) {
      if (boot !== undefined && boot !== "0") {
        if (boot !== "-1" || h.previousBootKernelLog === undefined) {
          return exit(1, "", `Data from the specified boot (${boot}) is not available: No such boot ID in journal\n`)
        }
        raw = h.previousBootKernelLog
      } else raw = h.kernelLog
    } else {
      const u = unitOf(unit)
      if (unit !== undefined && u === undefined) raw = []
      else if (u === "runtime") {
        unitName = `${h.runtimeName}.service`
        raw = h.runtime === "active"
          ? [`${h.runtimeName}[1187]: level=info msg="${h.runtimeName} successfully booted"`]
          : [`systemd[1]: ${h.runtimeName}.service: Main process exited, code=killed, status=9/KILL`, `systemd[1]: ${h.runtimeName}.service: Failed with result 'signal'.`]
      } else {
        unitName = "kubelet.service"
        raw = h.kubeletLog
      }
    }
    const all = lines !== undefined && Number.isFinite(lines) && lines >= 0 ? raw.slice(Math.max(0, raw.length - lines)) : raw
    const now = ctx.now()
    const entries = all.map((line, i) => {
      const m = /^([A-Za-z0-9_.@-]+)(?:\[(\d+)\])?: (.*)$/s.exec(line)
      const ident = kernel ? "kernel" : m?.[1] ?? (unitName === "kubelet.service" ? "kubelet" : "systemd")
      const pid = kernel ? undefined : m?.[2] ?? (m ? undefined : "2231")
      const message = m ? m[3]! : line
      return { t: now - (all.length - i) * 1000, ident, pid, message }
    })
    if (format === "json") {
      const out = entries.map((e, i) => {
        const printable = [...e.message].every((c) => c >= " " || c === "\t")
        return JSON.stringify({
          __CURSOR: `s=${hash(node)};i=${i + 1};b=${hash(`${node}-boot`)};m=${(e.t * 1000).toString(16)};t=${(e.t * 1000).toString(16)};x=${hash(e.message)}`,
          __REALTIME_TIMESTAMP: String(e.t * 1000),
          __MONOTONIC_TIMESTAMP: String((e.t % 86_400_000) * 1000),
          _BOOT_ID: sha(`${node}-boot`).slice(0, 32),
          PRIORITY: kernel ? (/Hardware Error|panic|Out of memory/.test(e.message) ? "2" : "6") : /^E\d{4}|Failed|error/i.test(e.message) ? "3" : "6",
          _HOSTNAME: node,
          SYSLOG_IDENTIFIER: e.ident,
          ...(e.pid !== undefined ? { _PID: e.pid } : {}),
          ...(kernel ? { _TRANSPORT: "kernel" } : { _TRANSPORT: "stdout", ...(unitName !== undefined && e.ident !== "systemd" ? { _SYSTEMD_UNIT: unitName } : {}), ...(e.ident === "systemd" ? { UNIT: unitName } : {}) }),
          // journald prints a field with control characters as a byte array
          MESSAGE: printable ? e.message : [...new TextEncoder().encode(e.message)]
        })
      })
      return ok(out.length === 0 ? "" : `${out.join("\n")}\n`)
    }
    if (entries.length === 0) return ok("-- No entries --\n")
    const text = entries.map((e) => (format === "cat" ? e.message : `${format === "short-iso" ? new Date(e.t).toISOString() : shortTime(e.t)} ${node} ${e.ident}${e.pid !== undefined ? `[${e.pid}]` : ""}: ${e.message}`))
    return ok(`${text.join("\n")}\n`)
  }

  // ------------------------------------------------------------------------------- disk, memory
  const podsOnNode = (): Array<KubeObject> =>
    ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${node}` }).filter((p) => {
      const phase = ((p["status"] ?? {}) as Json)["phase"]
      return phase !== "Succeeded" && phase !== "Failed"
    })
  const capacity = (key: string, fallback: number): number => tryQuantity((((nodeObj()?.["status"] ?? {}) as Json)["capacity"] ?? {})[key]) ?? fallback
  const diskUsed = (): number => {
    // the host's own bytes and listed images, plus what running containers write
    let pods = 0
    for (const p of podsOnNode()) {
      if (((p["status"] ?? {}) as Json)["phase"] !== "Running") continue
      for (const c of (((p["spec"] ?? {}) as Json)["containers"] ?? []) as Array<Json>) pods += ctx.behaviourOf(p, String(c["name"])).behaviour.diskBytes ?? 0
    }
    return hostDiskUsed(host()) + pods
  }

  interface Fs { fs: string; type: string; mount: string; size: number; used: number; inodes: number; iused: number }
  const filesystems = (): Array<Fs> => {
    const size = capacity("ephemeral-storage", 100 * 2 ** 30)
    const used = Math.min(size, diskUsed())
    const h = host()
    const mem = capacity("memory", 8 * 2 ** 30)
    return [
      { fs: "/dev/nvme0n1p1", type: "ext4", mount: "/", size, used, inodes: h.inodesTotal, iused: Math.min(h.inodesTotal, h.inodesUsed) },
      { fs: "tmpfs", type: "tmpfs", mount: "/dev/shm", size: Math.floor(mem / 2), used: 0, inodes: Math.floor(mem / 8192), iused: 1 },
      { fs: "tmpfs", type: "tmpfs", mount: "/run", size: Math.floor(mem / 5), used: 2 * 2 ** 20, inodes: Math.floor(mem / 8192), iused: 812 }
    ]
  }
  const pct = (used: number, size: number): string => (size === 0 ? "-" : `${Math.ceil((used * 100) / size)}%`)

  const df = (args: ReadonlyArray<string>): Output => {
    let human = false
    let inodes = false
    let posix = false
    let block = 1024
    const paths: Array<string> = []
    for (const a of args) {
      if (a === "--") continue
      if (a === "-B1" || a === "--block-size=1") block = 1
      else if (a === "-k") block = 1024
      else if (a === "--human-readable") human = true
      else if (a === "--inodes") inodes = true
      else if (a === "--portability") posix = true
      else if (/^-[hiPTk]+$/.test(a)) {
        if (a.includes("h")) human = true
        if (a.includes("i")) inodes = true
        if (a.includes("P")) posix = true
      } else if (a.startsWith("-")) return exit(1, "", `df: invalid option -- '${a.replace(/^-+/, "")}'\nTry 'df --help' for more information.\n`)
      else paths.push(a)
    }
    let list = filesystems()
    if (paths.length > 0) {
      const picked: Array<Fs> = []
      for (const p of paths) {
        if (!p.startsWith("/")) return exit(1, "", `df: ${p}: No such file or directory\n`)
        const best = list.filter((f) => f.mount === "/" || p === f.mount || p.startsWith(`${f.mount}/`)).sort((x, y) => y.mount.length - x.mount.length)[0]!
        picked.push(best)
      }
      list = picked
    }
    const rows: Array<Array<string>> = []
    if (inodes) {
      rows.push(["Filesystem", "Inodes", "IUsed", "IFree", "IUse%", "Mounted on"])
      for (const f of list) {
        const fmt = human ? humanCount : String
        rows.push([f.fs, fmt(f.inodes), fmt(f.iused), fmt(f.inodes - f.iused), pct(f.iused, f.inodes), f.mount])
      }
    } else if (human) {
      rows.push(["Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"])
      for (const f of list) rows.push([f.fs, humanSize(f.size), humanSize(f.used), humanSize(f.size - f.used), pct(f.used, f.size), f.mount])
    } else {
      rows.push(["Filesystem", `${block === 1 ? "1" : "1024"}-blocks`, "Used", "Available", posix ? "Capacity" : "Use%", "Mounted on"])
      for (const f of list) {
        const b = (n: number) => String(Math.ceil(n / block))
        rows.push([f.fs, b(f.size), b(f.used), b(f.size - f.used), pct(f.used, f.size), f.mount])
      }
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
    const text = rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : c === r.length - 1 ? cell : cell.padStart(widths[c]!))).join(" ")).join("\n")
    return ok(`${text}\n`)
  }

  const free = (args: ReadonlyArray<string>): Output => {
    if (!args.includes("-b") && !args.includes("--bytes")) return exit(1, "", "kube-sim: free needs -b\n")
    const sig = controllers.kubelet.signals.get(node)
    const total = sig?.memoryCapacityBytes ?? capacity("memory", 8 * 2 ** 30)
    const used = Math.min(total, sig?.memoryUsedBytes ?? host().hostMemoryBytes)
    const cache = Math.floor((total - used) / 4)
    const freeB = total - used - cache
    const rows = [
      ["", "total", "used", "free", "shared", "buff/cache", "available"],
      ["Mem:", String(total), String(used), String(freeB), "1048576", String(cache), String(total - used)],
      ["Swap:", "0", "0", "0"]
    ]
    const text = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(5) : c.padStart(i === 1 ? 14 : 12))).join("")).join("\n")
    return ok(`${text}\n`)
  }

  const cat = (args: ReadonlyArray<string>): Output => {
    let stdout = ""
    let stderr = ""
    let code = 0
    for (const p of args) {
      if (p === "/proc/sys/fs/file-nr") stdout += `${host().fileHandlesAllocated}\t0\t${host().fileHandlesMax}\n`
      else if (p === "/proc/sys/fs/file-max") stdout += `${host().fileHandlesMax}\n`
      else {
        stderr += `cat: ${p}: No such file or directory\n`
        code = 1
      }
    }
    return exit(code, stdout, stderr)
  }

  // ------------------------------------------------------------------------------- crictl
  const imagesInUse = (): Set<string> => {
    const used = new Set<string>([PAUSE_IMAGE])
    for (const p of podsOnNode()) {
      const spec = (p["spec"] ?? {}) as Json
      for (const c of [...((spec["containers"] ?? []) as Array<Json>), ...((spec["initContainers"] ?? []) as Array<Json>)]) {
        if (typeof c["image"] === "string") used.add(c["image"])
      }
    }
    return used
  }
  const imageList = (): Array<{ ref: string; size: number }> => {
    const refs = new Set<string>([PAUSE_IMAGE, ...(ctx.nodeImages.get(node) ?? []), ...Object.keys(host().images)])
    return [...refs].sort().map((ref) => ({ ref, size: host().images[ref] ?? (ref === PAUSE_IMAGE ? 321_520 : NOMINAL_IMAGE_BYTES) }))
  }
  const repoOf = (ref: string): string => {
    const at = ref.indexOf("@")
    if (at >= 0) return ref.slice(0, at)
    const colon = ref.lastIndexOf(":")
    return colon > ref.lastIndexOf("/") ? ref.slice(0, colon) : ref
  }
  const crictl = (args: ReadonlyArray<string>): Output => {
    const h = host()
    if (h.runtime !== "active") {
      const sock = h.runtimeName === "crio" ? "/var/run/crio/crio.sock" : "/run/containerd/containerd.sock"
      return exit(1, "", `time="${new Date(ctx.now()).toISOString()}" level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint \\"unix://${sock}\\": rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing: dial unix ${sock}: connect: connection refused\\""\n`)
    }
    const rest = args.filter((a) => a !== "-o" && a !== "json" && a !== "--output=json" && a !== "--output" && a !== "-q")
    const json = args.includes("json")
    const [verb, ...more] = rest
    switch (verb) {
      case "images":
      case "img": {
        const list = imageList()
        if (!json) {
          const rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"], ...list.map((i) => [repoOf(i.ref), i.ref.slice(repoOf(i.ref).length + 1) || "<none>", sha(i.ref).slice(0, 13), humanSize(i.size).replace(/([KMGT])$/, "$1B")])]
          const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
          return ok(`${rows.map((r) => r.map((c, i) => c.padEnd(w[i]! + 3)).join("").trimEnd()).join("\n")}\n`)
        }
        return ok(`${JSON.stringify({
          images: list.map((i) => ({
            id: `sha256:${sha(i.ref)}`,
            repoTags: i.ref.includes("@") ? [] : [i.ref],
            repoDigests: [`${repoOf(i.ref)}@sha256:${sha(`${i.ref}@digest`)}`],
            size: String(i.size),
            uid: i.ref === PAUSE_IMAGE ? { value: "65535" } : null,
            username: "",
            spec: null,
            pinned: i.ref === PAUSE_IMAGE
          }))
        }, null, 2)}\n`)
      }
      case "rmi": {
        if (!more.includes("--prune") && !more.includes("-q")) {
          if (more.length === 0) return exit(1, "", `time="${new Date(ctx.now()).toISOString()}" level=fatal msg="image ID cannot be empty"\n`)
        }
        const inUse = imagesInUse()
        const targets = more.includes("--prune") ? imageList().filter((i) => !inUse.has(i.ref)).map((i) => i.ref) : more.filter((m) => !m.startsWith("-"))
        const out: Array<string> = []
        for (const ref of targets) {
          if (inUse.has(ref)) return exit(1, out.map((o) => `${o}\n`).join(""), `time="${new Date(ctx.now()).toISOString()}" level=fatal msg="error of removing image \\"${ref}\\": rpc error: code = Unknown desc = image is in use by a container"\n`)
          delete h.images[ref]
          ctx.nodeImages.get(node)?.delete(ref)
          out.push(`Deleted: ${ref}`)
        }
        if (out.length > 0) controllers.settle()
        return ok(out.map((o) => `${o}\n`).join(""))
      }
      case "pods": {
        const items = podsOnNode().map((p) => {
          const ready = ((p["status"] ?? {}) as Json)["phase"] === "Running"
          return {
            id: sha(`${p.metadata.uid}-sandbox`),
            metadata: { name: p.metadata.name, uid: p.metadata.uid, namespace: p.metadata.namespace, attempt: 0 },
            state: ready ? "SANDBOX_READY" : "SANDBOX_NOTREADY",
            createdAt: String(BigInt(Date.parse(p.metadata.creationTimestamp ?? new Date(ctx.now()).toISOString())) * 1_000_000n),
            labels: { ...(p.metadata.labels ?? {}), "io.kubernetes.pod.name": p.metadata.name, "io.kubernetes.pod.namespace": p.metadata.namespace ?? "default", "io.kubernetes.pod.uid": p.metadata.uid ?? "" },
            annotations: { ...(p.metadata.annotations ?? {}) },
            runtimeHandler: ""
          }
        })
        return ok(`${JSON.stringify({ items }, null, 2)}\n`)
      }
      case "ps": {
        const containers: Array<Json> = []
        for (const p of podsOnNode()) {
          const st = (p["status"] ?? {}) as Json
          for (const cs of (st["containerStatuses"] ?? []) as Array<Json>) {
            const state = cs["state"] ?? {}
            if (!cs["containerID"]) continue
            containers.push({
              id: String(cs["containerID"]).replace(/^[a-z]+:\/\//, ""),
              podSandboxId: sha(`${p.metadata.uid}-sandbox`),
              metadata: { name: cs["name"], attempt: cs["restartCount"] ?? 0 },
              image: { image: cs["image"], annotations: {} },
              imageRef: cs["imageID"] || cs["image"],
              state: state["running"] ? "CONTAINER_RUNNING" : state["terminated"] ? "CONTAINER_EXITED" : "CONTAINER_CREATED",
              createdAt: String(BigInt(Date.parse(p.metadata.creationTimestamp ?? new Date(ctx.now()).toISOString())) * 1_000_000n),
              labels: { "io.kubernetes.container.name": cs["name"], "io.kubernetes.pod.name": p.metadata.name, "io.kubernetes.pod.namespace": p.metadata.namespace ?? "default", "io.kubernetes.pod.uid": p.metadata.uid ?? "" },
              annotations: { "io.kubernetes.container.restartCount": String(cs["restartCount"] ?? 0) }
            })
          }
        }
        return ok(`${JSON.stringify({ containers }, null, 2)}\n`)
      }
      default:
        return exit(1, "", `No help topic for '${verb ?? ""}'\n`)
    }
  }

  const run = (argv: ReadonlyArray<string>): Output => {
      const [program, ...args] = argv
      switch (program) {
        case "env": {
          // env [-i] [NAME=VALUE …] program …: the simulated tools read no environment
          let i = 0
          while (i < args.length && (args[i] === "-i" || /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i]!))) i++
          return i < args.length ? run(args.slice(i)) : ok("")
        }
        case "systemctl":
          return systemctl(args)
        case "journalctl":
          return journalctl(args)
        case "df":
          return df(args)
        case "free":
          return free(args)
        case "cat":
          return cat(args)
        case "crictl":
          return crictl(args)
        case "true":
          return ok("")
        case "false":
          return exit(1, "")
        case "echo":
          return ok(`${args.join(" ")}\n`)
        default:
          return exit(127, "", `nsenter: failed to execute ${program ?? ""}: No such file or directory\n`)
      }
  }
  return { node, run }
}

/** Options of `daemonSetManifest`. */
export interface DaemonSetOptions {
  readonly namespace?: string
  readonly name?: string
  /** The pods' labels (default `app.kubernetes.io/name: byteport-node-shell`). */
  readonly labels?: Record<string, string>
  readonly image?: string
  /** Set false to leave out `privileged` (nsenter is then refused). */
  readonly privileged?: boolean
  /** Set false to leave out `hostPID` (PID 1 is then the container's own init). */
  readonly hostPID?: boolean
}

/** A DaemonSet manifest, as `daemonSetManifest` builds it. */
export interface DaemonSetManifest {
  readonly apiVersion: "apps/v1"
  readonly kind: "DaemonSet"
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> }
  readonly spec: Readonly<Record<string, unknown>>
}

/**
 * The node-shell DaemonSet BytePort's `NodeShell.viaExec` execs into: privileged, `hostPID`,
 * tolerating every taint (a NotReady or pressured node keeps its pod), sleeping forever.
 */
export const daemonSetManifest = (o: DaemonSetOptions = {}): DaemonSetManifest => {
  const labels = o.labels ?? { "app.kubernetes.io/name": "byteport-node-shell" }
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: o.name ?? "byteport-node-shell", namespace: o.namespace ?? "byteport-system", labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          ...(o.hostPID === false ? {} : { hostPID: true }),
          tolerations: [{ operator: "Exists" }],
          containers: [{
            name: "shell",
            image: o.image ?? "docker.io/library/alpine:3.20",
            command: ["sleep", "infinity"],
            securityContext: o.privileged === false ? {} : { privileged: true },
            resources: { requests: { cpu: "10m", memory: "16Mi" } }
          }]
        }
      }
    }
  }
}

/**
 * Deploys the node-shell DaemonSet (`daemonSetManifest(options)`, and its namespace when missing)
 * through the simulator's API, then advances virtual time (at most 2 minutes) until every node
 * that is Ready has a Running shell pod. Returns the virtual milliseconds that took.
 */
export const deploy = async (
  sim: { readonly url: string; readonly controllers: Controllers; advanceUntil(p: () => boolean, max?: number | string, step?: number | string): boolean; now(): number },
  options: DaemonSetOptions = {}
): Promise<number> => {
  const manifest = daemonSetManifest(options)
  const ns = manifest.metadata.namespace
  const post = async (path: string, body: unknown, okIfExists: boolean) => {
    const r = await fetch(`${sim.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    if (!r.ok && !(okIfExists && r.status === 409)) throw new Error(`kube-sim: POST ${path}: ${r.status} ${await r.text()}`)
  }
  await post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, true)
  await post(`/apis/apps/v1/namespaces/${ns}/daemonsets`, manifest, false)
  const started = sim.now()
  const store = sim.controllers.ctx.store
  const ready = () =>
    store.list(R.nodes).every((n) => {
      const conds = (((n["status"] ?? {}) as Json)["conditions"] ?? []) as Array<Json>
      if (!conds.some((c) => c["type"] === "Ready" && c["status"] === "True")) return true
      return store.list(R.pods, { namespace: ns }).some((p) =>
        ((p["spec"] ?? {}) as Json)["nodeName"] === n.metadata.name && ((p["status"] ?? {}) as Json)["phase"] === "Running" && p.metadata.ownerReferences?.[0]?.name === manifest.metadata.name
      )
    })
  sim.advanceUntil(ready, "2m", "1s")
  return sim.now() - started
}
