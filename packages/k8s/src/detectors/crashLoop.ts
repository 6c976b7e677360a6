/**
 * Signal: a container waits in `CrashLoopBackOff` (the pod informer, shared watch; no polling).
 * Reported once per container until the container is Ready again (a recovered container re-arms
 * it), so a loop of restarts is one signal, not one per back-off. Init containers are reported by
 * `InitFailureDetector` (`Init:CrashLoopBackOff`). The evidence carries the last termination's
 * reason, exit code and time, so a consumer tells an OOM kill from a liveness kill or a panic.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import { episodeDetector, Episodes, make as signal, PodSignalTypes, podKey, waitingIn , type PodDetectorOptions } from "./podSignals"

/** Options of the detector. */
export interface Options extends PodDetectorOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (default `k8s.pod.crash-loop`). */
  readonly name?: string | undefined
}

const REASONS = new Set(["CrashLoopBackOff"])

/** What one pod event reports: the containers newly in CrashLoopBackOff (pure; updates `episodes`). */
export const scan = (pod: PodWire.Pod, episodes: Episodes) => {
  const out: Array<{ readonly container: string; readonly status: PodWire.ContainerStatus; readonly message: string | null }> = []
  for (const cs of Wire.runningStatuses(pod)) {
    const key = `${podKey(pod)}/${cs.name}`
    if (cs.ready) episodes.clear(key)
  }
  for (const w of waitingIn(pod, REASONS, false)) {
    if (episodes.enter(`${podKey(pod)}/${w.status.name}`)) out.push({ container: w.status.name, status: w.status, message: w.message })
  }
  return out
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> =>
  episodeDetector("k8s.pod.crash-loop", options, scan, (name, pod, x) => {
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
