/**
 * An in-memory GuardrailStore: for tests, examples and single-process agents that need no
 * persistence. Every operation runs as one synchronous step (no suspension between the read
 * and the write of shared state), so it is atomic under any Effect concurrency.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { Effect, Layer } from "effect"
import { GuardrailStore, StoreError } from "../GuardrailStore"
import type { GuardrailStoreShape, IncidentIndexEntry, JournalEntry, LeaseInfo } from "../GuardrailStore"
import * as State from "./internal/state"

/** Options of {@link make}. */
export interface MemoryStoreOptions {
  /** The store's name in errors and reports (default `"memory"`). */
  readonly name?: string
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
              message: cause instanceof State.InvalidInput ? `invalid input: ${cause.message}` : String(cause),
              cause
            })
          )
        }
      })

    const store: GuardrailStoreShape = {
      name,
      acquireWindow: (request) =>
        atomically("acquireWindow", () => {
          const result = State.acquireWindow(windows, request, randomUUID())
          State.pruneWindows(windows, request.now)
          return result
        }),
      peekWindow: (key, windowMs, now) => atomically("peekWindow", () => State.peekWindow(windows, key, windowMs, now)),
      releaseWindow: (key, token) =>
        atomically("releaseWindow", () => {
          State.releaseWindow(windows, key, token)
        }),
      get: (key) => atomically("get", () => State.getValue(values, key)),
      compareAndSet: (key, expectedVersion, value) =>
        atomically("compareAndSet", () => State.compareAndSet(values, key, expectedVersion, value)),
      acquireLease: (request) => atomically("acquireLease", () => State.acquireLease(leases, request)),
      releaseLease: (key, holder) =>
        atomically("releaseLease", () => {
          State.releaseLease(leases, key, holder)
        }),
      getLease: (key) => atomically("getLease", () => State.getLease(leases, key)),
      appendJournal: (entry) =>
        atomically("appendJournal", () => {
          const journal = journals.get(entry.incidentId) ?? []
          const stored = State.prepareJournalEntry(entry, journal.length)
          journal.push(stored)
          journals.set(entry.incidentId, journal)
          const summary = index.get(entry.incidentId)
          index.set(entry.incidentId, summary === undefined ? State.summarize([stored]) : State.advance(summary, stored))
          return State.copyEntry(stored)
        }),
      readJournal: (incidentId) =>
        atomically("readJournal", () => (journals.get(incidentId) ?? []).map(State.copyEntry)),
      listIncidents: (options) =>
        atomically("listIncidents", () =>
          [...index.values()].filter((i) => options?.all === true || !i.closed).sort(State.byOpening).map((i) => ({ ...i }))
        )
    }
    return store
  })

/** A layer with a fresh in-memory store (one per layer build). */
export const layer: Layer.Layer<GuardrailStore> = Layer.effect(GuardrailStore, make())
