import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import type { GuardrailStoreShape } from "../../src/GuardrailStore"
import * as FileStore from "../../src/stores/FileStore"
import * as MemoryStore from "../../src/stores/MemoryStore"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-window-property-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let dirs = 0

type Step = { readonly advance: number; readonly kind: "acquire"; readonly weight: number } | {
  readonly advance: number
  readonly kind: "release"
  readonly pick: number
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ advance: fc.integer({ min: 0, max: 400 }), kind: fc.constant("acquire" as const), weight: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ advance: fc.integer({ min: 0, max: 400 }), kind: fc.constant("release" as const), pick: fc.nat() }) }
)

/**
 * Whatever the sequence of acquires (with weights), refunds and time steps: the units held in
 * any window never exceed max, an acquire is refused only when it would exceed max, and
 * `retryAfterMs` is exactly when the request would first fit.
 */
const property = (makeStore: () => Effect.Effect<GuardrailStoreShape, unknown>, runs: number) =>
  Effect.promise(() =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 100, max: 2_000 }), fc.array(step, { maxLength: 40 }), (max, windowMs, steps) =>
        Effect.runPromise(Effect.gen(function*() {
          const store = yield* makeStore()
          const held: Array<{ t: number; w: number; token: string }> = []
          let now = 1_000_000
          const inWindow = (at: number) => held.filter((u) => at - u.t < windowMs).reduce((n, u) => n + u.w, 0)
          for (const s of steps) {
            now += s.advance
            if (s.kind === "release") {
              if (held.length === 0) continue
              const [unit] = held.splice(s.pick % held.length, 1)
              yield* store.releaseWindow("k", unit!.token)
              continue
            }
            const before = inWindow(now)
            const r = yield* store.acquireWindow({ key: "k", max, windowMs, now, weight: s.weight })
            if (r._tag === "Acquired") {
              held.push({ t: now, w: s.weight, token: r.token })
              assert.strictEqual(r.count, before + s.weight)
              assert.isAtMost(r.count, max)
            } else {
              assert.strictEqual(r.count, before)
              assert.isAbove(before + s.weight, max)
              if (s.weight <= max) {
                assert.isAtMost(inWindow(now + r.retryAfterMs) + s.weight, max)
                assert.isAbove(inWindow(now + r.retryAfterMs - 1) + s.weight, max)
              }
            }
            assert.strictEqual((yield* store.peekWindow("k", windowMs, now)).count, inWindow(now))
          }
        }))
      ),
      { numRuns: runs }
    )
  )

describe("sliding window property", () => {
  it.live("MemoryStore", () => property(() => MemoryStore.make(), 300))
  it.live("FileStore", () => property(() => FileStore.make({ directory: path.join(root, `s${++dirs}`), fsync: false }), 40), 60_000)
})
