/**
 * `k8s.deleteEvictedPods`: deletes the pods the kubelet evicted on a node (phase Failed, reason
 * Evicted) — the leftovers of disk pressure. Each delete carries the pod's uid as precondition
 * (a pod recreated under the same name is never hit), only pods are ever deleted, and never a pod
 * still running. dry_run sends every delete with `dryRun=All`. An `EvictedPodsDeleted` Event is
 * recorded on the Node.
 *
 * Guardrails (on the kind): `never_delete_volumes` — "never delete PersistentVolumes/PVCs": any
 * action whose target or params name a PersistentVolume or PersistentVolumeClaim is denied (the
 * same guardrail guards `k8s.recreateCniPod`).
 *
 * `observe`: no evicted pod left on the node → applied; some left → not applied.
 *
 * @since 0.2.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { type Action, ActionHandler, Guardrail } from "@byteport/core"
import { Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"

/** The action kind. */
export const KIND = "k8s.deleteEvictedPods"

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  reason: Schema.String
})

const ActionFailed = ActionHandler.ActionFailed

const VOLUME = /persistentvolume|(^|[^a-z])pvc?s?($|[^a-z])/i

const mentionsVolume = (v: unknown, depth = 0): boolean => {
  if (depth > 6) return false
  if (typeof v === "string") return VOLUME.test(v)
  if (Array.isArray(v)) return v.some((x) => mentionsVolume(x, depth + 1))
  if (typeof v === "object" && v !== null) return Object.entries(v).some(([k, x]) => VOLUME.test(k) || mentionsVolume(x, depth + 1))
  return false
}

/**
 * Whether an action would touch a PersistentVolume or PersistentVolumeClaim: its target kind or
 * ref, or any of its params (keys or string values, nested), names one (`PersistentVolume`,
 * `persistentvolumeclaims`, `pv/…`, `pvc`).
 */
export const touchesVolumes = (action: Action.Action): boolean =>
  mentionsVolume(action.target.kind) || mentionsVolume(action.target.ref) || mentionsVolume(action.params)

/** "never delete PersistentVolumes/PVCs", carried by every delete handler of the node runbooks. */
export const neverDeleteVolumes: Guardrail.Guardrail<never> = Guardrail.never(
  (ctx) => touchesVolumes(ctx.action),
  "never delete PersistentVolumes/PVCs",
  { name: "never_delete_volumes" }
)

/** Whether the kubelet evicted a pod (phase Failed, reason Evicted). */
export const isEvicted = (pod: V1Pod): boolean => pod.status?.phase === "Failed" && pod.status?.reason === "Evicted"

/** The handler. */
export const make = (): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: [neverDeleteVolumes],
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (e: { readonly message: string }) => new ActionFailed({ kind: KIND, message: e.message })
        const node = yield* kube.getNode(p.node).pipe(Effect.mapError(fail))
        const pods = (yield* kube.listPods({ fieldSelector: `spec.nodeName=${p.node}` }).pipe(Effect.mapError(fail))).filter(isEvicted)
        const deleted: Array<string> = []
        for (const pod of pods) {
          const ns = pod.metadata?.namespace ?? "default"
          const name = pod.metadata?.name ?? ""
          const uid = pod.metadata?.uid
          if (!uid) continue
          const r = yield* Effect.result(kube.deletePod(ns, name, { uid }, { dryRun: ctx.dryRun }))
          if (r._tag === "Failure" && r.failure._tag !== "KubeNotFound" && r.failure._tag !== "KubeConflict") return yield* fail(r.failure)
          if (r._tag === "Success") deleted.push(`${ns}/${name}`)
        }
        yield* recordEvent(node, "EvictedPodsDeleted", `BytePort deleted ${deleted.length} evicted pod(s) on node ${p.node}: ${p.reason} (incident ${ctx.incidentId})`, {
          dryRun: ctx.dryRun,
          kind: "Node",
          apiVersion: "v1"
        })
        return {
          detail: `${ctx.dryRun ? "would delete" : "deleted"} ${deleted.length} evicted pod(s) on node ${p.node}${ctx.dryRun ? " (validated with dryRun=All)" : ""}`,
          result: { node: p.node, deleted, dryRun: ctx.dryRun }
        }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const left = (yield* kube.listPods({ fieldSelector: `spec.nodeName=${p.node}` })).filter(isEvicted)
        return left.length === 0
          ? ActionHandler.applied(`no evicted pod left on node ${p.node}`)
          : ActionHandler.notApplied(`${left.length} evicted pod(s) still on node ${p.node}`)
      })
  })
