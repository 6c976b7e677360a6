/**
 * The default catalog against kube-sim: the OOM harness's cluster layer and virtual time, one
 * registry holding every handler and check the catalog's pod runbooks plan with (one handler per
 * kind), and a store of the caller's choice (the Lease store for agents sharing a cluster).
 */
import { ActionRegistry, type ActionHandler, type GuardrailStore, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import { Layer } from "effect"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as OomActions from "../../src/actions/oom"
import type * as EventRecorder from "../../src/events/EventRecorder"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import type * as Kube from "../../src/Kube"
import type * as Metrics from "../../src/metrics/Metrics"
import * as ExitCodeRemediator from "../../src/remediators/exitCode"
import * as FiveBranch from "../../src/runbooks/k8s.crashloop.five-branch"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"
import * as SevenClass from "../../src/runbooks/k8s.crashloop.seven-class"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import { clusterLayer, type Sim } from "../oom/harness"

export { advance, firstSignal, mutations, runWithSim, Scenario, sim } from "../oom/harness"
export type { Sim }

/** One handler per kind (the first listed wins): the OOM kinds, exit-137's, five-branch's, seven-class's, restart-loop's. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<any>> => {
  const seen = new Set<string>()
  return [...OomActions.handlers(), ...OomExit137.extraHandlers(), ...FiveBranch.handlers(), ...SevenClass.handlers(), ...RestartLoop.handlers()].filter((h) => !seen.has(h.kind) && seen.add(h.kind) !== undefined)
}

/** Everything the catalog needs against a simulator. */
export const services = (
  s: Sim,
  options: { readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}
): Layer.Layer<Kube.Kube | Metrics.Metrics | EventRecorder.EventRecorder | ActionRegistry.ActionRegistry | GuardrailStore.GuardrailStore | IncidentBus.IncidentBus | Notifier.Notifier | Notifier.NotifierRecording> => {
  const cluster = clusterLayer(s)
  const registry = NeverDeleteVolumes.registry({
    handlers: handlers() as never,
    checks: [...ExitCodeRemediator.checks, ...OomExit137.checks, ...FiveBranch.checks()] as never
  }).pipe(Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("no heap profiler configured"), ConfigMapSnapshots.layer().pipe(Layer.provide(cluster)))))
  return Layer.mergeAll(cluster, registry, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory) as never
}

/** Unused guard so `ActionRegistry` stays imported for the type above. */
export type Registry = ActionRegistry.ActionRegistry
