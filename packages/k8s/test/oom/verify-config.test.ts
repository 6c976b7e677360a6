/**
 * The hold window of k8s.oom.six-signal from configuration: BYTEPORT_OOM_VERIFY_WINDOW_SECONDS and
 * BYTEPORT_OOM_VERIFY_POLL_SECONDS set the runbook's verification schedule; values that cannot
 * be polled are a ConfigError naming the key, at startup.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as OomRunbook from "../../src/runbooks/k8s.oom.six-signal"
import * as OomVerifiers from "../../src/verifiers/oom"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("k8s.oom.six-signal verification window", () => {
  it("by default: every class held for 5 minutes, polled every 30 s, then one retry window 15 s after a failure", () => {
    const rb = OomRunbook.make()
    for (const cls of ["undersized_limit", "traffic_spike", "node_pressure"]) {
      const s = rb.verifySchedule(cls)
      assert.deepStrictEqual(s.hold, { everyMs: 30_000, forMs: 300_000 })
      assert.deepStrictEqual(s.offsets, [0, 15_000])
      assert.match(s.description, /hold every 30s for 5m; check, then retry once at 15s/)
    }
    assert.deepStrictEqual(OomVerifiers.schedule({ healthyRatio: 0.8, windowSeconds: 120, pollSeconds: 10 }).hold, { everyMs: 10_000, forMs: 120_000 })
  })

  it.effect("BYTEPORT_OOM_VERIFY_WINDOW_SECONDS / _POLL_SECONDS configure it", () =>
    Effect.gen(function*() {
      const rb = yield* OomRunbook.fromConfig().pipe(withEnv({ BYTEPORT_OOM_VERIFY_WINDOW_SECONDS: "600", BYTEPORT_OOM_VERIFY_POLL_SECONDS: "60" }))
      assert.deepStrictEqual(rb.verifySchedule("undersized_limit").hold, { everyMs: 60_000, forMs: 600_000 })
      const dflt = yield* OomRunbook.fromConfig().pipe(withEnv({}))
      assert.deepStrictEqual(dflt.verifySchedule("undersized_limit").hold, { everyMs: 30_000, forMs: 300_000 })
    }))

  for (const [env, key] of [
    [{ BYTEPORT_OOM_VERIFY_POLL_SECONDS: "0" }, "BYTEPORT_OOM_VERIFY_POLL_SECONDS"],
    [{ BYTEPORT_OOM_VERIFY_WINDOW_SECONDS: "-300" }, "BYTEPORT_OOM_VERIFY_WINDOW_SECONDS"],
    [{ BYTEPORT_OOM_VERIFY_WINDOW_SECONDS: "five" }, "BYTEPORT_OOM_VERIFY_WINDOW_SECONDS"],
    [{ BYTEPORT_OOM_VERIFY_WINDOW_SECONDS: "20", BYTEPORT_OOM_VERIFY_POLL_SECONDS: "30" }, "BYTEPORT_OOM_VERIFY_WINDOW_SECONDS"]
  ] as const) {
    it.effect(`${JSON.stringify(env)} is a ConfigError naming ${key}`, () =>
      Effect.gen(function*() {
        const err = yield* Effect.flip(OomRunbook.fromConfig().pipe(withEnv(env)))
        assert.strictEqual(err._tag, "ConfigError")
        assert.include(String(err.message), key)
      }))
  }
})
