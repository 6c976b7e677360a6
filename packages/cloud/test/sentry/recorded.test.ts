/**
 * deploy.sentry.classify on recorded Sentry responses (test/sentry/fixtures, recorded from the
 * fake by record-fixtures.ts): facts, class and a reviewed golden plan per class; the near miss
 * (first seen 1 min before the deploy) is not deploy_correlation.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, Fact } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as path from "node:path"
import { SentryErrorClass, SentryHandOff, SentryIssueDiagnoser, SentryIssues } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const classify = SentryErrorClass.classifier()

const run = (name: string) =>
  Effect.gen(function*() {
    const rec = yield* Testing.loadFixture(SentryIssueDiagnoser.Recording, path.join(here, "fixtures", `${name}.json`))
    const facts = SentryIssueDiagnoser.factsOf(rec)
    const c = classify(facts)
    const plan = c._tag === "Classified" ? yield* SentryHandOff.make()(c, facts, SentryIssues.signalOf("acme", "shop", rec.issue.id, "webhook", Date.parse(rec.issue.lastSeen))) : undefined
    return { rec, facts, c, plan }
  })

describe("deploy.sentry.classify: golden plans from recorded Sentry responses", () => {
  const expected: ReadonlyArray<[string, SentryErrorClass.Class]> = [
    ["db_connection_python", "db_connection"],
    ["oom_java", "oom"],
    ["deploy_correlation", "deploy_correlation"],
    ["upstream_5xx_go", "upstream_5xx"],
    ["unknown", "unknown"],
    ["near_miss_first_seen_before_deploy", "unknown"]
  ]
  for (const [name, cls] of expected) {
    it.effect(`${name} → ${cls}, golden plan`, () =>
      Effect.gen(function*() {
        const { c, plan } = yield* run(name)
        assert.strictEqual(Classification.className(c), cls)
        Testing.expectPlan(plan!, path.join(here, "golden", `recorded_${name}.plan.txt`))
      }))
  }

  it.effect("the recorded event's facts: exceptions with frames, HTTP breadcrumbs with status codes, the deploy and the release before", () =>
    Effect.gen(function*() {
      const { facts } = yield* run("upstream_5xx_go")
      const e = Fact.value(facts.event)!
      assert.deepStrictEqual(e.exceptions[0]!.frames, ["acme.dev/shop/payments.Charge"])
      assert.deepStrictEqual(e.breadcrumbs.map((b) => b.statusCode), [504])
      const d = yield* run("deploy_correlation")
      assert.deepStrictEqual(Fact.value(d.facts.deploy) && { release: Fact.value(d.facts.deploy)!.release, previous: Fact.value(d.facts.deploy)!.previousRelease }, { release: "shop@1.5.0", previous: "shop@1.4.0" })
      assert.strictEqual(Fact.value(d.facts.issue)!.firstSeen - Fact.value(d.facts.deploy)!.deployedAt, 240_000)
      const n = yield* run("near_miss_first_seen_before_deploy")
      assert.strictEqual(Fact.value(n.facts.issue)!.firstSeen - Fact.value(n.facts.deploy)!.deployedAt, -60_000)
    }))
})
