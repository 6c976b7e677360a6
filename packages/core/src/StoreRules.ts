/**
 * The rules every GuardrailStore applies, written once: what a valid request is, how a sliding
 * window decides, how a lease is taken, renewed, taken over or refused (including hierarchical
 * leases), what a journal entry must look like, and how values are checked as JSON and redacted
 * before they are written. MemoryStore and FileStore (core), PgStore (@byteport/db) and
 * LeaseStore (@byteport/k8s) call these functions and only decide where the data lives and how
 * a mutation is made atomic, so every store has exactly the semantics of the contract suite.
 *
 * Every function is pure and synchronous; bad input throws {@link InvalidInput}, which a store
 * turns into a `StoreError` ("invalid input: …").
 *
 * ```ts
 * import { StoreRules } from "@byteport/core"
 * const weight = StoreRules.validateWindowRequest(request)
 * const decision = StoreRules.decideWindow(liveUnits, { ...request, weight })
 * ```
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { StaleEpoch } from "./GuardrailStore"
import type {
  Epoch,
  IncidentIndexEntry,
  JournalEntry,
  JournalEntryType,
  LeaseInfo,
  LeaseRequest,
  LeaseResult,
  NewJournalEntry,
  WindowPeek,
  WindowRequest,
  WindowResult
} from "./GuardrailStore"
import type { Json, JsonObject } from "./Json"
import * as Redactor from "./Redactor"

/** An input a store must refuse; the message says why. */
export class InvalidInput extends Error {
  /** Discriminates the error from others a store may meet. */
  readonly _tag = "InvalidInput"
}

const isFiniteNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n)

/** Requires a non-empty string (`what` names it in the message). */
export const requireKey = (key: unknown, what = "key"): void => {
  if (typeof key !== "string" || key.length === 0) throw new InvalidInput(`${what} must be a non-empty string`)
}

/** Requires a finite epoch ms (`what` names it in the message). */
export const requireTime = (t: unknown, what = "now"): void => {
  if (!isFiniteNumber(t)) throw new InvalidInput(`${what} must be a finite epoch ms (got ${String(t)})`)
}

// ------------------------------------------------------------------------------------------ JSON

/**
 * A deep copy of a JSON value that also proves it is JSON: no `undefined` in arrays, no
 * non-finite numbers, no functions, symbols, bigints, class instances or cycles. Object members
 * that are `undefined` are dropped (as `JSON.stringify` does), `-0` becomes `0`, and member
 * names such as `__proto__` stay plain data.
 */
export const copyJson = (value: unknown, path = "$"): Json => copy(value, path, new Set())

const copy = (value: unknown, path: string, seen: Set<unknown>): Json => {
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
        return copy(item, `${path}[${i}]`, seen)
      })
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) throw new InvalidInput(`${path} is not a plain object`)
    const out: Record<string, Json> = {}
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key]
      if (member === undefined) continue
      define(out, key, copy(member, `${path}.${key}`, seen))
    }
    return out
  } finally {
    seen.delete(value)
  }
}

const define = (out: Record<string, Json>, key: string, value: Json): void => {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Like {@link copyJson}, for values that must be JSON objects. */
export const copyJsonObject = (value: unknown, path = "$"): JsonObject => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidInput(`${path} is not a JSON object`)
  return copyJson(value, path) as JsonObject
}

/** Checks that `value` is JSON (see {@link copyJson}) and returns its text. */
export const encodeJson = (value: unknown, path = "$"): string => JSON.stringify(copyJson(value, path))

/** Checks that `value` is a JSON object and returns its text. */
export const encodeJsonObject = (value: unknown, path = "$"): string => JSON.stringify(copyJsonObject(value, path))

// ------------------------------------------------------------------------------------ redaction

const hasProtoKey = (v: Json): boolean => {
  if (v === null || typeof v !== "object") return false
  if (Array.isArray(v)) return v.some(hasProtoKey)
  return Object.prototype.hasOwnProperty.call(v, "__proto__") || Object.values(v as JsonObject).some(hasProtoKey)
}

const keysOf = (v: Json, into: Set<string>): Set<string> => {
  if (v !== null && typeof v === "object") {
    if (Array.isArray(v)) for (const x of v) keysOf(x, into)
    else for (const [k, x] of Object.entries(v as JsonObject)) (into.add(k), keysOf(x, into))
  }
  return into
}

const renameKeys = (v: Json, from: string, to: string): Json => {
  if (v === null || typeof v !== "object") return v
  if (Array.isArray(v)) return v.map((x) => renameKeys(x, from, to))
  const out: Record<string, Json> = {}
  for (const [k, x] of Object.entries(v as JsonObject)) define(out, k === from ? to : k, renameKeys(x, from, to))
  return out
}

/**
 * What a store writes for a JSON value: the value passed through `redactor` (secret-like members
 * and secrets inside strings replaced by its marker). Member names such as `__proto__` survive
 * as plain data. Deeper than the redactor's `maxDepth` (64) a value is replaced by `[MaxDepth]`.
 */
export const redactJson = (redactor: Redactor.Shape, value: Json): Json => {
  if (!hasProtoKey(value)) return copyJson(redactor.redact(value))
  // The redactor builds objects by assignment, where `__proto__` is not a member: rename it
  // to a name the value does not use, redact, and rename it back.
  const used = keysOf(value, new Set())
  let n = 0
  while (used.has(`__proto__\u0000${n}`)) n++
  const stand = `__proto__\u0000${n}`
  return copyJson(renameKeys(redactor.redact(renameKeys(value, "__proto__", stand)), stand, "__proto__"))
}

/** {@link redactJson} for a JSON object (always returns an object). */
export const redactJsonObject = (redactor: Redactor.Shape, value: JsonObject): JsonObject => {
  const r = redactJson(redactor, value)
  return r !== null && typeof r === "object" && !Array.isArray(r) ? (r as JsonObject) : {}
}

/**
 * The redactor a store uses for a write: the one it was built with, else the `Redactor`
 * service of the caller, else the default rules.
 */
export const redactorFor = (configured?: Redactor.Shape): Effect.Effect<Redactor.Shape> =>
  configured !== undefined
    ? Effect.succeed(configured)
    : Effect.map(Effect.serviceOption(Redactor.Redactor), (o) => (o._tag === "Some" ? o.value : Redactor.defaultRedactor))

// -------------------------------------------------------------------------------------- windows

/** One unit (or `w` units) taken from a window at time `t` with `token`. */
export interface WindowEntry {
  readonly t: number
  readonly w: number
  readonly token: string
}

/** A window as stored: the window length last used with the key and its entries. */
export interface WindowState {
  readonly windowMs: number
  readonly entries: ReadonlyArray<WindowEntry>
}

/** The decision of a window acquire over its live units. */
export type WindowDecision =
  | { readonly fits: true; readonly count: number }
  | { readonly fits: false; readonly count: number; readonly retryAfterMs: number }

/** The longest window token a store accepts. */
export const MAX_TOKEN_LENGTH = 200

/** Checks a window request; returns its weight (default 1). */
export const validateWindowRequest = (request: WindowRequest): number => {
  requireKey(request?.key)
  if (request.token !== undefined) {
    requireKey(request.token, "token")
    if (request.token.length > MAX_TOKEN_LENGTH) throw new InvalidInput(`token must be at most ${MAX_TOKEN_LENGTH} characters`)
  }
  validateEpoch(request.epoch)
  if (!Number.isInteger(request.max) || request.max < 0) throw new InvalidInput(`max must be an integer >= 0 (got ${request.max})`)
  if (!isFiniteNumber(request.windowMs) || request.windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${request.windowMs})`)
  requireTime(request.now)
  const weight = request.weight ?? 1
  if (!Number.isInteger(weight) || weight < 1) throw new InvalidInput(`weight must be an integer >= 1 (got ${weight})`)
  return weight
}

/** Checks the arguments of a window peek. */
export const validatePeek = (key: string, windowMs: number, now: number, token?: string): void => {
  requireKey(key)
  if (token !== undefined) requireKey(token, "token")
  if (!isFiniteNumber(windowMs) || windowMs <= 0) throw new InvalidInput(`windowMs must be > 0 (got ${windowMs})`)
  requireTime(now)
}

/** The entries still inside `windowMs` at `now` (`now - t < windowMs`), oldest first. */
export const liveEntries = <E extends { readonly t: number }>(entries: ReadonlyArray<E>, windowMs: number, now: number): Array<E> =>
  entries.filter((e) => now - e.t < windowMs).sort((a, b) => a.t - b.t)

/**
 * The sliding-window decision: `weight` units fit when the live units (oldest first) plus
 * `weight` are at most `max`. Otherwise `retryAfterMs` is the exact wait until enough units
 * have slid out; when `weight > max` nothing will ever fit and it is `windowMs`.
 */
export const decideWindow = (
  live: ReadonlyArray<{ readonly t: number; readonly w: number }>,
  request: { readonly max: number; readonly windowMs: number; readonly now: number; readonly weight: number }
): WindowDecision => {
  const { max, now, weight, windowMs } = request
  const count = live.reduce((n, e) => n + e.w, 0)
  if (count + weight <= max) return { fits: true, count: count + weight }
  if (weight > max) return { fits: false, count, retryAfterMs: windowMs }
  let remaining = count
  for (const e of live) {
    remaining -= e.w
    if (remaining + weight <= max) return { fits: false, count, retryAfterMs: Math.max(1, e.t + windowMs - now) }
  }
  return { fits: false, count, retryAfterMs: windowMs }
}

/** A window acquire on a stored state: the result and, when acquired, the pruned state to write. */
export const acquireWindow = (
  state: WindowState | undefined,
  request: WindowRequest,
  token: string
): { readonly result: WindowResult; readonly next?: WindowState; readonly pruned: WindowState | undefined } => {
  const weight = validateWindowRequest(request)
  const { now, windowMs } = request
  const live = liveEntries(state?.entries ?? [], windowMs, now)
  const pruned = live.length === 0 ? undefined : { windowMs, entries: live }
  const held = heldWindow(live, request)
  if (held !== undefined) return { result: held, pruned }
  token = request.token ?? token
  const d = decideWindow(live, { max: request.max, windowMs, now, weight })
  if (!d.fits) return { result: { _tag: "Exhausted", count: d.count, retryAfterMs: d.retryAfterMs }, pruned }
  const next = { windowMs, entries: [...live, { t: now, w: weight, token }] }
  return { result: { _tag: "Acquired", token, count: d.count }, next, pruned: next }
}

/**
 * The answer to an acquire whose `token` already holds a live unit among `live`: Acquired with
 * that token and the live count, nothing taken (`undefined` when the token holds none).
 */
export const heldWindow = (
  live: ReadonlyArray<{ readonly w: number; readonly token: string }>,
  request: WindowRequest
): WindowResult | undefined =>
  request.token !== undefined && live.some((e) => e.token === request.token)
    ? { _tag: "Acquired", token: request.token, count: live.reduce((n, e) => n + e.w, 0) }
    : undefined

/** Reads a stored window (with `token`: and whether it holds a live unit). */
export const peekWindow = (
  state: WindowState | undefined,
  key: string,
  windowMs: number,
  now: number,
  token?: string
): WindowPeek => {
  validatePeek(key, windowMs, now, token)
  const live = liveEntries(state?.entries ?? [], windowMs, now)
  const held = token === undefined ? {} : { held: live.some((e) => e.token === token) }
  if (live.length === 0) return { count: 0, ...held }
  return { count: live.reduce((n, e) => n + e.w, 0), oldestAt: live[0]!.t, ...held }
}

/** The state after giving back the unit taken with `token`: `undefined` when nothing changed, `null` when the window is now empty. */
export const releaseWindow = (state: WindowState | undefined, token: string): WindowState | null | undefined => {
  requireKey(token, "token")
  if (state === undefined) return undefined
  const entries = state.entries.filter((e) => e.token !== token)
  if (entries.length === state.entries.length) return undefined
  return entries.length === 0 ? null : { windowMs: state.windowMs, entries }
}

// -------------------------------------------------------------------------------------- fencing

/** Checks a request's fencing epoch (absent is fine): a non-empty scope and an integer value >= 0. */
export const validateEpoch = (epoch: Epoch | undefined): void => {
  if (epoch === undefined) return
  if (epoch === null || typeof epoch !== "object") throw new InvalidInput("epoch must be { scope, value }")
  requireKey(epoch.scope, "epoch.scope")
  if (!Number.isSafeInteger(epoch.value) || epoch.value < 0) throw new InvalidInput(`epoch.value must be an integer >= 0 (got ${String(epoch.value)})`)
}

/**
 * The fencing decision: `highest` is the highest epoch the store has seen for the scope.
 * Throws {@link StaleEpoch} when `epoch` is lower; otherwise returns the new highest to store
 * (`undefined` when nothing changes).
 */
export const decideEpoch = (highest: number | undefined, epoch: Epoch): number | undefined => {
  validateEpoch(epoch)
  if (highest !== undefined && epoch.value < highest) throw staleEpoch(epoch, highest)
  return highest === undefined || epoch.value > highest ? epoch.value : undefined
}

/** The error of a refused stale epoch. */
export const staleEpoch = (epoch: Epoch, highest: number): StaleEpoch =>
  new StaleEpoch({ scope: epoch.scope, epoch: epoch.value, highest })

/** The StoreError message of a refused stale epoch. */
export const staleEpochMessage = (e: StaleEpoch): string =>
  `stale epoch: ${e.epoch} < ${e.highest}, the highest seen for fencing scope ${JSON.stringify(e.scope)} (the sender is no longer the leader)`

// ------------------------------------------------------------------------------ compare-and-swap

/** Checks the arguments of a compare-and-swap. */
export const validateCompareAndSet = (key: string, expectedVersion: number): void => {
  requireKey(key)
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new InvalidInput(`expectedVersion must be an integer >= 0 (got ${expectedVersion})`)
  }
}

// --------------------------------------------------------------------------------------- leases

/** At most this many parent keys per lease. */
export const MAX_LEASE_PARENTS = 16

/** A lease request checked and copied: its data (if given) and its parents (if given), deduplicated. */
export interface CheckedLeaseRequest extends LeaseRequest {
  readonly data?: JsonObject
  readonly parents?: ReadonlyArray<string>
}

/** Checks a lease request and copies its data and parents. */
export const validateLeaseRequest = (request: LeaseRequest): CheckedLeaseRequest => {
  requireKey(request?.key)
  requireKey(request.holder, "holder")
  validateEpoch(request.epoch)
  if (!isFiniteNumber(request.ttlMs) || request.ttlMs <= 0) throw new InvalidInput(`ttlMs must be > 0 (got ${request.ttlMs})`)
  requireTime(request.now)
  let parents: Array<string> | undefined
  if (request.parents !== undefined) {
    if (!Array.isArray(request.parents)) throw new InvalidInput("parents must be an array of keys")
    parents = []
    for (const p of request.parents as ReadonlyArray<unknown>) {
      requireKey(p, "each parent")
      if (p === request.key) throw new InvalidInput(`a lease cannot be its own parent (${JSON.stringify(p)})`)
      if (!parents.includes(p as string)) parents.push(p as string)
    }
    if (parents.length > MAX_LEASE_PARENTS) throw new InvalidInput(`at most ${MAX_LEASE_PARENTS} parents (got ${parents.length})`)
  }
  return {
    key: request.key,
    holder: request.holder,
    ttlMs: request.ttlMs,
    now: request.now,
    ...(request.epoch === undefined ? {} : { epoch: { scope: request.epoch.scope, value: request.epoch.value } }),
    ...(request.data === undefined ? {} : { data: copyJsonObject(request.data, "data") }),
    ...(parents === undefined ? {} : { parents })
  }
}

/**
 * Whether leases on `a` and `b` exclude each other when held by different holders: the same
 * key, or one names the other among its parents (a parent and any of its children or deeper
 * descendants). Siblings under one parent do not exclude each other.
 */
export const excludes = (
  a: { readonly key: string; readonly parents?: ReadonlyArray<string> | undefined },
  b: { readonly key: string; readonly parents?: ReadonlyArray<string> | undefined }
): boolean => a.key === b.key || (a.parents ?? []).includes(b.key) || (b.parents ?? []).includes(a.key)

/** Whether a lease is live (unexpired) at `now`. */
export const isLive = (lease: LeaseInfo, now: number): boolean => lease.expiresAt > now

/**
 * The lease decision. `current` is the lease on the requested key; `related` are the other
 * leases that may exclude it (any superset is fine: unrelated ones are ignored). The request
 * is Held when a live lease of another holder on the key, on one of its parents, or on a key
 * that names it as a parent exists (that lease is reported). Otherwise it is Acquired: new, a
 * takeover of an expired lease, or a renewal by the same holder (the expiry moves to
 * `now + ttlMs`; `acquiredAt` and, unless given anew, `data` and `parents` are kept).
 */
export const decideLease = (
  request: CheckedLeaseRequest,
  current: LeaseInfo | undefined,
  related: Iterable<LeaseInfo> = []
): LeaseResult => {
  const live = current !== undefined && isLive(current, request.now) && !superseded(current, request)
  if (live && current.holder !== request.holder) return { _tag: "Held", lease: current }
  const renew = live && current.holder === request.holder
  const parents = request.parents ?? (renew ? current.parents ?? [] : [])
  for (const other of related) {
    if (other.key === request.key || other.holder === request.holder || !isLive(other, request.now) || superseded(other, request)) continue
    if (excludes(other, { key: request.key, parents })) return { _tag: "Held", lease: other }
  }
  const lease: LeaseInfo = {
    key: request.key,
    holder: request.holder,
    acquiredAt: renew ? current.acquiredAt : request.now,
    expiresAt: request.now + request.ttlMs,
    data: request.data ?? (renew ? current.data : {}),
    ...(parents.length > 0 ? { parents: [...parents] } : {}),
    ...(request.epoch !== undefined ? { epoch: { scope: request.epoch.scope, value: request.epoch.value } } : {})
  }
  return { _tag: "Acquired", lease }
}

/** Whether `lease` was taken under an older epoch of the request's fencing scope (its leader was deposed). */
export const superseded = (lease: LeaseInfo, request: { readonly epoch?: Epoch | undefined }): boolean =>
  request.epoch !== undefined && lease.epoch !== undefined && lease.epoch.scope === request.epoch.scope && lease.epoch.value < request.epoch.value

/** A fresh copy of a lease (data copied, parents only when there are some). */
export const copyLease = (lease: LeaseInfo): LeaseInfo => ({
  key: lease.key,
  holder: lease.holder,
  acquiredAt: lease.acquiredAt,
  expiresAt: lease.expiresAt,
  data: copyJsonObject(lease.data, "data"),
  ...(lease.parents !== undefined && lease.parents.length > 0 ? { parents: [...lease.parents] } : {}),
  ...(lease.epoch !== undefined ? { epoch: { scope: lease.epoch.scope, value: lease.epoch.value } } : {})
})

// -------------------------------------------------------------------------------------- journal

/** Every journal entry type, in the order an incident normally writes them. */
export const JOURNAL_ENTRY_TYPES: ReadonlyArray<JournalEntryType> = [
  "opened", "diagnosed", "classified", "planned", "awaiting_approval", "approved", "intent",
  "acquired", "applied", "failed", "denied", "step", "verdict", "escalated", "closed"
]

const entryTypes: ReadonlySet<string> = new Set<string>(JOURNAL_ENTRY_TYPES)

/**
 * Checks a new journal entry on its own and copies its data: a known type, a finite `at`, a
 * string `stepPath` if any, JSON data; an `opened` entry needs string `runbook` and `targetKey`.
 */
export const validateJournalEntry = (entry: NewJournalEntry): JsonObject => {
  requireKey(entry?.incidentId, "incidentId")
  if (!entryTypes.has(entry.type)) throw new InvalidInput(`unknown journal entry type ${JSON.stringify(entry.type)}`)
  requireTime(entry.at, "at")
  if (entry.stepPath !== undefined && typeof entry.stepPath !== "string") throw new InvalidInput("stepPath must be a string")
  const data = copyJsonObject(entry.data, "data")
  if (entry.type === "opened" && (typeof data.runbook !== "string" || typeof data.targetKey !== "string")) {
    throw new InvalidInput(`the "opened" entry of incident ${entry.incidentId} needs string data.runbook and data.targetKey`)
  }
  return data
}

/** The error for an entry appended to an incident that was never opened. */
export const notOpened = (entry: NewJournalEntry): InvalidInput =>
  new InvalidInput(`the first journal entry of incident ${entry.incidentId} must be "opened" (got "${entry.type}")`)

/** The error for a second `opened` entry. */
export const alreadyOpened = (incidentId: string): InvalidInput => new InvalidInput(`incident ${incidentId} is already opened`)

/**
 * Checks and copies a new journal entry given the number of entries the incident already has:
 * the first must be `opened`, no later one may be. Its `seq` is `existing + 1`.
 */
export const prepareJournalEntry = (entry: NewJournalEntry, existing: number): JournalEntry => {
  const data = validateJournalEntry(entry)
  if (existing === 0 && entry.type !== "opened") throw notOpened(entry)
  if (existing > 0 && entry.type === "opened") throw alreadyOpened(entry.incidentId)
  return {
    incidentId: entry.incidentId,
    seq: existing + 1,
    at: entry.at,
    type: entry.type,
    ...(entry.stepPath === undefined ? {} : { stepPath: entry.stepPath }),
    data
  }
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

/** Whether a value read back from storage is a well-formed journal entry. */
export const isJournalEntry = (u: unknown): u is JournalEntry => {
  if (u === null || typeof u !== "object") return false
  const e = u as Record<string, unknown>
  return typeof e.incidentId === "string" && Number.isInteger(e.seq) && isFiniteNumber(e.at) &&
    typeof e.type === "string" && entryTypes.has(e.type) && e.data !== null && typeof e.data === "object" &&
    !Array.isArray(e.data) && (e.stepPath === undefined || typeof e.stepPath === "string")
}

/** A fresh copy of a journal entry. */
export const copyEntry = (e: JournalEntry): JournalEntry => ({ ...e, data: copyJsonObject(e.data, "data") })
