/**
 * The counted sliding window shared by `rateLimit`, `perMinuteCap` and `cooldown`: `check`
 * peeks at the store's window (never writes), `acquire` takes `weight` units atomically with
 * `acquireWindow`, and the acquisition's `release` refunds them with `releaseWindow`.
 *
 * The unit's token is deterministic per (incident, plan, step path, action, guardrail, key) (see
 * {@link windowToken}): a run resumed after the agent died between this acquire and the
 * `acquired` journal entry finds the unit its predecessor took (the store's acquire is
 * idempotent on a live token) instead of spending the budget twice.
 *
 * An entry taken at `t` counts while `now - t < window`: at exactly `t + window` it has left.
 * A `check` Deny's `retryAfterMs` is when the oldest entry leaves (exact for unit weights, a lower
 * bound for weighted requests); an `acquire` Deny carries the store's own answer.
 *
 * @since 0.1.0
 * @internal
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import * as A from "../Action"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext, GuardrailResult } from "../Guardrail"
import { GuardrailStore } from "../GuardrailStore"
import * as Settings from "../Settings"
import { attempt, type Count, noAcquisition, resolveCount, show } from "./internal"

/** What a denial message is built from. */
export interface WindowDenial {
  readonly ctx: GuardrailContext
  readonly key: string
  readonly max: number
  readonly windowMs: number
  /** Units already taken in the window. */
  readonly count: number
  /** Units this action asked for. */
  readonly weight: number
  readonly retryAfterMs: number | undefined
}

/** Options of a window guardrail. */
export interface WindowGuardrailOptions {
  readonly name: string
  readonly key: (ctx: GuardrailContext) => string
  readonly max: Count
  readonly windowMs: number
  readonly weight?: ((ctx: GuardrailContext) => number) | undefined
  /** The Deny reason when the window is full. */
  readonly denied: (d: WindowDenial) => string
  /** The Deny reason when one action asks for more than `max` units (it can never pass). */
  readonly oversized: (d: WindowDenial) => string
}

/**
 * The deterministic window token of one guardrail's acquire for one step of one incident: a
 * hash of the incident id, plan digest, step path, action digest, guardrail name and window key.
 */
export const windowToken = (ctx: GuardrailContext, guardrail: string, key: string): string =>
  `wt-${createHash("sha256").update(JSON.stringify([ctx.incidentId, ctx.planDigest, ctx.stepPath, A.digest(ctx.action), guardrail, key])).digest("hex").slice(0, 40)}`

type Prepared =
  | { readonly ok: false; readonly result: GuardrailResult }
  | { readonly ok: true; readonly key: string; readonly max: number; readonly weight: number }

const prepare = (o: WindowGuardrailOptions, ctx: GuardrailContext): Effect.Effect<Prepared> =>
  Effect.gen(function*() {
    const key = attempt(o.name, "the key", () => o.key(ctx))
    if (!key.ok) return key
    const max = yield* resolveCount(o.name, "max", o.max)
    if (!max.ok) return max
    const weight = attempt(o.name, "the weight", () => (o.weight ? o.weight(ctx) : 1))
    if (!weight.ok) return weight
    if (!Number.isInteger(weight.value) || weight.value < 0) {
      return { ok: false, result: Guardrail.deny(`${o.name}: the weight must be a non-negative integer (got ${show(weight.value)})`) } as const
    }
    if (weight.value > max.value) {
      const d: WindowDenial = { ctx, key: key.value, max: max.value, windowMs: o.windowMs, count: 0, weight: weight.value, retryAfterMs: undefined }
      return { ok: false, result: Guardrail.deny(o.oversized(d)) } as const
    }
    return { ok: true, key: key.value, max: max.value, weight: weight.value } as const
  })

/**
 * Builds a window guardrail (see the module doc). A cap read from configuration is also declared
 * as the guardrail's `config`, so the agent validates it at startup, not only as a runtime denial.
 */
export const windowGuardrail = (o: WindowGuardrailOptions): Guardrail.Guardrail<never> =>
  typeof o.max === "number" ? windowGuardrailOf(o) : { ...windowGuardrailOf(o), config: [Settings.positiveCount(o.max)] }

const windowGuardrailOf = (o: WindowGuardrailOptions): Guardrail.Guardrail<never> =>
  Guardrail.make<never>({
    name: o.name,
    check: (ctx) =>
      Effect.gen(function*() {
        const p = yield* prepare(o, ctx)
        if (!p.ok) return p.result
        if (p.weight === 0) return Guardrail.pass
        const store = yield* GuardrailStore
        const peek = yield* store.peekWindow(p.key, o.windowMs, ctx.now, windowToken(ctx, o.name, p.key))
        // the step already holds its unit (taken before a restart): its acquire takes nothing
        if (peek.held === true || peek.count + p.weight <= p.max) return Guardrail.pass
        const retryAfterMs = peek.oldestAt === undefined ? undefined : Math.max(0, peek.oldestAt + o.windowMs - ctx.now)
        return Guardrail.deny(
          o.denied({ ctx, key: p.key, max: p.max, windowMs: o.windowMs, count: peek.count, weight: p.weight, retryAfterMs }),
          retryAfterMs
        )
      }),
    acquire: (ctx) =>
      Effect.gen(function*() {
        const p = yield* prepare(o, ctx)
        if (!p.ok) return noAcquisition(p.result)
        if (p.weight === 0) return noAcquisition(Guardrail.pass)
        const store = yield* GuardrailStore
        const taken = yield* store.acquireWindow({
          key: p.key,
          max: p.max,
          windowMs: o.windowMs,
          now: ctx.now,
          weight: p.weight,
          token: windowToken(ctx, o.name, p.key),
          ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {})
        })
        if (taken._tag === "Acquired") {
          return { result: Guardrail.pass, release: store.releaseWindow(p.key, taken.token) }
        }
        const d: WindowDenial = {
          ctx,
          key: p.key,
          max: p.max,
          windowMs: o.windowMs,
          count: taken.count,
          weight: p.weight,
          retryAfterMs: taken.retryAfterMs
        }
        return noAcquisition(Guardrail.deny(o.denied(d), taken.retryAfterMs))
      })
  })
