/**
 * JSON values and the canonical (key-sorted) encoding used for digests.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"

/** Any JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A JSON object, as used for action params, evidence and preconditions. */
export type JsonObject = { readonly [key: string]: Json }

/** Schema of a JSON object. */
export const JsonObject: Schema.Codec<JsonObject> = Schema.Record(Schema.String, Schema.Json) as any

/** Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped. Stable across processes. */
export const canonical = (value: unknown): string => JSON.stringify(sortKeys(value))

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k]
      if (v !== undefined) out[k] = sortKeys(v)
    }
    return out
  }
  return value
}

/** SHA-256 (hex) of the canonical JSON of a value. */
export const digest = (value: unknown): string => createHash("sha256").update(canonical(value)).digest("hex")
