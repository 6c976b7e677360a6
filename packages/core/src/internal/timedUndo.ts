/**
 * The store side of timed undos (see `TimedUndo`): one versioned value in the GuardrailStore,
 * `byteport:timed-undo`, holding every pending undo, updated by compare-and-swap so agents
 * sharing a store never lose one another's entries. The Executor schedules through here (it
 * cannot import `TimedUndo`, which runs undos through the Executor). Internal.
 *
 * @since 0.3.0
 * @internal
 */
import { Effect, Schema } from "effect"
import * as A from "../Action"
import type { GuardrailStoreShape, StoreError } from "../GuardrailStore"
import type { Json } from "../Json"

/** The store key of the pending undos. */
export const KEY = "byteport:timed-undo"

/** One pending undo. */
export interface Entry {
  /** `<incidentId>/<stepPath>` of the step that made the change (idempotent). */
  readonly id: string
  /** Epoch ms at which the undo is due. */
  readonly dueAt: number
  /** The action that undoes the change. */
  readonly action: A.Action
  readonly incidentId: string
  readonly runbook: string
  readonly stepPath: string
  readonly scheduledAt: number
  /** Attempts so far (a denied or failed undo is retried). */
  readonly attempts: number
}

const EntrySchema = Schema.Struct({
  id: Schema.String,
  dueAt: Schema.Number,
  action: A.Action,
  incidentId: Schema.String,
  runbook: Schema.String,
  stepPath: Schema.String,
  scheduledAt: Schema.Number,
  attempts: Schema.Number
})

const decode = Schema.decodeUnknownExit(Schema.Array(EntrySchema))

/** The pending undos and the value's version (0: none yet). Undecodable content reads as empty. */
export const read = (store: GuardrailStoreShape): Effect.Effect<{ readonly entries: ReadonlyArray<Entry>; readonly version: number }, StoreError> =>
  Effect.map(store.get(KEY), (v) => {
    if (v === undefined) return { entries: [], version: 0 }
    const d = decode(v.value)
    return { entries: d._tag === "Success" ? d.value : [], version: v.version }
  })

/** Updates the pending undos by compare-and-swap (retried on a concurrent write). */
export const update = <A>(
  store: GuardrailStoreShape,
  f: (entries: ReadonlyArray<Entry>) => readonly [ReadonlyArray<Entry>, A]
): Effect.Effect<A, StoreError> =>
  Effect.gen(function*() {
    for (let i = 0; ; i++) {
      const { entries, version } = yield* read(store)
      const [next, out] = f(entries)
      if (next === entries) return out
      const ok = yield* store.compareAndSet(KEY, version, JSON.parse(JSON.stringify(next)) as Json)
      if (ok) {
        for (const l of listeners) l()
        return out
      }
      if (i > 50) return yield* Effect.die(new Error(`${KEY}: compare-and-swap kept losing`))
    }
  })

/** Schedules an undo (a no-op when one with the same id is pending). */
export const schedule = (store: GuardrailStoreShape, entry: Entry): Effect.Effect<void, StoreError> =>
  update(store, (es) => (es.some((e) => e.id === entry.id) ? [es, undefined] : [[...es, entry], undefined]))

/** Cancels a pending undo (the change it would undo did not happen). */
export const cancel = (store: GuardrailStoreShape, id: string): Effect.Effect<void, StoreError> =>
  update(store, (es) => (es.some((e) => e.id === id) ? [es.filter((e) => e.id !== id), undefined] : [es, undefined]))

/** In-process wake-ups of the undo loops when an entry is written (other processes re-read on their rescan). */
export const listeners = new Set<() => void>()
