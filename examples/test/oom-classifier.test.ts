/**
 * How a team tests a classifier against fixtures recorded from real incidents: decode a
 * fixture directory (what `kubectl get -o json` and the APIs returned) into facts, classify,
 * and assert the class — on each side of a threshold.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { OomClassifier } from "@byteport/k8s"
import { OomFixture } from "@byteport/k8s/testing"
import { proposeOnlyOom, proposeOnlyPlan } from "../src/custom-oom-runbook"

// the fixtures shipped inside @byteport/k8s, by name (works from an installed package too)
const fixture = (name: string) => OomFixture.recorded(name)

describe("a team's stricter OOM classifier (minConfidence 0.85)", () => {
  const strict = OomClassifier.classify({ ...OomClassifier.defaults, minConfidence: 0.85 })

  it.effect("runtime_misconfig (0.93) still classifies", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(yield* fixture("runtime_misconfig"))
      const c = strict(facts)
      assert.strictEqual(c._tag, "Classified")
      assert.strictEqual(c._tag === "Classified" ? c.class : undefined, "runtime_misconfig")
    }))

  it.effect("undersized_limit (0.84) falls below 0.85 and escalates", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(yield* fixture("undersized_limit"))
      assert.strictEqual(OomClassifier.classify()(facts)._tag, "Classified")
      const c = strict(facts)
      assert.strictEqual(c._tag, "Unclassified")
    }))

  it.effect("a liveness kill (exit 137 without OOMKilled) is never an OOM", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(yield* fixture("liveness_kill_137"))
      assert.strictEqual(strict(facts)._tag, "Unclassified")
    }))

  it.effect("the custom runbook proposes a PR instead of bumping", () =>
    Effect.gen(function*() {
      const facts = yield* OomFixture.decode(yield* fixture("undersized_limit"))
      const signal = yield* OomFixture.signal(yield* fixture("undersized_limit"))
      const c = proposeOnlyOom.classify(facts)
      if (c._tag !== "Classified") return assert.fail(`expected a class, got ${c._tag}`)
      const plan = proposeOnlyPlan(c, facts, signal)
      assert.strictEqual(plan.root._tag, "Propose")
      assert.match(plan.summary, /propose memory limit/)
    }))
})
