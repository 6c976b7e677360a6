/**
 * Signal: a container (init containers included) cannot get its image: it waits in
 * `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName` or `ErrImageNeverPull` (the pod
 * informer, shared watch). Reported once per container and image until the container runs (the
 * kubelet alternates ErrImagePull and ImagePullBackOff; that is one episode); a new image (a
 * rollout, a fix) is a new episode. The waiting message is the runtime's error, parsed by
 * `PodMessages.imagePull`.
 *
 * @since 0.1.0
 */
import { Detector } from "@byteport/core"
import { Effect } from "effect"
import type { Kube } from "../Kube"
import type * as PodWire from "../probes/podWire"
import { make as signal, PodSignalTypes, podKey, podStateDetector, statusesOf, type Waiting, waitingIn } from "./podSignals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** Detector name (default `k8s.pod.image-pull`). */
  readonly name?: string | undefined
}

/** The waiting reasons of a failed pull. */
export const REASONS: ReadonlySet<string> = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"])

const imageOf = (pod: PodWire.Pod, w: { readonly init: boolean; readonly status: PodWire.ContainerStatus }): string | null =>
  [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === w.status.name)?.image ?? w.status.image ?? null

/**
 * What one pod event reports: the containers newly failing to pull (pure). `reported` maps a
 * pod's container to the image last reported; a running or terminated container is dropped.
 */
export const scan = (pod: PodWire.Pod, reported: Map<string, string>): ReadonlyArray<Waiting & { readonly image: string | null }> => {
  for (const s of statusesOf(pod)) {
    if (s.status.state?.running !== undefined || s.status.state?.terminated !== undefined) reported.delete(`${podKey(pod)}/${s.status.name}`)
  }
  return waitingIn(pod, REASONS).flatMap((w) => {
    const image = imageOf(pod, w)
    const key = `${podKey(pod)}/${w.status.name}`
    if (reported.get(key) === (image ?? "")) return []
    reported.set(key, image ?? "")
    return [{ ...w, image }]
  })
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.pod.image-pull"
  return podStateDetector(name, options, () => new Map<string, string>(), (pod: PodWire.Pod, _type, reported) =>
    Effect.forEach(scan(pod, reported), (w) =>
      signal(PodSignalTypes.imagePull, name, pod, w.status.name, { init: w.init, reason: w.reason, message: w.message, image: w.image })))
}
