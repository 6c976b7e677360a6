/**
 * Shared set-up of the pod-family action tests: kube-sim through the real client-node, the
 * action handlers in a registry (with `NeverDeleteVolumes` in front), and a one-action run
 * through the executor in auto or dry_run (a genuine permit, journaled).
 */
import { Action, ActionRegistry, Classification, Executor, GuardrailStore, IncidentBus, Plan, TargetRef } from "@byteport/core"
import type { ActionHandler, Json } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer } from "effect"
import { scenario, startSim, type ScenarioSpec } from "../../../kube-sim/src/scenario/index"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as LoosenProbe from "../../src/actions/loosenProbe"
import * as PinImageDigest from "../../src/actions/pinImageDigest"
import * as RestartPod from "../../src/actions/restartPod"
import * as RestoreConfigMap from "../../src/actions/restoreConfigMap"
import * as SetDebugLogging from "../../src/actions/setDebugLogging"
import * as EventRecorder from "../../src/events/EventRecorder"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import type * as Kube from "../../src/Kube"
import { clusterLayer, mutations as harnessMutations } from "../oom/harness"

/** Starts kube-sim (closed with the scope), warmed up. */
export const world = (spec: Omit<ScenarioSpec, "nodes"> & { readonly nodes?: number }) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const sim = await startSim({ now: "2026-01-01T00:00:00Z", scenario: scenario({ nodes: 2, namespaces: ["default", "byteport"], ...spec }) })
      sim.advance("2m")
      return sim
    }),
    (sim) => Effect.promise(() => sim.close())
  )

/** A started simulator. */
export type Sim = Effect.Success<ReturnType<typeof world>>

/** The handlers under test. */
export const handlers = (): ReadonlyArray<ActionHandler.ActionHandler<Kube.Kube | EventRecorder.EventRecorder | ConfigMapSnapshots.ConfigMapSnapshots>> => [
  LoosenProbe.make(),
  RestartPod.make(),
  RestoreConfigMap.make(),
  SetDebugLogging.make(),
  PinImageDigest.make()
]

/** Kube, Metrics and EventRecorder for a simulator (the OOM harness's). */
export const cluster = (sim: Sim) => clusterLayer(sim)

/** Everything a one-action run needs, snapshots on or off. */
export const services = (sim: Sim, options: { readonly snapshots?: boolean } = {}) => {
  const deps = cluster(sim)
  const snaps = ConfigMapSnapshots.layer({ enabled: options.snapshots ?? false, namespace: "byteport" }).pipe(Layer.provide(deps))
  const all = Layer.mergeAll(deps, snaps)
  const base = Testing.layer<Kube.Kube | EventRecorder.EventRecorder | ConfigMapSnapshots.ConfigMapSnapshots>({})
  const registry = NeverDeleteVolumes.registry({ handlers: handlers() })
  return Layer.mergeAll(base, registry).pipe(Layer.provideMerge(all))
}

let seq = 0

/** Runs one action through the executor (auto unless told), journaled under a fresh incident. */
export const run = (
  action: Action.Action,
  options: { readonly mode?: "auto" | "dry_run"; readonly baseline?: Json.JsonObject } = {}
): Effect.Effect<Executor.ExecuteResult & { readonly incidentId: string; readonly detail: string }, never, GuardrailStore.GuardrailStore | ActionRegistry.ActionRegistry | IncidentBus.IncidentBus> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const incidentId = `inc-pod-actions-${++seq}`
    yield* Effect.orDie(store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "k8s.pod-actions.test", targetKey: TargetRef.key(action.target) } }))
    const r = yield* Executor.execute({
      incidentId,
      runbook: "k8s.pod-actions.test",
      mode: options.mode ?? "auto",
      signal: { type: "test", target: action.target, observedAt: 0, evidence: {} },
      classification: Classification.classified("test", 0.9, ["test"]),
      facts: {},
      plan: Plan.make("k8s.pod-actions.test", "test", action.description, Plan.act(action)),
      baseline: options.baseline ?? {},
      guardrails: []
    })
    const denials = r.decisions.filter((d) => d.decision !== "allow").map((d) => `${d.decision} ${d.guardrail ?? ""}: ${d.reason ?? ""}`)
    return { ...r, incidentId, detail: [...r.outcomes.map((o) => `${o.status}: ${o.detail}`), ...denials].join("; ") }
  })

const PODS = { group: "", version: "v1", resource: "pods" }

/** The live (not terminating) pods of a workload, from the simulator's store. */
export const podsOf = (sim: Sim, app: string, namespace = "default"): ReadonlyArray<any> =>
  (sim.api.store.list(PODS, { namespace }) as ReadonlyArray<any>).filter((p) => p.metadata?.labels?.app === app && !p.metadata?.deletionTimestamp)

/** Whether a pod is Ready. */
export const ready = (p: any): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")

/** Liveness/startup kills so far of a workload's live pods (restartCount of the main container). */
export const restarts = (sim: Sim, app: string): number =>
  podsOf(sim, app).reduce((n, p) => n + ((p.status?.containerStatuses ?? []).find((c: any) => c.name === app)?.restartCount ?? 0), 0)

/** Mutating requests the simulator served (not reads, watches), split by dryRun (the OOM harness's). */
export const mutations = harnessMutations

/** What the registered handler of the action's kind observes (the tag). */
export const observe = (a: Action.Action, since = 0): Effect.Effect<string, never, ActionRegistry.ActionRegistry> =>
  Effect.flatMap(Effect.service(ActionRegistry.ActionRegistry), (r) => Effect.map(r.handler(a.kind)!.observe!(a, { incidentId: "inc-observe", since }), (o) => o._tag))

/** Shorthand for Action.make. */
export const action = Action.make
