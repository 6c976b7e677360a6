/**
 * `startSim`: the API server (KubeSim.start) with the controllers, the metrics sampler, the
 * metrics.k8s.io and Prometheus routes, all on one virtual clock, optionally with a scenario
 * applied.
 */
import * as KubeSim from "../KubeSim"
import { VirtualClock, parseEpoch } from "../clock/VirtualClock"
import { Controllers, installer, type ContainerTarget } from "../controllers/Controllers"
import type { ContainerBehaviour, PullOutcome } from "../controllers/behaviour"
import type { MemoryModel } from "../controllers/memory"
import type { NodeHostState } from "../controllers/context"
import * as NodeShell from "../node/NodeShell"
import type { SeriesPoint } from "../controllers/series"
import { Sampler } from "../metrics/Sampler"
import type { ImageRegistry } from "../registry/ImageRegistry"
import { metricsApiRoute, prometheusRoute, simControlRoute } from "../metrics/routes"
import type { IncidentInfo, ScenarioSpec } from "./types"
import { applyScenario, loadScenario } from "./apply"

/** Options of `startSim`. */
export interface SimOptions {
  /** A scenario (object, JSON/YAML text or file path) applied after start. */
  readonly scenario?: ScenarioSpec | string
  /** Seed (default: the scenario's seed, else 1). */
  readonly seed?: number
  /** TCP port on 127.0.0.1 (default random). */
  readonly port?: number
  /** Start of virtual time (default: the scenario's start, else the wall clock). */
  readonly now?: Date | string | number
  /** Metrics scrape interval in seconds (default 15). */
  readonly scrapeIntervalSeconds?: number
  /** Path prefix of the Prometheus API (default "", i.e. `/api/v1/query` on the same port). */
  readonly prometheusPrefix?: string
  /** Extra options passed to KubeSim.start. */
  readonly kubeSim?: Omit<KubeSim.StartOptions, "port" | "seed" | "now" | "install">
}

/** A running simulator with controllers. */
export interface Sim {
  /** The API server. */
  readonly api: KubeSim.KubeSim
  /** The controllers. */
  readonly controllers: Controllers
  /** The metrics sampler (series database). */
  readonly sampler: Sampler
  /** `http://127.0.0.1:PORT`. */
  readonly url: string
  /** Base URL of the Prometheus API (for BYTEPORT_PROMETHEUS_URL). */
  readonly prometheusUrl: string
  /** Incidents the applied scenario describes. */
  readonly incidents: ReadonlyArray<IncidentInfo>
  /** Kubeconfig YAML for client-node/kubectl. */
  kubeconfig(options?: { namespace?: string }): string
  /** Current virtual time (epoch ms). */
  now(): number
  /** Advance virtual time (settling at every stop). */
  advance(d: number | string): void
  /** Advance until a predicate holds or `max` elapses. */
  advanceUntil(predicate: () => boolean, max?: number | string, step?: number | string): boolean
  /** Run controllers to quiescence without time passing. */
  settle(): number
  /** Apply (another) scenario. */
  apply(scenario: ScenarioSpec | string): ReadonlyArray<IncidentInfo>
  /** See Controllers.setMemoryModel. */
  setMemoryModel(target: ContainerTarget, model: MemoryModel): void
  /** See Controllers.setBehaviour. */
  setBehaviour(target: ContainerTarget, behaviour: ContainerBehaviour): void
  /** See Controllers.setImage (returns the digest the reference resolves to now). */
  setImage(image: string, outcome: PullOutcome): string | undefined
  /** The simulated image registries (push, credentials, reachability): see Controllers.registry. */
  readonly registry: ImageRegistry
  /** See Controllers.setRequestRate. */
  setRequestRate(target: { namespace?: string; workload: string }, series: number | ReadonlyArray<SeriesPoint>): void
  /** See Controllers.setNodeCondition. */
  setNodeCondition(node: string, type: "Ready" | "MemoryPressure" | "DiskPressure" | "PIDPressure" | "NetworkUnavailable", status: "True" | "False" | "Unknown" | undefined): void
  /** See Controllers.setNodeHost. */
  setNodeHost(node: string, patch: Partial<NodeHostState>): void
  /** See Controllers.makeDependencyReady. */
  makeDependencyReady(target: { namespace?: string; service: string }, replicas?: number): void
  /** The host shell of a node: node tools in real formats from its `NodeHostState`, with effects (restart, prune). What `pods/exec` reaches through `nsenter -t 1` in a privileged hostPID pod. */
  nodeShell(node: string): NodeShell.SimNodeShell
  /** Stop everything. */
  close(): Promise<void>
}

/** Start the simulator with controllers, metrics and (optionally) a scenario. */
export const startSim = async (options: SimOptions = {}): Promise<Sim> => {
  const spec = options.scenario !== undefined ? loadScenario(options.scenario) : undefined
  const clock = new VirtualClock(parseEpoch(options.now ?? spec?.start))
  const seed = options.seed ?? spec?.seed ?? 1
  let controllers: Controllers | undefined
  let sampler: Sampler | undefined
  const api = await KubeSim.start({
    ...(options.kubeSim ?? {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    seed,
    now: () => clock.now(),
    install: [
      installer({ clock, seed, onReady: (c) => (controllers = c) }),
      (ictx) => {
        sampler = new Sampler(controllers!, { intervalMs: (options.scrapeIntervalSeconds ?? 15) * 1000 })
        ictx.addRoute(metricsApiRoute(controllers!, sampler))
        ictx.addRoute(prometheusRoute(controllers!, sampler, options.prometheusPrefix ?? ""))
        ictx.addRoute(simControlRoute(controllers!))
      }
    ],
    extraRoutes: [...(options.kubeSim?.extraRoutes ?? [])]
  })
  const c = controllers!
  let incidents: ReadonlyArray<IncidentInfo> = []
  const apply = (s: ScenarioSpec | string) => {
    const r = applyScenario(c, loadScenario(s))
    incidents = [...incidents, ...r.incidents]
    return r.incidents
  }
  if (spec) apply(spec)
  return {
    api,
    controllers: c,
    sampler: sampler!,
    url: api.url,
    prometheusUrl: `${api.url}${options.prometheusPrefix ?? ""}`,
    get incidents() {
      return incidents
    },
    kubeconfig: (o) => api.kubeconfig(o),
    now: () => c.now(),
    advance: (d) => c.advance(d),
    advanceUntil: (p, max, step) => c.advanceUntil(p, max, step),
    settle: () => c.settle(),
    apply,
    setMemoryModel: (t, m) => c.setMemoryModel(t, m),
    setBehaviour: (t, b) => c.setBehaviour(t, b),
    setImage: (i, o) => c.setImage(i, o),
    registry: c.registry,
    setRequestRate: (t, s) => c.setRequestRate(t, s),
    setNodeCondition: (n, t, s) => c.setNodeCondition(n, t, s),
    setNodeHost: (n, p) => c.setNodeHost(n, p),
    makeDependencyReady: (t, r) => c.makeDependencyReady(t, r),
    nodeShell: (node) => NodeShell.make(c, node),
    close: () => api.close()
  }
}

/**
 * `KubeSim.start` options that install the controllers, the metrics routes and a scenario on one
 * virtual clock, optionally driven from the wall clock (`realtimeSpeed` virtual ms per real ms).
 * This is what the command line needs: `KubeSim.start({ ...scenarioStartOptions(file, { realtimeSpeed: 1 }), port })`.
 */
export const scenarioStartOptions = (
  scenario: ScenarioSpec | string | undefined,
  options: { readonly seed?: number; readonly realtimeSpeed?: number; readonly scrapeIntervalSeconds?: number; readonly onReady?: (c: Controllers, s: Sampler) => void } = {}
): Pick<KubeSim.StartOptions, "now" | "seed" | "install"> => {
  const spec = scenario !== undefined ? loadScenario(scenario) : undefined
  // virtual time starts at the wall clock unless the scenario fixes it (ages in kubectl read naturally)
  const clock = new VirtualClock(parseEpoch(spec?.start))
  const seed = options.seed ?? spec?.seed ?? 1
  return {
    now: () => clock.now(),
    seed,
    install: [
      (ictx) => {
        let c: Controllers | undefined
        const dispose = installer({ clock, seed, onReady: (x) => (c = x) })(ictx) as () => void
        const sampler = new Sampler(c!, { intervalMs: (options.scrapeIntervalSeconds ?? 15) * 1000 })
        ictx.addRoute(metricsApiRoute(c!, sampler))
        ictx.addRoute(prometheusRoute(c!, sampler))
        ictx.addRoute(simControlRoute(c!))
        if (spec) applyScenario(c!, spec)
        if (options.realtimeSpeed !== undefined && options.realtimeSpeed > 0) c!.runRealtime(options.realtimeSpeed)
        options.onReady?.(c!, sampler)
        return () => {
          c!.stopRealtime()
          dispose()
        }
      }
    ]
  }
}
