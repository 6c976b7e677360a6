/**
 * An approval binds to the plan that was approved (issue 17 §1, kill -9 "while awaiting
 * approval"): a resumed pause re-diagnoses, and
 *
 * - when the fresh plan has the same actions and only a concurrency token moved (a precondition
 *   such as a workload's resourceVersion, bumped by every status update, and the idempotency key
 *   derived from it), the journaled plan stands: it runs once approved, with its own
 *   precondition, and an unapproved pause keeps its digest (no second request);
 * - when the diagnosis changed what the plan does after it was approved, the approval is never
 *   carried over and the approved plan is not run on facts that no longer hold: it escalates
 *   "plan changed since approval" and applies nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Action, ActionHandler, Approval, Classifier, Diagnoser, Guardrail, GuardrailStore, Notifier, Plan, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

const target = TargetRef.make("k8s.deployment", "prod/default/api")
interface Facts {
  readonly limit: number
  readonly resourceVersion: string
}
interface World {
  limit: number
  resourceVersion: string
  applied: Array<{ readonly to: number; readonly precondition: unknown }>
}

const bump = (world: World) =>
  ActionHandler.make({
    kind: "t.bumpLimit",
    params: Schema.Struct({ from: Schema.Number, to: Schema.Number }),
    apply: (p, ctx) =>
      Effect.sync((): ActionHandler.HandlerResult => {
        if (ctx.dryRun) return { detail: `would raise ${p.from} → ${p.to}`, result: {} }
        world.applied.push({ to: p.to, precondition: ctx.action.precondition })
        world.limit = p.to
        return { detail: `raised ${p.from} → ${p.to}`, result: {} }
      })
  })

const runbook = (world: World) =>
  Runbook.make<Facts>({
    id: "test.limit.bump",
    signals: ["pod.oom"],
    diagnose: Diagnoser.make<Facts>({
      limit: Diagnoser.probe("limit", () => Effect.sync(() => world.limit)),
      resourceVersion: Diagnoser.probe("resourceVersion", () => Effect.sync(() => world.resourceVersion))
    }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "undersized", confidence: 0.9, needs: ["limit"], when: () => true })]),
    remediate: (_c, facts) => {
      const from = (facts.limit as any).value as number
      return Effect.succeed(
        Plan.make(
          "test.limit.bump",
          "undersized",
          `raise the limit ${from} → ${from * 1.5}`,
          Plan.act(Action.make({
            kind: "t.bumpLimit",
            target,
            params: { from, to: from * 1.5 },
            // the concurrency token: the workload as the diagnosis read it
            precondition: { resourceVersion: (facts.resourceVersion as any).value as string },
            description: `raise the limit ${from} → ${from * 1.5}`
          }))
        )
      )
    },
    guardrails: [Guardrail.approval({ reason: "a limit bump needs a human here" })],
    verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 })),
    defaultMode: "auto",
    approvalTimeout: "1 hour"
  })

const signal = { type: "pod.oom", target, observedAt: 0, evidence: {} }

const paused = (r: Runbook.HandleResult): Runbook.AwaitingApproval => {
  if (!Runbook.isAwaitingApproval(r)) throw new Error(`expected a pause, got ${r.status}`)
  return r
}
const ended = (r: Runbook.HandleResult) => {
  if (Runbook.isAwaitingApproval(r)) throw new Error(`expected an end, got a pause for ${r.planDigest}`)
  return r
}

describe("an approval binds to the approved plan", () => {
  it.effect("the diagnosis changes what the plan does after the approval: escalated \"plan changed since approval\", nothing applied", () => {
    const world: World = { limit: 512, resourceVersion: "63", applied: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal))
      yield* Approval.approve(p.incidentId, { planDigest: p.planDigest, approver: "oncall" })
      // after the approval, someone raised the limit by hand: the fresh diagnosis plans 640 → 960
      world.limit = 640
      world.resourceVersion = "64"
      const r = ended(yield* Runbook.resume(rb, p.incidentId))
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /plan changed since approval/)
      assert.include(r.escalation!.reason, p.planDigest.slice(0, 12))
      assert.include(r.escalation!.reason, "oncall")
      assert.deepStrictEqual(world.applied, [])
      assert.strictEqual(world.limit, 640)
      // closed: a second resume returns the recorded report, still nothing applied
      const again = ended(yield* Runbook.resume(rb, p.incidentId))
      assert.strictEqual(again.status, "escalated")
      assert.deepStrictEqual(world.applied, [])
      const journal = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.readJournal(p.incidentId))
      assert.isFalse(journal.some((e) => e.type === "applied" || e.type === "intent"), "no step started")
    }).pipe(Effect.provide(Testing.layer({ handlers: [bump(world)] })))
  })

  it.effect("only the precondition moved (a status update bumped the resourceVersion): the journaled, approved plan runs once, with its own precondition", () => {
    const world: World = { limit: 512, resourceVersion: "63", applied: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal))
      yield* Approval.approve(p.incidentId, { planDigest: p.planDigest, approver: "oncall" })
      world.resourceVersion = "121"
      const r = ended(yield* Runbook.resume(rb, p.incidentId))
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? null))
      assert.deepStrictEqual(world.applied, [{ to: 768, precondition: { resourceVersion: "63" } }])
      assert.isTrue(r.timeline.some((t) => /only their preconditions moved/.test(t.message)))
    }).pipe(Effect.provide(Testing.layer({ handlers: [bump(world)] })))
  })

  it.effect("not yet approved and only the precondition moved: the pause keeps its digest, no second request", () => {
    const world: World = { limit: 512, resourceVersion: "63", applied: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal))
      world.resourceVersion = "70"
      const again = paused(yield* Runbook.resume(rb, p.incidentId))
      assert.strictEqual(again.planDigest, p.planDigest)
      assert.strictEqual(again.expiresAt, p.expiresAt)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.plans.length, 1, "one approval request")
      assert.deepStrictEqual(world.applied, [])
      yield* Approval.approve(p.incidentId, { planDigest: p.planDigest, approver: "oncall" })
      world.resourceVersion = "71"
      const r = ended(yield* Runbook.resume(rb, p.incidentId))
      assert.strictEqual(r.status, "recovered")
      assert.deepStrictEqual(world.applied, [{ to: 768, precondition: { resourceVersion: "63" } }])
    }).pipe(Effect.provide(Testing.layer({ handlers: [bump(world)] })))
  })
})
