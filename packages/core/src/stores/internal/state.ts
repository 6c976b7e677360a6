/**
 * The semantics every embedded GuardrailStore shares (MemoryStore, FileStore): sliding
 * windows, compare-and-swap values, leases and journal summaries, as pure functions over
 * plain in-memory maps. A store only decides where the maps live and how a mutation is
 * made atomic; the rules are written once, here.
 *
 * @internal
 */
import type {
  IncidentIndexEntry,
  JournalEntry,
  JournalEntryType,
  LeaseInfo,
  LeaseResult,
  NewJournalEntry,
  Versioned,
  WindowRequest,
  WindowResult
} from "../../GuardrailStore"
import type { Json, JsonObject } from "../../Json"

/** One unit (or `w` units) taken from a window at time `t`. */
export interface WindowEntry {
  readonly t: number
  readonly w: number
  readonly token: string
}

/** A window's entries (oldest first) and the window length last used with the key (for pruning). */
export interface WindowSlot {
  windowMs: number
  entries: Array<WindowEntry>
}

/** A versioned value as stored. */
export type StoredValue = Versioned

/** An input that is not acceptable: the message says why. */
export class InvalidInput extends Error {}

const isFiniteNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n)

/**
 * A deep copy of a JSON value that also proves it is JSON: no `undefined` in arrays, no
 * non-finite numbers, no functions, symbols, bigints, class instances or cycles. Object
 * members that are `undefined` are dropped (as `JSON.stringify` does).
 */
export const copyJson = (value: unknown, path = "$", seen: Set<unknown> = new Set()): Json => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new InvalidInput(`${path} is not a finite number (${String(value)})`)
    return Object.is(value, -0) ? 0 : value
  }
  if (typeof value !== "object") throw new InvalidInput(`${path} is not JSON (a ${typeof value})`)
  if (seen.has(value)) throw new InvalidInput(`${path} is a cycle`)
  seen.add(value)
  try {
    if (Array.isArray(value)) {
      return value.map((item, i) => {
        if (item === undefined) throw new InvalidInput(`${path}[${i}] is undefined`)
        return copyJson(item, `${path}[${i}]`, seen)
      })
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) throw new InvalidInput(`${path} is not a plain object`)
    const out: Record<string, Json> = {}
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key]
      if (member === undefined) continue
      Object.defineProperty(out, key, { value: copyJson(member, `${path}.${key}`, seen), enumerable: true, writable: true, configurable: true })
    }
    return out
  } finally {
    seen.delete(value)
  }
}

/** Like {@link copyJson}, for values that must be JSON objects. */
export const copyJsonObject = (value: unknown, path: string): JsonObject => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidInput(`${path} is not a JSON object`)
  return copyJson(value, path) as JsonObject
}

const requireKey = (key: unknown, what = "key"): void => {
  if (typeof key !== "string" || key.length === 0) throw new InvalidInput(`${what} must be a non-empty string`)
}

/** Checks a window request; throws InvalidInput. */
export const validateWindowRequest = (request: WindowRequest): number => {
  requireKey(request.key)
  if (!Number.isInteger(request.max) || request.max < 0) throw new InvalidInput(`max must be an integer >= 0 (got ${request.max})`)
  if (!isFiniteNumber(request.windowMs) || request.windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${request.windowMs})`)
  if (!isFiniteNumber(request.now)) throw new InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
  const weight = request.weight ?? 1
  if (!Number.isInteger(weight) || weight < 1) throw new InvalidInput(`weight must be an integer >= 1 (got ${weight})`)
  return weight
}

const live = (slot: WindowSlot | undefined, windowMs: number, now: number): Array<WindowEntry> =>
  slot === undefined ? [] : slot.entries.filter((e) => now - e.t < windowMs)

const sum = (entries: ReadonlyArray<WindowEntry>): number => entries.reduce((n, e) => n + e.w, 0)

/**
 * Takes `weight` units from the sliding window of `key` when the units taken in the last
 * `windowMs` (entries with `now - t < windowMs`) plus `weight` fit in `max`. Prunes the key's
 * expired entries. `retryAfterMs` is the exact wait until enough units have slid out; when
 * `weight > max` nothing will ever fit and it is `windowMs`.
 */
export const acquireWindow = (
  windows: Map<string, WindowSlot>,
  request: WindowRequest,
  token: string
): WindowResult => {
  const weight = validateWindowRequest(request)
  const { key, max, now, windowMs } = request
  const entries = live(windows.get(key), windowMs, now).sort((a, b) => a.t - b.t)
  const count = sum(entries)
  if (count + weight <= max) {
    entries.push({ t: now, w: weight, token })
    windows.set(key, { windowMs, entries })
    return { _tag: "Acquired", token, count: count + weight }
  }
  if (entries.length === 0) windows.delete(key)
  else windows.set(key, { windowMs, entries })
  if (weight > max) return { _tag: "Exhausted", count, retryAfterMs: windowMs }
  let remaining = count
  for (const e of entries) {
    remaining -= e.w
    if (remaining + weight <= max) return { _tag: "Exhausted", count, retryAfterMs: Math.max(1, e.t + windowMs - now) }
  }
  return { _tag: "Exhausted", count, retryAfterMs: windowMs }
}

/** Reads a window without changing it. */
export const peekWindow = (
  windows: Map<string, WindowSlot>,
  key: string,
  windowMs: number,
  now: number
): { readonly count: number; readonly oldestAt?: number | undefined } => {
  requireKey(key)
  if (!isFiniteNumber(windowMs) || windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${windowMs})`)
  if (!isFiniteNumber(now)) throw new InvalidInput(`now must be a finite epoch ms (got ${now})`)
  const entries = live(windows.get(key), windowMs, now)
  if (entries.length === 0) return { count: 0 }
  return { count: sum(entries), oldestAt: Math.min(...entries.map((e) => e.t)) }
}

/** Removes the unit taken with `token`; true when something was removed. */
export const releaseWindow = (windows: Map<string, WindowSlot>, key: string, token: string): boolean => {
  requireKey(key)
  requireKey(token, "token")
  const slot = windows.get(key)
  if (slot === undefined) return false
  const entries = slot.entries.filter((e) => e.token !== token)
  if (entries.length === slot.entries.length) return false
  if (entries.length === 0) windows.delete(key)
  else windows.set(key, { windowMs: slot.windowMs, entries })
  return true
}

/** Drops every key whose newest entry has slid out of the window it was last used with. */
export const pruneWindows = (windows: Map<string, WindowSlot>, now: number): void => {
  for (const [key, slot] of windows) {
    const entries = slot.entries.filter((e) => now - e.t < slot.windowMs)
    if (entries.length === 0) windows.delete(key)
    else if (entries.length !== slot.entries.length) windows.set(key, { windowMs: slot.windowMs, entries })
  }
}

/** Reads a value (a fresh copy). */
export const getValue = (values: Map<string, StoredValue>, key: string): Versioned | undefined => {
  requireKey(key)
  const v = values.get(key)
  return v === undefined ? undefined : { value: copyJson(v.value), version: v.version }
}

/** Compare-and-swap: writes when the current version (0 when absent) is `expectedVersion`. */
export const compareAndSet = (
  values: Map<string, StoredValue>,
  key: string,
  expectedVersion: number,
  value: Json
): boolean => {
  requireKey(key)
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new InvalidInput(`expectedVersion must be an integer >= 0 (got ${expectedVersion})`)
  }
  const copy = copyJson(value, "value")
  const current = values.get(key)?.version ?? 0
  if (current !== expectedVersion) return false
  values.set(key, { value: copy, version: current + 1 })
  return true
}

/** A lease request, as in `GuardrailStoreShape.acquireLease`. */
export interface LeaseRequest {
  readonly key: string
  readonly holder: string
  readonly ttlMs: number
  readonly now: number
  readonly data?: JsonObject
}

const copyLease = (lease: LeaseInfo): LeaseInfo => ({ ...lease, data: copyJsonObject(lease.data, "data") })

/**
 * Takes a free or expired lease (`expiresAt <= now`), or renews it when `holder` already holds
 * it (the expiry moves to `now + ttlMs`; `acquiredAt` and, unless new data is given, `data`
 * are kept). Otherwise reports the current holder.
 */
export const acquireLease = (leases: Map<string, LeaseInfo>, request: LeaseRequest): LeaseResult => {
  requireKey(request.key)
  requireKey(request.holder, "holder")
  if (!isFiniteNumber(request.ttlMs) || request.ttlMs <= 0) throw new InvalidInput(`ttlMs must be > 0 (got ${request.ttlMs})`)
  if (!isFiniteNumber(request.now)) throw new InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
  const data = request.data === undefined ? undefined : copyJsonObject(request.data, "data")
  const current = leases.get(request.key)
  const expired = current === undefined || current.expiresAt <= request.now
  if (!expired && current.holder !== request.holder) return { _tag: "Held", lease: copyLease(current) }
  const renew = !expired && current.holder === request.holder
  const lease: LeaseInfo = {
    key: request.key,
    holder: request.holder,
    acquiredAt: renew ? current.acquiredAt : request.now,
    expiresAt: request.now + request.ttlMs,
    data: data ?? (renew ? current.data : {})
  }
  leases.set(request.key, lease)
  return { _tag: "Acquired", lease: copyLease(lease) }
}

/** Releases a lease held by `holder`; true when removed. */
export const releaseLease = (leases: Map<string, LeaseInfo>, key: string, holder: string): boolean => {
  requireKey(key)
  requireKey(holder, "holder")
  const current = leases.get(key)
  if (current === undefined || current.holder !== holder) return false
  leases.delete(key)
  return true
}

/** Reads a lease (a fresh copy). */
export const getLease = (leases: Map<string, LeaseInfo>, key: string): LeaseInfo | undefined => {
  requireKey(key)
  const lease = leases.get(key)
  return lease === undefined ? undefined : copyLease(lease)
}

const entryTypes: ReadonlySet<string> = new Set<JournalEntryType>([
  "opened", "diagnosed", "classified", "planned", "awaiting_approval", "approved", "intent",
  "acquired", "applied", "failed", "denied", "step", "verdict", "escalated", "closed"
])

/**
 * Checks and copies a new journal entry, given the number of entries the incident already
 * has. The first entry must be `opened` with string `runbook` and `targetKey` in its data.
 */
export const prepareJournalEntry = (entry: NewJournalEntry, existing: number): JournalEntry => {
  requireKey(entry.incidentId, "incidentId")
  if (!entryTypes.has(entry.type)) throw new InvalidInput(`unknown journal entry type ${JSON.stringify(entry.type)}`)
  if (!isFiniteNumber(entry.at)) throw new InvalidInput(`at must be a finite epoch ms (got ${entry.at})`)
  if (entry.stepPath !== undefined && typeof entry.stepPath !== "string") throw new InvalidInput("stepPath must be a string")
  const data = copyJsonObject(entry.data, "data")
  if (existing === 0) {
    if (entry.type !== "opened") {
      throw new InvalidInput(`the first journal entry of incident ${entry.incidentId} must be "opened" (got "${entry.type}")`)
    }
    if (typeof data.runbook !== "string" || typeof data.targetKey !== "string") {
      throw new InvalidInput(`the "opened" entry of incident ${entry.incidentId} needs string data.runbook and data.targetKey`)
    }
  } else if (entry.type === "opened") {
    throw new InvalidInput(`incident ${entry.incidentId} is already opened`)
  }
  const out: JournalEntry = {
    incidentId: entry.incidentId,
    seq: existing + 1,
    at: entry.at,
    type: entry.type,
    ...(entry.stepPath === undefined ? {} : { stepPath: entry.stepPath }),
    data
  }
  return out
}

/** The index entry of an incident, from its journal (in order, non-empty, starting with `opened`). */
export const summarize = (entries: ReadonlyArray<JournalEntry>): IncidentIndexEntry => {
  const first = entries[0]!
  const last = entries[entries.length - 1]!
  return {
    incidentId: first.incidentId,
    runbook: String(first.data.runbook),
    targetKey: String(first.data.targetKey),
    openedAt: first.at,
    lastType: last.type,
    closed: entries.some((e) => e.type === "closed")
  }
}

/** Updates a summary with one more entry. */
export const advance = (summary: IncidentIndexEntry, entry: JournalEntry): IncidentIndexEntry => ({
  ...summary,
  lastType: entry.type,
  closed: summary.closed || entry.type === "closed"
})

/** Orders incidents by opening time, then id. */
export const byOpening = (a: IncidentIndexEntry, b: IncidentIndexEntry): number =>
  a.openedAt - b.openedAt || (a.incidentId < b.incidentId ? -1 : a.incidentId > b.incidentId ? 1 : 0)

/** Validates a journal entry read back from storage (a corrupt line is reported by the caller). */
export const isJournalEntry = (u: unknown): u is JournalEntry => {
  if (u === null || typeof u !== "object") return false
  const e = u as Record<string, unknown>
  return typeof e.incidentId === "string" && Number.isInteger(e.seq) && isFiniteNumber(e.at) &&
    typeof e.type === "string" && entryTypes.has(e.type) && e.data !== null && typeof e.data === "object" &&
    (e.stepPath === undefined || typeof e.stepPath === "string")
}

/** A fresh copy of a journal entry. */
export const copyEntry = (e: JournalEntry): JournalEntry => ({ ...e, data: copyJsonObject(e.data, "data") })
