/**
 * A minimal in-memory GuardrailStore for the guardrail suites: counted windows (entries count
 * while `now - t < windowMs`) and compare-and-swap values. Leases and the journal are not used
 * by guardrails and die if called.
 */
import { Effect } from "effect"
import type { GuardrailStoreShape, Versioned } from "../../src/GuardrailStore"

interface Entry {
  readonly t: number
  readonly w: number
  readonly token: string
}

const unused = (op: string) => () => Effect.die(`TestStore.${op} is not used by guardrails`)

/** Builds a fresh store. */
export const make: Effect.Effect<GuardrailStoreShape> = Effect.sync(() => {
  const windows = new Map<string, Array<Entry>>()
  const values = new Map<string, Versioned>()
  let tokens = 0
  const live = (key: string, windowMs: number, now: number) => (windows.get(key) ?? []).filter((e) => now - e.t < windowMs)
  const store: GuardrailStoreShape = {
    name: "test",
    acquireWindow: (r) =>
      Effect.sync(() => {
        const entries = live(r.key, r.windowMs, r.now)
        const count = entries.reduce((n, e) => n + e.w, 0)
        const w = r.weight ?? 1
        if (count + w > r.max) {
          const oldest = entries.reduce((m, e) => Math.min(m, e.t), Infinity)
          return { _tag: "Exhausted", count, retryAfterMs: Number.isFinite(oldest) ? oldest + r.windowMs - r.now : r.windowMs } as const
        }
        const token = `t${++tokens}`
        windows.set(r.key, [...entries, { t: r.now, w, token }])
        return { _tag: "Acquired", token, count: count + w } as const
      }),
    peekWindow: (key, windowMs, now) =>
      Effect.sync(() => {
        const entries = live(key, windowMs, now)
        const oldest = entries.reduce((m, e) => Math.min(m, e.t), Infinity)
        return { count: entries.reduce((n, e) => n + e.w, 0), oldestAt: Number.isFinite(oldest) ? oldest : undefined }
      }),
    releaseWindow: (key, token) =>
      Effect.sync(() => {
        const entries = windows.get(key)
        if (entries) windows.set(key, entries.filter((e) => e.token !== token))
      }),
    get: (key) => Effect.sync(() => values.get(key)),
    compareAndSet: (key, expectedVersion, value) =>
      Effect.sync(() => {
        const current = values.get(key)
        if ((current?.version ?? 0) !== expectedVersion) return false
        values.set(key, { value, version: expectedVersion + 1 })
        return true
      }),
    acquireLease: unused("acquireLease"),
    releaseLease: unused("releaseLease"),
    getLease: unused("getLease"),
    appendJournal: unused("appendJournal"),
    readJournal: unused("readJournal"),
    listIncidents: unused("listIncidents")
  }
  return store
})

/** The test store module. */
export const TestStore = { make }
