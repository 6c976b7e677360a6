/**
 * What BytePort saw of each Deployment's rollouts: the revisions it observed fully Available
 * (Available=True, observedGeneration ≥ generation, updated = ready = available = replicas =
 * spec.replicas). `k8s.deploy.failed-rollout`'s detector records every Deployment it polls; the
 * diagnoser's last-good rule prefers the newest older revision seen here. In memory, per runbook
 * instance (a restarted agent falls back to the ReplicaSet still Ready at rollout start).
 *
 * @since 0.3.0
 */
import { REVISION } from "../actions/rollbackDeployment"

/** The Deployment fields the ledger reads (wire JSON or client-node objects). */
export interface ObservedDeployment {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly generation?: number; readonly annotations?: { readonly [k: string]: string } | undefined } | undefined
  readonly spec?: { readonly replicas?: number | undefined } | undefined
  readonly status?: {
    readonly observedGeneration?: number | undefined
    readonly replicas?: number | undefined
    readonly updatedReplicas?: number | undefined
    readonly readyReplicas?: number | undefined
    readonly availableReplicas?: number | undefined
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string }> | undefined
  } | undefined
}

/** Whether a Deployment is fully Available at its current revision. */
export const fullyAvailable = (d: ObservedDeployment): boolean => {
  const want = d.spec?.replicas ?? 1
  const st = d.status
  const available = (st?.conditions ?? []).some((c) => c.type === "Available" && c.status === "True")
  return available &&
    (st?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (st?.replicas ?? 0) === want &&
    (st?.updatedReplicas ?? 0) === want &&
    (st?.readyReplicas ?? 0) === want &&
    (st?.availableReplicas ?? 0) === want
}

/** The ledger. */
export interface RolloutLedger {
  /** Records the Deployment's current revision when it is fully Available; returns whether it recorded. */
  readonly observe: (d: ObservedDeployment) => boolean
  /** The revisions of `namespace/name` seen fully Available. */
  readonly seenAvailable: (namespace: string, name: string) => ReadonlySet<number>
}

/** A new, empty ledger. */
export const make = (): RolloutLedger => {
  const seen = new Map<string, Set<number>>()
  return {
    observe: (d) => {
      const rev = Number(d.metadata?.annotations?.[REVISION])
      if (!Number.isInteger(rev) || rev < 1 || !fullyAvailable(d)) return false
      const key = `${d.metadata?.namespace ?? "default"}/${d.metadata?.name ?? ""}`
      const set = seen.get(key) ?? new Set<number>()
      set.add(rev)
      seen.set(key, set)
      return true
    },
    seenAvailable: (namespace, name) => seen.get(`${namespace}/${name}`) ?? new Set()
  }
}
