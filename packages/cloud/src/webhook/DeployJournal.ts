/**
 * `DeployJournal`: the deploy history `deploy.webhook.rollback` keeps in the GuardrailStore, per
 * target: each revision the receiver saw deployed, when it was first reported healthy and when
 * it was reported failed (from authenticated deliveries only). The rollback target is chosen
 * from it: the newest revision deployed before the failing one that was seen healthy and stayed
 * so for the soak (default 10 minutes) — until the next revision replaced it, or until now.
 * Written with compare-and-set, so replicas sharing the store keep one history.
 *
 * @since 0.3.0
 */
import { GuardrailStore, type TargetRef } from "@byteport/core"
import { Effect } from "effect"

/** One revision of a target. */
export interface Entry {
  readonly revision: string
  /** First seen (epoch ms). */
  readonly deployedAt: number
  /** First reported healthy (epoch ms), or null. */
  readonly healthyAt: number | null
  /** Reported failed (epoch ms), or null. */
  readonly failedAt: number | null
}

/** The default soak: a revision counts as good once it stayed healthy this long (10 minutes). */
export const DEFAULT_SOAK_MS = 600_000

/** Entries kept per target (the oldest are dropped). */
export const MAX_ENTRIES = 50

/** The store key of a target's journal. */
export const keyOf = (target: TargetRef.TargetRef): string => `deploy.webhook.rollback:journal:${target.kind}:${target.ref}`

const decodeEntries = (v: unknown): Array<Entry> => {
  const arr = typeof v === "object" && v !== null && Array.isArray((v as { entries?: unknown }).entries) ? (v as { entries: Array<unknown> }).entries : []
  return arr.flatMap((e) => {
    const o = e as Record<string, unknown>
    return typeof o?.["revision"] === "string" && typeof o["deployedAt"] === "number"
      ? [{ revision: o["revision"], deployedAt: o["deployedAt"], healthyAt: typeof o["healthyAt"] === "number" ? o["healthyAt"] : null, failedAt: typeof o["failedAt"] === "number" ? o["failedAt"] : null }]
      : []
  })
}

/** A target's journal, oldest first. */
export const read = (target: TargetRef.TargetRef): Effect.Effect<ReadonlyArray<Entry>, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const v = yield* store.get(keyOf(target))
    return decodeEntries(v?.value)
  })

/** The journal after one observation (pure): a new revision is appended; a known one gets its first healthy / its failed time. */
export const apply = (entries: ReadonlyArray<Entry>, revision: string, outcome: "failed" | "succeeded", at: number): ReadonlyArray<Entry> => {
  const i = entries.findIndex((e) => e.revision === revision)
  if (i < 0) {
    const next: Entry = { revision, deployedAt: at, healthyAt: outcome === "succeeded" ? at : null, failedAt: outcome === "failed" ? at : null }
    return [...entries, next].sort((a, b) => a.deployedAt - b.deployedAt).slice(-MAX_ENTRIES)
  }
  const e = entries[i]!
  const updated: Entry = outcome === "succeeded" ? { ...e, healthyAt: e.healthyAt ?? at } : { ...e, failedAt: e.failedAt ?? at }
  return entries.map((x, j) => (j === i ? updated : x))
}

/** Records an observation of a target's revision (compare-and-set, retried on a concurrent write). */
export const record = (target: TargetRef.TargetRef, revision: string, outcome: "failed" | "succeeded", at: number): Effect.Effect<void, GuardrailStore.StoreError, GuardrailStore.GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = yield* store.get(keyOf(target))
      const entries = apply(decodeEntries(cur?.value), revision, outcome, at)
      const ok = yield* store.compareAndSet(keyOf(target), cur?.version ?? 0, { entries: entries.map((e) => ({ ...e })) })
      if (ok) return
    }
    return yield* new GuardrailStore.StoreError({ store: store.name, operation: "compareAndSet", message: `deploy journal of ${keyOf(target)}: 10 concurrent writes in a row` })
  })

/** How long an entry stayed healthy: from its first healthy report to the next revision's deploy (or now); 0 if it failed or never was healthy. */
export const healthyFor = (entries: ReadonlyArray<Entry>, e: Entry, now: number): number => {
  if (e.healthyAt === null || e.failedAt !== null) return 0
  const next = entries.filter((x) => x.deployedAt > e.deployedAt).sort((a, b) => a.deployedAt - b.deployedAt)[0]
  return Math.max(0, (next?.deployedAt ?? now) - e.healthyAt)
}

/**
 * The newest revision deployed before `failed` (by the journal's deploy times; all other
 * revisions when `failed` is not in the journal) that stayed healthy for at least `soakMs`.
 */
export const lastGood = (entries: ReadonlyArray<Entry>, failed: string | null, now: number, soakMs: number = DEFAULT_SOAK_MS): Entry | undefined => {
  const f = failed === null ? undefined : entries.find((e) => e.revision === failed)
  return entries
    .filter((e) => e.revision !== failed && (f === undefined || e.deployedAt < f.deployedAt))
    .filter((e) => healthyFor(entries, e, now) >= soakMs)
    .sort((a, b) => b.deployedAt - a.deployedAt)[0]
}
