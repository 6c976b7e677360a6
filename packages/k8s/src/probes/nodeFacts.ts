/**
 * The node a pod runs on → `NodeFacts`: MemoryPressure, cordoned or not, allocatable memory.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { NodeFacts } from "../classifiers/oom"
import { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Quantity from "../Quantity"
import * as Informers from "../informers/Informers"
import { nodes } from "../informers/Resource"
import type * as Wire from "./wire"

/** Whether a node reports a condition as True. */
export const hasCondition = (node: Wire.Node, type: string): boolean =>
  (node.status?.conditions ?? []).some((c) => c.type === type && c.status === "True")

/** `NodeFacts` from a wire Node. */
export const nodeFactsFrom = (node: Wire.Node): NodeFacts => ({
  name: node.metadata.name,
  resourceVersion: node.metadata.resourceVersion ?? "",
  unschedulable: node.spec?.unschedulable === true,
  memoryPressure: hasCondition(node, "MemoryPressure"),
  allocatableMemoryBytes: Quantity.parse(node.status?.allocatable?.["memory"]) ?? null
})

/** Reads a node as wire JSON: from the shared node watch's cache when it holds the node, else one GET. */
export const getNodeWire = (name: string): Effect.Effect<Wire.Node, KubeError, Kube> =>
  Effect.flatMap(Kube, (kube) => Effect.map(Informers.getOr(nodes, undefined, name, kube.getNode(name)), (n) => n as unknown as Wire.Node))

/** The node probe. */
export const probe = (name: string): Effect.Effect<NodeFacts, KubeError, Kube> => Effect.map(getNodeWire(name), nodeFactsFrom)
