/**
 * A guardrail's name appears once in every denial text the engine composes: the escalation
 * reason, the incident timeline, the executor's outcome detail and journal entry. Table-driven
 * over every built-in guardrail (with its default name and with a custom one), plus a property
 * of the one function every composition goes through (`Guardrail.denialDetail`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Guardrail, GuardrailStore, Notifier, Plan, Report, Runbook } from "@byteport/core"
import * as W from "../engine/world"
import * as F from "../engine/fixture"

/** Non-overlapping occurrences of `needle` in `text`. */
const occurrences = (text: string, needle: string): number => text.split(needle).length - 1

const key = Guardrail.keys.perTarget("denial-test")

interface Case {
  readonly guardrail: Guardrail.Guardrail<never>
  /** Incidents run before the one that is denied (counted budgets are used up first). */
  readonly before: number
}

const cases: ReadonlyArray<Case> = [
  { guardrail: Guardrail.rateLimit({ name: "one prune per host per hour", key, max: 1, window: "1 hour" }), before: 1 },
  { guardrail: Guardrail.rateLimit({ key, max: 1, window: "1 hour" }), before: 1 },
  { guardrail: Guardrail.perMinuteCap({ name: "kills_per_minute_cap", key, max: 1 }), before: 1 },
  { guardrail: Guardrail.perMinuteCap({ key, max: 1 }), before: 1 },
  { guardrail: Guardrail.cooldown({ name: "scale cooldown", key, duration: "1 hour" }), before: 1 },
  { guardrail: Guardrail.cooldown({ key, duration: "1 hour" }), before: 1 },
  { guardrail: Guardrail.backoff({ name: "scale backoff", key }), before: 1 },
  { guardrail: Guardrail.backoff({ key }), before: 1 },
  { guardrail: Guardrail.ceiling({ name: "worker ceiling", proposed: () => 4, limit: () => 3 }), before: 0 },
  { guardrail: Guardrail.blastRadius({ name: "keep two healthy", minHealthy: 2, observe: () => Effect.succeed({ healthy: 2, total: 2 }) }), before: 0 },
  { guardrail: Guardrail.blastRadius({ maxUnhealthy: 0, observe: () => Effect.succeed({ healthy: 2, total: 2 }) }), before: 0 },
  { guardrail: Guardrail.changeWindow({ name: "holiday freeze", deny: { start: 0, end: 8.64e15 } }), before: 0 },
  { guardrail: Guardrail.changeWindow({ deny: { start: 0, end: 8.64e15 } }), before: 0 },
  { guardrail: Guardrail.minConfidence(0.95, { name: "confidence floor" }), before: 0 },
  { guardrail: Guardrail.minConfidence(0.95), before: 0 },
  { guardrail: Guardrail.never(() => true, "scaling is frozen"), before: 0 },
  { guardrail: Guardrail.never(() => true, "scaling is frozen", { name: "no scaling" }), before: 0 },
  { guardrail: Guardrail.requireOptIn("BYTEPORT_TEST_DENIAL_OPT_IN", { name: "scale opt-in" }), before: 0 },
  { guardrail: Guardrail.requireOptIn("BYTEPORT_TEST_DENIAL_OPT_IN"), before: 0 },
  { guardrail: Guardrail.requireAnnotation("byteport.io/scale", "allow", { name: "scale annotation", annotations: () => ({}) }), before: 0 },
  { guardrail: Guardrail.requireAnnotation("byteport.io/scale", "allow", { annotations: () => ({}) }), before: 0 },
  { guardrail: Guardrail.named("one scale per pool per hour", Guardrail.rateLimit({ key, max: 1, window: "1 hour" })), before: 1 },
  { guardrail: Guardrail.when(() => true, Guardrail.rateLimit({ name: "scales per hour", key, max: 1, window: "1 hour" })), before: 1 }
]

describe("a denial names its guardrail once", () => {
  for (const c of cases) {
    const name = c.guardrail.name
    it.effect(`${name}: escalation reason and timeline`, () => {
      const pool = F.makePool()
      return Effect.gen(function*() {
        const rb = F.runbook(pool, { cooldown: "1 millis", guardrails: [c.guardrail] })
        for (let i = 0; i < c.before; i++) {
          const r = yield* Runbook.handle(rb, F.signal())
          assert.isFalse(Runbook.isAwaitingApproval(r))
          if (!Runbook.isAwaitingApproval(r)) assert.strictEqual(r.status, "recovered", `run ${i + 1} of ${name} must pass`)
          pool.workers = 2
          pool.queue = 500
          yield* TestClock.adjust("1 second")
        }
        const r = yield* Runbook.handle(rb, F.signal())
        if (Runbook.isAwaitingApproval(r)) return assert.fail("unexpected approval")
        assert.strictEqual(r.status, "escalated")
        const got = yield* (yield* Notifier.NotifierRecording).get
        const reason = got.escalations[0]!.reason
        assert.match(reason, /guardrails denied the plan/)
        assert.strictEqual(occurrences(reason, name), 1, reason)
        const lines = r.timeline.filter((t) => t.phase === "guardrails" && t.message.includes(" by "))
        assert.isAbove(lines.length, 0)
        for (const l of lines) assert.strictEqual(occurrences(l.message, name), 1, l.message)
        // the decision record carries the name in `guardrail`, its reason does not repeat it in front
        const denied = r.decisions.filter((d) => d.decision === "deny")
        assert.isAbove(denied.length, 0)
        for (const d of denied) {
          assert.strictEqual(d.guardrail, name)
          assert.isFalse((d.reason ?? "").startsWith(`${name}: `), d.reason)
        }
        // the postmortem's decisions table: one row per denial, the name in its column
        const md = Report.toMarkdown(r)
        const rows = md.split("\n").filter((l) => l.startsWith("| ") && l.includes("| deny |"))
        assert.isAbove(rows.length, 0)
        for (const row of rows) if (!(denied[0]!.reason ?? "").startsWith(name)) assert.strictEqual(occurrences(row, name), 1, row)
      }).pipe(Effect.provide(F.layer(pool)))
    })
  }

  it.effect("the issue's example: a rate limit named 'one prune per host per hour' denied at acquire (outcome detail and journal)", () => {
    const world = W.makeWorld()
    const hs = W.handlers(world)
    const name = "one prune per host per hour"
    // the check passes (the budget looked free), the acquire finds it used: the executor's acquire path
    const racing = Guardrail.make({
      name,
      check: () => Effect.succeed(Guardrail.pass),
      acquire: () => Effect.succeed({ result: Guardrail.deny(`${name}: 1 of 1 used in the last 1h for host-7`), release: Guardrail.noRelease })
    })
    return Effect.gen(function*() {
      const res = yield* W.execute(Plan.make("test.world", "w.broken", "prune", Plan.act(W.action("w.ok", { n: 1 }))), { guardrails: [racing] })
      assert.strictEqual(res.status, "denied")
      assert.strictEqual(res.outcomes[0]!.detail, "one prune per host per hour: 1 of 1 used in the last 1h for host-7")
      const journal = yield* (yield* GuardrailStore.GuardrailStore).readJournal("inc-test")
      const denied = journal.find((e) => e.type === "denied")!
      assert.strictEqual(occurrences(String(denied.data["detail"]), name), 1)
    }).pipe(Effect.provide(W.layer(world, hs)))
  })

  it("denialDetail: the name once, whether or not the reason already starts with it", () => {
    const word = fc.stringMatching(/^[a-z][a-z _()/0-9.]{0,20}[a-z)]$/)
    fc.assert(
      fc.property(word, fc.string({ maxLength: 40 }), fc.boolean(), (name, rest, prefixed) => {
        fc.pre(!rest.includes(name) && !name.includes(rest.trim() === "" ? "\u0000" : rest))
        const reason = prefixed ? `${name}: ${rest}` : rest
        const text = Guardrail.denialDetail(name, reason)
        assert.strictEqual(occurrences(text, name), 1, text)
        assert.include(text, rest)
      })
    )
  })
})
