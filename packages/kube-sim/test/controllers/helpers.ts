/**
 * Test helpers for the controllers half: a simulator with controllers and metrics on a virtual
 * clock, reached through the real @kubernetes/client-node.
 */
import { AppsV1Api, AutoscalingV2Api, CoreV1Api, KubeConfig, PatchStrategy, PolicyV1Api, setHeaderOptions } from "@kubernetes/client-node"
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node"
import { startSim, type Sim, type SimOptions } from "../../src/scenario/index"

/** A running simulator and typed clients. */
export interface Harness {
  readonly sim: Sim
  readonly kc: KubeConfig
  readonly core: CoreV1Api
  readonly apps: AppsV1Api
  readonly hpa: AutoscalingV2Api
  readonly policy: PolicyV1Api
}

/** Start a simulator (optionally with a scenario) and build clients. */
export const harness = async (options: SimOptions = {}): Promise<Harness> => {
  // a fixed start (the same every run): an unpinned simulator starts at the wall clock
  const sim = await startSim({ now: "2026-01-01T00:00:00Z", ...options })
  const kc = new KubeConfig()
  kc.loadFromString(sim.kubeconfig())
  return {
    sim,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    hpa: kc.makeApiClient(AutoscalingV2Api),
    policy: kc.makeApiClient(PolicyV1Api)
  }
}

/** Strategic merge patch options for client-node 2.x. */
export const smp = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)
/** JSON merge patch options. */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

/** Pods of a workload (label app=name), sorted by name. */
export const podsOf = async (h: Harness, app: string, namespace = "default"): Promise<Array<V1Pod>> => {
  const list = await h.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })
  return list.items.sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!))
}

/** The first container status of a pod. */
export const cs = (p: V1Pod, i = 0): V1ContainerStatus => p.status!.containerStatuses![i]!

/** Events of a namespace with a reason. */
export const eventsWith = async (h: Harness, reason: string, namespace = "default") =>
  (await h.core.listNamespacedEvent({ namespace, fieldSelector: `reason=${reason}` })).items

/** Is the pod Ready? */
export const ready = (p: V1Pod): boolean => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

/** A Prometheus instant query through HTTP. */
export const prom = async (h: Harness, query: string, time?: number): Promise<any> => {
  const u = new URL(`${h.sim.prometheusUrl}/api/v1/query`)
  u.searchParams.set("query", query)
  if (time !== undefined) u.searchParams.set("time", String(time / 1000))
  const r = await fetch(u)
  return { status: r.status, body: await r.json() }
}
