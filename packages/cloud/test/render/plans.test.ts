/**
 * deploy.render.rollback: golden plans per class (reviewed), the classifier's edges (4.9× / 5.1×,
 * 119 s / 121 s, too few requests → Indeterminate) and the plan's escalations.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, Fact, Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as path from "node:path"
import { RenderActions, RenderBadDeploy, RenderDeploys, RenderRollback, RenderRollbackRunbook } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const T = Date.parse("2026-12-07T02:11:00.000Z")
const SVC = "srv-shop0123456789abcdef"

const deploys: ReadonlyArray<RenderBadDeploy.DeployFacts> = [
  { id: "dep-bad", commitId: "deadbeef00112233445566778899aabbccddeeff", status: "live", trigger: "new_commit", createdAt: T - 60_000, liveAt: T },
  { id: "dep-failed-build", commitId: "0badc0de00112233445566778899aabbccddeeff", status: "build_failed", trigger: "new_commit", createdAt: T - 300_000, liveAt: null },
  { id: "dep-green", commitId: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", status: "deactivated", trigger: "new_commit", createdAt: T - 900_000, liveAt: T - 840_000 },
  { id: "dep-older", commitId: "1111111111111111111111111111111111111111", status: "deactivated", trigger: "new_commit", createdAt: T - 9_000_000, liveAt: T - 8_940_000 }
]

const win = (from: number, total: number, errors: number): RenderBadDeploy.WindowCounts => ({ from, to: from + 300_000, total, errors, rate: errors / total })

const facts = (o: {
  readonly ratio?: number
  readonly failingForMs?: number
  readonly crashes?: number
  readonly errorRate?: "unknown"
  readonly deploys?: ReadonlyArray<RenderBadDeploy.DeployFacts>
  readonly autoDeploy?: boolean
} = {}): Fact.Facts<RenderBadDeploy.RenderDeployFacts> => {
  const ratio = o.ratio ?? 1
  const f = Testing.facts<RenderBadDeploy.RenderDeployFacts>({
    service: { id: SVC, name: "shop", autoDeploy: o.autoDeploy ?? true, healthUrl: "http://127.0.0.1:1/healthz" },
    deploys: o.deploys ?? deploys,
    suspect: deploys[0]!,
    errorRate: { baseline: win(T - 300_000, 3000, 30), after: win(T, 3000, 30 * ratio), ratio, windowComplete: true },
    health: { failingForMs: o.failingForMs ?? 0, failingProbes: o.failingForMs ? Math.floor(o.failingForMs / 15_000) + 1 : 0, last: o.failingForMs ? { at: T + 200_000, status: 503, ok: false } : { at: T + 200_000, status: 200, ok: true } },
    crashes: { failures: o.crashes ?? 0, firstAt: o.crashes ? T + 30_000 : null, lastAt: o.crashes ? T + 30_000 + (o.crashes - 1) * 60_000 : null }
  })
  return o.errorRate === "unknown" ? { ...f, errorRate: Fact.unknown("render.metrics.http_requests", "too few requests after the deploy (12 < 100)") } : f
}

const classify = RenderBadDeploy.classifier()
const signal = (trigger: RenderDeploys.Trigger) => RenderDeploys.signalOf(SVC, "dep-bad", trigger, T + 300_000, { commitId: deploys[0]!.commitId })
const planOf = (f: Fact.Facts<RenderBadDeploy.RenderDeployFacts>, trigger: RenderDeploys.Trigger) =>
  Effect.gen(function*() {
    const c = classify(f)
    assert.strictEqual(c._tag, "Classified")
    return yield* RenderRollback.make()(c as Classification.Classified, f, signal(trigger))
  })

describe("deploy.render.rollback: golden plans", () => {
  const cases: ReadonlyArray<[string, Parameters<typeof facts>[0], RenderDeploys.Trigger]> = [
    ["error_rate_spike", { ratio: 5.1 }, "error_rate"],
    ["health_check_failing", { failingForMs: 121_000 }, "health"],
    ["crash_loop", { crashes: 3 }, "crash_loop"]
  ]
  for (const [cls, o, trigger] of cases) {
    it.effect(`${cls} → freeze autoDeploy, roll back to the last green deploy (else deploy its commit)`, () =>
      Effect.gen(function*() {
        const f = facts(o)
        assert.strictEqual(Classification.className(classify(f)), cls)
        const plan = yield* planOf(f, trigger)
        Testing.expectPlan(plan, path.join(here, "golden", `${cls}.plan.txt`))
        const acts = Plan.actions(plan.root).map((a) => [a.action.kind, a.action.params])
        assert.deepStrictEqual(acts, [
          [RenderActions.SET_AUTO_DEPLOY, { serviceId: SVC, autoDeploy: false }],
          [RenderActions.ROLLBACK, { serviceId: SVC, deployId: "dep-green", commitId: deploys[2]!.commitId, failedDeployId: "dep-bad" }],
          [RenderActions.DEPLOY_COMMIT, { serviceId: SVC, commitId: deploys[2]!.commitId, failedDeployId: "dep-bad" }]
        ])
      }))
  }

  it.effect("autoDeploy already off: no freeze step", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(facts({ crashes: 4, autoDeploy: false }), "crash_loop")
      assert.deepStrictEqual(Plan.actions(plan.root).map((a) => a.action.kind), [RenderActions.ROLLBACK, RenderActions.DEPLOY_COMMIT])
    }))

  it.effect("the failing deploy is not the newest → escalate, listing the deploys", () =>
    Effect.gen(function*() {
      const newer: RenderBadDeploy.DeployFacts = { id: "dep-newer", commitId: "feedface00112233445566778899aabbccddeeff", status: "build_in_progress", trigger: "new_commit", createdAt: T + 100_000, liveAt: null }
      const plan = yield* planOf(facts({ crashes: 3, deploys: [newer, ...deploys] }), "crash_loop")
      Testing.expectPlan(plan, path.join(here, "golden", "near_miss_not_newest.plan.txt"))
      assert.strictEqual(plan.root._tag, "Escalate")
    }))

  it.effect("no earlier deploy went live → escalate", () =>
    Effect.gen(function*() {
      const plan = yield* planOf(facts({ crashes: 3, deploys: [deploys[0]!, deploys[1]!] }), "crash_loop")
      assert.strictEqual(plan.root._tag, "Escalate")
      assert.match(plan.root._tag === "Escalate" ? plan.root.reason : "", /no earlier deploy among the last 2 went live/)
    }))
})

describe("RenderBadDeploy: thresholds and order", () => {
  const cls = (f: Fact.Facts<RenderBadDeploy.RenderDeployFacts>) => Classification.className(classify(f))
  it("(a) strictly more than 5× the baseline: 4.9× is not, 5.1× is", () => {
    const at = (afterErrors: number) => RenderBadDeploy.errorRateOf({ from: 0, to: 1, total: 3000, errors: 30 }, { from: 1, to: 2, total: 3000, errors: afterErrors }, true)
    const lo = at(147)
    const hi = at(153)
    assert.isFalse(typeof lo === "string" || RenderBadDeploy.errorRateSpiking(lo))
    assert.isTrue(typeof hi !== "string" && RenderBadDeploy.errorRateSpiking(hi))
    assert.isUndefined(cls(facts({ ratio: 4.9 })))
    assert.strictEqual(cls(facts({ ratio: 5.1 })), "error_rate_spike")
    assert.isUndefined(cls(facts({ ratio: 5 })), "exactly 5× is not more than 5×")
    // the window must have ended
    const open = { ...facts({ ratio: 9 }), errorRate: Fact.known({ baseline: win(0, 3000, 30), after: win(1, 3000, 270), ratio: 9, windowComplete: false }) }
    assert.isUndefined(cls(open))
  })
  it("(a) a zero-error baseline counts as the 0.1 % floor; too few requests → a reason, not a rate", () => {
    const r = RenderBadDeploy.errorRateOf({ from: 0, to: 1, total: 3000, errors: 0 }, { from: 1, to: 2, total: 3000, errors: 16 }, true)
    assert.isTrue(typeof r !== "string" && r.ratio > 5)
    assert.match(String(RenderBadDeploy.errorRateOf({ from: 0, to: 1, total: 99, errors: 0 }, { from: 1, to: 2, total: 3000, errors: 0 }, true)), /too few requests before/)
    assert.match(String(RenderBadDeploy.errorRateOf({ from: 0, to: 1, total: 3000, errors: 0 }, { from: 1, to: 2, total: 12, errors: 12 }, true)), /too few requests after/)
  })
  it("(b) every probe failing for more than 2 minutes: 119 s is not, 121 s is; one 2xx resets the streak", () => {
    const streak = (times: ReadonlyArray<[number, boolean]>) => times.reduce((s, [at, ok]) => RenderBadDeploy.stepStreak(s, { at, ok }), RenderBadDeploy.emptyStreak)
    assert.isFalse(RenderBadDeploy.healthFailing(RenderBadDeploy.failingFor(streak([[0, false], [119_000, false]]))))
    assert.isTrue(RenderBadDeploy.healthFailing(RenderBadDeploy.failingFor(streak([[0, false], [121_000, false]]))))
    assert.isFalse(RenderBadDeploy.healthFailing(RenderBadDeploy.failingFor(streak([[0, false], [60_000, true], [121_000, false]]))))
    assert.isUndefined(cls(facts({ failingForMs: 119_000 })))
    assert.strictEqual(cls(facts({ failingForMs: 121_000 })), "health_check_failing")
  })
  it("(c) a crash loop is 3 server_failed events (configurable)", () => {
    assert.isUndefined(cls(facts({ crashes: 2 })))
    assert.strictEqual(cls(facts({ crashes: 3 })), "crash_loop")
    assert.isUndefined(Classification.className(RenderBadDeploy.classifier({ thresholds: { crashLoopFailures: 5 } })(facts({ crashes: 4 }))))
  })
  it("order: (a) before (b) before (c)", () => {
    assert.strictEqual(cls(facts({ ratio: 8, failingForMs: 200_000, crashes: 5 })), "error_rate_spike")
    assert.strictEqual(cls(facts({ failingForMs: 200_000, crashes: 5 })), "health_check_failing")
  })
  it("too few requests: Indeterminate unless (b) or (c) holds; nothing → Unclassified (escalate)", () => {
    assert.strictEqual(classify(facts({ errorRate: "unknown" }))._tag, "Indeterminate")
    assert.strictEqual(cls(facts({ errorRate: "unknown", crashes: 3 })), "crash_loop")
    assert.strictEqual(cls(facts({ errorRate: "unknown", failingForMs: 150_000 })), "health_check_failing")
    assert.strictEqual(classify(facts())._tag, "Unclassified")
  })
  it("confidences are documented defaults ≥ 0.70 and configurable; below 0.70 is unclassified", () => {
    assert.deepStrictEqual(RenderBadDeploy.defaultConfidences, { error_rate_spike: 0.85, health_check_failing: 0.9, crash_loop: 0.88 })
    assert.strictEqual(RenderBadDeploy.classifier({ confidences: { crash_loop: 0.6 } })(facts({ crashes: 3 }))._tag, "Unclassified")
  })
  it("the escalation's diagnostics name the class, service, deploys, error rate, health and crashes", () => {
    const f = facts({ ratio: 2 })
    const steps = RenderRollbackRunbook.nextSteps(classify(f), f)
    assert.strictEqual(steps[0], "class: unclassified")
    assert.include(steps.join("\n"), "dep-bad deadbee live (new_commit)")
    assert.include(steps.join("\n"), "2.00×")
  })
})
