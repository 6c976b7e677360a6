import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ActionRegistry, IncidentBus, MemoryStore, Notifier, Redactor, Runbook } from "@byteport/core"
import * as Audit from "../../src/Audit"
import * as Sink from "../../src/sinks/Sink"
import type { SinkMessage } from "../../src/sinks/SinkMessage"
import * as Testing from "@byteport/core/testing"
import * as P from "./pool"

const recording = (name: string, fail = false) => {
  const messages: Array<SinkMessage> = []
  const sink: Sink.Sink<any> = {
    name,
    post: (m: SinkMessage) =>
      fail
        ? Effect.fail(new Sink.SinkError({ sink: name, reason: "http_status", message: "503 from the pager", attempts: 1, retryable: true, status: 503 }))
        : Effect.sync(() => void messages.push(m))
  }
  return { messages, sink, kinds: () => messages.map((m) => m.kind) }
}

const layerFor = (pool: P.Pool, sinks: { ops: ReturnType<typeof recording>; pager?: ReturnType<typeof recording>; tickets?: ReturnType<typeof recording> }) =>
  Layer.mergeAll(
    MemoryStore.layer,
    ActionRegistry.layer({ handlers: [P.scale(pool)] }),
    IncidentBus.layer(),
    Notifier.fromSinks.pipe(
      Layer.provide(Layer.mergeAll(
        Sink.layerOpsChannel(sinks.ops.sink),
        sinks.pager ? Sink.layerPager(sinks.pager.sink) : Layer.empty,
        sinks.tickets ? Sink.layerTicketSink(sinks.tickets.sink) : Layer.empty,
        Audit.layerMemory.pipe(Layer.provide(Redactor.layerDefault))
      ))
    )
  )

describe("Notifier.fromSinks", () => {
  it.effect("dry_run plans go to the ops channel only; escalations page; tickets go to the ticket sink", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    const ops = recording("ops")
    const pager = recording("pager")
    const tickets = recording("tickets")
    return Effect.gen(function*() {
      const rb = P.runbook(pool, { verifySchedule: { offsets: [0], description: "once" }, ticket: () => true })
      yield* Runbook.handle(rb, P.signal(), { mode: "dry_run" })
      assert.deepStrictEqual(ops.kinds(), ["plan", "report"])
      assert.deepStrictEqual(pager.kinds(), [])
      yield* Testing.advance("6 minutes") // past the dry_run incident's cooldown lease on the target
      const r = yield* Runbook.handle(rb, P.signal(), { mode: "auto" }) // the queue never drains: NotRecovered
      assert.strictEqual((r as any).status, "escalated")
      assert.deepStrictEqual(pager.kinds(), ["escalation"])
      assert.deepStrictEqual(tickets.kinds(), ["ticket"])
      assert.deepStrictEqual(ops.kinds(), ["plan", "report", "report"])
    }).pipe(Effect.provide(layerFor(pool, { ops, pager, tickets })))
  })

  it.effect("dry_run de-duplicates: a second signal on the target within the cooldown posts nothing to the ops channel; the audit log links it", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    const ops = recording("ops")
    return Effect.gen(function*() {
      const rb = P.runbook(pool, { verifySchedule: { offsets: [0], description: "once" }, cooldown: "5 minutes" })
      const first = yield* Runbook.handle(rb, P.signal(), { mode: "dry_run" })
      yield* Testing.advance("40 seconds") // the pod restarts and OOMs again
      const second = yield* Runbook.handle(rb, P.signal(), { mode: "dry_run" })
      assert.strictEqual((second as any).status, "duplicate")
      assert.deepStrictEqual(ops.kinds(), ["plan", "report"])
      const audit = yield* Effect.flatMap(Effect.service(Audit.Audit), (a) => a.entries)
      const dup = audit.filter((l) => l.event === "duplicate")
      assert.strictEqual(dup.length, 1)
      assert.strictEqual(dup[0]!.incidentId, (second as any).incidentId)
      assert.strictEqual((dup[0]!.data as any).duplicateOf, (first as any).incidentId)
    }).pipe(Effect.provide(Layer.mergeAll(
      MemoryStore.layer,
      ActionRegistry.layer({ handlers: [P.scale(pool)] }),
      IncidentBus.layer(),
      Notifier.fromSinks.pipe(Layer.provideMerge(Layer.mergeAll(Sink.layerOpsChannel(ops.sink), Audit.layerMemory.pipe(Layer.provide(Redactor.layerDefault)))))
    )))
  })

  it.effect("a failing pager never fails the incident; without a pager escalations reach the ops channel", () => {
    const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
    const ops = recording("ops")
    const pager = recording("pager", true)
    const ops2 = recording("ops2")
    return Effect.gen(function*() {
      const rb = P.runbook(pool, { verifySchedule: { offsets: [0], description: "once" } })
      const r = yield* Runbook.handle(rb, P.signal(), { mode: "auto" }).pipe(Effect.provide(layerFor(pool, { ops, pager })))
      assert.strictEqual((r as any).status, "escalated")
      assert.deepStrictEqual(ops.kinds(), ["report"])
      pool.workers = 2
      const r2 = yield* Runbook.handle(rb, P.signal(), { mode: "auto" }).pipe(Effect.provide(layerFor(pool, { ops: ops2 })))
      assert.strictEqual((r2 as any).status, "escalated")
      assert.deepStrictEqual(ops2.kinds(), ["escalation", "report"])
    })
  })
})
