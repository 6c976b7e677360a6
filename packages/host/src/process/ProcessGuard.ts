/**
 * The never-touched set of process control: which processes BytePort may renice, re-score or
 * signal, decided from one process table (pid, ppid, comm, cmdline, starttime, kernel-thread flag,
 * cgroup). Never touched, whatever the configuration says:
 *
 * - PID 1 and kernel threads (PF_KTHREAD, or children of kthreadd, PID 2);
 * - `sshd`, `systemd` and every `systemd-*`, `kubelet`, `etcd`;
 * - container runtimes (`containerd`, `containerd-shim*`, `dockerd`, `docker-proxy`, `crio`,
 *   `conmon`, `runc`, `crun`, `podman`, `cri-dockerd`);
 * - BytePort itself and every ancestor of it (the agent's supervisor, its shell, its container's init);
 * - the operator's list (`operatorList`: comm names, or `/regex/` over the command line).
 *
 * Stateful services (databases: `postgres`, `postmaster`, `mysqld`, `mariadbd`, `mongod`,
 * `redis-server`, `memcached`, `clickhouse-server`, `elasticsearch` …) are touched only when their
 * name is in `statefulAllowlist`. A process in a Kubernetes pod (`kubepods` in its cgroup) is never
 * signalled: `Container` carries the pod uid and container id for the `OOM observed` hand-off or an
 * escalation naming the pod.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"

/** One row of a process table: what the guard decides on. */
export interface Proc {
  readonly pid: number
  readonly ppid: number
  /** `/proc/<pid>/stat` comm (at most 15 characters). */
  readonly comm: string
  /** argv (empty for kernel threads). */
  readonly cmdline: ReadonlyArray<string>
  /** Start time after boot, clock ticks: with the pid, one process across pid reuse. */
  readonly starttime: number
  /** PF_KTHREAD set. */
  readonly kernelThread: boolean
  /** `/proc/<pid>/cgroup` as text. */
  readonly cgroup: string
}

/** The guard's configuration: the operator's additions (nothing removes a built-in entry). */
export interface Policy {
  /** More processes never touched: comm names, or `/regex/` matched against the joined command line. */
  readonly operatorList?: ReadonlyArray<string>
  /** Stateful services that may be touched (comm names, e.g. `redis-server`). */
  readonly statefulAllowlist?: ReadonlyArray<string>
  /** BytePort's own pid (default this process). */
  readonly selfPid?: number
}

/** What the guard decided for one process. */
export type Verdict =
  | { readonly _tag: "Allowed" }
  | { readonly _tag: "Critical"; readonly reason: string }
  | { readonly _tag: "Stateful"; readonly reason: string }
  | { readonly _tag: "Container"; readonly reason: string; readonly podUid: string | undefined; readonly containerId: string | undefined }

/** The built-in critical names (exact comm). */
export const CRITICAL_NAMES: ReadonlySet<string> = new Set([
  "init", "sshd", "systemd", "kubelet", "etcd", "containerd", "dockerd", "docker-proxy", "crio", "conmon", "runc", "crun",
  "podman", "cri-dockerd", "kthreadd", "agetty", "dbus-daemon", "journald", "rsyslogd"
])

/** Critical name prefixes: `systemd-*`, `containerd-shim*`. */
export const CRITICAL_PREFIXES: ReadonlyArray<string> = ["systemd-", "containerd-shim", "(sd-"]

/** Stateful services (touched only when allow-listed). */
export const STATEFUL_NAMES: ReadonlySet<string> = new Set([
  "postgres", "postmaster", "mysqld", "mariadbd", "mongod", "mongos", "redis-server", "valkey-server", "memcached",
  "clickhouse-serv", "clickhouse-server", "elasticsearch", "opensearch", "cassandra", "rabbitmq-server", "beam.smp", "kafka", "zookeeper",
  "pgbouncer", "influxd", "etcd"
])

const matches = (p: Proc, entry: string): boolean => {
  if (entry.length > 2 && entry.startsWith("/") && entry.endsWith("/")) {
    try {
      return new RegExp(entry.slice(1, -1)).test(p.cmdline.join(" "))
    } catch {
      return false
    }
  }
  return p.comm === entry || (p.cmdline[0] !== undefined && p.cmdline[0].split("/").pop() === entry)
}

/** The pod uid and container id of a `kubepods` cgroup path (cgroupfs or systemd driver), when it is one. */
export const kubepods = (cgroup: string): { readonly podUid: string | undefined; readonly containerId: string | undefined } | undefined => {
  if (!cgroup.includes("kubepods")) return undefined
  const pod = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/.exec(cgroup)
  const container = /(?:cri-containerd-|crio-|docker-)?([0-9a-f]{64})(?:\.scope)?(?:\n|$)/m.exec(cgroup)
  return { podUid: pod ? pod[1]!.replace(/_/g, "-") : undefined, containerId: container ? container[1] : undefined }
}

/** The pids of `pid` and all its ancestors in the table (stops at a pid not in it, or a loop). */
export const lineage = (table: ReadonlyMap<number, Proc>, pid: number): ReadonlySet<number> => {
  const out = new Set<number>()
  let cur: number | undefined = pid
  while (cur !== undefined && cur > 0 && !out.has(cur)) {
    out.add(cur)
    cur = table.get(cur)?.ppid
  }
  return out
}

/**
 * Decides for one process of the table. The table must hold BytePort's own process and its
 * ancestors for the ancestor rule (`snapshot` reads them all); a process missing from the table is
 * Critical (nothing is known of it).
 */
export const decide = (table: ReadonlyMap<number, Proc>, pid: number, policy: Policy = {}): Verdict => {
  const p = table.get(pid)
  if (p === undefined) return { _tag: "Critical", reason: `pid ${pid} is not in the process table` }
  if (p.pid === 1) return { _tag: "Critical", reason: "PID 1" }
  if (p.pid === 2 || p.kernelThread || p.ppid === 2) return { _tag: "Critical", reason: `kernel thread ${p.comm}` }
  const self = policy.selfPid ?? process.pid
  if (lineage(table, self).has(p.pid)) return { _tag: "Critical", reason: p.pid === self ? "BytePort itself" : `an ancestor of BytePort (${p.comm})` }
  if (CRITICAL_NAMES.has(p.comm) || CRITICAL_PREFIXES.some((x) => p.comm.startsWith(x))) return { _tag: "Critical", reason: `critical process ${p.comm}` }
  const exe = p.cmdline[0]?.split("/").pop() ?? ""
  if (exe !== "" && (CRITICAL_NAMES.has(exe) || CRITICAL_PREFIXES.some((x) => exe.startsWith(x)))) return { _tag: "Critical", reason: `critical process ${exe}` }
  if ((policy.operatorList ?? []).some((e) => matches(p, e))) return { _tag: "Critical", reason: `${p.comm} is on the operator's never-touch list` }
  const pod = kubepods(p.cgroup)
  if (pod !== undefined) {
    return { _tag: "Container", reason: `${p.comm} runs in Kubernetes pod ${pod.podUid ?? "(uid unknown)"}`, podUid: pod.podUid, containerId: pod.containerId }
  }
  if ((STATEFUL_NAMES.has(p.comm) || STATEFUL_NAMES.has(exe)) && !(policy.statefulAllowlist ?? []).some((e) => matches(p, e))) {
    return { _tag: "Stateful", reason: `${p.comm} is a stateful service not in statefulAllowlist` }
  }
  return { _tag: "Allowed" }
}

// ---------------------------------------------------------------------------------------------
// reading the local table

const readProc = (procRoot: string, pid: number): Proc | undefined => {
  try {
    const stat = fs.readFileSync(`${procRoot}/${pid}/stat`, "utf8")
    const close = stat.lastIndexOf(")")
    const comm = stat.slice(stat.indexOf("(") + 1, close)
    const f = stat.slice(close + 2).trim().split(/\s+/)
    let cmdline: Array<string> = []
    try {
      cmdline = fs.readFileSync(`${procRoot}/${pid}/cmdline`, "utf8").split("\0").filter((_, i, a) => i < a.length - 1 || a[i] !== "")
    } catch {
      // exited, or not readable
    }
    let cgroup = ""
    try {
      cgroup = fs.readFileSync(`${procRoot}/${pid}/cgroup`, "utf8")
    } catch {
      // idem
    }
    return { pid, ppid: Number(f[1]), comm, cmdline, starttime: Number(f[19]), kernelThread: (Number(f[6]) & 0x00200000) !== 0, cgroup }
  } catch {
    return undefined
  }
}

/** Reads one process of this machine (undefined when it is gone). */
export const read = (pid: number, procRoot = "/proc"): Proc | undefined => readProc(procRoot, pid)

/** Reads this machine's whole process table. */
export const snapshot = (procRoot = "/proc"): ReadonlyMap<number, Proc> => {
  const table = new Map<number, Proc>()
  for (const name of fs.readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue
    const p = readProc(procRoot, Number(name))
    if (p !== undefined) table.set(p.pid, p)
  }
  return table
}
