/**
 * Informer-based Detectors for core: a supervised informer (see `Informer.ts`) whose events are
 * mapped to Signals. No polling: after the initial list the detector only holds a watch open.
 *
 * @example
 * ```ts
 * import { K8sDetector, Resource, Targets } from "@byteport/k8s"
 * const oomEvents = K8sDetector.fromInformer({
 *   name: "k8s.oom-events",
 *   resource: Resource.events,
 *   fieldSelector: "reason=OOMKilling",
 *   toSignals: (event) => event.type === "add" ? [toSignal(event.object)] : []
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { KubernetesObject } from "@kubernetes/client-node"
import { Detector, type Signal } from "@byteport/core"
import { Cause, Effect, Stream } from "effect"
import type { Kube } from "../Kube"
import * as Informer from "./Informer"
import type { Resource } from "./Resource"

/** What `toSignals` may return: signals (or values `Runbook.run` will decode), directly or as an Effect. */
export type SignalsOf<R> = ReadonlyArray<Signal.Signal | unknown> | Effect.Effect<ReadonlyArray<Signal.Signal | unknown>, unknown, R>

/** Options of `fromInformer`. */
export interface FromInformerOptions<T extends KubernetesObject, R> extends Informer.WatchOptions {
  /** The detector's name (also the informer's name in logs). */
  readonly name: string
  /** The resource to watch (`Resource.pods`, `Resource.events` …). */
  readonly resource: Resource<T>
  /**
   * Maps one informer event to zero or more signals. An Effect that fails (or dies) is logged
   * and skipped: a bad event never stops the detector.
   */
  readonly toSignals: (event: Informer.InformerEvent<T>) => SignalsOf<R>
}

/** The signals of an informer, mapped through `toSignals`, as a Stream (for composing by hand). */
export const signals = <T extends KubernetesObject, R = never>(options: FromInformerOptions<T, R>): Stream.Stream<Signal.Signal | unknown, never, Kube | R> =>
  Informer.watch(options.resource, { ...options, name: options.name }).pipe(
    Stream.mapEffect((event) => {
      const out = options.toSignals(event)
      if (Effect.isEffect(out)) {
        return out.pipe(
          Effect.catchCause((cause) =>
            Effect.as(Effect.logWarning(`detector ${options.name}: toSignals failed: ${Cause.pretty(cause)}`), [] as ReadonlyArray<unknown>)
          )
        )
      }
      return Effect.succeed(out)
    }),
    Stream.flatMap((xs) => Stream.fromIterable(xs))
  )

/** A core Detector fed by a supervised informer. */
export const fromInformer = <T extends KubernetesObject, R = never>(options: FromInformerOptions<T, R>): Detector.Detector<never, Kube | R> =>
  Detector.fromStream(options.name, signals(options))
