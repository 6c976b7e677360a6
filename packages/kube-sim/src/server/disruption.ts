/**
 * PodDisruptionBudgets: status maintenance (currentHealthy, desiredHealthy, disruptionsAllowed,
 * expectedPods, conditions) kept in step with pods by a store subscription, and the eviction
 * subresource's decision logic with the apiserver's messages.
 */
import type { MemoryStore } from "../store/MemoryStore"
import { Keys } from "../store/registry"
import { rfc3339 } from "../store/random"
import { fromStructured, matchesLabels } from "../store/selectors"
import type { StructuredSelector } from "../store/selectors"
import type { KubeObject } from "../store/types"
import { ApiError, badRequest, conflict, notFound } from "./status"

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

/** Whether a pod is Ready (condition Ready=True) and not terminating. */
export const isHealthy = (pod: KubeObject): boolean => {
  if (pod.metadata.deletionTimestamp !== undefined) return false
  const status = isObj(pod["status"]) ? pod["status"] : {}
  const conds = Array.isArray(status["conditions"]) ? status["conditions"] : []
  return conds.some((c) => isObj(c) && c["type"] === "Ready" && c["status"] === "True")
}

/** Pods of the PDB's namespace its selector matches (a null selector matches none, `{}` all). */
export const podsFor = (store: MemoryStore, pdb: KubeObject): Array<KubeObject> => {
  const spec = isObj(pdb["spec"]) ? pdb["spec"] : {}
  const sel = spec["selector"]
  if (!isObj(sel)) return []
  const reqs = fromStructured(sel as StructuredSelector)
  return store.scan(Keys.pods, pdb.metadata.namespace).map((e) => e.obj).filter((p) => matchesLabels(reqs, p.metadata.labels))
}

const scaled = (v: unknown, total: number, roundUp: boolean): number => {
  if (typeof v === "number") return v
  if (typeof v === "string" && v.endsWith("%")) {
    const pct = Number(v.slice(0, -1))
    const x = (pct * total) / 100
    return roundUp ? Math.ceil(x) : Math.floor(x)
  }
  return Number(v) || 0
}

const expectedFromControllers = (store: MemoryStore, pods: ReadonlyArray<KubeObject>): number => {
  const seen = new Set<string>()
  let total = 0
  for (const p of pods) {
    const ref = (p.metadata.ownerReferences ?? []).find((r) => r.controller)
    if (!ref) {
      total += 1
      continue
    }
    const ns = p.metadata.namespace
    let scaleKey = `${ref.kind}/${ref.name}`
    let replicas: unknown
    if (ref.kind === "ReplicaSet") {
      const rs = store.entry(Keys.replicasets, ns, ref.name)?.obj
      const dref = (rs?.metadata.ownerReferences ?? []).find((r) => r.controller && r.kind === "Deployment")
      if (dref) {
        scaleKey = `Deployment/${dref.name}`
        replicas = (store.entry(Keys.deployments, ns, dref.name)?.obj["spec"] as Obj | undefined)?.["replicas"]
      } else replicas = (rs?.["spec"] as Obj | undefined)?.["replicas"]
    } else if (ref.kind === "StatefulSet") {
      replicas = (store.entry(Keys.statefulsets, ns, ref.name)?.obj["spec"] as Obj | undefined)?.["replicas"]
    } else if (ref.kind === "Deployment") {
      replicas = (store.entry(Keys.deployments, ns, ref.name)?.obj["spec"] as Obj | undefined)?.["replicas"]
    } else {
      total += 1
      continue
    }
    if (seen.has(scaleKey)) continue
    seen.add(scaleKey)
    total += typeof replicas === "number" ? replicas : 1
  }
  return total
}

/** Computes a PDB's status from the current pods (keeps transition times of unchanged conditions). */
export const computeStatus = (store: MemoryStore, pdb: KubeObject): Obj => {
  const spec = isObj(pdb["spec"]) ? pdb["spec"] : {}
  const pods = podsFor(store, pdb)
  const currentHealthy = pods.filter(isHealthy).length
  let expectedPods: number
  let desiredHealthy: number
  if (spec["maxUnavailable"] !== undefined) {
    expectedPods = expectedFromControllers(store, pods)
    desiredHealthy = expectedPods - scaled(spec["maxUnavailable"], expectedPods, true)
  } else if (typeof spec["minAvailable"] === "string") {
    expectedPods = expectedFromControllers(store, pods)
    desiredHealthy = scaled(spec["minAvailable"], expectedPods, true)
  } else {
    expectedPods = pods.length
    desiredHealthy = typeof spec["minAvailable"] === "number" ? spec["minAvailable"] : 1
  }
  desiredHealthy = Math.max(0, desiredHealthy)
  const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy)
  const old = isObj(pdb["status"]) ? pdb["status"] : {}
  const oldCond = (Array.isArray(old["conditions"]) ? old["conditions"] : []).find((c) => isObj(c) && c["type"] === "DisruptionAllowed") as Obj | undefined
  const condStatus = disruptionsAllowed > 0 ? "True" : "False"
  const live = new Set(pods.filter((p) => p.metadata.deletionTimestamp === undefined).map((p) => p.metadata.name))
  const disrupted = Object.fromEntries(
    Object.entries(isObj(old["disruptedPods"]) ? old["disruptedPods"] : {}).filter(([k]) => live.has(k))
  )
  return {
    ...(Object.keys(disrupted).length > 0 ? { disruptedPods: disrupted } : {}),
    observedGeneration: pdb.metadata.generation ?? 1,
    currentHealthy,
    desiredHealthy,
    disruptionsAllowed,
    expectedPods,
    conditions: [
      {
        type: "DisruptionAllowed",
        status: condStatus,
        reason: disruptionsAllowed > 0 ? "SufficientPods" : "InsufficientPods",
        message: "",
        observedGeneration: pdb.metadata.generation ?? 1,
        lastTransitionTime: oldCond && oldCond["status"] === condStatus && typeof oldCond["lastTransitionTime"] === "string"
          ? oldCond["lastTransitionTime"]
          : rfc3339(store.now())
      }
    ]
  }
}

/** Recomputes and stores the status of every PDB in a namespace (no-op writes are skipped by the store). */
export const reconcileNamespace = (store: MemoryStore, namespace: string | undefined): void => {
  for (const e of store.scan(Keys.poddisruptionbudgets, namespace)) {
    const status = computeStatus(store, e.obj)
    store.mutate(Keys.poddisruptionbudgets, e.obj.metadata.namespace, e.obj.metadata.name, (o) => {
      o["status"] = status
    })
  }
}

/** Keeps PDB status current as pods, PDBs and workloads change; returns an unsubscribe. */
export const install = (store: MemoryStore): (() => void) =>
  store.subscribeRecords((r) => {
    const res = r.key.resource
    if (r.key.group === "" && res === "pods") reconcileNamespace(store, r.obj.metadata.namespace)
    else if (r.key.group === "policy" && res === "poddisruptionbudgets") {
      if (r.type !== "DELETED") {
        const status = computeStatus(store, r.obj)
        store.mutate(Keys.poddisruptionbudgets, r.obj.metadata.namespace, r.obj.metadata.name, (o) => {
          o["status"] = status
        })
      }
    } else if (r.key.group === "apps" && (res === "replicasets" || res === "deployments" || res === "statefulsets")) {
      reconcileNamespace(store, r.obj.metadata.namespace)
    }
  })

/** The Status answered by a successful eviction. */
export const EVICTION_SUCCESS = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 }

const tooMany = (message: string, cause: string): ApiError =>
  new ApiError(429, "TooManyRequests", message, { causes: [{ reason: "DisruptionBudget", message: cause }] })

/**
 * Handles POST pods/{name}/eviction. Throws ApiError 404/400/409/429/500 like the apiserver;
 * on success the pod is deleted (gracefully when the store says so).
 */
export const evict = (store: MemoryStore, namespace: string, name: string, body: unknown, dryRun: boolean): void => {
  const ev = isObj(body) ? body : {}
  const meta = isObj(ev["metadata"]) ? ev["metadata"] : {}
  if (meta["name"] !== undefined && meta["name"] !== name) throw badRequest("name in URL does not match name in Eviction object")
  const pod = store.entry(Keys.pods, namespace, name)?.obj
  if (!pod) throw notFound(Keys.pods, name)
  const opts = isObj(ev["deleteOptions"]) ? ev["deleteOptions"] : {}
  const pre = isObj(opts["preconditions"]) ? opts["preconditions"] : {}
  if (typeof pre["uid"] === "string" && pre["uid"] !== pod.metadata.uid) {
    throw conflict(Keys.pods, name, `Precondition failed: UID in precondition: ${pre["uid"]}, UID in object meta: ${pod.metadata.uid}`)
  }
  if (typeof pre["resourceVersion"] === "string" && pre["resourceVersion"] !== pod.metadata.resourceVersion) {
    throw conflict(Keys.pods, name, `Precondition failed: ResourceVersion in precondition: ${pre["resourceVersion"]}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`)
  }
  const dryRunOpt = Array.isArray(opts["dryRun"]) && opts["dryRun"].includes("All")
  const dry = dryRun || dryRunOpt
  const grace = typeof opts["gracePeriodSeconds"] === "number" ? opts["gracePeriodSeconds"] : undefined
  const del = () => {
    if (!dry) store.requestDelete(Keys.pods, namespace, name, grace === undefined ? {} : { gracePeriodSeconds: grace })
  }
  const phase = isObj(pod["status"]) ? pod["status"]["phase"] : undefined
  if (pod.metadata.deletionTimestamp !== undefined || phase === "Succeeded" || phase === "Failed" || phase === "Pending") {
    del()
    return
  }
  const pdbs = store.scan(Keys.poddisruptionbudgets, namespace).map((e) => e.obj).filter((pdb) => {
    const sel = isObj(pdb["spec"]) ? pdb["spec"]["selector"] : undefined
    return isObj(sel) && matchesLabels(fromStructured(sel as StructuredSelector), pod.metadata.labels)
  })
  if (pdbs.length === 0) {
    del()
    return
  }
  if (pdbs.length > 1) {
    throw new ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
  }
  const pdb = pdbs[0]!
  const status = computeStatus(store, pdb)
  const desired = status["desiredHealthy"] as number
  const current = status["currentHealthy"] as number
  const spec = isObj(pdb["spec"]) ? pdb["spec"] : {}
  if (!isHealthy(pod)) {
    if (spec["unhealthyPodEvictionPolicy"] === "AlwaysAllow" || (current >= desired && desired > 0)) {
      del()
      return
    }
  }
  if ((status["disruptionsAllowed"] as number) <= 0) {
    throw tooMany(
      "Cannot evict pod as it would violate the pod's disruption budget.",
      `The disruption budget ${pdb.metadata.name} needs ${desired} healthy pods and has ${current} currently`
    )
  }
  if (dry) return
  store.mutate(Keys.poddisruptionbudgets, namespace, pdb.metadata.name, (o) => {
    const s = (isObj(o["status"]) ? o["status"] : {}) as Obj
    s["disruptionsAllowed"] = Math.max(0, (s["disruptionsAllowed"] as number ?? 1) - 1)
    s["disruptedPods"] = { ...(isObj(s["disruptedPods"]) ? s["disruptedPods"] : {}), [name]: rfc3339(store.now()) }
    o["status"] = s
  })
  del()
}
