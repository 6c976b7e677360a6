import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { Catalog, Classifier, Diagnoser, Plan, Runbook, type Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"

const pod = TargetRef.make("workload", "prod/default/api/app")
const oomSignal: Signal.Signal = { type: "pod.oomkilled", target: pod, observedAt: 0, evidence: { reason: "OOMKilled" } }
const crashSignal: Signal.Signal = { type: "pod.crashloop", target: pod, observedAt: 0, evidence: { restarts: 7 } }

const make = (id: string, family: string, signals: ReadonlyArray<string>, precedence: number) =>
  Runbook.make<{ readonly x: number }>({
    id,
    family,
    signals,
    precedence,
    diagnose: Diagnoser.make<{ readonly x: number }>({ x: Diagnoser.probe("x", () => Effect.succeed(1)) }),
    classify: Classifier.firstMatch([Classifier.rule<{ readonly x: number }>()({ class: "c", confidence: 0.9, needs: ["x"], when: () => true })]),
    remediate: () => Effect.succeed(Plan.make(id, "c", "escalate", Plan.escalate("look"))),
    defaultMode: "observe"
  })

const oom = make("k8s.oom.six-signal", "k8s.oom", ["pod.oomkilled"], 10)
const crash = make("k8s.crashloop.generic", "k8s.crashloop", ["pod.crashloop"], 50)

/** Runs the catalog over the given signals (arrival order as given) and returns the results after the settle window. */
const route = (catalog: Catalog.Catalog<never>, signals: ReadonlyArray<Signal.Signal>) =>
  Effect.gen(function*() {
    const results: Array<Runbook.HandleResult> = []
    const done = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(
      Catalog.run(catalog, {
        sources: [Stream.fromIterable(signals)],
        onResult: (r) => Effect.andThen(Effect.sync(() => void results.push(r)), Deferred.succeed(done, undefined))
      })
    )
    // Let the stream run and the settle window (2 s) pass, in small steps of virtual time.
    for (let i = 0; i < 100 && !(yield* Deferred.isDone(done)); i++) {
      yield* Effect.yieldNow
      yield* Testing.advance("100 millis")
    }
    for (let i = 0; i < 50; i++) yield* Testing.advance("200 millis") // a second incident would show up here
    yield* Fiber.interrupt(fiber)
    return results.map((r) => (Runbook.isAwaitingApproval(r) ? r.runbook : [r.runbook, r.signal.type]))
  }).pipe(Effect.provide(Testing.layer()))

describe("Catalog", () => {
  it.effect("two detectors fire on one target: exactly one incident, by the runbook ranked first, whatever the arrival order", () =>
    Effect.gen(function*() {
      const catalog = Catalog.make([crash, oom])
      assert.deepStrictEqual(catalog.entries.map((e) => e.runbook.id), ["k8s.oom.six-signal", "k8s.crashloop.generic"])
      const a = yield* route(catalog, [oomSignal, crashSignal])
      const b = yield* route(catalog, [crashSignal, oomSignal])
      assert.deepStrictEqual(a, [["k8s.oom.six-signal", "pod.oomkilled"]])
      assert.deepStrictEqual(b, a)
    }))

  it.effect("a user reorder flips the routing", () =>
    Effect.gen(function*() {
      const catalog = Catalog.make([crash, oom], { order: ["k8s.crashloop.generic"] })
      assert.deepStrictEqual(yield* route(catalog, [oomSignal, crashSignal]), [["k8s.crashloop.generic", "pod.crashloop"]])
      assert.deepStrictEqual(yield* route(catalog, [crashSignal, oomSignal]), [["k8s.crashloop.generic", "pod.crashloop"]])
    }))

  it("enables one runbook per family by default, the best ranked; users can enable others", () => {
    const a = make("k8s.crashloop.three-signal", "k8s.crashloop", ["pod.crashloop"], 20)
    const b = make("k8s.crashloop.restart-count", "k8s.crashloop", ["pod.crashloop"], 30)
    const catalog = Catalog.make([b, crash, a, oom])
    assert.deepStrictEqual(
      catalog.entries.map((e) => [e.runbook.id, e.enabled]),
      [["k8s.oom.six-signal", true], ["k8s.crashloop.three-signal", true], ["k8s.crashloop.restart-count", false], ["k8s.crashloop.generic", false]]
    )
    assert.deepStrictEqual(Catalog.owners(catalog, "pod.crashloop").map((r) => r.id), ["k8s.crashloop.three-signal"])
    const custom = Catalog.make([b, crash, a, oom], { enable: ["k8s.crashloop.generic", "k8s.oom.six-signal"] })
    assert.deepStrictEqual(Catalog.owners(custom, "pod.crashloop").map((r) => r.id), ["k8s.crashloop.generic"])
    assert.throws(() => Catalog.make([a], { order: ["nope"] }), /unknown runbook id nope/)
  })

  it.effect("one signal type, two owners by target kind: each signal reaches the owner of its kind; a kind nobody owns is unrouted", () =>
    Effect.gen(function*() {
      const k8s = Runbook.make({
        id: "k8s.restarter", family: "k8s.restarter", signals: ["restart.requested"], targetKinds: ["k8s.workload"], precedence: 10,
        diagnose: oom.diagnose, classify: oom.classify, remediate: () => Effect.succeed(Plan.make("k8s.restarter", "c", "escalate", Plan.escalate("look"))), defaultMode: "observe"
      })
      const render = Runbook.make({
        id: "render.restarter", family: "render.restarter", signals: ["restart.requested"], targetKinds: ["render.service"], precedence: 20,
        diagnose: oom.diagnose, classify: oom.classify, remediate: () => Effect.succeed(Plan.make("render.restarter", "c", "escalate", Plan.escalate("look"))), defaultMode: "observe"
      })
      const catalog = Catalog.make([k8s, render])
      const on = (kind: string, ref: string): Signal.Signal => ({ type: "restart.requested", target: TargetRef.make(kind, ref), observedAt: 0, evidence: {} })
      assert.deepStrictEqual(yield* route(catalog, [on("render.service", "srv-1")]), [["render.restarter", "restart.requested"]])
      assert.deepStrictEqual(yield* route(catalog, [on("k8s.workload", "prod/default/Deployment/api")]), [["k8s.restarter", "restart.requested"]])
      assert.deepStrictEqual(yield* route(catalog, [on("fly.machine", "m-1")]), [])
      assert.deepStrictEqual(Catalog.owners(catalog, "restart.requested", "render.service").map((r) => r.id), ["render.restarter"])
      assert.deepStrictEqual(Catalog.owners(catalog, "restart.requested").map((r) => r.id), ["k8s.restarter", "render.restarter"])
      assert.isTrue(Runbook.owns(k8s, on("k8s.workload", "x")))
      assert.isFalse(Runbook.owns(k8s, on("render.service", "x")))
    }))
})
