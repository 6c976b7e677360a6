/**
 * The renewal signals and the rate-limit gate:
 *   - `tls.acme_challenge_failure` when a CA did not validate a challenge
 *     ({@link Renewer.AcmeChallengeFailed}: `wrong_key_authorization`, `missing_txt`,
 *     `connection`, `other`, with the CA's problem type);
 *   - `tls.renewal_rate_limit_hit` when a CA answered `urn:ietf:params:acme:error:rateLimited`
 *     ({@link Renewer.AcmeRateLimited}); its Retry-After is kept in the GuardrailStore
 *     (`tls/rate-limit/<domain>`, one key per name), and until then {@link gate} refuses every
 *     renewal naming that domain before it reaches the renewer: no order, no write.
 *
 * {@link make} wraps renewers: every renewal's failure becomes its signal on the detector's
 * stream, a rate limit is remembered, and a domain still rate-limited is refused at once with the
 * stored instant. Time is the Effect Clock (TestClock in tests): the limit is in force while
 * now < retryAfter. Without a GuardrailStore the instants live in the wrapper's memory.
 *
 * @since 0.1.0
 */
import { Detector, GuardrailStore, Signal, TargetRef } from "@byteport/core"
import type { Json } from "@byteport/core"
import { Clock, Effect, Option, Queue, Stream } from "effect"
import { SIGNAL_ACME_CHALLENGE_FAILURE, SIGNAL_RENEWAL_RATE_LIMIT_HIT } from "../detectors/CertificateSignals"
import * as Renewer from "./Renewer"

const SOURCE = "tls.RenewalSignals"

/** The target of a renewal: `tls-certificate` `<primary name>`. */
export const targetOf = (domains: ReadonlyArray<string>): TargetRef.TargetRef => TargetRef.make("tls-certificate", domains[0] ?? "(none)")

/** Pure: the signal of a renewal failure, if it is one of the two. */
export const signalOf = (
  error: Renewer.RenewError,
  request: Pick<Renewer.RenewRequest, "domains">,
  observedAt: number,
  target: TargetRef.TargetRef = targetOf(request.domains)
): Signal.Signal | undefined => {
  if (error._tag === "AcmeChallengeFailed") {
    return Signal.make({
      type: SIGNAL_ACME_CHALLENGE_FAILURE,
      target,
      observedAt,
      source: SOURCE,
      evidence: {
        renewer: error.renewer,
        domain: error.domain,
        domains: [...request.domains],
        challengeType: error.challengeType,
        reason: error.reason,
        problemType: error.problemType ?? null,
        message: error.message
      }
    })
  }
  if (error._tag === "AcmeRateLimited") {
    return Signal.make({
      type: SIGNAL_RENEWAL_RATE_LIMIT_HIT,
      target,
      observedAt,
      source: SOURCE,
      evidence: {
        renewer: error.renewer,
        domains: [...error.domains],
        problemType: Renewer.RATE_LIMITED,
        url: error.url ?? null,
        retryAfter: error.retryAfter === undefined ? null : new Date(error.retryAfter).toISOString(),
        retryAfterMillis: error.retryAfter ?? null,
        message: error.message
      }
    })
  }
  return undefined
}

/** The store key of a domain's rate limit. */
export const rateLimitKey = (domain: string): string => `tls/rate-limit/${domain.trim().toLowerCase().replace(/\.+$/, "")}`

/** A rate limit in force. */
export interface RateLimit {
  readonly domain: string
  readonly retryAfter: number
  readonly url: string | undefined
}

const readLimit = (domain: string, value: Json.Json | undefined): RateLimit | undefined => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined
  const v = value as { readonly [k: string]: Json.Json }
  return typeof v.retryAfter === "number" ? { domain, retryAfter: v.retryAfter, url: typeof v.url === "string" ? v.url : undefined } : undefined
}

/** Where the instants live: the GuardrailStore when provided, else `memory`. */
const limits = (memory: Map<string, RateLimit>) => ({
  read: (domain: string) =>
    Effect.gen(function*() {
      const store = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
      if (Option.isNone(store)) return memory.get(rateLimitKey(domain))
      const current = yield* Effect.orElseSucceed(store.value.get(rateLimitKey(domain)), () => undefined)
      return readLimit(domain, current?.value)
    }),
  write: (limit: RateLimit, at: number) =>
    Effect.gen(function*() {
      const store = yield* Effect.serviceOption(GuardrailStore.GuardrailStore)
      if (Option.isNone(store)) {
        const old = memory.get(rateLimitKey(limit.domain))
        if (old === undefined || old.retryAfter < limit.retryAfter) memory.set(rateLimitKey(limit.domain), limit)
        return
      }
      // a later instant wins; retried on a lost compare-and-set
      for (let i = 0; i < 5; i++) {
        const current = yield* Effect.orElseSucceed(store.value.get(rateLimitKey(limit.domain)), () => undefined)
        const old = readLimit(limit.domain, current?.value)
        if (old !== undefined && old.retryAfter >= limit.retryAfter) return
        const written = yield* Effect.orElseSucceed(
          store.value.compareAndSet(rateLimitKey(limit.domain), current?.version ?? 0, { retryAfter: limit.retryAfter, url: limit.url ?? null, recordedAt: at }),
          () => false
        )
        if (written) return
      }
    })
})

/** The rate limit in force now for any of `domains` (the latest instant), or undefined. */
export const inForce = (domains: ReadonlyArray<string>, memory: Map<string, RateLimit> = new Map()) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let found: RateLimit | undefined
    for (const d of domains) {
      const l = yield* limits(memory).read(d)
      if (l !== undefined && now < l.retryAfter && (found === undefined || l.retryAfter > found.retryAfter)) found = l
    }
    return found
  })

/** Remembers a rate limit (every domain of the error) when it carries a Retry-After. */
export const remember = (error: Renewer.AcmeRateLimited, memory: Map<string, RateLimit> = new Map()) =>
  Effect.gen(function*() {
    if (error.retryAfter === undefined) return
    const at = yield* Clock.currentTimeMillis
    for (const d of error.domains) yield* limits(memory).write({ domain: d, retryAfter: error.retryAfter, url: error.url }, at)
  })

/**
 * Refuses a renewal while a rate limit is in force for one of its names: fails with
 * {@link Renewer.AcmeRateLimited} (the stored instant) before the renewer runs.
 */
export const gate = <R>(renewer: Renewer.Renewer<R>, memory: Map<string, RateLimit> = new Map()): Renewer.Renewer<R> => ({
  ...renewer,
  renew: (request) =>
    Effect.gen(function*() {
      const limit = yield* inForce(request.domains, memory)
      if (limit !== undefined) {
        return yield* new Renewer.AcmeRateLimited({
          renewer: renewer.kind,
          domains: [...request.domains],
          retryAfter: limit.retryAfter,
          fromStore: true,
          ...(limit.url === undefined ? {} : { url: limit.url }),
          message: `${limit.domain} is rate limited until ${new Date(limit.retryAfter).toISOString()} (kept from an earlier answer): no order before then`
        })
      }
      return yield* renewer.renew(request)
    })
})

/** Renewal signals: wrap renewers with `observe`, subscribe `detector`. */
export interface RenewalSignals {
  /** The renewer, gated ({@link gate}) and observed: failures become signals, rate limits are remembered. */
  readonly observe: <R>(renewer: Renewer.Renewer<R>, options?: { readonly target?: TargetRef.TargetRef }) => Renewer.Renewer<R>
  /** The signals of the observed renewals (`tls.acme_challenge_failure`, `tls.renewal_rate_limit_hit`). */
  readonly detector: Detector.Detector
  /** The rate limit in force for `domains`, if any. */
  readonly inForce: (domains: ReadonlyArray<string>) => Effect.Effect<RateLimit | undefined>
}

/** Makes the renewal signals' queue, memory and detector. */
export const make: Effect.Effect<RenewalSignals> = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<Signal.Signal>()
  const memory = new Map<string, RateLimit>()
  const observe = <R>(renewer: Renewer.Renewer<R>, options: { readonly target?: TargetRef.TargetRef } = {}): Renewer.Renewer<R> => {
    const gated = gate(renewer, memory)
    return {
      ...gated,
      renew: (request) =>
        gated.renew(request).pipe(
          Effect.tapError((error) =>
            Effect.gen(function*() {
              const now = yield* Clock.currentTimeMillis
              // a refusal by the gate is not a new answer from the CA: no second signal
              if (error._tag === "AcmeRateLimited" && error.fromStore === true) return
              if (error._tag === "AcmeRateLimited") yield* remember(error, memory)
              const signal = signalOf(error, request, now, options.target)
              if (signal !== undefined) yield* Queue.offer(queue, signal)
            })
          )
        )
    }
  }
  return {
    observe,
    detector: Detector.fromStream("tls.renewals", Stream.fromQueue(queue)),
    inForce: (domains) => inForce(domains, memory)
  }
})
