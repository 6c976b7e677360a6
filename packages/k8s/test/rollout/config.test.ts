/**
 * Every number of k8s.deploy.failed-rollout is configurable (`BYTEPORT_ROLLOUT_*`,
 * `BYTEPORT_ROLLBACKS_PER_HOUR`); a value that cannot work is a ConfigError naming its key.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { ConfigProvider, Effect } from "effect"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as RolloutClassifier from "../../src/classifiers/rollout"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("k8s.deploy.failed-rollout configuration", () => {
  it.effect("defaults are the seed's; each threshold, confidence, window and the rollback budget is configurable", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* RolloutClassifier.thresholdsConfig.pipe(withEnv({})), RolloutClassifier.defaults)
      const t = yield* RolloutClassifier.thresholdsConfig.pipe(withEnv({ BYTEPORT_ROLLOUT_SPIKE_FACTOR: "3", BYTEPORT_ROLLOUT_CONFIDENCE_ROLLOUT_STUCK: "0.95", BYTEPORT_ROLLOUT_READINESS_GRACE_SECONDS: "300" }))
      assert.deepStrictEqual([t.spikeFactor, t.confidences.rollout_stuck, t.readinessGraceSeconds], [3, 0.95, 300])
      const rb = yield* FailedRollout.fromConfig().pipe(withEnv({ BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS: "600", BYTEPORT_ROLLOUT_VERIFY_RETRY_SECONDS: "120" }))
      assert.deepStrictEqual(rb.verifySchedule("deploy_5xx_spike").hold, { everyMs: 30_000, forMs: 600_000 })
      assert.deepStrictEqual(rb.verifySchedule("deploy_5xx_spike").offsets, [30_000, 150_000])
      assert.strictEqual((yield* RollbackDeployment.fromConfig.pipe(withEnv({ BYTEPORT_ROLLBACKS_PER_HOUR: "2" }))).max, 2)
    }))

  for (const [env, key] of [
    [{ BYTEPORT_ROLLOUT_SPIKE_FACTOR: "-1" }, "BYTEPORT_ROLLOUT_SPIKE_FACTOR"],
    [{ BYTEPORT_ROLLOUT_CONFIDENCE_DO_NOT_ROLLBACK: "1.5" }, "BYTEPORT_ROLLOUT_CONFIDENCE_DO_NOT_ROLLBACK"],
    [{ BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS: "20", BYTEPORT_ROLLOUT_VERIFY_POLL_SECONDS: "30" }, "BYTEPORT_ROLLOUT_VERIFY_WINDOW_SECONDS"],
    [{ BYTEPORT_ROLLBACKS_PER_HOUR: "0" }, "BYTEPORT_ROLLBACKS_PER_HOUR"]
  ] as const) {
    it.effect(`${JSON.stringify(env)} is a ConfigError naming ${key}, also at agent start-up`, () =>
      Effect.gen(function*() {
        const err = yield* Effect.flip(Effect.gen(function*() {
          yield* FailedRollout.fromConfig()
          yield* Runbook.validateConfig(FailedRollout.make() as never)
        }).pipe(withEnv(env)))
        assert.strictEqual(err._tag, "ConfigError")
        assert.include(String(err.message), key)
      }))
  }
})
