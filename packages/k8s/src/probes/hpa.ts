/**
 * HPA discovery: the autoscaling/v2 HorizontalPodAutoscaler whose `scaleTargetRef` is the
 * workload → `HpaFacts`, or null when there is none.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { HpaFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Informers from "../informers/Informers"
import { hpas } from "../informers/Resource"
import type * as Wire from "./wire"

/** The HPA targeting `kind/name` among `list`, as facts. */
export const hpaFactsFrom = (list: ReadonlyArray<Wire.Hpa>, workload: { readonly kind: string; readonly name: string }): HpaFacts | null => {
  const h = list.find((x) => x.spec.scaleTargetRef.kind === workload.kind && x.spec.scaleTargetRef.name === workload.name)
  if (!h) return null
  return {
    name: h.metadata.name,
    minReplicas: h.spec.minReplicas ?? 1,
    maxReplicas: h.spec.maxReplicas,
    currentReplicas: h.status?.currentReplicas ?? h.spec.minReplicas ?? 1,
    resourceVersion: h.metadata.resourceVersion ?? ""
  }
}

/** Lists the namespace's HPAs (from a shared HPA watch's cache when one is open) and finds the workload's. */
export const probe = (namespace: string, workload: { readonly kind: string; readonly name: string }): Effect.Effect<HpaFacts | null, KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const list = yield* Informers.listOr(hpas, { namespace }, kube.listHpas({ namespace }))
    return hpaFactsFrom(list as unknown as ReadonlyArray<Wire.Hpa>, workload)
  })
