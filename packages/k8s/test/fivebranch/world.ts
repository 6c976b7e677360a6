/**
 * Shared set-up of the k8s.crashloop.five-branch tests: kube-sim through the real client-node
 * (the OOM harness's cluster layer, virtual time), the runbook's handlers and checks in a
 * registry, and the mutation filter.
 */
import { IncidentBus, MemoryStore, Notifier, Runbook } from "@byteport/core"
import { type Duration, Effect, Layer } from "effect"
import * as Runbook5 from "../../src/runbooks/k8s.crashloop.five-branch"
import { clusterLayer, firstSignal, mutations, runWithSim, type Sim } from "../oom/harness"

export { advance, mutations, runWithSim, Scenario, sim } from "../oom/harness"

/** Everything the runbook needs against a simulator. */
const services = (s: Sim) => {
  const cluster = clusterLayer(s)
  const registry = Runbook5.registry().pipe(Layer.provide(cluster))
  return Layer.mergeAll(cluster, registry, Layer.orDie(MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** Handles the first signal of the runbook (in `mode`) on the simulator, in lockstep with virtual time. */
export const handleFirst = (s: Sim, mode: "auto" | "dry_run" | "observe" = "auto", options: { readonly before?: (s: Sim) => void; readonly max?: Duration.Input } = {}) => {
  const runbook = Runbook5.make()
  return runWithSim(
    s,
    Effect.gen(function*() {
      const signal = yield* firstSignal(runbook)
      options.before?.(s)
      return (yield* Runbook.handle(runbook, signal, { mode })) as any
    }).pipe(Effect.provide(services(s))),
    { max: options.max ?? "40 minutes" }
  )
}

/** The pods of a workload in the simulator's store. */
export const podsOf = (s: Sim, app: string): Array<any> =>
  s.api.store.list({ group: "", version: "v1", resource: "pods" }).filter((p: any) => p.metadata.name.startsWith(`${app}-`) && !p.metadata.deletionTimestamp)

/** The Deployment in the simulator's store. */
export const deploymentOf = (s: Sim, name: string): any => s.api.store.get({ group: "apps", version: "v1", resource: "deployments" }, "default", name)

/** Total restarts of a workload's pods. */
export const restarts = (s: Sim, app: string): number => podsOf(s, app).reduce((a, p) => a + (p.status?.containerStatuses?.[0]?.restartCount ?? 0), 0)

/** Whether a pod is Ready. */
export const ready = (p: any): boolean => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")

/** Real (non-dryRun) and dryRun mutations since a mark. */
export const writesSince = (s: Sim, mark: { real: number; dry: number }) => {
  const m = mutations(s)
  return { real: m.real.slice(mark.real), dry: m.dryRun.slice(mark.dry) }
}

/** A mark of the mutations so far. */
export const mark = (s: Sim) => {
  const m = mutations(s)
  return { real: m.real.length, dry: m.dryRun.length }
}
