/**
 * `k8s.drainNode`: a PDB-aware drain that ignores DaemonSets (`kubectl drain --ignore-daemonsets`).
 * The node must be cordoned (the precondition; a schedulable node is a conflict). Every pod on
 * the node is evicted through the Eviction API except mirror pods (static pods), DaemonSet pods
 * and pods that already finished. An eviction a PodDisruptionBudget forbids answers 429: the
 * drain waits `evictionRetrySeconds` (on the Effect Clock, so virtual time drives it in tests)
 * and tries again, until `timeoutSeconds`. Then it waits for the evicted pods to be gone.
 * dry_run sends every eviction with `dryRun=All` and does not wait. A `Drained` Event is
 * recorded on the node.
 *
 * `observe`: a cordoned node with no pod left to evict (every remaining evictable pod is already
 * terminating) is applied; a cordoned node with pods still to evict is not applied (re-running
 * the drain evicts the rest); a node that is no longer cordoned is unknown.
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { ActionHandler } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"
import { type ActionSettings, defaults } from "./settings"

/** The action kind. */
export const KIND = "k8s.drainNode"

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  ignoreDaemonSets: Schema.Boolean,
  respectPodDisruptionBudgets: Schema.Boolean,
  timeoutSeconds: Schema.Number.check(Schema.isGreaterThan(0))
})

const ActionFailed = ActionHandler.ActionFailed

/** Why a pod is not evicted by a drain, or undefined when it is. */
export const skipReason = (pod: V1Pod): string | undefined => {
  if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined) return "mirror pod"
  if (pod.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet" && o.controller === true)) return "DaemonSet pod"
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return "finished"
  return undefined
}

/** The handler. */
export const make = (s: ActionSettings = defaults): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (message: string, conflict = false) => new ActionFailed({ kind: KIND, message, conflict })
        const node = yield* kube.getNode(p.node).pipe(Effect.mapError((e) => fail(e.message)))
        if (node.spec?.unschedulable !== true && !ctx.dryRun) return yield* fail(`node ${p.node} is not cordoned`, true)
        const start = yield* Clock.currentTimeMillis
        const deadline = start + p.timeoutSeconds * 1000
        const onNode = kube.listPods({ fieldSelector: `spec.nodeName=${p.node}` }).pipe(Effect.mapError((e) => fail(e.message)))
        const all = yield* onNode
        const skipped = all.flatMap((pod) => {
          const why = skipReason(pod)
          return why ? [`${pod.metadata?.namespace}/${pod.metadata?.name} (${why})`] : []
        })
        const toEvict = all.filter((pod) => skipReason(pod) === undefined && !pod.metadata?.deletionTimestamp)
        let retries = 0
        const evicted: Array<string> = []
        for (const pod of toEvict) {
          const ns = pod.metadata?.namespace ?? "default"
          const name = pod.metadata?.name ?? ""
          for (;;) {
            const r = yield* Effect.result(kube.evict(ns, name, { dryRun: ctx.dryRun, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) }))
            if (r._tag === "Success") break
            const e = r.failure
            if (e._tag === "KubeNotFound") break
            if (e._tag !== "KubeTooManyRequests" || !p.respectPodDisruptionBudgets) return yield* fail(`evicting ${ns}/${name}: ${e.message}`, e._tag === "KubeConflict")
            const now = yield* Clock.currentTimeMillis
            if (now + s.evictionRetrySeconds * 1000 > deadline) {
              return yield* fail(`drain of ${p.node} timed out after ${p.timeoutSeconds}s: evicting ${ns}/${name} is still blocked by a PodDisruptionBudget (${e.message})`)
            }
            retries++
            yield* Effect.sleep(`${s.evictionRetrySeconds} seconds`)
          }
          evicted.push(`${ns}/${name}`)
        }
        if (!ctx.dryRun) {
          const uids = new Set(toEvict.map((x) => x.metadata?.uid))
          for (;;) {
            const left = (yield* onNode).filter((x) => uids.has(x.metadata?.uid))
            if (left.length === 0) break
            const now = yield* Clock.currentTimeMillis
            if (now >= deadline) return yield* fail(`drain of ${p.node} timed out after ${p.timeoutSeconds}s: ${left.length} evicted pod(s) still terminating`)
            yield* Effect.sleep("2 seconds")
          }
        }
        yield* recordEvent(node, "Drained", `BytePort drained node ${p.node}: evicted ${evicted.length} pod(s), skipped ${skipped.length} (incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "Node",
          apiVersion: "v1",
          type: "Warning"
        })
        return {
          detail: `${ctx.dryRun ? "would drain" : "drained"} node ${p.node}: ${evicted.length} evicted, ${skipped.length} skipped, ${retries} PDB retr${retries === 1 ? "y" : "ies"}`,
          result: { node: p.node, evicted, skipped, pdbRetries: retries, dryRun: ctx.dryRun }
        }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const node = yield* kube.getNode(p.node)
        if (node.spec?.unschedulable !== true) return ActionHandler.unknown(`node ${p.node} is not cordoned any more`)
        const left = (yield* kube.listPods({ fieldSelector: `spec.nodeName=${p.node}` })).filter((pod) => skipReason(pod) === undefined && !pod.metadata?.deletionTimestamp)
        return left.length === 0
          ? ActionHandler.applied(`node ${p.node} is cordoned and has no pod left to evict`)
          : ActionHandler.notApplied(`node ${p.node} still runs ${left.length} pod(s) to evict: ${left.slice(0, 5).map((x) => `${x.metadata?.namespace}/${x.metadata?.name}`).join(", ")}`)
      })
  })
