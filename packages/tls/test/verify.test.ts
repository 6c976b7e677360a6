/**
 * `Verify.endpoint` at the 30-day edge under TestClock (notAfter = now + 30 d ± 1 min), against a
 * real TLS server on 127.0.0.1 with an openssl-made chain; a demanded staple that never comes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Verify } from "../src/index"
import * as Pki from "./pki"
import { serve } from "./server"

const DAY = 86_400_000

describe("Verify.endpoint", () => {
  it.effect("notAfter = now + 30 d + 1 min passes; − 1 min is expires_too_soon; not_new; a demanded staple missing", () =>
    Effect.gen(function*() {
      const pki = yield* Pki.make
      const notAfter = Math.floor((pki.now + 200 * DAY) / 1000) * 1000
      const leaf = yield* pki.leaf({ names: ["edge.test"], issuer: pki.intermediate, notAfter })
      const { port } = yield* serve({ cert: leaf.cert + pki.intermediate.cert, key: leaf.key })
      const o = { host: "127.0.0.1", port, servername: "edge.test", ca: [pki.root.cert] }

      yield* TestClock.setTime(notAfter - 30 * DAY - 60_000)
      const early = yield* Verify.endpoint(o)
      assert.deepStrictEqual(early.problems, [])
      assert.isTrue(early.ok)
      assert.isFalse(early.stapleExpected, "no OCSP URL: no staple expected")

      yield* TestClock.setTime(notAfter - 30 * DAY + 60_000)
      assert.deepStrictEqual((yield* Verify.endpoint(o)).problems, ["expires_too_soon"])

      yield* TestClock.setTime(notAfter - 30 * DAY - 60_000)
      const fp = early.inspection.leaf.fingerprint256
      assert.deepStrictEqual((yield* Verify.endpoint({ ...o, oldFingerprint: fp })).problems, ["not_new"])
      assert.deepStrictEqual((yield* Verify.endpoint({ ...o, expectStaple: true, stapleTimeoutMillis: 200 })).problems, ["staple_missing"])
    }).pipe(Effect.scoped), 20_000)
})
