/**
 * Which target an action leases, and the bare-pod rule. Bumps and probe changes lease the
 * container (`k8s.workload` ref with the container, its workload as `parent`); rollbacks,
 * restarts, digest pins and debug logging lease the whole workload. Hierarchical leases make a
 * workload lease exclude every container lease under it, so a failed-rollout rollback and a pod
 * runbook's bump never act together, while two containers of one workload can each get a bump.
 *
 * A bare pod (no controller: the `Pod` workload kind) is never patched, restarted or deleted:
 * nothing would recreate it. Runbooks escalate instead (`barePodEscalation`), and the
 * `neverTouchBarePod` guardrail denies any pod-mutating kind on such a target, whatever runbook
 * (or custom code) planned it.
 *
 * @example
 * ```ts
 * import { Leases } from "@byteport/k8s"
 * const target = Leases.leaseTarget("k8s.rollbackDeployment", signal.target) // the whole Deployment
 * ```
 *
 * @since 0.1.0
 */
import { Guardrail, type TargetRef } from "@byteport/core"
import * as Targets from "./Targets"

/** Action kinds that change one container's spec: they lease the container. */
export const CONTAINER_KINDS: ReadonlySet<string> = new Set(["k8s.patchMemoryLimit", "k8s.loosenProbe"])

/** Action kinds that act on the whole workload: they lease the workload. */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  "k8s.rollbackDeployment",
  "k8s.rolloutRestart",
  "k8s.restartPod",
  "k8s.pinImageDigest",
  "k8s.setDebugLogging"
])

/** Kinds that change or delete a pod or its template: never on a bare pod. */
export const POD_MUTATING_KINDS: ReadonlySet<string> = new Set([...CONTAINER_KINDS, ...WORKLOAD_KINDS, "k8s.raiseHpaMinReplicas"])

/** The lease scope of an action kind: `container`, `workload`, or `undefined` for kinds this module does not know. */
export const scopeOf = (kind: string): "container" | "workload" | undefined =>
  CONTAINER_KINDS.has(kind) ? "container" : WORKLOAD_KINDS.has(kind) ? "workload" : undefined

/**
 * The target an action of `kind` leases, from a workload target (with or without container):
 * the container (with its workload as parent) for container kinds when a container is known,
 * else the whole workload. Non-workload targets and unknown kinds are returned as they are
 * (with the parent completed).
 */
export const leaseTarget = (kind: string, target: TargetRef.TargetRef, container?: string): TargetRef.TargetRef => {
  const t = Targets.parseSync(target)
  if (t instanceof Targets.InvalidTargetRef || t._tag !== "Workload") return Targets.withParent(target)
  const scope = scopeOf(kind)
  if (scope === undefined) return Targets.withParent(target)
  const whole = Targets.withoutContainer(t)
  if (scope === "workload") return Targets.toTargetRef(whole)
  const c = container ?? t.container
  return Targets.toTargetRef(c === undefined ? whole : { ...whole, container: c })
}

/** Whether a target is a bare pod's workload (`<cluster>/<ns>/Pod/<name>`). */
export const isBarePod = (target: TargetRef.TargetRef): boolean => {
  const t = Targets.parseSync(target)
  return !(t instanceof Targets.InvalidTargetRef) && t._tag === "Workload" && t.kind === "Pod"
}

/** The escalation reason for a bare pod (runbooks escalate with it instead of planning a change). */
export const barePodEscalation = (target: TargetRef.TargetRef): string =>
  `${target.ref} is a bare pod (no controller would recreate it): BytePort never patches, restarts or deletes it; fix the pod's manifest and recreate it`

/** The guardrail's name. */
export const NEVER_BARE_POD = "never_touch_bare_pod"

/** Whether an action would mutate a bare pod. */
export const mutatesBarePod = (action: { readonly kind: string; readonly target: TargetRef.TargetRef }): boolean =>
  POD_MUTATING_KINDS.has(action.kind) && isBarePod(action.target)

/** Denies every pod-mutating kind on a bare pod (`never_touch_bare_pod`). */
export const neverTouchBarePod: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => mutatesBarePod(ctx.action),
  (ctx) => `${ctx.action.kind} on ${barePodEscalation(ctx.action.target)}`,
  { name: NEVER_BARE_POD }
)
