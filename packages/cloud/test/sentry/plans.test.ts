/**
 * deploy.sentry.classify: the documented patterns per class and language, the seed's order, the
 * deploy-correlation window's edges, and a reviewed golden plan per class.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, type Fact, Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as path from "node:path"
import { SentryErrorClass, SentryHandOff, SentryIssues } from "@byteport/cloud"
import type { SentryFake } from "@byteport/cloud/testing"
import * as C from "./cases"

const here = path.dirname(new URL(import.meta.url).pathname)
const DEPLOYED = Date.parse("2026-12-07T03:00:00.000Z")

type Case = { readonly platform: string; readonly exception: SentryFake.ExceptionSpec; readonly breadcrumbs?: ReadonlyArray<SentryFake.BreadcrumbSpec> }

const facts = (c: Case, o: { readonly firstSeenOffsetMs?: number; readonly firstRelease?: string | null; readonly deploy?: boolean } = {}): Fact.Facts<SentryErrorClass.SentryFacts> =>
  Testing.facts<SentryErrorClass.SentryFacts>({
    issue: {
      id: "4000000001",
      shortId: "SHOP-1",
      title: `${c.exception.type}: ${c.exception.value}`,
      culprit: c.exception.frames?.[c.exception.frames.length - 1]?.function ?? null,
      level: "error",
      platform: c.platform,
      org: "acme",
      project: "shop",
      firstSeen: DEPLOYED + (o.firstSeenOffsetMs ?? 240_000),
      lastSeen: DEPLOYED + 600_000,
      count: 12,
      permalink: "https://acme.sentry.io/issues/4000000001/",
      firstRelease: o.firstRelease === undefined ? "shop@1.5.0" : o.firstRelease
    },
    event: {
      exceptions: [{ type: c.exception.type, value: c.exception.value, module: c.exception.module ?? null, frames: (c.exception.frames ?? []).map((f) => `${f.module ?? f.filename ?? "?"}${f.function ? `.${f.function}` : ""}`) }],
      breadcrumbs: (c.breadcrumbs ?? []).map((b) => ({ category: b.category ?? null, message: b.message ?? null, method: (b.data?.["method"] as string | undefined) ?? null, url: (b.data?.["url"] as string | undefined) ?? null, statusCode: typeof b.data?.["status_code"] === "number" ? b.data["status_code"] : null })),
      message: null
    },
    deploy: o.deploy === false ? null : { release: "shop@1.5.0", environment: "production", deployedAt: DEPLOYED, previousRelease: "shop@1.4.0" }
  })

const classify = SentryErrorClass.classifier()
const cls = (f: Fact.Facts<SentryErrorClass.SentryFacts>) => Classification.className(classify(f))

describe("SentryErrorClass: documented patterns per language", () => {
  for (const lang of ["javascript", "python", "java", "go"] as const) {
    it(`${lang}: db_connection, oom, upstream_5xx (each also deploy-correlated in time: the seed's order puts them first)`, () => {
      assert.strictEqual(cls(facts(C.dbConnection[lang])), "db_connection")
      assert.strictEqual(cls(facts(C.oom[lang])), "oom")
      assert.strictEqual(cls(facts(C.upstream5xx[lang], { deploy: false })), "upstream_5xx")
      assert.strictEqual(cls(facts(C.upstream5xx[lang])), "deploy_correlation", "deploy_correlation comes before upstream_5xx")
    })
  }
  it("a 200 breadcrumb is not an upstream 5xx; a 5xx breadcrumb is", () => {
    assert.strictEqual(cls(facts(C.regression, { deploy: false })), "unknown")
    const five = { ...C.regression, breadcrumbs: [{ type: "http", category: "fetch", data: { method: "GET", url: "/api/cart", status_code: 500 } }] }
    assert.strictEqual(cls(facts(five, { deploy: false })), "upstream_5xx")
  })
})

describe("SentryErrorClass: deploy_correlation's window", () => {
  it("first seen 1 min before the deploy: not deploy_correlation (near miss)", () => {
    assert.strictEqual(cls(facts(C.regression, { firstSeenOffsetMs: -60_000 })), "unknown")
  })
  it("first seen at the deploy, 4 min and exactly 30 min after: deploy_correlation; 30 min 1 s after: not", () => {
    for (const ms of [0, 240_000, 1_800_000]) assert.strictEqual(cls(facts(C.regression, { firstSeenOffsetMs: ms })), "deploy_correlation", String(ms))
    assert.strictEqual(cls(facts(C.regression, { firstSeenOffsetMs: 1_801_000 })), "unknown")
    assert.strictEqual(Classification.className(SentryErrorClass.classifier({ correlationWindowMs: 3_600_000 })(facts(C.regression, { firstSeenOffsetMs: 1_801_000 }))), "deploy_correlation")
  })
  it("first seen in an older release than the one deployed (present before it): not deploy_correlation", () => {
    assert.strictEqual(cls(facts(C.regression, { firstRelease: "shop@1.4.0" })), "unknown")
    assert.strictEqual(cls(facts(C.regression, { firstRelease: null, deploy: false })), "unknown")
  })
  it("confidences are documented defaults ≥ 0.70, configurable; an unknown deploy fact is Indeterminate (never a guess)", () => {
    assert.isTrue(Object.values(SentryErrorClass.defaultConfidences).every((c) => c >= 0.7))
    assert.strictEqual(SentryErrorClass.classifier({ confidences: { deploy_correlation: 0.5 } })(facts(C.regression))._tag, "Unclassified")
    const f = { ...facts(C.regression), deploy: { _tag: "Unknown" as const, probe: "sentry.release_deploys", reason: "HTTP 500" } }
    assert.strictEqual(classify(f)._tag, "Indeterminate")
  })
})

describe("deploy.sentry.classify: golden plans", () => {
  const signal = SentryIssues.signalOf("acme", "shop", "4000000001", "webhook", DEPLOYED + 300_000)
  const cases: ReadonlyArray<[string, Fact.Facts<SentryErrorClass.SentryFacts>]> = [
    ["db_connection", facts(C.dbConnection.python)],
    ["oom", facts(C.oom.java)],
    ["deploy_correlation", facts(C.regression)],
    ["upstream_5xx", facts(C.upstream5xx.javascript, { deploy: false })],
    ["unknown", facts(C.novel, { deploy: false })]
  ]
  for (const [name, f] of cases) {
    it.effect(`${name}: golden plan (hand-off or escalation only)`, () =>
      Effect.gen(function*() {
        const c = classify(f)
        assert.strictEqual(Classification.className(c), name)
        const plan = yield* SentryHandOff.make()(c as Classification.Classified, f, signal)
        Testing.expectPlan(plan, path.join(here, "golden", `${name}.plan.txt`))
        assert.deepStrictEqual(Plan.actions(plan.root), [], "acts only by hand-off")
        assert.strictEqual(plan.root._tag, name === "deploy_correlation" || name === "oom" ? "HandOff" : "Escalate")
      }))
  }
})
