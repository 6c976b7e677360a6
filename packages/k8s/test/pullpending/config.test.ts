/**
 * k8s.pending and k8s.image-pull configuration: defaults, every knob, and a ConfigError naming
 * the key for a value that cannot work.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as ImagePullClassifier from "../../src/classifiers/imagePull"
import * as ImagePull from "../../src/runbooks/k8s.image-pull"
import * as Pending from "../../src/runbooks/k8s.pending"
import * as PullPendingFixture from "../../src/testing/pullPendingFixture"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("k8s.pending / k8s.image-pull configuration", () => {
  it.effect("defaults: held 120 s polled every 30 s, retried once 15 s later; each knob configurable", () =>
    Effect.gen(function*() {
      const d = yield* Pending.fromConfig().pipe(withEnv({}))
      assert.deepStrictEqual(d.verifySchedule("affinity_conflict").hold, { everyMs: 30_000, forMs: 120_000 })
      assert.deepStrictEqual(d.verifySchedule("affinity_conflict").offsets, [0, 15_000])
      const c = yield* Pending.fromConfig().pipe(withEnv({ BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS: "300", BYTEPORT_PENDING_VERIFY_POLL_SECONDS: "60" }))
      assert.deepStrictEqual(c.verifySchedule("missing_dependencies").hold, { everyMs: 60_000, forMs: 300_000 })
      // a class's confidence below 0.70 makes it escalate
      const ip = yield* ImagePull.fromConfig().pipe(withEnv({ BYTEPORT_IMAGE_PULL_CONFIDENCE_BAD_TAG: "0.6" }))
      const facts = yield* PullPendingFixture.decodeImagePull(yield* PullPendingFixture.recorded("image_pull_bad_tag"))
      assert.strictEqual(ip.classify(facts as never)._tag, "Unclassified")
      assert.deepInclude((yield* ImagePull.fromConfig().pipe(withEnv({}))).classify(facts as never), { class: "bad_tag", confidence: 0.92 })
      assert.strictEqual(ip.id, ImagePullClassifier.ID)
      assert.deepStrictEqual(yield* Pending.confidencesConfig("BYTEPORT_IMAGE_PULL_CONFIDENCE_", ImagePullClassifier.CLASSES).pipe(withEnv({ BYTEPORT_IMAGE_PULL_CONFIDENCE_BAD_TAG: "0.6" })), { bad_tag: 0.6 })
    }))

  for (const [env, key] of [
    [{ BYTEPORT_PENDING_MINUTES: "0" }, "BYTEPORT_PENDING_MINUTES"],
    [{ BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS: "20", BYTEPORT_PENDING_VERIFY_POLL_SECONDS: "30" }, "BYTEPORT_PENDING_VERIFY_WINDOW_SECONDS"],
    [{ BYTEPORT_PENDING_CONFIDENCE_STORAGE_CONSTRAINTS: "1.5" }, "BYTEPORT_PENDING_CONFIDENCE_STORAGE_CONSTRAINTS"]
  ] as const) {
    it.effect(`${JSON.stringify(env)} is a ConfigError naming ${key}`, () =>
      Effect.gen(function*() {
        const err = yield* Effect.flip(Pending.fromConfig().pipe(withEnv(env)))
        assert.strictEqual(err._tag, "ConfigError")
        assert.include(String(err.message), key)
      }))
  }
})
