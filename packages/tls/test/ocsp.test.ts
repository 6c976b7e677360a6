/**
 * Staple contents with real OCSP responses made by `openssl ocsp` from the test CA's database,
 * stapled by a real TLS server on 127.0.0.1: good, revoked, past nextUpdate (± 1 minute under
 * TestClock), another certificate's response, signed by the wrong key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { CertificateSignals, Inspection, OcspResponse } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"

const DAY = 86_400_000
const ocspUrl = "http://127.0.0.1:9/ocsp"

const stapled = (options: { readonly revoke?: boolean; readonly wrongSigner?: boolean; readonly otherLeaf?: boolean } = {}) =>
  Effect.gen(function*() {
    const pki = yield* Pki.make
    const leaf = yield* pki.leaf({ names: ["app.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY, ocspUrl })
    const other = yield* pki.leaf({ names: ["other.test"], issuer: pki.intermediate, notAfter: pki.now + 60 * DAY, ocspUrl })
    const response = yield* pki.ocspResponse(options.otherLeaf === true ? other : leaf, pki.intermediate, {
      ...(options.revoke === true ? { revoke: true } : {}),
      ...(options.wrongSigner === true ? { signer: pki.root } : {})
    })
    const server = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key, staple: response })
    return { response, options: { host: "127.0.0.1", port: server.port, servername: "app.test", ca: [pki.root.cert], expectStaple: true } }
  })

const failure = (signals: ReadonlyArray<{ readonly type: string; readonly evidence: Record<string, unknown> }>) =>
  signals.filter((s) => s.type === CertificateSignals.SIGNAL_OCSP_STAPLING_FAILURE).map((s) => s.evidence.reason)

describe("OCSP staple contents", () => {
  it.live("a good staple: status good, this/next update, signed by the issuer; no signal", () =>
    Effect.gen(function*() {
      const { options } = yield* stapled()
      const i = yield* Inspection.inspect(options)
      assert.isTrue(i.stapleCheck?.good, JSON.stringify(i.stapleCheck))
      assert.strictEqual(i.stapleCheck?.certStatus, "good")
      assert.isTrue(Math.abs((i.stapleCheck?.nextUpdate ?? 0) - (i.stapleCheck?.thisUpdate ?? 0) - DAY) < 5_000)
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(options)), [])
    }).pipe(Effect.scoped))

  it.live("revoked → ocsp_stapling_failure (revoked)", () =>
    Effect.gen(function*() {
      const { options } = yield* stapled({ revoke: true })
      const i = yield* Inspection.inspect(options)
      assert.strictEqual(i.stapleCheck?.certStatus, "revoked")
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(options)), ["bad staple: revoked"])
    }).pipe(Effect.scoped))

  it.live("another certificate's response → wrong_serial; signed by the root instead of the issuer → bad_signer", () =>
    Effect.gen(function*() {
      const other = yield* stapled({ otherLeaf: true })
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(other.options)), ["bad staple: wrong_serial"])
      const wrong = yield* stapled({ wrongSigner: true })
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(wrong.options)), ["bad staple: bad_signer"])
    }).pipe(Effect.scoped))

  it.effect("nextUpdate is checked against the Effect Clock: ± 1 minute", () =>
    Effect.gen(function*() {
      const { response, options } = yield* stapled()
      assert.isUndefined(OcspResponse.parse(response.subarray(0, response.length - 10)), "truncated")
      const next = OcspResponse.parse(response)?.nextUpdate
      assert.isDefined(next)
      yield* TestClock.setTime(next! - 60_000)
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(options)), [])
      yield* TestClock.setTime(next! + 60_000)
      assert.deepStrictEqual(failure(yield* CertificateSignals.pollOnce(options)), ["bad staple: expired"])
    }).pipe(Effect.scoped))

  it("parse: not an OCSPResponse → undefined", () => {
    assert.isUndefined(OcspResponse.parse(Buffer.from("bogus")))
  })
})
