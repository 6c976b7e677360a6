/**
 * Shared set-up of the k8s.crashloop.exit-code and k8s.oom.exit-137 tests: kube-sim through the
 * real client-node (the OOM harness's cluster layer and virtual time), a registry with the OOM
 * handlers, `k8s.restartPod`, `k8s.setDebugLogging` and the exit-code checks, behind
 * `NeverDeleteVolumes`.
 */
import { IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import type { ActionRegistry, GuardrailStore } from "@byteport/core"
import { Layer } from "effect"
import type * as EventRecorder from "../../src/events/EventRecorder"
import type * as Kube from "../../src/Kube"
import type * as Metrics from "../../src/metrics/Metrics"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as OomActions from "../../src/actions/oom"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import * as ExitCodeRemediator from "../../src/remediators/exitCode"
import * as OomExit137 from "../../src/runbooks/k8s.oom.exit-137"
import { clusterLayer, type Sim } from "../oom/harness"

export { advance, firstSignal, mutations, runWithSim, Scenario, sim } from "../oom/harness"
export type { Sim }

/** Everything the two runbooks need against a simulator. */
export const services = (s: Sim, options: { readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}): Layer.Layer<Kube.Kube | Metrics.Metrics | EventRecorder.EventRecorder | ActionRegistry.ActionRegistry | GuardrailStore.GuardrailStore | IncidentBus.IncidentBus | Notifier.Notifier | Notifier.NotifierRecording> => {
  const cluster = clusterLayer(s)
  const registry = NeverDeleteVolumes.registry({
    handlers: [...OomActions.handlers(), ...OomExit137.extraHandlers()],
    checks: [...ExitCodeRemediator.checks, ...OomExit137.checks]
  }).pipe(Layer.provide(Layer.mergeAll(cluster, HeapProfiler.unavailable("no heap profiler configured"))))
  return Layer.mergeAll(cluster, registry, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

const PODS = { group: "", version: "v1", resource: "pods" }

/** The live pods of an app (label `app`), from the simulator's store. */
export const podsOf = (s: Sim, app: string, namespace = "default"): ReadonlyArray<any> =>
  (s.api.store.list(PODS, { namespace }) as ReadonlyArray<any>).filter((p) => p.metadata?.labels?.app === app && !p.metadata?.deletionTimestamp)

/** Whether a pod is Ready. */
export const ready = (p: any): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")
