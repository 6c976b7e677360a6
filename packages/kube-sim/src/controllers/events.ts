/**
 * Records core/v1 Events the way the real components do: involvedObject, reason, message,
 * type, source.component, with count/firstTimestamp/lastTimestamp aggregation of repeats.
 */
import type { KubeObject, ObjectStore } from "../store/types"
import type { VirtualClock } from "../clock/VirtualClock"
import { R } from "./util"

/** Options for one recorded event. */
export interface EventOptions {
  /** Container field path, e.g. `spec.containers{app}`. */
  readonly fieldPath?: string
  /** source.host (kubelet events). */
  readonly host?: string
  /** Event time (default: now). */
  readonly at?: number
  /** First occurrence for an aggregated event recorded after the fact. */
  readonly firstAt?: number
  /** Add this many occurrences (default 1). */
  readonly times?: number
}

/** Emits and aggregates Events in the store. */
export class EventRecorder {
  private readonly index = new Map<string, string>()
  private seq = 0

  /** Build a recorder over a store and clock. */
  constructor(private readonly store: ObjectStore, private readonly clock: VirtualClock) {}

  /** Record an event about `obj`. */
  record(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string, component: string, opts: EventOptions = {}): void {
    const ns = obj.metadata.namespace ?? "default"
    const at = opts.at ?? this.clock.now()
    const ts = this.clock.iso(at)
    const key = [obj.kind, ns, obj.metadata.name, obj.metadata.uid ?? "", opts.fieldPath ?? "", reason, message, component, type].join("\u0000")
    const existing = this.index.get(key)
    if (existing && this.store.get(R.events, ns, existing)) {
      this.store.mutate(R.events, ns, existing, (e) => {
        e["count"] = ((e["count"] as number | undefined) ?? 1) + (opts.times ?? 1)
        e["lastTimestamp"] = ts
      })
      return
    }
    let name = `${obj.metadata.name}.${(Math.floor(at) * 1000 + (this.seq++ % 1000)).toString(16)}`
    while (this.store.get(R.events, ns, name)) name = `${obj.metadata.name}.${(Math.floor(at) * 1000 + (this.seq++ % 1000)).toString(16)}`
    const involved: Record<string, unknown> = {
      kind: obj.kind,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      apiVersion: obj.apiVersion,
      resourceVersion: obj.metadata.resourceVersion
    }
    if (obj.metadata.namespace === undefined) delete involved["namespace"]
    if (opts.fieldPath) involved["fieldPath"] = opts.fieldPath
    const source: Record<string, string> = { component }
    if (opts.host) source["host"] = opts.host
    this.store.create(R.events, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: ns },
      involvedObject: involved,
      reason,
      message,
      type,
      source,
      count: opts.times ?? 1,
      firstTimestamp: this.clock.iso(opts.firstAt ?? at),
      lastTimestamp: ts,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: opts.host ?? ""
    })
    this.index.set(key, name)
  }
}
