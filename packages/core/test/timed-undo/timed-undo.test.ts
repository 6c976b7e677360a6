/**
 * Timed undos: a handler's `timedUndo` is journaled in the store before its change, fired by
 * `TimedUndo.loop` (which `Catalog.run` runs) when due — also by a fresh agent after a restart
 * on the same FileStore / MemoryStore — cancelled when the change failed, retried when denied
 * and abandoned (escalated) after `maxAttempts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, ActionHandler, AgentId, Catalog, Classification, Executor, FileStore, Guardrail, GuardrailStore, MemoryStore, Notifier, Plan, TimedUndo } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** A tiny "world": one setting, "info" unless switched. */
const world = { level: "info", writes: 0, failNext: false, failAfterWrite: false }
const target = { kind: "demo.service", ref: "shop/web" }

const setLevel = ActionHandler.make({
  kind: "demo.setLevel",
  params: Schema.Struct({ to: Schema.String, from: Schema.String, undo: Schema.optionalKey(Schema.Boolean) }),
  guardrails: [Guardrail.never((c) => c.action.params["to"] === "forbidden", "never forbidden", { name: "never_forbidden" })],
  apply: (p, ctx) =>
    Effect.suspend(() => {
      if (world.failNext) {
        world.failNext = false
        return Effect.fail(new ActionHandler.ActionFailed({ kind: "demo.setLevel", message: "refused" }))
      }
      if (!ctx.dryRun) {
        world.level = p.to
        world.writes++
      }
      if (world.failAfterWrite) {
        world.failAfterWrite = false
        return Effect.fail(new ActionHandler.ActionFailed({ kind: "demo.setLevel", message: "lost the answer after writing" }))
      }
      return Effect.succeed({ detail: `level ${p.from} → ${p.to}`, result: { to: p.to } })
    }),
  observe: (p) => Effect.sync(() => (world.level === p.to ? ActionHandler.applied(world.level) : world.level === p.from ? ActionHandler.notApplied(world.level) : ActionHandler.unknown(world.level))),
  timedUndo: (p, action) =>
    p.undo ? undefined : { after: "24 hours", action: Action.make({ kind: "demo.setLevel", target: action.target, params: { to: p.from, from: p.to, undo: true }, description: `restore level ${p.from}` }) }
})

const debugOn = Action.make({ kind: "demo.setLevel", target, params: { to: "debug", from: "info" }, description: "debug logging on" })
let seq = 0

const runPlan = (action: Action.Action, mode: "auto" | "dry_run" = "auto") =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const incidentId = `inc-tu-${++seq}`
    yield* Effect.orDie(store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "demo.rb", targetKey: "demo.service:shop/web" } }))
    return yield* Executor.execute({
      incidentId,
      runbook: "demo.rb",
      mode,
      signal: { type: "demo", target, observedAt: 0, evidence: {} },
      classification: Classification.classified("demo", 0.9, ["demo"]),
      facts: {},
      plan: Plan.make("demo.rb", "demo", action.description, Plan.act(action)),
      baseline: {},
      guardrails: []
    })
  })

const reset = () => {
  world.level = "info"
  world.writes = 0
  world.failNext = false
  world.failAfterWrite = false
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "byteport-timed-undo-"))

describe("TimedUndo", () => {
  it.effect("the undo is journaled before the change and runs when due, not before", () =>
    Effect.gen(function*() {
      reset()
      const r = yield* runPlan(debugOn)
      assert.strictEqual(r.status, "completed")
      assert.strictEqual(world.level, "debug")
      const pending = yield* TimedUndo.pending
      assert.strictEqual(pending.length, 1)
      assert.strictEqual(pending[0]!.action.params["to"], "info")
      assert.strictEqual(pending[0]!.dueAt - pending[0]!.scheduledAt, 24 * 3600_000)
      yield* TestClock.adjust("23 hours")
      assert.deepStrictEqual(yield* TimedUndo.runDue(), [])
      assert.strictEqual(world.level, "debug")
      yield* TestClock.adjust("1 hour")
      const ran = yield* TimedUndo.runDue()
      assert.strictEqual(ran.length, 1)
      assert.strictEqual(ran[0]!.status, "completed", ran[0]!.detail)
      assert.strictEqual(world.level, "info")
      assert.strictEqual((yield* TimedUndo.pending).length, 0)
      // the undo has its own journal, closed as undone
      const store = yield* GuardrailStore.GuardrailStore
      const j = yield* store.readJournal(ran[0]!.incidentId)
      assert.deepStrictEqual(j.map((e) => e.type).filter((t) => t === "opened" || t === "applied" || t === "closed"), ["opened", "applied", "closed"])
      // and it does not run twice
      assert.deepStrictEqual(yield* TimedUndo.runDue(), [])
    }).pipe(Effect.provide(Testing.layer({ handlers: [setLevel] }))))

  it.effect("dry_run schedules nothing; a failed change cancels its undo", () =>
    Effect.gen(function*() {
      reset()
      assert.strictEqual((yield* runPlan(debugOn, "dry_run")).status, "completed")
      assert.strictEqual((yield* TimedUndo.pending).length, 0)
      world.failNext = true
      assert.strictEqual((yield* runPlan(debugOn)).status, "failed")
      assert.strictEqual((yield* TimedUndo.pending).length, 0)
      assert.strictEqual(world.level, "info")
    }).pipe(Effect.provide(Testing.layer({ handlers: [setLevel] }))))

  it.effect("a change that failed after taking effect keeps its undo (observe decides)", () =>
    Effect.gen(function*() {
      reset()
      world.failAfterWrite = true
      assert.strictEqual((yield* runPlan(debugOn)).status, "failed")
      assert.strictEqual(world.level, "debug")
      assert.strictEqual((yield* TimedUndo.pending).length, 1)
      yield* TestClock.adjust("24 hours")
      yield* TimedUndo.runDue()
      assert.strictEqual(world.level, "info")
    }).pipe(Effect.provide(Testing.layer({ handlers: [setLevel] }))))

  it.effect("two agents on one store run a due undo once", () =>
    Effect.gen(function*() {
      reset()
      const shared = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, shared)
      yield* runPlan(debugOn).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store })))
      yield* TestClock.adjust("24 hours")
      const writes = world.writes
      const agent = (id: string) => TimedUndo.runDue().pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store })), Effect.provide(AgentId.layer(id)))
      const [a, b] = yield* Effect.all([agent("agent-a"), agent("agent-b")], { concurrency: 2 })
      assert.strictEqual([...a, ...b].filter((r) => r.status === "completed").length, 1, JSON.stringify([...a, ...b]))
      assert.strictEqual(world.writes, writes + 1)
      assert.strictEqual(world.level, "info")
    }))

  it.effect("survives an agent restart (FileStore): the next agent's loop fires it when due", () =>
    Effect.gen(function*() {
      reset()
      const dir = tmp()
      const store = FileStore.layer({ directory: dir, fsync: false })
      // agent 1 switches debug on, then goes away
      yield* runPlan(debugOn).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store })))
      assert.strictEqual(world.level, "debug")
      // agent 2: a fresh store instance on the same directory, a fresh registry, its loop
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* TimedUndo.pending).length, 1)
        const loop = yield* Effect.forkChild(TimedUndo.loop())
        yield* TestClock.adjust("12 hours")
        assert.strictEqual(world.level, "debug")
        yield* TestClock.adjust("12 hours")
        for (let i = 0; i < 50 && world.level !== "info"; i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
        assert.strictEqual(world.level, "info")
        assert.strictEqual((yield* TimedUndo.pending).length, 0)
        yield* Fiber.interrupt(loop)
      }).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store })))
      fs.rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("Catalog.run runs the loop (MemoryStore shared across a restart), woken by a new schedule", () =>
    Effect.gen(function*() {
      reset()
      const shared = yield* MemoryStore.make()
      const store = Layer.succeed(GuardrailStore.GuardrailStore, shared)
      // the catalog is already running (sleeping: nothing pending) when the change is made
      const agent = yield* Effect.forkChild(Catalog.run(Catalog.make<never>([])).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store }))))
      yield* TestClock.adjust("1 second")
      yield* runPlan(debugOn).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store })))
      yield* TestClock.adjust("23 hours")
      assert.strictEqual(world.level, "debug")
      yield* Fiber.interrupt(agent)
      // restart: a new agent on the same store
      const agent2 = yield* Effect.forkChild(Catalog.run(Catalog.make<never>([])).pipe(Effect.provide(Testing.layer({ handlers: [setLevel], store }))))
      yield* TestClock.adjust("1 hour")
      for (let i = 0; i < 50 && world.level !== "info"; i++) yield* Effect.yieldNow
      assert.strictEqual(world.level, "info")
      yield* Fiber.interrupt(agent2)
    }))

  it.effect("a denied undo is retried, then abandoned with an escalation and an audit event", () =>
    Effect.gen(function*() {
      reset()
      const forbidden = Action.make({ kind: "demo.setLevel", target, params: { to: "verbose", from: "forbidden" }, description: "verbose on" })
      yield* runPlan(forbidden) // its undo sets "forbidden": the kind's never guardrail denies it
      assert.strictEqual(world.level, "verbose")
      yield* TestClock.adjust("24 hours")
      const first = yield* TimedUndo.runDue({ retryAfter: "15 minutes", maxAttempts: 2 })
      assert.strictEqual(first[0]!.status, "denied")
      assert.strictEqual((yield* TimedUndo.pending)[0]!.attempts, 1)
      assert.deepStrictEqual(yield* TimedUndo.runDue({ maxAttempts: 2 }), []) // not before the retry
      yield* TestClock.adjust("15 minutes")
      const second = yield* TimedUndo.runDue({ maxAttempts: 2 })
      assert.strictEqual(second[0]!.status, "abandoned")
      assert.strictEqual((yield* TimedUndo.pending).length, 0)
      const store = yield* GuardrailStore.GuardrailStore
      const types = (yield* store.readJournal(second[0]!.incidentId)).map((e) => e.type)
      assert.include(types, "escalated")
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.isTrue(rec.audit.some((a) => a.event === "timed-undo.abandoned"))
    }).pipe(Effect.provide(Testing.layer({ handlers: [setLevel] }))))
})
