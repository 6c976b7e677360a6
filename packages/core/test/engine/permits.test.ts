import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Action, ActionHandler, ActionRegistry, Guardrail, IncidentBus, MemoryStore, Notifier, Permit, Plan } from "@byteport/core"
// The executor's internal minting, reachable only from inside the package (not exported by the index).
import { mint } from "../../src/Permit"
import * as W from "./world"

// ---- Type level: no Permit can be built outside the executor (checked by `tsc --noEmit`, which includes this file) ----
const takesPermit = (p: Permit): string => p.id
export const typeLevel = () => {
  // @ts-expect-error the constructor is private
  const p = new Permit("digest", "inc", Date.now() + 1000, "auto", "forged")
  // @ts-expect-error an object literal with the same fields is not a Permit (the class is nominal)
  takesPermit({ actionDigest: "digest", incidentId: "inc", expiresAt: Date.now() + 1000, mode: "auto", id: "literal" })
  // @ts-expect-error there is no public static to mint one either
  Permit.mint("digest", "inc", 0, "auto", "x")
  return p
}

const writes: Array<number> = []
const handler = ActionHandler.make({
  kind: "t.write",
  params: Schema.Struct({ n: Schema.Number }),
  apply: (p) => Effect.sync(() => (writes.push(p.n), { detail: `wrote ${p.n}`, result: {} }))
})
const action = Action.make({ kind: "t.write", target: W.target, params: { n: 1 }, description: "write 1" })
const other = Action.make({ kind: "t.write", target: W.target, params: { n: 2 }, description: "write 2" })
const refusal = (permit: unknown) =>
  Effect.flip(handler.run(action, permit as Permit)).pipe(Effect.map((e) => (e._tag === "PermitRefused" ? e.reason : e._tag)))

describe("Permits", () => {
  it.effect("a missing, forged, mismatched, reused or expired permit is refused and apply never runs", () =>
    Effect.gen(function*() {
      writes.length = 0
      const now = Date.now()
      assert.strictEqual(yield* refusal(undefined), "missing")
      assert.strictEqual(yield* refusal(null), "missing")
      // Forged three ways: a prototype-only object, a cast literal, and a runtime call of the private constructor.
      assert.strictEqual(yield* refusal(Object.create(Permit.prototype)), "forged")
      const literal = { actionDigest: Action.digest(action), incidentId: "inc", expiresAt: now + 60_000, mode: "auto", id: "x" }
      assert.strictEqual(yield* refusal(literal as unknown as Permit), "forged")
      assert.strictEqual(yield* refusal(new (Permit as any)(Action.digest(action), "inc", now + 60_000, "auto", "ctor")), "forged")
      // Genuine but bound to another action.
      assert.strictEqual(yield* refusal(mint(Action.digest(other), "inc", now + 60_000, "auto", "other")), "mismatched")
      // Genuine but expired (virtual time moves past expiresAt).
      const shortLived = mint(Action.digest(action), "inc", 1_000, "auto", "short")
      yield* TestClock.setTime(2_000)
      assert.strictEqual(yield* refusal(shortLived), "expired")
      assert.deepStrictEqual(writes, [])
      // Genuine and valid: runs once; the same permit again is refused as reused.
      const good = mint(Action.digest(action), "inc", 60_000, "auto", "good")
      yield* handler.run(action, good)
      assert.deepStrictEqual(writes, [1])
      assert.strictEqual(yield* refusal(good), "reused")
      assert.deepStrictEqual(writes, [1])
    }))

  it.effect("attack: a handler holding a genuine permit cannot rewrite it or make another object pass for it", () =>
    Effect.gen(function*() {
      writes.length = 0
      yield* TestClock.setTime(10_000)
      // The handler of `action` received a genuine dry_run permit, about to expire, for `action`.
      const held = mint(Action.digest(action), "inc", 10_500, "dry_run", "held")
      const rewrite = (f: () => void) => {
        try {
          f()
          return "accepted"
        } catch {
          return "threw"
        }
      }
      // Every field is read-only and the object (and the class prototype) is frozen.
      assert.strictEqual(rewrite(() => ((held as any).actionDigest = Action.digest(other))), "threw")
      assert.strictEqual(rewrite(() => ((held as any).mode = "auto")), "threw")
      assert.strictEqual(rewrite(() => ((held as any).expiresAt = Number.MAX_SAFE_INTEGER)), "threw")
      assert.strictEqual(rewrite(() => Object.defineProperty(held, "actionDigest", { value: Action.digest(other) })), "threw")
      assert.strictEqual(rewrite(() => Object.defineProperty(Permit.prototype, "mode", { get: () => "auto" })), "threw")
      assert.strictEqual(rewrite(() => Object.setPrototypeOf(held, { actionDigest: Action.digest(other), mode: "auto" })), "threw")
      assert.strictEqual(held.actionDigest, Action.digest(action))
      assert.strictEqual(held.mode, "dry_run")
      assert.isTrue(Object.isFrozen(held))
      // Objects built from it carry the rewritten fields but are not the permit.
      const derived = Object.create(held, { actionDigest: { value: Action.digest(other) }, mode: { value: "auto" }, expiresAt: { value: 99_999_999 } })
      const proxied = new Proxy(held, {
        get: (t, k) => (k === "actionDigest" ? Action.digest(other) : k === "mode" ? "auto" : k === "expiresAt" ? 99_999_999 : Reflect.get(t, k))
      })
      const otherHandler = ActionHandler.make({
        kind: "t.write",
        params: Schema.Struct({ n: Schema.Number }),
        apply: (p, ctx) => Effect.sync(() => (ctx.dryRun ? undefined : writes.push(100 + p.n), { detail: "other", result: {} }))
      })
      for (const forged of [derived, proxied]) {
        const e = yield* Effect.flip(otherHandler.run(other, forged as Permit))
        assert.strictEqual(e._tag === "PermitRefused" ? e.reason : e._tag, "forged")
      }
      // Handed on as is to another handler, for another action: mismatched.
      const handed = yield* Effect.flip(otherHandler.run(other, held))
      assert.strictEqual(handed._tag === "PermitRefused" ? handed.reason : handed._tag, "mismatched")
      // Used for its own action it still only validates (dry_run from the sealed state) …
      yield* otherHandler.run(action, held)
      assert.deepStrictEqual(writes, [])
      // … once; and an expired permit stays expired whatever was tried on its expiresAt.
      const late = mint(Action.digest(action), "inc", 10_500, "auto", "late")
      assert.strictEqual(rewrite(() => ((late as any).expiresAt = 99_999_999)), "threw")
      yield* TestClock.setTime(11_000)
      assert.strictEqual(yield* refusal(late), "expired")
      assert.deepStrictEqual(writes, [])
    }))

  it.effect("a handler not built by ActionHandler.make is rejected by the registry, and a made handler is frozen", () =>
    Effect.gen(function*() {
      const captured: Array<Permit> = []
      const made = ActionHandler.make({ kind: "t.write", params: Schema.Struct({ n: Schema.Number }), apply: () => Effect.succeed({ detail: "x", result: {} }) })
      // A hand-written handler that would keep the permit instead of redeeming it.
      const spying: ActionHandler.ActionHandler = { ...made, run: (a, p) => (captured.push(p), made.run(a, p)) }
      const exit = yield* Effect.exit(Effect.provide(Effect.service(ActionRegistry.ActionRegistry), ActionRegistry.layer({ handlers: [spying] })))
      assert.strictEqual(exit._tag, "Failure")
      assert.match(String(exit), /HandlerRejected|not built by ActionHandler\.make/)
      // The made handler and its guardrail list cannot be swapped out.
      assert.isTrue(Object.isFrozen(made))
      assert.throws(() => ((made as any).run = spying.run))
      assert.throws(() => (made.guardrails as Array<unknown>).push({}))
      const guarded = ActionHandler.make({ kind: "t.guarded", params: Schema.Struct({}), guardrails: [Guardrail.never(() => true, "never")], apply: () => Effect.succeed({ detail: "x", result: {} }) })
      assert.throws(() => ((guarded.guardrails[0] as any).check = () => Effect.succeed(Guardrail.pass)))
      // A registry service built by hand that hands out the spying handler: the executor denies, mints nothing.
      const world = W.makeWorld()
      const hs = W.handlers(world)
      const ok = hs.ok.handler
      const sneaky: ActionHandler.ActionHandler = { kind: ok.kind, guardrails: [], run: (a, p) => (captured.push(p), ok.run(a, p)) }
      const byHand = Layer.succeed(ActionRegistry.ActionRegistry, ActionRegistry.ActionRegistry.of({ handler: (k) => (k === "w.ok" ? sneaky : undefined), check: () => undefined, kinds: ["w.ok"] }))
      const res = yield* W.execute(Plan.make("test.world", "w.broken", "one write", Plan.act(W.action("w.ok", { n: 1 })))).pipe(
        Effect.provide(Layer.mergeAll(MemoryStore.layer, byHand, IncidentBus.layer(), Notifier.memory))
      )
      assert.strictEqual(res.status, "denied")
      assert.match(res.decisions[0]?.reason ?? "", /not built by ActionHandler\.make/)
      assert.deepStrictEqual(captured, [])
      assert.strictEqual(hs.ok.writes.length, 0)
    }))
})
