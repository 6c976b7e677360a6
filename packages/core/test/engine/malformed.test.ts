import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Detector, Runbook, Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"
import * as P from "./pool"

describe("malformed signals", () => {
  it.effect("Signal.decode gives a typed SchemaError naming the path", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Signal.decode({ type: "svc.down", target: { kind: "svc", ref: 42 }, observedAt: 0, evidence: {} }))
      assert.strictEqual(e._tag, "SchemaError")
      assert.match(e.message, /\["target"\]\["ref"\]/)
    }))

  it.effect("Runbook.run records a bad element as MalformedSignal and keeps handling the good ones after it", () => {
    const pool: P.Pool = { workers: 2, queue: 0, writes: [] }
    return Effect.gen(function*() {
      const other = { ...P.signal(), target: { kind: "pool", ref: "default/other" } }
      const bad = { type: "pool.backlog", target: { kind: "pool" }, observedAt: "yesterday", evidence: {} }
      const rb = P.runbook(pool, {
        detector: Detector.fromStream("fixed", Stream.fromIterable<unknown>([P.signal(), bad, other])),
        defaultMode: "observe"
      })
      const results: Array<Runbook.HandleResult> = []
      const malformed: Array<Runbook.MalformedSignal> = []
      yield* Runbook.run(rb, {
        handOffs: false,
        resumeOpen: false,
        concurrency: 1,
        onResult: (r) => Effect.sync(() => void results.push(r)),
        onMalformed: (e) => Effect.sync(() => void malformed.push(e))
      })
      assert.strictEqual(malformed.length, 1)
      assert.strictEqual(malformed[0]!._tag, "MalformedSignal")
      assert.strictEqual(malformed[0]!.detector, "fixed")
      assert.match(malformed[0]!.message, /\["target"\]\["ref"\]|\["observedAt"\]/)
      assert.deepStrictEqual(results.map((r) => (r as any).signal.target.ref).sort(), ["default/jobs", "default/other"])
      assert.isTrue(results.every((r) => !Runbook.isAwaitingApproval(r) && r.status === "observed"))
    }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
  })
})

void W
