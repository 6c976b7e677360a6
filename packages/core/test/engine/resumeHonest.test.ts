/**
 * Resume honestly: an incident whose process died between a step's `acquired` and `applied`
 * (a real interruption, journal in a real FileStore) is resumed by what the handler observes,
 * in the mode configured now — a lowered mode escalates instead of acting.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import { Action, ActionHandler, Classifier, Diagnoser, FileStore, Guardrail, GuardrailStore, Plan, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "./resumeWorld"
import * as W from "./world"

interface Target {
  value: string
  applies: number
}

const RUNBOOK = "test.world.honest"
const setAction = Action.make({ kind: "w.set", target: W.target, params: { from: "old", to: "new" }, description: "set old → new" })

const runbook = Runbook.make<R.Facts>({
  id: RUNBOOK,
  signals: ["svc.down"],
  diagnose: Diagnoser.make<R.Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
  classify: Classifier.firstMatch([Classifier.rule<R.Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
  remediate: () => Effect.succeed(Plan.make(RUNBOOK, "w.down", "set the value", Plan.act(setAction))),
  verify: R.recovered,
  defaultMode: "auto"
})

/** The `w.set` handler over a shared target; `apply` runs `hook` with the write (the crash decides when). */
const handler = (t: Target, options: { readonly hook?: (write: Effect.Effect<void>) => Effect.Effect<void>; readonly observe?: boolean } = {}) =>
  ActionHandler.make({
    kind: "w.set",
    params: Schema.Struct({ from: Schema.String, to: Schema.String }),
    guardrails: [Guardrail.rateLimit({ name: "one set per hour", key: Guardrail.keys.perTarget("w.set"), max: 1, window: "1 hour" })],
    apply: (p) => {
      const write = Effect.sync(() => {
        t.applies++
        t.value = p.to
      })
      return Effect.as(options.hook ? options.hook(write) : write, { detail: `set ${p.from} → ${p.to}`, result: {} })
    },
    ...(options.observe === false ? {} : {
      observe: (p: { readonly from: string; readonly to: string }) =>
        Effect.succeed(
          t.value === p.to
            ? ActionHandler.applied(`value is ${t.value}`)
            : t.value === p.from
            ? ActionHandler.notApplied(`value is still ${t.value}`)
            : ActionHandler.unknown(`value is ${t.value}`)
        )
    })
  })

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))

/** Runs the first process until its handler is inside `apply` (after or before the write), then kills it. */
const crash = (t: Target, store: () => Layer.Layer<GuardrailStore.GuardrailStore, any>, incidentId: string, when: "before" | "after") =>
  Effect.gen(function*() {
    const inside = yield* Deferred.make<void>()
    const dying = handler(t, {
      hook: (write) => (when === "after" ? write : Effect.void).pipe(Effect.andThen(Deferred.succeed(inside, undefined)), Effect.andThen(Effect.never))
    })
    yield* Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Runbook.handle(runbook, W.signal(), { incidentId, mode: "auto" }))
      yield* Deferred.await(inside)
      yield* Fiber.interrupt(fiber)
      const journal = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.readJournal(incidentId))
      const types = journal.filter((e) => e.stepPath === "0").map((e) => e.type)
      assert.deepStrictEqual(types, ["intent", "acquired"]) // acquired, not journaled as applied
    }).pipe(Effect.provide(Testing.layer({ handlers: [dying], store: store() })))
  })

const setup = () => {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-honest-"))
  dirs.push(dir)
  return () => FileStore.layer({ directory: dir, fsync: false })
}

describe("Runbook.resume never re-acts blindly", () => {
  it.effect("crash after the write: observed applied, journaled, no second mutation, no false rate-limit denial", () =>
    Effect.gen(function*() {
      const t: Target = { value: "old", applies: 0 }
      const store = setup()
      yield* crash(t, store, "inc-h1", "after")
      assert.strictEqual(t.applies, 1)
      const second = handler(t)
      const r = yield* Runbook.resume(runbook, "inc-h1", { mode: "auto" }).pipe(Effect.provide(Testing.layer({ handlers: [second], store: store() })))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(t.applies, 1)
      assert.isFalse(r.decisions.some((d) => d.decision === "deny"))
      assert.match(r.outcomes[0]!.detail, /observed applied after the restart/)
    }))

  it.effect("crash before the write: observed not applied, re-run once with a fresh permit (the budget taken before the crash is not taken again)", () =>
    Effect.gen(function*() {
      const t: Target = { value: "old", applies: 0 }
      const store = setup()
      yield* crash(t, store, "inc-h2", "before")
      assert.strictEqual(t.applies, 0)
      const r = yield* Runbook.resume(runbook, "inc-h2", { mode: "auto" }).pipe(Effect.provide(Testing.layer({ handlers: [handler(t)], store: store() })))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(t.applies, 1)
      assert.strictEqual(t.value, "new")
      assert.isFalse(r.decisions.some((d) => d.decision === "deny"))
      assert.strictEqual(r.outcomes[0]?.status, "applied")
    }))

  it.effect("a handler without observe: escalated \"interrupted, outcome unknown\", nothing re-run", () =>
    Effect.gen(function*() {
      const t: Target = { value: "old", applies: 0 }
      const store = setup()
      yield* crash(t, store, "inc-h3", "before")
      const r = yield* Runbook.resume(runbook, "inc-h3", { mode: "auto" }).pipe(
        Effect.provide(Testing.layer({ handlers: [handler(t, { observe: false })], store: store() }))
      )
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /interrupted, outcome unknown/)
      assert.strictEqual(t.applies, 0)
    }))

  it.effect("the mode configured now is lowered (BYTEPORT_MODE=dry_run): escalated \"mode lowered, 1 step unfinished\", nothing run, the incident closed", () =>
    Effect.gen(function*() {
      const t: Target = { value: "old", applies: 0 }
      const store = setup()
      yield* crash(t, store, "inc-h4", "before")
      const layer = Testing.layer({ handlers: [handler(t)], store: store() }).pipe(
        Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_MODE: "dry_run" } })))
      )
      const r = yield* Runbook.resume(runbook, "inc-h4").pipe(Effect.provide(layer))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /mode lowered to dry_run, 1 step unfinished/)
      assert.strictEqual(t.applies, 0)
      assert.deepStrictEqual(r.outcomes, [])
      const journal = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.readJournal("inc-h4")).pipe(
        Effect.provide(Testing.layer({ store: store() }))
      )
      assert.strictEqual(journal[journal.length - 1]?.type, "closed")
      // Resumed in auto afterwards: the closed report, still nothing run.
      const again = yield* Runbook.resume(runbook, "inc-h4", { mode: "auto" }).pipe(Effect.provide(Testing.layer({ handlers: [handler(t)], store: store() })))
      assert.strictEqual((again as { readonly status: string }).status, "escalated")
      assert.strictEqual(t.applies, 0)
    }))

  it.effect("a paused incident resumed in observe: escalated \"mode lowered to observe, 1 step unfinished\", nothing run", () =>
    Effect.gen(function*() {
      const t: Target = { value: "old", applies: 0 }
      const store = setup()
      const gated = { ...runbook, guardrails: [Guardrail.approval({ reason: "a human decides" })] }
      const paused = yield* Runbook.handle(gated, W.signal(), { incidentId: "inc-h5", mode: "auto" }).pipe(
        Effect.provide(Testing.layer({ handlers: [handler(t)], store: store() }))
      )
      assert.isTrue(Runbook.isAwaitingApproval(paused))
      const r = yield* Runbook.resume(gated, "inc-h5", { mode: "observe" }).pipe(Effect.provide(Testing.layer({ handlers: [handler(t)], store: store() })))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /mode lowered to observe, 1 step unfinished/)
      assert.strictEqual(t.applies, 0)
    }))
})
