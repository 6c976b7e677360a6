/**
 * Resolving a pod to its workload: follows the controller owner reference up the chain —
 * Pod → ReplicaSet → Deployment, Pod → Job → CronJob, Pod → StatefulSet / DaemonSet — and
 * treats a bare pod as its own workload. Works on typed objects and on wire JSON from informers
 * (only `metadata` is read).
 *
 * @since 0.1.0
 */
import type { TargetRef } from "@byteport/core"
import { Effect } from "effect"
import * as Informers from "../informers/Informers"
import { replicaSets } from "../informers/Resource"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Targets from "./Targets"

/** The bits of an object's metadata the resolver reads. */
export interface OwnedObject {
  readonly metadata?: {
    readonly name?: string | undefined
    readonly namespace?: string | undefined
    readonly ownerReferences?: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly controller?: boolean | undefined }> | undefined
  } | undefined
}

/** The controller owner of an object (`controller: true`), if any. */
export const controllerOf = (obj: OwnedObject): { readonly kind: string; readonly name: string } | undefined =>
  obj.metadata?.ownerReferences?.find((o) => o.controller === true)

const LEAF_KINDS = new Set(["StatefulSet", "DaemonSet", "Deployment", "CronJob"])

/**
 * The workload of a pod: reads the ReplicaSet (or Job) when the pod's owner is one, to find the
 * Deployment (or CronJob) above it. A ReplicaSet or Job that is gone (404) is reported as itself.
 */
export const workloadOf = (
  pod: OwnedObject,
  options: { readonly container?: string | undefined } = {}
): Effect.Effect<Targets.Workload, KubeError | Targets.InvalidTargetRef, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const namespace = pod.metadata?.namespace ?? kube.defaultNamespace
    const podName = pod.metadata?.name ?? ""
    const make = (kind: string, name: string) =>
      Targets.parseWorkload(
        Targets.toTargetRef({
          _tag: "Workload",
          cluster: kube.clusterName,
          namespace,
          kind: kind as Targets.WorkloadKind,
          name,
          ...(options.container !== undefined ? { container: options.container } : {})
        })
      )
    const owner = controllerOf(pod)
    if (owner === undefined) return yield* make("Pod", podName)
    if (LEAF_KINDS.has(owner.kind)) return yield* make(owner.kind, owner.name)
    if (owner.kind === "ReplicaSet" || owner.kind === "Job") {
      const read: Effect.Effect<OwnedObject, KubeError, Kube> = owner.kind === "ReplicaSet" ? Informers.getOr(replicaSets, namespace, owner.name, kube.getReplicaSet(namespace, owner.name)) : kube.getJob(namespace, owner.name)
      const parent = yield* read.pipe(
        Effect.map((o): OwnedObject | undefined => o),
        Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined))
      )
      const top = parent !== undefined ? controllerOf(parent) : undefined
      if (top !== undefined && (top.kind === "Deployment" || top.kind === "CronJob")) return yield* make(top.kind, top.name)
      return yield* make(owner.kind, owner.name)
    }
    // an owner of a kind BytePort does not model (a custom controller): the pod is its own workload
    return yield* make("Pod", podName)
  })

/** The workload TargetRef of a pod (see `workloadOf`). */
export const workloadRefOf = (
  pod: OwnedObject,
  options: { readonly container?: string | undefined } = {}
): Effect.Effect<TargetRef.TargetRef, KubeError | Targets.InvalidTargetRef, Kube> => Effect.map(workloadOf(pod, options), Targets.toTargetRef)

/** The pod TargetRef of a pod. */
export const podRefOf = (pod: OwnedObject): Effect.Effect<TargetRef.TargetRef, Targets.InvalidTargetRef, Kube> =>
  Effect.flatMap(Kube, (kube) =>
    Effect.try({
      try: () => Targets.pod({ cluster: kube.clusterName, namespace: pod.metadata?.namespace ?? kube.defaultNamespace, name: pod.metadata?.name ?? "" }),
      catch: (e) => e as Targets.InvalidTargetRef
    })
  )
