/**
 * The k8s.image-pull / k8s.pending tests' services: the OOM harness's cluster (kube-sim through
 * the real client, EventRecorder) with a registry holding `k8s.rollbackDeployment` and
 * `k8s.restoreConfigMap` (`NeverDeleteVolumes` in front), ConfigMap snapshots on or off.
 */
import { IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import type { ActionRegistry, GuardrailStore } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as ConfigMapSnapshots from "../../src/actions/configMapSnapshots"
import * as RestoreConfigMap from "../../src/actions/restoreConfigMap"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as NeverDeleteVolumes from "../../src/guardrails/neverDeleteVolumes"
import { clusterLayer, mutations, type Sim } from "../oom/harness"

export * from "../oom/harness"

/** The registry service the runbooks act through. */
export type Registry = ActionRegistry.ActionRegistry

/** Everything the two runbooks need against a simulator. */
export const services = (s: Sim, options: { readonly snapshots?: boolean; readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}) => {
  const cluster = clusterLayer(s)
  const snaps = ConfigMapSnapshots.layer({ enabled: options.snapshots ?? false, namespace: "byteport" }).pipe(Layer.provide(cluster))
  const deps = Layer.mergeAll(cluster, snaps)
  const registry = NeverDeleteVolumes.registry({ handlers: [RollbackDeployment.make(), RestoreConfigMap.make()] }).pipe(Layer.provide(deps))
  return Layer.mergeAll(deps, registry, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** Persisted writes other than Events and Leases (BytePort's own bookkeeping). */
export const writes = (s: Sim) => mutations(s).real.filter((r) => !r.path.includes("/events") && !r.path.includes("/leases"))

/** The simulator's objects of a resource (core or apps). */
export const list = (s: Sim, resource: string, group = "") => s.api.store.list({ group, version: "v1", resource }) as Array<any>

/** Pods of a workload (by name prefix), not being deleted. */
export const podsOf = (s: Sim, prefix: string) => list(s, "pods").filter((p) => p.metadata.name.startsWith(`${prefix}-`) && !p.metadata.deletionTimestamp)

/** Whether a pod is Ready. */
export const ready = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")

/** An HTTP request to the simulator's API (JSON in, JSON out). */
export const http = (s: Sim, method: string, path: string, body?: unknown, contentType = "application/json") =>
  Effect.promise(async () => {
    const r = await fetch(`${s.url}${path}`, { method, headers: { "content-type": contentType }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
    return { status: r.status, body: await r.json().catch(() => null) as any }
  })
