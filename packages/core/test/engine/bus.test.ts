import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Classifier, Diagnoser, IncidentBus, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

/** Every incident hands off to the next target of the chain. */
const chain = Runbook.make<{ readonly n: number }>({
  id: "test.chain",
  signals: ["chain.step"],
  diagnose: Diagnoser.make<{ readonly n: number }>({ n: Diagnoser.probe("n", (s) => Effect.succeed(Number(s.evidence["n"]))) }),
  classify: Classifier.firstMatch([Classifier.rule<{ readonly n: number }>()({ class: "next", confidence: 0.9, needs: ["n"], when: () => true })]),
  remediate: (_c, facts) =>
    Effect.sync(() => {
      const n = (facts.n as any).value as number
      return Plan.make("test.chain", "next", `hand off to step ${n + 1}`, Plan.handOff(step(n + 1), `step ${n} depends on step ${n + 1}`))
    }),
  defaultMode: "auto"
})

const step = (n: number): Signal.Signal => ({ type: "chain.step", target: TargetRef.make("chain", `step-${n}`), observedAt: 0, evidence: { n } })

describe("IncidentBus", () => {
  it.effect("a child incident links to its parent; a chain beyond the hop limit escalates", () =>
    Effect.gen(function*() {
      const bus = yield* IncidentBus.IncidentBus
      const reports = []
      let signal = step(0)
      for (let i = 0; i < 4; i++) {
        const r = yield* Runbook.handle(chain, signal)
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        reports.push(r)
        if (r.status !== "handed_off") break
        const published = yield* bus.published
        signal = published[published.length - 1]!
      }
      assert.deepStrictEqual(reports.map((r) => r.status), ["handed_off", "handed_off", "escalated"])
      // parent links
      assert.strictEqual(reports[0]!.parent, undefined)
      assert.deepStrictEqual(reports[1]!.parent, { incidentId: reports[0]!.incidentId, runbook: "test.chain", hop: 1, handOff: `${reports[0]!.incidentId}/0` })
      assert.deepStrictEqual(reports[2]!.parent, { incidentId: reports[1]!.incidentId, runbook: "test.chain", hop: 2, handOff: `${reports[1]!.incidentId}/0` })
      assert.deepStrictEqual(reports[0]!.children, ["chain.step:chain:step-1"])
      // the third hand-off (hop 3) exceeds the limit of 2
      assert.match(reports[2]!.escalation!.reason, /hand-off refused: hand-off chain of 3 hops exceeds the limit of 2/)
      assert.strictEqual((yield* bus.published).length, 2)
    }).pipe(Effect.provide(Testing.layer({ hopLimit: 2 }))))

  it.effect("Runbook.run takes hand-offs of its own signal types from the bus", () =>
    Effect.gen(function*() {
      const bus = yield* IncidentBus.IncidentBus
      const got: Array<Runbook.HandleResult> = []
      const fiber = yield* Effect.forkChild(Runbook.run({ ...chain, defaultMode: "observe" }, { resumeOpen: false, onResult: (r) => Effect.sync(() => void got.push(r)) }))
      yield* Effect.yieldNow
      yield* Testing.advance("1 second")
      yield* bus.publish({ ...step(5), parent: { incidentId: "inc-parent", runbook: "other", hop: 1 } })
      for (let i = 0; i < 1000 && got.length === 0; i++) yield* Effect.yieldNow
      const r = got[0]!
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.deepStrictEqual(r.parent, { incidentId: "inc-parent", runbook: "other", hop: 1 })
      assert.strictEqual(r.status, "observed")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))
})
