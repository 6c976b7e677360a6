/**
 * Signal: a container (init containers included) waits in `CreateContainerConfigError`: the
 * kubelet cannot build its config, a ConfigMap, Secret or key it references is missing (the pod
 * informer, shared watch). Reported once per container until it starts; the waiting message
 * (`configmap "api-config" not found`, `couldn't find key PASSWORD in Secret shop/db`) is
 * parsed by `PodMessages.configError`.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import { episodeDetector, Episodes, make as signal, PodSignalTypes, podKey, statusesOf, type Waiting, waitingIn , type PodDetectorOptions } from "./podSignals"

/** Options of the detector. */
export interface Options extends PodDetectorOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (default `k8s.pod.config-error`). */
  readonly name?: string | undefined
}

/** The waiting reasons of a config error. */
export const REASONS: ReadonlySet<string> = new Set(["CreateContainerConfigError"])

/** What one pod event reports: the containers newly in CreateContainerConfigError (pure; updates `episodes`). */
export const scan = (pod: PodWire.Pod, episodes: Episodes): ReadonlyArray<Waiting> => {
  for (const s of statusesOf(pod)) {
    if (s.status.state?.running !== undefined || s.status.state?.terminated !== undefined) episodes.clear(`${podKey(pod)}/${s.status.name}`)
  }
  return waitingIn(pod, REASONS).filter((w) => episodes.enter(`${podKey(pod)}/${w.status.name}`))
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> =>
  episodeDetector("k8s.pod.config-error", options, scan, (name, pod, w) =>
    signal(PodSignalTypes.configError, name, pod, w.status.name, { init: w.init, reason: w.reason, message: w.message }))
