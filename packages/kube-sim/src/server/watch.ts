/**
 * The watch hub: streams store changes to HTTP watchers as newline-delimited JSON, with replay
 * from a resourceVersion (410 Expired beyond the history), selector transitions (an object that
 * starts matching arrives as ADDED, one that stops matching as DELETED), bookmarks,
 * `sendInitialEvents`, `timeoutSeconds`, and immediate header flushing.
 */
import type { ServerResponse } from "node:http"
import type { HistoryRecord, MemoryStore } from "../store/MemoryStore"
import type { ResourceType } from "../store/registry"
import { groupVersion, keyString } from "../store/registry"
import type { FieldRequirement, LabelRequirement } from "../store/selectors"
import { matchesFields, matchesLabels } from "../store/selectors"
import type { KubeObject } from "../store/types"

/** What one watcher asked for. */
export interface WatchSpec {
  readonly type: ResourceType
  readonly namespace: string | undefined
  readonly labels: ReadonlyArray<LabelRequirement>
  readonly fields: ReadonlyArray<FieldRequirement>
  /** undefined, "" or "0": start with synthetic ADDED events for the current state. */
  readonly resourceVersion: string | undefined
  readonly allowBookmarks: boolean
  readonly sendInitialEvents: boolean
  readonly timeoutSeconds: number | undefined
  /** For a view (events.k8s.io/v1 over core/v1 Events): the storage and the conversion. */
  readonly view?: { readonly storage: ResourceType; readonly toView: (obj: KubeObject) => KubeObject }
  /** Render each event's object differently (Table watches); `first` is true for the first object sent. */
  readonly render?: (obj: KubeObject, first: boolean) => string
}

interface Watcher {
  readonly spec: WatchSpec
  readonly keyStr: string
  readonly res: ServerResponse
  closed: boolean
  timers: Array<NodeJS.Timeout>
  sentObjects: number
}

/** Creates a hub bound to a store. */
export const make = (store: MemoryStore, options: { bookmarkIntervalMs?: number; maxBufferedBytes?: number } = {}): WatchHub => {
  const hub = new WatchHub(store, options.bookmarkIntervalMs ?? 60_000)
  if (options.maxBufferedBytes !== undefined) hub.maxBufferedBytes = options.maxBufferedBytes
  return hub
}

/** The watch hub. */
export class WatchHub {
  private readonly watchers = new Set<Watcher>()
  private readonly unsubscribe: () => void

  /** Buffered bytes after which a slow watcher is dropped with 410. */
  maxBufferedBytes = 64 * 2 ** 20

  constructor(private readonly store: MemoryStore, private readonly bookmarkIntervalMs: number) {
    this.unsubscribe = store.subscribeRecords((r) => this.dispatch(r))
  }

  /** Number of open watches. */
  get size(): number {
    return this.watchers.size
  }

  private matches(w: Watcher, obj: KubeObject | undefined): boolean {
    if (!obj) return false
    const s = w.spec
    if (s.namespace !== undefined && obj.metadata.namespace !== s.namespace) return false
    if (s.labels.length > 0 && !matchesLabels(s.labels, obj.metadata.labels)) return false
    if (s.fields.length > 0 && !matchesFields(s.fields, obj)) return false
    return true
  }

  private line(type: string, json: string): string {
    return `{"type":"${type}","object":${json}}\n`
  }

  private eventFor(w: Watcher, r: HistoryRecord): string | undefined {
    if (r.keyStr !== w.keyStr) return undefined
    const view = w.spec.view
    const obj = view ? view.toView(r.obj) : r.obj
    const now = this.matches(w, obj)
    const before = r.type === "ADDED" ? false : this.matches(w, r.old && view ? view.toView(r.old) : r.old)
    if (!now && !before) return undefined
    const json = this.render(w, obj, view ? undefined : r.json)
    if (r.type === "ADDED") return this.line("ADDED", json)
    if (r.type === "DELETED") return before || now ? this.line("DELETED", json) : undefined
    if (now && before) return this.line("MODIFIED", json)
    if (now) return this.line("ADDED", json)
    if (before) return this.line("DELETED", json)
    return undefined
  }

  private render(w: Watcher, obj: KubeObject, json: string | undefined): string {
    const r = w.spec.render
    w.sentObjects++
    if (r) return r(obj, w.sentObjects === 1)
    return json ?? JSON.stringify(obj)
  }

  private dispatch(r: HistoryRecord): void {
    for (const w of this.watchers) {
      if (w.closed) continue
      const l = this.eventFor(w, r)
      if (l === undefined) continue
      w.res.write(l)
      if (w.res.writableLength > this.maxBufferedBytes) {
        // a watcher that does not keep up is dropped with 410, like the apiserver's slow-watcher policy
        this.close(w, false, `too old resource version: ${r.rv - 1} (${r.rv})`)
      }
    }
  }

  private bookmark(w: Watcher, annotations?: Record<string, string>): string {
    const t = w.spec.type
    return this.line(
      "BOOKMARK",
      JSON.stringify({
        kind: t.kind,
        apiVersion: groupVersion(t),
        metadata: { resourceVersion: String(this.store.resourceVersion), ...(annotations ? { annotations } : {}) }
      })
    )
  }

  /** Starts serving a watch on `res` (headers are flushed immediately). */
  start(spec: WatchSpec, res: ServerResponse, onClose: () => void): void {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" })
    res.flushHeaders()
    const w: Watcher = { spec, keyStr: keyString(spec.view ? spec.view.storage : spec.type), res, closed: false, timers: [], sentObjects: 0 }
    const rv = spec.resourceVersion
    if (rv === undefined || rv === "" || rv === "0") {
      for (const e of this.store.scan(spec.view ? spec.view.storage : spec.type, spec.namespace)) {
        const obj = spec.view ? spec.view.toView(e.obj) : e.obj
        if (this.matches(w, obj)) res.write(this.line("ADDED", this.render(w, obj, spec.view ? undefined : e.json)))
      }
      if (spec.sendInitialEvents && spec.allowBookmarks) res.write(this.bookmark(w, { "k8s.io/initial-events-end": "true" }))
    } else {
      const n = Number(rv)
      const records = Number.isFinite(n) ? this.store.eventsSince(n) : undefined
      if (!Number.isFinite(n)) {
        this.expire(res, `invalid resource version: ${rv}`)
        onClose()
        return
      }
      if (records === undefined) {
        this.expire(res, `too old resource version: ${rv} (${this.store.oldestResumableVersion + 1})`)
        onClose()
        return
      }
      for (const r of records) {
        const l = this.eventFor(w, r)
        if (l !== undefined) res.write(l)
      }
      if (spec.sendInitialEvents && spec.allowBookmarks) res.write(this.bookmark(w, { "k8s.io/initial-events-end": "true" }))
    }
    this.watchers.add(w)
    if (spec.allowBookmarks) {
      w.timers.push(setInterval(() => {
        if (!w.closed) res.write(this.bookmark(w))
      }, this.bookmarkIntervalMs))
    }
    if (spec.timeoutSeconds !== undefined && spec.timeoutSeconds > 0) {
      w.timers.push(setTimeout(() => this.close(w, false), spec.timeoutSeconds * 1000))
    }
    res.on("close", () => {
      this.close(w, false)
      onClose()
    })
  }

  /** Writes a 410 Expired ERROR event and ends the stream (headers must already be sent). */
  expire(res: ServerResponse, message: string): void {
    res.write(
      this.line(
        "ERROR",
        JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Expired", code: 410 })
      )
    )
    res.end()
  }

  private close(w: Watcher, abrupt: boolean, expireMessage?: string): void {
    if (w.closed) return
    w.closed = true
    this.watchers.delete(w)
    for (const t of w.timers) clearTimeout(t)
    if (abrupt) w.res.destroy()
    else if (expireMessage !== undefined && !w.res.writableEnded) this.expire(w.res, expireMessage)
    else if (!w.res.writableEnded) w.res.end()
  }

  /** Closes every open watch; returns how many were closed. */
  closeAll(abrupt = false): number {
    const all = [...this.watchers]
    for (const w of all) this.close(w, abrupt)
    return all.length
  }

  /** Stops listening to the store and closes all watches. */
  dispose(): void {
    this.unsubscribe()
    this.closeAll()
  }
}
