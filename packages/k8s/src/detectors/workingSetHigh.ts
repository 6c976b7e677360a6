/**
 * Signal 4 (detector variant): a container's metrics-server working set at or above `ratio`
 * (default 0.90) of its memory limit. metrics.k8s.io has no watch, so this polls on a schedule
 * (default every 60 s): one pod-metrics list per poll; the pods come from the shared pod watch
 * when one is open (`Informers.listOr`), else one pod list. Each container is
 * signalled once per crossing (it must fall below the ratio before it signals again).
 *
 * @since 0.1.0
 */
import { Detector, type Signal } from "@byteport/core"
import { Duration, Effect, Schedule } from "effect"
import { Kube } from "../Kube"
import * as Quantity from "../Quantity"
import * as Informers from "../informers/Informers"
import { pods } from "../informers/Resource"
import type * as Wire from "../probes/wire"
import { podSignal, SignalTypes } from "./signals"

/** Options of the detector. */
export interface Options {
  readonly namespace?: string | undefined
  /** Share of the limit that signals (default 0.90). */
  readonly ratio?: number | undefined
  /** Poll interval (default 60 s). */
  readonly interval?: Duration.Input | undefined
  readonly name?: string | undefined
}

/** Containers of `podList` whose working set in `metrics` is ≥ ratio × limit. */
export const highContainers = (
  podList: ReadonlyArray<Wire.Pod>,
  metrics: ReadonlyArray<Wire.PodMetrics>,
  ratio: number
): ReadonlyArray<{ readonly pod: Wire.Pod; readonly container: string; readonly workingSetBytes: number; readonly limitBytes: number }> => {
  const byName = new Map(metrics.map((m) => [`${m.metadata.namespace ?? ""}/${m.metadata.name}`, m]))
  return podList.flatMap((pod) => {
    const m = byName.get(`${pod.metadata.namespace ?? ""}/${pod.metadata.name}`)
    if (!m) return []
    return pod.spec.containers.flatMap((c) => {
      const limit = Quantity.parse(c.resources?.limits?.["memory"])
      const ws = Quantity.parse(m.containers.find((x) => x.name === c.name)?.usage.memory)
      return limit && ws !== undefined && ws >= limit * ratio ? [{ pod, container: c.name, workingSetBytes: ws, limitBytes: limit }] : []
    })
  })
}

/** The detector. */
export const make = (options: Options = {}): Detector.Detector<never, Kube> => {
  const name = options.name ?? "k8s.oom.working-set-high"
  const ratio = options.ratio ?? 0.9
  const above = new Set<string>()
  return Detector.poll(name, {
    schedule: Schedule.spaced(options.interval ?? "60 seconds"),
    poll: Effect.gen(function*() {
      const kube = yield* Kube
      const metrics = (yield* kube.podMetrics(options.namespace)).items as unknown as ReadonlyArray<Wire.PodMetrics>
      const list = (yield* Informers.listOr(pods, { namespace: options.namespace }, kube.listPods({ namespace: options.namespace }))) as unknown as ReadonlyArray<Wire.Pod>
      const high = highContainers(list, metrics, ratio)
      const now = new Set(high.map((h) => `${h.pod.metadata.uid}/${h.container}`))
      const out: Array<Signal.Signal> = []
      for (const h of high) {
        const key = `${h.pod.metadata.uid}/${h.container}`
        if (above.has(key)) continue
        out.push(yield* podSignal(SignalTypes.workingSetHigh, name, h.pod, h.container, { workingSetBytes: h.workingSetBytes, limitBytes: h.limitBytes, ratio: Math.round((h.workingSetBytes / h.limitBytes) * 1000) / 1000 }))
      }
      above.clear()
      for (const k of now) above.add(k)
      return out
    })
  })
}
