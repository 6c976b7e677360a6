/**
 * End-to-end harness for k8s.oom.six-signal: kube-sim (controllers, metrics-server, Prometheus
 * API) on 127.0.0.1 reached through the real client-node, the runbook's services, and virtual
 * time. The runbook runs on Effect's TestClock, kept in lockstep with kube-sim's VirtualClock:
 * `runWithSim` forks the program and, while it runs, lets real I/O settle, then advances the
 * simulator and the TestClock by the same step. So verification sleeps (15 s), drain retries and
 * rollout waits take virtual time that the simulated cluster lives through too.
 */
import { ActionRegistry, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import type { GuardrailStore, Signal } from "@byteport/core"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { startSim, type Sim } from "../../../kube-sim/src/scenario/index"
import type { ScenarioSpec } from "../../../kube-sim/src/scenario/index"
import * as Kube from "../../src/Kube"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as Metrics from "../../src/metrics/Metrics"
import * as Prometheus from "../../src/metrics/Prometheus"
import * as OomActions from "../../src/actions/oom"
import * as HeapProfiler from "../../src/actions/heapProfiler"

export { Scenario } from "../../../kube-sim/src/scenario/index"
export type { Sim }

/** Starts kube-sim with a scenario (closed by the returned scope finalizer). */
export const sim = (scenario: ScenarioSpec, options: { readonly seed?: number } = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startSim({ scenario, seed: options.seed ?? 7, now: "2026-01-01T00:00:00Z" })),
    (s) => Effect.promise(() => s.close())
  )

/** Kube, Metrics (Prometheus through kube-sim) and EventRecorder for a simulator. */
export const clusterLayer = (s: Sim, options: { readonly prometheusUrl?: string } = {}) => {
  const kube = Layer.orDie(Kube.layerFromString(s.kubeconfig(), { requestTimeout: "30 seconds" }))
  const metrics = Metrics.layerPrometheus().pipe(Layer.provide(Prometheus.layer({ url: options.prometheusUrl ?? s.prometheusUrl, timeout: "30 seconds" })))
  return Layer.mergeAll(kube, metrics, EventRecorder.layer({ instance: "byteport-test" }).pipe(Layer.provide(kube)))
}

/** Everything a runbook needs against a simulator. */
export const servicesLayer = (
  s: Sim,
  options: { readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown>; readonly profiler?: Layer.Layer<HeapProfiler.HeapProfiler>; readonly prometheusUrl?: string } = {}
) => {
  const cluster = clusterLayer(s, options.prometheusUrl ? { prometheusUrl: options.prometheusUrl } : {})
  const profiler = options.profiler ?? HeapProfiler.unavailable("no heap profiler configured")
  const registry = ActionRegistry.layer({ handlers: OomActions.handlers() }).pipe(Layer.provide(Layer.mergeAll(cluster, profiler)))
  return Layer.mergeAll(
    cluster,
    registry,
    Layer.orDie(options.store ?? MemoryStore.layer),
    IncidentBus.layer(),
    Notifier.memory
  )
}

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))

/** Sets the TestClock to the simulator's time. */
export const syncClock = (s: Sim) => TestClock.setTime(s.now())

/** Advances the simulator and the TestClock together. */
export const advance = (s: Sim, d: Duration.Input) =>
  Effect.gen(function*() {
    const ms = Duration.toMillis(Duration.fromInputUnsafe(d))
    s.advance(ms)
    yield* TestClock.adjust(ms)
    yield* realDelay(1)
  })

/**
 * Runs `effect` while advancing the simulator and the TestClock by `step` whenever it waits;
 * dies after `max` of virtual time.
 */
/**
 * Waits (real time, up to `capMs`) while a non-watch request to the simulator is in flight, so the
 * virtual clock never jumps while the agent waits on real I/O: a probe's 15 s timeout would
 * otherwise fire after a few real milliseconds on a loaded machine.
 */
export const quiesce = (s: Sim, capMs = 1_000) =>
  Effect.promise(async () => {
    const busy = () => s.api.recorder.inFlight() > 0
    for (let waited = 0; waited < capMs && busy(); waited += 2) await new Promise<void>((r) => setTimeout(r, 2))
  })

export const runWithSim = <A, E, R>(s: Sim, effect: Effect.Effect<A, E, R>, options: { readonly step?: Duration.Input; readonly max?: Duration.Input; readonly settleMs?: number } = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(s.now())
    const step = Duration.toMillis(Duration.fromInputUnsafe(options.step ?? "1 second"))
    const max = Duration.toMillis(Duration.fromInputUnsafe(options.max ?? "30 minutes"))
    const fiber = yield* Effect.forkChild(effect)
    let elapsed = 0
    for (;;) {
      yield* realDelay(options.settleMs ?? 3)
      if (fiber.pollUnsafe() !== undefined) break
      if (elapsed >= max) {
        yield* Fiber.interrupt(fiber)
        return yield* Effect.die(new Error(`runWithSim: still running after ${Duration.format(Duration.millis(max))} of virtual time`))
      }
      yield* quiesce(s)
      s.advance(step)
      yield* TestClock.adjust(step)
      elapsed += step
    }
    return yield* Fiber.join(fiber)
  })

/** The first signal of a runbook's detector that satisfies `pred`. */
export const firstSignal = <R>(runbook: { readonly detector?: { readonly signals: Stream.Stream<unknown, unknown, R> } | undefined }, pred: (s: any) => boolean = () => true): Effect.Effect<Signal.Signal, never, R> =>
  Stream.runHead(runbook.detector!.signals.pipe(Stream.filter((x: any) => pred(x)))).pipe(
    Effect.orDie,
    Effect.flatMap((o) => (o._tag === "Some" ? Effect.succeed(o.value as Signal.Signal) : Effect.die(new Error("the detector ended without a signal"))))
  )

/** Mutating Kubernetes API requests (not reads, watches or Prometheus queries) the simulator served, split by dryRun. */
export const mutations = (s: Sim) => {
  const all = s.api.recorder.requests().filter((r) => r.method !== "GET" && !r.watch && !r.path.startsWith("/api/v1/query"))
  return { dryRun: all.filter((r) => r.dryRun), real: all.filter((r) => !r.dryRun) }
}
