/**
 * An Action is data: what to do (`kind`, handled by a registered ActionHandler), to what
 * (`target`), with which `params`, under which `precondition` (the state it was planned from),
 * with an `idempotencyKey`, an optional `undo` and a `timeout`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
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
}) as any

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

/** Builds an Action; the default idempotency key is derived from its content. */
export const make = (o: MakeOptions): Action => {
  const params = o.params ?? {}
  const precondition = o.precondition ?? {}
  const base = { kind: o.kind, target: o.target, params, precondition }
  return {
    ...base,
    idempotencyKey: o.idempotencyKey ?? `${o.kind}:${Json.digest(base).slice(0, 16)}`,
    ...(o.undo ? { undo: o.undo } : {}),
    timeout: o.timeoutMs ?? 30_000,
    description: o.description
  }
}

/** The digest a Permit is bound to: SHA-256 of the action's canonical JSON. */
export const digest = (action: Action): string => Json.digest(action)
