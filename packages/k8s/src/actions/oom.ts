/**
 * The action handlers of k8s.oom.six-signal with their guardrails, for an `ActionRegistry`:
 * `k8s.patchMemoryLimit`, `k8s.raiseHpaMinReplicas`, `k8s.cordonNode`, `k8s.drainNode`,
 * `k8s.uncordonNode` (node_pressure ends with it), `k8s.captureHeapProfile`.
 *
 * @example
 * ```ts
 * const registry = ActionRegistry.layer({ handlers: OomActions.handlers() })
 * ```
 *
 * @since 0.1.0
 */
import type { ActionHandler } from "@byteport/core"
import type { EventRecorder } from "../events/EventRecorder"
import type { Kube } from "../Kube"
import * as CaptureHeapProfile from "./captureHeapProfile"
import * as CordonNode from "./cordonNode"
import * as DrainNode from "./drainNode"
import type { HeapProfiler } from "./heapProfiler"
import * as UncordonNode from "./uncordonNode"
import * as PatchMemoryLimit from "./patchMemoryLimit"
import * as RaiseHpaMinReplicas from "./raiseHpaMinReplicas"
import { type ActionSettings, defaults } from "./settings"

/** The six handlers. */
export const handlers = (s: ActionSettings = defaults): ReadonlyArray<ActionHandler.ActionHandler<Kube | EventRecorder | HeapProfiler>> => [
  PatchMemoryLimit.make(s),
  RaiseHpaMinReplicas.make(),
  CordonNode.make(),
  DrainNode.make(s),
  UncordonNode.make(),
  CaptureHeapProfile.make()
]
