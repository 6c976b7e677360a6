/**
 * The certificate detectors against real TLS servers on 127.0.0.1: expiring soon at 30/14/7/1
 * days with near misses at every edge (± 1 minute under TestClock), once per serial (memory and
 * GuardrailStore), expired, chain invalid, OCSP stapling failure only when a staple is expected.
 */
import { GuardrailStore, MemoryStore } from "@byteport/core"
import type { Signal } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import { CertificateSignals, Inspection } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"

const DAY = 86_400_000
const MINUTE = 60_000
const types = (signals: ReadonlyArray<Signal.Signal>) => signals.map((s) => s.type)
const soon = (signals: ReadonlyArray<Signal.Signal>) =>
  signals.filter((s) => s.type === CertificateSignals.SIGNAL_EXPIRING_SOON).map((s) => s.evidence.thresholdDays)

/** A served leaf for app.test with a whole-second notAfter 60 days out. */
const endpoint = (options: { readonly ocspUrl?: string; readonly staple?: Buffer; readonly withIntermediate?: boolean; readonly days?: number } = {}) =>
  Effect.gen(function*() {
    const pki = yield* Pki.make
    const notAfter = Math.floor(pki.now / 1000) * 1000 + (options.days ?? 60) * DAY
    const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter, ...(options.ocspUrl !== undefined ? { ocspUrl: options.ocspUrl } : {}) })
    const server = yield* serve({
      cert: leaf.cert + (options.withIntermediate === false ? "" : pki.intermediate.cert),
      key: leaf.key,
      ...(options.staple !== undefined ? { staple: options.staple } : {})
    })
    return { pki, notAfter, detectorOptions: { host: "127.0.0.1", port: server.port, servername: "app.test", ca: [pki.root.cert] } }
  })

describe("CertificateSignals.expiryThreshold (pure)", () => {
  const n = 1_000 * DAY
  it("fires the tightest crossed threshold once; nothing above 30 days or after notAfter", () => {
    const t = [30, 14, 7, 1]
    assert.deepStrictEqual(CertificateSignals.expiryThreshold(n, n - 30 * DAY - MINUTE, t, []), { fires: undefined, crossed: [] })
    assert.deepStrictEqual(CertificateSignals.expiryThreshold(n, n - 30 * DAY, t, []), { fires: 30, crossed: [30] })
    assert.deepStrictEqual(CertificateSignals.expiryThreshold(n, n - 5 * DAY, t, []), { fires: 7, crossed: [7, 14, 30] })
    assert.deepStrictEqual(CertificateSignals.expiryThreshold(n, n - 5 * DAY, t, [30, 14, 7]).fires, undefined)
    assert.deepStrictEqual(CertificateSignals.expiryThreshold(n, n, t, []), { fires: undefined, crossed: [] })
  })
})

describe("CertificateSignals.pollOnce", () => {
  it.effect("30/14/7/1 days: each edge ± 1 minute, once each, then expired", () =>
    Effect.gen(function*() {
      const { notAfter, detectorOptions } = yield* endpoint()
      const memory = new Map<string, ReadonlyArray<number>>()
      const at = (t: number) => Effect.andThen(TestClock.setTime(t), CertificateSignals.pollOnce(detectorOptions, memory))
      assert.deepStrictEqual(types(yield* at(notAfter - 30 * DAY - MINUTE)), [])
      for (const days of [30, 14, 7, 1]) {
        const before = yield* at(notAfter - days * DAY - MINUTE)
        assert.deepStrictEqual(soon(before), [], `${days} d + 1 min: no new threshold`)
        const after = yield* at(notAfter - days * DAY + MINUTE)
        assert.deepStrictEqual(soon(after), [days], `${days} d − 1 min fires ${days}`)
        const s = after[0]!
        assert.strictEqual(s.target.kind, "tls-endpoint")
        assert.strictEqual(s.target.ref, `app.test@127.0.0.1:${detectorOptions.port}`)
        assert.strictEqual(s.evidence.notAfter, new Date(notAfter).toISOString())
        assert.strictEqual(s.evidence.remainingMillis, days * DAY - MINUTE)
        assert.deepStrictEqual(soon(yield* at(notAfter - days * DAY + 2 * MINUTE)), [], `${days}: once`)
      }
      assert.deepStrictEqual(types(yield* at(notAfter - MINUTE)), [])
      const expired = yield* at(notAfter + MINUTE)
      // the chain check sees the expired leaf too
      assert.deepStrictEqual(types(expired), [CertificateSignals.SIGNAL_EXPIRED, CertificateSignals.SIGNAL_CHAIN_INVALID])
      assert.strictEqual(expired[0]!.evidence.expiredForMillis, MINUTE)
      assert.deepStrictEqual(expired[1]!.evidence.problems, ["expired"])
    }).pipe(Effect.scoped))

  it.effect("first seen at 5 days: fires 7 only (30 and 14 are remembered, not fired late)", () =>
    Effect.gen(function*() {
      const { notAfter, detectorOptions } = yield* endpoint()
      const memory = new Map<string, ReadonlyArray<number>>()
      yield* TestClock.setTime(notAfter - 5 * DAY)
      assert.deepStrictEqual(soon(yield* CertificateSignals.pollOnce(detectorOptions, memory)), [7])
      yield* TestClock.setTime(notAfter - 1 * DAY - MINUTE)
      assert.deepStrictEqual(soon(yield* CertificateSignals.pollOnce(detectorOptions, memory)), [])
      yield* TestClock.setTime(notAfter - 1 * DAY + MINUTE)
      assert.deepStrictEqual(soon(yield* CertificateSignals.pollOnce(detectorOptions, memory)), [1])
    }).pipe(Effect.scoped))

  it.effect("once per serial through the GuardrailStore: a second detector (fresh memory) stays quiet; a renewed certificate fires again", () =>
    Effect.gen(function*() {
      const store = yield* MemoryStore.make()
      const first = yield* endpoint()
      const poll = (options: CertificateSignals.Options) =>
        CertificateSignals.pollOnce(options, new Map()).pipe(Effect.provideService(GuardrailStore.GuardrailStore, store))
      const target = { kind: "tls-endpoint", ref: "app.test@prod" }
      yield* TestClock.setTime(first.notAfter - 10 * DAY)
      const fired = yield* poll({ ...first.detectorOptions, target })
      assert.deepStrictEqual(soon(fired), [14])
      const serial = fired[0]!.evidence.serial as string
      assert.deepStrictEqual((yield* store.get(CertificateSignals.firedKey(target, serial)))?.value, { thresholds: [30, 14], serial, updatedAt: first.notAfter - 10 * DAY })
      assert.deepStrictEqual(soon(yield* poll({ ...first.detectorOptions, target })), [], "same serial, another detector: quiet")
      const renewed = yield* endpoint()
      const again = yield* poll({ ...renewed.detectorOptions, target })
      assert.notStrictEqual(again[0]?.evidence.serial, serial)
      assert.deepStrictEqual(soon(again), [14], "a new serial starts over")
    }).pipe(Effect.scoped))

  it.live("chain invalid: a missing intermediate fires cert_chain_invalid; the full chain does not", () =>
    Effect.gen(function*() {
      const broken = yield* endpoint({ withIntermediate: false })
      const signals = yield* CertificateSignals.pollOnce(broken.detectorOptions)
      assert.deepStrictEqual(types(signals), [CertificateSignals.SIGNAL_CHAIN_INVALID])
      assert.deepStrictEqual(signals[0]!.evidence.problems, ["incomplete"])
      const fine = yield* endpoint()
      assert.deepStrictEqual(types(yield* CertificateSignals.pollOnce(fine.detectorOptions)), [])
    }).pipe(Effect.scoped))

  it.live("OCSP stapling failure only when expected: OCSP URL on the leaf and expectStaple", () =>
    Effect.gen(function*() {
      const ocspUrl = "http://127.0.0.1:9/ocsp"
      const ocsp = (signals: ReadonlyArray<Signal.Signal>) =>
        signals.filter((s) => s.type === CertificateSignals.SIGNAL_OCSP_STAPLING_FAILURE).map((s) => s.evidence.reason)
      const none = yield* endpoint({ ocspUrl })
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce({ ...none.detectorOptions, expectStaple: true })), ["no OCSP staple"])
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce(none.detectorOptions)), [], "not expected: no signal")
      const noUrl = yield* endpoint()
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce({ ...noUrl.detectorOptions, expectStaple: true })), [], "leaf without OCSP URL")
      const bogus = yield* endpoint({ ocspUrl, staple: Buffer.from("bogus staple") })
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce({ ...bogus.detectorOptions, expectStaple: true })), ["the staple is not an OCSPResponse"])
      const tryLater = yield* endpoint({ ocspUrl, staple: Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x03]) })
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce({ ...tryLater.detectorOptions, expectStaple: true })), ["OCSP responseStatus tryLater"])
      const hollow = yield* endpoint({ ocspUrl, staple: Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00]) })
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce({ ...hollow.detectorOptions, expectStaple: true })), ["bad staple: not_ocsp"], "successful without responseBytes")
      // a real response made by `openssl ocsp` for the served leaf, stapled by the server
      const pki = yield* Pki.make
      const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY, ocspUrl })
      const response = yield* pki.ocspResponse(leaf, pki.intermediate)
      const real = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key, staple: response })
      const options = { host: "127.0.0.1", port: real.port, servername: "app.test", ca: [pki.root.cert], expectStaple: true }
      assert.deepStrictEqual(ocsp(yield* CertificateSignals.pollOnce(options)), [])
      const inspected = yield* Inspection.inspect(options)
      assert.deepStrictEqual(inspected.staple, { bytes: response.length, responseStatus: "successful" })
    }).pipe(Effect.scoped))

  it.live("the detector stream polls and emits; a refused endpoint is skipped, not fatal", () =>
    Effect.gen(function*() {
      const { detectorOptions } = yield* endpoint({ days: 3 })
      const d = CertificateSignals.detector(detectorOptions)
      assert.strictEqual(d.name, `tls.certificate/tls-endpoint:app.test@127.0.0.1:${detectorOptions.port}`)
      const first = yield* Stream.runCollect(Stream.take(d.signals, 1))
      assert.deepStrictEqual(soon(first as ReadonlyArray<Signal.Signal>), [7])
      const dead = CertificateSignals.detector({ host: "127.0.0.1", port: 1, servername: "app.test" })
      const nothing = yield* Stream.runCollect(Stream.take(dead.signals, 1)).pipe(Effect.timeoutOption("300 millis"))
      assert.isTrue(nothing._tag === "None")
    }).pipe(Effect.scoped))
})
