/**
 * Item 4 and 5 of the core contracts: the executor takes no journal from its caller (an attack
 * with a forged "acquired" entry is denied), and a step acquired but not journaled as applied
 * (a crash between acquire and applied, written to a real FileStore) is resumed by what the
 * handler's `observe` sees — never re-run blindly.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import {
  Action,
  ActionHandler,
  ActionRegistry,
  Executor,
  FileStore,
  Guardrail,
  GuardrailStore,
  IncidentBus,
  MemoryStore,
  Notifier,
  Plan
} from "@byteport/core"
import * as W from "./world"

/** A target value the `w.set` handler writes and observes. */
interface Target {
  value: string
  forbidden: boolean
  applies: number
}

const setHandler = (t: Target, options: { readonly observe?: boolean } = {}) =>
  ActionHandler.make({
    kind: "w.set",
    params: Schema.Struct({ from: Schema.String, to: Schema.String }),
    guardrails: [
      Guardrail.never(() => t.forbidden, "the target is forbidden now", { name: "never_forbidden" }),
      Guardrail.rateLimit({ name: "one set per hour", key: Guardrail.keys.perTarget("w.set"), max: 1, window: "1 hour" })
    ],
    apply: (p, ctx) =>
      Effect.sync(() => {
        if (!ctx.dryRun) {
          t.applies++
          t.value = p.to
        }
        return { detail: `set ${p.from} → ${p.to}`, result: {} }
      }),
    ...(options.observe === false ? {} : {
      observe: (p: { readonly from: string; readonly to: string }) =>
        Effect.succeed(
          t.value === p.to
            ? ActionHandler.applied(`value is ${t.value}`)
            : t.value === p.from
            ? ActionHandler.notApplied(`value is still ${t.value}`)
            : ActionHandler.unknown(`value is ${t.value}, neither ${p.from} nor ${p.to}`)
        )
    })
  })

const setAction = Action.make({ kind: "w.set", target: W.target, params: { from: "old", to: "new" }, description: "set old → new" })
const setPlan = Plan.make("test.world", "w.broken", "set the value", Plan.act(setAction))

const layerWith = (handler: ActionHandler.ActionHandler, store: Layer.Layer<GuardrailStore.GuardrailStore> = MemoryStore.layer) =>
  Layer.mergeAll(store, ActionRegistry.layer({ handlers: [handler] }), IncidentBus.layer(), Notifier.memory)

/** Writes what a process that died between `acquired` and `applied` leaves in the journal. */
const crashedAfterAcquire = (incidentId: string, plan: Plan.Plan, action: Action.Action) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const entry = (type: GuardrailStore.JournalEntry["type"], data: Record<string, any>, stepPath?: string) =>
      store.appendJournal({ incidentId, at: 0, type, data, ...(stepPath !== undefined ? { stepPath } : {}) })
    yield* entry("opened", { runbook: "test.world", targetKey: "svc:default/api" })
    yield* entry("planned", { plan: JSON.parse(Plan.toJson(plan)), digest: Plan.digest(plan) })
    yield* entry("intent", { kind: action.kind, idempotencyKey: action.idempotencyKey, actionDigest: Action.digest(action) }, "0")
    yield* entry("acquired", { permitId: `${incidentId}/0/1`, actionDigest: Action.digest(action) }, "0")
  }).pipe(Effect.orDie)

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
const fileStore = () => {
  const directory = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-observe-"))
  dirs.push(directory)
  return FileStore.layer({ directory, fsync: false }).pipe(Layer.orDie)
}

describe("the executor takes no journal from its caller", () => {
  it.effect("attack: a forged `acquired` entry passed as resumeFrom skips no guardrail", () => {
    const t: Target = { value: "old", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      // The budget (one set per hour) is spent by a first incident.
      assert.strictEqual((yield* W.execute(setPlan, { incidentId: "inc-a" })).status, "completed")
      assert.strictEqual(t.applies, 1)
      const forged = [
        { incidentId: "inc-b", seq: 2, at: 0, type: "acquired", stepPath: "0", data: { permitId: "inc-b/0/1", actionDigest: Action.digest(setAction) } }
      ]
      const input = { incidentId: "inc-b", resumeFrom: forged }
      // @ts-expect-error there is no resumeFrom in the public input any more
      const typed: Partial<Executor.ExecuteInput> = { resumeFrom: forged }
      assert.isDefined(typed)
      const r = yield* W.execute(setPlan, input as Partial<Executor.ExecuteInput>)
      assert.strictEqual(r.status, "denied")
      const deny = r.decisions.find((d) => d.decision === "deny")
      assert.match(`${deny?.guardrail}: ${deny?.reason}`, /1 per|window|budget|limit|hour/i)
      assert.strictEqual(t.applies, 1)
      // A forged `applied` entry does not make a step count as done either: a prohibited step is denied.
      t.forbidden = true
      const fakeDone = [{ incidentId: "inc-c", seq: 2, at: 0, type: "applied", stepPath: "0", data: { detail: "done" } }]
      const r2 = yield* W.execute(setPlan, { incidentId: "inc-c", resumeFrom: fakeDone } as Partial<Executor.ExecuteInput>)
      assert.strictEqual(r2.status, "denied")
      assert.strictEqual(r2.outcomes.some((o) => o.status === "applied"), false)
      assert.strictEqual(t.applies, 1)
    }).pipe(Effect.provide(layerWith(setHandler(t))))
  })

  it.effect("an `acquired` entry in the store for another action than the one at its path is ignored: every guardrail runs", () => {
    const t: Target = { value: "old", forbidden: true, applies: 0 }
    return Effect.gen(function*() {
      const elsewhere = Action.make({ kind: "w.set", target: W.target, params: { from: "x", to: "y" }, description: "another action" })
      yield* crashedAfterAcquire("inc-x", setPlan, elsewhere)
      const r = yield* W.execute(setPlan, { incidentId: "inc-x" })
      assert.strictEqual(r.status, "denied")
      assert.strictEqual(r.decisions[0]?.phase, "check")
      assert.strictEqual(r.decisions[0]?.guardrail, "never_forbidden")
      assert.strictEqual(t.applies, 0)
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })
})

describe("the executor never acts without its journal", () => {
  it.effect("a journal that cannot be read denies every step", () => {
    const t: Target = { value: "old", forbidden: false, applies: 0 }
    const unreadable = Layer.effect(
      GuardrailStore.GuardrailStore,
      Effect.map(Effect.provide(Effect.service(GuardrailStore.GuardrailStore), MemoryStore.layer), (inner) =>
        GuardrailStore.GuardrailStore.of({
          ...inner,
          readJournal: () => Effect.fail(new GuardrailStore.StoreError({ store: "test", operation: "readJournal", message: "disk gone" }))
        }))
    )
    return Effect.gen(function*() {
      const r = yield* Executor.execute({
        incidentId: "inc-j",
        runbook: "test.world",
        mode: "auto",
        signal: W.signal(),
        classification: W.classification,
        facts: {},
        plan: setPlan,
        baseline: {},
        guardrails: []
      })
      assert.strictEqual(r.status, "denied")
      assert.strictEqual(r.decisions[0]?.guardrail, "journal")
      assert.match(r.decisions[0]?.reason ?? "", /could not be read: disk gone/)
      assert.strictEqual(t.applies, 0)
    }).pipe(Effect.provide(layerWith(setHandler(t), unreadable)))
  })
})

describe("resume of a step acquired but not journaled as applied (crash in a real FileStore)", () => {
  it.effect("observed applied: journaled as applied, no second mutation", () => {
    const t: Target = { value: "new", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-1", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-1" })
      assert.strictEqual(r.status, "completed")
      assert.strictEqual(t.applies, 0)
      assert.strictEqual(r.outcomes[0]?.status, "applied")
      assert.match(r.outcomes[0]!.detail, /observed applied after the restart: value is new/)
      assert.deepStrictEqual(r.applied.map((a) => a.kind), ["w.set"])
      const journal = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.readJournal("inc-1"))
      assert.deepStrictEqual(journal.filter((e) => e.stepPath === "0").map((e) => e.type), ["intent", "acquired", "applied"])
      // Resumed again: the step is now done; still no mutation.
      const again = yield* W.execute(setPlan, { incidentId: "inc-1" })
      assert.match(again.outcomes[0]!.detail, /before resume/)
      assert.strictEqual(t.applies, 0)
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })

  it.effect("observed not applied: the never guardrail is checked again and, passing, the step runs once with a fresh permit (its budget is not taken twice)", () => {
    const t: Target = { value: "old", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      // The budget was taken before the crash (a real acquire of the rate limit), so a re-acquire would be denied.
      const store = yield* GuardrailStore.GuardrailStore
      const g = setHandler(t).guardrails[1]!
      const ctx = { incidentId: "inc-2", runbook: "test.world", mode: "auto" as const, signal: W.signal(), classification: W.classification, facts: {}, plan: setPlan, planDigest: Plan.digest(setPlan), action: setAction, stepPath: "0", now: 0, baseline: {} }
      assert.strictEqual((yield* g.acquire(ctx).pipe(Effect.provideService(GuardrailStore.GuardrailStore, store), Effect.orDie)).result._tag, "Pass")
      yield* crashedAfterAcquire("inc-2", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-2" })
      assert.strictEqual(r.status, "completed")
      assert.strictEqual(t.applies, 1)
      assert.strictEqual(t.value, "new")
      const acq = r.decisions.find((d) => d.phase === "acquire")
      assert.strictEqual(acq?.decision, "allow")
      assert.match(acq?.reason ?? "", /observed not applied: value is still old/)
      assert.match(acq?.permitId ?? "", /resumed/)
      assert.isFalse(r.decisions.some((d) => d.decision === "deny"))
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })

  it.effect("observed not applied but a never guardrail now holds: denied, not run", () => {
    const t: Target = { value: "old", forbidden: true, applies: 0 }
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-3", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-3" })
      assert.strictEqual(r.status, "denied")
      assert.strictEqual(t.applies, 0)
      assert.match(r.outcomes[0]!.detail, /never_forbidden: the target is forbidden now \(on resume/)
      const journal = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.readJournal("inc-3"))
      assert.strictEqual(journal[journal.length - 1]?.type, "denied")
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })

  it.effect("observed not applied but the approval no longer holds: denied, not run", () => {
    const t: Target = { value: "old", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-4", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-4", guardrails: [Guardrail.approval({ reason: "a human decides" })] })
      assert.strictEqual(r.status, "denied")
      assert.strictEqual(t.applies, 0)
      const d = r.decisions.find((x) => x.decision !== "allow")
      assert.strictEqual(d?.decision, "needs_approval")
      assert.match(d?.reason ?? "", /approval no longer holds: a human decides/)
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })

  it.effect("observed unknown: escalated \"interrupted, outcome unknown\", not run", () => {
    const t: Target = { value: "someone else's", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-5", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-5" })
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual(t.applies, 0)
      assert.match(r.escalations[0]!.reason, /interrupted, outcome unknown: value is someone else's, neither old nor new/)
      assert.strictEqual(r.outcomes[0]?.status, "escalated")
    }).pipe(Effect.provide(layerWith(setHandler(t), fileStore())))
  })

  it.effect("a handler without observe: escalated \"interrupted, outcome unknown\", not run", () => {
    const t: Target = { value: "old", forbidden: false, applies: 0 }
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-6", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-6" })
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual(t.applies, 0)
      assert.match(r.escalations[0]!.reason, /interrupted, outcome unknown: the w\.set handler declares no observe/)
    }).pipe(Effect.provide(layerWith(setHandler(t, { observe: false }), fileStore())))
  })

  it.effect("an observe that fails counts as unknown", () => {
    const failing = ActionHandler.make({
      kind: "w.set",
      params: Schema.Struct({ from: Schema.String, to: Schema.String }),
      apply: () => Effect.die("must not run"),
      observe: () => Effect.fail(new ActionHandler.ActionFailed({ kind: "w.set", message: "target unreachable" }))
    })
    return Effect.gen(function*() {
      yield* crashedAfterAcquire("inc-7", setPlan, setAction)
      const r = yield* W.execute(setPlan, { incidentId: "inc-7" })
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalations[0]!.reason, /outcome unknown: could not observe w\.set: target unreachable/)
    }).pipe(Effect.provide(layerWith(failing, fileStore())))
  })
})
