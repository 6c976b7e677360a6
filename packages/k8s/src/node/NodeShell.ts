/**
 * `NodeShell`: the user-supplied resolver from a node name to a core `Shell` that runs commands
 * on that node (`systemctl`, `journalctl`, `df`, `crictl` …). Default: none — every node fact
 * is Unknown and the node runbooks escalate instead of acting on a guess.
 *
 * @since 0.2.0
 */
import { Shell } from "@byteport/core/shell"
import { Context, Effect, Layer, Option } from "effect"

/** The node → Shell resolver. `forNode` answers `None` when no shell reaches that node. */
export class NodeShell extends Context.Service<NodeShell, {
  readonly forNode: (node: string) => Effect.Effect<Option.Option<Shell.ShellShape>>
}>()("@byteport/k8s/NodeShell") {}

/** A NodeShell from a function (`node => Shell | undefined`). */
export const layer = (f: (node: string) => Shell.ShellShape | undefined): Layer.Layer<NodeShell> =>
  Layer.succeed(NodeShell, NodeShell.of({ forNode: (node) => Effect.sync(() => Option.fromNullishOr(f(node))) }))
