/**
 * The GuardrailStore holds everything guardrails and incidents must share across runbooks,
 * agent replicas and restarts: atomic counted windows, compare-and-swap values, leases with
 * expiry and the incident journal. Implementations: in-memory (tests), a local file (the
 * embedded default), PostgreSQL (@byteport/db) and Kubernetes Leases (@byteport/k8s). Every
 * implementation must pass the contract suite in `@byteport/core/testing` (`storeContract`).
 *
 * Time is always passed in by the caller (`now`, epoch ms), so stores are deterministic under
 * TestClock and several processes agree on windows.
 *
 * The rules (validation, window and lease decisions, journal checks, JSON and redaction of every
 * written value) are shared by all implementations: see `StoreRules`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema } from "effect"
import type { Json, JsonObject } from "./Json"

/** A store operation failed (I/O, lock timeout, corrupt state, API error). */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  store: Schema.String,
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * A fencing epoch: the leader's epoch (a LeaderElection's `leaseTransitions`) in a fencing
 * `scope` (the election's name). A store remembers the highest epoch it has seen per scope and
 * refuses, atomically with the operation, any request carrying a lower one (a {@link StaleEpoch}
 * as the StoreError's `cause`); an equal or higher one passes and raises the highest seen.
 * Requests without an epoch are never fenced.
 */
export interface Epoch {
  readonly scope: string
  readonly value: number
}

/** A store refused a request whose epoch is lower than the highest it has seen for the scope (the sender is no longer the leader). */
export class StaleEpoch extends Schema.TaggedError<StaleEpoch>()("StaleEpoch", {
  scope: Schema.String,
  epoch: Schema.Number,
  highest: Schema.Number
}) {}

/** The {@link StaleEpoch} behind a store error, if the store refused a stale epoch. */
export const staleEpochOf = (error: unknown): StaleEpoch | undefined => {
  if (error instanceof StaleEpoch) return error
  const cause = (error as { readonly _tag?: unknown; readonly cause?: unknown } | null | undefined)
  return cause?._tag === "StoreError" && cause.cause instanceof StaleEpoch ? cause.cause : undefined
}

/**
 * A request to take `weight` (default 1) units from a sliding window of `windowMs` holding at most `max`.
 *
 * With a `token` the acquire is idempotent: while a unit taken with that token is live in the
 * window, acquiring with it again takes nothing and answers Acquired with that token and the
 * window's current count (also under concurrency: one unit, however many ask). A deterministic
 * token per (incident, step, guardrail) thus makes a resumed run find the unit its interrupted
 * predecessor took instead of spending the budget twice. Without one the store picks a fresh token.
 */
export interface WindowRequest {
  readonly key: string
  readonly max: number
  readonly windowMs: number
  readonly now: number
  readonly weight?: number
  /** The unit's token (1–200 characters); see above. */
  readonly token?: string
  /** The sender's fencing epoch: refused when stale (see {@link Epoch}). */
  readonly epoch?: Epoch
}

/** The result of a window acquire: Acquired (with a token to release it) or Exhausted (with when to retry). */
export type WindowResult =
  | { readonly _tag: "Acquired"; readonly token: string; readonly count: number }
  | { readonly _tag: "Exhausted"; readonly count: number; readonly retryAfterMs: number }

/** A window's live count, its oldest unit's time, and (asked with a token) whether the token holds a live unit. */
export interface WindowPeek {
  readonly count: number
  readonly oldestAt?: number | undefined
  readonly held?: boolean | undefined
}

/** A value with its version, for compare-and-swap. Versions start at 1 and grow by 1 per write. */
export interface Versioned {
  readonly value: Json
  readonly version: number
}

/**
 * A lease on a key (a target), held by `holder` until `expiresAt`. `parents` (present only when
 * non-empty) are the keys it nests under: see {@link LeaseRequest}.
 */
export interface LeaseInfo {
  readonly key: string
  readonly holder: string
  readonly acquiredAt: number
  readonly expiresAt: number
  readonly data: JsonObject
  readonly parents?: ReadonlyArray<string> | undefined
  /**
   * The fencing epoch the lease was taken or renewed with (present only then). A request with a
   * newer epoch of the same scope takes such a lease over even before it expires: the leader
   * that held it has been deposed, and fencing keeps it from writing.
   */
  readonly epoch?: Epoch | undefined
}

/**
 * A request to take or renew the lease on `key` for `ttlMs` from `now`.
 *
 * Hierarchical leases: `parents` are the keys this lease nests under, nearest first (a
 * container's workload, the workload's namespace …). A live lease of one holder excludes, for
 * every other holder, a lease on the same key, on any of its parents, and on any key that names
 * it among its parents, atomically in every store. Siblings (two children of one parent) do
 * not exclude each other, and one holder may hold a parent and its children together. Without
 * `parents` a renewal keeps the parents it had; a new lease has none.
 */
export interface LeaseRequest {
  readonly key: string
  readonly holder: string
  readonly ttlMs: number
  readonly now: number
  readonly data?: JsonObject
  readonly parents?: ReadonlyArray<string>
  /** The sender's fencing epoch: refused when stale (see {@link Epoch}). */
  readonly epoch?: Epoch
}

/** Options of a compare-and-swap. */
export interface CompareAndSetOptions {
  /** The sender's fencing epoch: refused when stale (see {@link Epoch}). */
  readonly epoch?: Epoch
}

/** The result of a lease acquire: Acquired (new, renewed or taken over after expiry) or Held by another holder. */
export type LeaseResult =
  | { readonly _tag: "Acquired"; readonly lease: LeaseInfo }
  | { readonly _tag: "Held"; readonly lease: LeaseInfo }

/** The kinds of journal entries, in the order an incident normally writes them. */
export type JournalEntryType =
  | "opened"
  | "diagnosed"
  | "classified"
  | "planned"
  | "awaiting_approval"
  | "approved"
  | "intent"
  | "acquired"
  | "applied"
  | "failed"
  | "denied"
  | "step"
  | "verdict"
  | "escalated"
  | "closed"

/** One entry of an incident's journal. `seq` is assigned by the store (1, 2, 3 … per incident). */
export interface JournalEntry {
  readonly incidentId: string
  readonly seq: number
  readonly at: number
  readonly type: JournalEntryType
  readonly stepPath?: string | undefined
  readonly data: JsonObject
}

/** A journal entry before the store assigns its sequence number. */
export type NewJournalEntry = Omit<JournalEntry, "seq">

/** An incident known to the journal, with its first and last entries' summary. */
export interface IncidentIndexEntry {
  readonly incidentId: string
  readonly runbook: string
  readonly targetKey: string
  readonly openedAt: number
  readonly lastType: JournalEntryType
  readonly closed: boolean
}

/** The store interface. */
export interface GuardrailStoreShape {
  /** A short name for errors and reports ("memory", "file:/var/lib/byteport/store", "postgres", "k8s-lease"). */
  readonly name: string
  /**
   * Atomically takes from a sliding window; never exceeds `max` within any `windowMs`, whatever
   * the concurrency; idempotent on a live `token` (see {@link WindowRequest}).
   */
  readonly acquireWindow: (request: WindowRequest) => Effect.Effect<WindowResult, StoreError>
  /**
   * Reads a window's current count without changing it; with `token`, also whether that token
   * holds a live unit (`held`: its acquire would take nothing, see {@link WindowRequest}).
   */
  readonly peekWindow: (key: string, windowMs: number, now: number, token?: string) => Effect.Effect<WindowPeek, StoreError>
  /** Gives back a previously acquired unit (a refund when a later guardrail denied the step). Idempotent. */
  readonly releaseWindow: (key: string, token: string) => Effect.Effect<void, StoreError>
  /** Reads a versioned value. */
  readonly get: (key: string) => Effect.Effect<Versioned | undefined, StoreError>
  /** Writes `value` if the current version is `expectedVersion` (`0` = the key must be absent); true when written. */
  readonly compareAndSet: (key: string, expectedVersion: number, value: Json, options?: CompareAndSetOptions) => Effect.Effect<boolean, StoreError>
  /**
   * Takes or renews (same holder) a lease; takes over an expired one; reports the live lease of
   * another holder that excludes it otherwise (on the key, a parent or a child: see {@link LeaseRequest}).
   */
  readonly acquireLease: (request: LeaseRequest) => Effect.Effect<LeaseResult, StoreError>
  /** Releases a lease if `holder` holds it (no-op otherwise). */
  readonly releaseLease: (key: string, holder: string) => Effect.Effect<void, StoreError>
  /** Reads a lease (expired leases are still returned; compare `expiresAt` with now). */
  readonly getLease: (key: string) => Effect.Effect<LeaseInfo | undefined, StoreError>
  /** Appends to an incident's journal; the first entry of an incident must be `opened` with data `{ runbook, targetKey }`. */
  readonly appendJournal: (entry: NewJournalEntry) => Effect.Effect<JournalEntry, StoreError>
  /** Reads an incident's journal in order. */
  readonly readJournal: (incidentId: string) => Effect.Effect<ReadonlyArray<JournalEntry>, StoreError>
  /** Lists incidents (open ones only unless `all`). */
  readonly listIncidents: (options?: { readonly all?: boolean }) => Effect.Effect<ReadonlyArray<IncidentIndexEntry>, StoreError>
}

/** The GuardrailStore service. */
export class GuardrailStore extends Context.Service<GuardrailStore, GuardrailStoreShape>()("@byteport/core/GuardrailStore") {}
