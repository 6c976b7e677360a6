/**
 * The drain of `byteport run` on SIGTERM: a running action step (journal `intent` written, no
 * `applied` yet) keeps the agent from stopping until it finishes; after the drain starts, a new
 * step's `intent` is held back (so it takes no budget and is not journaled: the next leader
 * resumes the incident from the step before it).
 */
import { assert, describe, it } from "@effect/vitest"
import { GuardrailStore, MemoryStore } from "@byteport/core"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Run from "../src/Run"

describe("Run.makeDrain", () => {
  it.effect("idle waits for the running step; a new step's intent waits after start; other entries pass", () =>
    Effect.gen(function*() {
      const drain = yield* Run.makeDrain
      const layer = drain.wrap(Layer.effect(GuardrailStore.GuardrailStore, MemoryStore.make()))
      yield* Effect.gen(function*() {
        const store = yield* GuardrailStore.GuardrailStore
        yield* store.appendJournal({ incidentId: "i1", at: 1, type: "opened", data: { runbook: "r", targetKey: "t:x" } })
        yield* store.appendJournal({ incidentId: "i1", at: 2, type: "intent", stepPath: "0.0", data: {} })
        assert.deepStrictEqual(yield* drain.running, ["i1/0.0"])
        yield* drain.start
        const idle = yield* Effect.forkChild(drain.idle)
        yield* TestClock.adjust("1 second")
        assert.isUndefined(idle.pollUnsafe(), "the running step holds the stop")
        // a new step's intent is held back
        yield* store.appendJournal({ incidentId: "i2", at: 3, type: "opened", data: { runbook: "r", targetKey: "t:y" } })
        const next = yield* Effect.forkChild(store.appendJournal({ incidentId: "i2", at: 3, type: "intent", stepPath: "0", data: {} }))
        yield* TestClock.adjust("1 second")
        assert.isUndefined(next.pollUnsafe())
        // the running step finishes: the stop proceeds
        yield* store.appendJournal({ incidentId: "i1", at: 4, type: "applied", stepPath: "0.0", data: {} })
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(idle)
        assert.deepStrictEqual(yield* drain.running, [])
        yield* Fiber.interrupt(next)
        const journal = yield* store.readJournal("i2")
        assert.deepStrictEqual(journal.map((e) => e.type), ["opened"], "the held-back intent was never written")
        assert.deepStrictEqual((yield* store.readJournal("i1")).map((e) => e.type), ["opened", "intent", "applied"])
      }).pipe(Effect.provide(layer))
    }))
})
