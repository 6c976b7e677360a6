/**
 * Loading a recorded incident verbatim: a `kubectl get -o json` List (or any array of API
 * objects, mixed kinds) goes into the store through `MemoryStore.load`, keeping every recorded
 * uid, creationTimestamp, managedFields entry, ownerReference, status and `null`, so the real
 * client and kubectl read back what the user recorded. The capture time — given, or else the
 * latest timestamp in the recording — is where the simulator's clock starts.
 */
import type { MemoryStore } from "./MemoryStore"
import { byKind, Keys } from "./registry"
import type { KubeObject, ResourceKey } from "./types"

/** A recorded List as `kubectl get -o json` prints it (`kind: List`, or `PodList` …, with `items`). */
export interface RecordedList {
  readonly apiVersion?: string
  readonly kind?: string
  readonly items: ReadonlyArray<KubeObject>
}

/** A recording: a List, its JSON text, or a bare array of objects. */
export type Recording = RecordedList | ReadonlyArray<KubeObject> | string

/** One recorded object the store has no kind for (left out, reported). */
export interface Skipped {
  readonly apiVersion: string | undefined
  readonly kind: string | undefined
  readonly name: string | undefined
  readonly reason: string
}

/** What a load did. */
export interface LoadResult {
  /** Objects stored verbatim. */
  readonly loaded: number
  /** Namespaces created because recorded objects live in them and the recording has no Namespace object. */
  readonly namespacesCreated: ReadonlyArray<string>
  /** Objects of kinds the simulator does not serve. */
  readonly skipped: ReadonlyArray<Skipped>
}

/** The items of a recording (a List's items, an array, or JSON text of either; Lists nested in a List are flattened). */
export const itemsOf = (recording: Recording): ReadonlyArray<KubeObject> => {
  const parsed: unknown = typeof recording === "string" ? JSON.parse(recording) : recording
  const out: Array<KubeObject> = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return void v.forEach(walk)
    if (v && typeof v === "object") {
      const o = v as { items?: unknown; metadata?: unknown }
      if (Array.isArray(o.items) && !("metadata" in o && o.metadata && typeof o.metadata === "object" && "name" in (o.metadata as object))) return walk(o.items)
      out.push(v as KubeObject)
    }
  }
  walk(parsed)
  return out
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** The latest RFC 3339 timestamp anywhere in the recording (epoch ms), or undefined when it has none. */
export const latestTimestamp = (recording: Recording): number | undefined => {
  let latest: number | undefined
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (RFC3339.test(v)) {
        const t = Date.parse(v)
        if (Number.isFinite(t) && (latest === undefined || t > latest)) latest = t
      }
    } else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === "object") Object.values(v).forEach(walk)
  }
  walk(itemsOf(recording))
  return latest
}

const keyOf = (obj: KubeObject): ResourceKey | undefined => {
  const t = obj.apiVersion && obj.kind ? byKind(obj.apiVersion, obj.kind) : undefined
  return t ? { group: t.group, version: t.version, resource: t.resource } : undefined
}

const rvOf = (obj: KubeObject): number => {
  const rv = obj.metadata?.resourceVersion
  return rv && /^[0-9]+$/.test(rv) ? Number(rv) : Number.MAX_SAFE_INTEGER
}

/**
 * Loads a recording into a store verbatim (see `MemoryStore.load`), in ascending recorded
 * resourceVersion order so every numeric resourceVersion is kept. Namespaces the objects live in
 * are created when the recording has no Namespace object for them.
 */
export const load = (store: MemoryStore, recording: Recording): LoadResult => {
  const items = itemsOf(recording)
  const skipped: Array<Skipped> = []
  const known: Array<{ readonly key: ResourceKey; readonly obj: KubeObject }> = []
  for (const obj of items) {
    const key = keyOf(obj)
    if (!key) skipped.push({ apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata?.name, reason: `kube-sim serves no ${obj.apiVersion ?? "?"} ${obj.kind ?? "?"}` })
    else known.push({ key, obj })
  }
  known.sort((a, b) => rvOf(a.obj) - rvOf(b.obj))
  const recordedNamespaces = new Set(known.filter((k) => k.obj.kind === "Namespace").map((k) => k.obj.metadata.name))
  const namespacesCreated: Array<string> = []
  for (const { obj } of known) {
    const ns = obj.metadata?.namespace
    if (ns && !recordedNamespaces.has(ns) && !store.entry(Keys.namespaces, undefined, ns) && !namespacesCreated.includes(ns)) {
      store.create(Keys.namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
      namespacesCreated.push(ns)
    }
  }
  for (const { key, obj } of known) store.load(key, obj)
  return { loaded: known.length, namespacesCreated, skipped }
}
