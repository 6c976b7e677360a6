import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Action, ActionHandler, Permit, Plan } from "@byteport/core"
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

  it.effect("a permit the executor handed to a handler cannot be replayed", () => {
    const world = W.makeWorld()
    const captured: Array<Permit> = []
    const hs = W.handlers(world)
    const spying = { ...hs.ok.handler, run: (a: Action.Action, p: Permit) => (captured.push(p), hs.ok.handler.run(a, p)) }
    const layer = W.layer(world, { ...hs, ok: { ...hs.ok, handler: spying } })
    return Effect.gen(function*() {
      const act = W.action("w.ok", { n: 1 })
      const res = yield* W.execute(Plan.make("test.world", "w.broken", "one write", Plan.act(act)))
      assert.strictEqual(res.status, "completed")
      assert.strictEqual(captured.length, 1)
      assert.strictEqual(hs.ok.writes.length, 1)
      const again = yield* Effect.flip(spying.run(act, captured[0]!))
      assert.strictEqual(again._tag, "PermitRefused")
      assert.strictEqual((again as any).reason, "reused")
      // and for another action it is mismatched before anything else
      const elsewhere = yield* Effect.flip(hs.ok.handler.run(W.action("w.ok", { n: 2 }), captured[0]!))
      assert.strictEqual((elsewhere as any).reason, "mismatched")
      assert.strictEqual(hs.ok.writes.length, 1)
    }).pipe(Effect.provide(layer))
  })
})
