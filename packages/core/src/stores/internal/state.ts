/**
 * The embedded stores' (MemoryStore, FileStore) state: windows, compare-and-swap values, leases
 * and journal summaries as plain in-memory maps, changed by the shared rules of `StoreRules`.
 * A store only decides where the maps live and how a mutation is made atomic.
 *
 * @internal
 */
import type { Epoch, IncidentIndexEntry, JournalEntry, LeaseInfo, LeaseResult, Versioned, WindowRequest, WindowResult } from "../../GuardrailStore"
import type { Json } from "../../Json"
import * as Rules from "../../StoreRules"

/** A window as stored (mutable slot of the map). */
export interface WindowSlot {
  windowMs: number
  entries: Array<Rules.WindowEntry>
}

/** A versioned value as stored. */
export type StoredValue = Versioned

/** Takes `weight` units from the sliding window of `key` (see `StoreRules.acquireWindow`); prunes the key. */
export const acquireWindow = (windows: Map<string, WindowSlot>, request: WindowRequest, token: string): WindowResult => {
  const { pruned, result } = Rules.acquireWindow(windows.get(request?.key), request, token)
  if (pruned === undefined) windows.delete(request.key)
  else windows.set(request.key, { windowMs: pruned.windowMs, entries: [...pruned.entries] })
  return result
}

/** Reads a window without changing it. */
export const peekWindow = (windows: Map<string, WindowSlot>, key: string, windowMs: number, now: number, token?: string) =>
  Rules.peekWindow(windows.get(key), key, windowMs, now, token)

/** Removes the unit taken with `token`; true when something was removed. */
export const releaseWindow = (windows: Map<string, WindowSlot>, key: string, token: string): boolean => {
  Rules.requireKey(key)
  const next = Rules.releaseWindow(windows.get(key), token)
  if (next === undefined) return false
  if (next === null) windows.delete(key)
  else windows.set(key, { windowMs: next.windowMs, entries: [...next.entries] })
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
  Rules.requireKey(key)
  const v = values.get(key)
  return v === undefined ? undefined : { value: Rules.copyJson(v.value), version: v.version }
}

/** Compare-and-swap of an already checked (and redacted) value. */
export const compareAndSet = (values: Map<string, StoredValue>, key: string, expectedVersion: number, value: Json): boolean => {
  Rules.validateCompareAndSet(key, expectedVersion)
  const current = values.get(key)?.version ?? 0
  if (current !== expectedVersion) return false
  values.set(key, { value: Rules.copyJson(value, "value"), version: current + 1 })
  return true
}

/**
 * Takes, renews or refuses a lease (see `StoreRules.decideLease`): the related leases are every
 * stored lease, so a parent and its children exclude each other.
 */
export const acquireLease = (leases: Map<string, LeaseInfo>, request: Rules.CheckedLeaseRequest): LeaseResult => {
  const checked = Rules.validateLeaseRequest(request)
  const r = Rules.decideLease(checked, leases.get(checked.key), leases.values())
  if (r._tag === "Acquired") leases.set(checked.key, r.lease)
  return { _tag: r._tag, lease: Rules.copyLease(r.lease) }
}

/** Releases a lease held by `holder`; true when removed. */
export const releaseLease = (leases: Map<string, LeaseInfo>, key: string, holder: string): boolean => {
  Rules.requireKey(key)
  Rules.requireKey(holder, "holder")
  const current = leases.get(key)
  if (current === undefined || current.holder !== holder) return false
  leases.delete(key)
  return true
}

/** Reads a lease (a fresh copy). */
export const getLease = (leases: Map<string, LeaseInfo>, key: string): LeaseInfo | undefined => {
  Rules.requireKey(key)
  const lease = leases.get(key)
  return lease === undefined ? undefined : Rules.copyLease(lease)
}

/** The index entry of an incident with one more entry. */
export const indexWith = (summary: IncidentIndexEntry | undefined, stored: JournalEntry): IncidentIndexEntry =>
  summary === undefined ? Rules.summarize([stored]) : Rules.advance(summary, stored)

/**
 * Fences a request (see `StoreRules.decideEpoch`): throws StaleEpoch when `epoch` is below the
 * scope's highest, else records it; true when the map changed. No epoch: nothing to do.
 */
export const fence = (fences: Map<string, number>, epoch: Epoch | undefined): boolean => {
  if (epoch === undefined) return false
  const next = Rules.decideEpoch(fences.get(epoch?.scope), epoch)
  if (next === undefined) return false
  fences.set(epoch.scope, next)
  return true
}
