/**
 * `Catalog.run` and `Agent.run` resume open incidents at start, like `Runbook.run` (issue 8,
 * item 5): an agent that dies while verifying, restarted with the same identity, finishes its
 * incident from the journal — without acting twice — before it takes new signals. An open
 * incident of a runbook the catalog does not run is audited (`incident.unowned`), not dropped.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer } from "effect"
import { Agent, AgentId, Catalog, GuardrailStore, MemoryStore, Notifier, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "./resumeWorld"

const incidentId = "inc-catalog-resume"

/** Agent A opens the incident: the restart is applied, then verification hangs; then A dies. */
const crashWhileVerifying = (store: Layer.Layer<GuardrailStore.GuardrailStore>) =>
  Effect.gen(function*() {
    const verifying = yield* Deferred.make<void>()
    const handler = R.restartHandler(Effect.void)
    const hanging = R.runbook(() => Deferred.succeed(verifying, undefined).pipe(Effect.andThen(Effect.never)))
    const fiber = yield* Effect.forkChild(
      Runbook.handle(hanging, R.signal(), { incidentId }).pipe(
        Effect.provide(Testing.layer({ handlers: [handler], store })),
        Effect.provide(AgentId.layer("agent-a"))
      )
    )
    yield* Deferred.await(verifying)
    assert.strictEqual(handler.writes.length, 1)
    yield* Fiber.interrupt(fiber)
  })

const waitFor = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !done(); i++) yield* Effect.yieldNow
  })

describe("Catalog.run and Agent.run resume open incidents at start", () => {
  it.effect("Catalog.run: the restarted agent finishes its interrupted incident from the journal, without acting again", () =>
    Effect.gen(function*() {
      const s = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, s)
      yield* crashWhileVerifying(store)
      yield* Testing.advance("1 minute")
      const handler = R.restartHandler(Effect.void)
      const results: Array<Runbook.HandleResult> = []
      const other = { ...R.runbook(R.recovered), id: "test.other", family: "test.other", signals: ["other"] }
      const catalog = Catalog.make([R.runbook(R.recovered), other])
      const audit = yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Catalog.run(catalog, { onResult: (r) => Effect.sync(() => void results.push(r)) }))
        yield* waitFor(() => results.length > 0)
        assert.isUndefined(fiber.pollUnsafe()) // still running: it goes on to take new signals
        yield* Fiber.interrupt(fiber)
        return (yield* (yield* Notifier.NotifierRecording).get).audit
      }).pipe(Effect.provide(Testing.layer({ handlers: [handler], store })), Effect.provide(AgentId.layer("agent-a")))
      assert.strictEqual(results.length, 1)
      const r = results[0]!
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.incidentId, incidentId)
      assert.strictEqual(r.status, "recovered")
      assert.isTrue(r.timeline.some((t) => t.phase === "resume"))
      assert.strictEqual(handler.runs.length, 0) // applied before the crash: never re-run
      assert.deepStrictEqual(audit.filter((a) => a.event === "incident.resume_failed"), [])
      assert.include((yield* s.readJournal(incidentId)).map((e) => e.type), "closed")
    }))

  it.effect("Catalog.run: an open incident of a runbook the catalog does not run is audited incident.unowned and left open", () =>
    Effect.gen(function*() {
      const s = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, s)
      yield* crashWhileVerifying(store)
      const other = { ...R.runbook(R.recovered), id: "test.other", family: "test.other", signals: ["other"] }
      const results: Array<Runbook.HandleResult> = []
      const audit = yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Catalog.run(Catalog.make([other]), { onResult: (r) => Effect.sync(() => void results.push(r)) }))
        yield* waitFor(() => false)
        yield* Fiber.interrupt(fiber)
        return (yield* (yield* Notifier.NotifierRecording).get).audit
      }).pipe(Effect.provide(Testing.layer({ store })), Effect.provide(AgentId.layer("agent-a")))
      assert.deepStrictEqual(results, [])
      assert.deepStrictEqual(
        audit.filter((a) => a.event === "incident.unowned").map((a) => [a.data["runbook"], a.data["incidentId"]]),
        [["test.world.resume", incidentId]]
      )
      assert.notInclude((yield* s.readJournal(incidentId)).map((e) => e.type), "closed")
    }))

  it.live("Agent.run: the same, through the production layer (the store given, identity from BYTEPORT_AGENT_ID)", () =>
    Effect.gen(function*() {
      const s = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, s)
      yield* crashWhileVerifying(store)
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-agent-resume-"))
      const handler = R.restartHandler(Effect.void)
      const done = yield* Deferred.make<Runbook.HandleResult>()
      const fiber = yield* Effect.forkChild(
        Agent.run(Catalog.make([R.runbook(R.recovered)]), {
          handlers: [handler.handler],
          store,
          onResult: (r) => Effect.asVoid(Deferred.succeed(done, r))
        }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({
          BYTEPORT_MODE: "auto",
          BYTEPORT_AGENT_ID: "agent-a",
          BYTEPORT_AUDIT_LOG: nodePath.join(dir, "audit.jsonl")
        }))))
      )
      const r = yield* Deferred.await(done).pipe(Effect.timeout("20 seconds"))
      yield* Fiber.interrupt(fiber)
      fs.rmSync(dir, { recursive: true, force: true })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.incidentId, incidentId)
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(handler.runs.length, 0)
    }))
})
