/**
 * kube-sim's host shell of each node (`sim.nodeShell(node)`: the node tools in real formats from
 * `NodeHostState`, with effects — a kubelet restart cures a hang, a prune frees image bytes) as a
 * core Shell, directly (no pods/exec: `e2e.viaExec.test.ts` goes through `NodeShell.viaExec`).
 * Every command is logged as `<node>: <argv>`; `timeouts` lists commands that hang.
 */
import { Shell } from "@byteport/core/shell"
import { Effect, Option } from "effect"
import type { Sim } from "../oom/harness"
import * as NodeShell from "../../src/node/NodeShell"

/** Options of the shell. */
export interface SimShellOptions {
  /** Commands (argv joined by spaces) that never answer (the Shell's timeout fires). */
  readonly timeouts?: ReadonlyArray<string>
}

/** A shell for one node. */
export const forNode = (s: Sim, node: string, log: Array<string>, o: SimShellOptions = {}): Shell.ShellShape =>
  Shell.make((req) =>
    Effect.suspend(() => {
      const key = req.argv.join(" ")
      log.push(`${node}: ${key}`)
      if (o.timeouts?.includes(key)) return Effect.never
      return Effect.sync(() => s.nodeShell(node).run(req.argv))
    }), { name: `sim:${node}` })

/** A NodeShell layer over every node of the simulator. */
export const layer = (s: Sim, log: Array<string>, o: SimShellOptions = {}) =>
  NodeShell.layer((node) => Effect.succeed(Option.some(forNode(s, node, log, o))))
