/**
 * Kubernetes Events on every object BytePort acts on, so `kubectl describe` and every event
 * pipeline show what BytePort did and why. Events are core/v1 Events (`source.component` and
 * `reportingComponent` = `byteport`) with the acted-on object's uid and resourceVersion in
 * `involvedObject`.
 *
 * Recording an event never fails the action it describes: an API error is logged and dropped.
 * Nothing is recorded in dry_run.
 *
 * @example
 * ```ts
 * // inside an action handler's apply(params, ctx):
 * yield* EventRecorder.recordEvent(deployment, "MemoryLimitRaised", "raised app to 512Mi (OOMKilled ×3)", { dryRun: ctx.dryRun })
 * ```
 *
 * @since 0.1.0
 */
import type { CoreV1Event } from "@kubernetes/client-node"
import { Clock, Context, Effect, Layer } from "effect"
import { hostname } from "node:os"
import { Kube } from "../Kube"

/** The object an event is about (typed client-node objects and wire JSON both fit). */
export interface InvolvedObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata?: {
    readonly name?: string | undefined
    readonly namespace?: string | undefined
    readonly uid?: string | undefined
    readonly resourceVersion?: string | undefined
  } | undefined
}

/** Options of one event. */
export interface RecordOptions {
  /** `Normal` (default) or `Warning`. */
  readonly type?: "Normal" | "Warning" | undefined
  /** What was done (`Patch`, `Evict`, `RolloutRestart` …); default the reason. */
  readonly action?: string | undefined
  /** In dry_run nothing is recorded. */
  readonly dryRun?: boolean | undefined
  /** The object's kind/apiVersion when the object itself lacks them (list items do). */
  readonly kind?: string | undefined
  readonly apiVersion?: string | undefined
}

/** What `record` did. */
export type RecordResult = "recorded" | "skipped-dry-run" | "failed"

/** The EventRecorder service. */
export class EventRecorder extends Context.Service<
  EventRecorder,
  {
    /** The reporting component (`byteport`). */
    readonly component: string
    /** Records an event on `obj`. Never fails. */
    readonly record: (obj: InvolvedObject, reason: string, message: string, options?: RecordOptions) => Effect.Effect<RecordResult>
  }
>()("@byteport/k8s/EventRecorder") {}

/** Kubernetes limits an event message to 1 KiB in practice (the apiserver truncates longer notes). */
const MAX_MESSAGE = 1024

/** Builds the core/v1 Event for an object (exported for tests and for callers that batch). */
export const toEvent = (obj: InvolvedObject, reason: string, message: string, options: RecordOptions & { readonly now: number; readonly component: string; readonly instance: string }): CoreV1Event => {
  const md = obj.metadata ?? {}
  const namespace = md.namespace ?? "default"
  const now = new Date(options.now)
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${md.name ?? "object"}.`, namespace },
    involvedObject: {
      apiVersion: obj.apiVersion ?? options.apiVersion ?? "v1",
      kind: obj.kind ?? options.kind ?? "Unknown",
      name: md.name ?? "",
      ...(md.namespace !== undefined ? { namespace: md.namespace } : {}),
      ...(md.uid !== undefined ? { uid: md.uid } : {}),
      ...(md.resourceVersion !== undefined ? { resourceVersion: md.resourceVersion } : {})
    },
    reason,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
    type: options.type ?? "Normal",
    action: options.action ?? reason,
    source: { component: options.component, host: options.instance },
    reportingComponent: options.component,
    reportingInstance: options.instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1
  }
}

/** The recorder over the Kube service (component `byteport`, instance = this host's name). */
export const layer = (options: { readonly component?: string; readonly instance?: string } = {}): Layer.Layer<EventRecorder, never, Kube> =>
  Layer.effect(
    EventRecorder,
    Effect.gen(function*() {
      const kube = yield* Kube
      const component = options.component ?? "byteport"
      const instance = options.instance ?? hostname()
      return EventRecorder.of({
        component,
        record: (obj, reason, message, o = {}) =>
          Effect.gen(function*() {
            if (o.dryRun) return "skipped-dry-run" as const
            const now = yield* Clock.currentTimeMillis
            const event = toEvent(obj, reason, message, { ...o, now, component, instance })
            return yield* kube.createEvent(event.metadata!.namespace!, event).pipe(
              Effect.as("recorded" as const),
              Effect.catch((e) => Effect.as(Effect.logWarning(`event ${reason} on ${event.involvedObject.kind} ${event.involvedObject.name} not recorded: ${e.message}`), "failed" as const))
            )
          })
      })
    })
  )

/** The one-liner for action handlers: records `reason`/`message` on `obj` (nothing in dry_run; never fails). */
export const recordEvent = (obj: InvolvedObject, reason: string, message: string, options?: RecordOptions): Effect.Effect<RecordResult, never, EventRecorder> =>
  Effect.flatMap(EventRecorder, (r) => r.record(obj, reason, message, options))
