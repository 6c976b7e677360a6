/**
 * "kubectl describe pod": the container's restart count, memory limit and request, last exit
 * reason, readiness, node, owning workload and env → `PodFacts`. Values of secret-like env vars
 * (names with PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, DSN, AUTH …, values holding URL
 * credentials) and `valueFrom` entries are dropped: only their names remain.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { PodFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Quantity from "../Quantity"
import * as Informers from "../informers/Informers"
import { deployments, pods, replicaSets } from "../informers/Resource"
import * as Wire from "./wire"

/** Env var names whose values are never kept. */
export const SECRET_NAME = /(pass|secret|token|key|credential|dsn|auth|private|cert|session|cookie|signature)/i

/** Values that carry credentials even under an innocent name (`scheme://user:pass@host`). */
export const SECRET_VALUE = /:\/\/[^/\s:@]+:[^/\s@]+@|-----BEGIN [A-Z ]*PRIVATE KEY-----/

/** Drops the values of secret-like env vars and `valueFrom` entries (names stay). */
export const redactEnv = (env: ReadonlyArray<Wire.Pod["spec"]["containers"][number]["env"] extends infer E ? E extends ReadonlyArray<infer X> ? X : never : never>): PodFacts["env"] =>
  env.map((e) => (e.value === undefined || SECRET_NAME.test(e.name) || SECRET_VALUE.test(e.value) ? { name: e.name } : { name: e.name, value: e.value }))

/** The container to look at: the named one, else the first. */
export const containerName = (pod: Wire.Pod, container?: string): string => container ?? pod.spec.containers[0]?.name ?? ""

/**
 * `PodFacts` from a wire Pod, the container, and the owning workload (kind, name, resourceVersion)
 * when the caller resolved it.
 */
export const podFactsFrom = (
  pod: Wire.Pod,
  container: string | undefined,
  workload: PodFacts["workload"]
): PodFacts => {
  const name = containerName(pod, container)
  const sidecar = Wire.isSidecar(pod, name)
  const spec = (sidecar ? pod.spec.initContainers ?? [] : pod.spec.containers).find((c) => c.name === name)
  const status = Wire.runningStatuses(pod).find((c) => c.name === name)
  const term = status?.lastState?.terminated ?? status?.state?.terminated
  return {
    namespace: pod.metadata.namespace ?? "default",
    pod: pod.metadata.name,
    container: name,
    node: pod.spec.nodeName ?? null,
    restartCount: status?.restartCount ?? 0,
    memoryLimitBytes: Quantity.parse(spec?.resources?.limits?.["memory"]) ?? null,
    memoryRequestBytes: Quantity.parse(spec?.resources?.requests?.["memory"]) ?? null,
    lastTermination: term ? { reason: term.reason ?? null, exitCode: term.exitCode ?? null, finishedAt: term.finishedAt ?? null } : null,
    ready: status?.ready ?? false,
    workload,
    env: redactEnv(spec?.env ?? []),
    ...(sidecar ? { sidecar: true } : {})
  }
}

/**
 * Reads a pod as wire JSON: from the shared pod watch's cache when it holds the pod, else one
 * GET (typed client-node objects are serialized back).
 */
export const getPodWire = (namespace: string, name: string): Effect.Effect<Wire.Pod, KubeError, Kube> =>
  Effect.flatMap(Kube, (kube) => Effect.map(Informers.getOr(pods, namespace, name, kube.getPod(namespace, name)), (p) => p as unknown as Wire.Pod))

/**
 * The owning Deployment/StatefulSet (kind, name, resourceVersion) of a pod, following ReplicaSet →
 * Deployment; ReplicaSets and Deployments come from the shared watches' caches when open.
 */
export const ownerWorkload = (pod: Wire.Pod): Effect.Effect<PodFacts["workload"], KubeError, Kube> =>
  Effect.gen(function*() {
    const kube = yield* Kube
    const ns = pod.metadata.namespace ?? "default"
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true)
    if (!owner) return null
    if (owner.kind === "ReplicaSet") {
      const rs = yield* Informers.getOr(replicaSets, ns, owner.name, kube.getReplicaSet(ns, owner.name))
      const top = rs.metadata?.ownerReferences?.find((o) => o.controller === true)
      if (top?.kind === "Deployment") {
        const d = yield* Informers.getOr(deployments, ns, top.name, kube.getDeployment(ns, top.name))
        return { kind: "Deployment", name: top.name, resourceVersion: d.metadata?.resourceVersion ?? "" }
      }
      return { kind: "ReplicaSet", name: owner.name, resourceVersion: rs.metadata?.resourceVersion ?? "" }
    }
    if (owner.kind === "StatefulSet") {
      const s = yield* kube.getStatefulSet(ns, owner.name)
      return { kind: "StatefulSet", name: owner.name, resourceVersion: s.metadata?.resourceVersion ?? "" }
    }
    return { kind: owner.kind, name: owner.name, resourceVersion: "" }
  })

/**
 * The workload a pod belongs to, from its own metadata alone (no API read): a ReplicaSet owner
 * named `<deployment>-<pod-template-hash>` gives the Deployment's name, a StatefulSet owner its
 * name; anything else (or a bare pod) gives null. Used to scope the Prometheus trend when the
 * owner itself cannot be read.
 */
export const workloadHint = (pod: Wire.Pod): { readonly kind: string; readonly name: string } | null => {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller === true)
  if (!owner) return null
  const hash = pod.metadata.labels?.["pod-template-hash"]
  if (owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`)) return { kind: "Deployment", name: owner.name.slice(0, -hash.length - 1) }
  return { kind: owner.kind, name: owner.name }
}

/**
 * The describe-pod probe: reads the pod and, best effort, its workload. The pod's memory facts
 * never depend on the owner: when the owner cannot be read (deleted, 404, RBAC without `get
 * deployments`/`replicasets`) the pod fact is still Known, with `workload: null`, and the
 * separate {@link owner} fact is Unknown with the reason.
 */
export const probe = (namespace: string, pod: string, container?: string): Effect.Effect<PodFacts, KubeError, Kube> =>
  Effect.gen(function*() {
    const p = yield* getPodWire(namespace, pod)
    const w = yield* ownerWorkload(p).pipe(Effect.orElseSucceed(() => null))
    return podFactsFrom(p, container, w)
  })

/**
 * The owner probe: the pod's owning workload (null for a bare pod). Fails alone — a 404 on the
 * Deployment or a 403 on ReplicaSets makes this fact Unknown and nothing else.
 */
export const owner = (namespace: string, pod: string): Effect.Effect<PodFacts["workload"], KubeError, Kube> =>
  Effect.flatMap(getPodWire(namespace, pod), ownerWorkload)
