import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { Effect } from "effect"
import { GuardrailStore, type GuardrailStoreShape } from "../../src/GuardrailStore"
import * as Guardrails from "../../src/Guardrails"
import * as FileStore from "../../src/stores/FileStore"
import * as TargetRef from "../../src/TargetRef"
import { ctx } from "./helpers"

/** Two FileStore instances on one directory: what two agent processes on one host see. */
const twoAgents = <A, E>(f: (a: GuardrailStoreShape, b: GuardrailStoreShape) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(nodePath.join(tmpdir(), "byteport-guardrails-"))),
    (directory) =>
      Effect.gen(function*() {
        const a = yield* FileStore.make({ directory, fsync: false })
        const b = yield* FileStore.make({ directory, fsync: false })
        return yield* f(a, b)
      }),
    (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  )

const on = (store: GuardrailStoreShape) => <A, E>(self: Effect.Effect<A, E, GuardrailStore>) => Effect.provideService(self, GuardrailStore, store)
const T0 = Date.parse("2026-11-23T10:00:00Z")
const pod = TargetRef.make("k8s/Pod", "prod/api/web-1")

describe("guardrails over the FileStore (two agents sharing one directory)", () => {
  it.live("a rate limit taken by one agent is seen, refunded and retaken by the other", () =>
    twoAgents((a, b) =>
      Effect.gen(function*() {
        const g = Guardrails.rateLimit({ key: Guardrails.keys.perTarget("memory-bump"), max: 1, window: "24 hours" })
        const c = yield* ctx({ target: pod, now: T0 })
        const taken = yield* g.acquire(c).pipe(on(a))
        assert.strictEqual(taken.result._tag, "Pass")
        // b runs another step (its own incident): the same step would find a's unit (its window token)
        const other = { ...c, incidentId: "inc-b" }
        const seen = yield* g.check({ ...other, now: T0 + 1000 }).pipe(on(b))
        assert.strictEqual(seen._tag, "Deny")
        assert.strictEqual(seen._tag === "Deny" ? seen.retryAfterMs : -1, 86_400_000 - 1000)
        assert.strictEqual((yield* g.check({ ...c, now: T0 + 1000 }).pipe(on(b)))._tag, "Pass", "a's own step holds its unit")
        assert.strictEqual((yield* g.acquire({ ...other, now: T0 + 1000 }).pipe(on(b))).result._tag, "Deny")
        yield* taken.release.pipe(on(a))
        assert.strictEqual((yield* g.acquire({ ...other, now: T0 + 2000 }).pipe(on(b))).result._tag, "Pass")
      })
    ))

  it.live("kills_per_minute_cap holds across agents acquiring concurrently", () =>
    twoAgents((a, b) =>
      Effect.gen(function*() {
        const cap = Guardrails.perMinuteCap({ name: "kills_per_minute_cap", key: Guardrails.keys.perTarget("pg-terminate"), max: 20 })
        const c = yield* ctx({ target: pod, now: T0 })
        const results = yield* Effect.forEach(
          Array.from({ length: 25 }, (_, i) => i),
          (i) => cap.acquire({ ...c, stepPath: `0.${i}` }).pipe(on(i % 2 === 0 ? a : b)),
          { concurrency: 8 }
        )
        assert.strictEqual(results.filter((r) => r.result._tag === "Pass").length, 20)
        assert.strictEqual(results.filter((r) => r.result._tag === "Deny").length, 5)
      })
    ))

  it.live("backoff attempts and approvals written by one agent are read by the other", () =>
    twoAgents((a, b) =>
      Effect.gen(function*() {
        const g = Guardrails.backoff({ key: Guardrails.keys.perTarget("restart") })
        const c = yield* ctx({ target: pod, now: T0, incidentId: "inc-file" })
        assert.strictEqual((yield* g.acquire(c).pipe(on(a))).result._tag, "Pass")
        const denied = yield* g.check({ ...c, now: T0 + 10_000 }).pipe(on(b))
        assert.strictEqual(denied._tag === "Deny" ? denied.retryAfterMs : -1, 20_000)
        const approval = Guardrails.approval({ reason: "drain" })
        assert.strictEqual((yield* approval.check(c).pipe(on(b)))._tag, "NeedsApproval")
        yield* Guardrails.Approval.grant("inc-file", { planDigest: c.planDigest, approver: "alice", expiresAt: T0 + 60_000 }).pipe(on(a))
        assert.strictEqual((yield* approval.check(c).pipe(on(b)))._tag, "Pass")
      })
    ))
})
