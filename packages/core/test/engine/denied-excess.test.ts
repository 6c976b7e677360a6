/**
 * A plan that completes while some of its actions were denied (each wrapped in a Fallback on
 * "denied", so one denial does not stop the others — the excess over a per-minute cap): the
 * incident is verified as usual and then escalated, naming the rejected actions. The status
 * stays what verification says.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Action, Classifier, Diagnoser, Guardrail, Notifier, Plan, Runbook, type Signal, TargetRef, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

const target = TargetRef.make("database", "test/appdb")
const signal: Signal.Signal = { type: "db.pool.exhaustion", target, observedAt: 0, evidence: {} }

const kill = (n: number) =>
  Action.make({ kind: "t.kill", target, params: { session: n }, description: `kill session ${n}` })

const world = (options: { readonly sessions: number; readonly cap: number; readonly recovered: boolean }) => {
  const handler = Testing.recordingHandler("t.kill", {
    guardrails: [
      Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key: Guardrail.keys.perTarget("t.kill"), max: options.cap })
    ]
  })
  const runbook = Runbook.make<{ readonly sessions: number }>({
    id: "test.denied.excess",
    signals: ["db.pool.exhaustion"],
    diagnose: Diagnoser.make({ sessions: Diagnoser.probe("sessions", () => Effect.succeed(options.sessions)) }),
    classify: Classifier.firstMatch([
      Classifier.rule<{ readonly sessions: number }>()({ class: "backlog", confidence: 0.9, needs: ["sessions"], when: (f) => f.sessions > 0 })
    ]),
    remediate: () =>
      Effect.succeed(
        Plan.make(
          "test.denied.excess",
          "backlog",
          `kill ${options.sessions} sessions`,
          Plan.seq(
            ...Array.from({ length: options.sessions }, (_, i) => Plan.fallback(Plan.act(kill(i)), Plan.seq(), { on: ["denied"] }))
          )
        )
      ),
    verify: Verifier.fromChecks(() => Effect.succeed([{ name: "utilization", ok: options.recovered, detail: options.recovered ? "52%" : "91%" }])),
    verifySchedule: Verifier.once("0 millis"),
    defaultMode: "auto"
  })
  return { handler, runbook, layer: Testing.layer({ handlers: [handler] }) }
}

describe("Runbook: denied excess inside a completed plan", () => {
  it.effect("25 eligible, cap 20: 20 applied, 5 denied; verified recovered, then escalated naming the 5", () => {
    const w = world({ sessions: 25, cap: 20, recovered: true })
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(w.runbook, signal)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.strictEqual(w.handler.writes.length, 20)
      assert.deepStrictEqual(w.handler.writes.map((x) => x.action.params["session"]), Array.from({ length: 20 }, (_, i) => i))
      const denied = r.outcomes.filter((o) => o.status === "denied")
      assert.strictEqual(denied.length, 5)
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(r.verdicts.at(-1)?._tag, "Recovered")
      assert.isDefined(r.escalation)
      assert.strictEqual(r.escalation!.severity, "warning")
      assert.match(r.escalation!.reason, /^recovered; 5 action\(s\) rejected by guardrails/)
      for (let i = 20; i < 25; i++) assert.include(r.escalation!.reason, kill(i).idempotencyKey)
      assert.notInclude(r.escalation!.reason, kill(19).idempotencyKey)
      assert.match(r.escalation!.reason, /kills_per_minute_cap 20 reached/)
      const sent = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(sent.escalations.length, 1)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("nothing denied: recovered without an escalation", () => {
    const w = world({ sessions: 5, cap: 20, recovered: true })
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(w.runbook, signal)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.strictEqual(r.status, "recovered")
      assert.isUndefined(r.escalation)
      assert.strictEqual(w.handler.writes.length, 5)
      const sent = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(sent.escalations.length, 0)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("denied excess and not recovered: escalated critical, the reason names both", () => {
    const w = world({ sessions: 4, cap: 3, recovered: false })
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(w.runbook, signal)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual(r.escalation?.severity, "critical")
      assert.match(r.escalation!.reason, /^not recovered after 1 checks: .*; 1 action\(s\) rejected by guardrails/)
      assert.include(r.escalation!.reason, kill(3).idempotencyKey)
    }).pipe(Effect.provide(w.layer))
  })

  it.effect("a denial (nested in a Fallback's primary) whose Fallback ran an alternative in its place is not escalated", () => {
    const never = Testing.recordingHandler("t.never", { guardrails: [Guardrail.never(() => true, "t.never is never allowed")] })
    const alt = Testing.recordingHandler("t.alt")
    const alt2 = Testing.recordingHandler("t.alt2")
    const act = (kind: string) => Action.make({ kind, target, params: {}, description: kind })
    const runbook = Runbook.make<{ readonly sessions: number }>({
      id: "test.denied.replaced",
      signals: ["db.pool.exhaustion"],
      diagnose: Diagnoser.make({ sessions: Diagnoser.probe("sessions", () => Effect.succeed(1)) }),
      classify: Classifier.firstMatch([
        Classifier.rule<{ readonly sessions: number }>()({ class: "backlog", confidence: 0.9, needs: ["sessions"], when: () => true })
      ]),
      remediate: () =>
        Effect.succeed(Plan.make("test.denied.replaced", "backlog", "try, else the alternative", Plan.fallback(Plan.seq(Plan.act(act("t.never")), Plan.act(act("t.alt"))), Plan.act(act("t.alt2")), { on: ["denied"] }))),
      verify: Verifier.fromChecks(() => Effect.succeed([{ name: "ok", ok: true, detail: "ok" }])),
      verifySchedule: Verifier.once("0 millis"),
      defaultMode: "auto"
    })
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(runbook, signal)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
      assert.deepStrictEqual(r.outcomes.map((o) => [o.kind, o.status]), [["t.never", "denied"], ["t.alt2", "applied"]])
      assert.strictEqual(r.status, "recovered")
      assert.isUndefined(r.escalation)
    }).pipe(Effect.provide(Testing.layer({ handlers: [never, alt, alt2] })))
  })
})
