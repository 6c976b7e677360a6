/**
 * Loops that never stop (issue 8, item 6). Each attack of the issue is reproduced:
 * - a `null` signal, one without a target, and a target `{ kind: 1, ref: null }` given to
 *   `Runbook.handle` are refused with a typed MalformedSignal (audited, escalated), never acted on;
 * - a detector element with a throwing getter no longer kills `Runbook.run`;
 * - `Catalog.run` (what `Agent.run` runs) no longer exits when a detector dies: the detector is
 *   reported and restarted with backoff, and detection goes on;
 * plus the property: 10,000 generated hostile elements mixed with valid ones → every valid one
 * handled, 0 defects escaping, the loop alive.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import fc from "fast-check"
import { Catalog, Classifier, Detector, Diagnoser, IncidentBus, Notifier, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

interface Facts {
  readonly down: boolean
}

const diagnosed = { count: 0 }

const make = (options: { readonly detector?: Detector.Detector<unknown, never>; readonly mode?: "observe" | "dry_run" | "auto" } = {}) =>
  Runbook.make<Facts>({
    id: "test.loops",
    signals: ["svc.down"],
    ...(options.detector ? { detector: options.detector } : {}),
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.sync(() => (diagnosed.count++, true))) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.loops", "w.down", "restart once", Plan.act(W.action("w.restart", { n: 1 })))),
    verify: (ctx) => Effect.succeed({ _tag: "Recovered" as const, checks: [], at: ctx.since }),
    defaultMode: options.mode ?? "auto"
  })

const valid = (i: number): Signal.Signal => W.signal(i, TargetRef.make("svc", `default/valid-${i}`))

/** An element whose `target` getter throws (the attack that killed `Runbook.run`). */
const throwingGetter = () => {
  const o: Record<string, unknown> = { type: "svc.down", observedAt: 0, evidence: {} }
  Object.defineProperty(o, "target", { enumerable: true, get: () => { throw new TypeError("boom from a getter") } })
  return o
}

/** A proxy whose every trap throws. */
const hostileProxy = () =>
  new Proxy({}, {
    get: () => { throw new Error("proxy get") },
    ownKeys: () => { throw new Error("proxy ownKeys") },
    getOwnPropertyDescriptor: () => { throw new Error("proxy descriptor") },
    has: () => { throw new Error("proxy has") },
    getPrototypeOf: () => { throw new Error("proxy prototype") }
  })

const cyclic = () => {
  const o: Record<string, unknown> = { type: "svc.down", target: { kind: "svc", ref: "default/cyclic" }, observedAt: 0 }
  o["evidence"] = { self: o }
  return o
}

const huge = "x".repeat(2_000_000)

describe("Runbook.handle decodes its signal first", () => {
  for (const [name, bad] of [
    ["a null signal", null],
    ["a signal without a target", { type: "svc.down", observedAt: 0, evidence: {} }],
    ["a target { kind: 1, ref: null }", { type: "svc.down", target: { kind: 1, ref: null }, observedAt: 0, evidence: {} }],
    ["a signal with a throwing getter", throwingGetter()],
    ["a hostile proxy", hostileProxy()],
    ["a cyclic signal", cyclic()]
  ] as const) {
    it.effect(`${name}: a typed MalformedSignal, audited and escalated; nothing diagnosed or acted on`, () => {
      const handler = Testing.recordingHandler("w.restart")
      return Effect.gen(function*() {
        diagnosed.count = 0
        const e = yield* Effect.flip(Runbook.handle(make(), bad as unknown as Signal.Signal, { incidentId: "inc-bad" }))
        assert.strictEqual(e._tag, "MalformedSignal")
        assert.isAbove(e.message.length, 0)
        assert.strictEqual(diagnosed.count, 0)
        assert.deepStrictEqual(handler.runs, [])
        const rec = yield* (yield* Notifier.NotifierRecording).get
        assert.deepStrictEqual(rec.audit.map((a) => [a.event, a.data["incidentId"]]), [["signal.malformed", "inc-bad"]])
        assert.strictEqual(rec.escalations.length, 1)
        assert.strictEqual(rec.escalations[0]!.severity, "warning") // auto: to the pager
        assert.match(rec.escalations[0]!.reason, /malformed signal refused, nothing was done/)
        assert.deepStrictEqual(rec.reports, [])
      }).pipe(Effect.provide(Testing.layer({ handlers: [handler] })))
    })
  }

  it.effect("a valid signal still runs (the refusals above are not vacuous)", () => {
    const handler = Testing.recordingHandler("w.restart")
    return Effect.gen(function*() {
      const r = yield* Runbook.handle(make(), valid(1))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(handler.writes.length, 1)
    }).pipe(Effect.provide(Testing.layer({ handlers: [handler] })))
  })
})

/** Collects results and malformed elements of a forked `Runbook.run`. */
const runForked = (rb: Runbook.Runbook<Facts>, options: Partial<Runbook.RunOptions> = {}) =>
  Effect.gen(function*() {
    const results: Array<Runbook.HandleResult> = []
    const malformed: Array<Runbook.MalformedSignal> = []
    const fiber = yield* Effect.forkChild(Runbook.run(rb, {
      resumeOpen: false,
      onResult: (r) => Effect.sync(() => void results.push(r)),
      onMalformed: (e) => Effect.sync(() => void malformed.push(e)),
      ...options
    }))
    return { fiber, results, malformed }
  })

const settle = (done: () => boolean, steps = 200) =>
  Effect.gen(function*() {
    for (let i = 0; i < steps && !done(); i++) {
      yield* Effect.yieldNow
      yield* Testing.advance("100 millis")
    }
  })

describe("Runbook.run survives its detector", () => {
  it.effect("an element with a throwing getter is a MalformedSignal; the elements after it are handled; the loop is alive", () =>
    Effect.gen(function*() {
      const rb = make({ mode: "observe", detector: Detector.fromStream("hostile", Stream.fromIterable<unknown>([valid(1), throwingGetter(), null, valid(2)])) })
      const { fiber, malformed, results } = yield* runForked(rb)
      yield* settle(() => results.length >= 2)
      assert.deepStrictEqual(results.map((r) => (r as { signal: Signal.Signal }).signal.target.ref).sort(), ["default/valid-1", "default/valid-2"])
      assert.deepStrictEqual(malformed.map((m) => m.detector), ["hostile", "hostile"])
      assert.match(malformed[0]!.message, /boom from a getter/)
      assert.isUndefined(fiber.pollUnsafe()) // still running: hand-offs keep it alive
      const bus = yield* IncidentBus.IncidentBus
      yield* bus.publish(valid(3))
      yield* settle(() => results.length >= 3)
      assert.strictEqual(results.length, 3)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("a detector that fails, or dies, is reported and restarted with backoff (1 s, 2 s, 4 s …); its later elements are handled", () =>
    Effect.gen(function*() {
      let subscriptions = 0
      const detector = Detector.fromStream(
        "flaky",
        Stream.suspend(() => {
          const n = ++subscriptions
          // 1st run: dies; 2nd: fails; 3rd: a getter throws inside the stream itself; 4th: emits, then runs forever.
          if (n === 1) return Stream.die(new Error("watch connection reset"))
          if (n === 2) return Stream.fail("watch 410 Gone")
          if (n === 3) return Stream.fromIterable([0]).pipe(Stream.map(() => (throwingGetter() as { target: unknown }).target))
          return Stream.concat(Stream.make(valid(n)), Stream.never)
        })
      )
      const rb = make({ mode: "observe", detector })
      const { fiber, results } = yield* runForked(rb, { handOffs: false })
      const until = (n: number) => Effect.gen(function*() {
        for (let i = 0; i < 500 && subscriptions < n; i++) yield* Effect.yieldNow
      })
      yield* until(1)
      assert.strictEqual(subscriptions, 1)
      yield* Testing.advance("999 millis")
      yield* until(2)
      assert.strictEqual(subscriptions, 1) // backoff 1 s not yet over
      yield* Testing.advance("1 millis")
      yield* until(2)
      assert.strictEqual(subscriptions, 2)
      yield* Testing.advance("1999 millis")
      yield* until(3)
      assert.strictEqual(subscriptions, 2) // backoff 2 s
      yield* Testing.advance("1 millis")
      yield* until(3)
      assert.strictEqual(subscriptions, 3)
      yield* Testing.advance("4 seconds")
      yield* until(4)
      assert.strictEqual(subscriptions, 4)
      yield* settle(() => results.length >= 1)
      assert.strictEqual(results.length, 1)
      assert.isUndefined(fiber.pollUnsafe())
      const rec = yield* (yield* Notifier.NotifierRecording).get
      const failed = rec.audit.filter((a) => a.event === "detector.failed")
      assert.deepStrictEqual(failed.map((a) => [a.data["detector"], a.data["attempt"], a.data["restartInMs"]]), [["flaky", 1, 1000], ["flaky", 2, 2000], ["flaky", 3, 4000]])
      assert.match(String(failed[0]!.data["cause"]), /watch connection reset/)
      assert.match(String(failed[1]!.data["cause"]), /410 Gone/)
      assert.match(String(failed[2]!.data["cause"]), /boom from a getter/)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))
})

describe("a detector that keeps failing is escalated once per failure streak", () => {
  it.effect("5 failures in a row → one ops-channel escalation (warning) naming the detector; more failures add none; a recovery and a new streak escalate again", () =>
    Effect.gen(function*() {
      let subscriptions = 0
      let healthyOn = new Set([7]) // the 7th subscription emits one element, then fails again
      const detector = Detector.fromStream(
        "always-down",
        Stream.suspend(() => {
          const n = ++subscriptions
          return healthyOn.has(n)
            ? Stream.concat(Stream.make(valid(n) as unknown), Stream.fail(new Error(`api server unreachable (${n})`)))
            : Stream.fail(new Error(`api server unreachable (${n})`))
        })
      )
      const catalog = Catalog.make([make({ mode: "observe", detector })], { settle: "10 millis" })
      const fiber = yield* Effect.forkChild(Catalog.run(catalog, { resumeOpen: false, detectorBackoff: { base: "1 second", factor: 1, cap: "1 second" } }))
      const escalations = () => Effect.gen(function*() {
        const rec = yield* (yield* Notifier.NotifierRecording).get
        return rec.escalations.filter((e) => e.signal.type === "detector.failing")
      })
      const until = (n: number) => Effect.gen(function*() {
        for (let i = 0; i < 500 && subscriptions < n; i++) yield* Effect.yieldNow
      })
      yield* until(1)
      for (let k = 2; k <= 5; k++) {
        assert.deepStrictEqual((yield* escalations()).length, 0, `no escalation after ${k - 1} failures`)
        yield* Testing.advance("1 second")
        yield* until(k)
      }
      yield* Effect.yieldNow
      const first = yield* escalations()
      assert.strictEqual(first.length, 1, "the 5th failure in a row escalates")
      assert.strictEqual(first[0]!.severity, "warning")
      assert.deepStrictEqual(first[0]!.signal.target, { kind: "byteport.detector", ref: "always-down" })
      assert.match(first[0]!.reason, /detector always-down failed 5 times in a row/)
      assert.match(first[0]!.reason, /api server unreachable/)
      // the 6th failure: no second escalation for the same streak
      yield* Testing.advance("1 second")
      yield* until(6)
      assert.strictEqual((yield* escalations()).length, 1)
      // the 7th subscription emits (the streak resets), then fails: five more failures escalate again
      for (let k = 7; k <= 12; k++) {
        yield* Testing.advance("1 second")
        yield* until(k)
      }
      yield* Effect.yieldNow
      assert.strictEqual((yield* escalations()).length, 2, "a new streak after a recovery escalates again")
      healthyOn = new Set()
      assert.isUndefined(fiber.pollUnsafe(), "the loop is alive")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))
})

describe("Catalog.run survives its detectors", () => {
  it.effect("a dying detector no longer ends Catalog.run with success: it restarts with backoff and detection goes on", () =>
    Effect.gen(function*() {
      let subscriptions = 0
      const detector = Detector.fromStream(
        "dies-once",
        Stream.suspend(() =>
          ++subscriptions === 1
            ? Stream.concat(Stream.make(valid(1) as unknown), Stream.suspend(() => Stream.make((throwingGetter() as { target: unknown }).target)))
            : Stream.concat(Stream.make(valid(2)), Stream.never)
        )
      )
      const catalog = Catalog.make([make({ mode: "observe", detector })], { settle: "10 millis" })
      const results: Array<Runbook.HandleResult> = []
      const fiber = yield* Effect.forkChild(Catalog.run(catalog, { resumeOpen: false, onResult: (r) => Effect.sync(() => void results.push(r)) }))
      yield* settle(() => results.length >= 2, 100)
      assert.isUndefined(fiber.pollUnsafe()) // today it would have exited
      assert.deepStrictEqual(results.map((r) => (r as { signal: Signal.Signal }).signal.target.ref).sort(), ["default/valid-1", "default/valid-2"])
      assert.strictEqual(subscriptions, 2)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.deepStrictEqual(rec.audit.filter((a) => a.event === "detector.failed").map((a) => [a.data["detector"], a.data["attempt"]]), [["dies-once", 1]])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("malformed elements from any source are audited and skipped; the valid ones around them are routed", () =>
    Effect.gen(function*() {
      const catalog = Catalog.make([make({ mode: "observe" })], { settle: "10 millis" })
      const results: Array<Runbook.HandleResult> = []
      const source = Stream.fromIterable<unknown>([null, valid(1), { type: "svc.down", target: { kind: 1, ref: null }, observedAt: 0, evidence: {} }, hostileProxy(), cyclic(), valid(2)])
      const fiber = yield* Effect.forkChild(Catalog.run(catalog, { resumeOpen: false, sources: [source], onResult: (r) => Effect.sync(() => void results.push(r)) }))
      yield* settle(() => results.length >= 2, 100)
      assert.strictEqual(results.length, 2)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.audit.filter((a) => a.event === "signal.malformed").length, 4)
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())))
})

// ---------------------------------------------------------------------------------------------
// The property: 10,000 hostile elements mixed with valid ones.

/** A throwing getter at a generated path of an otherwise valid-looking signal. */
const getterAt = (field: string) => {
  const o: Record<string, unknown> = { type: "svc.down", target: { kind: "svc", ref: "default/x" }, observedAt: 0, evidence: {} }
  const at = field === "ref" ? (o["target"] as Record<string, unknown>) : o
  Object.defineProperty(at, field === "ref" ? "ref" : field, { enumerable: true, get: () => { throw new Error(`getter ${field}`) } })
  return o
}

const hostileArb: fc.Arbitrary<() => unknown> = fc.oneof(
  fc.constantFrom<() => unknown>(() => null, () => undefined, () => 0, () => "svc.down", () => [], () => true, () => Symbol("s"), () => 10n, () => () => 1),
  fc.constantFrom("type", "target", "observedAt", "evidence", "ref").map((f) => () => getterAt(f)),
  fc.constant(() => hostileProxy()),
  fc.constant(() => new Proxy(valid(0), { get: (t, k) => (k === "target" ? new Proxy({}, { ownKeys: () => { throw new Error("nested trap") } }) : Reflect.get(t, k)) })),
  fc.constant(() => cyclic()),
  fc.constant(() => ({ ...valid(0), evidence: { blob: huge } })),
  fc.constant(() => ({ ...valid(0), type: huge })),
  fc.constant(() => ({ ...valid(0), toJSON: () => { throw new Error("toJSON") } })),
  fc.record({
    type: fc.oneof(fc.constant(""), fc.integer(), fc.constant(null)),
    target: fc.oneof(fc.constant(null), fc.record({ kind: fc.oneof(fc.integer(), fc.constant("")), ref: fc.oneof(fc.constant(null), fc.integer()) })),
    observedAt: fc.oneof(fc.constant("yesterday"), fc.constant(Number.NaN), fc.constant(Infinity)),
    evidence: fc.oneof(fc.constant(null), fc.constant([1]), fc.string())
  }).map((o) => () => o),
  fc.anything().filter((x) => !(typeof x === "object" && x !== null && "type" in x && "target" in x)).map((x) => () => x)
)

describe("property: hostile detector elements never stop the loop", () => {
  it.live("10,000 hostile elements mixed with valid ones → every valid one handled, 0 defects escaping, loop alive", () =>
    Effect.gen(function*() {
      const hostile = fc.sample(hostileArb, { numRuns: 10_000, seed: 20_261_207 }).map((f) => f())
      const validCount = 500
      const elements: Array<unknown> = [...hostile]
      // Interleave the valid ones at generated positions (deterministic).
      const positions = fc.sample(fc.nat({ max: hostile.length }), { numRuns: validCount, seed: 8 })
      positions.sort((a, b) => b - a).forEach((p, i) => elements.splice(p, 0, valid(i)))
      assert.strictEqual(elements.length, 10_000 + validCount)
      const rb = make({ mode: "observe", detector: Detector.fromStream("hostile", Stream.fromIterable(elements)) })
      const { fiber, malformed, results } = yield* runForked(rb, { concurrency: 16 })
      const waitFor = (done: () => boolean) => Effect.gen(function*() {
        for (let i = 0; i < 6_000 && !done(); i++) yield* Effect.sleep("10 millis")
      })
      yield* waitFor(() => results.length >= validCount && malformed.length >= 10_000)
      // every valid one handled (once), every hostile one refused as MalformedSignal
      assert.strictEqual(results.length, validCount)
      assert.deepStrictEqual(
        new Set(results.map((r) => (r as { signal: Signal.Signal }).signal.target.ref)),
        new Set(Array.from({ length: validCount }, (_, i) => `default/valid-${i}`))
      )
      assert.strictEqual(malformed.length, 10_000)
      assert.isTrue(malformed.every((m) => m._tag === "MalformedSignal" && m.detector === "hostile" && m.message.length <= 3_000))
      // 0 defects escaping: no detector restart, no loop restart, and the loop is alive
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.deepStrictEqual(rec.audit.filter((a) => a.event === "detector.failed" || a.event === "run.loop_failed" || a.event === "incident.failed"), [])
      assert.isUndefined(fiber.pollUnsafe())
      const bus = yield* IncidentBus.IncidentBus
      yield* bus.publish(valid(validCount))
      yield* waitFor(() => results.length > validCount)
      assert.strictEqual(results.length, validCount + 1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())), 120_000)

  it.live("the same through Catalog.run (what Agent.run runs): 10,000 hostile elements from a source, every valid one routed and handled, the loop alive", () =>
    Effect.gen(function*() {
      const hostile = fc.sample(hostileArb, { numRuns: 10_000, seed: 7 }).map((f) => f())
      const validCount = 200
      const elements: Array<unknown> = [...hostile]
      fc.sample(fc.nat({ max: hostile.length }), { numRuns: validCount, seed: 9 }).sort((a, b) => b - a).forEach((p, i) => elements.splice(p, 0, valid(i)))
      const catalog = Catalog.make([make({ mode: "observe" })], { settle: "1 millis" })
      const results: Array<Runbook.HandleResult> = []
      const fiber = yield* Effect.forkChild(Catalog.run(catalog, { resumeOpen: false, concurrency: 16, sources: [Stream.fromIterable(elements)], onResult: (r) => Effect.sync(() => void results.push(r)) }))
      const recording = yield* Notifier.NotifierRecording
      const malformed = () => Effect.map(recording.get, (r) => r.audit.filter((a) => a.event === "signal.malformed").length)
      for (let i = 0; i < 6_000 && (results.length < validCount || (yield* malformed()) < 10_000); i++) yield* Effect.sleep("10 millis")
      assert.strictEqual(results.length, validCount)
      assert.strictEqual(yield* malformed(), 10_000)
      const rec = yield* recording.get
      assert.deepStrictEqual(rec.audit.filter((a) => a.event === "detector.failed" || a.event === "run.loop_failed" || a.event === "incident.failed"), [])
      assert.isUndefined(fiber.pollUnsafe())
      const bus = yield* IncidentBus.IncidentBus
      yield* bus.publish(valid(validCount))
      for (let i = 0; i < 500 && results.length <= validCount; i++) yield* Effect.sleep("10 millis")
      assert.strictEqual(results.length, validCount + 1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer())), 120_000)
})
