/**
 * An in-memory GuardrailStore: for tests, examples and single-process agents that need no
 * persistence. Every operation runs as one synchronous step (no suspension between the read
 * and the write of shared state), so it is atomic under any Effect concurrency.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import { GuardrailStore, StaleEpoch, StoreError } from "../GuardrailStore"
import type { GuardrailStoreShape, IncidentIndexEntry, JournalEntry, LeaseInfo } from "../GuardrailStore"
import type * as Redactor from "../Redactor"
import * as Rules from "../StoreRules"
import * as State from "./internal/state"

/** Options of {@link make}. */
export interface MemoryStoreOptions {
  /** The store's name in errors and reports (default `"memory"`). */
  readonly name?: string
  /** The redactor every written value, lease data and journal entry passes (default: the caller's `Redactor` service, else the default rules). */
  readonly redactor?: Redactor.Shape
}

/** Builds a fresh, empty in-memory store. */
export const make = (options: MemoryStoreOptions = {}): Effect.Effect<GuardrailStoreShape> =>
  Effect.sync(() => {
    const name = options.name ?? "memory"
    const windows = new Map<string, State.WindowSlot>()
    const values = new Map<string, State.StoredValue>()
    const leases = new Map<string, LeaseInfo>()
    const journals = new Map<string, Array<JournalEntry>>()
    const index = new Map<string, IncidentIndexEntry>()
    const fences = new Map<string, number>()

    /** Runs `f` as one synchronous critical section; bad input becomes a StoreError. */
    const atomically = <A>(operation: string, f: () => A): Effect.Effect<A, StoreError> =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(f())
        } catch (cause) {
          return Effect.fail(
            new StoreError({
              store: name,
              operation,
              message: cause instanceof Rules.InvalidInput
                ? `invalid input: ${cause.message}`
                : cause instanceof StaleEpoch
                ? Rules.staleEpochMessage(cause)
                : String(cause),
              cause
            })
          )
        }
      })

    /** Like `atomically`, with the redactor for the write. */
    const redacting = <A>(operation: string, f: (r: Redactor.Shape) => A): Effect.Effect<A, StoreError> =>
      Effect.flatMap(Rules.redactorFor(options.redactor), (r) => atomically(operation, () => f(r)))

    const store: GuardrailStoreShape = {
      name,
      acquireWindow: (request) =>
        atomically("acquireWindow", () => {
          Rules.validateWindowRequest(request)
          State.fence(fences, request.epoch)
          const result = State.acquireWindow(windows, request, randomUUID())
          State.pruneWindows(windows, request.now)
          return result
        }),
      peekWindow: (key, windowMs, now, token) => atomically("peekWindow", () => State.peekWindow(windows, key, windowMs, now, token)),
      releaseWindow: (key, token) =>
        atomically("releaseWindow", () => {
          State.releaseWindow(windows, key, token)
        }),
      get: (key) => atomically("get", () => State.getValue(values, key)),
      compareAndSet: (key, expectedVersion, value, o) =>
        redacting("compareAndSet", (r) => {
          const copy = Rules.redactJson(r, Rules.copyJson(value, "value"))
          Rules.validateCompareAndSet(key, expectedVersion)
          State.fence(fences, o?.epoch)
          return State.compareAndSet(values, key, expectedVersion, copy)
        }),
      acquireLease: (request) =>
        redacting("acquireLease", (r) => {
          const checked = Rules.validateLeaseRequest(request)
          State.fence(fences, checked.epoch)
          return State.acquireLease(leases, checked.data === undefined ? checked : { ...checked, data: Rules.redactJsonObject(r, checked.data) })
        }),
      releaseLease: (key, holder) =>
        atomically("releaseLease", () => {
          State.releaseLease(leases, key, holder)
        }),
      getLease: (key) => atomically("getLease", () => State.getLease(leases, key)),
      appendJournal: (entry) =>
        redacting("appendJournal", (r) => {
          const journal = journals.get(entry?.incidentId) ?? []
          const checked = Rules.prepareJournalEntry(entry, journal.length)
          const stored = { ...checked, data: Rules.redactJsonObject(r, checked.data) }
          journal.push(stored)
          journals.set(entry.incidentId, journal)
          index.set(entry.incidentId, State.indexWith(index.get(entry.incidentId), stored))
          return Rules.copyEntry(stored)
        }),
      readJournal: (incidentId) =>
        atomically("readJournal", () => (journals.get(incidentId) ?? []).map(Rules.copyEntry)),
      listIncidents: (options) =>
        atomically("listIncidents", () =>
          [...index.values()].filter((i) => options?.all === true || !i.closed).sort(Rules.byOpening).map((i) => ({ ...i }))
        )
    }
    return store
  })

/** A layer with a fresh in-memory store (one per layer build). */
export const layer: Layer.Layer<GuardrailStore> = Layer.effect(GuardrailStore, make())
