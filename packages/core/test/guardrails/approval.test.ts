import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { GuardrailStore } from "../../src/GuardrailStore"
import * as Guardrails from "../../src/Guardrails"
import { acquire, check, ctx, reasonOf, withStore } from "./helpers"

const { Approval } = Guardrails
const HOUR = 3_600_000

describe("approval", () => {
  const g = Guardrails.approval({ reason: "draining a node moves every pod on it" })

  it.effect("NeedsApproval until an approval for this incident and this plan is recorded", () =>
    withStore(Effect.gen(function*() {
      const c = yield* ctx({ incidentId: "inc-7" })
      const before = yield* g.check(c)
      assert.strictEqual(before._tag, "NeedsApproval")
      assert.strictEqual(reasonOf(before), "draining a node moves every pod on it")
      yield* Approval.grant("inc-7", { planDigest: c.planDigest, approver: "alice", expiresAt: c.now + HOUR })
      assert.strictEqual((yield* g.check(c))._tag, "Pass")
      assert.strictEqual((yield* g.acquire(c)).result._tag, "Pass")
      // bound to the incident: another incident still needs its own approval
      assert.strictEqual((yield* check(g, { incidentId: "inc-8", planDigest: c.planDigest }))._tag, "NeedsApproval")
    })))

  it.effect("a stale digest (the plan changed) asks again", () =>
    withStore(Effect.gen(function*() {
      const c = yield* ctx({ incidentId: "inc-7" })
      yield* Approval.grant("inc-7", { planDigest: "0".repeat(64), approver: "bob", expiresAt: c.now + HOUR })
      const r = yield* g.check(c)
      assert.strictEqual(r._tag, "NeedsApproval")
      assert.include(reasonOf(r), "the approval by bob was for another plan; the plan changed")
    })))

  it.effect("an approval counts until just before expiresAt, not at it", () =>
    withStore(Effect.gen(function*() {
      const c0 = yield* ctx({ incidentId: "inc-7" })
      yield* Approval.grant("inc-7", { planDigest: c0.planDigest, approver: "carol", expiresAt: c0.now + HOUR })
      yield* TestClock.adjust(HOUR - 1)
      assert.strictEqual((yield* check(g, { incidentId: "inc-7" }))._tag, "Pass")
      yield* TestClock.adjust(1)
      const expired = yield* check(g, { incidentId: "inc-7" })
      assert.strictEqual(expired._tag, "NeedsApproval")
      assert.include(reasonOf(expired), "the approval by carol expired at 1970-01-01T01:00:00.000Z")
    })))

  it.effect("a malformed record asks again; revoke withdraws an approval", () =>
    withStore(Effect.gen(function*() {
      const c = yield* ctx({ incidentId: "inc-7" })
      const store = yield* GuardrailStore
      yield* store.compareAndSet(Approval.key("inc-7"), 0, { planDigest: c.planDigest, approver: "" })
      const r = yield* g.check(c)
      assert.strictEqual(r._tag, "NeedsApproval")
      assert.include(reasonOf(r), "the recorded approval is malformed")
      yield* Approval.grant("inc-7", { planDigest: c.planDigest, approver: "dave", expiresAt: c.now + HOUR, approvedAt: c.now })
      assert.strictEqual((yield* g.check(c))._tag, "Pass")
      yield* Approval.revoke("inc-7")
      assert.strictEqual((yield* g.check(c))._tag, "NeedsApproval")
      assert.deepStrictEqual(yield* Approval.read("inc-7"), { _tag: "None" })
    })))

  it.effect("when: only the selected actions need approval", () =>
    withStore(Effect.gen(function*() {
      const drains = Guardrails.approval({ when: (c) => c.action.kind === "k8s.drainNode", reason: (c) => `approve ${c.action.kind}` })
      assert.strictEqual((yield* check(drains, { kind: "k8s.cordon" }))._tag, "Pass")
      const r = yield* acquire(drains, { kind: "k8s.drainNode" })
      assert.strictEqual(r.result._tag, "NeedsApproval")
      assert.strictEqual(reasonOf(r.result), "approve k8s.drainNode")
    })))

  it.effect("the key and the record Schema are the contract the ApprovalChannel writes", () =>
    Effect.sync(() => {
      assert.strictEqual(Approval.key("inc-42"), "approval:inc-42")
      const decode = Schema.decodeUnknownSync(Approval.ApprovalRecord)
      assert.deepStrictEqual(decode({ planDigest: "abc", approver: "erin", expiresAt: 5 }), { planDigest: "abc", approver: "erin", expiresAt: 5 })
      assert.throws(() => decode({ planDigest: "abc", approver: "erin" }))
      assert.throws(() => decode({ planDigest: "", approver: "erin", expiresAt: 5 }))
    }))

  it.effect("granting an invalid record fails with a typed error naming the field and writes nothing", () =>
    withStore(Effect.gen(function*() {
      const err = yield* Effect.flip(Approval.grant("inc-9", { planDigest: "abc", approver: "", expiresAt: 5 }))
      assert.strictEqual(err._tag, "StoreError")
      assert.include(err.message, "invalid input: approval record for approval:inc-9")
      assert.include(err.message, "approver")
      assert.deepStrictEqual(yield* Approval.read("inc-9"), { _tag: "None" })
    })))
})
