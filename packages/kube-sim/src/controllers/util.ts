/**
 * Small helpers shared by the controllers: resource keys, object access, Go-style
 * semantic equality and deep cloning.
 */
import { Keys } from "../store/registry"
import type { KubeObject, ObjectStore, ResourceKey } from "../store/types"

/** Resource keys of every kind the controllers touch: the store's `Keys` plus short aliases. */
export const R = {
  ...Keys,
  pvcs: Keys.persistentvolumeclaims,
  pvs: Keys.persistentvolumes,
  hpas: Keys.horizontalpodautoscalers,
  pdbs: Keys.poddisruptionbudgets
} as const satisfies Record<string, ResourceKey>

/** Loose JSON record type used when walking objects. */
export type Json = Record<string, any>

/** Deep clone of plain JSON. */
export const clone = <A>(a: A): A => (a === undefined ? a : structuredClone(a))

/** True when a value is "empty" in Go's semantic sense (null, undefined, {}, []). */
const isEmpty = (v: unknown): boolean =>
  v === null || v === undefined || (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0)

/** Canonical form: drop empty values, sort keys; used for template equality and hashing. */
export const canonical = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(canonical)
  if (v !== null && typeof v === "object") {
    const out: Json = {}
    for (const k of Object.keys(v as Json).sort()) {
      const c = canonical((v as Json)[k])
      if (!isEmpty(c)) out[k] = c
    }
    return out
  }
  return v
}

/** Semantic deep equality (null, {} and [] equal absent). */
export const semanticEqual = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

/** Exact deep equality of JSON values. */
export const jsonEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** `namespace/name` key. */
export const nsName = (o: KubeObject): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`

/** Sort objects by namespace/name for deterministic iteration. */
export const sorted = (xs: Array<KubeObject>): Array<KubeObject> =>
  [...xs].sort((a, b) => (nsName(a) < nsName(b) ? -1 : nsName(a) > nsName(b) ? 1 : 0))

/** The controller ownerReference of an object. */
export const controllerOf = (o: KubeObject) => o.metadata.ownerReferences?.find((r) => r.controller === true)

/** True when `o` is controlled by the object with uid `uid`. */
export const ownedBy = (o: KubeObject, uid: string | undefined): boolean => uid !== undefined && controllerOf(o)?.uid === uid

/**
 * Apply `f` to a clone of the stored object and write it back only when it changed,
 * so a quiescent controller pass performs no writes.
 */
export const mutateIfChanged = (
  store: ObjectStore,
  key: ResourceKey,
  namespace: string | undefined,
  name: string,
  f: (o: Json) => void
): KubeObject | undefined => {
  // the memory store hands out its frozen object and serialized JSON: copy and compare through it
  const entry = (store as Partial<ScanningStore>).entry?.(key, namespace, name) as { readonly obj: KubeObject; readonly json?: string } | undefined
  const cur = entry && typeof entry.json === "string" ? entry.obj : store.get(key, namespace, name)
  if (!cur) return undefined
  const next = (entry && typeof entry.json === "string" ? JSON.parse(entry.json) : clone(cur)) as Json
  f(next)
  if (entry && typeof entry.json === "string" ? JSON.stringify(next) === entry.json : jsonEqual(next, cur)) return cur
  return store.mutate(key, namespace, name, (o) => {
    const live = o as Json
    for (const k of Object.keys(live)) if (k !== "metadata" && !(k in next)) delete live[k]
    for (const k of Object.keys(next)) if (k !== "metadata") live[k] = next[k]
    const meta = next["metadata"] as Json
    for (const k of Object.keys(meta)) {
      if (k === "resourceVersion" || k === "uid" || k === "creationTimestamp" || k === "name" || k === "namespace") continue
      ;(live["metadata"] as Json)[k] = meta[k]
    }
    for (const k of Object.keys(live["metadata"] as Json)) {
      if (!(k in meta)) delete (live["metadata"] as Json)[k]
    }
  })
}

/** Does a label set match a LabelSelector (matchLabels + matchExpressions)? */
export const selectorMatches = (selector: Json | undefined, labels: Record<string, string> | undefined): boolean => {
  if (!selector) return false
  const l = labels ?? {}
  const ml = (selector["matchLabels"] ?? {}) as Record<string, string>
  for (const [k, v] of Object.entries(ml)) if (l[k] !== v) return false
  for (const e of (selector["matchExpressions"] ?? []) as Array<Json>) {
    const has = e["key"] in l
    const val = l[e["key"]]
    const values = (e["values"] ?? []) as Array<string>
    switch (e["operator"]) {
      case "In": if (!has || !values.includes(val!)) return false; break
      case "NotIn": if (has && values.includes(val!)) return false; break
      case "Exists": if (!has) return false; break
      case "DoesNotExist": if (has) return false; break
      default: return false
    }
  }
  return Object.keys(ml).length > 0 || ((selector["matchExpressions"] ?? []) as Array<unknown>).length > 0
}

/** Does a plain map selector (Service.spec.selector, nodeSelector) match labels? */
export const mapSelectorMatches = (sel: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean => {
  if (!sel || Object.keys(sel).length === 0) return false
  const l = labels ?? {}
  return Object.entries(sel).every(([k, v]) => l[k] === v)
}

/** Seconds between two RFC 3339 timestamps, or undefined. */
export const parseTime = (s: unknown): number | undefined => {
  if (typeof s !== "string") return undefined
  const t = Date.parse(s)
  return Number.isFinite(t) ? t : undefined
}

/** Upsert a condition of `type` in a conditions array; lastTransitionTime moves only when the status changes. */
export const setCondition = (
  conditions: Array<Json>,
  type: string,
  status: string,
  reason: string | undefined,
  message: string | undefined,
  nowIso: string,
  extra: { probe?: boolean; update?: boolean } = {}
): Array<Json> => {
  const i = conditions.findIndex((c) => c["type"] === type)
  const prev = i >= 0 ? conditions[i] : undefined
  const c: Json = { type, status }
  if (extra.probe) c["lastProbeTime"] = null
  if (extra.update) c["lastUpdateTime"] = prev && prev["status"] === status && prev["reason"] === reason && prev["message"] === message ? prev["lastUpdateTime"] : nowIso
  c["lastTransitionTime"] = prev && prev["status"] === status ? prev["lastTransitionTime"] : nowIso
  if (reason !== undefined) c["reason"] = reason
  if (message !== undefined) c["message"] = message
  if (i >= 0) conditions[i] = c
  else conditions.push(c)
  return conditions
}

/** A store that can hand out its frozen objects without copying (MemoryStore's scan/entry). */
interface ScanningStore extends ObjectStore {
  scan(key: ResourceKey, namespace?: string): Array<{ readonly obj: KubeObject }>
  entry(key: ResourceKey, namespace: string | undefined, name: string): { readonly obj: KubeObject } | undefined
  scanOwned?(key: ResourceKey, uid: string, namespace?: string): Array<{ readonly obj: KubeObject }>
  scanOnNode?(key: ResourceKey, node: string): Array<{ readonly obj: KubeObject }>
}

/**
 * Objects of `key` in `namespace` whose controller ownerReference has `uid`, sorted by
 * namespace/name: the same as `list(key, { namespace }).filter((o) => ownedBy(o, uid))`, through
 * the store's owner index when it has one.
 */
export const listOwned = (store: ObjectStore, key: ResourceKey, namespace: string, uid: string | undefined): Array<KubeObject> => {
  if (uid === undefined) return []
  const s = store as Partial<ScanningStore>
  if (typeof s.scanOwned === "function") return s.scanOwned(key, uid, namespace).map((e) => e.obj)
  return store.list(key, { namespace }).filter((o) => ownedBy(o, uid))
}

/**
 * A read-optimised view of the store for the controllers: `get`/`list` return the store's
 * frozen objects instead of copies (controllers never mutate what they read; writes go through
 * `mutate`/`update`). Falls back to the store itself when it cannot scan.
 */
export const readView = (store: ObjectStore): ObjectStore => {
  const s = store as Partial<ScanningStore>
  if (typeof s.scan !== "function" || typeof s.entry !== "function") return store
  const scan = s.scan.bind(store)
  const entry = s.entry.bind(store)
  const scanOnNode = typeof s.scanOnNode === "function" ? s.scanOnNode.bind(store) : undefined
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "list") {
        return (key: ResourceKey, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}) => {
          const node = opts.fieldSelector !== undefined ? /^spec\.nodeName=([^,]*)$/.exec(opts.fieldSelector) : null
          if (opts.labelSelector || (opts.fieldSelector !== undefined && !node)) return target.list(key, opts)
          if (node && node[1] !== "" && scanOnNode && opts.namespace === undefined) return scanOnNode(key, node[1]!).map((e) => e.obj)
          const xs = scan(key, opts.namespace).map((e) => e.obj)
          if (!node) return xs
          const want = node[1]!
          return xs.filter((o) => ((((o["spec"] as Json | undefined)?.["nodeName"] as string | undefined) ?? "") === want))
        }
      }
      if (prop === "get") return (key: ResourceKey, ns: string | undefined, name: string) => entry(key, ns, name)?.obj
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === "function" ? (v as (...a: Array<unknown>) => unknown).bind(target) : v
    },
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target)
    }
  })
}
