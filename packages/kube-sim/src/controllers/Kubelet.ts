/**
 * The kubelet: runs the containers of every pod bound to a node whose kubelet is up.
 * Image pulls, config resolution, start, probes, OOM kills from the memory model, crash
 * loops with the real back-off, graceful termination and node-pressure eviction all follow
 * from the pod spec, the container behaviour and the virtual clock.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { hostDiskUsed, isPodReady } from "./context"
import type { ContainerBehaviour } from "./behaviour"
import { crossingTime, demandAt, type DemandInput, type MemoryModel } from "./memory"
import { failuresUntil, killTime, probeFailureMessage, probeTiming, readyTime, startupSuccess, type AppHealth } from "./probes"
import { formatBytes, tryQuantity } from "./quantity"
import { fnv32a } from "../clock/Rng"
import { R, clone, mapSelectorMatches, mutateIfChanged, sorted, setCondition, type Json } from "./util"
import type { PullResult } from "../registry/ImageRegistry"
import { cachedImageID, pullFor } from "../registry/pull"
import { withDefaultTag } from "../registry/Reference"

const KUBELET = "kubelet"
const MAX_BACKOFF_S = 300
const INITIAL_BACKOFF_S = 10
const BACKOFF_RESET_MS = 2 * MAX_BACKOFF_S * 1000
const HORIZON_MS = 30 * 86_400_000
/** Kubelet hard eviction threshold memory.available (bytes). */
export const MEMORY_EVICTION_THRESHOLD = 100 * 2 ** 20
/** Eviction manager monitoring interval. */
const EVICTION_INTERVAL_MS = 10_000
/** evictionPressureTransitionPeriod. */
export const PRESSURE_TRANSITION_MS = 5 * 60_000

/** Format seconds as a Go duration (10s, 1m20s, 5m0s). */
export const goDuration = (seconds: number): string => {
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${s % 60}s`
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`
}

/** A terminated container instance. */
export interface Terminated {
  exitCode: number
  reason: string
  message?: string
  signal?: number
  startedAt: number | "epoch"
  finishedAt: number
  containerID: string
}

type Phase = "new" | "pulling" | "pullFailed" | "pulled" | "running" | "backoff" | "completed" | "done"

/** Runtime state of one container. */
export interface ContainerRuntime {
  name: string
  init: boolean
  phase: Phase
  waiting?: { reason: string; message?: string }
  startedAt?: number
  containerID?: string
  lastTerminated?: Terminated
  terminated?: Terminated
  restartCount: number
  everStarted: boolean
  pullOutcome?: string
  /** The last pull's result (registry/ImageRegistry). */
  pull?: PullResult
  /** The digest reference of the image the container was created from (`docker.io/library/x@sha256:…`). */
  imageID?: string
  pullDoneAt?: number
  pullStartedAt?: number
  pullRetryAt?: number
  pullBackoffShownAt?: number
  pullBackoffS?: number
  pullFailedAt?: number
  backoff?: { seconds: number; lastUpdate: number }
  restartAt?: number
  configError?: string
  plan?: { at: number; exitCode: number; reason: string; logs: Array<string> }
  limitBytes?: number
  model?: MemoryModel
  env: Record<string, string>
  health?: AppHealth
  lastEval?: number
  recordedFails: Record<string, number>
  pid: number
  behaviour: ContainerBehaviour
}

/** Runtime state of one pod. */
export interface PodRuntime {
  key: string
  namespace: string
  name: string
  uid: string
  node: string
  ip?: string
  startTime: number
  containers: Map<string, ContainerRuntime>
  deletingSince?: number
  volumeError?: string
  sandboxError?: string
  evicted?: boolean
}

/** Node-level signals the kubelet measures, read by the node lifecycle controller. */
export interface NodeSignals {
  memoryPressureSince?: number
  memoryPressureLastSeen?: number
  diskPressureLastSeen?: number
  pidPressureLastSeen?: number
  nextEvictionAt?: number
  memoryUsedBytes: number
  memoryCapacityBytes: number
  diskUsedBytes: number
  pidsUsed: number
}

/** The simulated kubelet of every node. */
export class Kubelet {
  /** Pod runtimes by pod uid. */
  readonly pods = new Map<string, PodRuntime>()
  /** Measured node signals by node name. */
  readonly signals = new Map<string, NodeSignals>()
  private ipSeq = new Map<string, number>()
  private pidSeq = 1000

  /** Build the kubelet over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** One reconcile pass over every pod and node. */
  reconcile(): void {
    const ctx = this.ctx
    const nodes = new Map(ctx.store.list(R.nodes).map((n) => [n.metadata.name, n]))
    const seen = new Set<string>()
    for (const pod of sorted(ctx.store.list(R.pods))) {
      const spec = (pod["spec"] ?? {}) as Json
      const nodeName = spec["nodeName"] as string | undefined
      if (!nodeName) {
        if (pod.metadata.deletionTimestamp) ctx.store.delete(R.pods, pod.metadata.namespace, pod.metadata.name)
        continue
      }
      const key = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`
      seen.add(key)
      const node = nodes.get(nodeName)
      if (!node) continue
      const host = ctx.host(nodeName)
      if (host.kubelet !== "active" || host.hardwareFailure || host.runtime !== "active") continue
      this.syncPod(pod, node)
    }
    for (const k of [...this.pods.keys()]) if (!seen.has(k)) this.pods.delete(k)
    for (const node of nodes.values()) {
      const host = ctx.host(node.metadata.name)
      if (host.kubelet !== "active" || host.hardwareFailure) continue
      this.nodePressure(node)
    }
  }

  private runtimeOf(pod: KubeObject, node: KubeObject): PodRuntime {
    const key = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`
    let rt = this.pods.get(key)
    if (!rt) {
      rt = {
        key,
        namespace: pod.metadata.namespace ?? "default",
        name: pod.metadata.name,
        uid: pod.metadata.uid ?? "",
        node: node.metadata.name,
        startTime: this.ctx.now(),
        containers: new Map()
      }
      const spec = (pod["spec"] ?? {}) as Json
      for (const c of (spec["initContainers"] ?? []) as Array<Json>) rt.containers.set(c["name"], this.newContainer(c["name"], true))
      for (const c of (spec["containers"] ?? []) as Array<Json>) rt.containers.set(c["name"], this.newContainer(c["name"], false))
      this.pods.set(key, rt)
    }
    return rt
  }

  private newContainer(name: string, init: boolean): ContainerRuntime {
    return { name, init, phase: "new", restartCount: 0, everStarted: false, env: {}, recordedFails: {}, pid: 0, behaviour: {} }
  }

  private podIP(rt: PodRuntime, node: KubeObject): string {
    if (rt.ip) return rt.ip
    const cidr = ((node["spec"] as Json | undefined)?.["podCIDR"] as string | undefined) ?? "10.244.0.0/24"
    const base = cidr.split("/")[0]!.split(".")
    const n = (this.ipSeq.get(node.metadata.name) ?? 1) + 1
    this.ipSeq.set(node.metadata.name, n)
    rt.ip = `${base[0]}.${base[1]}.${base[2]}.${n}`
    return rt.ip
  }

  private hostIP(node: KubeObject): string {
    return String((((node["status"] as Json | undefined)?.["addresses"] ?? []) as Array<Json>).find((a) => a["type"] === "InternalIP")?.["address"] ?? "10.0.0.1")
  }

  private syncPod(pod: KubeObject, node: KubeObject): void {
    const ctx = this.ctx
    const now = ctx.now()
    const status = (pod["status"] ?? {}) as Json
    const rt = this.runtimeOf(pod, node)
    if (pod.metadata.deletionTimestamp) {
      if (rt.deletingSince === undefined) {
        rt.deletingSince = now
        const spec = (pod["spec"] ?? {}) as Json
        for (const c of (spec["containers"] ?? []) as Array<Json>) {
          const cr = rt.containers.get(c["name"])
          if (cr?.phase === "running") ctx.events.record(pod, "Normal", "Killing", `Stopping container ${c["name"]}`, KUBELET, { fieldPath: `spec.containers{${c["name"]}}`, host: rt.node })
        }
      }
      const grace = pod.metadata.deletionGracePeriodSeconds ?? 30
      const deadline = rt.deletingSince + grace * 1000
      if (now >= deadline || status["phase"] === "Failed" || status["phase"] === "Succeeded") {
        ctx.store.delete(R.pods, pod.metadata.namespace, pod.metadata.name)
        this.pods.delete(rt.key)
      } else ctx.clock.wakeAt(deadline)
      return
    }
    if (status["phase"] === "Failed" || status["phase"] === "Succeeded") {
      for (const cr of rt.containers.values()) if (cr.phase === "running") cr.phase = "done"
      return
    }
    const spec = (pod["spec"] ?? {}) as Json
    const host = ctx.host(rt.node)
    if (spec["hostNetwork"] === true) rt.ip = rt.ip ?? this.hostIP(node)
    this.podIP(rt, node)
    // sandbox: the CNI must be up to create a new pod's network namespace
    if (!rt.containers.size || [...rt.containers.values()].every((c) => !c.everStarted && c.phase === "new")) {
      if (host.network !== "ok" && spec["hostNetwork"] !== true) {
        const msg = `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "${fnv32a(rt.key).toString(16).padStart(8, "0")}": plugin type="calico" failed (add): network plugin is not ready: cni config uninitialized`
        if (rt.sandboxError !== msg) ctx.events.record(pod, "Warning", "FailedCreatePodSandBox", msg, KUBELET, { host: rt.node })
        rt.sandboxError = msg
        this.writeStatus(pod, rt, spec)
        return
      }
      rt.sandboxError = undefined
    }
    // volumes
    const volErr = this.volumeError(pod, spec)
    if (volErr) {
      if (rt.volumeError !== volErr) ctx.events.record(pod, "Warning", "FailedMount", volErr, KUBELET, { host: rt.node })
      rt.volumeError = volErr
      this.writeStatus(pod, rt, spec)
      return
    }
    rt.volumeError = undefined
    const restartPolicy = (spec["restartPolicy"] as string | undefined) ?? "Always"
    let initDone = true
    for (const c of (spec["initContainers"] ?? []) as Array<Json>) {
      const cr = rt.containers.get(c["name"]) ?? this.newContainer(c["name"], true)
      rt.containers.set(c["name"], cr)
      if (cr.phase === "completed") continue
      this.syncContainer(pod, rt, c, cr, restartPolicy === "Never" ? "Never" : "OnFailure")
      if ((cr.phase as Phase) !== "completed") {
        initDone = false
        break
      }
    }
    if (initDone) {
      // containers start in spec order: one whose predecessors never started waits
      let predecessorsStarted = true
      for (const c of (spec["containers"] ?? []) as Array<Json>) {
        const cr = rt.containers.get(c["name"]) ?? this.newContainer(c["name"], false)
        rt.containers.set(c["name"], cr)
        if (predecessorsStarted || cr.everStarted) this.syncContainer(pod, rt, c, cr, restartPolicy)
        if (!cr.everStarted && (cr.phase === "new" || cr.phase === "pulling")) predecessorsStarted = false
      }
    }
    this.writeStatus(pod, rt, spec)
  }

  private volumeError(pod: KubeObject, spec: Json): string | undefined {
    const ns = pod.metadata.namespace
    for (const v of (spec["volumes"] ?? []) as Array<Json>) {
      const cm = v["configMap"] as Json | undefined
      if (cm && !cm["optional"] && !this.ctx.store.get(R.configmaps, ns, cm["name"])) {
        return `MountVolume.SetUp failed for volume "${v["name"]}" : configmap "${cm["name"]}" not found`
      }
      const sec = v["secret"] as Json | undefined
      if (sec && !sec["optional"] && !this.ctx.store.get(R.secrets, ns, sec["secretName"])) {
        return `MountVolume.SetUp failed for volume "${v["name"]}" : secret "${sec["secretName"]}" not found`
      }
    }
    return undefined
  }

  /** Resolve a container's env; returns the literal env map or the CreateContainerConfigError message. */
  resolveEnv(pod: KubeObject, c: Json): { env: Record<string, string> } | { error: string } {
    const ns = pod.metadata.namespace ?? "default"
    const store = this.ctx.store
    const env: Record<string, string> = {}
    const data = (o: KubeObject | undefined, secret: boolean): Record<string, string> => {
      if (!o) return {}
      const d = { ...((o["data"] ?? {}) as Record<string, string>) }
      if (secret) for (const k of Object.keys(d)) d[k] = Buffer.from(d[k]!, "base64").toString("utf8")
      return { ...d, ...((o["stringData"] ?? {}) as Record<string, string>) }
    }
    for (const ef of (c["envFrom"] ?? []) as Array<Json>) {
      const prefix = (ef["prefix"] as string | undefined) ?? ""
      if (ef["configMapRef"]) {
        const r = ef["configMapRef"] as Json
        const cm = store.get(R.configmaps, ns, r["name"])
        if (!cm && !r["optional"]) return { error: `configmap "${r["name"]}" not found` }
        for (const [k, v] of Object.entries(data(cm, false))) env[prefix + k] = v
      }
      if (ef["secretRef"]) {
        const r = ef["secretRef"] as Json
        const s = store.get(R.secrets, ns, r["name"])
        if (!s && !r["optional"]) return { error: `secret "${r["name"]}" not found` }
        for (const [k, v] of Object.entries(data(s, true))) env[prefix + k] = v
      }
    }
    for (const e of (c["env"] ?? []) as Array<Json>) {
      const vf = e["valueFrom"] as Json | undefined
      if (!vf) {
        env[e["name"]] = String(e["value"] ?? "")
        continue
      }
      const ref = vf["configMapKeyRef"] ? { r: vf["configMapKeyRef"] as Json, secret: false } : vf["secretKeyRef"] ? { r: vf["secretKeyRef"] as Json, secret: true } : undefined
      if (ref) {
        const { r, secret } = ref
        const src = store.get(secret ? R.secrets : R.configmaps, ns, r["name"])
        if (!src) {
          if (r["optional"]) continue
          return { error: `${secret ? "secret" : "configmap"} "${r["name"]}" not found` }
        }
        const d = data(src, secret)
        if (!(r["key"] in d)) {
          if (r["optional"]) continue
          return { error: `couldn't find key ${r["key"]} in ${secret ? "Secret" : "ConfigMap"} ${ns}/${r["name"]}` }
        }
        env[e["name"]] = d[r["key"]]!
      } else if (vf["fieldRef"]) {
        const path = String((vf["fieldRef"] as Json)["fieldPath"])
        env[e["name"]] = path === "metadata.name" ? pod.metadata.name : path === "metadata.namespace" ? ns : ""
      } else env[e["name"]] = ""
    }
    return { env }
  }

  /** Pull `image` for `pod` on its node: see registry/pull.ts. */
  private pullImage(pod: KubeObject, rt: PodRuntime, image: string): PullResult {
    return pullFor(this.ctx, pod, rt.node, image)
  }

  private syncContainer(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, restartPolicy: string): void {
    for (let guard = 0; guard < 24; guard++) if (!this.step(pod, rt, c, cr, restartPolicy)) break
  }

  private fieldPath(cr: ContainerRuntime): string {
    return `${cr.init ? "spec.initContainers" : "spec.containers"}{${cr.name}}`
  }

  /** Advance one container by at most one transition at the current time; returns true when it moved. */
  private step(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, restartPolicy: string): boolean {
    const ctx = this.ctx
    const now = ctx.now()
    const image = String(c["image"] ?? "")
    const ev = (type: "Normal" | "Warning", reason: string, message: string, opts: { at?: number; firstAt?: number; times?: number } = {}) =>
      ctx.events.record(pod, type, reason, message, KUBELET, { fieldPath: this.fieldPath(cr), host: rt.node, ...opts })
    switch (cr.phase) {
      case "new": {
        const policy = (c["imagePullPolicy"] as string | undefined) ?? (/:latest$|^[^:]*$/.test(image.split("/").pop() ?? "") ? "Always" : "IfNotPresent")
        const cache = ctx.nodeImages.get(rt.node) ?? new Set<string>()
        ctx.nodeImages.set(rt.node, cache)
        if (policy !== "Always" && cache.has(image)) {
          ev("Normal", "Pulled", `Container image "${image}" already present on machine`)
          cr.imageID = ctx.registry.cached(rt.node, image) ?? cachedImageID(ctx, rt.node, image)
          cr.phase = "pulled"
          return true
        }
        if (policy === "Never") {
          cr.waiting = { reason: "ErrImageNeverPull", message: `Container image "${image}" is not present with pull policy of Never` }
          return false
        }
        ev("Normal", "Pulling", `Pulling image "${withDefaultTag(image)}"`)
        cr.pull = this.pullImage(pod, rt, image)
        cr.pullOutcome = cr.pull.ok ? "ok" : cr.pull.outcome
        cr.pullStartedAt = now
        cr.pullDoneAt = now + (cr.pull.ok ? 1_000 + (fnv32a(image) % 4000) : cr.pull.timeoutMs)
        cr.phase = "pulling"
        cr.waiting = { reason: cr.init ? "PodInitializing" : "ContainerCreating" }
        ctx.clock.wakeAt(cr.pullDoneAt)
        return true
      }
      case "pulling": {
        if (now < cr.pullDoneAt!) {
          ctx.clock.wakeAt(cr.pullDoneAt!)
          return false
        }
        const took = (cr.pullDoneAt! - (cr.pullStartedAt ?? cr.pullDoneAt!)) / 1000
        if (cr.pull?.ok) {
          ctx.nodeImages.get(rt.node)?.add(image)
          ctx.registry.store(rt.node, image, cr.pull.imageID)
          cr.imageID = cr.pull.imageID
          const size = cr.pull.sizeBytes
          ev("Normal", "Pulled", `Successfully pulled image "${withDefaultTag(image)}" in ${took.toFixed(3)}s (${took.toFixed(3)}s including waiting). Image size: ${size} bytes.`)
          cr.phase = "pulled"
          cr.pullBackoffS = undefined
          return true
        }
        const err = cr.pull && !cr.pull.ok ? cr.pull.message : "rpc error: code = Unknown desc = pull failed"
        ev("Warning", "Failed", `Failed to pull image "${withDefaultTag(image)}": ${err}`)
        ev("Warning", "Failed", "Error: ErrImagePull")
        cr.waiting = { reason: "ErrImagePull", message: err }
        cr.pullBackoffS = cr.pullBackoffS === undefined ? INITIAL_BACKOFF_S : Math.min(MAX_BACKOFF_S, cr.pullBackoffS * 2)
        cr.pullFailedAt = now
        cr.pullBackoffShownAt = now + 1000
        cr.pullRetryAt = now + cr.pullBackoffS * 1000
        cr.phase = "pullFailed"
        ctx.clock.wakeAt(cr.pullBackoffShownAt)
        return true
      }
      case "pullFailed": {
        if (now >= cr.pullRetryAt!) {
          cr.phase = "new"
          return true
        }
        if (now >= cr.pullBackoffShownAt! && cr.waiting?.reason !== "ImagePullBackOff") {
          // kubelet ≥ 1.32 appends the previous pull error to the waiting message (not to the event)
          cr.waiting = { reason: "ImagePullBackOff", message: `Back-off pulling image "${withDefaultTag(image)}": ErrImagePull: ${cr.pull && !cr.pull.ok ? cr.pull.message : ""}` }
          ev("Normal", "BackOff", `Back-off pulling image "${withDefaultTag(image)}"`)
          ev("Warning", "Failed", "Error: ImagePullBackOff")
          ctx.clock.wakeAt(cr.pullRetryAt!)
          return true
        }
        ctx.clock.wakeAt(now < cr.pullBackoffShownAt! ? cr.pullBackoffShownAt! : cr.pullRetryAt!)
        return false
      }
      case "pulled": {
        const env = this.resolveEnv(pod, c)
        if ("error" in env) {
          if (cr.configError !== env.error) ev("Warning", "Failed", `Error: ${env.error}`)
          cr.configError = env.error
          cr.waiting = { reason: "CreateContainerConfigError", message: env.error }
          return false
        }
        cr.configError = undefined
        this.start(pod, rt, c, cr, env.env, ev)
        return true
      }
      case "running": {
        const t = this.nextTermination(pod, rt, c, cr)
        if (t && t.at <= now) {
          this.terminate(pod, rt, c, cr, t, ev)
          return true
        }
        if (t) ctx.clock.wakeAt(t.at)
        this.recordProbeFailures(pod, rt, c, cr, now, ev)
        return false
      }
      case "backoff": {
        if (now < cr.restartAt!) {
          ctx.clock.wakeAt(cr.restartAt!)
          return false
        }
        // flowcontrol.Backoff.Next
        cr.backoff = cr.backoff && now - cr.backoff.lastUpdate <= BACKOFF_RESET_MS
          ? { seconds: Math.min(MAX_BACKOFF_S, cr.backoff.seconds * 2), lastUpdate: now }
          : { seconds: INITIAL_BACKOFF_S, lastUpdate: now }
        cr.restartCount++
        ctx.logs.rotate(rt.namespace, rt.name, cr.name)
        cr.phase = "new"
        return true
      }
      default:
        return false
    }
  }

  private start(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, env: Record<string, string>, ev: (type: "Normal" | "Warning", reason: string, message: string, opts?: { at?: number }) => void): void {
    const ctx = this.ctx
    const now = ctx.now()
    const { behaviour: podBehaviour, error } = ctx.behaviourOf(pod, cr.name)
    const behaviour = { ...podBehaviour, ...ctx.registry.behaviourOf(cr.imageID) }
    cr.behaviour = behaviour
    cr.env = env
    cr.containerID = `containerd://${ctx.rng.hex(64)}`
    cr.pid = this.pidSeq++
    cr.waiting = undefined
    cr.terminated = undefined
    ev("Normal", "Created", `Created container ${cr.name}`)
    const cmd = ((c["command"] ?? []) as Array<string>)
    const args = ((c["args"] ?? []) as Array<string>)
    const missing = new Set(behaviour.missingBinaries ?? [])
    const bin = cmd[0]
    if (bin !== undefined && (missing.has(bin) || missing.has(bin.split("/").pop()!))) {
      const msg = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${bin}": executable file not found in $PATH: unknown`
      ev("Warning", "Failed", `Error: ${msg}`)
      cr.everStarted = true
      this.crashed(pod, rt, c, cr, { exitCode: 128, reason: "StartError", message: msg, startedAt: "epoch", finishedAt: now, containerID: cr.containerID })
      return
    }
    ev("Normal", "Started", `Started container ${cr.name}`)
    cr.phase = "running"
    cr.everStarted = true
    cr.startedAt = now
    cr.lastEval = now
    cr.recordedFails = {}
    const limit = tryQuantity(((c["resources"] as Json | undefined)?.["limits"] as Json | undefined)?.["memory"])
    cr.limitBytes = limit
    cr.model = behaviour.memory ?? { kind: "steady", bytes: 64 * 2 ** 20 }
    cr.health = {
      upAt: now + (behaviour.startupSeconds ?? 2) * 1000,
      latencyMs: behaviour.probeLatencyMs ?? 5,
      neverReady: behaviour.neverReady === true
    }
    const log = (line: string, at = now) => ctx.logs.append(rt.namespace, rt.name, cr.name, line, ctx.clock.isoMicro(at))
    if (error) log(`kube-sim: ignoring invalid behaviour annotation: ${error}`)
    if (env["JAVA_TOOL_OPTIONS"]) log(`Picked up JAVA_TOOL_OPTIONS: ${env["JAVA_TOOL_OPTIONS"]}`)
    for (const l of behaviour.logs ?? [`${cr.name} starting`]) log(l)
    cr.plan = this.bootPlan(pod, rt, c, cr, env, behaviour, cmd, args)
    if (!cr.plan && !cr.init) log(`listening on :${this.listenPort(c, behaviour)}`, cr.health.upAt)
  }

  private listenPort(c: Json, b: ContainerBehaviour): number {
    return b.listenPort ?? (((c["ports"] ?? []) as Array<Json>)[0]?.["containerPort"] as number | undefined) ?? 8080
  }

  /** Ready endpoints of a service: pods matching its selector that are Ready. */
  readyEndpoints(namespace: string, service: string): number {
    const svc = this.ctx.store.get(R.services, namespace, service)
    if (!svc) return 0
    const sel = ((svc["spec"] as Json | undefined)?.["selector"] ?? {}) as Record<string, string>
    return this.ctx.store.list(R.pods, { namespace }).filter((p) => !p.metadata.deletionTimestamp && mapSelectorMatches(sel, p.metadata.labels) && isPodReady(p)).length
  }

  private bootPlan(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, env: Record<string, string>, b: ContainerBehaviour, cmd: Array<string>, args: Array<string>): ContainerRuntime["plan"] {
    const now = this.ctx.now()
    const missing = new Set(b.missingBinaries ?? [])
    const shell = cmd[0] !== undefined && /(^|\/)(sh|bash|ash|dash)$/.test(cmd[0]) && cmd[1] === "-c"
    if (shell) {
      const script = cmd[2] ?? args[0] ?? ""
      const words = script.split(/(?:&&|\|\||;|\||\n)/).map((seg) => {
        const toks = seg.trim().split(/\s+/).filter((w) => w && !/^\w+=/.test(w))
        while (toks.length > 1 && ["exec", "env", "nohup", "time"].includes(toks[0]!)) toks.shift()
        return toks[0] ?? ""
      }).filter(Boolean)
      const bad = words.find((w) => missing.has(w) || missing.has(w.split("/").pop()!))
      if (bad) return { at: now + 100, exitCode: 127, reason: "Error", logs: [`${cmd[0]}: 1: ${bad}: not found`] }
    }
    for (const name of b.requiredEnv ?? []) {
      if (!(name in env) || env[name] === "") {
        return { at: now + 500, exitCode: 1, reason: "Error", logs: [`FATAL: required environment variable ${name} is not set`, `exiting: invalid configuration`] }
      }
    }
    if (b.panicOnBoot) {
      const p = typeof b.panicOnBoot === "object" ? b.panicOnBoot : {}
      const msg = p.message ?? "runtime error: invalid memory address or nil pointer dereference"
      return {
        at: now + (p.afterSeconds ?? 1) * 1000,
        exitCode: 2,
        reason: "Error",
        logs: [
          `panic: ${msg}`,
          "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6d2f4a]",
          "",
          "goroutine 1 [running]:",
          "main.loadConfig(...)",
          "\t/app/cmd/server/config.go:88 +0x2a",
          "main.main()",
          "\t/app/cmd/server/main.go:41 +0x1c5"
        ]
      }
    }
    if (!cr.init) {
      const port = this.listenPort(c, b)
      let holder = b.portInUse === true
      for (const other of rt.containers.values()) {
        if (other === cr || other.init || other.phase !== "running" || other.plan) continue
        const oc = (((pod["spec"] as Json)["containers"] ?? []) as Array<Json>).find((x) => x["name"] === other.name)
        if (oc && this.listenPort(oc, other.behaviour) === port) holder = true
      }
      if (holder) return { at: now + 300, exitCode: 1, reason: "Error", logs: [`Error: listen tcp 0.0.0.0:${port}: bind: address already in use`] }
    }
    for (const dep of b.dependsOn ?? []) {
      const [dns, dname] = dep.includes("/") ? (dep.split("/") as [string, string]) : [rt.namespace, dep]
      const svc = this.ctx.store.get(R.services, dns, dname)
      if (!svc) return { at: now + 1000, exitCode: 1, reason: "Error", logs: [`failed to connect to ${dname}: dial tcp: lookup ${dname}.${dns}.svc.cluster.local on 10.96.0.10:53: no such host`] }
      if (this.readyEndpoints(dns, dname) === 0) {
        const sspec = (svc["spec"] ?? {}) as Json
        const cip = sspec["clusterIP"]
        const ip = typeof cip === "string" && cip !== "None" ? cip : `${dname}.${dns}.svc.cluster.local`
        const port = (((sspec["ports"] ?? []) as Array<Json>)[0]?.["port"] as number | undefined) ?? 80
        return { at: now + 1000, exitCode: 1, reason: "Error", logs: [`failed to connect to ${dname}: dial tcp ${ip}:${port}: connect: connection refused`, "exiting: dependency not ready"] }
      }
    }
    if (b.exitAfterSeconds !== undefined) {
      const code = b.exitCode ?? 1
      return { at: now + b.exitAfterSeconds * 1000, exitCode: code, reason: code === 0 ? "Completed" : "Error", logs: [`exiting with status ${code}`] }
    }
    if (cr.init) return { at: now + (b.completeAfterSeconds ?? 1) * 1000, exitCode: 0, reason: "Completed", logs: [`${cr.name} done`] }
    return undefined
  }

  private demandInput(pod: KubeObject, cr: ContainerRuntime): DemandInput {
    return {
      startedAt: cr.startedAt!,
      env: cr.env,
      rpsAt: (t) => this.ctx.podRps(pod, t),
      rpsBreakpoints: (from, to) => this.ctx.podRpsBreakpoints(pod, from, to)
    }
  }

  /** Memory demand of a running container right now (bytes, uncapped). */
  demand(pod: KubeObject, cr: ContainerRuntime, t: number = this.ctx.now()): number {
    if (cr.phase !== "running" || !cr.model) return 0
    return demandAt(cr.model, this.demandInput(pod, cr), t)
  }

  /** Working set of a running container (demand capped at its limit). */
  workingSet(pod: KubeObject, cr: ContainerRuntime, t: number = this.ctx.now()): number {
    const d = this.demand(pod, cr, t)
    return cr.limitBytes !== undefined ? Math.min(d, cr.limitBytes) : d
  }

  private probes(c: Json, cr: ContainerRuntime) {
    const start = cr.startedAt!
    const h = cr.health!
    const sp = probeTiming(c["startupProbe"] as Json | undefined)
    const lp = probeTiming(c["livenessProbe"] as Json | undefined)
    const rp = probeTiming(c["readinessProbe"] as Json | undefined)
    const gate = sp ? startupSuccess(sp, start, h) : start
    return { start, h, sp, lp, rp, gate }
  }

  private nextTermination(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime): Terminated & { at: number; kind: string } | undefined {
    const now = this.ctx.now()
    const cands: Array<Terminated & { at: number; kind: string }> = []
    if (cr.plan) cands.push({ at: cr.plan.at, kind: "exit", exitCode: cr.plan.exitCode, reason: cr.plan.reason, startedAt: cr.startedAt!, finishedAt: cr.plan.at, containerID: cr.containerID! })
    if (cr.limitBytes !== undefined && cr.model) {
      const from = cr.lastEval ?? cr.startedAt!
      const past = crossingTime(cr.model, this.demandInput(pod, cr), cr.limitBytes, from, now)
      const at = past ?? crossingTime(cr.model, this.demandInput(pod, cr), cr.limitBytes, now, now + HORIZON_MS)
      if (at !== undefined) cands.push({ at, kind: "oom", exitCode: 137, reason: "OOMKilled", signal: 9, startedAt: cr.startedAt!, finishedAt: at, containerID: cr.containerID! })
    }
    cr.lastEval = now
    if (!cr.init) {
      const { start, h, sp, lp, gate } = this.probes(c, cr)
      if (sp) {
        const k = killTime(sp, start, start, h)
        if (k !== undefined && (gate === undefined || k < gate)) cands.push({ at: k, kind: "startup", exitCode: 137, reason: "Error", startedAt: start, finishedAt: k, containerID: cr.containerID! })
      }
      if (lp && gate !== undefined) {
        const k = killTime(lp, start, gate, h)
        if (k !== undefined) cands.push({ at: k, kind: "liveness", exitCode: 137, reason: "Error", startedAt: start, finishedAt: k, containerID: cr.containerID! })
      }
    }
    cands.sort((a, b) => a.at - b.at)
    return cands[0]
  }

  private recordProbeFailures(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, until: number, ev: (type: "Normal" | "Warning", reason: string, message: string, opts?: { at?: number; firstAt?: number; times?: number }) => void): void {
    if (cr.init || cr.startedAt === undefined) return
    const { start, h, sp, lp, rp, gate } = this.probes(c, cr)
    const ip = rt.ip ?? ""
    const one = (kind: "Startup" | "Liveness" | "Readiness", p: ReturnType<typeof probeTiming>, g: number | undefined, readiness: boolean) => {
      if (!p || g === undefined) return
      const f = failuresUntil(p, start, g, h, until, readiness)
      const prev = cr.recordedFails[kind] ?? 0
      if (f.count > prev) {
        const msg = `${kind} probe failed: ${probeFailureMessage(p, ip, h, f.last!, readiness)}`
        ev("Warning", "Unhealthy", msg, { at: f.last!, firstAt: f.first!, times: f.count - prev })
        cr.recordedFails[kind] = f.count
      }
      // keep the failure count visible while a probe keeps failing (coarsened to 30 s)
      const next = failuresUntil(p, start, g, h, until + p.periodMs, readiness)
      if (next.count > f.count) this.ctx.clock.wakeAt(Math.max(next.last!, until + 30_000))
    }
    if (sp) one("Startup", sp, start, false)
    one("Liveness", lp, gate, false)
    one("Readiness", rp, gate, true)
    const ready = this.containerReady(c, cr)
    if (!ready.ready && ready.at !== undefined) this.ctx.clock.wakeAt(ready.at)
  }

  /** Is a running container ready now, and when will it be. */
  containerReady(c: Json, cr: ContainerRuntime): { ready: boolean; at?: number } {
    if (cr.phase !== "running" || cr.startedAt === undefined) return { ready: false }
    const { start, h, rp, gate } = this.probes(c, cr)
    if (gate === undefined) return { ready: false }
    const at = rp ? readyTime(rp, start, gate, h) : gate
    if (at === undefined) return { ready: false }
    return { ready: this.ctx.now() >= at, at }
  }

  private terminate(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, t: Terminated & { at: number; kind: string }, ev: (type: "Normal" | "Warning", reason: string, message: string, opts?: { at?: number; firstAt?: number; times?: number }) => void): void {
    const ctx = this.ctx
    const log = (line: string) => ctx.logs.append(rt.namespace, rt.name, cr.name, line, ctx.clock.isoMicro(t.at))
    if (t.kind === "exit" && cr.plan) for (const l of cr.plan.logs) log(l)
    if (t.kind === "liveness" || t.kind === "startup") {
      this.recordProbeFailures(pod, rt, c, cr, t.at, ev)
      const which = t.kind === "liveness" ? "liveness" : "startup"
      ev("Normal", "Killing", `Container ${cr.name} failed ${which} probe, will be restarted`, { at: t.at })
    }
    if (t.kind === "oom") {
      const node = ctx.store.get(R.nodes, undefined, rt.node)
      const kb = Math.round((cr.limitBytes ?? 0) / 1024)
      if (node) {
        ctx.events.record(node, "Warning", "OOMKilling",
          `Memory cgroup out of memory: Killed process ${cr.pid} (${this.procName(c)}) total-vm:${kb + 204_800}kB, anon-rss:${kb}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:${Math.round(kb / 500)}kB oom_score_adj:${this.oomScoreAdj(pod, node)}`,
          "kernel-monitor", { host: rt.node, at: t.at })
      }
    }
    const { at: _at, kind: _kind, ...term } = t
    this.crashed(pod, rt, c, cr, term)
  }

  private procName(c: Json): string {
    const cmd = ((c["command"] ?? []) as Array<string>)[0]
    if (cmd) return cmd.split("/").pop()!.slice(0, 15)
    const img = String(c["image"] ?? "app").split("/").pop()!.split(":")[0]!
    return img.slice(0, 15)
  }

  /** oom_score_adj the kubelet assigns by QoS class. */
  oomScoreAdj(pod: KubeObject, node: KubeObject): number {
    const qos = qosClass(pod)
    if (qos === "Guaranteed") return -997
    if (qos === "BestEffort") return 1000
    const cap = tryQuantity(((node["status"] as Json | undefined)?.["capacity"] as Json | undefined)?.["memory"]) ?? 8 * 2 ** 30
    const req = podRequests(pod).memory
    return Math.min(999, Math.max(2, Math.round(1000 - (1000 * req) / cap)))
  }

  private crashed(pod: KubeObject, rt: PodRuntime, c: Json, cr: ContainerRuntime, term: Terminated): void {
    const ctx = this.ctx
    const now = ctx.now()
    cr.terminated = term
    cr.plan = undefined
    cr.startedAt = undefined
    const spec = (pod["spec"] ?? {}) as Json
    const policy = cr.init ? ((spec["restartPolicy"] as string | undefined) === "Never" ? "Never" : "OnFailure") : ((spec["restartPolicy"] as string | undefined) ?? "Always")
    const restart = policy === "Always" || (policy === "OnFailure" && term.exitCode !== 0)
    if (cr.init && term.exitCode === 0) {
      cr.phase = "completed"
      return
    }
    if (!restart) {
      cr.phase = "done"
      return
    }
    cr.lastTerminated = term
    cr.terminated = undefined
    const inBackoff = cr.backoff !== undefined && term.finishedAt - cr.backoff.lastUpdate <= BACKOFF_RESET_MS
    if (!inBackoff) {
      cr.backoff = undefined
      cr.restartAt = now
      cr.phase = "backoff"
      return
    }
    const secs = cr.backoff!.seconds
    cr.restartAt = term.finishedAt + secs * 1000
    cr.phase = "backoff"
    const podRef = `${rt.name}_${rt.namespace}(${rt.uid})`
    cr.waiting = { reason: "CrashLoopBackOff", message: `back-off ${goDuration(secs)} restarting failed container=${cr.name} pod=${podRef}` }
    ctx.events.record(pod, "Warning", "BackOff", `Back-off restarting failed container ${cr.name} in pod ${podRef}`, KUBELET, { fieldPath: this.fieldPath(cr), host: rt.node })
    ctx.clock.wakeAt(cr.restartAt)
  }

  private containerStatus(c: Json, cr: ContainerRuntime, rt: PodRuntime, initDone = true): Json {
    const ctx = this.ctx
    const image = String(c["image"] ?? "")
    const term = (t: Terminated): Json => {
      const o: Json = { exitCode: t.exitCode, reason: t.reason }
      if (t.signal !== undefined) o["signal"] = t.signal
      if (t.message !== undefined) o["message"] = t.message
      o["startedAt"] = t.startedAt === "epoch" ? "1970-01-01T00:00:00Z" : ctx.iso(t.startedAt)
      o["finishedAt"] = ctx.iso(t.finishedAt)
      o["containerID"] = t.containerID
      return o
    }
    let state: Json
    if (cr.phase === "running") state = { running: { startedAt: ctx.iso(cr.startedAt!) } }
    else if ((cr.phase === "completed" || cr.phase === "done") && cr.terminated) state = { terminated: term(cr.terminated) }
    else if (cr.phase === "backoff" && !cr.waiting) state = { waiting: { reason: "ContainerCreating" } }
    else state = { waiting: cr.waiting ?? { reason: cr.init || !initDone ? "PodInitializing" : "ContainerCreating" } }
    const ready = cr.init ? cr.phase === "completed" : this.containerReady(c, cr).ready
    const out: Json = {
      name: cr.name,
      state,
      lastState: cr.lastTerminated ? { terminated: term(cr.lastTerminated) } : {},
      ready,
      restartCount: cr.restartCount,
      image,
      imageID: cr.containerID ? cr.imageID ?? "" : "",
      started: cr.phase === "running" && (cr.init || this.started(c, cr))
    }
    if (cr.containerID && (cr.phase === "running" || cr.everStarted)) out["containerID"] = cr.containerID
    return out
  }

  private started(c: Json, cr: ContainerRuntime): boolean {
    const gate = this.probes(c, cr).gate
    return gate !== undefined && this.ctx.now() >= gate
  }

  private writeStatus(pod: KubeObject, rt: PodRuntime, spec: Json): void {
    const ctx = this.ctx
    const nowIso = ctx.iso()
    const inits = (spec["initContainers"] ?? []) as Array<Json>
    const mains = (spec["containers"] ?? []) as Array<Json>
    const initStatuses = inits.map((c) => this.containerStatus(c, rt.containers.get(c["name"]) ?? this.newContainer(c["name"], true), rt))
    const initDone = inits.every((c) => rt.containers.get(c["name"])?.phase === "completed")
    const statuses = mains.map((c) => this.containerStatus(c, rt.containers.get(c["name"]) ?? this.newContainer(c["name"], false), rt, initDone))
    const notReady = mains.filter((c, i) => !statuses[i]!["ready"]).map((c) => c["name"] as string)
    const incompleteInit = inits.filter((c) => rt.containers.get(c["name"])?.phase !== "completed").map((c) => c["name"] as string)
    const allStarted = mains.every((c) => rt.containers.get(c["name"])?.everStarted)
    const policy = (spec["restartPolicy"] as string | undefined) ?? "Always"
    const mainsDone = mains.every((c) => rt.containers.get(c["name"])?.phase === "done")
    let phase = "Pending"
    if (initDone && allStarted) phase = "Running"
    if (policy !== "Always" && mainsDone && mains.length > 0) {
      phase = mains.every((c) => rt.containers.get(c["name"])?.terminated?.exitCode === 0) ? "Succeeded" : "Failed"
    }
    const build = (o: Json): Json => {
      const st = (o["status"] ?? {}) as Json
      const conds = clone((st["conditions"] ?? []) as Array<Json>)
      const sandboxReady = !rt.sandboxError
      setCondition(conds, "PodReadyToStartContainers", sandboxReady ? "True" : "False", undefined, undefined, nowIso, { probe: true })
      setCondition(conds, "Initialized", initDone ? "True" : "False", initDone ? undefined : "ContainersNotInitialized", initDone ? undefined : `containers with incomplete status: [${incompleteInit.join(" ")}]`, nowIso, { probe: true })
      const ready = initDone && notReady.length === 0 && phase === "Running"
      const reason = ready ? undefined : initDone || notReady.length ? "ContainersNotReady" : "ContainersNotInitialized"
      const names = initDone ? notReady : mains.map((c) => c["name"] as string)
      const msg = ready ? undefined : `containers with unready status: [${names.join(" ")}]`
      setCondition(conds, "Ready", ready ? "True" : "False", reason, msg, nowIso, { probe: true })
      setCondition(conds, "ContainersReady", ready ? "True" : "False", reason, msg, nowIso, { probe: true })
      const order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
      conds.sort((a, b) => order.indexOf(a["type"]) - order.indexOf(b["type"]))
      const node = ctx.store.get(R.nodes, undefined, rt.node)
      const hostIP = (((node?.["status"] as Json | undefined)?.["addresses"] ?? []) as Array<Json>).find((a) => a["type"] === "InternalIP")?.["address"] ?? "10.0.0.1"
      const next: Json = {
        phase,
        conditions: conds,
        hostIP,
        hostIPs: [{ ip: hostIP }],
        startTime: st["startTime"] ?? ctx.iso(rt.startTime)
      }
      if (rt.ip && sandboxReady) {
        next["podIP"] = rt.ip
        next["podIPs"] = [{ ip: rt.ip }]
      }
      if (inits.length) next["initContainerStatuses"] = initStatuses
      next["containerStatuses"] = statuses
      next["qosClass"] = qosClass(pod)
      return next
    }
    // most passes change nothing: compare the status alone before copying the whole pod
    const cur = ctx.store.get(R.pods, pod.metadata.namespace, pod.metadata.name)
    if (cur && cur["status"] !== undefined && Object.isFrozen(cur) && JSON.stringify(build(cur)) === JSON.stringify(cur["status"])) return
    mutateIfChanged(ctx.store, R.pods, pod.metadata.namespace, pod.metadata.name, (o) => {
      o["status"] = build(o)
    })
  }

  // ---------------------------------------------------------------- node pressure

  private podsOnNode(node: string): Array<KubeObject> {
    return this.ctx.store.list(R.pods, { fieldSelector: `spec.nodeName=${node}` })
  }

  /** Measure a node, OOM-kill on exhaustion, evict under pressure. */
  private nodePressure(node: KubeObject): void {
    const ctx = this.ctx
    const now = ctx.now()
    const name = node.metadata.name
    const host = ctx.host(name)
    const cap = ((node["status"] as Json | undefined)?.["capacity"] ?? {}) as Json
    const memCap = tryQuantity(cap["memory"]) ?? 8 * 2 ** 30
    const diskCap = tryQuantity(cap["ephemeral-storage"]) ?? 100 * 2 ** 30
    const pidCap = tryQuantity(cap["pids"]) ?? 32768
    const pods = this.podsOnNode(name).filter((p) => {
      const ph = ((p["status"] ?? {}) as Json)["phase"]
      return ph !== "Failed" && ph !== "Succeeded"
    })
    const usage = (p: KubeObject) => {
      const rt = this.pods.get(p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`)
      let mem = 0
      let disk = 0
      let pids = 0
      const perContainer: Array<{ cr: ContainerRuntime; ws: number }> = []
      if (rt) for (const cr of rt.containers.values()) {
        if (cr.phase !== "running") continue
        const ws = this.workingSet(p, cr, now)
        mem += ws
        disk += cr.behaviour.diskBytes ?? 0
        pids += cr.behaviour.pids ?? 10
        perContainer.push({ cr, ws })
      }
      return { mem, disk, pids, perContainer, rt }
    }
    const us = pods.map((p) => ({ pod: p, ...usage(p) }))
    let memUsed = host.hostMemoryBytes + us.reduce((a, u) => a + u.mem, 0)
    if (memCap - memUsed < MEMORY_EVICTION_THRESHOLD) sig0(this.signals, name, memCap).memoryPressureLastSeen = now
    const diskUsed = hostDiskUsed(host) + us.reduce((a, u) => a + u.disk, 0)
    const pidsUsed = host.hostPids + us.reduce((a, u) => a + u.pids, 0)
    const sig: NodeSignals = this.signals.get(name) ?? { memoryUsedBytes: 0, memoryCapacityBytes: memCap, diskUsedBytes: 0, pidsUsed: 0 }
    this.signals.set(name, sig)
    // the kernel OOM killer acts when the node runs out of memory entirely
    if (memUsed >= memCap) {
      let victim: { pod: KubeObject; cr: ContainerRuntime; ws: number; score: number } | undefined
      for (const u of us) for (const pc of u.perContainer) {
        const score = (pc.ws / memCap) * 1000 + this.oomScoreAdj(u.pod, node)
        if (!victim || score > victim.score) victim = { pod: u.pod, cr: pc.cr, ws: pc.ws, score }
      }
      if (victim) {
        const rt = usage(victim.pod).rt!
        const c = ((((victim.pod["spec"] as Json)["containers"] ?? []) as Array<Json>).find((x) => x["name"] === victim!.cr.name)) ?? {}
        ctx.events.record(node, "Warning", "SystemOOM", `System OOM encountered, victim process: ${this.procName(c)}, pid: ${victim.cr.pid}`, KUBELET, { host: name })
        ctx.events.record(node, "Warning", "OOMKilling",
          `Out of memory: Killed process ${victim.cr.pid} (${this.procName(c)}) total-vm:${Math.round(victim.ws / 1024) + 204_800}kB, anon-rss:${Math.round(victim.ws / 1024)}kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:${Math.round(victim.ws / 512_000)}kB oom_score_adj:${this.oomScoreAdj(victim.pod, node)}`,
          "kernel-monitor", { host: name })
        const cr = victim.cr
        this.crashed(victim.pod, rt, c, cr, { exitCode: 137, reason: "OOMKilled", signal: 9, startedAt: cr.startedAt!, finishedAt: now, containerID: cr.containerID! })
        memUsed -= victim.ws
        const fresh = ctx.store.get(R.pods, victim.pod.metadata.namespace, victim.pod.metadata.name)
        if (fresh) this.writeStatus(fresh, rt, (fresh["spec"] ?? {}) as Json)
      }
    }
    sig.memoryUsedBytes = memUsed
    sig.memoryCapacityBytes = memCap
    sig.diskUsedBytes = diskUsed
    sig.pidsUsed = pidsUsed
    const memPressure = memCap - memUsed < MEMORY_EVICTION_THRESHOLD
    const diskPressure = diskCap - diskUsed < diskCap * 0.1
    const pidPressure = pidCap - pidsUsed < pidCap * 0.05
    if (memPressure) sig.memoryPressureLastSeen = now
    if (diskPressure) sig.diskPressureLastSeen = now
    if (pidPressure) sig.pidPressureLastSeen = now
    for (const seen of [sig.memoryPressureLastSeen, sig.diskPressureLastSeen, sig.pidPressureLastSeen]) {
      if (seen !== undefined && now - seen < PRESSURE_TRANSITION_MS) ctx.clock.wakeAt(seen + PRESSURE_TRANSITION_MS)
    }
    const resource = memPressure ? "memory" : diskPressure ? "ephemeral-storage" : pidPressure ? "pids" : undefined
    if (memUsed > memCap * 0.8 || resource) ctx.clock.wakeAt(now + EVICTION_INTERVAL_MS)
    if (!resource) return
    if (sig.nextEvictionAt !== undefined && now < sig.nextEvictionAt) {
      ctx.clock.wakeAt(sig.nextEvictionAt)
      return
    }
    const cands = us.filter((u) => !u.pod.metadata.deletionTimestamp && u.rt)
    if (cands.length === 0) return
    const reqOf = (p: KubeObject) => podRequests(p)
    const use = (u: (typeof us)[number]) => (resource === "memory" ? u.mem : resource === "ephemeral-storage" ? u.disk : u.pids)
    const req = (u: (typeof us)[number]) => (resource === "memory" ? reqOf(u.pod).memory : resource === "ephemeral-storage" ? 0 : 0)
    const prio = (p: KubeObject) => ((p["spec"] as Json)["priority"] as number | undefined) ?? 0
    cands.sort((a, b) => {
      const ea = use(a) > req(a) ? 1 : 0
      const eb = use(b) > req(b) ? 1 : 0
      if (ea !== eb) return eb - ea
      if (prio(a.pod) !== prio(b.pod)) return prio(a.pod) - prio(b.pod)
      return use(b) - req(b) - (use(a) - req(a))
    })
    const victim = cands[0]!
    const top = [...victim.perContainer].sort((a, b) => b.ws - a.ws)[0]
    const fmtKi = (b: number) => `${Math.round(b / 1024)}Ki`
    let message: string
    if (resource === "memory") {
      message = `The node was low on resource: memory. Threshold quantity: 100Mi, available: ${fmtKi(memCap - memUsed)}. Container ${top?.cr.name ?? "app"} was using ${fmtKi(top?.ws ?? 0)}, request is ${formatBytes(reqOf(victim.pod).memory) || "0"}, has larger consumption of memory. `
    } else if (resource === "ephemeral-storage") {
      message = `The node was low on resource: ephemeral-storage. Threshold quantity: ${fmtKi(diskCap * 0.1)}, available: ${fmtKi(diskCap - diskUsed)}. Container ${top?.cr.name ?? "app"} was using ${fmtKi(victim.disk)}, request is 0, has larger consumption of ephemeral-storage. `
    } else {
      message = `The node was low on resource: pids. Threshold quantity: ${Math.round(pidCap * 0.05)}, available: ${pidCap - pidsUsed}. `
    }
    ctx.events.record(node, "Warning", "EvictionThresholdMet", `Attempting to reclaim ${resource}`, KUBELET, { host: name })
    this.evict(victim.pod, victim.rt!, message)
    sig.nextEvictionAt = now + EVICTION_INTERVAL_MS
    ctx.clock.wakeAt(sig.nextEvictionAt)
  }

  /** Evict a pod as the kubelet's eviction manager does (phase Failed, reason Evicted). */
  evict(pod: KubeObject, rt: PodRuntime, message: string): void {
    const ctx = this.ctx
    const now = ctx.now()
    rt.evicted = true
    ctx.events.record(pod, "Warning", "Evicted", message, KUBELET, { host: rt.node })
    for (const cr of rt.containers.values()) {
      if (cr.phase === "running") {
        ctx.events.record(pod, "Normal", "Killing", `Stopping container ${cr.name}`, KUBELET, { fieldPath: this.fieldPath(cr), host: rt.node })
        cr.terminated = { exitCode: 137, reason: "Error", startedAt: cr.startedAt!, finishedAt: now, containerID: cr.containerID! }
      }
      cr.phase = "done"
    }
    const nowIso = ctx.iso()
    mutateIfChanged(ctx.store, R.pods, pod.metadata.namespace, pod.metadata.name, (o) => {
      const st = (o["status"] ?? {}) as Json
      const conds = clone((st["conditions"] ?? []) as Array<Json>)
      setCondition(conds, "DisruptionTarget", "True", "TerminationByKubelet", message, nowIso, { probe: true })
      setCondition(conds, "Ready", "False", "PodFailed", undefined, nowIso, { probe: true })
      setCondition(conds, "ContainersReady", "False", "PodFailed", undefined, nowIso, { probe: true })
      st["conditions"] = conds
      st["phase"] = "Failed"
      st["reason"] = "Evicted"
      st["message"] = message
      st["containerStatuses"] = ((st["containerStatuses"] ?? []) as Array<Json>).map((cs) => {
        const cr = rt.containers.get(cs["name"])
        const t = cr?.terminated
        return {
          ...cs,
          ready: false,
          started: false,
          state: t
            ? { terminated: { exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt === "epoch" ? "1970-01-01T00:00:00Z" : ctx.iso(t.startedAt), finishedAt: ctx.iso(t.finishedAt), containerID: t.containerID } }
            : { terminated: { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated", startedAt: null, finishedAt: null } }
        }
      })
      o["status"] = st
    })
  }
}

const sig0 = (m: Map<string, NodeSignals>, name: string, cap: number): NodeSignals => {
  let s = m.get(name)
  if (!s) {
    s = { memoryUsedBytes: 0, memoryCapacityBytes: cap, diskUsedBytes: 0, pidsUsed: 0 }
    m.set(name, s)
  }
  return s
}

/** Sum of a pod's container requests (limits stand in for missing requests, as API defaulting does). */
export const podRequests = (pod: KubeObject): { cpu: number; memory: number } => {
  const spec = (pod["spec"] ?? {}) as Json
  const request = (c: Json, name: "cpu" | "memory"): number => {
    const r = ((c["resources"] as Json | undefined) ?? {}) as Json
    return tryQuantity(((r["requests"] ?? {}) as Json)[name] ?? ((r["limits"] ?? {}) as Json)[name]) ?? 0
  }
  let cpu = 0
  let memory = 0
  for (const c of (spec["containers"] ?? []) as Array<Json>) {
    cpu += request(c, "cpu")
    memory += request(c, "memory")
  }
  // init containers run one at a time: the largest one counts
  let initCpu = 0
  let initMem = 0
  for (const c of (spec["initContainers"] ?? []) as Array<Json>) {
    initCpu = Math.max(initCpu, request(c, "cpu"))
    initMem = Math.max(initMem, request(c, "memory"))
  }
  return { cpu: Math.max(cpu, initCpu), memory: Math.max(memory, initMem) }
}

/** The pod's QoS class. */
export const qosClass = (pod: KubeObject): "Guaranteed" | "Burstable" | "BestEffort" => {
  const spec = (pod["spec"] ?? {}) as Json
  const cs = [...((spec["containers"] ?? []) as Array<Json>), ...((spec["initContainers"] ?? []) as Array<Json>)]
  let any = false
  let guaranteed = true
  for (const c of cs) {
    const r = ((c["resources"] as Json | undefined) ?? {}) as Json
    const req = (r["requests"] ?? {}) as Json
    const lim = (r["limits"] ?? {}) as Json
    if (Object.keys(req).length || Object.keys(lim).length) any = true
    for (const res of ["cpu", "memory"]) {
      const l = tryQuantity(lim[res])
      const q = tryQuantity(req[res] ?? lim[res])
      if (l === undefined || q !== l) guaranteed = false
    }
  }
  if (!any) return "BestEffort"
  return guaranteed ? "Guaranteed" : "Burstable"
}
