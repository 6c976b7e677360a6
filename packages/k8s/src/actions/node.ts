/**
 * The node action handlers with their guardrails, for an `ActionRegistry`: `k8s.cordonNode`,
 * `k8s.drainNode`, `k8s.uncordonNode`, `k8s.requestNodeReplacement`. With the OOM handlers (which
 * already register cordon, drain and uncordon) add only `extraHandlers`.
 *
 * @example
 * ```ts
 * const registry = ActionRegistry.layer({ handlers: [...OomActions.handlers(), ...NodeActions.extraHandlers()] })
 * ```
 *
 * @since 0.2.0
 */
import type { ActionHandler } from "@byteport/core"
import type { EventRecorder } from "../events/EventRecorder"
import * as NodeGuards from "../guardrails/nodeGuards"
import type { Kube } from "../Kube"
import * as CordonNode from "./cordonNode"
import * as DrainNode from "./drainNode"
import * as RequestNodeReplacement from "./requestNodeReplacement"
import { type ActionSettings, defaults } from "./settings"
import * as UncordonNode from "./uncordonNode"

/** The kind OOM's handlers do not register: the replacement reservation. */
export const extraHandlers = (replacement: RequestNodeReplacement.ReplacementSettings = RequestNodeReplacement.defaults): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [
  RequestNodeReplacement.make(replacement)
]

/** The four node handlers. */
export const handlers = (
  guards: NodeGuards.NodeGuardSettings = NodeGuards.defaults,
  s: ActionSettings = defaults,
  replacement: RequestNodeReplacement.ReplacementSettings = RequestNodeReplacement.defaults
): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder>> => [CordonNode.make(guards), DrainNode.make(s), UncordonNode.make(), ...extraHandlers(replacement)]
