/**
 * Approval records in the GuardrailStore. An approval is bound to one incident, one plan digest,
 * an approver and an expiry; the `ApprovalChannel` writes it under `approval:<incidentId>` and the
 * `approval` guardrail reads it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Guardrail } from "@byteport/core"
 * const approve = (incidentId: string, planDigest: string, now: number) =>
 *   Guardrail.Approval.grant(incidentId, { planDigest, approver: "alice@example.com", expiresAt: now + 3_600_000 })
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { GuardrailStore, StoreError } from "../GuardrailStore"
import type { Json } from "../Json"

/** The value stored under `approval:<incidentId>`. */
export const ApprovalRecord = Schema.Struct({
  /** Digest of the plan the approver saw (`Plan.digest`). */
  planDigest: Schema.String.check(Schema.isNonEmpty()),
  /** Who approved (a user name, e-mail or chat handle). */
  approver: Schema.String.check(Schema.isNonEmpty()),
  /** Epoch ms after which the approval no longer counts. */
  expiresAt: Schema.Finite,
  /** Epoch ms when it was given (optional, for the report). */
  approvedAt: Schema.optionalKey(Schema.Finite),
  /** A note from the approver (optional). */
  comment: Schema.optionalKey(Schema.String)
})

/** An approval record. */
export type ApprovalRecord = typeof ApprovalRecord.Type

/** The store key of an incident's approval. */
export const key = (incidentId: string): string => `approval:${incidentId}`

/** What reading an incident's approval found. */
export type ReadResult =
  | { readonly _tag: "None" }
  | { readonly _tag: "Malformed"; readonly message: string }
  | { readonly _tag: "Found"; readonly record: ApprovalRecord; readonly version: number }

const decode = Schema.decodeUnknownExit(ApprovalRecord)

const maxCasRetries = 16

/** Reads an incident's approval (a malformed value is reported, not thrown). */
export const read = (incidentId: string): Effect.Effect<ReadResult, StoreError, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const v = yield* store.get(key(incidentId))
    if (v === undefined || v.value === null) return { _tag: "None" } as const
    const exit = decode(v.value)
    if (exit._tag === "Failure") return { _tag: "Malformed", message: String(exit.cause) } as const
    return { _tag: "Found", record: exit.value, version: v.version } as const
  })

const encode = Schema.encodeUnknownExit(ApprovalRecord)

/**
 * Records an approval for an incident (replacing any previous one, with compare-and-swap so two
 * writers never interleave). Returns the record written. An invalid record (empty approver or
 * digest, non-finite expiry) writes nothing and fails with a StoreError whose message starts
 * with `invalid input:` and names the field (the stores' convention for rejected input).
 */
export const grant = (incidentId: string, record: ApprovalRecord): Effect.Effect<ApprovalRecord, StoreError, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const k = key(incidentId)
    const encoded = encode(record)
    if (encoded._tag === "Failure") {
      return yield* new StoreError({ store: store.name, operation: "grant", message: `invalid input: approval record for ${k}: ${String(encoded.cause)}` })
    }
    const value = encoded.value as unknown as Json
    for (let i = 0; i < maxCasRetries; i++) {
      const current = yield* store.get(k)
      if (yield* store.compareAndSet(k, current?.version ?? 0, value)) return record
    }
    return yield* new StoreError({ store: store.name, operation: "compareAndSet", message: `approval grant for ${k} lost ${maxCasRetries} races` })
  })

/** Withdraws an incident's approval (stores `null`; reading then finds none). */
export const revoke = (incidentId: string): Effect.Effect<void, StoreError, GuardrailStore> =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore
    const k = key(incidentId)
    for (let i = 0; i < maxCasRetries; i++) {
      const current = yield* store.get(k)
      if (current === undefined || current.value === null) return
      if (yield* store.compareAndSet(k, current.version, null)) return
    }
    return yield* new StoreError({ store: store.name, operation: "compareAndSet", message: `approval revoke for ${k} lost ${maxCasRetries} races` })
  })
