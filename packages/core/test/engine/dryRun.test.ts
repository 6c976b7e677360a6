import { assert, describe, it } from "@effect/vitest"
import { Clock, ConfigProvider, Effect } from "effect"
import { Classifier, Diagnoser, Guardrail, GuardrailStore, Notifier, Plan, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

interface Facts {
  readonly down: boolean
}

const make = (remediations: { count: number }) => {
  const write = Testing.recordingHandler("w.write", {
    guardrails: [Guardrail.rateLimit({ name: "writes per hour", key: Guardrail.keys.perTarget("w.write"), max: 5, window: "1 hour" })]
  })
  const restart = Testing.recordingHandler("w.restart")
  const runbook = Runbook.make<Facts>({
    id: "test.world.down",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () =>
      Effect.sync(() => {
        remediations.count++
        return Plan.make("test.world.down", "w.down", "write, then restart", Plan.seq(Plan.act(W.action("w.write", { n: 1 })), Plan.act(W.action("w.restart", { n: 2 }))))
      }),
    guardrails: [Guardrail.rateLimit({ name: "runbook budget", key: Guardrail.keys.perRunbook("budget"), max: 3, window: "1 hour" })],
    defaultMode: "auto"
  })
  return { write, restart, runbook, layer: Testing.layer({ handlers: [write, restart] }) }
}

const leaseKey = `target:${TargetRef.key(W.target)}`

describe("modes", () => {
  it.effect("dry_run: no handler writes, no budget is spent, nothing is journaled or leased; the plan is posted", () => {
    const counter = { count: 0 }
    const { layer, restart, runbook, write } = make(counter)
    return Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      const peek = () =>
        Effect.all([store.peekWindow(`w.write:${TargetRef.key(W.target)}`, 3_600_000, now), store.peekWindow("budget:test.world.down", 3_600_000, now)])
      const before = yield* peek()
      const r = yield* Runbook.handle(runbook, W.signal(now), { mode: "dry_run" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "dry_run")
      // Every handler ran in dry_run mode, and none wrote.
      assert.deepStrictEqual([...write.runs, ...restart.runs].map((x) => x.mode), ["dry_run", "dry_run"])
      assert.deepStrictEqual([...write.writes, ...restart.writes], [])
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), ["dry_run", "dry_run"])
      // Only read-only checks were made.
      assert.deepStrictEqual(r.decisions.map((d) => d.phase), ["check", "check"])
      const after = yield* peek()
      assert.deepStrictEqual(after.map((p) => p.count), before.map((p) => p.count))
      assert.deepStrictEqual(after.map((p) => p.count), [0, 0])
      assert.deepStrictEqual(yield* store.listIncidents({ all: true }), [])
      assert.deepStrictEqual(yield* store.readJournal(r.incidentId), [])
      assert.strictEqual(yield* store.getLease(leaseKey), undefined)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.plans.length, 1)
      assert.strictEqual(rec.plans[0]!.planDigest, Plan.digest(r.plan!))
      // The same runbook in auto does write (so the test above is not vacuous).
      const auto = yield* Runbook.handle(runbook, W.signal(now), { mode: "auto" })
      if (Runbook.isAwaitingApproval(auto)) return assert.fail("no approval expected")
      assert.strictEqual(auto.status, "recovered")
      assert.strictEqual(write.writes.length + restart.writes.length, 2)
      assert.strictEqual((yield* peek())[0].count, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("observe builds no plan: remediate is never called and no handler runs", () => {
    const counter = { count: 0 }
    const { layer, restart, runbook, write } = make(counter)
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(runbook, W.signal(), { mode: "observe" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "observed")
      assert.strictEqual(r.classification?._tag, "Classified")
      assert.strictEqual(r.plan, undefined)
      assert.strictEqual(counter.count, 0)
      assert.deepStrictEqual([...write.runs, ...restart.runs], [])
    }).pipe(Effect.provide(layer))
  })

  it.effect("observe records only and dry_run never pages: what would escalate goes out as info for the ops channel", () => {
    const counter = { count: 0 }
    const { layer, runbook } = make(counter)
    const unclassifiable = Runbook.make<Facts>({
      id: "test.world.down",
      signals: ["svc.down"],
      diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(false)) }),
      classify: runbook.classify,
      remediate: runbook.remediate,
      defaultMode: "auto"
    })
    return Effect.gen(function*() {
      for (const mode of ["observe", "dry_run", "auto"] as const) {
        const r = yield* Runbook.handle(unclassifiable, W.signal(), { mode })
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        assert.strictEqual(r.escalation?.severity, mode === "auto" ? "warning" : mode === "dry_run" ? "info" : undefined)
      }
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.deepStrictEqual(rec.escalations.map((e) => [e.severity, e.reason.slice(0, 10)]), [
        ["info", "[dry_run] "],
        ["warning", "unclassifi"]
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("the mode comes from BYTEPORT_MODE_<ID>, then BYTEPORT_MODE; an invalid value means observe", () => {
    const counter = { count: 0 }
    const { layer, runbook } = make(counter)
    const withEnv = (env: Record<string, string>) => <A, E, R>(eff: Effect.Effect<A, E, R>) =>
      Effect.provide(eff, ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
    return Effect.gen(function*() {
      const mode = (env: Record<string, string>) => Runbook.modeFor(runbook).pipe(withEnv(env), Effect.map((m) => m.mode))
      assert.strictEqual(yield* mode({}), "auto")
      assert.strictEqual(yield* mode({ BYTEPORT_MODE: "dry_run" }), "dry_run")
      assert.strictEqual(yield* mode({ BYTEPORT_MODE: "auto", BYTEPORT_MODE_TEST_WORLD_DOWN: "observe" }), "observe")
      assert.strictEqual(yield* mode({ BYTEPORT_MODE_TEST_WORLD_DOWN: "yolo" }), "observe")
      const r = yield* Runbook.handle(runbook, W.signal()).pipe(withEnv({ BYTEPORT_MODE_TEST_WORLD_DOWN: "observe" }))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.mode, "observe")
      assert.strictEqual(counter.count, 0)
    }).pipe(Effect.provide(layer))
  })
})
