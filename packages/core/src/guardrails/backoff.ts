/**
 * `backoff`: space repeated actions on a key by an exponential backoff kept in the store
 * ("restart with exponential backoff (30s × 2^N, cap 300s)").
 *
 * @since 0.1.0
 */
import { type Duration, Effect } from "effect"
import * as Backoff from "../Backoff"
import * as Guardrail from "../Guardrail"
import type { GuardrailContext, GuardrailResult } from "../Guardrail"
import { GuardrailStore, StoreError, type Versioned } from "../GuardrailStore"
import type { Json } from "../Json"
import { attempt, formatMs, misconfigured, noAcquisition, positiveMillis, show } from "./internal"

/** Options of `backoff`. */
export interface BackoffOptions extends Backoff.Options {
  /** Name in decision records; default `backoff`. */
  readonly name?: string | undefined
  /** The key the attempt count is kept under (stored as `backoff:<key>`). */
  readonly key: (ctx: GuardrailContext) => string
  /**
   * After this long without an attempt the count starts again from zero (default 1 hour). The
   * count can also be cleared explicitly with `backoff.reset` (e.g. once recovery is verified).
   */
  readonly resetAfter?: Duration.Input | undefined
}

/** The store key of a backoff. */
export const backoffStoreKey = (key: string): string => `backoff:${key}`

/** The stored state of a backoff: attempts made so far and when the last one was made (epoch ms). */
export interface BackoffState {
  readonly attempts: number
  readonly lastAt: number
}

const parseState = (v: Versioned | undefined): BackoffState | "malformed" => {
  if (v === undefined || v.value === null) return { attempts: 0, lastAt: 0 }
  const x = v.value
  if (typeof x !== "object" || Array.isArray(x)) return "malformed"
  const o = x as { readonly [k: string]: Json }
  const attempts = o["attempts"]
  const lastAt = o["lastAt"]
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 0) return "malformed"
  if (typeof lastAt !== "number" || !Number.isFinite(lastAt)) return "malformed"
  return { attempts, lastAt }
}

const maxCasRetries = 16

/**
 * Denies (with `retryAfterMs`) until the backoff after the last attempt on the key has elapsed:
 * the first attempt is free, the second waits `base` after the first, the third `base × factor`
 * after the second, …, at most `cap`. `acquire` records the attempt with compare-and-swap (safe
 * across agents); its `release` takes the attempt back if nothing was recorded since.
 *
 * @example
 * ```ts
 * import { Guardrail } from "@byteport/core"
 * // 30s × 2^N, cap 300s between restarts of the same workload
 * const restartBackoff = Guardrail.backoff({ key: Guardrail.keys.perTargetKind("restart"), base: "30 seconds", cap: "300 seconds" })
 * ```
 */
export const backoff: {
  (options: BackoffOptions): Guardrail.Guardrail<never>
  /** Clears the attempt count of a key (e.g. after a verified recovery). */
  readonly reset: (key: string) => Effect.Effect<void, StoreError, GuardrailStore>
  /** Reads the attempt count and the time of the last attempt of a key (`undefined` when none or malformed). */
  readonly state: (key: string) => Effect.Effect<BackoffState | undefined, StoreError, GuardrailStore>
} = Object.assign(
  (options: BackoffOptions): Guardrail.Guardrail<never> => {
    const name = options.name ?? "backoff"
    const resolved = Backoff.resolve(options)
    if (resolved instanceof Backoff.InvalidBackoff) return misconfigured(name, resolved.message)
    const resetAfterMs = positiveMillis(options.resetAfter ?? "1 hour")
    if (resetAfterMs === undefined) return misconfigured(name, `resetAfter must be a positive duration (got ${show(options.resetAfter)})`)

    /** The decision for a state, plus the attempt count the next attempt continues from. */
    const decide = (key: string, s: BackoffState | "malformed", now: number): { readonly result: GuardrailResult; readonly from: number } => {
      if (s === "malformed") {
        return { result: Guardrail.deny(`${name}: the backoff record of ${key} is malformed; clear it with Guardrail.backoff.reset`), from: 0 }
      }
      if (s.attempts === 0 || now - s.lastAt >= resetAfterMs) return { result: Guardrail.pass, from: 0 }
      const wait = Backoff.delayMillisOf(resolved, s.attempts - 1)
      const readyAt = s.lastAt + wait
      if (now >= readyAt) return { result: Guardrail.pass, from: s.attempts }
      const retryAfterMs = readyAt - now
      return {
        result: Guardrail.deny(
          `${name}: ${key} backing off after ${s.attempts} attempt${s.attempts === 1 ? "" : "s"}: ` +
            `next allowed ${formatMs(wait)} after the last one; retry in ${formatMs(retryAfterMs)}`,
          retryAfterMs
        ),
        from: s.attempts
      }
    }

    return Guardrail.make<never>({
      name,
      check: (ctx) =>
        Effect.gen(function*() {
          const key = attempt(name, "the key", () => options.key(ctx))
          if (!key.ok) return key.result
          const store = yield* GuardrailStore
          const v = yield* store.get(backoffStoreKey(key.value))
          return decide(key.value, parseState(v), ctx.now).result
        }),
      acquire: (ctx) =>
        Effect.gen(function*() {
          const key = attempt(name, "the key", () => options.key(ctx))
          if (!key.ok) return noAcquisition(key.result)
          const store = yield* GuardrailStore
          const k = backoffStoreKey(key.value)
          for (let i = 0; i < maxCasRetries; i++) {
            const v = yield* store.get(k)
            const d = decide(key.value, parseState(v), ctx.now)
            if (d.result._tag !== "Pass") return noAcquisition(d.result)
            const expected = v?.version ?? 0
            const previous: Json = v?.value ?? null
            const next: Json = { attempts: d.from + 1, lastAt: ctx.now }
            if (yield* store.compareAndSet(k, expected, next)) {
              const written = expected + 1
              const release = Effect.gen(function*() {
                const now = yield* store.get(k)
                if (now !== undefined && now.version === written) yield* store.compareAndSet(k, written, previous)
              })
              return { result: Guardrail.pass, release }
            }
          }
          return noAcquisition(Guardrail.deny(`${name}: ${key.value} is contended (the attempt could not be recorded); retry`, 1_000))
        })
    })
  },
  {
    reset: (key: string): Effect.Effect<void, StoreError, GuardrailStore> =>
      Effect.gen(function*() {
        const store = yield* GuardrailStore
        const k = backoffStoreKey(key)
        for (let i = 0; i < maxCasRetries; i++) {
          const v = yield* store.get(k)
          if (v === undefined) return
          if (yield* store.compareAndSet(k, v.version, { attempts: 0, lastAt: 0 })) return
        }
        return yield* new StoreError({ store: store.name, operation: "compareAndSet", message: `backoff reset of ${k} lost ${maxCasRetries} races` })
      }),
    state: (key: string): Effect.Effect<BackoffState | undefined, StoreError, GuardrailStore> =>
      Effect.gen(function*() {
        const store = yield* GuardrailStore
        const s = parseState(yield* store.get(backoffStoreKey(key)))
        return s === "malformed" || s.attempts === 0 ? undefined : s
      })
  }
)

