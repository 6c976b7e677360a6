/**
 * The seven-class e2e harness: kube-sim through the real client (the OOM harness's cluster
 * layer), a registry with every kind the runbook plans (OOM kinds for the bump, the rollback,
 * the probe loosening, the ConfigMap restore) behind `NeverDeleteVolumes`, ConfigMap snapshots
 * on or off, and one incident run in a mode on virtual time.
 */
import { IncidentBus, MemoryStore, Notifier, Runbook } from "@byteport/core"
import type { ActionHandler, ActionRegistry, GuardrailStore } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as HeapProfiler from "../../src/actions/heapProfiler"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import * as SevenClassRunbook from "../../src/runbooks/k8s.crashloop.seven-class"
import * as RestartLoopRunbook from "../../src/runbooks/k8s.restart-loop.container"
import * as SevenClassVerifier from "../../src/verifiers/sevenClass"
import { clusterLayer, firstSignal, runWithSim, type Sim } from "../oom/harness"

export * from "../oom/harness"

/** Every handler the runbooks' plans use (restart-loop's are seven-class's plus restart and pin). */
export const handlers = RestartLoopRunbook.handlers

/** The runbook's services against a simulator. */
export const sevenServices = (s: Sim, options: { readonly snapshots?: boolean; readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}) => {
  const cluster = Layer.mergeAll(clusterLayer(s), HeapProfiler.unavailable("no heap profiler configured"))
  const snaps = ConfigMapSnapshots.layer({ enabled: options.snapshots ?? false, namespace: "byteport" }).pipe(Layer.provide(cluster))
  const deps = Layer.mergeAll(cluster, snaps)
  const registry = NeverDeleteVolumes.registry({ handlers: handlers(), checks: RestartLoopRunbook.checks() }).pipe(Layer.provide(deps))
  return Layer.mergeAll(deps, registry, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** A short hold (the schedule is tested in units); pods still count only after ≥ 120 s Ready. */
export const fast: SevenClassVerifier.VerifySettings = { pollSeconds: 30, minReadySeconds: 120, settleSeconds: 240 }

/** Waits for the runbook's first signal matching `pred`, then handles it in `mode`. */
export const handleFirst = (
  s: Sim,
  pred: (x: any) => boolean,
  options: { readonly mode?: "auto" | "dry_run" | "observe"; readonly snapshots?: boolean; readonly before?: Effect.Effect<void, never, any>; readonly rb?: SevenClassRunbook.Options } = {}
) => {
  const rb = SevenClassRunbook.make({ verify: fast, ...options.rb })
  return runWithSim(
    s,
    Effect.gen(function*() {
      if (options.before) yield* options.before
      const signal = yield* firstSignal(rb as any, pred)
      return (yield* Runbook.handle(rb, signal, { mode: options.mode ?? "auto" })) as any
    }).pipe(Effect.provide(sevenServices(s, { snapshots: options.snapshots ?? false }))) as Effect.Effect<any>,
    { max: "60 minutes" }
  )
}

const PODS = { group: "", version: "v1", resource: "pods" }

/** The live pods of an app. */
export const podsOf = (s: Sim, app = "api"): Array<any> =>
  (s.api.store.list(PODS, { namespace: "default" }) as Array<any>).filter((p) => p.metadata?.labels?.app === app && !p.metadata?.deletionTimestamp && p.status?.phase !== "Failed")

/** Whether a pod is Ready. */
export const ready = (p: any): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")

/** The Deployment in the store. */
export const deploymentOf = (s: Sim, name = "api") => s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name) as any
