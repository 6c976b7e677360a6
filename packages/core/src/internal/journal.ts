/**
 * Journal writes, redacted. The incident journal is written to stores that may be remote
 * (PostgreSQL, Kubernetes Lease annotations), so every entry's data passes through the
 * Redactor (the `Redactor` service when one is provided, else the default rules) before it
 * reaches the store. Internal: not part of the package's exports map.
 *
 * @since 0.1.0
 * @internal
 */
import { Effect } from "effect"
import type { GuardrailStoreShape, JournalEntry, NewJournalEntry, StoreError } from "../GuardrailStore"
import type { Json, JsonObject } from "../Json"
import * as Redactor from "../Redactor"

/** JSON-safe copy of any value (bigints as strings; `undefined` as null; unserialisable as its string). */
export const toJson = (v: unknown): any => {
  try {
    return v === undefined ? null : JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)))
  } catch {
    return String(v)
  }
}

const isObject = (j: Json): j is JsonObject => j !== null && typeof j === "object" && !Array.isArray(j)

/** Redacts one entry's data with the given redactor (always an object). */
export const redactData = (redactor: Redactor.Shape, data: JsonObject): JsonObject => {
  const r = redactor.redact(data)
  return isObject(r) ? r : {}
}

/** The redactor journal writes use: the provided `Redactor` service, else the default rules. */
export const redactor: Effect.Effect<Redactor.Shape> = Effect.map(
  Effect.serviceOption(Redactor.Redactor),
  (o) => (o._tag === "Some" ? o.value : Redactor.defaultRedactor)
)

/** Appends an entry to the store's journal with its data redacted. */
export const append = (store: GuardrailStoreShape, entry: NewJournalEntry): Effect.Effect<JournalEntry, StoreError> =>
  Effect.flatMap(redactor, (r) => store.appendJournal({ ...entry, data: redactData(r, entry.data) }))
