/**
 * deploy.render.rollback on real-shape Render API responses (packages/cloud/fixtures/render/<class>/,
 * recorded from the fake by record-fixtures.ts): each fixture is decoded by the diagnoser's own
 * `Recording` schema, turned into facts by `factsOf` (the diagnoser's path), classified, planned, and
 * the plan compared with its reviewed golden (`<fixture>.plan.txt` beside it). Near misses sit on
 * both sides of every threshold: 4.9×/5.1× error rate, 119/121 s unhealthy, last green 5th/6th deploy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RenderBadDeploy, RenderDeployDiagnoser, RenderDeploys, RenderRollback } from "@byteport/cloud"

const here = path.dirname(new URL(import.meta.url).pathname)
const root = path.join(here, "..", "..", "fixtures", "render")
const file = (dir: string, name: string) => path.join(root, dir, `${name}.json`)
const classify = RenderBadDeploy.classifier()

const run = (dir: string, name: string) =>
  Effect.gen(function*() {
    const rec = yield* Testing.loadFixture(RenderDeployDiagnoser.Recording, file(dir, name))
    const facts = RenderDeployDiagnoser.factsOf(rec)
    const c = classify(facts)
    const signal = RenderDeploys.signalOf(rec.signal.serviceId, rec.signal.deployId, rec.signal.trigger, rec.signal.observedAt)
    const plan = c._tag === "Classified" ? yield* RenderRollback.make()(c, facts, signal) : undefined
    return { rec, facts, c, plan }
  })

/** decode → classify → plan, and the plan against its reviewed golden. */
const golden = (dir: string, name: string, cls: string, root_: "Seq" | "Escalate") =>
  Effect.gen(function*() {
    const r = yield* run(dir, name)
    assert.strictEqual(Classification.className(r.c), cls)
    assert.strictEqual(r.plan!.root._tag, root_)
    Testing.expectPlan(r.plan!, path.join(root, dir, `${name}.plan.txt`))
    return r
  })

const ratio = (f: { readonly facts: ReturnType<typeof RenderDeployDiagnoser.factsOf> }) =>
  f.facts.errorRate._tag === "Known" ? f.facts.errorRate.value.ratio : Number.NaN

describe("deploy.render.rollback: golden plans from real-shape Render responses", () => {
  for (const cls of ["error_rate_spike", "health_check_failing", "crash_loop"] as const) {
    it.effect(`${cls}: classified, golden plan (freeze, roll back to the last green, else deploy its commit)`, () => golden(cls, cls, cls, "Seq"))
  }

  it.effect("the recorded error rate: 20 % after vs 1 % before, 3000 requests each", () =>
    Effect.gen(function*() {
      const { facts } = yield* run("error_rate_spike", "error_rate_spike")
      const e = facts.errorRate._tag === "Known" ? facts.errorRate.value : undefined
      assert.closeTo(e!.ratio, 20, 1e-9)
      assert.closeTo(e!.baseline.total, 3000, 1e-9)
      assert.isTrue(e!.windowComplete)
    }))

  it.effect("error rate 4.9× the baseline: no class (escalate with diagnostics)", () =>
    Effect.gen(function*() {
      const r = yield* run("error_rate_spike", "near_miss_error_rate_4_9x")
      assert.strictEqual(r.c._tag, "Unclassified")
      assert.closeTo(ratio(r), 4.9, 1e-9)
    }))

  it.effect("error rate 5.1× the baseline: error_rate_spike, golden plan", () =>
    Effect.gen(function*() {
      const r = yield* golden("error_rate_spike", "over_error_rate_5_1x", "error_rate_spike", "Seq")
      assert.closeTo(ratio(r), 5.1, 1e-9)
    }))

  it.effect("10 requests per minute is too few → Indeterminate (never a guess)", () =>
    Effect.gen(function*() {
      const { facts, c } = yield* run("error_rate_spike", "near_miss_too_few_requests")
      assert.strictEqual(facts.errorRate._tag, "Unknown")
      assert.strictEqual(c._tag, "Indeterminate")
    }))

  it.effect("unhealthy for 119 s: no class", () =>
    Effect.gen(function*() {
      const { facts, c } = yield* run("health_check_failing", "near_miss_unhealthy_119s")
      assert.strictEqual(facts.health._tag === "Known" && "failingForMs" in facts.health.value ? facts.health.value.failingForMs : -1, 119_000)
      assert.notStrictEqual(Classification.className(c), "health_check_failing")
      assert.strictEqual(c._tag, "Unclassified")
    }))

  it.effect("unhealthy for 121 s: health_check_failing, golden plan", () =>
    Effect.gen(function*() {
      const { facts } = yield* golden("health_check_failing", "over_unhealthy_121s", "health_check_failing", "Seq")
      assert.strictEqual(facts.health._tag === "Known" && "failingForMs" in facts.health.value ? facts.health.value.failingForMs : -1, 121_000)
    }))

  it.effect("a newer deploy exists → the plan escalates (golden)", () => golden("crash_loop", "near_miss_not_newest", "crash_loop", "Escalate"))

  it.effect("the last green is the 5th of the last 5 deploys → rolled back to it (golden)", () =>
    Effect.gen(function*() {
      const { rec, plan } = yield* golden("crash_loop", "last_green_5th_of_5", "crash_loop", "Seq")
      assert.strictEqual(rec.deploys.length, 5)
      assert.include(plan!.summary, `last green ${rec.deploys[4]!.deploy.id}`)
    }))

  it.effect("the last green is the 6th deploy (outside the last 5) → escalation (golden)", () =>
    Effect.gen(function*() {
      const { rec } = yield* golden("crash_loop", "near_miss_last_green_6th", "crash_loop", "Escalate")
      assert.strictEqual(rec.deploys.length, 5)
      assert.isTrue(rec.deploys.slice(1).every((d) => d.deploy.status === "build_failed"))
    }))

  it.effect("a malformed fixture fails naming the field", () =>
    Effect.gen(function*() {
      const rec = JSON.parse(fs.readFileSync(file("crash_loop", "crash_loop"), "utf8")) as { deploys: Array<{ deploy: { status: unknown } }> }
      rec.deploys[1]!.deploy.status = 42
      const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "render-fx-")), "bad.json")
      fs.writeFileSync(tmp, JSON.stringify(rec))
      const e = yield* Effect.flip(Testing.loadFixture(RenderDeployDiagnoser.Recording, tmp))
      assert.deepStrictEqual(e.path, ["deploys", 1, "deploy", "status"])
      assert.include(e.message, `["deploys"][1]["deploy"]["status"]`)
      assert.include(e.message, "42")
    }))
})
