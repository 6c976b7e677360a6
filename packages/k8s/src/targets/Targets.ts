/**
 * Kubernetes TargetRefs. An incident is about a workload, not a pod: ten OOM-killed replicas of
 * one Deployment are ONE target, so they are one incident under one lease.
 *
 * | `TargetRef.kind` | `ref` format | example |
 * |---|---|---|
 * | `k8s.workload` | `<cluster>/<namespace>/<Kind>/<name>[/<container>]` | `prod-eu/shop/Deployment/web/app` |
 * | `k8s.pod` | `<cluster>/<namespace>/<name>` | `prod-eu/shop/web-7d9f-abcde` |
 * | `k8s.node` | `<cluster>/<name>` | `prod-eu/node-3` |
 *
 * `<Kind>` is one of Deployment, StatefulSet, DaemonSet, ReplicaSet (a ReplicaSet without a
 * Deployment), Job, CronJob, or Pod (a bare pod is its own workload). Namespaces and names are
 * DNS-1123 names (no `/`), so the format is unambiguous; the cluster name must not contain `/`.
 * `parse` turns a TargetRef back into its typed form or fails with `InvalidTargetRef`.
 *
 * A workload ref with a container declares the whole workload as its `parent`, so an incident
 * on one container and one on its workload never run at once (hierarchical leases); `parent`
 * adds the parent to any workload ref that lacks it.
 *
 * @since 0.1.0
 */
import { TargetRef } from "@byteport/core"
import { Effect, Schema } from "effect"

/** The `TargetRef.kind` of workloads. */
export const WORKLOAD = "k8s.workload"
/** The `TargetRef.kind` of pods. */
export const POD = "k8s.pod"
/** The `TargetRef.kind` of nodes. */
export const NODE = "k8s.node"

const SEGMENT = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const CLUSTER = /^[^/\s]+$/

const name = Schema.String.check(Schema.isPattern(SEGMENT))
const cluster = Schema.String.check(Schema.isPattern(CLUSTER))

/** The workload kinds a pod can belong to. */
export const WorkloadKind = Schema.Literals(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"])

/** A workload kind. */
export type WorkloadKind = typeof WorkloadKind.Type

/** A workload: the owner at the top of a pod's controller chain, optionally narrowed to one container. */
export const Workload = Schema.Struct({
  _tag: Schema.tag("Workload"),
  cluster,
  namespace: name,
  kind: WorkloadKind,
  name,
  container: Schema.optionalKey(name)
})

/** A workload target. */
export type Workload = typeof Workload.Type

/** One pod. */
export const Pod = Schema.Struct({
  _tag: Schema.tag("Pod"),
  cluster,
  namespace: name,
  name
})

/** A pod target. */
export type Pod = typeof Pod.Type

/** One node. */
export const Node = Schema.Struct({
  _tag: Schema.tag("Node"),
  cluster,
  name
})

/** A node target. */
export type Node = typeof Node.Type

/** Any Kubernetes target. */
export const K8sTarget = Schema.Union([Workload, Pod, Node])

/** Any Kubernetes target. */
export type K8sTarget = typeof K8sTarget.Type

/** A TargetRef that is not a well-formed Kubernetes target. */
export class InvalidTargetRef extends Schema.TaggedError<InvalidTargetRef>()("InvalidTargetRef", {
  kind: Schema.String,
  ref: Schema.String,
  message: Schema.String
}) {}

const check = (kind: string, ref: string, fields: Record<string, unknown>, schema: Schema.Decoder<K8sTarget>): K8sTarget | InvalidTargetRef => {
  const r = Schema.decodeUnknownExit(schema)(fields)
  if (r._tag === "Success") return r.value
  return new InvalidTargetRef({ kind, ref, message: `invalid ${kind} ref ${JSON.stringify(ref)}: ${String(r.cause).split("\n")[0]}` })
}

const orThrow = <A>(x: A | InvalidTargetRef): A => {
  if (x instanceof InvalidTargetRef) throw x
  return x
}

/** The TargetRef of a workload (throws `InvalidTargetRef` on a malformed name; use `decode` for untrusted input). */
export const workload = (w: Omit<Workload, "_tag">): TargetRef.TargetRef => toTargetRef(orThrow(check(WORKLOAD, "", { _tag: "Workload", ...w }, Workload)))

/** The TargetRef of a pod. */
export const pod = (p: Omit<Pod, "_tag">): TargetRef.TargetRef => toTargetRef(orThrow(check(POD, "", { _tag: "Pod", ...p }, Pod)))

/** The TargetRef of a node. */
export const node = (n: Omit<Node, "_tag">): TargetRef.TargetRef => toTargetRef(orThrow(check(NODE, "", { _tag: "Node", ...n }, Node)))

/** Renders a typed target as a core TargetRef. */
export const toTargetRef = (t: K8sTarget): TargetRef.TargetRef => {
  switch (t._tag) {
    case "Workload": {
      const whole = `${t.cluster}/${t.namespace}/${t.kind}/${t.name}`
      // a container's parent is its workload: their leases exclude each other
      return t.container === undefined
        ? TargetRef.make(WORKLOAD, whole)
        : TargetRef.make(WORKLOAD, `${whole}/${t.container}`, TargetRef.make(WORKLOAD, whole))
    }
    case "Pod":
      return TargetRef.make(POD, `${t.cluster}/${t.namespace}/${t.name}`)
    case "Node":
      return TargetRef.make(NODE, `${t.cluster}/${t.name}`)
  }
}

/** Parses a TargetRef into a typed target; `InvalidTargetRef` names what is wrong. */
export const parseSync = (target: TargetRef.TargetRef): K8sTarget | InvalidTargetRef => {
  const parts = target.ref.split("/")
  const bad = (message: string) => new InvalidTargetRef({ kind: target.kind, ref: target.ref, message: `invalid ${target.kind} ref ${JSON.stringify(target.ref)}: ${message}` })
  switch (target.kind) {
    case WORKLOAD: {
      if (parts.length !== 4 && parts.length !== 5) return bad("expected <cluster>/<namespace>/<Kind>/<name>[/<container>]")
      const [c, ns, kind, n, container] = parts
      return check(target.kind, target.ref, { _tag: "Workload", cluster: c, namespace: ns, kind, name: n, ...(container !== undefined ? { container } : {}) }, Workload)
    }
    case POD: {
      if (parts.length !== 3) return bad("expected <cluster>/<namespace>/<name>")
      const [c, ns, n] = parts
      return check(target.kind, target.ref, { _tag: "Pod", cluster: c, namespace: ns, name: n }, Pod)
    }
    case NODE: {
      if (parts.length !== 2) return bad("expected <cluster>/<name>")
      const [c, n] = parts
      return check(target.kind, target.ref, { _tag: "Node", cluster: c, name: n }, Node)
    }
    default:
      return bad(`unknown kind (expected ${WORKLOAD}, ${POD} or ${NODE})`)
  }
}

/** Parses a TargetRef into a typed target, failing with `InvalidTargetRef`. */
export const parse = (target: TargetRef.TargetRef): Effect.Effect<K8sTarget, InvalidTargetRef> => {
  const r = parseSync(target)
  return r instanceof InvalidTargetRef ? Effect.fail(r) : Effect.succeed(r)
}

/** Parses a TargetRef that must be a workload. */
export const parseWorkload = (target: TargetRef.TargetRef): Effect.Effect<Workload, InvalidTargetRef> =>
  Effect.flatMap(parse(target), (t) =>
    t._tag === "Workload" ? Effect.succeed(t) : Effect.fail(new InvalidTargetRef({ kind: target.kind, ref: target.ref, message: `expected a ${WORKLOAD} target, got ${target.kind}` }))
  )

/**
 * The target with its parent declared: a `k8s.workload` ref with a container gets its workload
 * as parent (refs built here already have it; this completes refs read from elsewhere). Other
 * targets are returned as they are.
 */
export const withParent = (target: TargetRef.TargetRef): TargetRef.TargetRef => {
  if (target.kind !== WORKLOAD || target.parent !== undefined) return target
  const t = parseSync(target)
  return t instanceof InvalidTargetRef ? target : toTargetRef(t)
}

/** A workload without its container (the whole Deployment, for restarts and guardrail keys). */
export const withoutContainer = (w: Workload): Workload => {
  const { container: _c, ...rest } = w
  return rest
}
