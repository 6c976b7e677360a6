/**
 * A simple StatefulSet controller: pods with stable names `${name}-${ordinal}` created in
 * order (OrderedReady: the next ordinal waits for the previous one to be Ready), one PVC per
 * volumeClaimTemplate and ordinal, rolling updates from the highest ordinal down.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodActive, isPodReady } from "./context"
import { templateHash } from "./DeploymentController"
import { podFromTemplate } from "./ReplicaSetController"
import { R, mutateIfChanged, ownedBy, sorted, type Json } from "./util"

const COMPONENT = "statefulset-controller"

/** The StatefulSet controller. */
export class StatefulSetController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every StatefulSet. */
  reconcile(): void {
    const ctx = this.ctx
    for (const sts of sorted(ctx.store.list(R.statefulsets))) {
      if (sts.metadata.deletionTimestamp) continue
      const ns = sts.metadata.namespace
      const spec = (sts["spec"] ?? {}) as Json
      const replicas = (spec["replicas"] as number | undefined) ?? 1
      const revision = `${sts.metadata.name}-${templateHash(spec["template"])}`
      const parallel = spec["podManagementPolicy"] === "Parallel"
      const pods = ctx.store.list(R.pods, { namespace: ns ?? "default" }).filter((p) => ownedBy(p, sts.metadata.uid))
      const byOrdinal = new Map<number, KubeObject>()
      for (const p of pods) {
        const m = /-(\d+)$/.exec(p.metadata.name)
        if (m) byOrdinal.set(Number(m[1]), p)
      }
      // scale up in order
      for (let i = 0; i < replicas; i++) {
        const p = byOrdinal.get(i)
        if (p) {
          if (!parallel && (!isPodActive(p) || !isPodReady(p))) break
          continue
        }
        const name = `${sts.metadata.name}-${i}`
        for (const vct of (spec["volumeClaimTemplates"] ?? []) as Array<Json>) {
          const claim = `${((vct["metadata"] ?? {}) as Json)["name"]}-${name}`
          if (!ctx.store.get(R.pvcs, ns, claim)) {
            ctx.store.create(R.pvcs, {
              apiVersion: "v1", kind: "PersistentVolumeClaim",
              metadata: { name: claim, namespace: ns ?? "default", labels: { ...(((spec["selector"] as Json | undefined)?.["matchLabels"] ?? {}) as Record<string, string>) } },
              spec: vct["spec"] ?? {},
              status: { phase: "Bound", accessModes: ((vct["spec"] as Json | undefined)?.["accessModes"]) ?? ["ReadWriteOnce"], capacity: (((vct["spec"] as Json | undefined)?.["resources"] as Json | undefined)?.["requests"]) ?? {} }
            })
          }
        }
        const pod = podFromTemplate(ctx, sts, "apps/v1", name, {
          "statefulset.kubernetes.io/pod-name": name,
          "apps.kubernetes.io/pod-index": String(i),
          "controller-revision-hash": revision
        })
        const podSpec = pod["spec"] as Json
        podSpec["hostname"] = name
        if (spec["serviceName"]) podSpec["subdomain"] = spec["serviceName"]
        const vols = (podSpec["volumes"] ?? []) as Array<Json>
        for (const vct of (spec["volumeClaimTemplates"] ?? []) as Array<Json>) {
          const vname = ((vct["metadata"] ?? {}) as Json)["name"] as string
          if (!vols.some((v) => v["name"] === vname)) vols.push({ name: vname, persistentVolumeClaim: { claimName: `${vname}-${name}` } })
        }
        if (vols.length) podSpec["volumes"] = vols
        ctx.store.create(R.pods, pod)
        ctx.events.record(sts, "Normal", "SuccessfulCreate", `create Pod ${name} in StatefulSet ${sts.metadata.name} successful`, COMPONENT)
        if (!parallel) break
      }
      // scale down from the highest ordinal
      const extra = [...byOrdinal.entries()].filter(([i, p]) => i >= replicas && !p.metadata.deletionTimestamp).sort((a, b) => b[0] - a[0])
      if (extra.length) {
        const [, p] = extra[0]!
        ctx.deletePod(p)
        ctx.events.record(sts, "Normal", "SuccessfulDelete", `delete Pod ${p.metadata.name} in StatefulSet ${sts.metadata.name} successful`, COMPONENT)
      } else if (pods.every((p) => isPodReady(p) && isPodActive(p)) && pods.length === replicas) {
        // rolling update: replace the highest-ordinal pod of an old revision
        const stale = [...byOrdinal.entries()].filter(([, p]) => p.metadata.labels?.["controller-revision-hash"] !== revision).sort((a, b) => b[0] - a[0])
        if (stale.length && (spec["updateStrategy"] as Json | undefined)?.["type"] !== "OnDelete") ctx.deletePod(stale[0]![1])
      }
      // failed pods are replaced
      for (const p of pods) {
        const ph = ((p["status"] ?? {}) as Json)["phase"]
        if ((ph === "Failed" || ph === "Succeeded") && !p.metadata.deletionTimestamp) ctx.store.delete(R.pods, p.metadata.namespace, p.metadata.name)
      }
      const fresh = ctx.store.list(R.pods, { namespace: ns ?? "default" }).filter((p) => ownedBy(p, sts.metadata.uid) && isPodActive(p))
      const ready = fresh.filter(isPodReady).length
      const current = fresh.filter((p) => p.metadata.labels?.["controller-revision-hash"] === revision).length
      mutateIfChanged(ctx.store, R.statefulsets, ns, sts.metadata.name, (o) => {
        o["status"] = {
          observedGeneration: o.metadata.generation ?? 1,
          replicas: fresh.length,
          readyReplicas: ready,
          currentReplicas: current,
          updatedReplicas: current,
          availableReplicas: ready,
          currentRevision: revision,
          updateRevision: revision,
          collisionCount: 0
        }
      })
    }
  }
}
