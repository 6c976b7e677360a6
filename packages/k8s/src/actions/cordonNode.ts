/**
 * `k8s.cordonNode`: marks a node unschedulable (`kubectl cordon`). A node's resourceVersion
 * moves with every heartbeat, so the patch is conditional on the version read just before it
 * (a strategic patch with that resourceVersion); a node that is already cordoned is left as is.
 * dry_run sends `dryRun=All`. A `Cordoned` Event is recorded on the node. `observe`: a cordoned
 * node is applied, a schedulable one is not.
 *
 * @since 0.1.0
 */
import { ActionHandler } from "@byteport/core"
import { Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import { Kube } from "../Kube"
import * as KubePatch from "../KubePatch"

/** The action kind. */
export const KIND = "k8s.cordonNode"

/** The params. */
export const Params = Schema.Struct({ node: Schema.String, reason: Schema.String })

const ActionFailed = ActionHandler.ActionFailed

/** The handler. */
export const make = (): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (e: { readonly _tag: string; readonly message: string }) => new ActionFailed({ kind: KIND, conflict: e._tag === "KubeConflict", message: e.message })
        const node = yield* kube.getNode(p.node).pipe(Effect.mapError(fail))
        if (node.spec?.unschedulable === true) {
          return { detail: `node ${p.node} is already cordoned`, result: { node: p.node, alreadyCordoned: true, dryRun: ctx.dryRun } }
        }
        const patched = yield* kube.patch("Node", { name: p.node }, KubePatch.strategic(node.metadata?.resourceVersion ?? "", { spec: { unschedulable: true } }), { dryRun: ctx.dryRun }).pipe(
          Effect.mapError(fail)
        )
        yield* recordEvent(patched, "Cordoned", `BytePort cordoned node ${p.node}: ${p.reason} (incident ${ctx.incidentId})`, { dryRun: ctx.dryRun, kind: "Node", apiVersion: "v1", type: "Warning" })
        return { detail: ctx.dryRun ? `would cordon node ${p.node} (validated with dryRun=All)` : `cordoned node ${p.node}`, result: { node: p.node, alreadyCordoned: false, dryRun: ctx.dryRun } }
      }),
    observe: (p) =>
      Effect.map(Effect.flatMap(Kube, (kube) => kube.getNode(p.node)), (node) =>
        node.spec?.unschedulable === true
          ? ActionHandler.applied(`node ${p.node} is cordoned`)
          : ActionHandler.notApplied(`node ${p.node} is schedulable`))
  })
