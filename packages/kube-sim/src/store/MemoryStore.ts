/**
 * The in-memory ObjectStore: a global integer resourceVersion, per-resource maps with cached JSON
 * (fast lists), a bounded event history for watch replay (410 Expired beyond it), FIFO change
 * fan-out that stays ordered even when a listener writes while being notified.
 */
import { applyDefaults } from "./defaults"
import { clone, deepEqual, deepFreeze } from "./equal"
import { nameSuffix, rfc3339, seeded, uuid } from "./random"
import { keyString, qualifiedResource, TypeRegistry } from "./registry"
import * as Services from "./services"
import type { ResourceType } from "./registry"
import { fromStructured, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors"
import type { StructuredSelector } from "./selectors"
import { StoreError } from "./types"
import type {
  ChangeInfo,
  DeleteRequestOptions,
  KubeObject,
  ListOptions,
  ObjectStore,
  ResourceKey,
  WatchEvent
} from "./types"

/** A stored object: the frozen value and its serialized JSON. */
export interface Entry {
  readonly obj: KubeObject
  readonly json: string
}

/** One change in the bounded history. */
export interface HistoryRecord {
  readonly rv: number
  readonly key: ResourceKey
  readonly keyStr: string
  readonly type: "ADDED" | "MODIFIED" | "DELETED"
  readonly obj: KubeObject
  readonly json: string
  readonly old: KubeObject | undefined
}

/** Options of the memory store. */
export interface MemoryStoreOptions {
  /** Clock for timestamps (epoch ms); defaults to Date.now. */
  readonly now?: () => number
  /** Seed for uids and generated names (default 1). */
  readonly seed?: number
  /** Number of changes kept for watch replay (default 10,000). */
  readonly historySize?: number
  /** Graceful pod deletion (default false: immediate, pure API mode). */
  readonly gracefulDeletion?: boolean
  /** The IPv4 block Service cluster IPs are allocated from (default `10.96.0.0/12`). */
  readonly serviceCidr?: string
}

type Listener = (key: ResourceKey, event: WatchEvent, info: ChangeInfo) => void

const nsName = (ns: string | undefined, name: string): string => (ns ? `${ns}/${name}` : name)

/** Creates an empty memory store. */
export const make = (options: MemoryStoreOptions = {}): MemoryStore => new MemoryStore(options)

/** The in-memory ObjectStore implementation. */
export class MemoryStore implements ObjectStore {
  /** See ObjectStore.gracefulDeletion. */
  gracefulDeletion: boolean
  /** See ObjectStore.garbageCollector. */
  garbageCollector = false
  private rv = 0
  private readonly data = new Map<string, Map<string, Entry>>()
  private readonly sorted = new Map<string, Array<string>>()
  /** Secondary index: resource → controller ownerReference uid → object keys. */
  private readonly byOwner = new Map<string, Map<string, Set<string>>>()
  /** Secondary index: resource → spec.nodeName → object keys. */
  private readonly byNode = new Map<string, Map<string, Set<string>>>()
  private readonly history: Array<HistoryRecord> = []
  private historyStart = 0
  private compactedRv = 0
  private readonly historySize: number
  private readonly listeners = new Set<Listener>()
  private readonly recordListeners = new Set<(record: HistoryRecord) => void>()
  private readonly queue: Array<HistoryRecord> = []
  private emitting = false
  private readonly clock: () => number
  /** The store's seeded random source (uids, generated names). */
  readonly random: () => number
  /** The seed the store was made with. */
  readonly seed: number
  /** The block Service cluster IPs come from. */
  readonly serviceCidr: Services.Cidr
  /** Called when a subscribe listener throws (default: console.error). */
  onListenerError: (error: unknown) => void = (error) => {
    console.error("kube-sim: store listener failed", error)
  }

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.now ?? Date.now
    this.seed = options.seed ?? 1
    this.random = seeded(this.seed)
    this.serviceCidr = Services.parseCidr(options.serviceCidr ?? Services.DEFAULT_SERVICE_CIDR)
    this.historySize = Math.max(1, options.historySize ?? 10_000)
    this.gracefulDeletion = options.gracefulDeletion ?? false
  }

  /** The current global resourceVersion. */
  get resourceVersion(): number {
    return this.rv
  }

  /** The injected clock. */
  now(): number {
    return this.clock()
  }

  /** The oldest resourceVersion a watch may resume from (older ones get 410 Expired). */
  get oldestResumableVersion(): number {
    return this.compactedRv
  }

  private table(key: ResourceKey): Map<string, Entry> {
    const ks = keyString(key)
    let t = this.data.get(ks)
    if (!t) {
      t = new Map()
      this.data.set(ks, t)
    }
    return t
  }

  /** The types this store serves (built-ins plus its CustomResourceDefinitions' resources). */
  readonly types = new TypeRegistry()

  private type(key: ResourceKey): ResourceType | undefined {
    return this.types.lookup(key)
  }

  /** Frozen entries of one resource, sorted by namespace/name (optionally one namespace). */
  scan(key: ResourceKey, namespace?: string): Array<Entry> {
    const ks = keyString(key)
    const t = this.table(key)
    let order = this.sorted.get(ks)
    if (!order) {
      order = [...t.keys()].sort()
      this.sorted.set(ks, order)
    }
    const out: Array<Entry> = []
    if (namespace) {
      const prefix = `${namespace}/`
      // binary search for the first key with the prefix
      let lo = 0
      let hi = order.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (order[mid]! < prefix) lo = mid + 1
        else hi = mid
      }
      for (let i = lo; i < order.length && order[i]!.startsWith(prefix); i++) out.push(t.get(order[i]!)!)
    } else for (const k of order) out.push(t.get(k)!)
    return out
  }

  /** Frozen entries of one resource whose controller ownerReference has `uid`, sorted by namespace/name (optionally one namespace). */
  scanOwned(key: ResourceKey, uid: string, namespace?: string): Array<Entry> {
    return this.scanIndexed(this.byOwner, key, uid, namespace)
  }

  /** Frozen entries of one resource whose spec.nodeName is `node`, sorted by namespace/name. */
  scanOnNode(key: ResourceKey, node: string): Array<Entry> {
    return this.scanIndexed(this.byNode, key, node, undefined)
  }

  private scanIndexed(index: Map<string, Map<string, Set<string>>>, key: ResourceKey, value: string, namespace: string | undefined): Array<Entry> {
    const keys = index.get(keyString(key))?.get(value)
    if (!keys || keys.size === 0) return []
    const t = this.table(key)
    const prefix = namespace ? `${namespace}/` : undefined
    const out: Array<Entry> = []
    for (const k of [...keys].sort()) {
      if (prefix !== undefined && !k.startsWith(prefix)) continue
      const e = t.get(k)
      if (e) out.push(e)
    }
    return out
  }

  private reindex(ks: string, k: string, old: KubeObject | undefined, obj: KubeObject | undefined): void {
    const ownerOf = (o: KubeObject | undefined) => o?.metadata.ownerReferences?.find((r) => r.controller === true)?.uid
    const nodeOf = (o: KubeObject | undefined) => {
      const n = (o?.["spec"] as Record<string, unknown> | undefined)?.["nodeName"]
      return typeof n === "string" && n !== "" ? n : undefined
    }
    const move = (index: Map<string, Map<string, Set<string>>>, from: string | undefined, to: string | undefined) => {
      if (from === to) return
      let m = index.get(ks)
      if (!m) {
        m = new Map()
        index.set(ks, m)
      }
      if (from !== undefined) {
        const set = m.get(from)
        set?.delete(k)
        if (set && set.size === 0) m.delete(from)
      }
      if (to !== undefined) {
        let set = m.get(to)
        if (!set) {
          set = new Set()
          m.set(to, set)
        }
        set.add(k)
      }
    }
    move(this.byOwner, ownerOf(old), ownerOf(obj))
    move(this.byNode, nodeOf(old), nodeOf(obj))
  }

  /** The frozen entry of one object. */
  entry(key: ResourceKey, namespace: string | undefined, name: string): Entry | undefined {
    return this.table(key).get(nsName(this.scopeNs(key, namespace), name))
  }

  private scopeNs(key: ResourceKey, namespace: string | undefined): string | undefined {
    const t = this.type(key)
    return t && !t.namespaced ? undefined : namespace
  }

  get(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined {
    const e = this.entry(key, namespace, name)
    return e ? (JSON.parse(e.json) as KubeObject) : undefined
  }

  list(key: ResourceKey, options: ListOptions = {}): Array<KubeObject> {
    const labels = options.labelSelector ? parseLabelSelector(options.labelSelector) : []
    const fields = options.fieldSelector ? parseFieldSelector(options.fieldSelector) : []
    const out: Array<KubeObject> = []
    for (const e of this.scan(key, options.namespace)) {
      if (labels.length && !matchesLabels(labels, e.obj.metadata.labels)) continue
      if (fields.length && !matchesFields(fields, e.obj)) continue
      out.push(JSON.parse(e.json) as KubeObject)
    }
    return out
  }

  /** Objects of `key` in `namespace` matching a structured (matchLabels/matchExpressions) selector. */
  select(key: ResourceKey, namespace: string | undefined, selector: StructuredSelector): Array<KubeObject> {
    const reqs = fromStructured(selector)
    return this.scan(key, namespace)
      .filter((e) => matchesLabels(reqs, e.obj.metadata.labels))
      .map((e) => e.obj)
  }

  private notFound(key: ResourceKey, name: string): StoreError {
    return new StoreError("NotFound", `${qualifiedResource(key)} "${name}" not found`, key, name)
  }

  /** The Conflict error the apiserver returns for a stale resourceVersion. */
  conflict(key: ResourceKey, name: string): StoreError {
    return new StoreError(
      "Conflict",
      `Operation cannot be fulfilled on ${qualifiedResource(key)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      key,
      name
    )
  }

  /** A copy of the object with its type's apiVersion and kind, and its namespace (dropped for a cluster-scoped type, else `default` when unset). */
  private typed(t: ResourceType | undefined, input: KubeObject): KubeObject {
    const obj = clone(input)
    obj.metadata = obj.metadata ?? ({} as KubeObject["metadata"])
    if (t) {
      obj.apiVersion = t.group === "" ? t.version : `${t.group}/${t.version}`
      obj.kind = t.kind
      if (!t.namespaced) delete obj.metadata.namespace
      else if (!obj.metadata.namespace) obj.metadata.namespace = "default"
    }
    return obj
  }

  /** Normalises and validates a new object without storing it (used by create and dry runs). */
  prepareCreate(key: ResourceKey, input: KubeObject): KubeObject {
    const t = this.type(key)
    const obj = this.typed(t, input)
    if (!obj.metadata.name) {
      if (obj.metadata.generateName) {
        const table = this.table(key)
        do {
          obj.metadata.name = obj.metadata.generateName + nameSuffix(this.random)
        } while (table.has(nsName(obj.metadata.namespace, obj.metadata.name)))
      } else {
        throw new StoreError(
          "Invalid",
          `${obj.kind} "" is invalid: metadata.name: Required value: name or generateName is required`,
          key,
          ""
        )
      }
    }
    if (this.table(key).has(nsName(obj.metadata.namespace, obj.metadata.name))) {
      throw new StoreError("AlreadyExists", `${qualifiedResource(key)} "${obj.metadata.name}" already exists`, key, obj.metadata.name)
    }
    obj.metadata.uid = uuid(this.random)
    obj.metadata.creationTimestamp = rfc3339(this.clock())
    delete obj.metadata.resourceVersion
    delete obj.metadata.deletionTimestamp
    delete obj.metadata.deletionGracePeriodSeconds
    delete obj.metadata.managedFields
    if (t?.tracksGeneration) obj.metadata.generation = 1
    else delete obj.metadata.generation
    applyDefaults(obj)
    this.allocate(key, obj, undefined)
    obj.metadata.resourceVersion = String(this.rv + 1)
    return obj
  }

  /** Service cluster IPs and node ports (see ./services). */
  private allocate(key: ResourceKey, obj: KubeObject, old: KubeObject | undefined): void {
    if (obj.kind !== "Service") return
    Services.allocate(obj, old, { seed: this.seed, cidr: this.serviceCidr, key, services: this.scan(key).map((e) => e.obj) })
  }

  create(key: ResourceKey, input: KubeObject): KubeObject {
    const obj = this.prepareCreate(key, input)
    this.commit(key, "ADDED", obj, undefined)
    return clone(obj)
  }

  /**
   * Stores a recorded object verbatim — the load path for recordings (`kubectl get -o json`, API
   * dumps): `uid`, `creationTimestamp`, `generation`, `managedFields`, `ownerReferences`,
   * `deletionTimestamp`, the status and every `null` are kept as recorded, and no defaults are
   * applied (a recording from a real apiserver carries its own). A numeric recorded
   * `resourceVersion` above the store's is kept (the store's counter jumps to it; load a List in
   * ascending resourceVersion order to keep them all), any other gets the next one. An object of
   * the same name is replaced (MODIFIED). Unlike `create`, nothing is generated, so a recorded
   * object without `metadata.name` is Invalid.
   */
  load(key: ResourceKey, input: KubeObject): KubeObject {
    const obj = this.typed(this.type(key), input)
    const name = obj.metadata.name
    if (!name) throw new StoreError("Invalid", `${obj.kind} "" is invalid: metadata.name: Required value: a recorded object has a name`, key, "")
    const recorded = /^[0-9]+$/.test(obj.metadata.resourceVersion ?? "") ? Number(obj.metadata.resourceVersion) : undefined
    const old = this.entry(key, obj.metadata.namespace, name)?.obj
    this.commit(key, old ? "MODIFIED" : "ADDED", obj, old, recorded !== undefined && Number.isSafeInteger(recorded) ? recorded : undefined)
    return clone(obj)
  }

  /**
   * Normalises an update against the stored object without storing it; `noop` is true when the
   * write changes nothing (then no resourceVersion bump and no event).
   */
  prepareUpdate(key: ResourceKey, input: KubeObject): { obj: KubeObject; old: KubeObject; noop: boolean } {
    const name = input.metadata?.name
    const ns = this.scopeNs(key, input.metadata?.namespace)
    const cur = this.entry(key, ns, name)
    if (!cur) throw this.notFound(key, name)
    const old = cur.obj
    const rvIn = input.metadata.resourceVersion
    if (rvIn !== undefined && rvIn !== "" && rvIn !== old.metadata.resourceVersion) throw this.conflict(key, name)
    const obj = clone(input)
    obj.apiVersion = old.apiVersion
    obj.kind = old.kind
    obj.metadata.uid = old.metadata.uid
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp
    if (ns !== undefined) obj.metadata.namespace = ns
    else delete obj.metadata.namespace
    for (const k of ["deletionTimestamp", "deletionGracePeriodSeconds", "generateName"] as const) {
      if (old.metadata[k] !== undefined) obj.metadata[k] = old.metadata[k] as never
      else delete obj.metadata[k]
    }
    delete obj.metadata.managedFields
    applyDefaults(obj)
    this.allocate(key, obj, old)
    const t = this.type(key)
    if (t?.tracksGeneration) {
      const g = old.metadata.generation ?? 1
      obj.metadata.generation = deepEqual(obj["spec"], old["spec"]) ? g : g + 1
    } else delete obj.metadata.generation
    obj.metadata.resourceVersion = old.metadata.resourceVersion
    const noop = deepEqual(obj, old)
    if (!noop) obj.metadata.resourceVersion = String(this.rv + 1)
    return { obj, old, noop }
  }

  update(key: ResourceKey, input: KubeObject): KubeObject {
    const { noop, obj, old } = this.prepareUpdate(key, input)
    if (noop) return clone(old)
    if (
      obj.metadata.deletionTimestamp !== undefined &&
      (obj.metadata.finalizers ?? []).length === 0 &&
      !((obj.metadata.deletionGracePeriodSeconds ?? 0) > 0)
    ) {
      const ns = this.scopeNs(key, obj.metadata.namespace)
      this.table(key).delete(nsName(ns, obj.metadata.name))
      this.sorted.delete(keyString(key))
      this.commit(key, "DELETED", obj, old)
      return clone(obj)
    }
    this.commit(key, "MODIFIED", obj, old)
    return clone(obj)
  }

  mutate(key: ResourceKey, namespace: string | undefined, name: string, f: (obj: KubeObject) => void): KubeObject | undefined {
    const cur = this.get(key, namespace, name)
    if (!cur) return undefined
    f(cur)
    cur.metadata.name = name
    if (namespace !== undefined) cur.metadata.namespace = namespace
    delete cur.metadata.resourceVersion
    return this.update(key, cur)
  }

  delete(key: ResourceKey, namespace: string | undefined, name: string): KubeObject | undefined {
    const ns = this.scopeNs(key, namespace)
    const t = this.table(key)
    const k = nsName(ns, name)
    const cur = t.get(k)
    if (!cur) return undefined
    t.delete(k)
    this.sorted.delete(keyString(key))
    const obj = clone(cur.obj)
    obj.metadata.resourceVersion = String(this.rv + 1)
    this.commit(key, "DELETED", obj, cur.obj)
    return clone(obj)
  }

  requestDelete(
    key: ResourceKey,
    namespace: string | undefined,
    name: string,
    options: DeleteRequestOptions = {}
  ): { object: KubeObject; deleted: boolean } {
    const cur = this.entry(key, namespace, name)
    if (!cur) throw this.notFound(key, name)
    const old = cur.obj
    const added = (options.addFinalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f))
    const finalizers = [...(old.metadata.finalizers ?? []), ...added]
    let grace = 0
    if (old.kind === "Pod") {
      const spec = (old["spec"] ?? {}) as Record<string, unknown>
      const status = (old["status"] ?? {}) as Record<string, unknown>
      const requested = options.gracePeriodSeconds ??
        old.metadata.deletionGracePeriodSeconds ??
        (typeof spec["terminationGracePeriodSeconds"] === "number" ? spec["terminationGracePeriodSeconds"] : 30)
      const terminal = status["phase"] === "Succeeded" || status["phase"] === "Failed"
      grace = this.gracefulDeletion && spec["nodeName"] && !terminal ? Math.max(0, requested) : 0
    }
    if (grace === 0 && finalizers.length === 0) {
      if (options.dryRun) return { object: clone(old), deleted: true }
      return { object: this.delete(key, namespace, name)!, deleted: true }
    }
    // pending deletion: deletionTimestamp (+ grace)
    const prevGrace = old.metadata.deletionGracePeriodSeconds
    if (old.metadata.deletionTimestamp !== undefined && prevGrace !== undefined && prevGrace <= grace && added.length === 0) {
      return { object: clone(old), deleted: false }
    }
    const obj = clone(old)
    if (added.length > 0) obj.metadata.finalizers = finalizers
    if (!(old.metadata.deletionTimestamp !== undefined && prevGrace !== undefined && prevGrace <= grace)) {
      obj.metadata.deletionTimestamp = rfc3339(this.clock() + grace * 1000)
      obj.metadata.deletionGracePeriodSeconds = grace
    }
    if (options.dryRun) return { object: obj, deleted: false }
    obj.metadata.resourceVersion = String(this.rv + 1)
    this.commit(key, "MODIFIED", obj, old)
    return { object: clone(obj), deleted: false }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Subscribes to raw history records (with cached JSON); used by the HTTP watch hub. */
  subscribeRecords(listener: (record: HistoryRecord) => void): () => void {
    this.recordListeners.add(listener)
    return () => {
      this.recordListeners.delete(listener)
    }
  }

  /** History records with rv > `since` (all resources), or `undefined` when `since` is too old (410). */
  eventsSince(since: number): Array<HistoryRecord> | undefined {
    if (since < this.compactedRv) return undefined
    const out: Array<HistoryRecord> = []
    // records are in rv order; find the first with rv > since
    let lo = this.historyStart
    let hi = this.history.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.history[mid]!.rv <= since) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < this.history.length; i++) out.push(this.history[i]!)
    return out
  }

  /** Drops the whole replay history: any watch resuming from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedRv = this.rv
    this.history.length = 0
    this.historyStart = 0
  }

  private commit(key: ResourceKey, type: HistoryRecord["type"], obj: KubeObject, old: KubeObject | undefined, keepRv?: number): void {
    this.rv = keepRv !== undefined && keepRv > this.rv ? keepRv : this.rv + 1
    obj.metadata.resourceVersion = String(this.rv)
    deepFreeze(obj)
    const json = JSON.stringify(obj)
    const ks = keyString(key)
    if (type !== "DELETED") {
      const t = this.table(key)
      const k = nsName(obj.metadata.namespace, obj.metadata.name)
      if (!t.has(k)) this.sorted.delete(ks)
      t.set(k, { obj, json })
    }
    this.reindex(ks, nsName(obj.metadata.namespace, obj.metadata.name), old, type === "DELETED" ? undefined : obj)
    const rec: HistoryRecord = { rv: this.rv, key, keyStr: ks, type, obj, json, old }
    this.history.push(rec)
    if (this.history.length - this.historyStart > this.historySize) {
      this.compactedRv = this.history[this.historyStart]!.rv
      this.historyStart++
      if (this.historyStart > 4096) {
        this.history.splice(0, this.historyStart)
        this.historyStart = 0
      }
    }
    this.queue.push(rec)
    if (this.emitting) return
    this.emitting = true
    try {
      while (this.queue.length > 0) {
        const r = this.queue.shift()!
        for (const l of [...this.recordListeners]) {
          try {
            l(r)
          } catch (e) {
            this.onListenerError(e)
          }
        }
        const event: WatchEvent = { type: r.type, object: r.obj }
        const info: ChangeInfo = r.old ? { resourceVersion: r.rv, oldObject: r.old } : { resourceVersion: r.rv }
        for (const l of [...this.listeners]) {
          try {
            l(r.key, event, info)
          } catch (e) {
            // a failing listener must not break the write path or other listeners
            this.onListenerError(e)
          }
        }
      }
    } finally {
      this.emitting = false
    }
  }
}
