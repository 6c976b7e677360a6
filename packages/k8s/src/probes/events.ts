/**
 * Events about a pod, in either shape the API serves them — core/v1 (`involvedObject`,
 * `message`, `count`, `firstTimestamp`/`lastTimestamp`) and events.k8s.io/v1 (`regarding`,
 * `note`, `series`, `deprecated*`) — normalised into one `PodEvent` (oldest first), with the
 * container a `fieldPath` names (`spec.containers{app}`). `forPod` reads them from the shared
 * Event watch's cache when it is open (one list otherwise).
 *
 * @example
 * ```ts
 * import { PodEvents } from "@byteport/k8s"
 * const events = yield* PodEvents.forPod({ namespace: "shop", name: "web-7d9f-abcde", uid })
 * const kills = events.filter((e) => e.reason === "Killing")
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { Kube } from "../Kube"
import type { KubeError } from "../KubeError"
import * as Informers from "../informers/Informers"

const Str = Schema.String
const opt = Schema.optionalKey
/** Absent, undefined (client-node serialises unset fields so) or null. */
const nullable = <S extends Schema.Top>(s: S) => Schema.optional(Schema.NullOr(s))

/** The object an Event is about. */
export const ObjectRef = Schema.Struct({ kind: nullable(Str), name: nullable(Str), namespace: nullable(Str), uid: nullable(Str), fieldPath: nullable(Str) })

/** A core/v1 Event (the fields read). */
export const CoreV1Event = Schema.Struct({
  apiVersion: nullable(Str),
  kind: nullable(Str),
  metadata: Schema.Struct({ name: nullable(Str), namespace: nullable(Str), creationTimestamp: nullable(Str) }),
  involvedObject: ObjectRef,
  reason: nullable(Str),
  message: nullable(Str),
  type: nullable(Str),
  count: nullable(Schema.Number),
  firstTimestamp: nullable(Str),
  lastTimestamp: nullable(Str),
  eventTime: nullable(Str),
  series: nullable(Schema.Struct({ count: nullable(Schema.Number), lastObservedTime: nullable(Str) })),
  source: nullable(Schema.Struct({ component: nullable(Str), host: nullable(Str) })),
  reportingComponent: nullable(Str)
})

/** An events.k8s.io/v1 Event (the fields read). */
export const EventsV1Event = Schema.Struct({
  apiVersion: nullable(Str),
  kind: nullable(Str),
  metadata: Schema.Struct({ name: nullable(Str), namespace: nullable(Str), creationTimestamp: nullable(Str) }),
  regarding: ObjectRef,
  reason: nullable(Str),
  note: nullable(Str),
  type: nullable(Str),
  eventTime: nullable(Str),
  series: nullable(Schema.Struct({ count: nullable(Schema.Number), lastObservedTime: nullable(Str) })),
  reportingController: nullable(Str),
  deprecatedCount: nullable(Schema.Number),
  deprecatedFirstTimestamp: nullable(Str),
  deprecatedLastTimestamp: nullable(Str),
  deprecatedSource: nullable(Schema.Struct({ component: nullable(Str), host: nullable(Str) }))
})

/** Either shape. */
export const AnyEvent = Schema.Union([EventsV1Event, CoreV1Event])

/** An Event, whichever API served it. */
export interface PodEvent {
  /** `Normal` or `Warning`. */
  readonly type: string
  readonly reason: string
  /** core/v1 `message`, events.k8s.io `note`. */
  readonly message: string
  /** How many times it happened (count, series.count or deprecatedCount; at least 1). */
  readonly count: number
  /** First and last occurrence (ISO), as exact as the shape gives them. */
  readonly firstTime: string | null
  readonly lastTime: string | null
  /** kubelet, default-scheduler … */
  readonly source: string | null
  readonly host: string | null
  readonly object: { readonly kind: string | null; readonly name: string | null; readonly namespace: string | null; readonly uid: string | null; readonly fieldPath: string | null }
  /** The container a `fieldPath` names (`spec.containers{app}` → `app`), else null. */
  readonly container: string | null
  /** Whether `fieldPath` names an init container. */
  readonly init: boolean
}

const iso = (t: unknown): string | null => {
  if (t === null || t === undefined || t === "") return null
  const d = t instanceof Date ? t : new Date(String(t))
  return Number.isFinite(d.getTime()) ? d.toISOString() : null
}

const containerOf = (fieldPath: string | null | undefined) => {
  const m = /^spec\.(initContainers|containers|ephemeralContainers)\{([^}]+)\}/.exec(fieldPath ?? "")
  return { container: m ? m[2]! : null, init: m?.[1] === "initContainers" }
}

const ref = (o: typeof ObjectRef.Type): PodEvent["object"] => ({
  kind: o.kind ?? null,
  name: o.name ?? null,
  namespace: o.namespace ?? null,
  uid: o.uid ?? null,
  fieldPath: o.fieldPath ?? null
})

/** A core/v1 Event → PodEvent. */
export const fromCoreV1 = (e: typeof CoreV1Event.Type): PodEvent => ({
  type: e.type ?? "Normal",
  reason: e.reason ?? "",
  message: e.message ?? "",
  count: Math.max(1, e.series?.count ?? e.count ?? 1),
  firstTime: iso(e.firstTimestamp) ?? iso(e.eventTime) ?? iso(e.metadata.creationTimestamp),
  lastTime: iso(e.series?.lastObservedTime) ?? iso(e.lastTimestamp) ?? iso(e.eventTime) ?? iso(e.firstTimestamp),
  source: e.source?.component ?? e.reportingComponent ?? null,
  host: e.source?.host ?? null,
  object: ref(e.involvedObject),
  ...containerOf(e.involvedObject.fieldPath)
})

/** An events.k8s.io/v1 Event → PodEvent. */
export const fromEventsV1 = (e: typeof EventsV1Event.Type): PodEvent => ({
  type: e.type ?? "Normal",
  reason: e.reason ?? "",
  message: e.note ?? "",
  count: Math.max(1, e.series?.count ?? e.deprecatedCount ?? 1),
  firstTime: iso(e.deprecatedFirstTimestamp) ?? iso(e.eventTime) ?? iso(e.metadata.creationTimestamp),
  lastTime: iso(e.series?.lastObservedTime) ?? iso(e.deprecatedLastTimestamp) ?? iso(e.eventTime),
  source: e.reportingController ?? e.deprecatedSource?.component ?? null,
  host: e.deprecatedSource?.host ?? null,
  object: ref(e.regarding),
  ...containerOf(e.regarding.fieldPath)
})

/** Either shape (decoded) → PodEvent. */
export const normalize = (e: typeof AnyEvent.Type): PodEvent => ("regarding" in e ? fromEventsV1(e) : fromCoreV1(e))

/** Decodes one Event of either shape (a malformed one fails naming the field). */
export const decode = (u: unknown): Effect.Effect<PodEvent, Schema.SchemaError> =>
  Effect.map(Schema.decodeUnknownEffect(AnyEvent)(u), normalize)

/** Sorts events oldest first (by last occurrence, then first). */
export const chronological = (events: ReadonlyArray<PodEvent>): ReadonlyArray<PodEvent> =>
  [...events].sort((a, b) => (a.lastTime ?? a.firstTime ?? "").localeCompare(b.lastTime ?? b.firstTime ?? ""))

/** The events of one reason (optionally of one container). */
export const withReason = (events: ReadonlyArray<PodEvent>, reason: string, container?: string): ReadonlyArray<PodEvent> =>
  events.filter((e) => e.reason === reason && (container === undefined || e.container === container))

/**
 * The Events about a pod (core/v1, from the shared Event watch's cache when open, else one
 * list), normalised, oldest first. Events that do not decode are skipped.
 */
export const forPod = (pod: { readonly namespace: string; readonly name: string; readonly uid?: string | undefined }): Effect.Effect<ReadonlyArray<PodEvent>, KubeError, Kube> =>
  Effect.map(
    Informers.eventsFor({ kind: "Pod", name: pod.name, namespace: pod.namespace, uid: pod.uid }),
    (raw) => chronological(raw.flatMap((e) => {
      const r = Schema.decodeUnknownExit(CoreV1Event)(e)
      return r._tag === "Success" ? [fromCoreV1(r.value)] : []
    }))
  )
