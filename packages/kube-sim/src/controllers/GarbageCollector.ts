/**
 * The garbage collector: deletes dependents whose owners are all gone (pods gracefully),
 * honours foregroundDeletion (dependents first) and orphan (ownerReferences removed) finalizers.
 */
import type { KubeObject, ResourceKey } from "../store/types"
import type { SimContext } from "./context"
import { R, sorted } from "./util"

const OWNER_KEYS: Record<string, ResourceKey> = {
  Deployment: R.deployments,
  ReplicaSet: R.replicasets,
  StatefulSet: R.statefulsets,
  DaemonSet: R.daemonsets,
  Pod: R.pods,
  Node: R.nodes,
  Service: R.services,
  ConfigMap: R.configmaps,
  Secret: R.secrets,
  Job: { group: "batch", version: "v1", resource: "jobs" },
  CronJob: { group: "batch", version: "v1", resource: "cronjobs" },
  HorizontalPodAutoscaler: R.hpas
}

const DEPENDENT_KEYS: Array<ResourceKey> = [R.replicasets, R.pods, R.controllerrevisions, R.pvcs, R.configmaps, R.secrets, R.services, R.endpoints, { group: "batch", version: "v1", resource: "jobs" }]

/** The garbage collector. */
export class GarbageCollector {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  private ownerState(ns: string | undefined, ref: { kind: string; name: string; uid: string }): "absent" | "present" | { deleting: string } {
    const key = OWNER_KEYS[ref.kind]
    if (!key) return "present"
    const scoped = ref.kind === "Node" ? undefined : ns
    const o = this.ctx.store.get(key, scoped, ref.name)
    if (!o || (o.metadata.uid !== undefined && o.metadata.uid !== ref.uid)) return "absent"
    if (o.metadata.deletionTimestamp) {
      const f = o.metadata.finalizers ?? []
      if (f.includes("foregroundDeletion")) return { deleting: "foreground" }
      if (f.includes("orphan")) return { deleting: "orphan" }
    }
    return "present"
  }

  /** One GC pass. */
  reconcile(): void {
    const ctx = this.ctx
    const owners = new Map<string, { key: ResourceKey; obj: KubeObject; dependents: number }>()
    for (const key of DEPENDENT_KEYS) {
      for (const o of sorted(ctx.store.list(key))) {
        const refs = o.metadata.ownerReferences ?? []
        if (refs.length === 0) continue
        const states = refs.map((r) => ({ r, s: this.ownerState(o.metadata.namespace, r) }))
        if (states.some((x) => typeof x.s === "object" && x.s.deleting === "orphan")) {
          ctx.store.mutate(key, o.metadata.namespace, o.metadata.name, (m) => {
            m.metadata.ownerReferences = (m.metadata.ownerReferences ?? []).filter((r) => {
              const s = this.ownerState(o.metadata.namespace, r)
              return !(typeof s === "object" && s.deleting === "orphan")
            })
          })
          continue
        }
        for (const x of states) {
          if (typeof x.s === "object" && x.s.deleting === "foreground") {
            const ok = OWNER_KEYS[x.r.kind]!
            const owner = ctx.store.get(ok, x.r.kind === "Node" ? undefined : o.metadata.namespace, x.r.name)
            if (owner) {
              const k = `${x.r.kind}/${o.metadata.namespace}/${x.r.name}`
              const e = owners.get(k) ?? { key: ok, obj: owner, dependents: 0 }
              e.dependents++
              owners.set(k, e)
            }
          }
        }
        if (states.every((x) => x.s === "absent" || (typeof x.s === "object" && x.s.deleting === "foreground"))) {
          if (key === R.pods) ctx.deletePod(o)
          else if (!o.metadata.deletionTimestamp) ctx.deleteObject(key, o.metadata.namespace, o.metadata.name)
        }
      }
    }
    // foreground owners whose dependents are all gone lose their finalizer
    for (const key of Object.values(OWNER_KEYS)) {
      for (const o of ctx.store.list(key)) {
        if (!o.metadata.deletionTimestamp) continue
        const f = o.metadata.finalizers ?? []
        if (!f.includes("foregroundDeletion") && !f.includes("orphan")) continue
        const k = `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`
        if (f.includes("foregroundDeletion") && owners.has(k)) continue
        ctx.store.mutate(key, o.metadata.namespace, o.metadata.name, (m) => {
          m.metadata.finalizers = (m.metadata.finalizers ?? []).filter((x) => x !== "foregroundDeletion" && x !== "orphan")
        })
      }
    }
  }
}
