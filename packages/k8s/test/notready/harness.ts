/**
 * The k8s.node.not-ready e2e services on kube-sim, on top of the OOM harness: the cluster layers,
 * an ActionRegistry with cordon, drain, the four node kinds and the node checks, and a NodeShell
 * (when given) both to the registry (handlers) and to the runbook (probes).
 */
import { ActionRegistry, type GuardrailStore, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import { Layer } from "effect"
import type { NodeShell } from "../../src/node/NodeShell"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import { clusterLayer, type Sim } from "../oom/harness"

export * from "../oom/harness"

/** Services for the node runbook against a simulator. */
export const nodeServices = (s: Sim, options: { readonly shell?: Layer.Layer<NodeShell>; readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}) => {
  const cluster = clusterLayer(s)
  const shell = options.shell ?? Layer.empty
  const registry = ActionRegistry.layer({ handlers: NodeNotReady.handlers(), checks: NodeNotReady.checks() }).pipe(Layer.provide(Layer.mergeAll(cluster, shell)))
  return Layer.mergeAll(cluster, registry, shell, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}
