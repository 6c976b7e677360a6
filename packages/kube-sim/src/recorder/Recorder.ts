/**
 * The request recorder: every HTTP request the simulator serves, for test assertions
 * ("the SDK sent exactly one strategic-merge PATCH", "the informer relisted after the 410").
 */

/** One recorded request. */
export interface RecordedRequest {
  /** Sequence number (1-based, in arrival order). */
  readonly seq: number
  /** HTTP method. */
  readonly method: string
  /** URL path without the query. */
  readonly path: string
  /** Query parameters (last value wins). */
  readonly query: Readonly<Record<string, string>>
  /** Request Content-Type (without parameters), if any. */
  readonly contentType: string | undefined
  /** Whether `dryRun=All` was asked. */
  readonly dryRun: boolean
  /** Whether this was a watch (`?watch=true` or a `/watch/` path). */
  readonly watch: boolean
  /** Request body text ("" when none). */
  readonly body: string
  /** Epoch ms (wall clock) when the request arrived. */
  readonly time: number
  /** Response status code (set once the response head is sent; 0 before). */
  status: number
}

/** A filter for `requests`. Every given field must match. */
export interface RequestFilter {
  readonly method?: string
  /** The path starts with this prefix. */
  readonly pathPrefix?: string
  /** The path equals this. */
  readonly path?: string
  readonly watch?: boolean
  readonly dryRun?: boolean
  /** Content type equals this. */
  readonly contentType?: string
  /** Response status equals this. */
  readonly status?: number
  /** A query parameter has this value (or exists when the value is `true`). */
  readonly query?: Readonly<Record<string, string | true>>
}

/** The recorder API. */
export interface Recorder {
  /** Recorded requests, oldest first, optionally filtered. */
  requests(filter?: RequestFilter): Array<RecordedRequest>
  /** How many recorded requests match. */
  count(filter?: RequestFilter): number
  /** Non-watch requests still waiting for their response (cheap: no copy of the log). */
  inFlight(): number
  /** Forgets everything recorded so far. */
  clear(): void
  /** Adds a request (called by the server). */
  record(r: Omit<RecordedRequest, "seq">): RecordedRequest
}

const matches = (r: RecordedRequest, f: RequestFilter): boolean => {
  if (f.method !== undefined && r.method !== f.method.toUpperCase()) return false
  if (f.pathPrefix !== undefined && !r.path.startsWith(f.pathPrefix)) return false
  if (f.path !== undefined && r.path !== f.path) return false
  if (f.watch !== undefined && r.watch !== f.watch) return false
  if (f.dryRun !== undefined && r.dryRun !== f.dryRun) return false
  if (f.contentType !== undefined && r.contentType !== f.contentType) return false
  if (f.status !== undefined && r.status !== f.status) return false
  if (f.query) {
    for (const [k, v] of Object.entries(f.query)) {
      if (v === true ? r.query[k] === undefined : r.query[k] !== v) return false
    }
  }
  return true
}

/** Creates a recorder keeping at most `limit` requests (default 100,000; oldest dropped). */
export const make = (limit = 100_000): Recorder => {
  let items: Array<RecordedRequest> = []
  let seq = 0
  // non-watch requests recorded with status 0; the server sets `status` when it answers
  const pending = new Set<RecordedRequest>()
  return {
    requests: (filter) => (filter ? items.filter((r) => matches(r, filter)) : [...items]),
    count: (filter) => (filter ? items.filter((r) => matches(r, filter)).length : items.length),
    inFlight: () => {
      for (const r of pending) if (r.status !== 0) pending.delete(r)
      return pending.size
    },
    clear: () => {
      items = []
    },
    record: (r) => {
      const rec: RecordedRequest = { ...r, seq: ++seq }
      if (!rec.watch && rec.status === 0) pending.add(rec)
      items.push(rec)
      if (items.length > limit) items.splice(0, items.length - limit)
      return rec
    }
  }
}
