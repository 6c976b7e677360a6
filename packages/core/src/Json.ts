/**
 * JSON values and the canonical (key-sorted) encoding used for digests.
 *
 * `canonical` accepts JSON values only, so two different values never share a canonical text
 * (and so never share a digest): it throws `NonJsonValue` (naming the path) for `NaN`,
 * `Infinity`, `undefined` inside an array (or a hole), functions, symbols, bigints, cycles,
 * objects with an own `__proto__` key or symbol keys, arrays with extra properties and
 * non-plain objects (`Date`, `Map`, class instances …) and values nested deeper than 2,500 levels. `undefined` object members are dropped
 * (as `JSON.stringify` does) and `-0` is written as `0`: both are the same JSON text.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Schema } from "effect"

/** Any JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A JSON object, as used for action params, evidence and preconditions. */
export type JsonObject = { readonly [key: string]: Json }

/** A value that is not JSON was given where JSON is required (`canonical`, `digest`). */
export class NonJsonValue extends Schema.TaggedError<NonJsonValue>()("NonJsonValue", {
  /** Where the value is, as a JSONPath-like string (`$.root.steps[0].action.timeout`). */
  path: Schema.String,
  message: Schema.String
}) {}

/** The JSONPath-like segment of a key. */
const segment = (key: string): string => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

/** Describes a value for an error message (never its content: it may be a secret). */
const describe = (value: unknown): string => {
  if (typeof value === "number" || value === undefined) return String(value)
  if (typeof value === "object" && value !== null) return `a ${value.constructor?.name ?? "non-plain object"}`
  return `a ${typeof value}`
}

/** The deepest nesting `canonical` accepts: the apiserver accepts 10,000 levels, but JSON.stringify overflows Node's stack near 4,000. */
const MAX_DEPTH = 2_500

/**
 * The first place where `value` is not JSON, or `undefined` when it is JSON. Pure; never throws.
 * Paths start at `root` (default `$`).
 */
export const check = (value: unknown, root = "$"): NonJsonValue | undefined => {
  const stack = new Set<object>()
  const go = (v: unknown, path: string): NonJsonValue | undefined => {
    if (stack.size >= MAX_DEPTH && v !== null && typeof v === "object") {
      return new NonJsonValue({ path: root, message: `${root} is nested deeper than ${MAX_DEPTH} levels, which canonical JSON refuses (JSON.stringify would overflow the stack)` })
    }
    switch (typeof v) {
      case "string":
      case "boolean":
        return undefined
      case "number":
        return Number.isFinite(v) ? undefined : new NonJsonValue({ path, message: `${path} is ${describe(v)}, which is not a JSON number` })
      case "undefined":
      case "function":
      case "symbol":
      case "bigint":
        return new NonJsonValue({ path, message: `${path} is ${describe(v)}, which is not a JSON value` })
    }
    if (v === null) return undefined
    const obj = v as object
    if (stack.has(obj)) return new NonJsonValue({ path, message: `${path} is a cycle, which JSON cannot encode` })
    if (Object.getOwnPropertySymbols(obj).length > 0) {
      return new NonJsonValue({ path, message: `${path} has symbol keys, which JSON cannot encode` })
    }
    stack.add(obj)
    try {
      if (Array.isArray(obj)) {
        const keys = Object.keys(obj)
        if (keys.length !== obj.length) {
          return new NonJsonValue({ path, message: `${path} is an array with holes or extra properties, which JSON cannot encode` })
        }
        for (let i = 0; i < obj.length; i++) {
          const e = go(obj[i], `${path}[${i}]`)
          if (e) return e
        }
        return undefined
      }
      const proto = Object.getPrototypeOf(obj)
      if (proto !== Object.prototype && proto !== null) {
        return new NonJsonValue({ path, message: `${path} is ${describe(obj)}, not a plain object` })
      }
      for (const k of Object.keys(obj)) {
        if (k === "__proto__") {
          return new NonJsonValue({ path: `${path}${segment(k)}`, message: `${path} has an own "__proto__" key, which canonical JSON refuses` })
        }
        const member = (obj as Record<string, unknown>)[k]
        if (member === undefined) continue
        const e = go(member, `${path}${segment(k)}`)
        if (e) return e
      }
      return undefined
    } finally {
      stack.delete(obj)
    }
  }
  return go(value, root)
}

/** Whether a value is JSON (see `check`). */
export const isJson = (value: unknown): value is Json => check(value) === undefined

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` object members dropped, `-0`
 * as `0`. Stable across processes. Throws `NonJsonValue` (naming the path) for anything that is
 * not JSON, so two different values can never share a canonical text.
 */
export const canonical = (value: unknown): string => {
  const bad = check(value)
  if (bad) throw bad
  return JSON.stringify(sortKeys(value))
}

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k]
      if (v !== undefined) out[k] = sortKeys(v)
    }
    return out
  }
  return Object.is(value, -0) ? 0 : value
}

/** SHA-256 (hex) of the canonical JSON of a value. Throws `NonJsonValue` for a value that is not JSON. */
export const digest = (value: unknown): string => createHash("sha256").update(canonical(value)).digest("hex")

/** Schema of a JSON object; refuses own `__proto__` keys at any depth (canonical JSON refuses them too). */
export const JsonObject: Schema.Codec<JsonObject> = Schema.Record(Schema.String, Schema.Json).check(
  Schema.makeFilter((o) => {
    const bad = check(o)
    return bad === undefined ? undefined : { path: [], issue: bad.message }
  })
)
