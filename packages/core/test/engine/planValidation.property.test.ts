/**
 * Plans and digests: `Plan.make` / `Action.make` accept only plans that can be encoded, every
 * accepted plan round-trips through its Schema, `Json.canonical` refuses non-JSON values, and two
 * different plans never share a digest.
 */
import { isDeepStrictEqual } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import { Action, Classifier, Diagnoser, Json, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

const runs = (n: number) => ({ numRuns: Number(process.env.PLAN_RUNS ?? n) })

// ------------------------------------------------------------------------------------------
// arbitraries

/** Whether a parsed JSON value has an own `__proto__` key somewhere (fast-check generates them; canonical JSON refuses them). */
const hasProtoKey = (v: unknown): boolean =>
  v !== null && typeof v === "object" &&
  (Object.keys(v).includes("__proto__") || Object.values(v).some(hasProtoKey))

const jsonObject: fc.Arbitrary<Json.JsonObject> = fc.dictionary(
  fc.string({ maxLength: 6 }).filter((k) => k !== "__proto__"),
  fc.jsonValue({ maxDepth: 2 }).filter((v) => !hasProtoKey(v)) as fc.Arbitrary<Json.Json>,
  { maxKeys: 3 }
)
const target = fc.record({ kind: fc.constantFrom("svc", "pod", "db"), ref: fc.string({ minLength: 1, maxLength: 8 }) })
const positive = fc.oneof(fc.integer({ min: 1, max: 10_000_000 }), fc.double({ min: 0.001, max: 1e9, noNaN: true }))

const leafAction: fc.Arbitrary<Action.Action> = fc
  .record({
    kind: fc.string({ minLength: 1, maxLength: 8 }),
    target,
    params: jsonObject,
    precondition: jsonObject,
    timeoutMs: positive,
    description: fc.string({ maxLength: 12 }),
    idempotencyKey: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined })
  })
  .map((o) => Action.make(o))

const action: fc.Arbitrary<Action.Action> = fc
  .tuple(leafAction, fc.option(leafAction, { nil: undefined }))
  .map(([a, undo]) => (undo ? Action.make({ ...a, timeoutMs: a.timeout, undo }) : a))

const checkRef = fc.record({ kind: fc.string({ minLength: 1, maxLength: 6 }), target, params: jsonObject, description: fc.string({ maxLength: 8 }) })

const signal: fc.Arbitrary<Signal.Signal> = fc.record({
  type: fc.string({ minLength: 1, maxLength: 8 }),
  target,
  observedAt: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  evidence: jsonObject
})

const { step } = fc.letrec<{ step: Plan.Step }>((tie) => ({
  step: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    action.map(Plan.act),
    fc.array(tie("step"), { maxLength: 3 }).map((s) => Plan.seq(...s)),
    fc
      .tuple(tie("step"), tie("step"), fc.subarray(["failed", "denied", "check"] as const), fc.option(checkRef, { nil: undefined }))
      .map(([p, o, on, c]) => Plan.fallback(p, o, { on, ...(c ? { check: c } : {}) })),
    fc.tuple(checkRef, fc.array(tie("step"), { maxLength: 2 })).map(([c, s]) => Plan.until(c, ...s)),
    fc.tuple(checkRef, positive, positive).map(([c, t, i]) => Plan.waitFor(c, { timeoutMs: t, intervalMs: i })),
    fc.tuple(signal, fc.string({ maxLength: 8 })).map(([s, r]) => Plan.handOff(s, r)),
    fc.tuple(target, fc.string({ maxLength: 8 })).map(([t, title]) => Plan.propose({ title, body: "b", target: t })),
    fc.tuple(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })).map(([r, n]) => Plan.escalate(r, n))
  )
}))

const plan: fc.Arbitrary<Plan.Plan> = fc
  .tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), step)
  .map(([rb, cls, summary, root]) => Plan.make(rb, cls, summary, root))

/** `v` with every -0 replaced by 0. */
const zeroed = <A>(v: A): A => JSON.parse(JSON.stringify(v, (_k, x) => (Object.is(x, -0) ? 0 : x)))

/** Every path to a leaf (string, number, boolean, null) of a JSON value. */
const leafPaths = (v: unknown, path: Array<string | number> = []): Array<Array<string | number>> => {
  if (Array.isArray(v)) return v.flatMap((x, i) => leafPaths(x, [...path, i]))
  if (v !== null && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => leafPaths(x, [...path, k]))
  return [path]
}

/** A deep copy of `v` with the leaf at `path` replaced. */
const setAt = (v: unknown, path: ReadonlyArray<string | number>, leaf: unknown): unknown => {
  if (path.length === 0) return leaf
  const [head, ...rest] = path
  if (Array.isArray(v)) return v.map((x, i) => (i === head ? setAt(x, rest, leaf) : x))
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as object)) out[k] = k === head ? setAt(x, rest, leaf) : x
  return out
}

/** A different JSON leaf of the same or another type. */
const otherLeaf = (leaf: unknown): fc.Arbitrary<unknown> =>
  fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null))
    .filter((x) => !isDeepStrictEqual(x, leaf) && !(x === 0 && leaf === 0))

const hostile: ReadonlyArray<readonly [string, () => unknown]> = [
  ["NaN", () => NaN],
  ["Infinity", () => Infinity],
  ["-Infinity", () => -Infinity],
  ["undefined in an array", () => [1, undefined]],
  ["a hole in an array", () => [1, , 2]], // eslint-disable-line no-sparse-arrays
  ["an array with an extra property", () => Object.assign([1], { extra: 2 })],
  ["a function", () => () => 1],
  ["a symbol", () => Symbol("s")],
  ["a bigint", () => 10n],
  ["an own __proto__ key", () => JSON.parse("{\"__proto__\": {\"admin\": true}}")],
  ["a symbol key", () => ({ [Symbol("k")]: 1 })],
  ["a Date", () => new Date(0)],
  ["a Map", () => new Map([["a", 1]])],
  ["a Set", () => new Set([1])],
  ["a class instance", () => new (class Box { v = 1 })()],
  ["a boxed string", () => new String("x")],
  ["a cycle", () => {
    const o: Record<string, unknown> = { a: 1 }
    o.self = o
    return o
  }]
]

// ------------------------------------------------------------------------------------------

describe("Json.canonical accepts JSON only", () => {
  it.effect("every hostile value, anywhere in a plan, is refused with NonJsonValue naming its path", () =>
    Effect.sync(() => {
      for (const [name, make] of hostile) {
        const value = { runbook: "rb", root: { _tag: "Act", action: { params: { deep: [{ x: make() }] } } } }
        let thrown: unknown
        try {
          Json.canonical(value)
        } catch (e) {
          thrown = e
        }
        assert.instanceOf(thrown, Json.NonJsonValue, name)
        const err = thrown as Json.NonJsonValue
        assert.isTrue(err.path.startsWith("$.root.action.params.deep[0].x"), `${name}: ${err.path}`)
        assert.throws(() => Json.digest(value), Json.NonJsonValue, undefined, name)
        assert.isFalse(Json.isJson(value), name)
      }
    }))

  it.effect("the collisions that existed are gone: NaN/null, Infinity/null, [undefined]/[null], __proto__/{}", () =>
    Effect.sync(() => {
      assert.throws(() => Json.canonical({ timeout: NaN }))
      assert.strictEqual(Json.canonical({ timeout: null }), "{\"timeout\":null}")
      assert.throws(() => Json.canonical([undefined]))
      assert.throws(() => Json.canonical(JSON.parse("{\"__proto__\": 1}")))
      assert.strictEqual(Json.canonical({}), "{}")
      // undefined object members are dropped (as JSON.stringify does), and -0 is 0: the same JSON text
      assert.strictEqual(Json.canonical({ a: 1, b: undefined }), Json.canonical({ a: 1 }))
      assert.strictEqual(Json.canonical(-0), "0")
      // null-prototype objects are plain
      assert.strictEqual(Json.canonical(Object.assign(Object.create(null), { b: 1, a: 2 })), "{\"a\":2,\"b\":1}")
    }))

  it.effect("canonical is injective on JSON values: different values, different texts; equal values, equal texts", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(fc.jsonValue().filter((v) => !hasProtoKey(v)), fc.jsonValue().filter((v) => !hasProtoKey(v)), (a, b) => {
          const same = isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))
          assert.strictEqual(Json.canonical(a) === Json.canonical(b), same)
          assert.isTrue(isDeepStrictEqual(JSON.parse(Json.canonical(a)), JSON.parse(JSON.stringify(a))))
        }),
        runs(1000)
      )
    ))

  it.effect("the JsonObject Schema refuses own __proto__ keys at any depth (a Signal carrying one does not decode)", () =>
    Effect.sync(() => {
      const decode = Schema.decodeUnknownExit(Json.JsonObject)
      assert.strictEqual(decode(JSON.parse("{\"a\": {\"__proto__\": {\"x\": 1}}}"))._tag, "Failure")
      assert.strictEqual(decode({ a: { b: [1, "x", null] } })._tag, "Success")
    }))
})

describe("Action.make and Plan.make validate", () => {
  const t = TargetRef.make("svc", "a")
  const base = { kind: "k", target: t, description: "d" }

  it.effect("non-positive, NaN and infinite timeouts are InvalidAction naming the field", () =>
    Effect.sync(() => {
      for (const timeoutMs of [0, -1, -0.5, NaN, Infinity, -Infinity]) {
        let thrown: unknown
        try {
          Action.make({ ...base, timeoutMs })
        } catch (e) {
          thrown = e
        }
        assert.instanceOf(thrown, Action.InvalidAction, String(timeoutMs))
        assert.strictEqual((thrown as Action.InvalidAction).path, "action.timeout")
        assert.match((thrown as Action.InvalidAction).message, /positive finite number/)
      }
      assert.strictEqual(Action.make({ ...base, timeoutMs: 1 }).timeout, 1)
    }))

  it.effect("params or precondition that are not JSON are refused at their path", () =>
    Effect.sync(() => {
      assert.throws(() => Action.make({ ...base, params: { n: NaN } }), /action\.params\.n/)
      assert.throws(() => Action.make({ ...base, precondition: JSON.parse("{\"__proto__\": 1}") }), /__proto__/)
      assert.throws(() => Action.make({ ...base, params: { when: new Date() as never } }), /action\.params\.when/)
      assert.throws(() => Action.make({ ...base, params: { deep: { reason: undefined as never } } }), /action\.params\.deep\.reason: is undefined/)
    }))

  it.effect("a hand-built action with undo: undefined, a bad undo or an unknown key cannot enter a plan", () =>
    Effect.gen(function*() {
      const good = Action.make(base)
      const cases: ReadonlyArray<readonly [string, unknown, RegExp]> = [
        ["undo: undefined", { ...good, undo: undefined }, /step 0\.action\.undo: is undefined/],
        ["undo with timeout 0", { ...good, undo: { ...good, timeout: 0 } }, /step 0\.action\.undo\.timeout/],
        ["unknown key", { ...good, retries: 3 }, /does not survive encoding/],
        ["empty kind", { ...good, kind: "" }, /step 0\.action\.kind/],
        ["target ref null", { ...good, target: { kind: 1, ref: null } }, /cannot be encoded/]
      ]
      for (const [name, a, re] of cases) {
        const root = Plan.act(a as Action.Action)
        assert.throws(() => Plan.make("rb", "c", "s", root), re, name)
        const failure = yield* Effect.flip(Plan.validate({ runbook: "rb", class: "c", summary: "s", root }))
        assert.instanceOf(failure, Plan.InvalidPlan, name)
        assert.match(failure.message, re, name)
      }
    }))

  it.effect("WaitFor timeouts and intervals must be positive and finite; Fallback check: undefined is refused", () =>
    Effect.sync(() => {
      const c = Plan.check("k", t, {}, "d")
      for (const [timeoutMs, intervalMs] of [[0, 1], [1, 0], [NaN, 1], [1, Infinity], [-5, 1]]) {
        assert.throws(() => Plan.make("rb", "c", "s", Plan.seq(Plan.waitFor(c, { timeoutMs: timeoutMs!, intervalMs: intervalMs! }))), /step 0\.0\.(timeout|interval)/)
      }
      const fb: Plan.Step = { _tag: "Fallback", primary: Plan.escalate("a"), otherwise: Plan.escalate("b"), on: ["check"], check: undefined }
      assert.throws(() => Plan.make("rb", "c", "s", fb), /step 0\.check: is undefined/)
      // a decoded plan with a zero wait is refused by the Schema too
      assert.throws(() =>
        Plan.fromJson(JSON.stringify({ runbook: "r", class: "c", summary: "s", root: { _tag: "WaitFor", check: c, timeout: 0, interval: 1 } }))
      )
    }))

  it.effect("a non-JSON value anywhere in a plan is refused with its path", () =>
    Effect.sync(() => {
      for (const [name, make] of hostile) {
        const root = Plan.seq(Plan.escalate("x"), Plan.handOff({ type: "t", target: t, observedAt: 0, evidence: { v: make() as never } }, "r"))
        assert.throws(() => Plan.make("rb", "c", "s", root), /./, name)
        const p = Plan.problem({ runbook: "rb", class: "c", summary: "s", root })
        assert.isDefined(p, name)
      }
    }))
})

describe("plans accepted by make", () => {
  it.effect("round-trip through their Schema (encode, JSON, decode) unchanged, with the same digest", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plan, (p) => {
          const back = Plan.fromJson(Plan.toJson(p))
          // JSON has one zero: -0 comes back as 0 (and canonical JSON writes both as 0)
          assert.deepStrictEqual(back, zeroed(p))
          assert.strictEqual(Plan.digest(back), Plan.digest(p))
          assert.strictEqual(Json.canonical(Schema.encodeSync(Plan.Plan)(p)), Json.canonical(p))
          assert.isUndefined(Plan.problem(back))
        }),
        runs(300)
      )
    ))

  it.effect("two distinct plans never share a digest (random pairs)", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plan, plan, (a, b) => {
          assert.strictEqual(Plan.digest(a) === Plan.digest(b), isDeepStrictEqual(zeroed(a), zeroed(b)))
        }),
        runs(300)
      )
    ))

  it.effect("two distinct plans never share a digest (a plan and the same plan with one leaf changed)", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(
          plan.chain((p) => {
            const paths = leafPaths(p)
            return fc.tuple(fc.constant(p), fc.constantFrom(...paths)).chain(([p, path]) => {
              let leaf: unknown = p
              for (const k of path) leaf = (leaf as Record<string | number, unknown>)[k]
              return fc.tuple(fc.constant(p), fc.constant(path), otherLeaf(leaf))
            })
          }),
          ([p, path, leaf]) => {
            const q = setAt(p, path, leaf)
            const problem = Plan.problem(q)
            // a mutation either makes a plan make refuses, or a different plan with a different digest
            if (problem === undefined) assert.notStrictEqual(Plan.digest(q as Plan.Plan), Plan.digest(p), path.join("."))
            else assert.instanceOf(problem, Plan.InvalidPlan)
          }
        ),
        runs(500)
      )
    ))

  it.effect("a plan with a hostile value planted at a random leaf is refused, never digested", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(
          plan.chain((p) => fc.tuple(fc.constant(p), fc.constantFrom(...leafPaths(p)), fc.constantFrom(...hostile))),
          ([p, path, [name, make]]) => {
            const q = setAt(p, path, make())
            const problem = Plan.problem(q)
            assert.instanceOf(problem, Plan.InvalidPlan, `${name} at ${path.join(".")}`)
            assert.throws(() => Plan.digest(q as Plan.Plan))
          }
        ),
        runs(300)
      )
    ))
})

describe("Runbook.handle and a plan that cannot be encoded", () => {
  it.effect("a remediator that builds a plan literal with a NaN timeout escalates with the reason; nothing runs", () =>
    Effect.gen(function*() {
      const t = TargetRef.make("svc", "a")
      const handler = Testing.recordingHandler("k")
      const bad: Plan.Plan = {
        runbook: "test.plan.invalid",
        class: "c",
        summary: "s",
        root: Plan.act({ ...Action.make({ kind: "k", target: t, description: "d" }), timeout: NaN })
      }
      const rb = Runbook.make<{ readonly down: boolean }>({
        id: "test.plan.invalid",
        signals: ["svc.down"],
        diagnose: Diagnoser.make<{ readonly down: boolean }>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
        classify: Classifier.firstMatch([Classifier.rule<{ readonly down: boolean }>()({ class: "c", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
        remediate: () => Effect.succeed(bad),
        defaultMode: "auto"
      })
      const r = yield* Runbook.handle(rb, { type: "svc.down", target: t, observedAt: 0, evidence: {} }).pipe(
        Effect.provide(Testing.layer({ handlers: [handler] }))
      )
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /the plan cannot be encoded: step 0\.action\.timeout/)
      assert.strictEqual(handler.runs.length, 0)
    }))
})
