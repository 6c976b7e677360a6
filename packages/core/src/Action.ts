/**
 * An Action is data: what to do (`kind`, handled by a registered ActionHandler), to what
 * (`target`), with which `params`, under which `precondition` (the state it was planned from),
 * with an `idempotencyKey`, an optional `undo` and a `timeout`.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Schema } from "effect"
import * as Json from "./Json"
import { TargetRef } from "./TargetRef"

/** An Action (recursive through `undo`). */
export interface Action {
  readonly kind: string
  readonly target: TargetRef
  readonly params: Json.JsonObject
  readonly idempotencyKey: string
  readonly precondition: Json.JsonObject
  readonly undo?: Action | undefined
  /** Timeout in milliseconds. */
  readonly timeout: number
  /** A human sentence: what this action does ("raise memory limit of api/web from 512Mi to 768Mi"). */
  readonly description: string
}

/** Schema of an Action. */
export const Action: Schema.Codec<Action> = Schema.Struct({
  kind: Schema.String.check(Schema.isNonEmpty()),
  target: TargetRef,
  params: Json.JsonObject,
  idempotencyKey: Schema.String.check(Schema.isNonEmpty()),
  precondition: Json.JsonObject,
  undo: Schema.optionalKey(Schema.suspend((): Schema.Codec<Action> => Action)),
  timeout: Schema.Finite.check(Schema.isGreaterThan(0)),
  description: Schema.String
})

/** Options for building an Action. */
export interface MakeOptions {
  readonly kind: string
  readonly target: TargetRef
  readonly params?: Json.JsonObject
  readonly precondition?: Json.JsonObject
  readonly undo?: Action
  readonly timeoutMs?: number
  readonly description: string
  /** Defaults to a digest of kind, target, params and precondition. */
  readonly idempotencyKey?: string
}

/** An Action that cannot be encoded (so could never be journaled, approved or resumed). */
export class InvalidAction extends Schema.TaggedError<InvalidAction>()("InvalidAction", {
  /** Where in the action (or plan) the problem is: `action.timeout`, `0.1.p.undo.params.x` … */
  path: Schema.String,
  message: Schema.String
}) {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * The first reason `action` cannot be encoded, or `undefined` when it round-trips through the
 * `Action` Schema unchanged. Checks, with precise messages: a non-empty kind and idempotency key,
 * a target, a positive finite timeout, JSON params and precondition, an `undo` that is either
 * absent or an Action (an own `undo: undefined` is refused), then the Schema round trip itself.
 * `path` prefixes the paths in the error (a plan passes the step path).
 */
export const problem = (action: unknown, path = "action"): InvalidAction | undefined => {
  const bad = (where: string, message: string) => new InvalidAction({ path: where, message: `${where}: ${message}` })
  if (!isObject(action)) return bad(path, "is not an object")
  if (typeof action.kind !== "string" || action.kind.length === 0) return bad(`${path}.kind`, "must be a non-empty string")
  if (typeof action.idempotencyKey !== "string" || action.idempotencyKey.length === 0) {
    return bad(`${path}.idempotencyKey`, "must be a non-empty string")
  }
  const t = action.timeout
  if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
    return bad(`${path}.timeout`, `must be a positive finite number of milliseconds, got ${typeof t === "number" ? String(t) : typeof t}`)
  }
  if (typeof action.description !== "string") return bad(`${path}.description`, "must be a string")
  for (const k of ["params", "precondition"] as const) {
    if (!isObject(action[k])) return bad(`${path}.${k}`, "must be a JSON object")
    const nonJson = Json.check(action[k], `${path}.${k}`)
    if (nonJson) return new InvalidAction({ path: nonJson.path, message: nonJson.message })
    const undef = undefinedMember(action[k], `${path}.${k}`)
    if (undef) return bad(undef, "is undefined: omit the key instead (undefined cannot be encoded)")
  }
  if ("undo" in action) {
    if (action.undo === undefined) return bad(`${path}.undo`, "is undefined: omit the key instead (undefined cannot be encoded)")
    const inner = problem(action.undo, `${path}.undo`)
    if (inner) return inner
  }
  const nonJson = Json.check(action, path)
  if (nonJson) return new InvalidAction({ path: nonJson.path, message: nonJson.message })
  const encoded = Schema.encodeUnknownExit(Action)(action)
  if (encoded._tag === "Failure") return bad(path, `cannot be encoded: ${String(Cause.squash(encoded.cause))}`)
  const decoded = Schema.decodeUnknownExit(Action)(JSON.parse(JSON.stringify(encoded.value)))
  if (decoded._tag === "Failure") return bad(path, `does not decode after encoding: ${String(Cause.squash(decoded.cause))}`)
  if (Json.canonical(decoded.value) !== Json.canonical(action)) {
    return bad(path, `does not survive encoding unchanged (unknown keys: ${Object.keys(action).filter((k) => !KEYS.has(k)).join(", ") || "none"})`)
  }
  return undefined
}

/** The path of the first object member whose value is `undefined` (JSON params cannot hold one). */
const undefinedMember = (v: unknown, path: string): string | undefined => {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = undefinedMember(v[i], `${path}[${i}]`)
      if (p) return p
    }
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      const p = x === undefined ? `${path}.${k}` : undefinedMember(x, `${path}.${k}`)
      if (p) return p
    }
  }
  return undefined
}

const KEYS = new Set(["kind", "target", "params", "idempotencyKey", "precondition", "undo", "timeout", "description"])

/** Validates an Action: succeeds with it when it round-trips through its Schema, else fails with `InvalidAction`. */
export const validate = (action: Action): Effect.Effect<Action, InvalidAction> => {
  const p = problem(action)
  return p ? Effect.fail(p) : Effect.succeed(action)
}

/**
 * Builds an Action; the default idempotency key is derived from its content. The result is
 * validated (see `problem`): an action that could not be encoded — a timeout that is not a
 * positive finite number, params that are not JSON, an `undo` that is not an Action — throws
 * `InvalidAction` naming the field, so every action that can run can be encoded.
 */
export const make = (o: MakeOptions): Action => {
  const params = o.params ?? {}
  const precondition = o.precondition ?? {}
  const base = { kind: o.kind, target: o.target, params, precondition }
  const action: Action = {
    ...base,
    idempotencyKey: o.idempotencyKey ?? `${o.kind}:${safeDigest(base).slice(0, 16)}`,
    ...(o.undo !== undefined ? { undo: o.undo } : {}),
    timeout: o.timeoutMs ?? 30_000,
    description: o.description
  }
  const p = problem(action)
  if (p) throw p
  return action
}

/** A digest for the default idempotency key that never throws (validation reports the real problem). */
const safeDigest = (v: unknown): string => (Json.isJson(v) ? Json.digest(v) : "invalid")

/** The digest a Permit is bound to: SHA-256 of the action's canonical JSON. */
export const digest = (action: Action): string => Json.digest(action)
