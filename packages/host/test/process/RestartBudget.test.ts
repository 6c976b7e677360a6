/**
 * One restart budget per service across host.memory.five-class and host.memory.runaway: each
 * registers its own guardrails (five-class: backoff + `RestartBudget.guardrail`; runaway: the
 * crash-loop budget), both keyed by `RestartBudget.key`. Five-class restarts twice, runaway once →
 * the 4th restart in the hour is denied whichever runbook asks; runaway's diagnoser sees all three.
 */
import { Classification, Plan, Runbook, Signal, Verdict } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { HostMemoryFiveClass, HostMemoryRunaway, ProcessControl, RestartBudget } from "../../src/index"
import * as Wiring from "../../src/saturation/Wiring"

const service = HostMemoryRunaway.unitTarget("billing.service", "web-1")

/** A runbook whose plan restarts billing.service, guarded by `guardrails` (the real runbook's). */
const restarter = (id: string, guardrails: Runbook.MakeOptions<{}, never>["guardrails"]) =>
  Runbook.make<{}>({
    id,
    family: "host.memory",
    signals: [id],
    diagnose: () => Effect.succeed({}),
    classify: () => Classification.classified("runaway", 0.9, ["test"]),
    remediate: (_c, _f, signal) =>
      Effect.succeed(Plan.make(id, "runaway", "restart", Wiring.restartStep({ pid: signal.observedAt, starttime: signal.observedAt, comm: "java", unit: "billing.service" } as never, service.parent!, "restart billing.service"))),
    verify: () => Effect.succeed(Verdict.fromChecks([{ name: "x", ok: true, detail: "" }], 0)),
    ...(guardrails ? { guardrails } : {}),
    cooldown: "0 seconds"
  })

describe("RestartBudget: one budget per service across five-class and runaway", () => {
  it("both runbooks key the budget of a service the same way", () => {
    assert.strictEqual(HostMemoryRunaway.restartBudgetKey(service), RestartBudget.key(service))
    assert.strictEqual(RestartBudget.key(service), "host.service.restarts:host.unit:billing.service")
  })

  it.effect("five-class restarts twice, runaway once → a 4th in the hour is denied from either; after the hour one is allowed", () =>
    Effect.gen(function*() {
      const fiveClass = restarter("host.memory.five-class", HostMemoryFiveClass.guardrails())
      const runaway = restarter("host.memory.runaway", HostMemoryRunaway.guardrails())
      const restart = Testing.recordingHandler(ProcessControl.RESTART)
      const attempt = (rb: Runbook.Runbook<{}>) =>
        Effect.gen(function*() {
          const before = restart.writes.length
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          yield* Runbook.handle(rb, Signal.make({ type: rb.id, target: service, observedAt: at, source: "test", evidence: {} }), { mode: "auto" })
          return restart.writes.length > before
        })
      yield* Effect.gen(function*() {
        assert.isTrue(yield* attempt(fiveClass), "five-class 1")
        yield* TestClock.adjust("31 seconds")
        assert.isTrue(yield* attempt(fiveClass), "five-class 2 (after the 30 s backoff)")
        yield* TestClock.adjust("1 minute")
        assert.isTrue(yield* attempt(runaway), "runaway 1")
        // runaway's crash-loop probe reads the same budget: three restarts in the hour
        assert.strictEqual(yield* HostMemoryRunaway.restarts(Signal.make({ type: "x", target: service, observedAt: 0, source: "t", evidence: {} })), 3)
        // well past five-class's backoff (30 s × 2^2): only the shared budget can deny now
        yield* TestClock.adjust("10 minutes")
        assert.isFalse(yield* attempt(fiveClass), "five-class 3 = 4th restart of the service")
        assert.isFalse(yield* attempt(runaway), "runaway 2 = 4th restart of the service")
        assert.strictEqual(restart.writes.length, 3)
        // the first restart leaves the window after an hour: one more is allowed
        yield* TestClock.adjust("50 minutes")
        assert.isTrue(yield* attempt(runaway), "after the hour")
      }).pipe(Effect.provide(Testing.layer({ handlers: [restart] })))
    }), 60_000)
})
