/**
 * k8s.restart-loop.container: a reviewed golden plan per class from kubectl recordings
 * (`fixtures/restartloop/<class>`), near-misses, the hand-off's evidence against core's schema,
 * and property tests of its nevers.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Fact, HandOffs, Plan } from "@byteport/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as RestartLoop from "../../src/classifiers/restartLoop"
import type { RestartLoopFacts } from "../../src/classifiers/restartLoop"
import * as Messages from "../../src/probes/messages"
import * as Remediator from "../../src/remediators/restartLoop"
import * as SevenClassFixture from "../../src/testing/sevenClassFixture"

type Facts = Fact.Facts<RestartLoopFacts>
const root = path.join(import.meta.dirname, "../../fixtures/restartloop")
const load = (cls: string) => Effect.flatMap(SevenClassFixture.recorded(cls, SevenClassFixture.RESTART_LOOP), SevenClassFixture.decodeRestartLoop)
const cls = (f: Facts) => {
  const c = RestartLoop.classify()(f)
  return c._tag === "Classified" ? c.class : c._tag
}
const kinds = (p: Plan.Plan) => Plan.actions(p.root).map((a) => a.action.kind)

describe("k8s.restart-loop.container: golden plans from kubectl recordings", () => {
  it("there is a recording of every class", () => {
    assert.deepStrictEqual([...SevenClassFixture.names(SevenClassFixture.RESTART_LOOP)].sort(), [...RestartLoop.CLASSES].sort())
  })

  for (const c of RestartLoop.CLASSES) {
    it.effect(`${c}: classified from the recording; the plan is the golden one`, () =>
      Effect.gen(function*() {
        const { facts, signal } = yield* load(c)
        const k = RestartLoop.classify()(facts)
        assert.strictEqual(k._tag === "Classified" ? k.class : `${k._tag}: ${k.reasons.join("; ")}`, c)
        const text = `${Plan.toJson(Remediator.plan(k as any, facts, signal))}\n`
        const file = path.join(root, c, "plan.golden")
        if (process.env["BYTEPORT_UPDATE_GOLDEN"] === "1") fs.writeFileSync(file, text)
        assert.strictEqual(text, fs.readFileSync(file, "utf8"))
      }))
  }

  it.effect("the plans: escalate, hand-off then one restart, bump, escalate (no revision change), digest pin", () =>
    Effect.gen(function*() {
      const plans: Record<string, Plan.Plan> = {}
      for (const c of RestartLoop.CLASSES) {
        const { facts, signal } = yield* load(c)
        plans[c] = Remediator.plan(RestartLoop.classify()(facts) as any, facts, signal)
      }
      assert.deepStrictEqual(kinds(plans["config_or_secret"]!), [])
      assert.match(JSON.stringify(plans["config_or_secret"]!.root), /DATABASE_URL/)
      const dep = plans["dependency_failure"]!.root as any
      assert.strictEqual(dep._tag, "Seq")
      assert.strictEqual(dep.steps[0]._tag, "HandOff")
      assert.strictEqual(dep.steps[0].await, 600_000)
      // the evidence is core's DependencyUnavailable
      const ev = yield* HandOffs.decode(HandOffs.DependencyUnavailable, dep.steps[0].signal)
      assert.strictEqual(ev.dependency, "postgres")
      assert.match(ev.endpoint ?? "", /:5432$/)
      assert.strictEqual(dep.steps[1]._tag, "WaitFor")
      assert.deepStrictEqual(dep.steps[1].check.params, { namespace: "default", service: "postgres", host: ev.endpoint!.split(":")[0]!, port: 5432 })
      assert.strictEqual(dep.steps[2].action.kind, "k8s.restartPod")
      assert.deepStrictEqual(kinds(plans["oom"]!), ["k8s.patchMemoryLimit"])
      assert.deepStrictEqual(kinds(plans["port_bind"]!), [])
      assert.deepStrictEqual(kinds(plans["image_pull"]!), ["k8s.pinImageDigest"])
      const pin = Plan.actions(plans["image_pull"]!.root)[0]!.action.params as { fromImage: string; toImage: string }
      assert.strictEqual(pin.fromImage, "registry.example.com/shop/api:1.4.2")
      assert.match(pin.toImage, /^registry\.example\.com\/shop\/api@sha256:[0-9a-f]{64}$/)
    }))
})

describe("k8s.restart-loop.container: near-misses", () => {
  it.effect("kubelet reasons outrank log patterns: OOMKilled with 'connection refused' in the log is oom", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("dependency_failure")
      const oom = Fact.known(Messages.termination({ exitCode: 137, reason: "OOMKilled", startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:00:05Z" }))
      assert.strictEqual(cls(facts), "dependency_failure")
      assert.strictEqual(cls({ ...facts, termination: oom }), "oom")
      // a SIGKILL without OOMKilled (liveness) is not diagnosed from the log
      assert.strictEqual(cls({ ...facts, termination: Fact.known(Messages.termination({ exitCode: 137, reason: "Error" })) }), "Unclassified")
      // exit 78 is a configuration error whatever the log says
      assert.strictEqual(cls({ ...facts, termination: Fact.known(Messages.termination({ exitCode: 78, reason: "Error" })) }), "config_or_secret")
      // the log unknown: Indeterminate, never a guess
      assert.strictEqual(cls({ ...facts, previousLog: Fact.unknown("previous container log", "gone") }), "Indeterminate")
    }))

  it.effect("the same digest on every pod is no re-push; a re-push needs a Ready pod on the old digest", () =>
    Effect.gen(function*() {
      const { facts } = yield* load("image_pull")
      assert.isDefined(RestartLoop.rePushed(facts))
      const same = (Fact.value(facts.siblings) ?? []).map((s) => ({ ...s, digest: Fact.value(facts.imageIds)!.find((i) => i.container === "api")!.digest }))
      assert.isUndefined(RestartLoop.rePushed({ ...facts, siblings: Fact.known(same) }))
      const notReady = (Fact.value(facts.siblings) ?? []).map((s) => ({ ...s, ready: false }))
      assert.isUndefined(RestartLoop.rePushed({ ...facts, siblings: Fact.known(notReady) }))
      // then the panic is not classified here (no log pattern of this runbook)
      assert.strictEqual(cls({ ...facts, siblings: Fact.known(notReady) }), "Unclassified")
    }))

  it("the confidences: kubelet reasons and the image SHA above the log patterns; all ≥ 0.70", () => {
    const c = RestartLoop.CONFIDENCE
    for (const v of Object.values(c)) assert.isAtLeast(v, 0.70)
    for (const log of [c.configLog, c.dependencyLog, c.portBindLog]) for (const k of [c.configErrorReason, c.oomKilled, c.pullReason, c.rePushedTag]) assert.isAbove(k, log)
  })
})

describe("k8s.restart-loop.container: every never, property-tested", () => {
  it.effect("never a write for config/secret, never a bare pod, never a pin to another repository, never a restart before the dependency hand-off, never a delete of a volume", () =>
    Effect.gen(function*() {
      const bases: Array<{ facts: Facts; signal: any }> = []
      for (const c of RestartLoop.CLASSES) bases.push(yield* load(c))
      fc.assert(fc.property(
        fc.integer({ min: 0, max: bases.length - 1 }),
        fc.record({ bare: fc.boolean(), noLastGood: fc.boolean(), changes: fc.boolean(), otherRepo: fc.boolean() }),
        (i, m) => {
          const { facts, signal } = bases[i]!
          const h = Fact.value(facts.history)
          const owner = Fact.value(facts.owner)
          const sib = (Fact.value(facts.siblings) ?? []).map((s) => (m.otherRepo && s.imageID ? { ...s, imageID: s.imageID.replace("shop/api", "evil/api") } : s))
          const f: Facts = {
            ...facts,
            owner: Fact.known(m.bare ? null : owner ?? null),
            history: Fact.known(h ? { ...h, lastGood: m.noLastGood ? null : h.lastGood, changes: m.changes ? [{ path: "spec.containers[api].ports", before: null, after: [] }] : h.changes } : null),
            siblings: Fact.known(sib)
          }
          const c = RestartLoop.classify()(f)
          if (c._tag !== "Classified") return true
          const p = Remediator.plan(c, f, signal)
          const acts = Plan.actions(p.root).map((a) => a.action)
          for (const a of acts) assert.notMatch(`${a.kind} ${JSON.stringify(a.params)}`, /delete|PersistentVolume|evict|drain/i)
          if (c.class === "config_or_secret") assert.deepStrictEqual(acts, [])
          if (m.bare && c.class !== "config_or_secret") assert.deepStrictEqual(acts, [])
          for (const a of acts.filter((x) => x.kind === "k8s.pinImageDigest")) {
            const pp = a.params as { fromImage: string; toImage: string }
            assert.strictEqual(pp.toImage.split("@")[0], pp.fromImage.split(":")[0])
          }
          for (const a of acts.filter((x) => x.kind === "k8s.rollbackDeployment")) assert.isFalse(m.noLastGood)
          if (acts.some((a) => a.kind === "k8s.restartPod")) {
            const root = p.root as any
            assert.strictEqual(root._tag, "Seq")
            assert.strictEqual(root.steps[0]._tag, "HandOff")
            assert.isDefined(root.steps[0].await)
          }
          return true
        }
      ), { numRuns: 300 })
    }))
})
