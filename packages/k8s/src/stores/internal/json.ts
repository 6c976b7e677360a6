/**
 * JSON checks and window/journal rules for the Lease store. They follow core's embedded stores
 * exactly (the GuardrailStore contract fixes the semantics): sliding windows with exact
 * `retryAfterMs`, leases that renew/take over, journals whose first entry is `opened`.
 *
 * @internal
 */
import type { GuardrailStore, Json as CoreJson } from "@byteport/core"

type IncidentIndexEntry = GuardrailStore.IncidentIndexEntry
type JournalEntry = GuardrailStore.JournalEntry
type JournalEntryType = GuardrailStore.JournalEntryType
type NewJournalEntry = GuardrailStore.NewJournalEntry
type WindowRequest = GuardrailStore.WindowRequest
type WindowResult = GuardrailStore.WindowResult
type Json = CoreJson.Json
type JsonObject = CoreJson.JsonObject

/** Bad input (the message says why). */
export class InvalidInput extends Error {}

const isFiniteNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n)

/** Checks that a value is JSON (finite numbers, plain objects, no undefined in arrays, no cycles) and encodes it. */
export const encodeJson = (value: unknown, path: string): string => {
  const seen = new Set<unknown>()
  const walk = (v: unknown, p: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new InvalidInput(`${p} is not a finite number (${String(v)})`)
      return
    }
    if (typeof v !== "object") throw new InvalidInput(`${p} is not JSON (a ${typeof v})`)
    if (seen.has(v)) throw new InvalidInput(`${p} is a cycle`)
    seen.add(v)
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        if (item === undefined) throw new InvalidInput(`${p}[${i}] is undefined`)
        walk(item, `${p}[${i}]`)
      })
    } else {
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) throw new InvalidInput(`${p} is not a plain object`)
      for (const k of Object.keys(v)) {
        const m = (v as Record<string, unknown>)[k]
        if (m !== undefined) walk(m, `${p}.${k}`)
      }
    }
    seen.delete(v)
  }
  walk(value, path)
  return JSON.stringify(value)
}

/** Checks that a value is a JSON object and encodes it. */
export const encodeJsonObject = (value: unknown, path: string): string => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidInput(`${path} is not a JSON object`)
  return encodeJson(value, path)
}

/** Decodes JSON text (a fresh value every time). */
export const decodeJson = (text: string): Json => JSON.parse(text) as Json

/** Requires a non-empty string. */
export const requireKey = (key: unknown, what = "key"): void => {
  if (typeof key !== "string" || key.length === 0) throw new InvalidInput(`${what} must be a non-empty string`)
}

/** One unit (or `w` units) taken from a window at time `t`. */
export interface WindowEntry {
  readonly t: number
  readonly w: number
  readonly token: string
}

/** A window as stored: the window length last used and the live entries. */
export interface WindowState {
  readonly windowMs: number
  readonly entries: ReadonlyArray<WindowEntry>
}

/** Validates a window request; returns the weight. */
export const validateWindowRequest = (request: WindowRequest): number => {
  requireKey(request.key)
  if (!Number.isInteger(request.max) || request.max < 0) throw new InvalidInput(`max must be an integer >= 0 (got ${request.max})`)
  if (!isFiniteNumber(request.windowMs) || request.windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${request.windowMs})`)
  if (!isFiniteNumber(request.now)) throw new InvalidInput(`now must be a finite epoch ms (got ${request.now})`)
  const weight = request.weight ?? 1
  if (!Number.isInteger(weight) || weight < 1) throw new InvalidInput(`weight must be an integer >= 1 (got ${weight})`)
  return weight
}

const sum = (entries: ReadonlyArray<WindowEntry>): number => entries.reduce((n, e) => n + e.w, 0)

/** The entries still inside `windowMs` at `now`, oldest first. */
export const live = (state: WindowState | undefined, windowMs: number, now: number): Array<WindowEntry> =>
  state === undefined ? [] : state.entries.filter((e) => now - e.t < windowMs).sort((a, b) => a.t - b.t)

/** Sliding-window acquire: the result, and the state to write when acquired. */
export const acquire = (state: WindowState | undefined, request: WindowRequest, token: string): { readonly result: WindowResult; readonly next?: WindowState } => {
  const weight = validateWindowRequest(request)
  const { max, now, windowMs } = request
  const entries = live(state, windowMs, now)
  const count = sum(entries)
  if (count + weight <= max) {
    return { result: { _tag: "Acquired", token, count: count + weight }, next: { windowMs, entries: [...entries, { t: now, w: weight, token }] } }
  }
  if (weight > max) return { result: { _tag: "Exhausted", count, retryAfterMs: windowMs } }
  let remaining = count
  for (const e of entries) {
    remaining -= e.w
    if (remaining + weight <= max) return { result: { _tag: "Exhausted", count, retryAfterMs: Math.max(1, e.t + windowMs - now) } }
  }
  return { result: { _tag: "Exhausted", count, retryAfterMs: windowMs } }
}

/** Reads a window. */
export const peek = (state: WindowState | undefined, windowMs: number, now: number): { readonly count: number; readonly oldestAt?: number | undefined } => {
  if (!isFiniteNumber(windowMs) || windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${windowMs})`)
  if (!isFiniteNumber(now)) throw new InvalidInput(`now must be a finite epoch ms (got ${now})`)
  const entries = live(state, windowMs, now)
  if (entries.length === 0) return { count: 0 }
  return { count: sum(entries), oldestAt: Math.min(...entries.map((e) => e.t)) }
}

const entryTypes: ReadonlySet<string> = new Set<JournalEntryType>([
  "opened", "diagnosed", "classified", "planned", "awaiting_approval", "approved", "intent",
  "acquired", "applied", "failed", "denied", "step", "verdict", "escalated", "closed"
])

/** Checks a new journal entry given how many entries the incident has; returns the stored entry. */
export const prepareJournalEntry = (entry: NewJournalEntry, existing: number): JournalEntry => {
  requireKey(entry.incidentId, "incidentId")
  if (!entryTypes.has(entry.type)) throw new InvalidInput(`unknown journal entry type ${JSON.stringify(entry.type)}`)
  if (!isFiniteNumber(entry.at)) throw new InvalidInput(`at must be a finite epoch ms (got ${entry.at})`)
  if (entry.stepPath !== undefined && typeof entry.stepPath !== "string") throw new InvalidInput("stepPath must be a string")
  const data = JSON.parse(encodeJsonObject(entry.data, "data")) as JsonObject
  if (existing === 0) {
    if (entry.type !== "opened") throw new InvalidInput(`the first journal entry of incident ${entry.incidentId} must be "opened" (got "${entry.type}")`)
    if (typeof data.runbook !== "string" || typeof data.targetKey !== "string") {
      throw new InvalidInput(`the "opened" entry of incident ${entry.incidentId} needs string data.runbook and data.targetKey`)
    }
  } else if (entry.type === "opened") {
    throw new InvalidInput(`incident ${entry.incidentId} is already opened`)
  }
  return { incidentId: entry.incidentId, seq: existing + 1, at: entry.at, type: entry.type, ...(entry.stepPath === undefined ? {} : { stepPath: entry.stepPath }), data }
}

/** The index entry of an incident from its journal. */
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
