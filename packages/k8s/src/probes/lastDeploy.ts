/**
 * The last rollout of a Deployment: its current revision (`deployment.kubernetes.io/revision`),
 * when the ReplicaSet of that revision was created, and its change cause. A rollout less than
 * `regressionWindowMinutes` (default 30) before the signal is a deploy-regression candidate.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import type { DeployFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Informers from "../informers/Informers"
import { deployments, replicaSets } from "../informers/Resource"
import type * as Wire from "./wire"

const REVISION = "deployment.kubernetes.io/revision"
const CHANGE_CAUSE = "kubernetes.io/change-cause"

/** The deploy facts from a Deployment and its ReplicaSets, at `now`. */
export const deployFactsFrom = (
  deployment: Wire.Workload,
  rsList: ReadonlyArray<Wire.ReplicaSet>,
  now: number,
  regressionWindowMinutes = 30
): DeployFacts | null => {
  const revision = deployment.metadata.annotations?.[REVISION]
  if (revision === undefined) return null
  const rs = rsList.find(
    (r) => r.metadata.annotations?.[REVISION] === revision && r.metadata.ownerReferences?.some((o) => o.kind === "Deployment" && o.name === deployment.metadata.name)
  )
  const at = rs?.metadata.creationTimestamp ?? deployment.metadata.creationTimestamp
  if (at === undefined || at === null) return null
  const minutesAgo = Math.max(0, Math.round(((now - Date.parse(at)) / 60_000) * 10) / 10)
  return {
    revision,
    at,
    minutesAgo,
    changeCause: rs?.metadata.annotations?.[CHANGE_CAUSE] ?? deployment.metadata.annotations?.[CHANGE_CAUSE] ?? null,
    regressionCandidate: minutesAgo < regressionWindowMinutes
  }
}

/**
 * Reads the Deployment and its ReplicaSets (other workload kinds have no revision here: null),
 * from the shared watches' caches when open, else from the API.
 */
export const probe = (
  namespace: string,
  workload: { readonly kind: string; readonly name: string } | null,
  regressionWindowMinutes = 30
): Effect.Effect<DeployFacts | null, KubeError, Kube> =>
  Effect.gen(function*() {
    if (!workload || workload.kind !== "Deployment") return null
    const kube = yield* Kube
    const now = yield* Clock.currentTimeMillis
    const d = (yield* Informers.getOr(deployments, namespace, workload.name, kube.getDeployment(namespace, workload.name))) as unknown as Wire.Workload
    const rs = (yield* Informers.listOr(replicaSets, { namespace }, kube.listReplicaSets({ namespace }))) as unknown as ReadonlyArray<Wire.ReplicaSet>
    return deployFactsFrom(d, rs, now, regressionWindowMinutes)
  })
