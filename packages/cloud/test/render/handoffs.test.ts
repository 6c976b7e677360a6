/**
 * Sentry → Render end to end: deploy.sentry.classify hands off `deploy_correlation` as a
 * deployment regression and `oom` as OOM observed, targeting a Render service; the cloud catalog
 * routes each to the runbook that owns it for `render.service` (`targetKinds`), which acts on the
 * Render fake: the regression rolls back to the last green deploy, the OOM scales the service one
 * instance type up (opt-in, capped, once). State is asserted on the fakes after.
 */
import { assert, describe, it } from "@effect/vitest"
import { Catalog, HandOffs, IncidentBus, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Clock, ConfigProvider, Effect, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { CloudCatalog, RenderOom, RenderRegression, RenderRollbackRunbook, RenderScaleUp, Sentry, SentryClassify, SentryIssues } from "@byteport/cloud"
import { type RenderFake, SentryFake } from "@byteport/cloud/testing"
import * as C from "../sentry/cases"
import * as H from "./harness"

const goldenDir = new URL("golden/", import.meta.url).pathname

const PROJECT = "shop"
const TARGET = TargetRef.make("render.service", H.SERVICE)

const catalog = CloudCatalog.make({ runbooks: { "cloud.handoff.render-regression": { probeTimeoutMs: 150 }, "cloud.handoff.render-oom": { probeTimeoutMs: 150 } } })

/** The Render fake (GOOD live since T0) and the Sentry fake on the same TestClock; release GOOD deployed at T0. */
const withFakes = <A, E, R>(f: (render: RenderFake.RenderFake, sentry: SentryFake.SentryFake) => Effect.Effect<A, E, R>, spec: Partial<RenderFake.ServiceSpec> = {}) =>
  H.withFake((render) =>
    Effect.acquireUseRelease(
      Effect.flatMap(Clock.clockWith((c) => Effect.succeed(c)), (clock) => Effect.promise(() => SentryFake.start({ now: () => clock.currentTimeMillisUnsafe() }))),
      (sentry) => f(render, sentry),
      (sentry) => Effect.promise(() => sentry.close())
    ), spec)

const layer = (render: RenderFake.RenderFake, sentry: SentryFake.SentryFake, env: Record<string, string> = {}) =>
  Testing.layer({ handlers: RenderRollbackRunbook.handlers() }).pipe(
    Layer.provideMerge(H.renderLayer(render)),
    Layer.provideMerge(Sentry.layer({ baseUrl: sentry.url, token: Redacted.make("sntrys_test") })),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))
  )

const sentryRunbook = (o: Partial<SentryClassify.Options> = {}) => SentryClassify.make({ org: "acme", projects: [PROJECT], targets: { [PROJECT]: TARGET }, poll: false, ...o })

/** Polls Sentry, handles the issue (auto), returns the hand-offs it published. */
const classifyAndHandOff = Effect.gen(function*() {
  const signals = yield* SentryIssues.pollOnce({ org: "acme", projects: [PROJECT] })
  assert.strictEqual(signals.length, 1)
  const r = yield* H.handle(sentryRunbook(), signals[0]!, "auto")
  assert.strictEqual(r.status, "handed_off", JSON.stringify(r.escalation))
  return yield* Effect.flatMap(Effect.service(IncidentBus.IncidentBus), (b) => b.published)
})

/** Routes a hand-off through the catalog and handles it (auto). */
const ownerHandles = (s: Signal.Signal) =>
  Effect.gen(function*() {
    const routed = Catalog.route(catalog, [s])
    assert.isDefined(routed, `no owner of ${s.type} on ${s.target.kind}`)
    // the routed runbook, as built with the catalog's options (its services are Render's only)
    const id = routed!.runbook.id
    const report = id === RenderRegression.ID
      ? yield* H.handle(RenderRegression.make({ probeTimeoutMs: 150 }), routed!.signal, "auto")
      : yield* H.handle(RenderOom.make({ probeTimeoutMs: 150 }), routed!.signal, "auto")
    return { id, report }
  })

describe("Render owns the Sentry hand-offs for a render.service target", () => {
  it("the cloud catalog: deployment.regression and oom.observed on render.service have one owner each; a k8s.workload's do not route here", () => {
    assert.deepStrictEqual(Catalog.owners(catalog, HandOffs.DeploymentRegression.type, "render.service").map((r) => r.id), [RenderRegression.ID])
    assert.deepStrictEqual(Catalog.owners(catalog, HandOffs.OomObserved.type, "render.service").map((r) => r.id), [RenderOom.ID])
    assert.deepStrictEqual(Catalog.owners(catalog, HandOffs.DeploymentRegression.type, "k8s.workload"), [])
    assert.deepStrictEqual(Catalog.owners(catalog, HandOffs.OomObserved.type, "k8s.workload"), [])
    assert.isFalse(CloudCatalog.make({}).entries.some((e) => e.runbook.id === RenderRegression.ID), "off unless given")
  })

  it.effect("deploy_correlation → deployment regression → cloud.handoff.render-regression: autoDeploy frozen, rolled back to the last green deploy once, healthy", () =>
    withFakes((render, sentry) =>
      Effect.gen(function*() {
        sentry.release(PROJECT, H.GOOD)
        sentry.deploy(H.GOOD)
        yield* TestClock.adjust("1 hour")
        const bad = yield* H.deployBad(render, { errorRate: 0.4 })
        assert.strictEqual(render.liveCommit(H.SERVICE), H.BAD)
        sentry.release(PROJECT, H.BAD)
        sentry.deploy(H.BAD)
        yield* TestClock.adjust("4 minutes")
        sentry.capture({ project: PROJECT, release: H.BAD, ...C.regression, times: 25 })
        const sent = yield* classifyAndHandOff
        assert.deepStrictEqual(sent.map((s) => [s.type, s.target.kind, s.target.ref]), [[HandOffs.DeploymentRegression.type, "render.service", H.SERVICE]])
        const { id, report } = yield* ownerHandles(sent[0]!)
        assert.strictEqual(id, RenderRegression.ID)
        assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.outcomes))
        assert.strictEqual(render.liveCommit(H.SERVICE), H.GOOD)
        assert.strictEqual(render.service(H.SERVICE)["autoDeploy"], "no")
        assert.deepStrictEqual(render.writes.map((w) => `${w.method} ${w.path}`), [`PATCH /v1/services/${H.SERVICE}`, `POST /v1/services/${H.SERVICE}/rollback`])
        assert.strictEqual((render.deploys(H.SERVICE)[0]!["trigger"]), "rollback")
        assert.notStrictEqual(render.deploys(H.SERVICE)[0]!["id"], bad)
        assert.deepStrictEqual(sentry.writes, [])
      }).pipe(Effect.provide(layer(render, sentry)))
    ))

  it.effect("a regression whose deploy is no longer the newest: escalated, nothing written to Render", () =>
    withFakes((render, sentry) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("1 hour")
        yield* H.deployBad(render, { errorRate: 0.4 })
        sentry.release(PROJECT, H.GOOD)
        sentry.release(PROJECT, H.BAD)
        sentry.deploy(H.BAD)
        yield* TestClock.adjust("2 minutes")
        render.push(H.SERVICE, "cafe0000cafe0000cafe0000cafe0000cafe0000", { errorRate: 0.01 }, "fix: forward")
        yield* TestClock.adjust("2 minutes")
        sentry.capture({ project: PROJECT, release: H.BAD, ...C.regression })
        const sent = yield* classifyAndHandOff
        const { report } = yield* ownerHandles(sent[0]!)
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /not the newest/)
        assert.deepStrictEqual(render.writes, [])
      }).pipe(Effect.provide(layer(render, sentry)))
    ))

  it.effect("oom → OOM observed → cloud.handoff.render-oom, opted in: starter → standard once (a second OOM within 24 h: denied)", () =>
    withFakes((render, sentry) =>
      Effect.gen(function*() {
        sentry.release(PROJECT, H.GOOD)
        sentry.capture({ project: PROJECT, release: H.GOOD, ...C.oom.javascript, times: 3 })
        const sent = yield* classifyAndHandOff
        assert.deepStrictEqual(sent.map((s) => [s.type, s.target.ref]), [[HandOffs.OomObserved.type, H.SERVICE]])
        const { id, report } = yield* ownerHandles(sent[0]!)
        assert.strictEqual(id, RenderOom.ID)
        assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation ?? report.outcomes))
        Testing.expectPlan(report.plan!, `${goldenDir}render_oom.oom_observed.plan.txt`)
        assert.strictEqual((render.service(H.SERVICE)["serviceDetails"] as { plan: string }).plan, "standard")
        assert.deepStrictEqual(render.writes.map((w) => `${w.method} ${w.path} ${JSON.stringify(w.body)}`), [`PATCH /v1/services/${H.SERVICE} {"serviceDetails":{"plan":"standard"}}`])
        // the next OOM, 2 hours later: the one-per-24h cooldown denies a second scale-up
        yield* TestClock.adjust("2 hours")
        const again = yield* H.handle(RenderOom.make({ probeTimeoutMs: 150, cooldown: "0 seconds" }), { ...sent[0]!, parent: undefined, observedAt: sent[0]!.observedAt + 7_200_000 }, "auto")
        assert.strictEqual(again.status, "escalated")
        assert.match(again.escalation?.reason ?? "", /one_scale_up_per_service_24h/)
        assert.strictEqual(render.writes.length, 1)
      }).pipe(Effect.provide(layer(render, sentry, { [RenderScaleUp.OPT_IN]: "true" })))
    ))

  it.effect("oom without the opt-in: denied (opt_in), the plan unchanged", () =>
    withFakes((render, sentry) =>
      Effect.gen(function*() {
        sentry.release(PROJECT, H.GOOD)
        sentry.capture({ project: PROJECT, release: H.GOOD, ...C.oom.java })
        const sent = yield* classifyAndHandOff
        const { report } = yield* ownerHandles(sent[0]!)
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /BYTEPORT_RENDER_SCALE_UP_ON_OOM is not enabled/)
        assert.strictEqual((render.service(H.SERVICE)["serviceDetails"] as { plan: string }).plan, "starter")
        assert.deepStrictEqual(render.writes, [])
      }).pipe(Effect.provide(layer(render, sentry)))
    ))

  it.effect("oom at the cap (pro): escalated, no write", () =>
    withFakes((render, sentry) =>
      Effect.gen(function*() {
        sentry.release(PROJECT, H.GOOD)
        sentry.capture({ project: PROJECT, release: H.GOOD, ...C.oom.go })
        const sent = yield* classifyAndHandOff
        const { report } = yield* ownerHandles(sent[0]!)
        assert.strictEqual(report.status, "escalated")
        assert.match(report.escalation?.reason ?? "", /at the cap \(pro\)/)
        assert.deepStrictEqual(render.writes, [])
      }).pipe(Effect.provide(layer(render, sentry, { [RenderScaleUp.OPT_IN]: "true" }))), { plan: "pro" }
    ))
})

describe("cloud.render.scaleUp", () => {
  it("the plan ladder: one step up, never past the cap", () => {
    assert.strictEqual(RenderScaleUp.nextPlan("starter"), "standard")
    assert.strictEqual(RenderScaleUp.nextPlan("standard"), "pro")
    assert.isUndefined(RenderScaleUp.nextPlan("pro"))
    assert.strictEqual(RenderScaleUp.nextPlan("pro", "pro_max"), "pro_plus")
    assert.isUndefined(RenderScaleUp.nextPlan("custom-plan"))
  })
  it("its undo is cloud.render.restorePlan back to the plan it replaced", () => {
    const a = RenderScaleUp.action(TARGET, { serviceId: H.SERVICE, fromPlan: "starter", toPlan: "standard", maxPlan: "pro" })
    assert.deepStrictEqual([a.undo?.kind, a.undo?.params], [RenderScaleUp.RESTORE_KIND, { serviceId: H.SERVICE, plan: "starter", expectPlan: "standard" }])
  })
})
