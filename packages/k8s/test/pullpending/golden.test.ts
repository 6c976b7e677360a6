/**
 * A reviewed golden plan per class of k8s.image-pull and k8s.pending, from `kubectl get -o json`
 * recordings (`packages/k8s/fixtures/record-pullpending.ts`), through the same pure facts the
 * live probes compute; the near misses classify as they must. Malformed fixtures fail naming the
 * file and the field.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, Plan } from "@byteport/core"
import { expectPlan } from "@byteport/core/testing"
import { Effect } from "effect"
import * as ImagePullClassifier from "../../src/classifiers/imagePull"
import * as PendingClassifier from "../../src/classifiers/pending"
import * as PullPendingFixture from "../../src/testing/pullPendingFixture"

const expected: Record<string, string> = {
  image_pull_auth_failure: "auth_failure",
  image_pull_auth_no_credentials_docker_hub: "auth_failure",
  image_pull_bad_tag: "bad_tag",
  image_pull_network_misconfiguration: "network_misconfiguration",
  image_pull_near_miss_platform: "Unclassified",
  pending_resource_exhaustion: "resource_exhaustion",
  pending_near_miss_cordoned: "resource_exhaustion",
  pending_storage_constraints: "storage_constraints",
  pending_affinity_conflict: "affinity_conflict",
  pending_affinity_conflict_rollout: "affinity_conflict",
  pending_missing_dependencies: "missing_dependencies"
}

const classOf = (c: { readonly _tag: string; readonly class?: string }) => (c._tag === "Classified" ? c.class! : c._tag)

describe("k8s.image-pull / k8s.pending: golden plans from kubectl recordings", () => {
  it("every shipped fixture is listed, and every class of both runbooks has one", () => {
    assert.deepStrictEqual([...PullPendingFixture.names()], Object.keys(expected).sort())
    const classes = new Set(Object.values(expected))
    for (const c of [...ImagePullClassifier.CLASSES, ...PendingClassifier.CLASSES]) assert.isTrue(classes.has(c), c)
  })

  for (const [name, cls] of Object.entries(expected)) {
    it.effect(`${name}: ${cls}${cls === "Unclassified" ? "" : ", the golden plan"}`, () =>
      Effect.gen(function*() {
        const dir = yield* PullPendingFixture.recorded(name)
        const signal = yield* PullPendingFixture.signal(dir)
        if (name.startsWith("image_pull")) {
          const facts = yield* PullPendingFixture.decodeImagePull(dir)
          assert.deepStrictEqual(Fact.unknownKeys(facts), [])
          const c = ImagePullClassifier.classify()(facts)
          assert.strictEqual(classOf(c), cls, JSON.stringify(c))
          if (c._tag === "Classified") {
            const plan = ImagePullClassifier.plan(c, facts, signal)
            assert.deepStrictEqual(Plan.actions(plan.root), [], "image-pull plans never act")
            expectPlan(plan, path.join(dir, "plan.golden"))
          } else {
            assert.include(ImagePullClassifier.nextSteps(c, facts).join("\n"), "has no build for the node's platform")
          }
        } else {
          const facts = yield* PullPendingFixture.decodePending(dir)
          assert.deepStrictEqual(Fact.unknownKeys(facts), [])
          const c = PendingClassifier.classify()(facts)
          assert.strictEqual(classOf(c), cls, JSON.stringify(c))
          expectPlan(PendingClassifier.plan(c as any, facts, signal), path.join(dir, "plan.golden"))
        }
      }))
  }

  it.effect("the near miss: the cordoned node in a mixed FailedScheduling is no candidate; the two candidates lack memory", () =>
    Effect.gen(function*() {
      const facts = yield* PullPendingFixture.decodePending(yield* PullPendingFixture.recorded("pending_near_miss_cordoned"))
      const s = Fact.value(facts.scheduling)!
      assert.deepInclude(s.reasons.map((r) => r.category), "unschedulable")
      assert.deepInclude(s.reasons.map((r) => r.category), "resources")
      const fits = Fact.value(facts.fits)!
      assert.deepStrictEqual(fits.map((f) => f.notCandidate), ["cordoned", null, null])
    }))

  it.effect("pull secrets are recorded with REDACTED values; their auths keys still decide", () =>
    Effect.gen(function*() {
      const dir = yield* PullPendingFixture.recorded("image_pull_auth_failure")
      const text = fs.readFileSync(path.join(dir, "secrets.json"), "utf8")
      const cfg = Buffer.from(JSON.parse(text).items[0].data[".dockerconfigjson"], "base64").toString("utf8")
      assert.notInclude(cfg, "s3cr3t")
      assert.include(cfg, "REDACTED")
      const facts = yield* PullPendingFixture.decodeImagePull(dir)
      assert.deepStrictEqual(Fact.value(facts.credentials)!.secrets.map((s) => s.matching), [["private.registry.example.com"]])
    }))

  it.effect("a malformed fixture fails naming the file and the field", () =>
    Effect.gen(function*() {
      const src = yield* PullPendingFixture.recorded("pending_resource_exhaustion")
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pp-fixture-"))
      for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(tmp, f))
      const pod = JSON.parse(fs.readFileSync(path.join(tmp, "pod.json"), "utf8"))
      pod.spec.containers = "batch"
      fs.writeFileSync(path.join(tmp, "pod.json"), JSON.stringify(pod))
      const e = yield* Effect.flip(PullPendingFixture.decodePending(tmp))
      assert.strictEqual(e._tag, "FixtureError")
      assert.include(e.message, "pod.json")
      assert.include(e.message, `["spec"]["containers"]`)
      fs.rmSync(path.join(tmp, "meta.json"))
      const missing = yield* Effect.flip(PullPendingFixture.decodePending(tmp))
      assert.include(missing.message, "meta.json: missing (required)")
    }))
})
