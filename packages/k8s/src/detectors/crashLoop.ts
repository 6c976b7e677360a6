/**
 * Signal: a container waits in `CrashLoopBackOff` (the pod informer, shared watch; no polling).
 * Reported once per container until the container is Ready again (a recovered container re-arms
 * it), so a loop of restarts is one signal, not one per back-off. Init containers are reported by
 * `InitFailureDetector` (`Init:CrashLoopBackOff`). The evidence carries the last termination's
 * reason, exit code and time, so a consumer tells an OOM kill from a liveness kill or a panic.
 *
 * @since 0.1.0
 */
import type { V1Pod } from "@kubernetes/client-node"
import { Detector } from "@byteport/core"
import { Effect, Stream } from "effect"
import type { Kube } from "../Kube"
import * as K8sDetector from "../informers/K8sDetector"
import { pods } from "../informers/Resource"
import type * as PodWire from "../probes/podWire"
import { Episodes, make as signal, PodSignalTypes, podKey, waitingIn } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (default `k8s.pod.crash-loop`). */
  readonly name?: string | undefined
}

const REASONS = new Set(["CrashLoopBackOff"])

/** What one pod event reports: the containers newly in CrashLoopBackOff (pure; updates `episodes`). */
export const scan = (pod: PodWire.Pod, episodes: Episodes) => {
  const out: Array<{ readonly container: string; readonly status: PodWire.ContainerStatus; readonly message: string | null }> = []
  for (const cs of pod.status?.containerStatuses ?? []) {
    const key = `${podKey(pod)}/${cs.name}`
    if (cs.ready) episodes.clear(key)
  }
  for (const w of waitingIn(pod, REASONS, false)) {
    if (episodes.enter(`${podKey(pod)}/${w.status.name}`)) out.push({ container: w.status.name, status: w.status, message: w.message })
  }
  return out
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.crash-loop"
  return Detector.fromStream(name, Stream.unwrap(Effect.sync(() => {
    const episodes = new Episodes()
    return K8sDetector.signals<V1Pod, Kube>({
      name,
      resource: pods,
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      toSignals: (event) => {
        const pod = event.object as unknown as PodWire.Pod
        if (event.type === "delete") {
          episodes.forgetPod(pod)
          return []
        }
        return Effect.forEach(scan(pod, episodes), (x) => {
          const t = x.status.lastState?.terminated
          return signal(PodSignalTypes.crashLoopBackOff, name, pod, x.container, {
            init: false,
            restartCount: x.status.restartCount,
            message: x.message,
            lastReason: t?.reason ?? null,
            lastExitCode: t?.exitCode ?? null,
            lastFinishedAt: t?.finishedAt ?? null
          })
        })
      }
    })
  })))
}
