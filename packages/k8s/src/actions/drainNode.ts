/**
 * `k8s.drainNode`: a graceful, PDB-aware drain that ignores DaemonSets (`kubectl drain
 * --ignore-daemonsets`), with kubectl's refusals and never a forced deletion.
 *
 * - The node must be cordoned (the precondition; a schedulable node is a conflict).
 * - Mirror (static) pods, DaemonSet pods and finished pods are skipped.
 * - kubectl's refusals, checked on every pod before the first eviction: a bare pod (no
 *   controller) stops the drain (`--force` is never used), and so does a pod with an emptyDir
 *   volume unless `deleteEmptyDirData` is set.
 * - Every pod is evicted through the Eviction API with its own grace period (or
 *   `gracePeriodSeconds` ≥ 1): never `--force`, never grace 0 (the kind's guardrail denies them).
 *   A 429 (a PodDisruptionBudget forbids it) waits `evictionRetrySeconds` on the Effect Clock and
 *   tries again, until `timeoutSeconds` (300).
 * - Live kubelet: done when the evicted pods are gone. Dead kubelet (the node is not Ready): the
 *   evicted pods can never finish terminating, so done = every eviction accepted and the
 *   replacements Ready on other nodes; a StatefulSet pod there is never force-deleted (its
 *   replacement cannot start while it exists): the drain fails, naming it, for a human.
 * - Any failure leaves the node cordoned and says so.
 *
 * dry_run sends every eviction with `dryRun=All` and does not wait. A `Drained` Event is recorded
 * on the node.
 *
 * `observe`: a cordoned node with no pod left to evict (every remaining evictable pod is already
 * terminating) is applied; a cordoned node with pods still to evict is not applied; a node that is
 * no longer cordoned is unknown.
 *
 * @since 0.1.0
 */
import type { V1Node, V1Pod } from "@kubernetes/client-node"
import { ActionHandler, Guardrail } from "@byteport/core"
import { Clock, Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import { type ActionSettings, defaults } from "./settings"

/** The action kind. */
export const KIND = "k8s.drainNode"

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  ignoreDaemonSets: Schema.Boolean,
  respectPodDisruptionBudgets: Schema.Boolean,
  timeoutSeconds: Schema.Number.check(Schema.isGreaterThan(0)),
  /** Evict pods with emptyDir volumes (their data is lost), like `--delete-emptydir-data`. Default false: such a pod stops the drain. */
  deleteEmptyDirData: Schema.optionalKey(Schema.Boolean),
  /** A grace period for every pod (≥ 1 s); absent: each pod's own terminationGracePeriodSeconds. */
  gracePeriodSeconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
})

const ActionFailed = ActionHandler.ActionFailed

/** Why a pod is not evicted by a drain, or undefined when it is. */
export const skipReason = (pod: V1Pod): string | undefined => {
  if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined) return "mirror pod"
  if (pod.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet" && o.controller === true)) return "DaemonSet pod"
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return "finished"
  return undefined
}

/** The controller of a pod (its ownerReference with `controller: true`). */
export const controllerOf = (pod: V1Pod) => pod.metadata?.ownerReferences?.find((o) => o.controller === true)

/**
 * kubectl's refusal for a pod it would evict, or undefined: a bare pod (no controller) and,
 * without `deleteEmptyDirData`, a pod with an emptyDir volume.
 */
export const refusal = (pod: V1Pod, options: { readonly deleteEmptyDirData?: boolean | undefined } = {}): string | undefined => {
  if (controllerOf(pod) === undefined) return "declares no controller (a bare pod would be lost; BytePort never uses --force)"
  if (!options.deleteEmptyDirData && (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined)) return "has local storage (emptyDir; set deleteEmptyDirData to evict it)"
  return undefined
}

const ready = (p: V1Pod) => (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
const nameOf = (p: V1Pod) => `${p.metadata?.namespace ?? "default"}/${p.metadata?.name ?? ""}`

/** Whether the node's kubelet is gone (Ready is not True): evicted pods there never finish terminating. */
export const kubeletDead = (node: V1Node): boolean => !NodeGuards.isReady(node)

/** Never `--force`, never grace 0: a drain whose params ask for either is denied. */
export const neverForce: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => ctx.action.kind === KIND && (ctx.action.params["force"] === true || ctx.action.params["gracePeriodSeconds"] === 0 || ctx.action.params["disableEviction"] === true),
  "never a forced drain (force, grace period 0 or deletion without the Eviction API)",
  { name: "never_force_drain" }
)

/** The handler. */
export const make = (s: ActionSettings = defaults): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [neverForce, NodeGuards.neverControlPlane()],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const stays = ctx.dryRun ? "" : `; node ${p.node} stays cordoned`
        const fail = (message: string, conflict = false) => new ActionFailed({ kind: KIND, message: `${message}${stays}`, conflict })
        const node = yield* kube.getNode(p.node).pipe(Effect.mapError((e) => fail(e.message)))
        if (node.spec?.unschedulable !== true && !ctx.dryRun) return yield* new ActionFailed({ kind: KIND, message: `node ${p.node} is not cordoned`, conflict: true })
        const dead = kubeletDead(node)
        const start = yield* Clock.currentTimeMillis
        const deadline = start + p.timeoutSeconds * 1000
        const onNode = kube.listPods({ fieldSelector: `spec.nodeName=${p.node}` }).pipe(Effect.mapError((e) => fail(e.message)))
        const all = yield* onNode
        const skipped = all.flatMap((pod) => {
          const why = skipReason(pod)
          return why ? [`${nameOf(pod)} (${why})`] : []
        })
        const toEvict = all.filter((pod) => skipReason(pod) === undefined && !pod.metadata?.deletionTimestamp)
        const refused = toEvict.flatMap((pod) => {
          const why = refusal(pod, { deleteEmptyDirData: p.deleteEmptyDirData })
          return why ? [`${nameOf(pod)} ${why}`] : []
        })
        if (refused.length > 0) return yield* fail(`drain of ${p.node} refused before any eviction: ${refused.join("; ")}`)
        let retries = 0
        const evicted: Array<string> = []
        const evictedOwners = [...new Set(toEvict.flatMap((x) => {
          const o = controllerOf(x)
          return o ? [`${x.metadata?.namespace ?? "default"}/${o.kind}/${o.name}`] : []
        }))]
        for (const pod of toEvict) {
          const ns = pod.metadata?.namespace ?? "default"
          const name = pod.metadata?.name ?? ""
          for (;;) {
            const r = yield* Effect.result(kube.evict(ns, name, {
              dryRun: ctx.dryRun,
              ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}),
              ...(p.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: p.gracePeriodSeconds } : {})
            }))
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
        const stateful = toEvict.filter((x) => controllerOf(x)?.kind === "StatefulSet").map(nameOf)
        if (!ctx.dryRun) {
          const uids = new Set(toEvict.map((x) => x.metadata?.uid))
          for (;;) {
            const pods = yield* onNode
            const left = pods.filter((x) => uids.has(x.metadata?.uid))
            if (left.length === 0) break
            if (dead) {
              // a dead kubelet never confirms a deletion: done once the replacements are Ready elsewhere
              const waiting: Array<string> = []
              for (const x of left) {
                const owner = controllerOf(x)
                if (owner?.kind !== "ReplicaSet") continue
                const ns = x.metadata?.namespace ?? "default"
                const rs = yield* kube.getReplicaSet(ns, owner.name).pipe(Effect.mapError((e) => fail(e.message)))
                const siblings = (yield* kube.listPods({ namespace: ns }).pipe(Effect.mapError((e) => fail(e.message)))).filter((o) =>
                  controllerOf(o)?.uid === owner.uid && o.spec?.nodeName !== p.node && !o.metadata?.deletionTimestamp && ready(o)
                )
                if (siblings.length < (rs.spec?.replicas ?? 1)) waiting.push(`${owner.name} (${siblings.length}/${rs.spec?.replicas ?? 1} Ready elsewhere)`)
              }
              if (waiting.length === 0) break
              const now = yield* Clock.currentTimeMillis
              if (now >= deadline) return yield* fail(`drain of ${p.node} (kubelet not responding) timed out after ${p.timeoutSeconds}s: replacements not Ready elsewhere: ${[...new Set(waiting)].join(", ")}`)
            } else {
              const now = yield* Clock.currentTimeMillis
              if (now >= deadline) return yield* fail(`drain of ${p.node} timed out after ${p.timeoutSeconds}s: ${left.length} evicted pod(s) still terminating`)
            }
            yield* Effect.sleep("2 seconds")
          }
          if (dead && stateful.length > 0) {
            const statefulUids = new Set(toEvict.filter((x) => controllerOf(x)?.kind === "StatefulSet").map((x) => x.metadata?.uid))
            const stuck = (yield* onNode).filter((x) => statefulUids.has(x.metadata?.uid)).map(nameOf)
            if (stuck.length > 0) {
              return yield* fail(
                `drain of ${p.node}: the kubelet is not responding and StatefulSet pod(s) ${stuck.join(", ")} cannot finish terminating; BytePort never force-deletes them (two pods with one identity) — confirm the node is down, then delete them by hand`
              )
            }
          }
        }
        yield* recordEvent(node, "Drained", `BytePort drained node ${p.node}: evicted ${evicted.length} pod(s), skipped ${skipped.length} (incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "Node",
          apiVersion: "v1",
          type: "Warning"
        })
        return {
          detail: `${ctx.dryRun ? "would drain" : "drained"} node ${p.node}: ${evicted.length} evicted, ${skipped.length} skipped, ${retries} PDB retr${retries === 1 ? "y" : "ies"}${dead ? " (kubelet not responding: replacements Ready elsewhere)" : ""}`,
          result: { node: p.node, evicted, evictedOwners, skipped, pdbRetries: retries, kubeletDead: dead, dryRun: ctx.dryRun }
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
