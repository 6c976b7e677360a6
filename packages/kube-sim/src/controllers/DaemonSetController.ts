/**
 * A simple DaemonSet controller: one pod per eligible node (nodeSelector/affinity match,
 * NoSchedule taints tolerated), pinned with a matchFields node affinity as the real
 * controller does, with the automatic DaemonSet tolerations.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodActive, isPodReady } from "./context"
import { freshPodName, podFromTemplate } from "./ReplicaSetController"
import { nodeAffinityMatches, taintsOf, tolerates } from "./Scheduler"
import { templateHash } from "./DeploymentController"
import { R, mutateIfChanged, ownedBy, sorted, type Json } from "./util"

const COMPONENT = "daemonset-controller"

/** Tolerations the DaemonSet controller adds to every daemon pod. */
export const DAEMON_TOLERATIONS: ReadonlyArray<Json> = [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" }
]

/** The DaemonSet controller. */
export class DaemonSetController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every DaemonSet. */
  reconcile(): void {
    const ctx = this.ctx
    const nodes = sorted(ctx.store.list(R.nodes))
    for (const ds of sorted(ctx.store.list(R.daemonsets))) {
      if (ds.metadata.deletionTimestamp) continue
      const ns = ds.metadata.namespace
      const spec = (ds["spec"] ?? {}) as Json
      const hash = templateHash(spec["template"])
      const pods = ctx.store.list(R.pods, { namespace: ns ?? "default" }).filter((p) => ownedBy(p, ds.metadata.uid))
      const tplTols = ((((spec["template"] ?? {}) as Json)["spec"] ?? {}) as Json)["tolerations"] as Array<Json> | undefined
      const hostNet = ((((spec["template"] ?? {}) as Json)["spec"] ?? {}) as Json)["hostNetwork"] === true
      const tols = [...(tplTols ?? []), ...DAEMON_TOLERATIONS, ...(hostNet ? [{ key: "node.kubernetes.io/network-unavailable", operator: "Exists", effect: "NoSchedule" }] : [])]
      let desired = 0
      for (const node of nodes) {
        const probe: KubeObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "probe" }, spec: { ...(((spec["template"] as Json)["spec"] ?? {}) as Json), tolerations: tols } }
        const eligible = nodeAffinityMatches(probe, node) && taintsOf(node).every((t) => t.effect === "PreferNoSchedule" || tols.some((tol) => tolerates(tol, t)))
        const onNode = pods.filter((p) => (p["spec"] as Json)["nodeName"] === node.metadata.name || this.pinnedTo(p) === node.metadata.name)
        const active = onNode.filter(isPodActive)
        if (!eligible) {
          for (const p of active) ctx.deletePod(p)
          continue
        }
        desired++
        for (const p of onNode) {
          const ph = ((p["status"] ?? {}) as Json)["phase"]
          if ((ph === "Failed" || ph === "Succeeded") && !p.metadata.deletionTimestamp) ctx.store.delete(R.pods, p.metadata.namespace, p.metadata.name)
        }
        const stale = active.filter((p) => p.metadata.labels?.["controller-revision-hash"] !== hash)
        for (const p of stale) ctx.deletePod(p)
        if (active.length - stale.length === 0 && !onNode.some((p) => p.metadata.deletionTimestamp)) {
          const pod = podFromTemplate(ctx, ds, "apps/v1", freshPodName(ctx, ns, ds.metadata.name), { "controller-revision-hash": hash, "pod-template-generation": String(ds.metadata.generation ?? 1) })
          const ps = pod["spec"] as Json
          ps["tolerations"] = tols
          ps["affinity"] = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node.metadata.name] }] }] } } }
          const created = ctx.store.create(R.pods, pod)
          ctx.events.record(ds, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata.name}`, COMPONENT)
        }
      }
      const fresh = ctx.store.list(R.pods, { namespace: ns ?? "default" }).filter((p) => ownedBy(p, ds.metadata.uid) && isPodActive(p))
      const scheduled = fresh.filter((p) => (p["spec"] as Json)["nodeName"]).length
      const ready = fresh.filter(isPodReady).length
      const updated = fresh.filter((p) => p.metadata.labels?.["controller-revision-hash"] === hash).length
      mutateIfChanged(ctx.store, R.daemonsets, ns, ds.metadata.name, (o) => {
        o["status"] = {
          currentNumberScheduled: scheduled,
          desiredNumberScheduled: desired,
          numberMisscheduled: 0,
          numberReady: ready,
          numberAvailable: ready,
          numberUnavailable: Math.max(0, desired - ready),
          updatedNumberScheduled: updated,
          observedGeneration: o.metadata.generation ?? 1
        }
      })
    }
  }

  private pinnedTo(p: KubeObject): string | undefined {
    const terms = (((((p["spec"] as Json)["affinity"] as Json | undefined)?.["nodeAffinity"] as Json | undefined)?.["requiredDuringSchedulingIgnoredDuringExecution"] as Json | undefined)?.["nodeSelectorTerms"] ?? []) as Array<Json>
    const f = ((terms[0]?.["matchFields"] ?? []) as Array<Json>)[0]
    return f ? ((f["values"] as Array<string>)[0]) : undefined
  }
}
