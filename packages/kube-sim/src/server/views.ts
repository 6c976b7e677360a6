/**
 * Resources served as a second view of another resource's storage: `events.k8s.io/v1` Events are
 * core/v1 Events (one storage, two views, as in the apiserver), converted field by field
 * (message↔note, involvedObject↔regarding, source↔deprecatedSource, count/firstTimestamp/
 * lastTimestamp↔deprecated*, reportingComponent↔reportingController).
 */
import type { ResourceType } from "../store/registry"
import { keyString, Keys, lookup } from "../store/registry"
import type { KubeObject } from "../store/types"

/** A view: the storage it reads and writes, and the conversions. */
export interface View {
  readonly storage: ResourceType
  /** Storage shape → view shape. */
  readonly toView: (obj: KubeObject) => KubeObject
  /** View shape → storage shape. */
  readonly fromView: (obj: KubeObject) => KubeObject
}

type Obj = Record<string, unknown>

const pick = (from: Obj, to: Obj, pairs: ReadonlyArray<readonly [string, string]>): void => {
  for (const [a, b] of pairs) if (from[a] !== undefined) to[b] = from[a]
}

const EVENT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ["eventTime", "eventTime"],
  ["series", "series"],
  ["reportingComponent", "reportingController"],
  ["reportingInstance", "reportingInstance"],
  ["action", "action"],
  ["reason", "reason"],
  ["involvedObject", "regarding"],
  ["related", "related"],
  ["message", "note"],
  ["type", "type"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"]
]

const eventsView: View = {
  storage: lookup(Keys.events)!,
  toView: (obj) => {
    const out: Obj = { apiVersion: "events.k8s.io/v1", kind: "Event", metadata: obj.metadata }
    pick(obj, out, EVENT_FIELDS)
    return out as KubeObject
  },
  fromView: (obj) => {
    const out: Obj = { apiVersion: "v1", kind: "Event", metadata: obj.metadata }
    pick(obj, out, EVENT_FIELDS.map(([a, b]) => [b, a] as const))
    return out as KubeObject
  }
}

const VIEWS = new Map<string, View>([[keyString(Keys.eventsV1), eventsView]])

const customViews = new WeakMap<ResourceType, View>()

/** A custom resource version served from its CRD's storage version: only `apiVersion` differs. */
const customView = (type: ResourceType, storageVersion: string): View => {
  let v = customViews.get(type)
  if (!v) {
    const storage: ResourceType = { ...type, version: storageVersion }
    delete (storage as { storageVersion?: string }).storageVersion
    const gv = (version: string) => `${type.group}/${version}`
    v = {
      storage,
      toView: (obj) => ({ ...obj, apiVersion: gv(type.version) }),
      fromView: (obj) => ({ ...obj, apiVersion: gv(storageVersion) })
    }
    customViews.set(type, v)
  }
  return v
}

/** The view serving `type`, if `type` is a view of another storage. */
export const viewOf = (type: ResourceType): View | undefined =>
  VIEWS.get(keyString(type)) ?? (type.storageVersion !== undefined && type.storageVersion !== type.version ? customView(type, type.storageVersion) : undefined)
