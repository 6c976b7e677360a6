/**
 * Signal: an init container failed, as `kubectl get pods` shows it: `Init:Error`,
 * `Init:CrashLoopBackOff`, `Init:OOMKilled`, `Init:ExitCode:N`, `Init:Signal:N` (the pod
 * informer, shared watch). Progress (`Init:0/2`, `PodInitializing`) is no failure. Pull and
 * config failures of init containers are the image-pull and config-error signals (with
 * `init: true`). Reported once per init container until it completes.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import * as Wire from "../probes/wire"
import { episodeDetector, Episodes, make as signal, PodSignalTypes, podKey , type PodDetectorOptions } from "./podSignals"
import { REASONS as CONFIG } from "./configError"
import { REASONS as PULL } from "./imagePull"

/** Options of the detector. */
export interface Options extends PodDetectorOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (default `k8s.pod.init-failure`). */
  readonly name?: string | undefined
}

/** A failed init container: kubectl's `Init:<status>`, the reason, exit code and message. */
export interface InitFailure {
  readonly container: string
  /** `Init:Error`, `Init:CrashLoopBackOff`, `Init:ExitCode:3`, `Init:Signal:9` … */
  readonly status: string
  readonly reason: string | null
  readonly exitCode: number | null
  readonly restartCount: number
  readonly message: string | null
}

const PROGRESS = new Set(["PodInitializing", "ContainerCreating"])

/**
 * The failed init container of a pod, as kubectl's printer decides it (the first init container
 * that did not complete): terminated with a non-zero exit, or waiting with a reason other than
 * progress (CrashLoopBackOff after a failed run). Pull and config waits are left to their own
 * detectors. `undefined` when initialisation is fine or done.
 */
export const initFailureOf = (pod: PodWire.Pod): InitFailure | undefined => {
  for (const cs of pod.status?.initContainerStatuses ?? []) {
    // a native sidecar runs beside the app: its crashes are crash loops, not init failures
    if (Wire.isSidecar(pod, cs.name)) continue
    const term = cs.state?.terminated
    if (term !== undefined) {
      if ((term.exitCode ?? 0) === 0) continue
      const status = term.reason !== undefined && term.reason !== "" ? term.reason : (term as { signal?: number }).signal ? `Signal:${(term as { signal?: number }).signal}` : `ExitCode:${term.exitCode}`
      return { container: cs.name, status: `Init:${status}`, reason: term.reason ?? null, exitCode: term.exitCode ?? null, restartCount: cs.restartCount, message: term.message ?? null }
    }
    const w = cs.state?.waiting
    if (w?.reason !== undefined && !PROGRESS.has(w.reason)) {
      if (PULL.has(w.reason) || CONFIG.has(w.reason)) return undefined
      const last = cs.lastState?.terminated
      // waiting in back-off after a failed run
      if (last !== undefined && (last.exitCode ?? 0) === 0 && w.reason !== "CrashLoopBackOff") return undefined
      return { container: cs.name, status: `Init:${w.reason}`, reason: last?.reason ?? w.reason, exitCode: last?.exitCode ?? null, restartCount: cs.restartCount, message: w.message ?? last?.message ?? null }
    }
    // running, or still initialising: no failure (later init containers have not run)
    return undefined
  }
  return undefined
}

/** What one pod event reports (pure; updates `episodes`): a newly failed init container. */
export const scan = (pod: PodWire.Pod, episodes: Episodes): ReadonlyArray<InitFailure> => {
  for (const cs of pod.status?.initContainerStatuses ?? []) {
    if (cs.state?.terminated?.exitCode === 0) episodes.clear(`${podKey(pod)}/${cs.name}`)
  }
  const f = initFailureOf(pod)
  return f !== undefined && episodes.enter(`${podKey(pod)}/${f.container}`) ? [f] : []
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> =>
  episodeDetector("k8s.pod.init-failure", options, scan, (name, pod, f) =>
    signal(PodSignalTypes.initFailure, name, pod, f.container, { status: f.status, reason: f.reason, exitCode: f.exitCode, restartCount: f.restartCount, message: f.message }))
