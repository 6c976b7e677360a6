/**
 * A small deterministic "world" for executor and plan tests: recording handlers, counters the
 * checks read, and a plan builder. Used in-process and by the fresh-process plan runner
 * (scripts/runPlan.ts), so both sides see the same world.
 */
import { Effect, Layer } from "effect"
import {
  Action,
  ActionRegistry,
  Check,
  Classification,
  Executor,
  Guardrail,
  GuardrailStore,
  IncidentBus,
  MemoryStore,
  Notifier,
  Plan,
  type Signal,
  TargetRef
} from "@byteport/core"
import * as Testing from "@byteport/core/testing"

/** The one target of the world. */
export const target = TargetRef.make("svc", "default/api")

/** A signal on a target (default: the world's target, `svc.down`). */
export const signal = (observedAt = 0, t: TargetRef.TargetRef = target, type = "svc.down"): Signal.Signal => ({
  type,
  target: t,
  observedAt,
  evidence: { probe: "http 503" }
})

/** An action of `kind` on the target, numbered `n` (so two actions of one kind differ), with an optional undo. */
export const action = (kind: string, extra: { readonly n?: number; readonly undo?: Action.Action } = {}) =>
  Action.make({
    kind,
    target,
    params: { n: extra.n ?? 0 },
    description: `${kind}${extra.n !== undefined ? ` #${extra.n}` : ""}`,
    ...(extra.undo ? { undo: extra.undo } : {})
  })

/** Counters the checks read; `w.bump` increments `bumps`. */
export interface World {
  bumps: number
  ticks: number
}

/** A fresh world. */
export const makeWorld = (): World => ({ bumps: 0, ticks: 0 })

/** The handlers: w.ok (writes), w.bump (increments the counter), w.fail (always fails), w.denied (a guardrail denies). */
export const handlers = (world: World) => ({
  ok: Testing.recordingHandler("w.ok"),
  bump: Testing.recordingHandler("w.bump", { apply: () => Effect.sync(() => ({ bumps: ++world.bumps })) }),
  fail: Testing.recordingHandler("w.fail", { fail: "the target refused" }),
  denied: Testing.recordingHandler("w.denied", { guardrails: [Guardrail.never(() => true, "w.denied is never allowed")] })
})

/** Checks: `w.bumpsAtLeast` passes when bumps >= params.n; `w.ticksAtLeast` counts calls and passes at params.n. */
export const checks = (world: World) => [
  Check.make("w.bumpsAtLeast", (ref) =>
    Effect.sync(() => ({ name: ref.description, ok: world.bumps >= Number(ref.params["n"]), detail: `bumps ${world.bumps}` }))),
  Check.make("w.ticksAtLeast", (ref) =>
    Effect.sync(() => {
      world.ticks++
      return { name: ref.description, ok: world.ticks >= Number(ref.params["n"]), detail: `ticks ${world.ticks}` }
    }))
]

/** A CheckRef: at least `n` bumps. */
export const bumpsAtLeast = (n: number) => Plan.check("w.bumpsAtLeast", target, { n }, `at least ${n} bumps`)
/** A CheckRef: passes on its `n`th evaluation. */
export const ticksAtLeast = (n: number) => Plan.check("w.ticksAtLeast", target, { n }, `at least ${n} ticks`)

/** The services for executor tests over this world. */
export const layer = (world: World, hs = handlers(world), options: { readonly hopLimit?: number } = {}) =>
  Layer.mergeAll(
    MemoryStore.layer,
    ActionRegistry.layer({ handlers: Object.values(hs).map((h) => h.handler), checks: checks(world) }),
    IncidentBus.layer(options.hopLimit !== undefined ? { hopLimit: options.hopLimit } : {}),
    Notifier.memory
  )

/** The classification every world plan answers. */
export const classification = Classification.classified("w.broken", 0.9, ["test"])

/** Opens an incident's journal (the executor journals every auto step into it). */
export const open = (incidentId: string) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const existing = yield* store.readJournal(incidentId)
    if (existing.length > 0) return
    yield* store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "test.world", targetKey: TargetRef.key(target) } })
  }).pipe(Effect.orDie)

/** Runs a plan through the executor with the defaults of these tests (opening the incident first). */
export const execute = (
  plan: Plan.Plan,
  options: Partial<Executor.ExecuteInput> = {}
) =>
  Effect.andThen(open(options.incidentId ?? "inc-test"), Executor.execute({
    incidentId: options.incidentId ?? "inc-test",
    runbook: "test.world",
    mode: options.mode ?? "auto",
    signal: options.signal ?? signal(),
    classification,
    facts: {},
    plan,
    baseline: {},
    guardrails: [],
    ...options
  }))

/** A plan that exercises every step kind: Fallback (failed, denied, check), Until, WaitFor, HandOff, Propose, Escalate. */
export const everyStepPlan = (): Plan.Plan =>
  Plan.make(
    "test.world",
    "w.broken",
    "every step kind",
    Plan.seq(
      Plan.fallback(Plan.act(action("w.fail", { n: 1 })), Plan.act(action("w.ok", { n: 2 }))),
      Plan.fallback(Plan.act(action("w.denied", { n: 3 })), Plan.act(action("w.ok", { n: 4 }))),
      Plan.fallback(Plan.act(action("w.ok", { n: 5 })), Plan.act(action("w.bump", { n: 6 })), { on: ["check"], check: bumpsAtLeast(1) }),
      Plan.until(bumpsAtLeast(3), Plan.act(action("w.bump", { n: 7 })), Plan.act(action("w.bump", { n: 8 })), Plan.act(action("w.bump", { n: 9 })), Plan.act(action("w.bump", { n: 10 }))),
      Plan.waitFor(ticksAtLeast(3), { timeoutMs: 10_000, intervalMs: 5 }),
      Plan.handOff(signal(0, TargetRef.make("db", "default/pg"), "db.slow"), "the database is slow"),
      Plan.propose({ title: "raise the pool size", target, body: "pool 10 → 20" }),
      Plan.escalate("a human must look at the cache", ["check the cache hit rate"])
    )
  )
