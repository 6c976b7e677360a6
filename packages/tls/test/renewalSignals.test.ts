/**
 * The renewal signals: tls.acme_challenge_failure and tls.renewal_rate_limit_hit from renewal
 * failures; the Retry-After kept in the GuardrailStore and honoured by the gate with near misses
 * ± 1 s under TestClock (the renewer is not called while the limit is in force); end to end, a
 * proxy before the real Pebble answering rateLimited: the signal, then no request at all before
 * Retry-After; a missing TXT at the real Pebble: the challenge-failure signal.
 */
import { GuardrailStore, MemoryStore } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Redacted, Stream } from "effect"
import { TestClock } from "effect/testing"
import { AcmeClientRenewer, CertificateSignals, Cloudflare, RenewalSignals, Renewer } from "../src/index"
import { DnsFakes } from "../src/testing/index"
import { rateLimitProxy } from "./support/pebble"
import { describeWithServices } from "./support/services"

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0)

/** A renewer double that fails with `error` on each call and counts its calls (the interface only). */
const failing = (error: () => Renewer.RenewError) => {
  let calls = 0
  const renewer: Renewer.Renewer = {
    kind: "double",
    challenges: ["http-01"],
    describe: () => "double",
    renew: () => Effect.suspend(() => { calls++; return Effect.fail(error()) })
  }
  return { renewer, calls: () => calls }
}

const take = (detector: { readonly signals: Stream.Stream<unknown, unknown, unknown> }, n: number) =>
  Stream.runCollect(Stream.take(detector.signals as Stream.Stream<Signal.Signal>, n))

describe("RenewalSignals.signalOf (pure)", () => {
  it("challenge failures and rate limits; nothing for other errors", () => {
    const challenge = RenewalSignals.signalOf(
      new Renewer.AcmeChallengeFailed({ renewer: "acme-client", domain: "a.example.com", challengeType: "http-01", reason: "wrong_key_authorization", message: "m", problemType: "urn:ietf:params:acme:error:unauthorized" }),
      { domains: ["a.example.com"] },
      T0
    )
    assert.strictEqual(challenge?.type, CertificateSignals.SIGNAL_ACME_CHALLENGE_FAILURE)
    assert.strictEqual(challenge?.evidence.reason, "wrong_key_authorization")
    assert.deepStrictEqual(challenge?.target, { kind: "tls-certificate", ref: "a.example.com" })
    const limited = RenewalSignals.signalOf(new Renewer.AcmeRateLimited({ renewer: "acme-client", domains: ["a.example.com"], message: "m", retryAfter: T0 + 1000 }), { domains: ["a.example.com"] }, T0)
    assert.strictEqual(limited?.type, CertificateSignals.SIGNAL_RENEWAL_RATE_LIMIT_HIT)
    assert.strictEqual(limited?.evidence.retryAfter, new Date(T0 + 1000).toISOString())
    assert.strictEqual(limited?.evidence.problemType, "urn:ietf:params:acme:error:rateLimited")
    assert.isUndefined(RenewalSignals.signalOf(new Renewer.RenewFailed({ renewer: "x", message: "m" }), { domains: ["a"] }, T0))
  })
  it("Retry-After: seconds or an HTTP date", () => {
    assert.strictEqual(Renewer.parseRetryAfter("120", T0), T0 + 120_000)
    assert.strictEqual(Renewer.parseRetryAfter(new Date(T0 + 5000).toUTCString(), 0), T0 + 5000)
    assert.isUndefined(Renewer.parseRetryAfter("soon", T0))
    assert.isUndefined(Renewer.parseRetryAfter(undefined, T0))
  })
})

describe("the Retry-After gate", () => {
  for (const withStore of [true, false]) {
    it.effect(`${withStore ? "GuardrailStore" : "memory"}: a signal, the instant kept, refused until Retry-After − 1 s, allowed at + 1 s`, () =>
      Effect.gen(function*() {
        const store = yield* MemoryStore.make()
        const provide = <A, E, R>(e: Effect.Effect<A, E, R>) => withStore ? Effect.provideService(e, GuardrailStore.GuardrailStore, store) : e
        yield* TestClock.setTime(T0)
        const retryAfter = T0 + 3_600_000
        const inner = failing(() => new Renewer.AcmeRateLimited({ renewer: "double", domains: ["a.example.com", "b.example.com"], message: "limited", retryAfter, url: "https://ca/new-order" }))
        const signals = yield* RenewalSignals.make
        const renewer = signals.observe(inner.renewer)
        const collected = yield* Effect.forkChild(take(signals.detector, 1))
        const first = yield* provide(Effect.exit(renewer.renew({ domains: ["a.example.com", "b.example.com"] })))
        assert.isTrue(Exit.isFailure(first))
        assert.strictEqual(inner.calls(), 1)
        const [signal] = yield* Fiber.join(collected)
        assert.strictEqual(signal?.type, "tls.renewal_rate_limit_hit")
        assert.strictEqual(signal?.evidence.retryAfterMillis, retryAfter)
        if (withStore) {
          assert.deepStrictEqual((yield* store.get(RenewalSignals.rateLimitKey("b.example.com")))?.value, { retryAfter, url: "https://ca/new-order", recordedAt: T0 })
        }
        // Retry-After − 1 s: refused by the gate, the renewer is not called, no second signal
        yield* TestClock.setTime(retryAfter - 1000)
        const refused = yield* provide(Effect.exit(renewer.renew({ domains: ["b.example.com"] })))
        assert.isTrue(Exit.isFailure(refused))
        assert.match(JSON.stringify(refused), /"fromStore":true/)
        assert.strictEqual(inner.calls(), 1)
        assert.deepStrictEqual(yield* provide(signals.inForce(["b.example.com"])), { domain: "b.example.com", retryAfter, url: "https://ca/new-order" })
        // an unrelated name is not held back
        yield* provide(Effect.exit(renewer.renew({ domains: ["c.example.com"] })))
        assert.strictEqual(inner.calls(), 2)
        // exactly at Retry-After and + 1 s: the renewer runs again
        yield* TestClock.setTime(retryAfter)
        assert.isUndefined(yield* provide(signals.inForce(["a.example.com"])))
        yield* TestClock.setTime(retryAfter + 1000)
        yield* provide(Effect.exit(renewer.renew({ domains: ["a.example.com"] })))
        assert.strictEqual(inner.calls(), 3)
      }))
  }

  it.effect("another agent's gate reads the same store; a later instant wins, an earlier one does not shorten it", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make()
      yield* TestClock.setTime(T0)
      const provide = <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.provideService(e, GuardrailStore.GuardrailStore, store)
      yield* provide(RenewalSignals.remember(new Renewer.AcmeRateLimited({ renewer: "x", domains: ["a.example.com"], message: "m", retryAfter: T0 + 10_000 })))
      yield* provide(RenewalSignals.remember(new Renewer.AcmeRateLimited({ renewer: "x", domains: ["a.example.com"], message: "m", retryAfter: T0 + 5_000 })))
      const other = failing(() => new Renewer.RenewFailed({ renewer: "double", message: "no" }))
      yield* TestClock.setTime(T0 + 9_000)
      const exit = yield* provide(Effect.exit(RenewalSignals.gate(other.renewer).renew({ domains: ["A.example.com."] })))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(other.calls(), 0)
    }))

  it.effect("a challenge failure: its signal; no limit kept", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(T0)
      const inner = failing(() => new Renewer.AcmeChallengeFailed({ renewer: "double", domain: "a.example.com", challengeType: "dns-01", reason: "missing_txt", message: "No TXT record found" }))
      const signals = yield* RenewalSignals.make
      const collected = yield* Effect.forkChild(take(signals.detector, 1))
      yield* Effect.exit(signals.observe(inner.renewer).renew({ domains: ["a.example.com"] }))
      const [signal] = yield* Fiber.join(collected)
      assert.strictEqual(signal?.type, "tls.acme_challenge_failure")
      assert.strictEqual(signal?.evidence.reason, "missing_txt")
      assert.isUndefined(yield* signals.inForce(["a.example.com"]))
    }))
})

describeWithServices(["pebble", "nginx"], "renewal signals from the real Pebble", (env) => {
  const ca = env.BYTEPORT_TEST_PEBBLE_TLS_CA ?? ""
  const directoryUrl = env.BYTEPORT_TEST_PEBBLE_DIRECTORY_URL ?? ""
  const unique = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}.byteport.test`

  it.live("a proxy answering rateLimited + Retry-After → tls.renewal_rate_limit_hit, then no request at all before Retry-After", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make()
      const proxy = yield* rateLimitProxy(env, directoryUrl, () => "3600")
      const signals = yield* RenewalSignals.make
      const renewer = signals.observe(AcmeClientRenewer.make())
      const name = unique("limited")
      const request: Renewer.RenewRequest = { domains: [name], challenge: { type: "http-01", mode: "webroot", webroot: env.BYTEPORT_TEST_NGINX_WEBROOT ?? "" }, account: { directoryUrl: proxy.directoryUrl, caBundle: ca } }
      const collected = yield* Effect.forkChild(take(signals.detector, 1))
      const first = yield* Effect.exit(renewer.renew(request).pipe(Effect.provideService(GuardrailStore.GuardrailStore, store)))
      assert.match(JSON.stringify(first), /AcmeRateLimited/)
      const [signal] = yield* Fiber.join(collected)
      assert.strictEqual(signal?.type, "tls.renewal_rate_limit_hit")
      assert.match(String(signal?.evidence.url), /\/order-plz$/)
      const kept = (yield* store.get(RenewalSignals.rateLimitKey(name)))?.value as { retryAfter: number }
      assert.approximately(kept.retryAfter, Date.now() + 3_600_000, 5_000)
      const seen = proxy.log.received.length
      const second = yield* Effect.exit(renewer.renew(request).pipe(Effect.provideService(GuardrailStore.GuardrailStore, store)))
      assert.match(JSON.stringify(second), /"fromStore":true/)
      assert.strictEqual(proxy.log.received.length, seen, "not a single request to the CA while the limit is in force")
      assert.notInclude(proxy.log.forwarded, "POST /order-plz")
    }))

  it.live("a missing TXT at the real Pebble → tls.acme_challenge_failure (missing_txt)", () =>
    Effect.gen(function*() {
      const apex = unique("sigtxt")
      const fake = yield* DnsFakes.cloudflare({ zones: [{ name: apex }] })
      const signals = yield* RenewalSignals.make
      const renewer = signals.observe(AcmeClientRenewer.make({ skipTxtVisibilityCheck: true }))
      const collected = yield* Effect.forkChild(take(signals.detector, 1))
      yield* Effect.exit(renewer.renew({
        domains: [`*.${apex}`],
        challenge: { type: "dns-01", provider: Cloudflare.make({ apiToken: Redacted.make("test-token"), baseUrl: fake.url }) },
        account: { directoryUrl, caBundle: ca }
      }))
      const [signal] = yield* Fiber.join(collected)
      assert.strictEqual(signal?.type, "tls.acme_challenge_failure")
      assert.strictEqual(signal?.evidence.reason, "missing_txt")
      assert.strictEqual(signal?.evidence.domain, `*.${apex}`)
    }))
})
