/**
 * Hierarchical leases in the runbook engine: an incident on a container (a target whose parent
 * is its workload) and one on the workload never run at once, in either order; two containers
 * of one workload (siblings) do.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { Diagnoser, GuardrailStore, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as P from "./pool"

const workload = TargetRef.make("pool.workload", "prod/web")
const app = TargetRef.make("pool.workload", "prod/web/app", workload)
const sidecar = TargetRef.make("pool.workload", "prod/web/sidecar", workload)

const race = (first: TargetRef.TargetRef, second: TargetRef.TargetRef) => {
  const pool: P.Pool = { workers: 2, queue: 500, writes: [] }
  return Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    let calls = 0
    const rb = P.runbook(pool, {
      diagnose: Diagnoser.make<P.Facts>({
        workers: Diagnoser.probe("workers", () =>
          calls++ === 0
            ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.as(pool.workers))
            : Effect.sync(() => pool.workers)),
        queue: Diagnoser.probe("queue", () => Effect.sync(() => pool.queue))
      }),
      verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 }))
    })
    const a = yield* Effect.forkChild(Runbook.handle(rb, { ...P.signal(), target: first }, { incidentId: "inc-first" }))
    yield* Deferred.await(started) // the first holds its lease and is diagnosing
    const b = yield* Runbook.handle(rb, { ...P.signal(), target: second }, { incidentId: "inc-second" })
    yield* Deferred.succeed(release, undefined)
    const one = yield* Fiber.join(a)
    if (Runbook.isAwaitingApproval(one) || Runbook.isAwaitingApproval(b)) return assert.fail("no approval expected")
    const store = yield* GuardrailStore.GuardrailStore
    const lease = yield* store.getLease(`target:${TargetRef.key(first)}`)
    return { one, two: b, lease }
  }).pipe(Effect.provide(Testing.layer({ handlers: [P.scale(pool)] })))
}

describe("hierarchical leases in the engine", () => {
  it.effect("an incident on the workload holds off one on its container", () =>
    Effect.gen(function*() {
      const { one, two } = yield* race(workload, app)
      assert.strictEqual(one.status, "recovered")
      assert.strictEqual(two.status, "duplicate")
      assert.strictEqual(two.duplicateOf, "inc-first")
    }))

  it.effect("an incident on a container holds off one on its workload; its lease names the parent", () =>
    Effect.gen(function*() {
      const { lease, one, two } = yield* race(app, workload)
      assert.strictEqual(one.status, "recovered")
      assert.strictEqual(two.status, "duplicate")
      assert.strictEqual(two.duplicateOf, "inc-first")
      assert.deepStrictEqual(lease?.parents, [`target:${TargetRef.key(workload)}`])
    }))

  it.effect("two containers of one workload are handled side by side", () =>
    Effect.gen(function*() {
      const { one, two } = yield* race(app, sidecar)
      assert.strictEqual(one.status, "recovered")
      assert.notStrictEqual(two.status, "duplicate")
    }))
})
