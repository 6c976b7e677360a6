/**
 * The k8s.node.not-ready e2e services on kube-sim, on top of the OOM harness: the cluster layers,
 * an ActionRegistry with cordon, drain, the four node kinds and the node checks, and a NodeShell
 * (when given) both to the registry (handlers) and to the runbook (probes).
 */
import { ActionRegistry, type GuardrailStore, IncidentBus, MemoryStore, Notifier } from "@byteport/core"
import { Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { NodeShell } from "../../src/node/NodeShell"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import { clusterLayer, quiesce, type Sim } from "../oom/harness"

export * from "../oom/harness"

/** Services for the node runbook against a simulator. */
export const nodeServices = (s: Sim, options: { readonly shell?: Layer.Layer<NodeShell>; readonly store?: Layer.Layer<GuardrailStore.GuardrailStore, unknown> } = {}) => {
  const cluster = clusterLayer(s)
  const shell = options.shell ?? Layer.empty
  const registry = ActionRegistry.layer({ handlers: NodeNotReady.handlers(), checks: NodeNotReady.checks() }).pipe(Layer.provide(Layer.mergeAll(cluster, shell)))
  return Layer.mergeAll(cluster, registry, shell, Layer.orDie(options.store ?? MemoryStore.layer), IncidentBus.layer(), Notifier.memory)
}

/** `runWithSim` that also calls `hook` at every step (to change the world while the runbook runs: a flap, a second failure). */
export const runWithSimHook = <A, E, R>(s: Sim, effect: Effect.Effect<A, E, R>, hook: () => void, options: { readonly step?: Duration.Input; readonly max?: Duration.Input } = {}) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(s.now())
    const step = Duration.toMillis(Duration.fromInputUnsafe(options.step ?? "5 seconds"))
    const max = Duration.toMillis(Duration.fromInputUnsafe(options.max ?? "30 minutes"))
    const fiber = yield* Effect.forkChild(effect)
    let elapsed = 0
    for (;;) {
      yield* Effect.promise(() => new Promise<void>((r) => setTimeout(r, 3)))
      if (fiber.pollUnsafe() !== undefined) break
      if (elapsed >= max) {
        yield* Fiber.interrupt(fiber)
        return yield* Effect.die(new Error("runWithSimHook: still running"))
      }
      hook()
      yield* quiesce(s)
      s.advance(step)
      yield* TestClock.adjust(step)
      elapsed += step
    }
    return yield* Fiber.join(fiber)
  })
