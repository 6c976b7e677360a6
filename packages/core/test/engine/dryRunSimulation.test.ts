import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { Classifier, Diagnoser, Guardrail, GuardrailStore, Notifier, Plan, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

interface Facts {
  readonly down: boolean
}

const capKey = `kills:${TargetRef.key(W.target)}`

/** A runbook whose plan terminates `n` sessions, each step capped (a denial does not stop the others), or bare. */
const make = (n: number, capped: boolean) => {
  const kill = Testing.recordingHandler("w.kill", {
    guardrails: [Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key: Guardrail.keys.perTarget("kills"), max: 20 })]
  })
  const steps = Array.from({ length: n }, (_, i) => {
    const act = Plan.act(W.action("w.kill", { n: i }))
    return capped ? Plan.fallback(act, Plan.seq(), { on: ["denied"] }) : act
  })
  const runbook = Runbook.make<Facts>({
    id: "test.world.kills",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.world.kills", "w.down", `terminate ${n}`, Plan.seq(...steps))),
    defaultMode: "dry_run"
  })
  return { kill, runbook, layer: Testing.layer({ handlers: [kill] }) }
}

const handled = (r: Runbook.HandleResult) => (Runbook.isAwaitingApproval(r) ? assert.fail("no approval expected") : r)

describe("dry_run simulates the plan's own consumption", () => {
  it.effect("30 kills under a 20/min cap: 20 previewed, 10 marked 'auto would deny', in the posted plan; the store is unchanged; auto agrees", () => {
    const { kill, layer, runbook } = make(30, true)
    return Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      const r = handled(yield* Runbook.handle(runbook, W.signal(now), { mode: "dry_run" }))
      assert.strictEqual(r.status, "dry_run")
      const statuses = r.outcomes.map((o) => o.status)
      assert.strictEqual(statuses.filter((s) => s === "dry_run").length, 20)
      assert.strictEqual(statuses.filter((s) => s === "denied").length, 10)
      // The first 20 in plan order pass, the last 10 are the ones auto would refuse.
      assert.deepStrictEqual(statuses, [...Array(20).fill("dry_run"), ...Array(10).fill("denied")])
      for (const o of r.outcomes.slice(20)) assert.match(o.detail, /^auto would deny: kills_per_minute_cap 20 reached: 20 used/)
      const denials = r.decisions.filter((d) => d.decision === "deny")
      assert.strictEqual(denials.length, 10)
      assert.ok(denials.every((d) => d.phase === "acquire" && d.guardrail === "kills_per_minute_cap" && d.reason?.startsWith("auto would deny: ")))
      // The posted plan carries them (SinkMessage renders non-allow decisions as "Guardrails would stop").
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.plans.length, 1)
      assert.strictEqual(rec.plans[0]!.decisions.filter((d) => d.reason?.startsWith("auto would deny")).length, 10)
      // Read-only: no budget taken, nothing journaled, no handler wrote.
      assert.strictEqual((yield* store.peekWindow(capKey, 60_000, yield* Clock.currentTimeMillis)).count, 0)
      assert.deepStrictEqual(yield* store.listIncidents({ all: true }), [])
      assert.deepStrictEqual(yield* store.readJournal(r.incidentId), [])
      assert.deepStrictEqual(kill.writes, [])
      // The same plan in auto (after the cooldown) applies exactly the 20 the preview allowed.
      yield* Testing.advance("6 minutes")
      const auto = handled(yield* Runbook.handle(runbook, W.signal(yield* Clock.currentTimeMillis), { mode: "auto" }))
      const autoStatuses = auto.outcomes.filter((o) => o.kind === "w.kill").map((o) => o.status)
      assert.deepStrictEqual(autoStatuses, [...Array(20).fill("applied"), ...Array(10).fill("denied")])
      assert.strictEqual(kill.writes.length, 20)
    }).pipe(Effect.provide(layer))
  })

  it.effect("budget already partly spent: 15 taken this minute → 5 previewed, 25 marked, and the 15 are still 15 afterwards", () => {
    const { layer, runbook } = make(30, true)
    return Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      const now = yield* Clock.currentTimeMillis
      yield* store.acquireWindow({ key: capKey, max: 20, windowMs: 60_000, now, weight: 15 })
      const r = handled(yield* Runbook.handle(runbook, W.signal(now), { mode: "dry_run" }))
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), [...Array(5).fill("dry_run"), ...Array(25).fill("denied")])
      assert.strictEqual((yield* store.peekWindow(capKey, 60_000, now)).count, 15)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a bare sequence stops where auto would stop: the 21st kill is denied and the rest is never reached", () => {
    const { layer, runbook } = make(30, false)
    return Effect.gen(function*() {
      const r = handled(yield* Runbook.handle(runbook, W.signal(yield* Clock.currentTimeMillis), { mode: "dry_run" }))
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), [...Array(20).fill("dry_run"), "denied"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a plan within the cap previews every step, with check decisions only", () => {
    const { layer, runbook } = make(20, true)
    return Effect.gen(function*() {
      const r = handled(yield* Runbook.handle(runbook, W.signal(yield* Clock.currentTimeMillis), { mode: "dry_run" }))
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), Array(20).fill("dry_run"))
      assert.ok(r.decisions.every((d) => d.phase === "check" && d.decision === "allow"))
    }).pipe(Effect.provide(layer))
  })
})
