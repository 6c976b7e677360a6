/**
 * The controllers half of kube-sim: installs the scheduler, kubelet, workload controllers,
 * node lifecycle, HPA, endpoints and garbage collector over the object store, drives them on a
 * virtual clock (`advance`, `settle`) and exposes the mutation helpers tests use.
 */
import type { InstallContext, Installer } from "../KubeSim"
import type { KubeObject, ObjectStore } from "../store/types"
import { VirtualClock, parseDuration, parseEpoch } from "../clock/VirtualClock"
import { Rng } from "../clock/Rng"
import { MemoryPodLogs, SimContext, type NodeHostState, type PodLogSink } from "./context"
import type { ContainerBehaviour, PullOutcome } from "./behaviour"
import type { MemoryModel } from "./memory"
import { validateMemoryModel } from "./memory"
import { Series, type SeriesPoint } from "./series"
import { Kubelet } from "./Kubelet"
import { Scheduler } from "./Scheduler"
import { ReplicaSetController } from "./ReplicaSetController"
import { DeploymentController } from "./DeploymentController"
import { StatefulSetController } from "./StatefulSetController"
import { DaemonSetController } from "./DaemonSetController"
import { NodeLifecycle } from "./NodeLifecycle"
import { HpaController } from "./HpaController"
import { GarbageCollector } from "./GarbageCollector"
import { EndpointSliceController, EndpointsController } from "./EndpointsController"
import type { ImageRegistry } from "../registry/ImageRegistry"
import { R, readView, type Json } from "./util"
import * as NodeExec from "../node/exec"

/** Options of the controllers. */
export interface ControllersOptions {
  /** Seed of the controllers' RNG (pod names, IPs, container IDs). Default: the simulator seed or 1. */
  readonly seed?: number
  /** A virtual clock to drive (share it with the store through `KubeSim.start({ now: () => clock.now() })`). */
  readonly clock?: VirtualClock
  /** Start of virtual time when no clock is given. */
  readonly now?: Date | string | number
  /** Run a settle automatically (on the next macrotask) after writes that did not come from the controllers. Default true. */
  readonly autoSettle?: boolean
  /** Maximum controller passes per settle (default 200). */
  readonly maxPasses?: number
}

/** Identifies containers for behaviour overrides: a workload (Deployment, StatefulSet, DaemonSet or bare pod name) and optionally a container. */
export interface ContainerTarget {
  readonly namespace?: string
  readonly workload?: string
  readonly container?: string
}

/** A controller with one reconcile pass. */
interface Reconciler {
  reconcile(): void
}

/** Thrown when the controllers do not converge within maxPasses (a controller bug, not a cluster state). */
export class SettleError extends Error {
  /** Build the error. */
  constructor(passes: number) {
    super(`kube-sim controllers did not settle within ${passes} passes`)
    this.name = "SettleError"
  }
}

/** The running controllers: virtual time, settle, and the simulated world's knobs. */
export class Controllers {
  /** The shared context (store, clock, rng, events, world state). */
  readonly ctx: SimContext
  /** The kubelet (per-pod runtime state, node signals). */
  readonly kubelet: Kubelet
  /** The scheduler. */
  readonly scheduler: Scheduler
  /** The HPA controller. */
  readonly hpa: HpaController
  /** Hooks run at every clock stop after settling (the metrics sampler). */
  readonly onStop: Array<() => void> = []
  private readonly reconcilers: Array<Reconciler>
  private settling = false
  private pendingAuto: ReturnType<typeof setImmediate> | undefined
  private unsubscribe: (() => void) | undefined
  private readonly maxPasses: number
  private realtime: ReturnType<typeof setInterval> | undefined
  private autoSettleError: unknown

  /** Build the controllers over a store (the store's clock should be `() => clock.now()`). */
  constructor(readonly store: ObjectStore, options: ControllersOptions & { logs?: PodLogSink } = {}) {
    const clock = options.clock ?? new VirtualClock(parseEpoch(options.now))
    this.ctx = new SimContext(readView(store), clock, new Rng(options.seed ?? 1), options.logs ?? new MemoryPodLogs())
    this.kubelet = new Kubelet(this.ctx)
    this.scheduler = new Scheduler(this.ctx)
    this.hpa = new HpaController(this.ctx, this.kubelet)
    this.maxPasses = options.maxPasses ?? 200
    this.reconcilers = [
      new NodeLifecycle(this.ctx, this.kubelet),
      this.scheduler,
      this.kubelet,
      new EndpointsController(this.ctx),
      new EndpointSliceController(this.ctx),
      new ReplicaSetController(this.ctx),
      new DeploymentController(this.ctx),
      new StatefulSetController(this.ctx),
      new DaemonSetController(this.ctx),
      this.hpa,
      new GarbageCollector(this.ctx)
    ]
    store.gracefulDeletion = true
    store.garbageCollector = true
    if (options.autoSettle !== false) {
      this.unsubscribe = store.subscribe(() => {
        if (this.settling || this.pendingAuto) return
        this.pendingAuto = setImmediate(() => {
          this.pendingAuto = undefined
          try {
            this.settle()
          } catch (e) {
            // surfaced again by the next explicit settle/advance; never crash the host process
            this.autoSettleError = e
          }
        })
      })
    }
  }

  /** The virtual clock. */
  get clock(): VirtualClock {
    return this.ctx.clock
  }

  /** Current virtual time (epoch ms). */
  now(): number {
    return this.ctx.now()
  }

  /** Run every controller until a full pass writes nothing (no time passes). Returns the number of passes. */
  settle(): number {
    if (this.settling) return 0
    if (this.autoSettleError !== undefined) {
      const e = this.autoSettleError
      this.autoSettleError = undefined
      throw e
    }
    this.settling = true
    try {
      for (let pass = 1; pass <= this.maxPasses; pass++) {
        const rv = this.store.resourceVersion
        this.ctx.beginPass()
        for (const r of this.reconcilers) r.reconcile()
        if (this.store.resourceVersion === rv) return pass
      }
      throw new SettleError(this.maxPasses)
    } finally {
      this.settling = false
    }
  }

  /** Advance virtual time by a duration ("30s", "5m", ms), stopping at every timer and wake-up and settling at each. */
  advance(d: number | string): void {
    const ms = parseDuration(d)
    this.settle()
    this.ctx.clock.advanceTo(this.now() + ms, () => {
      this.settle()
      for (const h of this.onStop) h()
    })
  }

  /** Advance until `predicate` holds (checked after each stop) or `max` elapses; returns whether it held. */
  advanceUntil(predicate: () => boolean, max: number | string = "30m", step: number | string = "5s"): boolean {
    const limit = this.now() + parseDuration(max)
    const s = parseDuration(step)
    this.settle()
    while (!predicate()) {
      if (this.now() >= limit) return false
      this.advance(Math.min(s, limit - this.now()))
    }
    return true
  }

  /** Drive virtual time from the wall clock (for kubectl sessions): `speed` virtual ms per real ms. Returns a stop function. */
  runRealtime(speed = 1, tickMs = 100): () => void {
    this.stopRealtime()
    this.realtime = setInterval(() => {
      try {
        this.advance(tickMs * speed)
      } catch (e) {
        this.autoSettleError = e
        this.stopRealtime()
      }
    }, tickMs)
    return () => this.stopRealtime()
  }

  /** Stop `runRealtime`. */
  stopRealtime(): void {
    if (this.realtime) clearInterval(this.realtime)
    this.realtime = undefined
  }

  /** Detach from the store. */
  dispose(): void {
    this.stopRealtime()
    if (this.pendingAuto) clearImmediate(this.pendingAuto)
    this.pendingAuto = undefined
    this.unsubscribe?.()
  }

  // ------------------------------------------------------------------ world knobs

  private targetKey(t: ContainerTarget): string {
    return `${t.namespace ?? "default"}/${t.workload ?? "*"}/${t.container ?? "*"}`
  }

  /** Attach a memory demand model to containers (new container instances use it; running ones keep theirs until restart). */
  setMemoryModel(target: ContainerTarget, model: MemoryModel): void {
    const err = validateMemoryModel(model)
    if (err) throw new TypeError(err)
    this.setBehaviour(target, { memory: model })
  }

  /** Merge behaviour into the overrides of a target (later calls win field by field). */
  setBehaviour(target: ContainerTarget, behaviour: ContainerBehaviour): void {
    const k = this.targetKey(target)
    this.ctx.overrides.set(k, { ...(this.ctx.overrides.get(k) ?? {}), ...behaviour })
    this.settle()
  }

  /**
   * Set how the registry answers pulls of an image reference (`notFound`, `unauthorized`,
   * `unreachable`, `platformMismatch`, `ok`) or re-push its tag (`push`: a new digest). Returns the
   * digest the reference resolves to now (undefined when it does not resolve). The full API is
   * `registry` (push with platforms, credentials, reachability).
   */
  setImage(image: string, outcome: PullOutcome): string | undefined {
    this.ctx.registry.setOutcome(image, outcome)
    this.settle()
    return this.ctx.registry.resolve(image)
  }

  /** The simulated image registries behind `setImage`. */
  get registry(): ImageRegistry {
    return this.ctx.registry
  }

  /** Set a workload's total request rate: a constant or points [secondsFromNow, requests/s] interpolated linearly. */
  setRequestRate(target: { namespace?: string; workload: string }, series: number | ReadonlyArray<SeriesPoint>): void {
    this.ctx.requestRates.set(`${target.namespace ?? "default"}/${target.workload}`, new Series(series, this.now()))
    this.settle()
  }

  /** Patch a node's host state (kubelet/runtime/network state, host memory/disk/pid usage, logs). */
  setNodeHost(node: string, patch: Partial<NodeHostState>): void {
    const h = this.ctx.host(node)
    Object.assign(h, patch)
    this.settle()
  }

  /** Force a node condition to a status (undefined clears the override). Taints follow. */
  setNodeCondition(node: string, type: "Ready" | "MemoryPressure" | "DiskPressure" | "PIDPressure" | "NetworkUnavailable", status: "True" | "False" | "Unknown" | undefined): void {
    const h = this.ctx.host(node)
    if (status === undefined) delete h.forced[type]
    else h.forced[type] = status
    this.settle()
  }

  /** Make a dependency Service ready: scale its backing Deployment/StatefulSet (same name or matching its selector) to at least `replicas`. */
  makeDependencyReady(target: { namespace?: string; service: string }, replicas = 1): void {
    const ns = target.namespace ?? "default"
    const svc = this.store.get(R.services, ns, target.service)
    if (!svc) throw new TypeError(`service "${target.service}" not found in namespace ${ns}`)
    const sel = (((svc["spec"] ?? {}) as Json)["selector"] ?? {}) as Record<string, string>
    const matches = (o: KubeObject) => {
      const labels = ((((o["spec"] as Json)["template"] ?? {}) as Json)["metadata"] as Json | undefined)?.["labels"] as Record<string, string> | undefined
      return o.metadata.name === target.service || Object.entries(sel).every(([k, v]) => labels?.[k] === v)
    }
    let done = false
    for (const key of [R.deployments, R.statefulsets]) {
      for (const o of this.store.list(key, { namespace: ns })) {
        if (!matches(o)) continue
        done = true
        this.store.mutate(key, ns, o.metadata.name, (m) => {
          const spec = m["spec"] as Json
          if (((spec["replicas"] as number | undefined) ?? 0) < replicas) spec["replicas"] = replicas
          const tpl = ((spec["template"] as Json)["metadata"] ??= {}) as Json
          const ann = (tpl["annotations"] ??= {}) as Record<string, string>
          delete ann["kube-sim.byteport.io/behavior"]
        })
      }
    }
    if (!done) throw new TypeError(`no Deployment or StatefulSet backs service "${target.service}"`)
    this.settle()
  }

  /** Stop a node's kubelet (it stops posting status; conditions go Unknown after the grace period). */
  stopKubelet(node: string, state: "inactive" | "failed" = "inactive"): void {
    this.setNodeHost(node, { kubelet: state })
  }

  /** Start a node's kubelet again. */
  startKubelet(node: string): void {
    const h = this.ctx.host(node)
    this.setNodeHost(node, { kubelet: "active", kubeletRestarts: h.kubeletRestarts + 1 })
  }
}

/**
 * An installer for `KubeSim.start({ install: [...] })`. Pass the same clock as the store's `now`
 * so every timestamp is virtual: `const clock = new VirtualClock(); KubeSim.start({ now: () => clock.now(), install: [Controllers.installer({ clock })] })`.
 * `onReady` receives the running controllers.
 */
export const installer = (options: ControllersOptions & { onReady?: (c: Controllers) => void } = {}): Installer =>
  (ictx: InstallContext) => {
    const c = new Controllers(ictx.store, {
      ...options,
      seed: options.seed ?? ictx.seed,
      logs: ictx.logs,
      ...(options.clock ? {} : { now: options.now ?? ictx.now() })
    })
    options.onReady?.(c)
    ictx.setExecBackend(NodeExec.backend(c))
    return () => c.dispose()
  }

/**
 * The default installer (`KubeSim.start({ install: [Controllers.install] })`): a fresh virtual
 * clock starting at the facade's `now()`. Timestamps the API server writes itself then come from
 * the facade's clock; use `startSim` (or `installer({ clock })` with `now: () => clock.now()`) to
 * put both on the same virtual clock.
 */
export const install: Installer = (ictx) => installer()(ictx)
