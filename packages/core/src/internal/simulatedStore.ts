/**
 * A read-only simulation of a GuardrailStore, for dry_run: every read goes to the real store,
 * every write lands in an in-memory overlay that is thrown away. Guardrails' `acquire` run
 * against it see the real budgets plus what the plan itself has taken so far, so a dry_run can
 * say which steps `auto` would deny (the 21st termination past a 20/min cap) without spending
 * anything. Nothing reaches the real store: no window entry, no value, no lease, no journal.
 *
 * Internal: not part of the package's exports map.
 *
 * @since 0.2.0
 * @internal
 */
import { Effect } from "effect"
import type { GuardrailStoreShape, JournalEntry, LeaseInfo, Versioned, WindowResult } from "../GuardrailStore"

interface Taken {
  readonly token: string
  readonly at: number
  readonly weight: number
}

/** A store over `real` whose writes are simulated in memory (see the module doc). */
export const simulate = (real: GuardrailStoreShape): GuardrailStoreShape => {
  const windows = new Map<string, Array<Taken>>()
  const values = new Map<string, Versioned | undefined>()
  const leases = new Map<string, LeaseInfo | undefined>()
  let seq = 0
  const takenIn = (key: string, windowMs: number, now: number): ReadonlyArray<Taken> =>
    (windows.get(key) ?? []).filter((t) => now - t.at < windowMs)
  const peekWindow: GuardrailStoreShape["peekWindow"] = (key, windowMs, now, token) =>
    Effect.map(real.peekWindow(key, windowMs, now, token), (p) => {
      const own = takenIn(key, windowMs, now)
      const oldest = [p.oldestAt, ...own.map((t) => t.at)].filter((x): x is number => x !== undefined)
      return {
        count: p.count + own.reduce((n, t) => n + t.weight, 0),
        ...(oldest.length > 0 ? { oldestAt: Math.min(...oldest) } : {}),
        ...(token === undefined ? {} : { held: p.held === true || own.some((t) => t.token === token) })
      }
    })
  const get: GuardrailStoreShape["get"] = (key) => (values.has(key) ? Effect.succeed(values.get(key)) : real.get(key))
  const getLease: GuardrailStoreShape["getLease"] = (key) => (leases.has(key) ? Effect.succeed(leases.get(key)) : real.getLease(key))
  return {
    name: `simulated(${real.name})`,
    peekWindow,
    acquireWindow: (r) =>
      Effect.map(peekWindow(r.key, r.windowMs, r.now, r.token), (p): WindowResult => {
        const weight = r.weight ?? 1
        if (r.token !== undefined && (p.held === true || takenIn(r.key, r.windowMs, r.now).some((t) => t.token === r.token))) {
          return { _tag: "Acquired", token: r.token, count: p.count }
        }
        if (p.count + weight > r.max) {
          return { _tag: "Exhausted", count: p.count, retryAfterMs: p.oldestAt === undefined ? r.windowMs : Math.max(0, p.oldestAt + r.windowMs - r.now) }
        }
        const token = r.token ?? `simulated-${++seq}`
        windows.set(r.key, [...(windows.get(r.key) ?? []), { token, at: r.now, weight }])
        return { _tag: "Acquired", token, count: p.count + weight }
      }),
    releaseWindow: (key, token) => Effect.sync(() => void windows.set(key, (windows.get(key) ?? []).filter((t) => t.token !== token))),
    get,
    compareAndSet: (key, expectedVersion, value) =>
      Effect.map(get(key), (current) => {
        if ((current?.version ?? 0) !== expectedVersion) return false
        values.set(key, { value, version: expectedVersion + 1 })
        return true
      }),
    getLease,
    acquireLease: (r) =>
      Effect.map(getLease(r.key), (current) => {
        if (current !== undefined && current.holder !== r.holder && current.expiresAt > r.now) return { _tag: "Held" as const, lease: current }
        const lease: LeaseInfo = { key: r.key, holder: r.holder, acquiredAt: r.now, expiresAt: r.now + r.ttlMs, data: r.data ?? {}, parents: r.parents }
        leases.set(r.key, lease)
        return { _tag: "Acquired" as const, lease }
      }),
    releaseLease: (key, holder) =>
      Effect.map(getLease(key), (current) => {
        if (current?.holder === holder) leases.set(key, undefined)
      }),
    appendJournal: (entry) => Effect.succeed<JournalEntry>({ ...entry, seq: ++seq }),
    readJournal: (incidentId) => real.readJournal(incidentId),
    listIncidents: (options) => real.listIncidents(options)
  }
}
