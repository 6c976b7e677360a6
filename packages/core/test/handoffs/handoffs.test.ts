import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  AgentId,
  Catalog,
  Diagnoser,
  FileStore,
  GuardrailStore,
  HandOffs,
  IncidentBus,
  MemoryStore,
  Notifier,
  Plan,
  Runbook,
  type Signal,
  TargetRef,
  Verdict
} from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

/** A few real milliseconds (FileStore I/O is real, the clock is not). */
const realPause = Effect.promise(() => new Promise<void>((r) => setTimeout(r, 5)))

/** Waits (real time) until the incident journaled the hand-off's intent: it published and is awaiting. */
const untilIntent = (incidentId: string) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    for (let i = 0; i < 2000; i++) {
      if ((yield* store.readJournal(incidentId)).some((e) => e.type === "intent")) return
      yield* realPause
    }
    assert.fail(`incident ${incidentId} never journaled its hand-off intent`)
  })

const leaseKey = (t: { readonly kind: string; readonly ref: string }) => `target:${t.kind}:${t.ref}`

const report = (r: Runbook.HandleResult) => {
  if (Runbook.isAwaitingApproval(r)) throw new Error("no approval expected")
  return r
}

/** A MemoryStore that records every lease operation on the key. */
type LeaseOp = { readonly op: string; readonly holder: string; readonly result: string; readonly leaseHolder?: string; readonly data?: Record<string, unknown> }
const recordingStore = (ops: Array<LeaseOp>) =>
  Layer.effect(
    GuardrailStore.GuardrailStore,
    Effect.map(MemoryStore.make(), (store) => ({
      ...store,
      acquireLease: (req: Parameters<typeof store.acquireLease>[0]) =>
        Effect.tap(store.acquireLease(req), (r) => Effect.sync(() => void ops.push({ op: "acquire", holder: req.holder, result: r._tag, leaseHolder: r.lease.holder, data: r.lease.data }))),
      releaseLease: (key: string, holder: string) =>
        Effect.tap(store.releaseLease(key, holder), () => Effect.sync(() => void ops.push({ op: "release", holder, result: key })))
    }))
  )

/** Runs a catalog over the given signals, advancing virtual time until `done` results came in (then a while more), and returns them. */
const runCatalog = (catalog: Catalog.Catalog<never>, signals: ReadonlyArray<Signal.Signal>, done: number) =>
  Effect.gen(function*() {
    const results: Array<Runbook.HandleResult> = []
    const enough = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(
      Catalog.run(catalog, {
        sources: [Stream.fromIterable(signals)],
        onResult: (r) =>
          Effect.andThen(Effect.sync(() => void results.push(r)), results.length + 1 >= done ? Deferred.succeed(enough, undefined) : Effect.void)
      })
    )
    for (let i = 0; i < 400 && !(yield* Deferred.isDone(enough)); i++) {
      yield* Effect.yieldNow
      yield* Testing.advance("100 millis")
    }
    for (let i = 0; i < 30; i++) yield* Testing.advance("200 millis")
    yield* Fiber.interrupt(fiber)
    return results.map(report)
  })

describe("HandOffs: evidence Schemas", () => {
  const samples: ReadonlyArray<readonly [HandOffs.HandOff<any, any>, unknown]> = [
    [HandOffs.RolloutRestartRequested, { reason: "connection leak since the 14:02 deploy" }],
    [HandOffs.DependencyUnavailable, { dependency: "postgres primary", endpoint: "pg:5432", since: 1_000 }],
    [HandOffs.NodeReplacementRequested, { reason: "kernel panic loop", cordoned: true }],
    [HandOffs.VolumeGrowRequested, { reason: "95% full", capacityBytes: 100, requestedBytes: 150, usedBytes: 95 }],
    [HandOffs.DeploymentRegression, { revision: "rs-7", previousRevision: "rs-6", deployedAt: 5_000, symptom: "p99 latency x3" }],
    [HandOffs.OomObserved, { container: "app", count: 3, lastAt: 9_000, limitBytes: 512 * 1024 * 1024 }]
  ]

  it.effect("the six built-in hand-offs are in core, and each evidence round-trips from emitter to receiver", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(HandOffs.all.map((h) => h.type), [
        "k8s.rollout-restart.requested",
        "dependency.unavailable",
        "k8s.node-replacement.requested",
        "volume.grow.requested",
        "deployment.regression",
        "oom.observed"
      ])
      for (const [def, evidence] of samples) {
        const s = yield* HandOffs.signal(def, { target: W.db, evidence, observedAt: 1 })
        assert.strictEqual(s.type, def.type)
        assert.deepStrictEqual(yield* HandOffs.decode(def, s), evidence)
        assert.strictEqual(HandOffs.find(def.type), def)
      }
    }))

  it.effect("emitting evidence that fails its Schema is an InvalidHandOff (emit): HandOffs.signal, IncidentBus.publish and a plan's HandOff step", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(
        HandOffs.signal(HandOffs.VolumeGrowRequested, { target: W.db, evidence: { reason: "full", capacityBytes: 100, requestedBytes: 50 }, observedAt: 0 })
      )
      assert.strictEqual(e1._tag, "InvalidHandOff")
      assert.strictEqual(e1.direction, "emit")
      assert.include(e1.message, "requestedBytes (50) must exceed capacityBytes (100)")

      const bus = yield* IncidentBus.IncidentBus
      const e2 = yield* Effect.flip(bus.publish(W.depDown(W.db, { dependency: 42 })))
      assert.strictEqual(e2._tag, "InvalidHandOff")
      if (e2._tag !== "InvalidHandOff") return
      assert.strictEqual(e2.direction, "emit")
      assert.strictEqual(e2.signalType, "dependency.unavailable")
      assert.include(e2.message, "dependency")
      assert.deepStrictEqual(yield* bus.published, [])

      // A plan that hands off bad evidence: nothing is published, the incident escalates naming the field.
      const p = W.parent(() => Plan.handOff(W.depDown(W.db, { dependency: "" }), "the database is down"))
      const r = report(yield* Runbook.handle(p, W.broken()))
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /hand-off refused: .*dependency/s)
      assert.deepStrictEqual(yield* bus.published, [])
      // A valid one is published.
      yield* bus.publish(W.depDown(W.db))
      assert.strictEqual((yield* bus.published).length, 1)
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("receiving evidence that fails its Schema is an InvalidHandOff (receive): decode, the probe, and the Catalog refuses and escalates", () =>
    Effect.gen(function*() {
      const bad: Signal.Signal = { type: "oom.observed", target: W.api, observedAt: 0, evidence: { container: "app", count: 0, lastAt: 1 } }
      const e1 = yield* Effect.flip(HandOffs.decode(HandOffs.OomObserved, bad))
      assert.strictEqual(e1.direction, "receive")
      assert.include(e1.message, "count")
      const e2 = yield* Effect.flip(HandOffs.decode(HandOffs.RolloutRestartRequested, bad))
      assert.include(e2.message, "expected a k8s.rollout-restart.requested hand-off, got oom.observed")
      const fact = yield* Diagnoser.runProbe(HandOffs.probe(HandOffs.OomObserved), bad, "1 second")
      assert.strictEqual(fact._tag, "Unknown")
      if (fact._tag === "Unknown") assert.match(fact.reason, /^InvalidHandOff: .*count/s)

      // The Catalog receives a hand-off with bad evidence (e.g. from a webhook source): the owner never runs.
      const fix = W.fixHandler()
      yield* Effect.gen(function*() {
        const link = { incidentId: "inc-p", runbook: "ext.runbook", hop: 1, handOff: "inc-p/0" }
        const results = yield* runCatalog(Catalog.make([W.child()]), [{ ...W.depDown(W.db, { dependency: 7 }), parent: link }], 1)
        assert.deepStrictEqual(results, [])
        assert.strictEqual(fix.runs.length, 0)
        const rec = yield* (yield* Notifier.NotifierRecording).get
        assert.strictEqual(rec.escalations.length, 1)
        assert.match(rec.escalations[0]!.reason, /^hand-off dependency\.unavailable on test\.db prod\/pg refused: .*dependency/s)
        assert.strictEqual(rec.escalations[0]!.incidentId, "inc-p")
        assert.isTrue(rec.audit.some((a) => a.event === "handoff.invalid" && a.data["runbook"] === "test.child"))
        // and a parent awaiting it hears back at once
        const back = yield* (yield* IncidentBus.IncidentBus).awaitReport("inc-p/0")
        assert.strictEqual(back.status, "escalated")
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix] })))
    }))
})

describe("lease pass-through", () => {
  it.effect("a same-target hand-off passes the parent's lease to the child with no gap: never free, never another holder, the child is no duplicate", () =>
    Effect.gen(function*() {
      const ops: Array<LeaseOp> = []
      const fix = W.fixHandler()
      yield* Effect.gen(function*() {
        const store = yield* GuardrailStore.GuardrailStore
        const bus = yield* IncidentBus.IncidentBus
        const agent = yield* AgentId.current
        const p = W.parent((s) => Plan.handOff(W.depDown(s.target), "the api's dependency is down: let its owner fix it"))
        const parentReport = report(yield* Runbook.handle(p, W.broken(W.api)))
        assert.strictEqual(parentReport.status, "handed_off")
        const token = AgentId.holder(agent, parentReport.incidentId)
        // The parent is closed in its journal (never resumed again), only its lease lives on, passed.
        assert.include((yield* store.readJournal(parentReport.incidentId)).map((e) => e.type), "closed")
        assert.notInclude((yield* store.listIncidents()).map((i) => i.incidentId), parentReport.incidentId)
        const [handedOff] = yield* bus.published
        assert.deepStrictEqual(handedOff!.parent, { incidentId: parentReport.incidentId, runbook: "test.parent", hop: 1, handOff: `${parentReport.incidentId}/0` })

        // Between the parent's close and the child's start the target stays leased (passed, not released).
        const between = yield* store.getLease(leaseKey(W.api))
        assert.strictEqual(between?.holder, token)
        assert.strictEqual(between?.data["passTo"], `${parentReport.incidentId}/0`)
        assert.isAbove(between!.expiresAt, yield* Effect.clockWith((c) => c.currentTimeMillis))
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        assert.strictEqual((yield* store.acquireLease({ key: leaseKey(W.api), holder: "intruder", ttlMs: 60_000, now }))._tag, "Held")
        const other = report(yield* Runbook.handle(W.parent(() => Plan.escalate("x"), { id: "test.other" }), W.broken(W.api)))
        assert.strictEqual(other.status, "duplicate")
        assert.strictEqual(other.duplicateOf, parentReport.incidentId)

        // The child takes the lease over: not a duplicate, it acts once.
        const childReport = report(yield* Runbook.handle(W.child(), handedOff!))
        assert.strictEqual(childReport.status, "recovered", JSON.stringify(childReport.timeline))
        assert.strictEqual(fix.writes.length, 1)
        const after = yield* store.getLease(leaseKey(W.api))
        assert.strictEqual(after?.holder, token, "the lease kept its holder: it was renewed, never released")
        assert.strictEqual(after?.data["incidentId"], childReport.incidentId)
        assert.strictEqual(after?.data["cooldown"], true)
        assert.isTrue(ops.some((o) => o.data?.["passedFrom"] === parentReport.incidentId && o.data?.["incidentId"] === childReport.incidentId && o.leaseHolder === token), "the child took it over by renewal")

        // Every successful acquire on the key had the one holder; nothing released it.
        const onKey = ops.filter((o) => o.result === "Acquired")
        assert.isAbove(onKey.length, 2)
        for (const o of onKey) assert.strictEqual(o.leaseHolder, token)
        assert.deepStrictEqual(ops.filter((o) => o.op === "release"), [])

        // A second delivery of the same hand-off is a duplicate of the child: no second action.
        const again = report(yield* Runbook.handle(W.child(), handedOff!))
        assert.strictEqual(again.status, "duplicate")
        assert.strictEqual(again.duplicateOf, childReport.incidentId)
        assert.strictEqual(fix.writes.length, 1)
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix], store: recordingStore(ops) })))
    }))

  it.effect("end to end in Catalog.run: the child's signal is not held back by its parent's incident on the same target", () =>
    Effect.gen(function*() {
      const fix = W.fixHandler()
      yield* Effect.gen(function*() {
        const p = W.parent((s) => Plan.handOff(W.depDown(s.target), "let the owner fix it"))
        const results = yield* runCatalog(Catalog.make([p, W.child()]), [W.broken(W.api)], 2)
        assert.deepStrictEqual(results.map((r) => [r.runbook, r.status]).sort(), [["test.child", "recovered"], ["test.parent", "handed_off"]])
        assert.strictEqual(fix.writes.length, 1)
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix] })))
    }))
})

describe("a hand-off child interrupted while holding its parent's passed lease", () => {
  it.effect("resumes at the agent's next start at once (the lease names the child), not after the lease expired", () =>
    Effect.gen(function*() {
      const fix = W.fixHandler()
      yield* Effect.gen(function*() {
        const store = yield* GuardrailStore.GuardrailStore
        const bus = yield* IncidentBus.IncidentBus
        // the child's verifier hangs the first time (the agent dies while verifying), passes after
        const verifying = yield* Deferred.make<void>()
        let calls = 0
        const verify = () =>
          Effect.suspend(() => ++calls === 1 ? Effect.andThen(Deferred.succeed(verifying, undefined), Effect.never) : Effect.succeed(recovered("api answers", "200")))
        const parentReport = report(yield* Runbook.handle(W.parent((s) => Plan.handOff(W.depDown(s.target), "let the owner fix it")), W.broken(W.api)))
        const [handedOff] = yield* bus.published
        const child = W.child({ verify })
        const fiber = yield* Effect.forkChild(Runbook.handle(child, handedOff!))
        yield* Deferred.await(verifying)
        yield* Fiber.interrupt(fiber)
        const open = (yield* store.listIncidents()).filter((i) => i.runbook === "test.child")
        assert.strictEqual(open.length, 1, "the child is open in its journal")
        const lease = yield* store.getLease(leaseKey(W.api))
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        assert.isAbove(lease!.expiresAt, now, "the passed lease is still live")
        assert.strictEqual(lease!.data["incidentId"], open[0]!.incidentId, "it names the child")
        assert.notStrictEqual(lease!.holder, AgentId.holder(yield* AgentId.current, open[0]!.incidentId), "its holder is the parent's token")
        assert.include(lease!.holder, parentReport.incidentId)

        // the agent starts again: the catalog resumes the child at once, no virtual time passes
        const results: Array<Runbook.HandleResult> = []
        const done = yield* Deferred.make<void>()
        const run = yield* Effect.forkChild(
          Catalog.run(Catalog.make([child]), { onResult: (r) => Effect.andThen(Effect.sync(() => void results.push(r)), Deferred.succeed(done, undefined)) })
        )
        for (let i = 0; i < 200 && !(yield* Deferred.isDone(done)); i++) yield* Effect.yieldNow
        yield* Fiber.interrupt(run)
        assert.strictEqual(results.length, 1, "resumed without waiting for the lease to expire")
        const resumed = report(results[0]!)
        assert.strictEqual(resumed.incidentId, open[0]!.incidentId)
        assert.strictEqual(resumed.status, "recovered", JSON.stringify(resumed.timeline))
        assert.strictEqual(fix.writes.length, 1, "the fix applied before the interruption is not applied again")
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix] })))
    }))
})

describe("unrouted hand-offs and routing audit", () => {
  it.effect("a hand-off no enabled runbook owns escalates, naming its signal type and target (a disabled owner does not count)", () =>
    Effect.gen(function*() {
      const p = W.parent(() => Plan.handOff(W.depDown(W.db), "the database is down"))
      const catalog = Catalog.make([p, W.child()], { disable: ["test.child"] })
      const results = yield* runCatalog(catalog, [W.broken(W.api)], 1)
      assert.deepStrictEqual(results.map((r) => r.status), ["handed_off"])
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.strictEqual(rec.escalations.length, 1)
      const e = rec.escalations[0]!
      assert.strictEqual(e.reason, "no enabled runbook owns hand-off dependency.unavailable on test.db prod/pg")
      assert.strictEqual(e.incidentId, results[0]!.incidentId)
      assert.strictEqual(e.runbook, "test.parent")
      assert.strictEqual(e.signal.type, "dependency.unavailable")
      assert.include(e.nextSteps, "enable a runbook that owns dependency.unavailable")
      assert.isTrue(rec.audit.some((a) => a.event === "signal.unrouted"))
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("a plain detector signal nobody owns is only audited, never paged", () =>
    Effect.gen(function*() {
      yield* runCatalog(Catalog.make([W.child()]), [W.broken(W.api)], 1)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.deepStrictEqual(rec.escalations, [])
      assert.isTrue(rec.audit.some((a) => a.event === "signal.unrouted"))
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("when the Catalog routes a target to one runbook, every other enabled owner's audit records routed_to <id>", () =>
    Effect.gen(function*() {
      const first = W.parent(() => Plan.escalate("look"), { id: "test.first" })
      const second = W.parent(() => Plan.escalate("look"), { id: "test.second", family: "test.second", precedence: 200 })
      const third = W.child({ id: "test.third", family: "test.third" })
      const catalog = Catalog.make([second, first, third], { enable: ["test.first", "test.second", "test.third"] })
      const results = yield* runCatalog(catalog, [W.broken(W.api)], 1)
      assert.deepStrictEqual(results.map((r) => r.runbook), ["test.first"])
      const rec = yield* (yield* Notifier.NotifierRecording).get
      const routed = rec.audit.filter((a) => a.event === "routed_to")
      assert.deepStrictEqual(routed.map((a) => [a.data["runbook"], a.data["routed_to"], a.data["detail"], a.data["target"]]), [
        ["test.second", "test.first", "routed_to test.first", "test.workload:prod/api"]
      ])
    }).pipe(Effect.provide(Testing.layer())))
})

const recovered = (name: string, detail: string): Verdict.Verdict => ({ _tag: "Recovered", checks: [{ name, ok: true, detail }], at: 0 })

describe("awaited hand-offs", () => {
  /** The parent's verifier: passes exactly when its awaited child recovered; records what it saw. */
  const childVerifier = (seen: Array<HandOffs.ChildResult>) => (ctx: { readonly outcomes: ReadonlyArray<any>; readonly since: number }) =>
    Effect.sync((): Verdict.Verdict => {
      const kids = HandOffs.childResults(ctx.outcomes)
      seen.push(...kids)
      const v = kids[0]?.verdict
      return v?._tag === "Recovered"
        ? { _tag: "Recovered", checks: [{ name: "child recovered", ok: true, detail: v.checks.map((c) => c.name).join(",") }], at: ctx.since }
        : { _tag: "NotRecovered", reason: `child: ${v?._tag ?? "no verdict"} ${v ? v.reason : ""}`, checks: [], at: ctx.since }
    })

  const awaitRun = (childVerdict: Verdict.Verdict, target: TargetRef.TargetRef = W.db) =>
    Effect.gen(function*() {
      const seen: Array<HandOffs.ChildResult> = []
      const fix = W.fixHandler()
      return yield* Effect.gen(function*() {
        const kids: Array<Runbook.HandleResult> = []
        const loop = yield* Effect.forkChild(Runbook.run(W.child({ verify: () => Effect.succeed(childVerdict) }), { resumeOpen: false, onResult: (r) => Effect.sync(() => void kids.push(r)) }))
        yield* Effect.yieldNow
        const p = W.parent(() => Plan.handOff(W.depDown(target), { reason: "the database is down", await: "10 minutes" }), { verify: childVerifier(seen) })
        const r = report(yield* Testing.runAdvancing(Runbook.handle(p, W.broken(W.api)), { step: "1 second" }))
        yield* Fiber.interrupt(loop)
        const lease = yield* (yield* GuardrailStore.GuardrailStore).getLease(leaseKey(W.api))
        return { r, kids: kids.map(report), seen, fix, lease }
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix] })))
    })

  it.effect("the parent waits for the child's report, and its verifier sees the child's verdict (recovered → recovered)", () =>
    Effect.gen(function*() {
      const { fix, kids, r, seen } = yield* awaitRun(recovered("db answers", "select 1 ok"))
      assert.strictEqual(fix.writes.length, 1)
      assert.strictEqual(kids.length, 1)
      assert.strictEqual(kids[0]!.status, "recovered")
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0]!.incidentId, kids[0]!.incidentId)
      assert.strictEqual(seen[0]!.handOff, `${r.incidentId}/0`)
      assert.strictEqual(seen[0]!.verdict?._tag, "Recovered")
      assert.strictEqual(r.verdicts[0]?.checks[0]?.detail, "db answers")
      const step = r.outcomes.find((o) => o.kind === "handoff")!
      assert.strictEqual(step.status, "handed_off")
      assert.match(step.detail, new RegExp(`child incident ${kids[0]!.incidentId} ended recovered`))
      assert.deepStrictEqual(r.children, ["dependency.unavailable:test.db:prod/pg"])
      // the verification window starts when the child ended
      assert.isTrue(r.timeline.some((t) => t.phase === "verify"))
    }))

  it.effect("an awaited hand-off on the parent's own target: the lease passes to the child and comes back to the parent", () =>
    Effect.gen(function*() {
      const { fix, kids, lease, r } = yield* awaitRun(recovered("api answers", "200"), W.api)
      assert.strictEqual(kids.map((k) => k.status).join(), "recovered", "the child is no duplicate")
      assert.strictEqual(fix.writes.length, 1)
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
      assert.strictEqual(lease?.holder.startsWith(`${r.incidentId}@`), true, "one holder throughout: the parent's")
      assert.strictEqual(lease?.data["incidentId"], r.incidentId, "the parent's close took it back for its cooldown")
      assert.strictEqual(lease?.data["cooldown"], true)
    }))

  it.effect("the child's NotRecovered reaches the parent's verifier, which escalates", () =>
    Effect.gen(function*() {
      const { kids, r, seen } = yield* awaitRun({ _tag: "NotRecovered", reason: "replica lag 40 s", checks: [], at: 0 })
      assert.strictEqual(kids[0]!.status, "escalated")
      assert.strictEqual(seen[0]!.status, "escalated")
      assert.strictEqual(seen[0]!.verdict?._tag, "NotRecovered")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /not recovered .*child: NotRecovered.*replica lag 40 s/)
    }))

  it.effect("without a verifier, an awaited child that did not recover escalates the parent", () =>
    Effect.gen(function*() {
      const fix = W.fixHandler()
      yield* Effect.gen(function*() {
        const loop = yield* Effect.forkChild(Runbook.run(W.child({ verify: () => Effect.succeed<Verdict.Verdict>({ _tag: "NotRecovered", reason: "still down", checks: [], at: 0 }) }), { resumeOpen: false }))
        yield* Effect.yieldNow
        const p = W.parent(() => Plan.handOff(W.depDown(W.db), { await: "10 minutes" }))
        const r = report(yield* Testing.runAdvancing(Runbook.handle(p, W.broken(W.api))))
        yield* Fiber.interrupt(loop)
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation!.reason, /^awaited hand-off did not recover: dependency\.unavailable on test\.db prod\/pg: child incident .* ended escalated/)
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix] })))
    }))

  it.effect("an awaited hand-off with no report escalates at its deadline, not before (fire-and-forget stays the default)", () =>
    Effect.gen(function*() {
      const p = W.parent(() => Plan.handOff(W.depDown(W.db), { reason: "db down", await: "10 minutes" }))
      const fiber = yield* Effect.forkChild(Runbook.handle(p, W.broken(W.api)))
      yield* Effect.yieldNow
      yield* TestClock.adjust("9 minutes")
      yield* Effect.yieldNow
      assert.strictEqual(fiber.pollUnsafe(), undefined, "still waiting before the deadline")
      yield* TestClock.adjust("61 seconds")
      const r = report(yield* Fiber.join(fiber))
      assert.strictEqual(r.status, "escalated")
      assert.strictEqual(r.escalation!.reason, "awaited hand-off dependency.unavailable on test.db prod/pg timed out after 10m: no report from the child incident")
      assert.include(r.escalation!.nextSteps, "handle dependency.unavailable on prod/pg by hand")
      // the default: fire-and-forget, no wait
      const plain = Plan.handOff(W.depDown(W.db), "x")
      assert.strictEqual(plain._tag === "HandOff" ? plain.await : "?", undefined)
      const f = report(yield* Runbook.handle(W.parent(() => plain, { id: "test.ff" }), W.broken(W.db)))
      assert.strictEqual(f.status, "handed_off")
      assert.match(Plan.render(Plan.make("x", "c", "s", Plan.handOff(W.depDown(W.db), { await: "10 minutes" }))), /await the child's report up to 10m/)
      assert.throws(() => Plan.handOff(W.depDown(W.db), { await: "0 millis" }), /await must be a positive, finite duration/)
    }).pipe(Effect.provide(Testing.layer())))

  it.effect("a parent interrupted while awaiting resumes from its journal: no second publish, it sees the child's verdict", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-handoff-"))
      const store = () => FileStore.layer({ directory: dir, fsync: false })
      const incidentId = "inc-await-1"
      const seen: Array<HandOffs.ChildResult> = []
      const p = W.parent(() => Plan.handOff(W.depDown(W.db), { reason: "db down", await: "10 minutes" }), { verify: childVerifier(seen) })
      const fix = W.fixHandler()

      // 1st process: the parent publishes and waits; it dies while waiting. The child runs and closes.
      yield* Effect.gen(function*() {
        const bus = yield* IncidentBus.IncidentBus
        const fiber = yield* Effect.forkChild(Runbook.handle(p, W.broken(W.api), { incidentId }))
        yield* untilIntent(incidentId)
        assert.strictEqual((yield* bus.published).length, 1, "published")
        yield* TestClock.adjust("2 minutes")
        yield* Fiber.interrupt(fiber)
        const [published] = yield* bus.published
        const journal = yield* (yield* GuardrailStore.GuardrailStore).readJournal(incidentId)
        const intent = journal.find((e) => e.type === "intent" && e.stepPath === "0")
        assert.strictEqual(intent?.data["handOff"], `${incidentId}/0`)
        assert.isNumber(intent?.data["deadline"])
        assert.notInclude(journal.map((e) => e.type), "closed")
        const kid = report(yield* Runbook.handle(W.child({ verify: () => Effect.succeed(recovered("db answers", "ok")) }), published!))
        assert.strictEqual(kid.status, "recovered")
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix], store: store() })))

      // 2nd process: a fresh bus and store instance; the parent resumes.
      yield* Effect.gen(function*() {
        const r = report(yield* Testing.runAdvancing(Runbook.resume(p, incidentId)))
        assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation ?? r.outcomes))
        assert.deepStrictEqual(yield* (yield* IncidentBus.IncidentBus).published, [], "not published again")
        assert.strictEqual(seen.length, 1)
        assert.strictEqual(seen[0]!.verdict?._tag, "Recovered")
        assert.strictEqual(fix.writes.length, 1)
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix], store: store() })))

      // A resumed parent whose deadline passed without a report escalates at once.
      const late = "inc-await-2"
      yield* Effect.gen(function*() {
        const bus = yield* IncidentBus.IncidentBus
        const fiber = yield* Effect.forkChild(Runbook.handle(p, W.broken(TargetRef.make("test.workload", "prod/late")), { incidentId: late }))
        yield* untilIntent(late)
        assert.strictEqual((yield* bus.published).length, 1, "published")
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(Testing.layer({ handlers: [fix], store: store() })))
      yield* TestClock.adjust("11 minutes")
      const r2 = yield* Testing.runAdvancing(Runbook.resume(p, late)).pipe(Effect.provide(Testing.layer({ handlers: [fix], store: store() })))
      assert.strictEqual(report(r2).status, "escalated")
      assert.match(report(r2).escalation!.reason, /timed out after 10m/)
    }))
})
