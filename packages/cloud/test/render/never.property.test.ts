/**
 * Never-rules of deploy.render.rollback and deploy.sentry.classify, property-tested: the Render
 * plan never rolls back unless the failing deploy is the newest, never to the failing deploy or
 * to one that never went live or to an older green than the newest; the classifiers never fire
 * at or under their thresholds; the Sentry plan never acts (hand-offs and escalations only) and
 * never correlates an issue first seen before the deploy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, type Fact, Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import fc from "fast-check"
import { RenderActions, RenderBadDeploy, RenderDeploys, RenderRollback, SentryErrorClass, SentryHandOff, SentryIssues } from "@byteport/cloud"

const SVC = "srv-p"
const T = 1_796_612_400_000

const deployArb = (i: number) =>
  fc.record({
    status: fc.constantFrom("live", "deactivated", "build_failed", "build_in_progress", "update_failed", "canceled"),
    wentLive: fc.boolean(),
    commit: fc.option(fc.stringMatching(/^[0-9a-f]{40}$/), { nil: null })
  }).map((d): RenderBadDeploy.DeployFacts => ({
    id: `dep-${i}`,
    commitId: d.commit,
    status: d.status,
    trigger: "new_commit",
    createdAt: T - i * 60_000,
    liveAt: d.wentLive && (d.status === "live" || d.status === "deactivated") ? T - i * 60_000 + 30_000 : null
  }))

const deploysArb = fc.integer({ min: 1, max: 5 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => deployArb(i))))

describe("never-rules (property)", () => {
  it.effect("Render plan: rolls back only the newest deploy, only to the newest earlier deploy that went live, freeze first", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(deploysArb, fc.integer({ min: 0, max: 5 }), fc.boolean(), async (deploys, pick, autoDeploy) => {
          const suspectId = `dep-${pick}`
          const facts = Testing.facts<RenderBadDeploy.RenderDeployFacts>({
            service: { id: SVC, name: "p", autoDeploy, healthUrl: null },
            deploys,
            suspect: deploys.find((d) => d.id === suspectId) ?? deploys[0]!,
            errorRate: { baseline: { from: 0, to: 1, total: 1000, errors: 1, rate: 0.001 }, after: { from: 1, to: 2, total: 1000, errors: 100, rate: 0.1 }, ratio: 100, windowComplete: true },
            health: { failingForMs: 0, failingProbes: 0, last: null },
            crashes: { failures: 0, firstAt: null, lastAt: null }
          })
          const c = Classification.classified("error_rate_spike", 0.85) as Classification.Classified
          const plan = await Effect.runPromise(RenderRollback.make()(c, facts, RenderDeploys.signalOf(SVC, suspectId, "error_rate", T)))
          const acts = Plan.actions(plan.root).map((a) => a.action)
          if (acts.length === 0) return
          assert.strictEqual(deploys[0]!.id, suspectId, "only the newest deploy is rolled back")
          const greens = deploys.slice(1).filter((d) => d.liveAt !== null && d.commitId !== null)
          const rb = acts.find((a) => a.kind === RenderActions.ROLLBACK)!
          assert.strictEqual(rb.params["deployId"], greens[0]!.id, "the newest earlier deploy that went live")
          assert.notStrictEqual(rb.params["deployId"], suspectId)
          const kinds = acts.map((a) => a.kind)
          assert.deepStrictEqual(kinds, autoDeploy ? [RenderActions.SET_AUTO_DEPLOY, RenderActions.ROLLBACK, RenderActions.DEPLOY_COMMIT] : [RenderActions.ROLLBACK, RenderActions.DEPLOY_COMMIT])
          const fb = acts.find((a) => a.kind === RenderActions.DEPLOY_COMMIT)!
          assert.strictEqual(fb.params["commitId"], greens[0]!.commitId)
        }),
        { numRuns: 300 }
      )
    ))

  it("Render classifier: never error_rate_spike at ≤ 5× or before the window ends; never health_check_failing at ≤ 120 s; never crash_loop under 3 failures", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 20, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 0, max: 6 }), (ratio, complete, failingForMs, failures) => {
        const f = Testing.facts<RenderBadDeploy.RenderDeployFacts>({
          service: { id: SVC, name: "p", autoDeploy: true, healthUrl: null },
          deploys: [],
          suspect: { id: "d", commitId: null, status: "live", trigger: null, createdAt: 0, liveAt: 0 },
          errorRate: { baseline: { from: 0, to: 1, total: 1000, errors: 10, rate: 0.01 }, after: { from: 1, to: 2, total: 1000, errors: 10 * ratio, rate: 0.01 * ratio }, ratio, windowComplete: complete },
          health: { failingForMs, failingProbes: 1, last: { at: 0, status: 503, ok: false } },
          crashes: { failures, firstAt: null, lastAt: null }
        })
        const c = Classification.className(RenderBadDeploy.classifier()(f))
        if (c === "error_rate_spike") assert.isTrue(complete && ratio > 5)
        if (c === "health_check_failing") assert.isTrue(failingForMs > 120_000)
        if (c === "crash_loop") assert.isTrue(failures >= 3)
        if (c === undefined) assert.isTrue(!(complete && ratio > 5) && failingForMs <= 120_000 && failures < 3)
      }),
      { numRuns: 500 }
    )
  })

  it.effect("Sentry: never deploy_correlation for an issue first seen before the deploy; the plan never acts", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.integer({ min: -7_200_000, max: 7_200_000 }), fc.constantFrom("TypeError: x", "OutOfMemoryError: Java heap space", "connect ECONNREFUSED 1.2.3.4:5432", "Request failed with status code 503", "ValueError: bad"), fc.boolean(), async (offset, title, sameRelease) => {
          const f: Fact.Facts<SentryErrorClass.SentryFacts> = Testing.facts<SentryErrorClass.SentryFacts>({
            issue: { id: "1", shortId: "P-1", title, culprit: null, level: "error", platform: "node", org: "acme", project: "p", firstSeen: T + offset, lastSeen: T + 7_200_000, count: 3, permalink: null, firstRelease: sameRelease ? "p@2" : "p@1" },
            event: { exceptions: [], breadcrumbs: [], message: null },
            deploy: { release: "p@2", environment: "production", deployedAt: T, previousRelease: "p@1" }
          })
          const c = SentryErrorClass.classifier()(f)
          if (Classification.className(c) === "deploy_correlation") assert.isTrue(offset >= 0 && offset <= 1_800_000 && sameRelease)
          if (c._tag !== "Classified") return
          const plan = await Effect.runPromise(SentryHandOff.make()(c, f, SentryIssues.signalOf("acme", "p", "1", "poll", T)))
          assert.deepStrictEqual(Plan.actions(plan.root), [])
        }),
        { numRuns: 300 }
      )
    ))
})
