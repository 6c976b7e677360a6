/**
 * Leadership through `Runbook.handle` / `Runbook.resume` (issue 18 §1): a leader that stops
 * leading before a step leaves the incident open (no escalation, no close) with the target
 * lease under its epoch; an agent without a newer epoch still finds the target held, and the new
 * leader (a newer epoch of the scope) takes the lease over at once and resumes the incident: one
 * action in all.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Ref } from "effect"
import { AgentId, GuardrailStore, Leadership, MemoryStore, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "./resumeWorld"
import * as W from "./world"

const scope = "byteport/byteport-agent-leader"

describe("leader failover through Runbook.handle and Runbook.resume", () => {
  it.effect("deposed before the step: the incident stays open; the new leader takes the target lease over and acts once", () =>
    Effect.gen(function*() {
      const shared = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, shared)
      const handler = R.restartHandler(Effect.void)
      const layerFor = (agent: string) => Layer.mergeAll(Testing.layer({ handlers: [handler], store }), AgentId.layer(agent))
      const incidentId = "inc-failover"

      // agent-a leads (epoch 1) when it takes the target lease, and no longer when the step would start
      const calls = yield* Ref.make(0)
      const fading: Leadership.LeadershipShape = {
        epoch: Effect.map(Ref.getAndUpdate(calls, (n) => n + 1), (n) => (n === 0 ? Option.some({ scope, value: 1 }) : Option.none())),
        stepDown: () => Effect.void
      }
      const exit = yield* Effect.exit(
        Runbook.handle(R.runbook(R.recovered), W.signal(), { incidentId }).pipe(
          Effect.provideService(Leadership.Leadership, fading),
          Effect.provide(layerFor("agent-a"))
        )
      )
      assert.isTrue(Exit.hasInterrupts(exit), String(exit))
      assert.strictEqual(handler.writes.length, 0)
      const types = (yield* shared.readJournal(incidentId)).map((e) => e.type)
      assert.notInclude(types, "escalated")
      assert.notInclude(types, "closed")
      assert.deepStrictEqual((yield* shared.listIncidents()).map((i) => i.incidentId), [incidentId])

      // an agent without a newer epoch finds the target held (the lease lives for its ttl)
      const held = yield* Runbook.resume(R.runbook(R.recovered), incidentId).pipe(Effect.provide(layerFor("agent-c")))
      assert.strictEqual((held as { status?: string }).status, "duplicate")
      assert.strictEqual(handler.writes.length, 0)

      // the new leader (epoch 2) takes the lease over at once and resumes: one action
      const next = yield* Leadership.fixed({ scope, value: 2 })
      const r = yield* Runbook.resume(R.runbook(R.recovered), incidentId).pipe(
        Effect.provideService(Leadership.Leadership, next),
        Effect.provide(layerFor("agent-b"))
      )
      assert.strictEqual((r as { status?: string }).status, "recovered", JSON.stringify(r).slice(0, 500))
      assert.strictEqual(handler.writes.length, 1)
      assert.deepStrictEqual(yield* next.stepDowns, [])
    }))
})
