/**
 * The subject of core's `oom.observed` hand-off (`HandOffs.OomObserved`): the evidence names a
 * workload container, not a pod, so the pod examined is the workload's pod with the latest
 * OOMKilled termination of that container (else its first pod). Both OOM runbooks
 * (k8s.oom.six-signal, k8s.oom.exit-137) own the hand-off and resolve it the same way.
 *
 * @since 0.3.0
 */
import { HandOffs, type Signal } from "@byteport/core"
import type { V1Pod } from "@kubernetes/client-node"
import { Effect } from "effect"
import type { Kube } from "../Kube"
import * as Targets from "../targets/Targets"
import * as Wire from "./wire"
import { workloadPods } from "../verifiers/pod"

/** Epoch ms of the latest OOMKilled termination of `container` in a pod (-1: none). */
export const lastOomKillAt = (p: V1Pod, container: string): number => {
  const cs = Wire.runningStatuses(p as unknown as Wire.Pod).find((c) => c.name === container) as { lastState?: { terminated?: { reason?: string; finishedAt?: unknown } }; state?: { terminated?: { reason?: string; finishedAt?: unknown } } } | undefined
  const t = [cs?.lastState?.terminated, cs?.state?.terminated].find((x) => x?.reason === "OOMKilled")
  const f = t?.finishedAt as unknown
  return f instanceof Date ? f.getTime() : typeof f === "string" ? Date.parse(f) : -1
}

/** Whether a signal is an `oom.observed` hand-off. */
export const is = (signal: Signal.Signal): boolean => signal.type === HandOffs.OomObserved.type

/** The pod and container an `oom.observed` hand-off is about. */
export const subject = (signal: Signal.Signal): Effect.Effect<{ readonly namespace: string; readonly pod: string; readonly container: string }, Error, Kube> =>
  Effect.gen(function*() {
    const ev = yield* HandOffs.decode(HandOffs.OomObserved, signal).pipe(Effect.mapError((e) => new Error(e.message)))
    const w = Targets.parseSync(signal.target)
    if (w instanceof Targets.InvalidTargetRef || w._tag !== "Workload") return yield* Effect.fail(new Error(`oom.observed names ${signal.target.ref}, not a workload`))
    const pods = yield* workloadPods(w.namespace, { kind: w.kind, name: w.name }).pipe(Effect.mapError((e) => new Error(e.message)))
    const best = [...pods].sort((a, b) => lastOomKillAt(b, ev.container) - lastOomKillAt(a, ev.container))[0]
    if (!best?.metadata?.name) return yield* Effect.fail(new Error(`${w.kind} ${w.namespace}/${w.name} has no pods`))
    return { namespace: w.namespace, pod: best.metadata.name, container: ev.container }
  })

/** The hand-off's signal type (`oom.observed`). */
export const TYPE: string = HandOffs.OomObserved.type
