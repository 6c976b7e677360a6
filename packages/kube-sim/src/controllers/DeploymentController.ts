/**
 * The Deployment controller: one ReplicaSet per pod template (pod-template-hash), revisions,
 * change-cause, RollingUpdate with maxSurge/maxUnavailable stepping on availability, Recreate,
 * rollback by template (an old ReplicaSet is adopted back with a new revision), revision
 * history clean-up, status and the Available/Progressing conditions with the real reasons.
 */
import type { KubeObject } from "../store/types"
import type { SimContext } from "./context"
import { fnv32a, safeEncode } from "../clock/Rng"
import { intOrPercent } from "./quantity"
import { R, canonical, clone, listOwned, mutateIfChanged, ownedBy, parseTime, semanticEqual, setCondition, sorted, type Json } from "./util"

const COMPONENT = "deployment-controller"
/** Annotation: revision of a Deployment / ReplicaSet. */
export const REVISION = "deployment.kubernetes.io/revision"
const REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
const DESIRED = "deployment.kubernetes.io/desired-replicas"
const MAX = "deployment.kubernetes.io/max-replicas"
const SKIP = new Set([REVISION, REVISION_HISTORY, DESIRED, MAX, "kubectl.kubernetes.io/last-applied-configuration"])

/** pod-template-hash of a template (FNV-32a over the canonical template plus collisionCount, safe-encoded). */
export const templateHash = (template: unknown, collisionCount = 0): string => {
  const s = JSON.stringify(canonical(template)) + (collisionCount ? String(collisionCount) : "")
  return safeEncode(String(fnv32a(s)))
}

const stripHash = (tpl: Json): Json => {
  const t = clone(tpl)
  const labels = ((t["metadata"] ?? {}) as Json)["labels"] as Record<string, string> | undefined
  if (labels) delete labels["pod-template-hash"]
  return t
}

/** Do a deployment template and a ReplicaSet template describe the same pods? */
export const sameTemplate = (deploymentTpl: unknown, rsTpl: unknown): boolean =>
  semanticEqual(stripHash((deploymentTpl ?? {}) as Json), stripHash((rsTpl ?? {}) as Json))

const rev = (o: KubeObject): number => Number(o.metadata.annotations?.[REVISION] ?? "0") || 0
const specReplicas = (o: KubeObject): number => (((o["spec"] ?? {}) as Json)["replicas"] as number | undefined) ?? 0
const st = (o: KubeObject, f: string): number => ((((o["status"] ?? {}) as Json)[f] as number | undefined) ?? 0)

/** The Deployment controller. */
export class DeploymentController {
  /** Build over the shared context. */
  constructor(private readonly ctx: SimContext) {}

  /** Reconcile every Deployment. */
  reconcile(): void {
    for (const d of sorted(this.ctx.store.list(R.deployments))) {
      if (d.metadata.deletionTimestamp) continue
      this.sync(d)
    }
  }

  private scale(d: KubeObject, rs: KubeObject, to: number): KubeObject {
    const from = specReplicas(rs)
    if (from === to) return rs
    const ctx = this.ctx
    const dspec = d["spec"] as Json
    const { maxSurge } = this.params(d)
    const updated = mutateIfChanged(ctx.store, R.replicasets, rs.metadata.namespace, rs.metadata.name, (o) => {
      ;(o["spec"] as Json)["replicas"] = to
      o.metadata.annotations = { ...o.metadata.annotations, [DESIRED]: String(dspec["replicas"] ?? 1), [MAX]: String(((dspec["replicas"] as number | undefined) ?? 1) + maxSurge) }
    })
    ctx.events.record(d, "Normal", "ScalingReplicaSet", `Scaled ${to > from ? "up" : "down"} replica set ${rs.metadata.name} from ${from} to ${to}`, COMPONENT)
    return updated ?? rs
  }

  private params(d: KubeObject): { replicas: number; maxSurge: number; maxUnavailable: number; recreate: boolean } {
    const spec = (d["spec"] ?? {}) as Json
    const replicas = (spec["replicas"] as number | undefined) ?? 1
    const strategy = (spec["strategy"] ?? {}) as Json
    const ru = (strategy["rollingUpdate"] ?? {}) as Json
    const recreate = strategy["type"] === "Recreate"
    let maxSurge = recreate ? 0 : intOrPercent(ru["maxSurge"], replicas, true, "25%")
    let maxUnavailable = recreate ? 0 : intOrPercent(ru["maxUnavailable"], replicas, false, "25%")
    if (!recreate && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1
    if (maxUnavailable > replicas) maxUnavailable = replicas
    maxSurge = Math.max(0, maxSurge)
    return { replicas, maxSurge, maxUnavailable, recreate }
  }

  private sync(d0: KubeObject): void {
    const ctx = this.ctx
    const ns = d0.metadata.namespace
    let d = d0
    const spec = (d["spec"] ?? {}) as Json
    const template = (spec["template"] ?? {}) as Json
    let rss = sorted(listOwned(ctx.store, R.replicasets, ns ?? "default", d.metadata.uid))
    // adopt orphan ReplicaSets whose template matches (e.g. after an orphaning delete)
    const maxRev = rss.reduce((m, rs) => Math.max(m, rev(rs)), 0)
    let newRS = rss.find((rs) => sameTemplate(template, (rs["spec"] as Json)["template"]))
    let progressMsg: { reason: string; message: string } | undefined
    const copyAnnotations = (a: Record<string, string> | undefined): Record<string, string> => {
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!SKIP.has(k)) out[k] = v
      for (const [k, v] of Object.entries(a ?? {})) if (SKIP.has(k)) out[k] = v
      return out
    }
    if (spec["paused"] === true) {
      this.updateStatus(d, rss, newRS)
      return
    }
    if (!newRS) {
      let collision = ((d["status"] as Json | undefined)?.["collisionCount"] as number | undefined) ?? 0
      let hash = templateHash(template, collision)
      while (ctx.store.get(R.replicasets, ns, `${d.metadata.name}-${hash}`)) {
        collision++
        hash = templateHash(template, collision)
      }
      const tpl = clone(template)
      const tplMeta = (tpl["metadata"] ?? {}) as Json
      tplMeta["labels"] = { ...((tplMeta["labels"] ?? {}) as Record<string, string>), "pod-template-hash": hash }
      tpl["metadata"] = tplMeta
      const selector = clone((spec["selector"] ?? {}) as Json)
      selector["matchLabels"] = { ...((selector["matchLabels"] ?? {}) as Record<string, string>), "pod-template-hash": hash }
      const { replicas, maxSurge } = this.params(d)
      newRS = ctx.store.create(R.replicasets, {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: `${d.metadata.name}-${hash}`,
          namespace: ns ?? "default",
          labels: { ...((tplMeta["labels"] ?? {}) as Record<string, string>) },
          annotations: { ...copyAnnotations(undefined), [REVISION]: String(maxRev + 1), [DESIRED]: String(replicas), [MAX]: String(replicas + maxSurge) },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name, uid: d.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }]
        },
        spec: { replicas: 0, minReadySeconds: spec["minReadySeconds"] ?? 0, selector, template: tpl },
        status: { replicas: 0 }
      })
      if (collision) d = ctx.store.mutate(R.deployments, ns, d.metadata.name, (o) => { (o["status"] = (o["status"] ?? {}) as Json)["collisionCount"] = collision }) ?? d
      rss = [...rss, newRS]
      progressMsg = { reason: "NewReplicaSetCreated", message: `Created new replica set "${newRS.metadata.name}"` }
    } else {
      // the new RS (possibly an old one brought back by a rollback) gets the highest revision
      const r = rev(newRS)
      const others = rss.filter((x) => x !== newRS).reduce((m, x) => Math.max(m, rev(x)), 0)
      const wantRev = r > others ? r : others + 1
      const ann = copyAnnotations(newRS.metadata.annotations)
      ann[REVISION] = String(wantRev)
      if (wantRev !== r && r > 0) ann[REVISION_HISTORY] = [newRS.metadata.annotations?.[REVISION_HISTORY], String(r)].filter(Boolean).join(",")
      const minReady = spec["minReadySeconds"] ?? 0
      newRS = mutateIfChanged(ctx.store, R.replicasets, ns, newRS.metadata.name, (o) => {
        o.metadata.annotations = { ...ann }
        ;(o["spec"] as Json)["minReadySeconds"] = minReady
      }) ?? newRS
      rss = rss.map((x) => (x.metadata.name === newRS!.metadata.name ? newRS! : x))
    }
    const olds = rss.filter((x) => x.metadata.name !== newRS!.metadata.name)
    const p = this.params(d)
    if (p.recreate) {
      for (const o of olds) if (specReplicas(o) > 0) this.scale(d, o, 0)
      const oldPods = ctx.store.list(R.pods, { namespace: ns ?? "default" }).filter((pod) => olds.some((o) => ownedBy(pod, o.metadata.uid)))
      if (oldPods.length === 0 && specReplicas(newRS) !== p.replicas) newRS = this.scale(d, newRS, p.replicas)
    } else {
      // reconcileNewReplicaSet
      const all = () => [newRS!, ...olds]
      const total = () => all().reduce((a, x) => a + specReplicas(x), 0)
      const cur = specReplicas(newRS)
      if (cur > p.replicas) newRS = this.scale(d, newRS, p.replicas)
      else if (cur < p.replicas) {
        const maxTotal = p.replicas + p.maxSurge
        const scaleUpCount = Math.min(maxTotal - total(), p.replicas - cur)
        if (scaleUpCount > 0) newRS = this.scale(d, newRS, cur + scaleUpCount)
      }
      // reconcileOldReplicaSets
      const oldCount = olds.reduce((a, x) => a + specReplicas(x), 0)
      if (oldCount > 0) {
        const allPods = total()
        const minAvailable = p.replicas - p.maxUnavailable
        const newUnavailable = specReplicas(newRS) - st(newRS, "availableReplicas")
        const maxScaledDown = allPods - minAvailable - newUnavailable
        if (maxScaledDown > 0) {
          let cleaned = 0
          const oldsByAge = [...olds].sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)))
          for (let i = 0; i < oldsByAge.length; i++) {
            const o = oldsByAge[i]!
            if (cleaned >= maxScaledDown) break
            const unhealthy = specReplicas(o) - st(o, "availableReplicas")
            if (unhealthy <= 0) continue
            const n = Math.min(unhealthy, maxScaledDown - cleaned)
            oldsByAge[i] = this.scale(d, o, specReplicas(o) - n)
            cleaned += n
          }
          const available = [newRS, ...oldsByAge].reduce((a, x) => a + st(x, "availableReplicas"), 0)
          let totalDown = available - minAvailable
          for (let i = 0; i < oldsByAge.length && totalDown > 0; i++) {
            const o = oldsByAge[i]!
            const n = Math.min(specReplicas(o), totalDown)
            if (n <= 0) continue
            oldsByAge[i] = this.scale(d, o, specReplicas(o) - n)
            totalDown -= n
          }
        }
      }
    }
    this.cleanup(d)
    const fresh = ctx.store.get(R.deployments, ns, d.metadata.name)
    if (!fresh) return
    const freshRss = listOwned(ctx.store, R.replicasets, ns ?? "default", fresh.metadata.uid)
    this.updateStatus(fresh, freshRss, freshRss.find((x) => x.metadata.name === newRS!.metadata.name), progressMsg)
  }

  private cleanup(d: KubeObject): void {
    const ctx = this.ctx
    const limit = (((d["spec"] ?? {}) as Json)["revisionHistoryLimit"] as number | undefined) ?? 10
    const rss = listOwned(ctx.store, R.replicasets, d.metadata.namespace ?? "default", d.metadata.uid)
    const maxRev = rss.reduce((m, x) => Math.max(m, rev(x)), 0)
    const old = rss.filter((rs) => rev(rs) !== maxRev && specReplicas(rs) === 0 && st(rs, "replicas") === 0).sort((a, b) => rev(a) - rev(b))
    const excess = old.length - limit
    for (let i = 0; i < excess; i++) ctx.deleteObject(R.replicasets, d.metadata.namespace, old[i]!.metadata.name)
  }

  private updateStatus(d: KubeObject, rss: Array<KubeObject>, newRS: KubeObject | undefined, created?: { reason: string; message: string }): void {
    const ctx = this.ctx
    const now = ctx.now()
    const nowIso = ctx.iso()
    const spec = (d["spec"] ?? {}) as Json
    const p = this.params(d)
    const prev = (d["status"] ?? {}) as Json
    const replicas = rss.reduce((a, x) => a + st(x, "replicas"), 0)
    const updated = newRS ? st(newRS, "replicas") : 0
    const ready = rss.reduce((a, x) => a + st(x, "readyReplicas"), 0)
    const available = rss.reduce((a, x) => a + st(x, "availableReplicas"), 0)
    const deadline = (spec["progressDeadlineSeconds"] as number | undefined) ?? 600
    const complete = newRS !== undefined && updated === p.replicas && available === p.replicas && replicas === p.replicas && rss.every((x) => x === newRS || x.metadata.name === newRS.metadata.name || st(x, "replicas") === 0)
    const progressing = updated > ((prev["updatedReplicas"] as number | undefined) ?? 0) || ready > ((prev["readyReplicas"] as number | undefined) ?? 0) ||
      available > ((prev["availableReplicas"] as number | undefined) ?? 0) || replicas < ((prev["replicas"] as number | undefined) ?? 0) && updated < p.replicas
    mutateIfChanged(ctx.store, R.deployments, d.metadata.namespace, d.metadata.name, (o) => {
      if (newRS) o.metadata.annotations = { ...o.metadata.annotations, [REVISION]: String(rev(newRS)) }
      const s = (o["status"] ?? {}) as Json
      const conds = clone((s["conditions"] ?? []) as Array<Json>)
      const minAvail = available >= p.replicas - p.maxUnavailable
      setCondition(conds, "Available", minAvail ? "True" : "False", minAvail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        minAvail ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", nowIso, { update: true })
      const cur = conds.find((c) => c["type"] === "Progressing")
      const name = newRS?.metadata.name ?? ""
      if (spec["paused"] === true) {
        setCondition(conds, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", nowIso, { update: true })
      } else if (created) {
        setCondition(conds, "Progressing", "True", created.reason, created.message, nowIso, { update: true })
      } else if (complete) {
        if (!(cur && cur["reason"] === "NewReplicaSetAvailable")) setCondition(conds, "Progressing", "True", "NewReplicaSetAvailable", `ReplicaSet "${name}" has successfully progressed.`, nowIso, { update: true })
      } else if (progressing) {
        const i = conds.findIndex((c) => c["type"] === "Progressing")
        const c: Json = { type: "Progressing", status: "True", lastUpdateTime: nowIso, lastTransitionTime: cur && cur["status"] === "True" ? cur["lastTransitionTime"] : nowIso, reason: "ReplicaSetUpdated", message: `ReplicaSet "${name}" is progressing.` }
        if (i >= 0) conds[i] = c
        else conds.push(c)
      } else if (!cur && newRS) {
        setCondition(conds, "Progressing", "True", "FoundNewReplicaSet", `Found new replica set "${name}"`, nowIso, { update: true })
      } else if (cur && cur["reason"] !== "ProgressDeadlineExceeded" && cur["reason"] !== "NewReplicaSetAvailable") {
        const last = parseTime(cur["lastUpdateTime"]) ?? now
        if (now >= last + deadline * 1000) {
          setCondition(conds, "Progressing", "False", "ProgressDeadlineExceeded", `ReplicaSet "${name}" has timed out progressing.`, nowIso, { update: true })
          ctx.events.record(o as KubeObject, "Warning", "ProgressDeadlineExceeded", `Deployment "${o.metadata.name}" has timed out progressing`, COMPONENT)
        } else ctx.clock.wakeAt(last + deadline * 1000)
      } else if (cur && cur["reason"] === "NewReplicaSetAvailable" && !complete) {
        setCondition(conds, "Progressing", "True", "ReplicaSetUpdated", `ReplicaSet "${name}" is progressing.`, nowIso, { update: true })
      }
      conds.sort((a, b) => (a["type"] === "Available" ? -1 : b["type"] === "Available" ? 1 : 0))
      const next: Json = {
        observedGeneration: o.metadata.generation ?? 1,
        replicas,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: available,
        unavailableReplicas: Math.max(0, p.replicas - available),
        conditions: conds
      }
      for (const k of ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"]) if (next[k] === 0) delete next[k]
      if (s["collisionCount"] !== undefined) next["collisionCount"] = s["collisionCount"]
      o["status"] = next
    })
  }
}
