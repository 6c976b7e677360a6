/**
 * `k8s.restartPod`: deletes one not-Ready pod of a controlled workload so its controller
 * replaces it (the pod's back-off is reset: a fixed dependency or secret is picked up now, not
 * after a 5-minute CrashLoopBackOff). `Kube.deletePod` with a uid precondition: a replacement
 * pod with the same name is never deleted. `dryRun=All` in dry_run; a `PodRestarted` Event on
 * the pod otherwise.
 *
 * Target: a `k8s.pod` TargetRef. `observe`: the pod with the planned uid is gone or terminating
 * → applied; still there and not terminating → not applied; unreadable → unknown.
 *
 * An OnDelete StatefulSet roll (`roll` param, k8s.oom.exit-137): the patched template reaches a
 * pod only when it is recreated, so a Ready pod may be deleted — only when it is a StatefulSet's
 * pod that still runs another memory limit than `roll.limitBytes` on `roll.container`, and no
 * other pod of that StatefulSet that already runs `roll.limitBytes` (a replacement of this roll)
 * is terminating or not Ready (one pod at a time: the next goes only once the previous is back;
 * siblings still on the previous limit that crash are down for the incident's own reason).
 *
 * Guardrails (on the kind):
 * - `never_restart_ready_or_bare_pod` — never a Ready pod (except the roll above), never a pod
 *   without a controller (nothing would recreate it), never one whose uid is not the planned one
 *   (read live; unreadable denies);
 * - `pod_restarts_per_pod(3/1h)` — at most 3 per pod name per hour.
 *
 * @since 0.3.0
 */
import { ActionHandler, Guardrail } from "@byteport/core"
import type { V1Pod } from "@kubernetes/client-node"
import { Effect, Schema } from "effect"
import * as EventRecorder from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as Quantity from "../Quantity"
import * as Targets from "../targets/Targets"

/** The action kind. */
export const KIND = "k8s.restartPod"

/** The params. */
export const Params = Schema.Struct({
  /** The uid of the pod the plan saw (the delete precondition). */
  uid: Schema.String.check(Schema.isNonEmpty()),
  reason: Schema.String,
  /** An OnDelete StatefulSet roll: the pod may be Ready while `container` runs another limit than `limitBytes`. */
  roll: Schema.optionalKey(Schema.Struct({ container: Schema.String, limitBytes: Schema.Finite }))
})

/** The params. */
export type Params = typeof Params.Type

/** The roll of an OnDelete StatefulSet's pod to its patched template. */
export type Roll = NonNullable<Params["roll"]>

/** Whether a pod is Ready (condition Ready=True). */
export const isReady = (p: V1Pod): boolean => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")

/** Whether a pod has a controller owner (something recreates it). */
export const isControlled = (p: V1Pod): boolean => (p.metadata?.ownerReferences ?? []).some((o) => o.controller === true)

const podTarget = (kind: string, target: Parameters<typeof Targets.parse>[0]) =>
  Effect.gen(function*() {
    const t = yield* Targets.parse(target).pipe(Effect.mapError((e) => new ActionHandler.ActionFailed({ kind, message: e.message })))
    if (t._tag !== "Pod") return yield* new ActionHandler.ActionFailed({ kind, message: `${kind} needs a ${Targets.POD} target, not ${t._tag}` })
    return t
  })

/** The memory limit (bytes) `container` of a pod runs (an app or a native sidecar container); undefined when unset. */
export const memoryLimitOf = (p: V1Pod, container: string): number | undefined => {
  const c = [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((x) => x.name === container)
  return Quantity.parse(c?.resources?.limits?.["memory"])
}

const statefulSetOf = (p: V1Pod): string | undefined => (p.metadata?.ownerReferences ?? []).find((o) => o.controller === true && o.kind === "StatefulSet")?.name

/**
 * Why a pod may not be restarted (undefined: it may). With `roll`, a Ready pod may go when it is
 * a StatefulSet's pod still on another limit and `siblingsNotReady` (the StatefulSet's other
 * pods on the roll's limit that are not Ready or terminating) is empty.
 */
export const refusal = (p: V1Pod, uid: string, roll?: Roll, siblingsNotReady: ReadonlyArray<string> = []): string | undefined => {
  const name = `${p.metadata?.namespace}/${p.metadata?.name}`
  if (p.metadata?.uid !== uid) return `pod ${name} is uid ${p.metadata?.uid}, not the planned ${uid} (replaced)`
  if (!isControlled(p)) return `pod ${name} has no controller: nothing would recreate it`
  if (!isReady(p)) return undefined
  if (roll === undefined) return `pod ${name} is Ready`
  if (statefulSetOf(p) === undefined) return `pod ${name} is Ready and no StatefulSet's pod: only OnDelete StatefulSet pods are rolled`
  if (memoryLimitOf(p, roll.container) === roll.limitBytes) return `pod ${name} is Ready and already runs the limit ${Quantity.formatBytes(roll.limitBytes)} on ${roll.container}`
  if (siblingsNotReady.length > 0) return `pod ${name} is Ready and ${siblingsNotReady.join(", ")} of its StatefulSet ${siblingsNotReady.length === 1 ? "is" : "are"} not: one pod at a time`
  return undefined
}

/**
 * The other pods of `p`'s StatefulSet that already run the roll's limit (its replacements) and are
 * not Ready, or are terminating (empty for a pod that is not Ready or no StatefulSet's).
 */
export const siblingsNotReady = (p: V1Pod, roll: Roll) =>
  Effect.gen(function*() {
    const sts = statefulSetOf(p)
    if (sts === undefined || !isReady(p)) return [] as ReadonlyArray<string>
    const kube = yield* Kube
    const pods = yield* kube.listPods({ namespace: p.metadata?.namespace ?? "default" })
    return pods
      .filter((x) => x.metadata?.name !== p.metadata?.name && statefulSetOf(x) === sts)
      .filter((x) => (x.metadata?.deletionTimestamp ?? undefined) !== undefined || (!isReady(x) && memoryLimitOf(x, roll.container) === roll.limitBytes))
      .map((x) => x.metadata?.name ?? "")
  })

/** Never a Ready pod, a bare pod or a replaced pod. */
export const neverReadyOrBare: Guardrail.Guardrail<Kube> = Guardrail.make<Kube>({
  name: "never_restart_ready_or_bare_pod",
  recheckOnResume: true,
  check: (ctx) =>
    Effect.gen(function*() {
      const t = Targets.parseSync(ctx.action.target)
      if (t instanceof Targets.InvalidTargetRef || t._tag !== "Pod") return Guardrail.deny(`never_restart_ready_or_bare_pod: ${KIND} needs a ${Targets.POD} target`)
      const kube = yield* Kube
      const live = yield* Effect.result(kube.getPod(t.namespace, t.name))
      if (live._tag === "Failure") return Guardrail.deny(`never_restart_ready_or_bare_pod: could not read pod ${t.namespace}/${t.name} (${live.failure._tag})`)
      const decoded = Schema.decodeUnknownOption(Params)(ctx.action.params)
      const roll = decoded._tag === "Some" ? decoded.value.roll : undefined
      const siblings = roll === undefined ? undefined : yield* Effect.result(siblingsNotReady(live.success, roll))
      if (siblings?._tag === "Failure") return Guardrail.deny(`never_restart_ready_or_bare_pod: could not list the pods of ${t.namespace}/${t.name}'s StatefulSet (${siblings.failure._tag})`)
      const why = refusal(live.success, String(ctx.action.params["uid"] ?? ""), roll, siblings?.success ?? [])
      return why === undefined ? Guardrail.pass : Guardrail.deny(`never_restart_ready_or_bare_pod: ${why}`)
    })
})

/** Options of the handler. */
export interface Options {
  /** Restarts per pod per hour (default 3). */
  readonly perHour?: number | undefined
}

/** The handler. */
export const make = (o: Options = {}): ActionHandler.ActionHandler<Kube | EventRecorder.EventRecorder> =>
  ActionHandler.make<Params, Kube | EventRecorder.EventRecorder>({
    kind: KIND,
    params: Params,
    guardrails: [
      neverReadyOrBare,
      Guardrail.rateLimit({ name: `pod_restarts_per_pod(${o.perHour ?? 3}/1h)`, key: Guardrail.keys.perTarget(KIND), max: o.perHour ?? 3, window: "1 hour" })
    ],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const t = yield* podTarget(KIND, ctx.action.target)
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, ...(conflict ? { conflict } : {}) })
        const live = yield* kube.getPod(t.namespace, t.name).pipe(Effect.mapError((e) => fail(`read pod ${t.namespace}/${t.name}: ${e._tag}: ${e.message}`, e._tag === "KubeNotFound")))
        const siblings = p.roll === undefined ? [] : yield* siblingsNotReady(live, p.roll).pipe(Effect.mapError((e) => fail(`list the pods of ${t.namespace}/${t.name}'s StatefulSet: ${e._tag}: ${e.message}`)))
        const why = refusal(live, p.uid, p.roll, siblings)
        if (why !== undefined) return yield* fail(why, live.metadata?.uid !== p.uid)
        const what = isReady(live) ? `the Ready pod still on the previous limit (OnDelete roll to ${Quantity.formatBytes(p.roll?.limitBytes ?? 0)})` : "the not-Ready pod"
        yield* kube.deletePod(t.namespace, t.name, { uid: p.uid }, { dryRun: ctx.dryRun }).pipe(
          Effect.mapError((e) => fail(`delete pod ${t.namespace}/${t.name}: ${e._tag}: ${e.message}`, e._tag === "KubeConflict" || e._tag === "KubeNotFound"))
        )
        yield* EventRecorder.recordEvent(live, "PodRestarted", `BytePort deleted ${what} for its controller to replace (${p.reason}; incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "Pod",
          apiVersion: "v1",
          action: "Delete"
        })
        return {
          detail: ctx.dryRun ? `would delete ${what} ${t.namespace}/${t.name} (uid ${p.uid}; dryRun=All accepted)` : `deleted ${what} ${t.namespace}/${t.name} (uid ${p.uid}) for its controller to replace`,
          result: { pod: t.name, namespace: t.namespace, uid: p.uid, dryRun: ctx.dryRun }
        }
      }),
    observe: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const t = yield* podTarget(KIND, ctx.action.target)
        const live = yield* Effect.result(kube.getPod(t.namespace, t.name))
        if (live._tag === "Failure") {
          return live.failure._tag === "KubeNotFound" ? ActionHandler.applied(`pod ${t.namespace}/${t.name} is gone`) : ActionHandler.unknown(`pod ${t.namespace}/${t.name}: ${live.failure.message}`)
        }
        const pod = live.success
        if (pod.metadata?.uid !== p.uid) return ActionHandler.applied(`pod ${t.namespace}/${t.name} uid ${p.uid} is gone (now uid ${pod.metadata?.uid})`)
        if (pod.metadata?.deletionTimestamp) return ActionHandler.applied(`pod ${t.namespace}/${t.name} uid ${p.uid} is terminating`)
        return ActionHandler.notApplied(`pod ${t.namespace}/${t.name} uid ${p.uid} is still running`)
      })
  })

/** The handler with the default guardrails. */
export const handler = make()
