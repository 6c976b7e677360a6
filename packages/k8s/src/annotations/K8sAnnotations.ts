/**
 * The Kubernetes `AnnotationSource` of core: an object's annotations read from the API server
 * at each call (never from an informer cache: an annotation removed a moment ago must deny), and
 * a client address traced to its workload: address → the Pod with that `status.podIP` →
 * `TargetResolver.workloadRefOf` (Pod → ReplicaSet → Deployment, Pod → StatefulSet …).
 *
 * Kinds read: Pod, Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob, Service,
 * Namespace. Other kinds (a CloudNativePG `Cluster` …) are not known to this source: it answers
 * `undefined` (denied) — configure such a database's annotations with `Annotations.configuration`
 * and combine the two with `Annotations.firstOf`.
 *
 * @since 0.1.0
 */
import { Annotations } from "@byteport/core"
import { Effect, Layer } from "effect"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import { workloadOf } from "../targets/resolve"

type Meta = { readonly metadata?: { readonly annotations?: Record<string, string> | undefined } | undefined }

const failed = (e: { readonly message: string }) => new Annotations.AnnotationSourceError({ source: "kubernetes", message: e.message })

/** The kinds this source reads. */
export const KINDS: ReadonlyArray<string> = ["Pod", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Service", "Namespace"]

/** Builds the source over a `Kube` service. */
export const make: Effect.Effect<Annotations.Shape, never, Kube> = Effect.gen(function*() {
  const kube = yield* Kube
  const get = (o: Annotations.ObjectRef): Effect.Effect<Meta, KubeError> | undefined => {
    const ns = o.namespace ?? kube.defaultNamespace
    switch (o.kind) {
      case "Pod":
        return kube.getPod(ns, o.name)
      case "Deployment":
        return kube.getDeployment(ns, o.name)
      case "StatefulSet":
        return kube.getStatefulSet(ns, o.name)
      case "ReplicaSet":
        return kube.getReplicaSet(ns, o.name)
      case "DaemonSet":
        return kube.getDaemonSet(ns, o.name)
      case "Job":
        return kube.getJob(ns, o.name)
      case "CronJob":
        return kube.read(`get CronJob ${ns}/${o.name}`, (a) => a.batch.readNamespacedCronJob({ namespace: ns, name: o.name }))
      case "Service":
        return kube.read(`get Service ${ns}/${o.name}`, (a) => a.core.readNamespacedService({ namespace: ns, name: o.name }))
      case "Namespace":
        return kube.read(`get Namespace ${o.name}`, (a) => a.core.readNamespace({ name: o.name }))
      default:
        return undefined
    }
  }
  const shape: Annotations.Shape = {
    name: "kubernetes",
    annotationsOf: (object) => {
      const read = get(object)
      if (read === undefined) return Effect.succeed(undefined)
      return read.pipe(
        Effect.map((o): Readonly<Record<string, string>> | undefined => ({ ...(o.metadata?.annotations ?? {}) })),
        Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined)),
        Effect.mapError(failed)
      )
    },
    workloadOf: (client) =>
      Effect.gen(function*() {
        if (client.address === undefined || client.address === "") return undefined
        const pods = yield* kube.listPods({ fieldSelector: `status.podIP=${client.address}` })
        // a terminated pod may keep its IP in status: only running or pending pods own an address
        const live = pods.filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed" && p.metadata?.deletionTimestamp === undefined)
        if (live.length !== 1) return undefined
        const w = yield* workloadOf(live[0]!)
        const ref: Annotations.ObjectRef = { kind: w.kind, namespace: w.namespace, name: w.name }
        return ref
      }).pipe(
        Effect.provideService(Kube, kube),
        Effect.mapError(failed)
      )
  }
  return shape
})

/** The Kubernetes source as core's `AnnotationSource`. */
export const layer: Layer.Layer<Annotations.AnnotationSource, never, Kube> = Layer.effect(Annotations.AnnotationSource, make)
