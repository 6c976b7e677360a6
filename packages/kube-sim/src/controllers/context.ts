/**
 * The shared state every controller reads: the store, the virtual clock, the seeded RNG,
 * the event recorder, pod logs and the simulated world outside the API (images in the
 * registry, request-rate series, node host state, behaviour overrides).
 */
import type { KubeObject, ObjectStore, ResourceKey } from "../store/types"
import type { VirtualClock } from "../clock/VirtualClock"
import type { Rng } from "../clock/Rng"
import { EventRecorder } from "./events"
import type { ContainerBehaviour } from "./behaviour"
import { ImageRegistry } from "../registry/ImageRegistry"
import { BEHAVIOUR_ANNOTATION, MEMORY_ANNOTATION, mergeBehaviour, parseBehaviourAnnotation, parseMemoryAnnotation } from "./behaviour"
import { Series } from "./series"
import { R, controllerOf, type Json } from "./util"

/** Where the kubelet writes container output (the API side's pod-log store implements it). */
export interface PodLogSink {
  /** Append one line to the current log of a container. */
  append(namespace: string, pod: string, container: string, line: string, time: string): void
  /** Start a new log for a restarted container; the current one becomes `previous`. */
  rotate(namespace: string, pod: string, container: string): void
}

/** An in-memory PodLogSink (used when the host provides none). */
export class MemoryPodLogs implements PodLogSink {
  private readonly current = new Map<string, Array<{ time: string; line: string }>>()
  private readonly prev = new Map<string, Array<{ time: string; line: string }>>()
  /** Append a line. */
  append(namespace: string, pod: string, container: string, line: string, time: string): void {
    const k = `${namespace}/${pod}/${container}`
    const a = this.current.get(k) ?? []
    a.push({ time, line })
    this.current.set(k, a)
  }
  /** Rotate the current log to previous. */
  rotate(namespace: string, pod: string, container: string): void {
    const k = `${namespace}/${pod}/${container}`
    this.prev.set(k, this.current.get(k) ?? [])
    this.current.set(k, [])
  }
  /** Read the current (or previous) log as text. */
  read(namespace: string, pod: string, container: string, previous = false): string {
    const k = `${namespace}/${pod}/${container}`
    return ((previous ? this.prev : this.current).get(k) ?? []).map((l) => `${l.line}\n`).join("")
  }
}

/** Host-level facts of a node that the API does not show (kubelet/runtime units, kernel log, host usage). */
export interface NodeHostState {
  /** systemd state of the kubelet unit. */
  kubelet: "active" | "inactive" | "failed"
  /** systemd state of the container runtime unit. */
  runtime: "active" | "inactive" | "failed"
  /** Runtime name (containerd or crio). */
  runtimeName: "containerd" | "crio"
  /** CNI plugin health. */
  network: "ok" | "down"
  /** `namespace/name` of the CNI DaemonSet whose pod on this node, once recreated and ready, heals the network. */
  cniDaemonSet?: string
  /** When the network went down (epoch ms). */
  networkDownAt?: number
  /** The machine is gone (hardware or cloud failure). */
  hardwareFailure: boolean
  /** Memory used outside pods (system daemons, a host process), bytes. */
  hostMemoryBytes: number
  /** Disk used outside pods, bytes. */
  hostDiskBytes: number
  /** PIDs used outside pods. */
  hostPids: number
  /** Kernel log lines (journalctl -k). */
  kernelLog: Array<string>
  /** Kubelet journal lines (journalctl -u kubelet). */
  kubeletLog: Array<string>
  /** Times the kubelet unit restarted. */
  kubeletRestarts: number
  /** Conditions forced by a test (type → status), overriding what the kubelet computes. */
  forced: Record<string, "True" | "False" | "Unknown">
  /** When the kubelet last posted status (epoch ms). */
  lastPostAt: number
  /** Times the container runtime unit (containerd/crio) restarted. */
  runtimeRestarts: number
  /** Inodes of the root filesystem (`df -i`). */
  inodesTotal: number
  /** Inodes used on the root filesystem. */
  inodesUsed: number
  /** Allocated file handles (`/proc/sys/fs/file-nr`, first field). */
  fileHandlesAllocated: number
  /** `fs.file-max` as a decimal string (it may be 2^63-1). */
  fileHandlesMax: string
  /**
   * Images on the node's image filesystem (reference → bytes), counted in its disk usage:
   * unused ones fill the disk until `crictl rmi --prune` removes them. (Images the kubelet pulled
   * and that are not listed here have a nominal size and count nothing.)
   */
  images: Record<string, number>
  /** The kernel log of the previous boot (`journalctl -k -b -1`); absent: no previous boot in the journal. */
  previousBootKernelLog?: Array<string>
  /** Whether the API server reaches the node (exec into its pods); false: exec fails "error dialing backend". */
  reachable: boolean
}

/** The total size of the images a node's host state lists, bytes. */
export const imageBytes = (h: NodeHostState): number => Object.values(h.images).reduce((a, b) => a + b, 0)

/** Disk used outside pods: the host's own (logs …) plus the listed images, bytes. */
export const hostDiskUsed = (h: NodeHostState): number => h.hostDiskBytes + imageBytes(h)

/** Default host state of a healthy node. */
export const healthyHost = (now: number): NodeHostState => ({
  kubelet: "active",
  runtime: "active",
  runtimeName: "containerd",
  network: "ok",
  hardwareFailure: false,
  hostMemoryBytes: 512 * 2 ** 20,
  hostDiskBytes: 20 * 2 ** 30,
  hostPids: 300,
  kernelLog: [],
  kubeletLog: [],
  kubeletRestarts: 0,
  forced: {},
  lastPostAt: now,
  runtimeRestarts: 0,
  inodesTotal: 6_553_600,
  inodesUsed: 412_318,
  fileHandlesAllocated: 9_824,
  fileHandlesMax: "9223372036854775807",
  images: {},
  reachable: true
})

/** Behaviour overrides keyed by `namespace/workload/container` ("*" wildcards allowed for workload and container). */
export type BehaviourOverrides = Map<string, ContainerBehaviour>

/** Everything the controllers share. */
export class SimContext {
  /** Event recorder. */
  readonly events: EventRecorder
  /** The image registries (tags → digests, credentials, reachability, node image caches). */
  readonly registry = new ImageRegistry()
  /** Request-rate series per `namespace/workload`. */
  readonly requestRates = new Map<string, Series>()
  /** Behaviour overrides. */
  readonly overrides: BehaviourOverrides = new Map()
  /** Host state per node name. */
  readonly hosts = new Map<string, NodeHostState>()
  /** Image cache per node. */
  readonly nodeImages = new Map<string, Set<string>>()
  private readyCache: Map<string, number> | undefined

  /** Build the context. */
  constructor(
    readonly store: ObjectStore,
    readonly clock: VirtualClock,
    readonly rng: Rng,
    readonly logs: PodLogSink
  ) {
    this.events = new EventRecorder(store, clock)
  }

  /** Current virtual time, epoch ms. */
  now(): number {
    return this.clock.now()
  }

  /** RFC 3339 time. */
  iso(t?: number): string {
    return this.clock.iso(t)
  }

  /** Host state of a node (created healthy on first use). */
  host(node: string): NodeHostState {
    let h = this.hosts.get(node)
    if (!h) {
      h = healthyHost(this.now())
      this.hosts.set(node, h)
    }
    return h
  }

  /** Forget per-pass caches (called at the start of each controller pass). */
  beginPass(): void {
    this.readyCache = undefined
  }

  /** The workload a pod belongs to: Deployment (through its ReplicaSet), StatefulSet, DaemonSet, or the pod itself. */
  workloadOf(pod: KubeObject): { kind: string; name: string } {
    const ref = controllerOf(pod)
    if (!ref) return { kind: "Pod", name: pod.metadata.name }
    if (ref.kind === "ReplicaSet") {
      const rs = this.store.get(R.replicasets, pod.metadata.namespace, ref.name)
      const dref = rs ? controllerOf(rs) : undefined
      if (dref && dref.kind === "Deployment") return { kind: "Deployment", name: dref.name }
      const labels = pod.metadata.labels ?? {}
      const hash = labels["pod-template-hash"]
      if (!rs && hash && ref.name.endsWith(`-${hash}`)) return { kind: "Deployment", name: ref.name.slice(0, -hash.length - 1) }
      return { kind: "ReplicaSet", name: ref.name }
    }
    return { kind: ref.kind, name: ref.name }
  }

  /** The behaviour of one container of a pod, from annotations and overrides. */
  behaviourOf(pod: KubeObject, container: string): { behaviour: ContainerBehaviour; error?: string } {
    const ann = pod.metadata.annotations ?? {}
    const b = parseBehaviourAnnotation(ann[BEHAVIOUR_ANNOTATION])
    const m = parseMemoryAnnotation(ann[MEMORY_ANNOTATION])
    const error = typeof b === "string" ? b : typeof m === "string" ? m : undefined
    const bm = typeof b === "string" ? {} : b
    const mm = typeof m === "string" ? {} : m
    const ns = pod.metadata.namespace ?? "default"
    const w = this.workloadOf(pod).name
    const memAll = mm["*"]
    const memOne = mm[container]
    const behaviour = mergeBehaviour(
      bm["*"],
      memAll ? { memory: memAll } : undefined,
      bm[container],
      memOne ? { memory: memOne } : undefined,
      this.overrides.get(`${ns}/*/*`),
      this.overrides.get(`${ns}/*/${container}`),
      this.overrides.get(`${ns}/${w}/*`),
      this.overrides.get(`${ns}/${w}/${container}`)
    )
    return error ? { behaviour, error } : { behaviour }
  }

  /** Number of Ready pods of each `namespace/workload` (cached per pass). */
  readyPods(namespace: string, workload: string): number {
    if (!this.readyCache) {
      const c = new Map<string, number>()
      for (const p of this.store.list(R.pods)) {
        if (!isPodReady(p) || p.metadata.deletionTimestamp) continue
        const k = `${p.metadata.namespace ?? "default"}/${this.workloadOf(p).name}`
        c.set(k, (c.get(k) ?? 0) + 1)
      }
      this.readyCache = c
    }
    return this.readyCache.get(`${namespace}/${workload}`) ?? 0
  }

  /** Total request rate of a workload at time t (requests/s). */
  requestRate(namespace: string, workload: string, t: number): number {
    return this.requestRates.get(`${namespace}/${workload}`)?.at(t) ?? 0
  }

  /** Requests per second one pod of this workload serves at time t (0 when it is not ready). */
  podRps(pod: KubeObject, t: number): number {
    const ns = pod.metadata.namespace ?? "default"
    const w = this.workloadOf(pod).name
    const ready = this.readyPods(ns, w)
    return ready === 0 ? 0 : this.requestRate(ns, w, t) / ready
  }

  /** Series breakpoints for a pod's workload within (from, to]. */
  podRpsBreakpoints(pod: KubeObject, from: number, to: number): Array<number> {
    const ns = pod.metadata.namespace ?? "default"
    return this.requestRates.get(`${ns}/${this.workloadOf(pod).name}`)?.breakpoints(from, to) ?? []
  }

  /**
   * Delete a pod the way the API does: unscheduled or finished pods go at once, others get
   * deletionTimestamp + grace and the kubelet finalises them.
   */
  deletePod(pod: KubeObject, graceSeconds?: number): void {
    try {
      this.store.requestDelete(R.pods, pod.metadata.namespace, pod.metadata.name, graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {})
    } catch {
      // already gone
    }
  }

  /** Delete any object the way the API does (finalizers honoured); absent objects are ignored. */
  deleteObject(key: ResourceKey, namespace: string | undefined, name: string): void {
    try {
      this.store.requestDelete(key, namespace, name)
    } catch {
      // already gone
    }
  }
}

/** Is the pod's Ready condition True? */
export const isPodReady = (pod: KubeObject): boolean =>
  (((pod["status"] as Json | undefined)?.["conditions"] ?? []) as Array<Json>).some((c) => c["type"] === "Ready" && c["status"] === "True")

/** When did the pod become Ready (epoch ms), if it is Ready. */
export const podReadySince = (pod: KubeObject): number | undefined => {
  const c = (((pod["status"] as Json | undefined)?.["conditions"] ?? []) as Array<Json>).find((x) => x["type"] === "Ready" && x["status"] === "True")
  if (!c) return undefined
  const t = Date.parse(String(c["lastTransitionTime"]))
  return Number.isFinite(t) ? t : undefined
}

/** Is the pod active (not terminal, not terminating)? */
export const isPodActive = (pod: KubeObject): boolean => {
  const phase = ((pod["status"] ?? {}) as Json)["phase"]
  return !pod.metadata.deletionTimestamp && phase !== "Failed" && phase !== "Succeeded"
}
