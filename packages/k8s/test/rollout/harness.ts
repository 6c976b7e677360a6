/**
 * The rollout tests' services: the OOM harness's cluster (kube-sim through the real client,
 * Prometheus, EventRecorder) with a registry holding `k8s.rollbackDeployment` besides the OOM kinds.
 */
import { ActionRegistry, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import type { GuardrailStore, Signal } from "@byteport/core"
import { type Duration, Effect, Fiber, Layer } from "effect"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as OomActions from "../../src/actions/oom"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import type { Kube } from "../../src/Kube"
import type { Metrics } from "../../src/metrics/Metrics"
import { clusterLayer, firstSignal, Scenario, type Sim } from "../oom/harness"

export * from "../oom/harness"

/** A pod template's rollout to `image` with a behaviour, `after` from now (a scenario step). */
export const rolloutStep = (o: { readonly workload?: string; readonly image: string; readonly behaviour?: Record<string, unknown>; readonly changeCause: string; readonly after?: string }) => ({
  workloads: [],
  steps: [{ ...(o.after ? { after: o.after } : {}), action: "rollout", namespace: "default", workload: o.workload ?? "api", image: o.image, ...(o.behaviour ? { behaviour: o.behaviour } : {}), changeCause: o.changeCause }]
})

/** Everything the runbook needs against a simulator, with the rollback handler registered. */
export const rolloutServices = (
  s: Sim,
  options: { readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown>; readonly prometheusUrl?: string; readonly rollback?: RollbackDeployment.RollbackOptions } = {}
) => {
  const cluster = clusterLayer(s, options.prometheusUrl ? { prometheusUrl: options.prometheusUrl } : {})
  const registry = ActionRegistry.layer({ handlers: [...OomActions.handlers(), RollbackDeployment.make(options.rollback)] }).pipe(
    Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("no heap profiler configured")))
  )
  return Layer.mergeAll(cluster, registry, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** The Deployment object in the simulator's store. */
export const deploymentOf = (s: Sim, name = "api") => s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name) as any

/** The image the Deployment's template runs. */
export const imageOf = (s: Sim, name = "api") => deploymentOf(s, name).spec.template.spec.containers[0].image as string

/** A catalogue part split in two: the cluster before the rollout, and the rollout itself (applied later). */
export const split = (part: any, cluster: { readonly nodes?: number } = { nodes: 3 }) => ({
  initial: Scenario.cluster(cluster).with({ ...part, steps: [] }).build(),
  rollout: { workloads: [], warmup: "0s", steps: (part.steps ?? []).map(({ after: _a, ...st }: any) => st) } as any
})

/**
 * Starts the runbook's detector (its ledger sees the current revision fully Available), applies
 * `rollout` after `before` of virtual time, and returns the first signal matching `pred`.
 */
export const signalAfterRollout = (s: Sim, rb: { readonly detector?: { readonly signals: any } | undefined }, rollout: any, pred: (x: any) => boolean = () => true, before: Duration.Input = "1 minute"): Effect.Effect<Signal.Signal, never, Kube | Metrics> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(firstSignal(rb as any, pred))
    yield* Effect.sleep(before)
    s.apply(rollout)
    return (yield* Fiber.join(fiber)) as Signal.Signal
  }) as Effect.Effect<Signal.Signal, never, Kube | Metrics>
