/**
 * Informer-based Detectors for core: the events of a kind's shared watch (see `Informers.ts`),
 * seen through the detector's namespace and selectors, mapped to Signals. No polling, and no
 * watch of its own: every detector on pods shares one list+watch of pods (per cluster), and so
 * on for each kind. `shared: false` gives a detector a dedicated supervised informer instead.
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
import * as Informers from "./Informers"
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
   * Use the kind's shared watch (default `true`): namespace and selectors are applied on the
   * client and the watch options (`backoff`, `onConnect`, `inactivityTimeoutMs`, `onError`) are
   * the `Informers` layer's. `false`: a dedicated informer with server-side selectors and these
   * options (one more list+watch on the API server).
   */
  readonly shared?: boolean | undefined
  /**
   * Maps one informer event to zero or more signals. An Effect that fails (or dies) is logged
   * and skipped: a bad event never stops the detector.
   */
  readonly toSignals: (event: Informer.InformerEvent<T>) => SignalsOf<R>
}

/**
 * The events a detector sees: its kind's shared watch through its namespace and selectors, or
 * a dedicated informer with `shared: false`. An invalid selector is a defect (a bug in the code
 * that wrote it), reported by the detector loop.
 */
export const events = <T extends KubernetesObject>(options: Omit<FromInformerOptions<T, never>, "toSignals">): Stream.Stream<Informer.InformerEvent<T>, never, Kube> =>
  options.shared === false
    ? Informer.watch(options.resource, { ...options, name: options.name })
    : Informers.subscribe(options.resource, { namespace: options.namespace, labelSelector: options.labelSelector, fieldSelector: options.fieldSelector }).pipe(Stream.orDie)

/**
 * A detector that emits nothing and keeps the shared watches of `resources` open while it runs,
 * so probes read those kinds from the cache (`Informers.getOr`/`listOr`) instead of the API.
 */
export const holding = (name: string, resources: ReadonlyArray<Resource<KubernetesObject>>, options: { readonly namespace?: string | undefined } = {}): Detector.Detector<never, Kube> =>
  Detector.fromStream(name, Stream.callback<never, never, Kube>(() => Informers.hold(resources, options)))

/** The signals of an informer, mapped through `toSignals`, as a Stream (for composing by hand). */
export const signals = <T extends KubernetesObject, R = never>(options: FromInformerOptions<T, R>): Stream.Stream<Signal.Signal | unknown, never, Kube | R> =>
  events(options).pipe(
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
