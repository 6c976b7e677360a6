import { assert, describe, it } from "@effect/vitest"
import { Clock, ConfigProvider, Effect, Fiber, Stream } from "effect"
import { Classifier, Detector, Diagnoser, Guardrail, GuardrailStore, Notifier, Plan, Runbook, TargetRef } from "@byteport/core"
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
  it.effect("dry_run: no handler writes, no budget is spent, nothing is journaled; the only store write is the target's lease (then its cooldown); the plan is posted", () => {
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
      // Every handler ran in dry_run mode, and none wrote to the target.
      assert.deepStrictEqual([...write.runs, ...restart.runs].map((x) => x.mode), ["dry_run", "dry_run"])
      assert.deepStrictEqual([...write.writes, ...restart.writes], [])
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), ["dry_run", "dry_run"])
      // Only read-only checks were made: no budget spent.
      assert.deepStrictEqual(r.decisions.map((d) => d.phase), ["check", "check"])
      const after = yield* peek()
      assert.deepStrictEqual(after.map((p) => p.count), before.map((p) => p.count))
      assert.deepStrictEqual(after.map((p) => p.count), [0, 0])
      // Nothing journaled; the one bookkeeping write is the lease, kept through the cooldown.
      assert.deepStrictEqual(yield* store.listIncidents({ all: true }), [])
      assert.deepStrictEqual(yield* store.readJournal(r.incidentId), [])
      const lease = yield* store.getLease(leaseKey)
      assert.strictEqual(lease?.data["incidentId"], r.incidentId)
      assert.strictEqual(lease?.data["cooldown"], true)
      assert.strictEqual(lease?.expiresAt, r.endedAt + 5 * 60_000)
      assert.strictEqual(yield* store.get(`baseline:${TargetRef.key(W.target)}`), undefined)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.plans.length, 1)
      assert.strictEqual(rec.plans[0]!.planDigest, Plan.digest(r.plan!))
      // The same runbook in auto, once the cooldown is over, does write (so the test above is not vacuous).
      yield* Testing.advance("5 minutes")
      const auto = yield* Runbook.handle(runbook, W.signal(now), { mode: "auto" })
      if (Runbook.isAwaitingApproval(auto)) return assert.fail("no approval expected")
      assert.strictEqual(auto.status, "recovered")
      assert.strictEqual(write.writes.length + restart.writes.length, 2)
      assert.strictEqual((yield* store.peekWindow(`w.write:${TargetRef.key(W.target)}`, 3_600_000, yield* Clock.currentTimeMillis)).count, 1)
    }).pipe(Effect.provide(layer))
  })

  for (const mode of ["dry_run", "observe"] as const) {
    it.effect(`${mode} de-duplicates: a crash-looping target signalling at every restart is one incident per cooldown, later signals linked to it`, () => {
      const counter = { count: 0 }
      const { layer, restart, runbook, write } = make(counter)
      return Effect.gen(function*() {
        // Three restarts in 100 s (what was measured on kube-sim: three plan posts), then one after the cooldown.
        const results: Array<Runbook.HandleResult> = []
        for (const wait of ["0 seconds", "40 seconds", "60 seconds", "5 minutes"] as const) {
          yield* Testing.advance(wait)
          results.push(yield* Runbook.handle(runbook, W.signal(yield* Clock.currentTimeMillis), { mode }))
        }
        const reports = results.map((r) => (Runbook.isAwaitingApproval(r) ? assert.fail("no approval expected") : r))
        assert.deepStrictEqual(reports.map((r) => r.status), [mode === "dry_run" ? "dry_run" : "observed", "duplicate", "duplicate", mode === "dry_run" ? "dry_run" : "observed"])
        assert.strictEqual(reports[1]!.duplicateOf, reports[0]!.incidentId)
        assert.strictEqual(reports[2]!.duplicateOf, reports[0]!.incidentId)
        const rec = yield* (yield* Notifier.NotifierRecording).get
        assert.strictEqual(rec.plans.length, mode === "dry_run" ? 2 : 0) // one post per cooldown, not one per restart
        assert.strictEqual(counter.count, mode === "dry_run" ? 2 : 0)
        assert.deepStrictEqual([...write.writes, ...restart.writes], [])
        const store = yield* GuardrailStore.GuardrailStore
        assert.deepStrictEqual(yield* store.listIncidents({ all: true }), [])
      }).pipe(Effect.provide(layer))
    })
  }

  it.effect("Runbook.run in dry_run: a crash-looping target's detector firing at every restart posts one plan per cooldown", () => {
    const counter = { count: 0 }
    const { layer, runbook } = make(counter)
    return Effect.gen(function*() {
      const restarts = Stream.fromIterable([0, 40, 60]).pipe(
        Stream.mapEffect((s) => Effect.andThen(Effect.sleep(`${s} seconds`), Effect.map(Clock.currentTimeMillis, (t) => W.signal(t))))
      )
      const rb = { ...runbook, detector: Detector.fromStream("restarts", restarts), defaultMode: "dry_run" as const }
      const results: Array<Runbook.HandleResult> = []
      const fiber = yield* Effect.forkChild(Runbook.run(rb, { handOffs: false, resumeOpen: false, onResult: (r) => Effect.sync(() => void results.push(r)) }))
      for (let i = 0; i < 200 && results.length < 3; i++) {
        yield* Effect.yieldNow
        yield* Testing.advance("1 second")
      }
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(results.map((r) => (Runbook.isAwaitingApproval(r) ? "awaiting" : r.status)), ["dry_run", "duplicate", "duplicate"])
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.plans.length, 1)
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
        yield* Testing.advance("6 minutes") // past the previous incident's cooldown lease on the target
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
