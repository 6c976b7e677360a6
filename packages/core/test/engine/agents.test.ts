/**
 * Leases by agent: two agents share one store (a MemoryStore instance, or two FileStore instances over
 * one directory, as two processes would). An incident whose agent is alive is not resumed by the
 * other agent; once its lease expires (the agent died) the other takes it over; the same agent
 * re-entering its own incident renews its lease at once.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { AgentId, FileStore, GuardrailStore, MemoryStore, Notifier, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "./resumeWorld"
import * as W from "./world"

const incidentId = "inc-agents-1"
const leaseKey = `target:${TargetRef.key(W.target)}`

type StoreLayer = Layer.Layer<GuardrailStore.GuardrailStore, unknown>

/** Agent A starts the incident: the action is applied, then verification hangs (A is alive and busy). */
const startOnA = (storeA: StoreLayer) =>
  Effect.gen(function*() {
    const verifying = yield* Deferred.make<void>()
    const handler = R.restartHandler(Effect.void)
    const hanging = R.runbook(() => Deferred.succeed(verifying, undefined).pipe(Effect.andThen(Effect.never)))
    const fiber = yield* Effect.forkChild(
      Runbook.handle(hanging, R.signal(), { incidentId }).pipe(
        Effect.provide(Testing.layer({ handlers: [handler], store: storeA })),
        Effect.provide(AgentId.layer("agent-a"))
      )
    )
    yield* Deferred.await(verifying)
    assert.strictEqual(handler.writes.length, 1)
    return fiber
  })

/** An agent starting up: `Runbook.run` with no detector resumes the open incidents it may take. */
const startAgent = (agent: string, store: StoreLayer) =>
  Effect.gen(function*() {
    const handler = R.restartHandler(Effect.void)
    const results: Array<Runbook.HandleResult> = []
    const audit = yield* Effect.gen(function*() {
      yield* Runbook.run(R.runbook(R.recovered), { handOffs: false, onResult: (r) => Effect.sync(() => void results.push(r)) })
      const rec = yield* Notifier.NotifierRecording
      return (yield* rec.get).audit
    }).pipe(Effect.provide(Testing.layer({ handlers: [handler], store })), Effect.provide(AgentId.layer(agent)))
    return { results, runs: handler.runs.length, audit }
  })

const journalTypes = (store: StoreLayer) =>
  Effect.gen(function*() {
    const s = yield* GuardrailStore.GuardrailStore
    return (yield* s.readJournal(incidentId)).map((e) => e.type)
  }).pipe(Effect.provide(Layer.orDie(store)))

const lease = (store: StoreLayer) =>
  Effect.gen(function*() {
    const s = yield* GuardrailStore.GuardrailStore
    return yield* s.getLease(leaseKey)
  }).pipe(Effect.provide(Layer.orDie(store)))

const stores: ReadonlyArray<readonly [string, () => Effect.Effect<{ readonly a: StoreLayer; readonly b: StoreLayer; readonly cleanup: () => void }>]> = [
  ["one MemoryStore", () =>
    Effect.map(MemoryStore.make(), (s) => {
      const shared = Layer.succeed(GuardrailStore.GuardrailStore, s)
      return { a: shared, b: shared, cleanup: () => {} }
    })],
  ["one FileStore directory", () =>
    Effect.sync(() => {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-agents-"))
      return {
        a: FileStore.layer({ directory: dir, fsync: false }),
        b: FileStore.layer({ directory: dir, fsync: false }),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true })
      }
    })]
]

describe("leases by agent", () => {
  for (const [name, makeStores] of stores) {
    it.effect(`${name}: a live agent's incident is not resumed by another; after its lease expires it is taken over`, () =>
      Effect.gen(function*() {
        const { a, b, cleanup } = yield* makeStores()
        const fiberA = yield* startOnA(a)
        const held = yield* lease(b)
        assert.strictEqual(held?.holder, AgentId.holder("agent-a", incidentId))
        const before = yield* journalTypes(b)

        // B starts while A is alive: the incident is A's (lease Held), B leaves it alone.
        const first = yield* startAgent("agent-b", b)
        assert.deepStrictEqual(first.results, [])
        assert.strictEqual(first.runs, 0)
        assert.isTrue(first.audit.some((e) => e.event === "incident.held" && e.data["incidentId"] === incidentId))
        assert.deepStrictEqual(yield* journalTypes(b), before)
        assert.strictEqual((yield* lease(b))?.holder, AgentId.holder("agent-a", incidentId))

        // A dies; before its lease (30 minutes) expires B still leaves the incident alone.
        yield* Fiber.interrupt(fiberA)
        yield* Testing.advance("29 minutes")
        const second = yield* startAgent("agent-b", b)
        assert.deepStrictEqual(second.results, [])

        // Once the lease has expired, B takes the incident over and resumes it at verification.
        yield* Testing.advance("2 minutes")
        const third = yield* startAgent("agent-b", b)
        assert.strictEqual(third.results.length, 1)
        const r = third.results[0]!
        if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
        assert.strictEqual(r.incidentId, incidentId)
        assert.strictEqual(r.status, "recovered")
        assert.strictEqual(third.runs, 0) // applied by A before it died: never re-run
        assert.strictEqual(r.escalation, undefined) // no false rate-limit denial either
        assert.isTrue(r.timeline.some((t) => t.phase === "resume"))
        assert.include(yield* journalTypes(b), "closed")
        const after = yield* lease(b)
        assert.strictEqual(after?.holder, AgentId.holder("agent-b", incidentId))
        assert.strictEqual(after?.data["agent"], "agent-b")
        cleanup()
      }))
  }

  it.effect("the same agent re-entering its own incident renews its lease and resumes at once", () =>
    Effect.gen(function*() {
      const s = yield* MemoryStore.make()
      const shared: StoreLayer = Layer.succeed(GuardrailStore.GuardrailStore, s)
      const fiberA = yield* startOnA(shared)
      const taken = yield* lease(shared)
      yield* Fiber.interrupt(fiberA) // A restarts (same BYTEPORT_AGENT_ID)
      yield* Testing.advance("1 minute")
      const again = yield* startAgent("agent-a", shared)
      assert.strictEqual(again.results.length, 1)
      const r = again.results[0]!
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(again.runs, 0)
      const renewed = yield* lease(shared)
      assert.strictEqual(renewed?.holder, AgentId.holder("agent-a", incidentId))
      // taken at 0 for 30 minutes; renewed by the same agent at 1 minute, then kept through the 5-minute cooldown
      assert.strictEqual(taken?.expiresAt, 30 * 60_000)
      assert.strictEqual(renewed?.data["cooldown"], true)
      assert.strictEqual(renewed?.expiresAt, 60_000 + 5 * 60_000)
    }))

  it.effect("a new incident on a target another agent holds is a duplicate of that agent's incident", () =>
    Effect.gen(function*() {
      const s = yield* MemoryStore.make()
      const shared: StoreLayer = Layer.succeed(GuardrailStore.GuardrailStore, s)
      const fiberA = yield* startOnA(shared)
      const dup = yield* Runbook.handle(R.runbook(R.recovered), R.signal(), { incidentId: "inc-agents-2" }).pipe(
        Effect.provide(Testing.layer({ handlers: [R.restartHandler(Effect.void)], store: shared })),
        Effect.provide(AgentId.layer("agent-b"))
      )
      if (Runbook.isAwaitingApproval(dup)) return assert.fail("no approval expected")
      assert.strictEqual(dup.status, "duplicate")
      assert.strictEqual(dup.duplicateOf, incidentId)
      assert.isTrue(dup.timeline.some((t) => /agent agent-a/.test(t.message)))
      yield* Fiber.interrupt(fiberA)
    }))
})
