/**
 * The node suites' harness: the OOM harness's simulator and virtual-time driver
 * (`../oom/harness`) with a registry of the node action handlers and the node helpers the
 * e2e tests share.
 */
import { ActionRegistry, GuardrailStore, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as NodeActions from "../../src/actions/node"
import * as NodeGuards from "../../src/guardrails/nodeGuards"
import { clusterLayer, type Sim } from "../oom/harness"

export { advance, firstSignal, mutations, runWithSim, Scenario, sim, syncClock } from "../oom/harness"
export type { Sim }

/** Everything k8s.node.pressure-drain needs against a simulator (node handlers with `guards`). */
export const nodeServices = (
  s: Sim,
  o: { readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown>; readonly guards?: NodeGuards.NodeGuardSettings } = {}
) => {
  const cluster = clusterLayer(s)
  const registry = ActionRegistry.layer({ handlers: NodeActions.handlers(o.guards ?? NodeGuards.defaults) }).pipe(Layer.provide(cluster))
  return Layer.mergeAll(cluster, registry, Layer.orDie(o.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** A shared in-memory store (two agents on one store). */
export const sharedStore = () => Effect.map(MemoryStore.make(), (store) => Layer.succeed(GuardrailStore.GuardrailStore, store))

const NODES = { group: "", version: "v1", resource: "nodes" } as const
const PODS = { group: "", version: "v1", resource: "pods" } as const

/** A node object straight from the simulator's store. */
export const nodeObj = (s: Sim, name: string): any => s.api.store.get(NODES, undefined, name)

/** Pods of `workload` (by name prefix) that are not terminating. */
export const podsOf = (s: Sim, prefix: string): Array<any> =>
  (s.api.store.list(PODS) as Array<any>).filter((p) => p.metadata.name.startsWith(`${prefix}-`) && !p.metadata.deletionTimestamp)

/** Whether a pod is Ready. */
export const isReady = (p: any): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")

/** Writes to Node objects the simulator served (PATCH/PUT on /api/v1/nodes/…), split by dryRun. */
export const nodeWrites = (s: Sim) => {
  const all = s.api.recorder.requests().filter((r) => r.method !== "GET" && !r.watch && /\/api\/v1\/nodes\//.test(r.path))
  return { real: all.filter((r) => !r.dryRun), dryRun: all.filter((r) => r.dryRun) }
}

/** A human's `kubectl cordon` (no annotation). */
export const humanCordon = (s: Sim, name: string) => {
  s.api.store.mutate(NODES, undefined, name, (o: any) => {
    o.spec = { ...(o.spec ?? {}), unschedulable: true }
  })
  s.settle()
}
