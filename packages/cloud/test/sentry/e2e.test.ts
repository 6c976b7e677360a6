/**
 * deploy.sentry.classify end to end on the Sentry fake: issues from polling and from signed
 * webhooks, classified by stack-trace heuristics, acted on only by hand-off (deployment
 * regression, OOM observed) or escalation with a structured summary; nothing is written to Sentry.
 */
import { assert, describe, it } from "@effect/vitest"
import { HandOffs, IncidentBus, TargetRef } from "@byteport/core"
import { Effect, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { SentryClassify, SentryIssues } from "@byteport/cloud"
import * as C from "./cases"
import * as H from "./harness"

const rb = (o: Partial<SentryClassify.Options> = {}) => SentryClassify.make({ org: "acme", projects: [H.PROJECT], targets: { shop: TargetRef.make("render.service", "srv-shop") }, ...o })
const poll = SentryIssues.pollOnce({ org: "acme", projects: [H.PROJECT] })
const published = Effect.flatMap(Effect.service(IncidentBus.IncidentBus), (b) => b.published)

describe("deploy.sentry.classify on the Sentry fake (auto)", () => {
  it.effect("deploy_correlation: first seen 4 min after the deploy of its first release → a deployment-regression hand-off", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        fake.deploy("shop@1.5.0")
        yield* TestClock.adjust("4 minutes")
        fake.capture({ project: H.PROJECT, release: "shop@1.5.0", ...C.regression, times: 12 })
        const signals = yield* poll
        assert.strictEqual(signals.length, 1)
        const r = yield* H.handle(rb(), signals[0]!, "auto")
        assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "deploy_correlation")
        assert.strictEqual(r.status, "handed_off")
        const sent = (yield* published).filter((s) => s.type === HandOffs.DeploymentRegression.type)
        assert.strictEqual(sent.length, 1)
        assert.deepStrictEqual(sent[0]!.target, TargetRef.make("render.service", "srv-shop"))
        const ev = yield* HandOffs.decode(HandOffs.DeploymentRegression, sent[0]!)
        assert.strictEqual(ev.revision, "shop@1.5.0")
        assert.strictEqual(ev.previousRevision, "shop@1.4.0")
        assert.strictEqual(ev.deployedAt, H.T0 + 3_600_000)
        assert.match(ev.symptom, /first seen 4\.0 min after the deploy \(12 events\)/)
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("near miss: the same error first seen 1 min before the deploy is not deploy_correlation (unknown → escalate)", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        fake.capture({ project: H.PROJECT, release: "shop@1.5.0", ...C.regression })
        yield* TestClock.adjust("1 minute")
        fake.deploy("shop@1.5.0")
        yield* TestClock.adjust("3 minutes")
        const signals = yield* poll
        const r = yield* H.handle(rb(), signals[0]!, "auto")
        assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "unknown")
        assert.strictEqual(r.status, "escalated")
        assert.deepStrictEqual(yield* published, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  for (const lang of ["javascript", "java"] as const) {
    it.effect(`oom (${lang}) → an OOM-observed hand-off naming the container, count and last seen`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.oom[lang], times: 3 })
          const signals = yield* poll
          const r = yield* H.handle(rb({ containers: { shop: "web" } }), signals[0]!, "auto")
          assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "oom")
          const sent = (yield* published).filter((s) => s.type === HandOffs.OomObserved.type)
          assert.strictEqual(sent.length, 1)
          assert.deepStrictEqual(yield* HandOffs.decode(HandOffs.OomObserved, sent[0]!), { container: "web", count: 3, lastAt: H.T0 + 3_600_000 })
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }

  it.effect("unknown → escalation with a structured summary; db_connection and upstream_5xx escalate too (no hand-off, no write)", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.novel })
        fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.dbConnection.go })
        fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.upstream5xx.go })
        const signals = yield* poll
        assert.strictEqual(signals.length, 3)
        const got: Record<string, string> = {}
        for (const s of signals) {
          const r = yield* H.handle(rb(), s, "auto")
          assert.strictEqual(r.status, "escalated")
          got[r.classification?._tag === "Classified" ? r.classification.class : "?"] = r.escalation?.nextSteps.join("\n") ?? ""
        }
        assert.deepStrictEqual(Object.keys(got).sort(), ["db_connection", "unknown", "upstream_5xx"])
        assert.include(got["unknown"], "class: unknown")
        assert.include(got["unknown"], "exception: ValueError: invalid literal for int() with base 10: 'abc' at shop.forms.clean_quantity")
        assert.include(got["unknown"], "project: acme/shop")
        assert.include(got["unknown"], "first release: shop@1.4.0")
        assert.deepStrictEqual(yield* published, [])
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: no hand-off is published, nothing is written`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          fake.deploy("shop@1.5.0")
          yield* TestClock.adjust("2 minutes")
          fake.capture({ project: H.PROJECT, release: "shop@1.5.0", ...C.regression })
          const signals = yield* poll
          const r = yield* H.handle(rb(), signals[0]!, mode)
          assert.strictEqual(r.status, mode === "observe" ? "observed" : "dry_run")
          assert.deepStrictEqual(yield* published, [])
          assert.deepStrictEqual(fake.writes, [])
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }
})

describe("SentryIssues webhooks", () => {
  const secret = Redacted.make("a5f1c0ffee")
  const o = { secret, org: "acme", projects: [H.PROJECT] }
  it.effect("a signed issue.created delivery opens one incident; a redelivery and the event_alert for the same issue are duplicates; a poll sees nothing new", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const id = fake.capture({ project: H.PROJECT, release: "shop@1.4.0", ...C.novel })
        const got: Array<unknown> = []
        const d = fake.webhook(id, "issue", "a5f1c0ffee")
        const v1 = yield* SentryIssues.handleDelivery(o, Buffer.from(d.body), d.headers, (s) => got.push(s))
        const v2 = yield* SentryIssues.handleDelivery(o, Buffer.from(d.body), d.headers, (s) => got.push(s))
        const a = fake.webhook(id, "event_alert", "a5f1c0ffee")
        const v3 = yield* SentryIssues.handleDelivery(o, Buffer.from(a.body), a.headers, (s) => got.push(s))
        assert.deepStrictEqual([v1.outcome, v2.outcome, v3.outcome], ["accepted", "duplicate", "duplicate"])
        assert.strictEqual(got.length, 1)
        assert.deepStrictEqual(yield* poll, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("a bad signature or a tampered body is 401 and audited; an event_alert names its issue", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const id = fake.capture({ project: H.PROJECT, ...C.novel })
        const d = fake.webhook(id, "issue", "wrong-secret")
        const got: Array<unknown> = []
        assert.strictEqual((yield* SentryIssues.handleDelivery(o, Buffer.from(d.body), d.headers, (s) => got.push(s))).status, 401)
        const good = fake.webhook(id, "issue", "a5f1c0ffee")
        const tampered = good.body.replace(`"id":"${id}"`, `"id":"999"`)
        assert.strictEqual((yield* SentryIssues.handleDelivery(o, Buffer.from(tampered), good.headers, (s) => got.push(s))).status, 401)
        assert.strictEqual((yield* SentryIssues.handleDelivery(o, Buffer.from(good.body), { ...good.headers, "sentry-hook-signature": undefined }, (s) => got.push(s))).status, 401)
        assert.strictEqual(got.length, 0)
        const alert = fake.webhook(id, "event_alert", "a5f1c0ffee")
        const v = yield* SentryIssues.handleDelivery(o, Buffer.from(alert.body), alert.headers, (s) => got.push(s))
        assert.strictEqual(v.outcome, "accepted")
        assert.strictEqual((got[0] as { evidence: { issueId: string } }).evidence.issueId, id)
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})
