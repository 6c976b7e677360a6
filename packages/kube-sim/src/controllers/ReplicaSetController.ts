/**
 * The ReplicaSet controller: keeps the number of active pods equal to spec.replicas
 * (creating pods from the template with a controller ownerReference, deleting the least
 * valuable ones first) and maintains status.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { isPodActive, isPodReady, podReadySince } from "./context"
import { R, clone, listOwned, mutateIfChanged, selectorMatches, sorted, type Json } from "./util"

const COMPONENT = "replicaset-controller"

/** Build a pod from a template owned by `owner`. */
export const podFromTemplate = (ctx: SimContext, owner: KubeObject, ownerApiVersion: string, name: string, extraLabels: Record<string, string> = {}): KubeObject => {
  const tpl = ((owner["spec"] as Json)["template"] ?? {}) as Json
  const meta = (tpl["metadata"] ?? {}) as Json
  const pod: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: owner.metadata.namespace ?? "default",
      labels: { ...((meta["labels"] ?? {}) as Record<string, string>), ...extraLabels },
      ownerReferences: [{ apiVersion: ownerApiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }]
    },
    spec: clone((tpl["spec"] ?? {}) as Json),
    status: { phase: "Pending" }
  }
  if (meta["annotations"]) pod.metadata.annotations = { ...(meta["annotations"] as Record<string, string>) }
  return pod
}

/** A fresh pod name `${base}-xxxxx` that is not taken. */
export const freshPodName = (ctx: SimContext, namespace: string | undefined, base: string): string => {
  for (;;) {
    const name = `${base}-${ctx.rng.suffix(5)}`
    if (!ctx.store.get(R.pods, namespace, name)) return name
  }
}

/** Is the pod available (ready for at least minReadySeconds)? */
export const isPodAvailable = (pod: KubeObject, minReadySeconds: number, now: number): boolean => {
  if (!isPodReady(pod)) return false
  if (minReadySeconds <= 0) return true
  const since = podReadySince(pod)
  return since !== undefined && since + minReadySeconds * 1000 <= now
}

const phaseRank = (p: KubeObject): number => {
  const ph = ((p["status"] ?? {}) as Json)["phase"]
  return ph === "Pending" ? 0 : ph === "Unknown" ? 1 : 2
}

const restarts = (p: KubeObject): number =>
  ((((p["status"] ?? {}) as Json)["containerStatuses"] ?? []) as Array<Json>).reduce((a, c) => a + ((c["restartCount"] as number | undefined) ?? 0), 0)

/** Order pods so the ones to delete first come first (the controller's ActivePods ordering). */
export const deletionOrder = (pods: Array<KubeObject>): Array<KubeObject> =>
  [...pods].sort((a, b) => {
    const na = (a["spec"] as Json)["nodeName"] ? 1 : 0
    const nb = (b["spec"] as Json)["nodeName"] ? 1 : 0
    if (na !== nb) return na - nb
    if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b)
    const ra = isPodReady(a) ? 1 : 0
    const rb = isPodReady(b) ? 1 : 0
    if (ra !== rb) return ra - rb
    if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a)
    const ca = String(a.metadata.creationTimestamp ?? "")
    const cb = String(b.metadata.creationTimestamp ?? "")
    if (ca !== cb) return ca < cb ? 1 : -1
    return a.metadata.name < b.metadata.name ? 1 : -1
  })

/** The ReplicaSet controller. */
export class ReplicaSetController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every ReplicaSet. */
  reconcile(): void {
    const ctx = this.ctx
    const allPods = ctx.store.list(R.pods)
    // snapshot indexes of allPods (same order): pods by controller uid, active orphans by namespace
    const byOwner = new Map<string, Array<KubeObject>>()
    const orphans = new Map<string | undefined, Array<KubeObject>>()
    for (const p of allPods) {
      const ctl = (p.metadata.ownerReferences ?? []).find((r) => r.controller === true)
      if (ctl) {
        const a = byOwner.get(ctl.uid)
        if (a) a.push(p)
        else byOwner.set(ctl.uid, [p])
      } else if (!(p.metadata.ownerReferences ?? []).some((r) => r.controller) && isPodActive(p)) {
        const a = orphans.get(p.metadata.namespace)
        if (a) a.push(p)
        else orphans.set(p.metadata.namespace, [p])
      }
    }
    for (const rs of sorted(ctx.store.list(R.replicasets))) {
      if (rs.metadata.deletionTimestamp) continue
      const spec = (rs["spec"] ?? {}) as Json
      const ns = rs.metadata.namespace
      const owned = rs.metadata.uid === undefined ? [] : (byOwner.get(rs.metadata.uid) ?? []).filter((p) => p.metadata.namespace === ns)
      // adopt orphans matching the selector
      for (const p of orphans.get(ns) ?? []) {
        if (!selectorMatches(spec["selector"] as Json, p.metadata.labels)) continue
        const adopted = ctx.store.mutate(R.pods, ns, p.metadata.name, (o) => {
          o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), { apiVersion: "apps/v1", kind: "ReplicaSet", name: rs.metadata.name, uid: rs.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }]
        })
        if (adopted) owned.push(adopted)
      }
      const active = owned.filter(isPodActive)
      const want = (spec["replicas"] as number | undefined) ?? 1
      if (active.length < want) {
        for (let i = active.length; i < want; i++) {
          const name = freshPodName(ctx, ns, rs.metadata.name)
          const created = ctx.store.create(R.pods, podFromTemplate(ctx, rs, "apps/v1", name))
          active.push(created)
          ctx.events.record(rs, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata.name}`, COMPONENT)
        }
      } else if (active.length > want) {
        const victims = deletionOrder(active).slice(0, active.length - want)
        for (const v of victims) {
          ctx.deletePod(v)
          ctx.events.record(rs, "Normal", "SuccessfulDelete", `Deleted pod: ${v.metadata.name}`, COMPONENT)
        }
      }
      this.updateStatus(rs)
    }
  }

  /** Recompute a ReplicaSet's status from its pods. */
  updateStatus(rs: KubeObject): void {
    const ctx = this.ctx
    const now = ctx.now()
    const spec = (rs["spec"] ?? {}) as Json
    const minReady = (spec["minReadySeconds"] as number | undefined) ?? 0
    const pods = listOwned(ctx.store, R.pods, rs.metadata.namespace ?? "default", rs.metadata.uid).filter(isPodActive)
    const tplLabels = ((((spec["template"] ?? {}) as Json)["metadata"] ?? {}) as Json)["labels"] as Record<string, string> | undefined
    const ready = pods.filter(isPodReady)
    const available = pods.filter((p) => isPodAvailable(p, minReady, now))
    if (minReady > 0) for (const p of ready) {
      const since = podReadySince(p)
      if (since !== undefined && since + minReady * 1000 > now) ctx.clock.wakeAt(since + minReady * 1000)
    }
    const fully = pods.filter((p) => Object.entries(tplLabels ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v))
    mutateIfChanged(ctx.store, R.replicasets, rs.metadata.namespace, rs.metadata.name, (o) => {
      const st: Json = {
        replicas: pods.length,
        fullyLabeledReplicas: fully.length,
        readyReplicas: ready.length,
        availableReplicas: available.length,
        observedGeneration: o.metadata.generation ?? 1
      }
      if (st["readyReplicas"] === 0) delete st["readyReplicas"]
      if (st["availableReplicas"] === 0) delete st["availableReplicas"]
      if (st["fullyLabeledReplicas"] === 0) delete st["fullyLabeledReplicas"]
      o["status"] = st
    })
  }
}
