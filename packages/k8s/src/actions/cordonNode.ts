/**
 * `k8s.cordonNode`: marks a node unschedulable (`kubectl cordon`) and annotates it
 * `byteport.io/cordoned-by: <incident>`, in one strategic patch conditional on the
 * resourceVersion read just before it (a node's version moves with its status: a conflict is
 * read again and re-checked, up to 3 attempts). dry_run
 * sends `dryRun=All`. A `Cordoned` Event is recorded on the node.
 *
 * The kind's guardrails (`guardrails/nodeGuards.ts`): never a control-plane node; a node someone
 * else cordoned is never annotated or adopted; the NotReady + unschedulable nodes after the cordon
 * stay within `maxUnavailableNodes` (10%, at least 1), else nothing is touched and the denial names
 * them; at most `maxCordonedNodes` (1) BytePort cordons per cluster, atomic in the GuardrailStore.
 * The handler re-checks the first two on the node it reads (a cordon that appeared since the
 * guardrails ran is left alone, never annotated). A node this incident already cordoned is
 * applied (idempotent on resume).
 *
 * `observe`: cordoned by this incident → applied; schedulable → not applied; cordoned by someone
 * else → unknown.
 *
 * @since 0.1.0
 */
import type { V1Node } from "@kubernetes/client-node"
import { ActionHandler } from "@byteport/core"
import { Effect, Schema } from "effect"
import { EventRecorder, recordEvent } from "../events/EventRecorder"
import * as NodeGuards from "../guardrails/nodeGuards"
import { Kube } from "../Kube"
import * as KubePatch from "../KubePatch"

/** The action kind. */
export const KIND = "k8s.cordonNode"

/** The params. */
export const Params = Schema.Struct({ node: Schema.String, reason: Schema.String })

const ActionFailed = ActionHandler.ActionFailed

/** The handler, with the node guardrails of `settings`. */
export const make = (settings: NodeGuards.NodeGuardSettings = NodeGuards.defaults): ActionHandler.ActionHandler<Kube | EventRecorder> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: NodeGuards.cordonGuardrails(settings),
    apply: (p, ctx) =>
      Effect.gen(function*() {
        const kube = yield* Kube
        const fail = (e: { readonly _tag: string; readonly message: string }) => new ActionFailed({ kind: KIND, conflict: e._tag === "KubeConflict", message: e.message })
        // a node's resourceVersion moves with its status: on a conflict, read it again and re-check (3 attempts)
        let patched: V1Node | undefined
        for (let attempt = 1; ; attempt++) {
          const node = yield* kube.getNode(p.node).pipe(Effect.mapError(fail))
          if (NodeGuards.isControlPlane(node)) return yield* new ActionFailed({ kind: KIND, message: `${p.node} is a control-plane node: never cordoned by BytePort` })
          if (NodeGuards.ownedBy(node, ctx.incidentId)) {
            return { detail: `node ${p.node} is already cordoned by this incident`, result: { node: p.node, alreadyCordoned: true, owned: true, dryRun: ctx.dryRun } }
          }
          if (NodeGuards.isCordoned(node)) {
            return yield* new ActionFailed({
              kind: KIND,
              conflict: true,
              message: `node ${p.node} was cordoned by someone else (${NodeGuards.cordonedBy(node) ? `BytePort incident ${NodeGuards.cordonedBy(node)}` : "no byteport.io/cordoned-by"}) since the plan: not annotated, not adopted`
            })
          }
          const body = { metadata: { annotations: { [NodeGuards.CORDONED_BY]: ctx.incidentId } }, spec: { unschedulable: true } }
          const r = yield* Effect.result(kube.patch("Node", { name: p.node }, KubePatch.strategic(node.metadata?.resourceVersion ?? "", body), { dryRun: ctx.dryRun }))
          if (r._tag === "Success") {
            patched = r.success
            break
          }
          if (r.failure._tag !== "KubeConflict" || attempt >= 3) return yield* fail(r.failure)
        }
        yield* recordEvent(patched!, "Cordoned", `BytePort cordoned node ${p.node}: ${p.reason} (incident ${ctx.incidentId})`, { dryRun: ctx.dryRun, kind: "Node", apiVersion: "v1", type: "Warning" })
        return {
          detail: ctx.dryRun ? `would cordon node ${p.node} (validated with dryRun=All)` : `cordoned node ${p.node} (${NodeGuards.CORDONED_BY}: ${ctx.incidentId})`,
          result: { node: p.node, alreadyCordoned: false, owned: true, dryRun: ctx.dryRun }
        }
      }),
    observe: (p, ctx) =>
      Effect.map(Effect.flatMap(Kube, (kube) => kube.getNode(p.node)), (node) =>
        NodeGuards.ownedBy(node, ctx.incidentId)
          ? ActionHandler.applied(`node ${p.node} is cordoned by this incident`)
          : !NodeGuards.isCordoned(node)
          ? ActionHandler.notApplied(`node ${p.node} is schedulable`)
          : ActionHandler.unknown(`node ${p.node} is cordoned, but not by this incident`))
  })
