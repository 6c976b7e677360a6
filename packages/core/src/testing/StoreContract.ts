/**
 * The contract suite every GuardrailStore implementation must pass: counted sliding windows
 * that never exceed their max under concurrency, refunds, weights, idempotent window tokens,
 * fencing epochs (a stale one refused, also under concurrency), compare-and-swap, leases,
 * hierarchical leases (a parent and its children exclude each other), the incident journal and
 * JSON isolation of stored values.
 *
 * ```ts
 * import { storeContract } from "@byteport/core/testing"
 * storeContract("postgres", () => PgStore.layer({ ... }), { concurrency: 200 })
 * ```
 *
 * The suite never sleeps: time is passed in (`now`), so it runs as fast as the store does.
 * Every test uses fresh random keys and incident ids, so a store shared between tests (one
 * database, one namespace) passes too.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { GuardrailStore as StoreModule, type Json as JsonModule } from "@byteport/core"

const GuardrailStore = StoreModule.GuardrailStore
type GuardrailStore = StoreModule.GuardrailStore
type GuardrailStoreShape = StoreModule.GuardrailStoreShape
type JournalEntryType = StoreModule.JournalEntryType
type WindowResult = StoreModule.WindowResult
type Json = JsonModule.Json

/** Options of {@link storeContract}. */
export interface StoreContractOptions {
  /** Concurrent window acquires in the "max 1" race (default 1000). Lower it only for slow remote stores. */
  readonly concurrency?: number
  /** Concurrent fibers in the compare-and-swap, lease and journal races (default 100). */
  readonly raceConcurrency?: number
  /** Concurrent lease acquires in the mixed parent/child race of hierarchical leases (default 1000). */
  readonly hierarchyConcurrency?: number
  /** Per-test timeout in ms (default 30 000). */
  readonly timeoutMs?: number
}

const T = 1_700_000_000_000

/** The secrets {@link secretsPlanted} hides in store writes: none may ever be found in a store's data. */
export const SECRETS: ReadonlyArray<string> = ["hunter2-pw-1", "S3cr3tPw", "tok-XYZ-123", "pw-in-dsn-77"]

/** A baseline value and lease data with secrets of several shapes planted in them (see {@link SECRETS}). */
export const secretsPlanted = (): { readonly value: JsonModule.Json; readonly leaseData: { readonly [k: string]: JsonModule.Json } } => ({
  value: {
    baseline: { limitMi: 512, password: "hunter2-pw-1", url: "postgres://app:S3cr3tPw@db:5432/app" },
    expiresAt: T
  },
  leaseData: { incidentId: "inc-1", apiToken: "tok-XYZ-123", note: "host=db user=x password=pw-in-dsn-77" }
})

/**
 * Registers the contract tests (vitest, `@effect/vitest`) for one store. `makeLayer` is called
 * once per test and may build a fresh store (a temp directory) or connect to a shared one.
 */
export const storeContract = (
  name: string,
  makeLayer: () => Layer.Layer<StoreModule.GuardrailStore, unknown>,
  options: StoreContractOptions = {}
): void => {
  const concurrency = options.concurrency ?? 1000
  const race = options.raceConcurrency ?? 100
  const hierarchy = options.hierarchyConcurrency ?? 1000
  const timeout = options.timeoutMs ?? 30_000

  const test = <A>(title: string, body: (store: GuardrailStoreShape, id: (s: string) => string) => Effect.Effect<A, unknown>) =>
    it.live(
      title,
      () => {
        const run = randomUUID().slice(0, 8)
        return Effect.gen(function*() {
          const store = yield* GuardrailStore
          return yield* body(store, (s) => `contract-${run}-${s}`)
        }).pipe(Effect.provide(makeLayer(), { local: true }))
      },
      timeout
    )

  const acquired = (results: ReadonlyArray<WindowResult>) => results.filter((r) => r._tag === "Acquired").length

  const expectAcquired = (r: WindowResult, count: number): string => {
    assert.strictEqual(r._tag, "Acquired", `expected Acquired, got ${JSON.stringify(r)}`)
    assert.strictEqual(r.count, count)
    return (r as Extract<WindowResult, { _tag: "Acquired" }>).token
  }

  const expectExhausted = (r: WindowResult, count: number, retryAfterMs: number) => {
    assert.strictEqual(r._tag, "Exhausted", `expected Exhausted, got ${JSON.stringify(r)}`)
    assert.strictEqual(r.count, count)
    assert.strictEqual((r as Extract<WindowResult, { _tag: "Exhausted" }>).retryAfterMs, retryAfterMs)
  }

  describe(`GuardrailStore contract: ${name}`, () => {
    // ------------------------------------------------------------------ windows

    test(`window: ${concurrency} concurrent acquires with max 1 give exactly one Acquired`, (store, id) =>
      Effect.gen(function*() {
        const key = id("race")
        const results = yield* Effect.forEach(
          Array.from({ length: concurrency }, (_, i) => i),
          (i) => store.acquireWindow({ key, max: 1, windowMs: 60_000, now: T + (i % 7) }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(acquired(results), 1)
        const winner = results.find((r) => r._tag === "Acquired")!
        assert.strictEqual(winner.count, 1)
        for (const r of results) if (r._tag === "Exhausted") assert.strictEqual(r.count, 1)
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T + 10)).count, 1)
      }))

    test(`window: max 20 under ${race} concurrent acquires gives exactly 20`, (store, id) =>
      Effect.gen(function*() {
        const key = id("race20")
        const results = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          () => store.acquireWindow({ key, max: 20, windowMs: 60_000, now: T }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(acquired(results), Math.min(20, race))
        const counts = results.flatMap((r) => (r._tag === "Acquired" ? [r.count] : [])).sort((a, b) => a - b)
        assert.deepStrictEqual(counts, Array.from({ length: Math.min(20, race) }, (_, i) => i + 1))
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, Math.min(20, race))
      }))

    test("window: slides (exhausted until exactly t + window, with exact retryAfterMs)", (store, id) =>
      Effect.gen(function*() {
        const key = id("slide")
        const w = 1_000
        expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: w, now: T }), 1)
        expectExhausted(yield* store.acquireWindow({ key, max: 1, windowMs: w, now: T }), 1, w)
        expectExhausted(yield* store.acquireWindow({ key, max: 1, windowMs: w, now: T + w - 1 }), 1, 1)
        expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: w, now: T + w }), 1)

        const k3 = id("slide3")
        expectAcquired(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T }), 1)
        expectAcquired(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T + 100 }), 2)
        expectAcquired(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T + 200 }), 3)
        expectExhausted(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T + 500 }), 3, 500)
        assert.deepStrictEqual(yield* store.peekWindow(k3, w, T + 500), { count: 3, oldestAt: T })
        expectAcquired(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T + w }), 3)
        assert.deepStrictEqual(yield* store.peekWindow(k3, w, T + w), { count: 3, oldestAt: T + 100 })
        expectExhausted(yield* store.acquireWindow({ key: k3, max: 3, windowMs: w, now: T + w + 50 }), 3, 50)
        const later = yield* store.peekWindow(k3, w, T + 10 * w)
        assert.strictEqual(later.count, 0)
      }))

    test("window: keys are independent", (store, id) =>
      Effect.gen(function*() {
        const a = id("a")
        const b = id("b")
        expectAcquired(yield* store.acquireWindow({ key: a, max: 1, windowMs: 60_000, now: T }), 1)
        expectAcquired(yield* store.acquireWindow({ key: b, max: 1, windowMs: 60_000, now: T }), 1)
        expectExhausted(yield* store.acquireWindow({ key: a, max: 1, windowMs: 60_000, now: T + 1 }), 1, 59_999)
        expectExhausted(yield* store.acquireWindow({ key: b, max: 1, windowMs: 60_000, now: T + 2 }), 1, 59_998)
        assert.strictEqual((yield* store.peekWindow(id("c"), 60_000, T)).count, 0)
      }))

    test("window: releaseWindow refunds, and is idempotent", (store, id) =>
      Effect.gen(function*() {
        const key = id("refund")
        const first = expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: 60_000, now: T }), 1)
        yield* store.releaseWindow(key, first)
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, 0)
        const second = expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: 60_000, now: T + 1 }), 1)
        assert.notStrictEqual(second, first)
        // Releasing the first token again must not refund the second unit.
        yield* store.releaseWindow(key, first)
        expectExhausted(yield* store.acquireWindow({ key, max: 1, windowMs: 60_000, now: T + 2 }), 1, 59_999)
        yield* store.releaseWindow(key, second)
        yield* store.releaseWindow(key, second)
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T + 2)).count, 0)
        yield* store.releaseWindow(id("never-used"), "no-such-token")
      }))

    test("window: weights count, and retryAfterMs waits for enough units to slide out", (store, id) =>
      Effect.gen(function*() {
        const key = id("weight")
        const w = 10_000
        expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T, weight: 3 }), 3)
        expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 100, weight: 2 }), 5)
        expectExhausted(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 200, weight: 2 }), 5, w - 200)
        expectExhausted(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 200, weight: 4 }), 5, w - 100)
        expectExhausted(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 200 }), 5, w - 200)
        assert.deepStrictEqual(yield* store.peekWindow(key, w, T + 200), { count: 5, oldestAt: T })
        expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + w, weight: 3 }), 5)
        const big = yield* store.acquireWindow({ key: id("big"), max: 2, windowMs: w, now: T, weight: 3 })
        assert.strictEqual(big._tag, "Exhausted")
        assert.strictEqual(big.count, 0)
      }))

    test("window: invalid requests fail with a StoreError", (store, id) =>
      Effect.gen(function*() {
        for (
          const bad of [
            { key: id("bad"), max: -1, windowMs: 1_000, now: T },
            { key: id("bad"), max: 1, windowMs: 0, now: T },
            { key: id("bad"), max: 1, windowMs: 1_000, now: Number.NaN },
            { key: id("bad"), max: 1, windowMs: 1_000, now: T, weight: 0 },
            { key: "", max: 1, windowMs: 1_000, now: T }
          ]
        ) {
          const error = yield* Effect.flip(store.acquireWindow(bad))
          assert.strictEqual(error._tag, "StoreError")
          assert.strictEqual(error.operation.startsWith("acquireWindow"), true, error.operation)
          assert.strictEqual(error.store, store.name)
        }
      }))

    // ------------------------------------------------------------------ window tokens

    test("window token: the same token takes one unit, a different token another; a released token takes anew", (store, id) =>
      Effect.gen(function*() {
        const key = id("token")
        const w = 60_000
        assert.strictEqual(expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T, token: "tok-a" }), 1), "tok-a")
        // the resumed run: same token, later, maybe another weight: nothing taken, same answer
        assert.strictEqual(expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 10, token: "tok-a" }), 1), "tok-a")
        assert.strictEqual(expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 20, token: "tok-a", weight: 2 }), 1), "tok-a")
        assert.deepStrictEqual(yield* store.peekWindow(key, w, T + 20), { count: 1, oldestAt: T })
        // a peek with the token tells whether it holds a live unit
        assert.deepStrictEqual(yield* store.peekWindow(key, w, T + 20, "tok-a"), { count: 1, oldestAt: T, held: true })
        assert.deepStrictEqual(yield* store.peekWindow(key, w, T + 20, "tok-b"), { count: 1, oldestAt: T, held: false })
        assert.deepStrictEqual(yield* store.peekWindow(key, w, T + w, "tok-a"), { count: 0, held: false })
        assert.strictEqual(expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 30, token: "tok-b" }), 2), "tok-b")
        yield* store.releaseWindow(key, "tok-a")
        assert.strictEqual((yield* store.peekWindow(key, w, T + 30)).count, 1)
        assert.strictEqual(expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 40, token: "tok-a" }), 2), "tok-a")
        // the same token under another key is another unit
        expectAcquired(yield* store.acquireWindow({ key: id("token-other"), max: 5, windowMs: w, now: T + 40, token: "tok-a" }), 1)
        // a token whose unit slid out of the window takes a new one
        expectAcquired(yield* store.acquireWindow({ key, max: 5, windowMs: w, now: T + 30 + w, token: "tok-b" }), 2)
        assert.strictEqual((yield* store.peekWindow(key, w, T + 30 + w)).count, 2)
      }))

    test("window token: a full window still answers Acquired to the token holding its unit, Exhausted to others", (store, id) =>
      Effect.gen(function*() {
        const key = id("token-full")
        expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: 1_000, now: T, token: "held" }), 1)
        expectAcquired(yield* store.acquireWindow({ key, max: 1, windowMs: 1_000, now: T + 500, token: "held" }), 1)
        expectExhausted(yield* store.acquireWindow({ key, max: 1, windowMs: 1_000, now: T + 500, token: "other" }), 1, 500)
        expectExhausted(yield* store.acquireWindow({ key, max: 1, windowMs: 1_000, now: T + 500 }), 1, 500)
      }))

    test(`window token: ${race} concurrent acquires with one token take exactly one unit; two tokens on max 1, one token wins`, (store, id) =>
      Effect.gen(function*() {
        const key = id("token-race")
        const same = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => store.acquireWindow({ key, max: 1_000, windowMs: 60_000, now: T + (i % 5), token: "one" }),
          { concurrency: "unbounded" }
        )
        for (const r of same) assert.deepStrictEqual(r, { _tag: "Acquired", token: "one", count: 1 })
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T + 5)).count, 1)

        const k1 = id("token-race-max1")
        const two = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => store.acquireWindow({ key: k1, max: 1, windowMs: 60_000, now: T, token: i % 2 === 0 ? "even" : "odd" }),
          { concurrency: "unbounded" }
        )
        const winners = new Set(two.flatMap((r) => (r._tag === "Acquired" ? [r.token] : [])))
        assert.strictEqual(winners.size, 1)
        const winner = [...winners][0]!
        two.forEach((r, i) => assert.strictEqual(r._tag, (i % 2 === 0 ? "even" : "odd") === winner ? "Acquired" : "Exhausted"))
        assert.strictEqual((yield* store.peekWindow(k1, 60_000, T)).count, 1)
      }))

    test(`window token: ${race} concurrent acquires with distinct tokens take one unit each`, (store, id) =>
      Effect.gen(function*() {
        const key = id("token-distinct")
        const half = Math.max(1, Math.floor(race / 2))
        const results = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => store.acquireWindow({ key, max: 1_000, windowMs: 60_000, now: T, token: `t-${i % half}` }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(acquired(results), race)
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, Math.min(half, race))
      }))

    test("window token: an empty or over-long token fails with a StoreError", (store, id) =>
      Effect.gen(function*() {
        for (const token of ["", "x".repeat(201)]) {
          const error = yield* Effect.flip(store.acquireWindow({ key: id("bad-token"), max: 1, windowMs: 1_000, now: T, token }))
          assert.strictEqual(error._tag, "StoreError")
          assert.match(error.message, /token/)
        }
        assert.strictEqual((yield* store.peekWindow(id("bad-token"), 1_000, T)).count, 0)
      }))

    // ------------------------------------------------------------------ fencing

    /** The StaleEpoch a refused request failed with. */
    const expectStale = <A>(effect: Effect.Effect<A, StoreModule.StoreError>, epoch: number, highest: number) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(effect)
        assert.strictEqual(error._tag, "StoreError")
        const stale = StoreModule.staleEpochOf(error)
        assert.isDefined(stale, `expected a stale epoch refusal, got ${error.message}`)
        assert.strictEqual(stale!.epoch, epoch)
        assert.strictEqual(stale!.highest, highest)
        assert.match(error.message, /stale epoch/)
      })

    test("fencing: a stale epoch is refused by window, compare-and-swap and lease acquires; equal or higher passes", (store, id) =>
      Effect.gen(function*() {
        const scope = id("scope")
        const e = (value: number) => ({ scope, value })
        const key = id("fenced")
        expectAcquired(yield* store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T, epoch: e(3) }), 1)
        yield* expectStale(store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T, epoch: e(2) }), 2, 3)
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, 1)
        yield* expectStale(store.compareAndSet(key, 0, { by: "old leader" }, { epoch: e(2) }), 2, 3)
        assert.isUndefined(yield* store.get(key))
        yield* expectStale(store.acquireLease({ key, holder: "old", ttlMs: 60_000, now: T, epoch: e(1) }), 1, 3)
        assert.isUndefined(yield* store.getLease(key))
        // equal passes
        assert.isTrue(yield* store.compareAndSet(key, 0, { by: "leader 3" }, { epoch: e(3) }))
        // higher passes and raises the highest seen, across operation kinds
        assert.strictEqual((yield* store.acquireLease({ key, holder: "new", ttlMs: 60_000, now: T, epoch: e(4) }))._tag, "Acquired")
        yield* expectStale(store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T, epoch: e(3) }), 3, 4)
        yield* expectStale(store.compareAndSet(key, 1, { by: "leader 3" }, { epoch: e(3) }), 3, 4)
        assert.deepStrictEqual(yield* store.get(key), { value: { by: "leader 3" }, version: 1 })
        // unfenced requests and other scopes are not affected
        expectAcquired(yield* store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T }), 2)
        expectAcquired(yield* store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T, epoch: { scope: id("other-scope"), value: 0 } }), 3)
        // a token already held is still refused to a stale epoch
        const tk = id("fenced-token")
        expectAcquired(yield* store.acquireWindow({ key: tk, max: 10, windowMs: 60_000, now: T, token: "t", epoch: e(4) }), 1)
        yield* expectStale(store.acquireWindow({ key: tk, max: 10, windowMs: 60_000, now: T, token: "t", epoch: e(1) }), 1, 4)
        // invalid epochs fail as invalid input
        for (const bad of [{ scope: "", value: 1 }, { scope, value: -1 }, { scope, value: 1.5 }]) {
          const error = yield* Effect.flip(store.acquireWindow({ key, max: 10, windowMs: 60_000, now: T, epoch: bad }))
          assert.match(error.message, /invalid input: epoch/)
        }
      }))

    test("fencing: a live lease taken under an older epoch of the scope is taken over by a newer epoch, also through a parent", (store, id) =>
      Effect.gen(function*() {
        const scope = id("scope-lease")
        const key = id("fenced-lease")
        const parent = id("fenced-parent")
        const old = yield* store.acquireLease({ key, holder: "inc@old-leader", ttlMs: 1_800_000, now: T, parents: [parent], epoch: { scope, value: 1 } })
        assert.strictEqual(old._tag, "Acquired")
        assert.deepStrictEqual(old.lease.epoch, { scope, value: 1 })
        // unfenced, another scope, or the same epoch: still held
        assert.strictEqual((yield* store.acquireLease({ key, holder: "inc@other", ttlMs: 60_000, now: T + 1 }))._tag, "Held")
        assert.strictEqual((yield* store.acquireLease({ key, holder: "inc@other", ttlMs: 60_000, now: T + 1, epoch: { scope: id("scope-x"), value: 9 } }))._tag, "Held")
        assert.strictEqual((yield* store.acquireLease({ key: parent, holder: "inc@same", ttlMs: 60_000, now: T + 1, epoch: { scope, value: 1 } }))._tag, "Held")
        // the new leader (epoch 2) takes the parent over: the child lease of the deposed one no longer excludes it
        const p2 = yield* store.acquireLease({ key: parent, holder: "inc@new-leader", ttlMs: 60_000, now: T + 2, epoch: { scope, value: 2 } })
        assert.strictEqual(p2._tag, "Acquired", JSON.stringify(p2))
        yield* store.releaseLease(parent, "inc@new-leader")
        const taken = yield* store.acquireLease({ key, holder: "inc@new-leader", ttlMs: 60_000, now: T + 3, epoch: { scope, value: 2 } })
        assert.strictEqual(taken._tag, "Acquired", JSON.stringify(taken))
        assert.strictEqual(taken.lease.holder, "inc@new-leader")
        assert.deepStrictEqual((yield* store.getLease(key))?.epoch, { scope, value: 2 })
        // and the deposed leader cannot take it back
        yield* expectStale(store.acquireLease({ key, holder: "inc@old-leader", ttlMs: 60_000, now: T + 4, epoch: { scope, value: 1 } }), 1, 2)
      }))

    test(`fencing: ${race} concurrent acquires with epochs 1..${race}: the highest always passes, every refusal is stale, units are exact`, (store, id) =>
      Effect.gen(function*() {
        const scope = id("scope-race")
        const key = id("fenced-race")
        const epochs = Array.from({ length: race }, (_, i) => i + 1).sort(() => Math.random() - 0.5)
        const results = yield* Effect.forEach(
          epochs,
          (value) =>
            Effect.result(
              value % 3 === 0
                ? Effect.map(store.acquireLease({ key: `${key}-l${value}`, holder: `h${value}`, ttlMs: 60_000, now: T, epoch: { scope, value } }), () => "lease")
                : Effect.map(store.acquireWindow({ key, max: 10 * race, windowMs: 60_000, now: T, epoch: { scope, value } }), (r) => r._tag)
            ),
          { concurrency: "unbounded" }
        )
        let windowUnits = 0
        results.forEach((r, i) => {
          const value = epochs[i]!
          if (r._tag === "Success") {
            if (r.success === "Acquired") windowUnits++
            return
          }
          const stale = StoreModule.staleEpochOf(r.failure)
          assert.isDefined(stale, r.failure.message)
          assert.strictEqual(stale!.epoch, value)
          assert.isTrue(stale!.highest > value)
        })
        const top = results[epochs.indexOf(race)]!
        assert.strictEqual(top._tag, "Success")
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, windowUnits)
        yield* expectStale(store.acquireWindow({ key, max: 10 * race, windowMs: 60_000, now: T, epoch: { scope, value: race - 1 } }), race - 1, race)
      }))

    test(`fencing: after a newer epoch's write, ${race} concurrent stale acquires are all refused and the newer all pass`, (store, id) =>
      Effect.gen(function*() {
        const scope = id("scope-after")
        const key = id("fenced-after")
        assert.strictEqual((yield* store.acquireLease({ key: id("leader-lease"), holder: "b", ttlMs: 15_000, now: T, epoch: { scope, value: 2 } }))._tag, "Acquired")
        const results = yield* Effect.forEach(
          Array.from({ length: race * 2 }, (_, i) => i),
          (i) => {
            const epoch = { scope, value: i % 2 === 0 ? 1 : 2 }
            return Effect.result(
              i % 4 < 2
                ? Effect.map(store.acquireWindow({ key, max: 10 * race, windowMs: 60_000, now: T, epoch }), (r) => r._tag)
                : Effect.map(store.compareAndSet(`${key}-${i}`, 0, { i }, { epoch }), String)
            )
          },
          { concurrency: "unbounded" }
        )
        results.forEach((r, i) => {
          if (i % 2 === 0) {
            assert.strictEqual(r._tag, "Failure")
            if (r._tag === "Failure") assert.strictEqual(StoreModule.staleEpochOf(r.failure)?.highest, 2)
          } else {
            assert.strictEqual(r._tag, "Success")
            if (r._tag === "Success") assert.strictEqual(r.success, i % 4 < 2 ? "Acquired" : "true")
          }
        })
        assert.strictEqual((yield* store.peekWindow(key, 60_000, T)).count, results.filter((_, i) => i % 4 === 1).length)
        for (let i = 0; i < race * 2; i += 4) assert.isUndefined(yield* store.get(`${key}-${i + 2}`))
      }))

    // ------------------------------------------------------------------ compare-and-swap

    test("cas: absent is version 0, versions grow by 1, stale writes are refused", (store, id) =>
      Effect.gen(function*() {
        const key = id("cas")
        assert.strictEqual(yield* store.get(key), undefined)
        assert.strictEqual(yield* store.compareAndSet(key, 1, "x"), false)
        assert.strictEqual(yield* store.get(key), undefined)
        assert.strictEqual(yield* store.compareAndSet(key, 0, { n: 1 }), true)
        assert.deepStrictEqual(yield* store.get(key), { value: { n: 1 }, version: 1 })
        assert.strictEqual(yield* store.compareAndSet(key, 0, { n: 99 }), false)
        assert.strictEqual(yield* store.compareAndSet(key, 1, { n: 2 }), true)
        assert.strictEqual(yield* store.compareAndSet(key, 1, { n: 99 }), false)
        assert.strictEqual(yield* store.compareAndSet(key, 2, null), true)
        assert.deepStrictEqual(yield* store.get(key), { value: null, version: 3 })
        assert.strictEqual(yield* store.get(id("other")), undefined)
      }))

    test(`cas: ${race} concurrent writers from the same version, exactly one wins`, (store, id) =>
      Effect.gen(function*() {
        const key = id("cas-race")
        const wins = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => Effect.map(store.compareAndSet(key, 0, { writer: i }), (ok) => (ok ? [i] : [])),
          { concurrency: "unbounded" }
        )
        const winners = wins.flat()
        assert.strictEqual(winners.length, 1)
        assert.deepStrictEqual(yield* store.get(key), { value: { writer: winners[0]! }, version: 1 })
        // A read-modify-write counter with retries ends exact.
        const counter = id("counter")
        const increment = Effect.gen(function*() {
          for (;;) {
            const cur = yield* store.get(counter)
            const n = (cur?.value as number | undefined) ?? 0
            if (yield* store.compareAndSet(counter, cur?.version ?? 0, n + 1)) return
          }
        })
        const increments = Math.min(race, 30)
        yield* Effect.forEach(Array.from({ length: increments }), () => increment, { concurrency: "unbounded" })
        assert.deepStrictEqual(yield* store.get(counter), { value: increments, version: increments })
      }))

    // ------------------------------------------------------------------ leases

    test("lease: acquire, held for others, renew by holder, takeover after expiry, release only by holder", (store, id) =>
      Effect.gen(function*() {
        const key = id("lease")
        const a = yield* store.acquireLease({ key, holder: "agent-a", ttlMs: 1_000, now: T, data: { baseline: 512 } })
        assert.deepStrictEqual(a, {
          _tag: "Acquired",
          lease: { key, holder: "agent-a", acquiredAt: T, expiresAt: T + 1_000, data: { baseline: 512 } }
        })
        const held = yield* store.acquireLease({ key, holder: "agent-b", ttlMs: 1_000, now: T + 500, data: { other: true } })
        assert.deepStrictEqual(held, {
          _tag: "Held",
          lease: { key, holder: "agent-a", acquiredAt: T, expiresAt: T + 1_000, data: { baseline: 512 } }
        })
        const renewed = yield* store.acquireLease({ key, holder: "agent-a", ttlMs: 1_000, now: T + 500 })
        assert.strictEqual(renewed._tag, "Acquired")
        assert.strictEqual(renewed.lease.expiresAt, T + 1_500)
        assert.strictEqual(renewed.lease.acquiredAt, T)
        assert.deepStrictEqual(renewed.lease.data, { baseline: 512 })
        assert.strictEqual((yield* store.acquireLease({ key, holder: "agent-b", ttlMs: 1_000, now: T + 1_499 }))._tag, "Held")
        // An expired lease is still readable until taken over.
        assert.strictEqual((yield* store.getLease(key))?.holder, "agent-a")
        const taken = yield* store.acquireLease({ key, holder: "agent-b", ttlMs: 2_000, now: T + 1_500 })
        assert.deepStrictEqual(taken, {
          _tag: "Acquired",
          lease: { key, holder: "agent-b", acquiredAt: T + 1_500, expiresAt: T + 3_500, data: {} }
        })
        yield* store.releaseLease(key, "agent-a")
        assert.strictEqual((yield* store.getLease(key))?.holder, "agent-b")
        yield* store.releaseLease(key, "agent-b")
        assert.strictEqual(yield* store.getLease(key), undefined)
        assert.strictEqual((yield* store.acquireLease({ key, holder: "agent-a", ttlMs: 1_000, now: T + 1_600 }))._tag, "Acquired")
        assert.strictEqual(yield* store.getLease(id("no-lease")), undefined)
      }))

    test(`lease: ${race} concurrent holders, exactly one acquires`, (store, id) =>
      Effect.gen(function*() {
        const key = id("lease-race")
        const results = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => store.acquireLease({ key, holder: `h${i}`, ttlMs: 60_000, now: T }),
          { concurrency: "unbounded" }
        )
        const winners = results.filter((r) => r._tag === "Acquired")
        assert.strictEqual(winners.length, 1)
        const holder = winners[0]!.lease.holder
        for (const r of results) assert.strictEqual(r.lease.holder, holder)
        assert.strictEqual((yield* store.getLease(key))?.holder, holder)
      }))

    // ------------------------------------------------------------------ hierarchical leases

    test("lease hierarchy: parent and child exclude each other, siblings do not, one holder may hold both", (store, id) =>
      Effect.gen(function*() {
        const workload = id("workload")
        const app = id("workload/app")
        const sidecar = id("workload/sidecar")
        const deep = id("workload/app/proc")
        const other = id("other")
        // a child first: its parent is then held for everyone else
        const child = yield* store.acquireLease({ key: app, holder: "agent-a", ttlMs: 1_000, now: T, parents: [workload], data: { c: 1 } })
        assert.deepStrictEqual(child, {
          _tag: "Acquired",
          lease: { key: app, holder: "agent-a", acquiredAt: T, expiresAt: T + 1_000, data: { c: 1 }, parents: [workload] }
        })
        assert.deepStrictEqual((yield* store.getLease(app))?.parents, [workload])
        const parentHeld = yield* store.acquireLease({ key: workload, holder: "agent-b", ttlMs: 1_000, now: T + 1 })
        assert.strictEqual(parentHeld._tag, "Held")
        assert.strictEqual(parentHeld.lease.key, app)
        assert.strictEqual(parentHeld.lease.holder, "agent-a")
        assert.strictEqual(yield* store.getLease(workload), undefined)
        // a grandchild of another holder is refused by its held ancestor
        const deepHeld = yield* store.acquireLease({ key: deep, holder: "agent-b", ttlMs: 1_000, now: T + 1, parents: [app, workload] })
        assert.strictEqual(deepHeld._tag, "Held")
        assert.strictEqual(deepHeld.lease.key, app)
        // a sibling under the same parent is independent; an unrelated key too
        assert.strictEqual((yield* store.acquireLease({ key: sidecar, holder: "agent-b", ttlMs: 1_000, now: T + 2, parents: [workload] }))._tag, "Acquired")
        assert.strictEqual((yield* store.acquireLease({ key: other, holder: "agent-b", ttlMs: 1_000, now: T + 2, parents: [id("elsewhere")] }))._tag, "Acquired")
        // one holder may hold a parent while it holds its child (a hand-off within one incident)
        yield* store.releaseLease(sidecar, "agent-b")
        const both = yield* store.acquireLease({ key: workload, holder: "agent-a", ttlMs: 1_000, now: T + 3 })
        assert.strictEqual(both._tag, "Acquired")
        // the held parent now refuses any child of another holder
        const sideHeld = yield* store.acquireLease({ key: sidecar, holder: "agent-b", ttlMs: 1_000, now: T + 4, parents: [workload] })
        assert.strictEqual(sideHeld._tag, "Held")
        assert.strictEqual(sideHeld.lease.key, workload)
        // a renewal without parents keeps them
        const renewed = yield* store.acquireLease({ key: app, holder: "agent-a", ttlMs: 2_000, now: T + 500 })
        assert.strictEqual(renewed._tag, "Acquired")
        assert.deepStrictEqual(renewed.lease.parents, [workload])
        assert.strictEqual(renewed.lease.acquiredAt, T)
        yield* store.releaseLease(workload, "agent-a")
        assert.strictEqual((yield* store.acquireLease({ key: workload, holder: "agent-b", ttlMs: 1_000, now: T + 1_500 }))._tag, "Held")
        // expiry: once the child expired, another holder takes the parent over, then children are refused again
        const taken = yield* store.acquireLease({ key: workload, holder: "agent-b", ttlMs: 1_000, now: T + 2_500 })
        assert.deepStrictEqual(taken, { _tag: "Acquired", lease: { key: workload, holder: "agent-b", acquiredAt: T + 2_500, expiresAt: T + 3_500, data: {} } })
        const late = yield* store.acquireLease({ key: app, holder: "agent-a", ttlMs: 1_000, now: T + 2_600, parents: [workload] })
        assert.strictEqual(late._tag, "Held")
        assert.strictEqual(late.lease.holder, "agent-b")
        // and after the parent expired, the child is taken over with its parents
        const again = yield* store.acquireLease({ key: app, holder: "agent-c", ttlMs: 1_000, now: T + 3_500, parents: [workload] })
        assert.deepStrictEqual(again, {
          _tag: "Acquired",
          lease: { key: app, holder: "agent-c", acquiredAt: T + 3_500, expiresAt: T + 4_500, data: {}, parents: [workload] }
        })
        // a released child frees its parent at once
        yield* store.releaseLease(app, "agent-c")
        assert.strictEqual((yield* store.acquireLease({ key: workload, holder: "agent-d", ttlMs: 1_000, now: T + 3_600 }))._tag, "Acquired")
        // a lease renewed under other parents no longer holds the old ones
        const moved = id("moved")
        assert.strictEqual((yield* store.acquireLease({ key: moved, holder: "agent-e", ttlMs: 10_000, now: T, parents: [id("old")] }))._tag, "Acquired")
        assert.strictEqual((yield* store.acquireLease({ key: moved, holder: "agent-e", ttlMs: 10_000, now: T + 1, parents: [id("new")] }))._tag, "Acquired")
        assert.strictEqual((yield* store.acquireLease({ key: id("old"), holder: "agent-f", ttlMs: 1_000, now: T + 2 }))._tag, "Acquired")
        assert.strictEqual((yield* store.acquireLease({ key: id("new"), holder: "agent-f", ttlMs: 1_000, now: T + 2 }))._tag, "Held")
      }))

    test("lease hierarchy: invalid parents fail with a StoreError", (store, id) =>
      Effect.gen(function*() {
        const key = id("self")
        for (const parents of [[key], [""], [1 as unknown as string]]) {
          const error = yield* Effect.flip(store.acquireLease({ key, holder: "h", ttlMs: 1_000, now: T, parents }))
          assert.strictEqual(error._tag, "StoreError")
          assert.strictEqual(error.operation.startsWith("acquireLease"), true, error.operation)
        }
        assert.strictEqual(yield* store.getLease(key), undefined)
      }))

    test(`lease hierarchy: ${hierarchy} concurrent mixed parent/child acquires never hold a parent and its child apart`, (store, id) =>
      Effect.gen(function*() {
        // Several families (a parent, three children, a grandchild), each raced by a run of
        // consecutive requests, so each family's first acquires overlap in the store.
        type Shape = { readonly key: string; readonly parents?: ReadonlyArray<string> }
        const familyOf = (f: number): ReadonlyArray<Shape> => {
          const parent = id(`f${f}`)
          const children = [id(`f${f}/a`), id(`f${f}/b`), id(`f${f}/c`)]
          return [
            { key: parent },
            ...children.map((key) => ({ key, parents: [parent] })),
            { key: id(`f${f}/a/x`), parents: [children[0]!, parent] }
          ]
        }
        const families = Array.from({ length: Math.max(1, Math.floor(hierarchy / 20)) }, (_, f) => familyOf(f))
        const shapes = families.flat()
        const requests = Array.from({ length: hierarchy }, (_, i) => {
          const family = families[Math.floor(i / 20) % families.length]!
          return { ...family[(i * 7 + (i >> 3)) % family.length]!, holder: `h${i}` }
        })
        const results = yield* Effect.forEach(
          requests,
          (r) => store.acquireLease({ ...r, ttlMs: 60_000, now: T }),
          { concurrency: "unbounded" }
        )
        const won = results.flatMap((r, i) => (r._tag === "Acquired" ? [{ ...requests[i]!, lease: r.lease }] : []))
        assert.isAbove(won.length, 0)
        // never two live leases of different holders that exclude each other
        for (const a of won) {
          for (const b of won) {
            if (a === b) continue
            const clash = a.key === b.key || (a.parents ?? []).includes(b.key) || (b.parents ?? []).includes(a.key)
            assert.isFalse(clash, `${a.holder} holds ${a.key} while ${b.holder} holds ${b.key}`)
          }
        }
        // every refusal names a live lease of another holder that excludes it (in a store that
        // takes a hierarchy in steps, possibly one whose acquire was still in flight and lost)
        for (const [i, r] of results.entries()) {
          if (r._tag !== "Held") continue
          const q = requests[i]!
          assert.notStrictEqual(r.lease.holder, q.holder)
          assert.isAbove(r.lease.expiresAt, T)
          const related = r.lease.key === q.key || (q.parents ?? []).includes(r.lease.key) || (r.lease.parents ?? []).includes(q.key)
          assert.isTrue(related, `request ${q.holder} on ${q.key} was refused by ${r.lease.holder} on unrelated ${r.lease.key}`)
        }
        // the store agrees: what it holds is exactly the winners
        const held = (yield* Effect.forEach(shapes, (s) => store.getLease(s.key))).flatMap((l) => (l === undefined ? [] : [l]))
        assert.deepStrictEqual(held.map((l) => `${l.key}=${l.holder}`).sort(), won.map((w) => `${w.key}=${w.holder}`).sort())
        // expiry and takeover still work: once all expired, a parent is taken, and every child is refused
        const later = T + 60_000
        const first = families[0]!
        assert.strictEqual((yield* store.acquireLease({ key: first[0]!.key, holder: "late", ttlMs: 1_000, now: later }))._tag, "Acquired")
        for (const s of first.slice(1)) {
          const r = yield* store.acquireLease({ ...s, holder: "later", ttlMs: 1_000, now: later + 1 })
          assert.strictEqual(r._tag, "Held", s.key)
          assert.strictEqual(r.lease.holder, "late")
        }
      }))

    // ------------------------------------------------------------------ journal

    test("journal: seq 1..n per incident in order; the first entry must be opened", (store, id) =>
      Effect.gen(function*() {
        const incidentId = id("inc")
        const types: Array<JournalEntryType> = ["opened", "diagnosed", "classified", "planned", "intent", "acquired", "applied", "verdict"]
        for (const [i, type] of types.entries()) {
          const e = yield* store.appendJournal({
            incidentId,
            at: T + i,
            type,
            ...(type === "intent" || type === "applied" ? { stepPath: "0.1" } : {}),
            data: type === "opened" ? { runbook: "oom-bump", targetKey: "k8s/prod/web" } : { i }
          })
          assert.strictEqual(e.seq, i + 1)
          assert.strictEqual(e.type, type)
        }
        const journal = yield* store.readJournal(incidentId)
        assert.deepStrictEqual(journal.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8])
        assert.deepStrictEqual(journal.map((e) => e.type), types)
        assert.deepStrictEqual(journal.map((e) => e.at), types.map((_, i) => T + i))
        assert.strictEqual(journal[4]!.stepPath, "0.1")
        assert.strictEqual(journal[3]!.stepPath, undefined)
        assert.deepStrictEqual(journal[0]!.data, { runbook: "oom-bump", targetKey: "k8s/prod/web" })
        assert.deepStrictEqual(journal[1]!.data, { i: 1 })
        for (const e of journal) assert.strictEqual(e.incidentId, incidentId)
        assert.deepStrictEqual(yield* store.readJournal(id("unknown")), [])

        const orphan = yield* Effect.flip(store.appendJournal({ incidentId: id("orphan"), at: T, type: "applied", data: {} }))
        assert.strictEqual(orphan._tag, "StoreError")
        const noRunbook = yield* Effect.flip(store.appendJournal({ incidentId: id("bare"), at: T, type: "opened", data: {} }))
        assert.strictEqual(noRunbook._tag, "StoreError")
        assert.deepStrictEqual(yield* store.readJournal(id("orphan")), [])
      }))

    test(`journal: ${race} concurrent appends to one incident get distinct consecutive seqs`, (store, id) =>
      Effect.gen(function*() {
        const incidentId = id("inc-race")
        yield* store.appendJournal({ incidentId, at: T, type: "opened", data: { runbook: "r", targetKey: "t" } })
        const written = yield* Effect.forEach(
          Array.from({ length: race }, (_, i) => i),
          (i) => store.appendJournal({ incidentId, at: T + 1 + i, type: "step", data: { i } }),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(written.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: race }, (_, i) => i + 2))
        const journal = yield* store.readJournal(incidentId)
        assert.deepStrictEqual(journal.map((e) => e.seq), Array.from({ length: race + 1 }, (_, i) => i + 1))
        // The journal keeps the order the store assigned: each entry's data is the one written with that seq.
        const bySeq = new Map(written.map((e) => [e.seq, e.data.i]))
        for (const e of journal.slice(1)) assert.strictEqual(e.data.i, bySeq.get(e.seq))
      }))

    test("journal: listIncidents lists open incidents, or all; closed after a closed entry", (store, id) =>
      Effect.gen(function*() {
        const one = id("one")
        const two = id("two")
        yield* store.appendJournal({ incidentId: one, at: T + 10, type: "opened", data: { runbook: "disk-full", targetKey: "host/a" } })
        yield* store.appendJournal({ incidentId: two, at: T + 20, type: "opened", data: { runbook: "pool-exhausted", targetKey: "db/main" } })
        yield* store.appendJournal({ incidentId: one, at: T + 30, type: "planned", data: {} })
        yield* store.appendJournal({ incidentId: two, at: T + 40, type: "escalated", data: { reason: "x" } })
        const mine = (xs: ReadonlyArray<{ readonly incidentId: string }>) =>
          xs.filter((x) => x.incidentId === one || x.incidentId === two).map((x) => x.incidentId).sort()
        assert.deepStrictEqual(mine(yield* store.listIncidents()), [one, two].sort())
        yield* store.appendJournal({ incidentId: two, at: T + 50, type: "closed", data: {} })
        assert.deepStrictEqual(mine(yield* store.listIncidents()), [one])
        assert.deepStrictEqual(mine(yield* store.listIncidents({ all: false })), [one])
        const all = yield* store.listIncidents({ all: true })
        assert.deepStrictEqual(mine(all), [one, two].sort())
        assert.deepStrictEqual(all.find((i) => i.incidentId === one), {
          incidentId: one,
          runbook: "disk-full",
          targetKey: "host/a",
          openedAt: T + 10,
          lastType: "planned",
          closed: false
        })
        assert.deepStrictEqual(all.find((i) => i.incidentId === two), {
          incidentId: two,
          runbook: "pool-exhausted",
          targetKey: "db/main",
          openedAt: T + 20,
          lastType: "closed",
          closed: true
        })
      }))

    test("journal: incident ids that are not file- or key-safe work", (store, id) =>
      Effect.gen(function*() {
        for (const weird of [id("a/../b c"), id("ünïcødé:#?%"), id("x".repeat(300))]) {
          yield* store.appendJournal({ incidentId: weird, at: T, type: "opened", data: { runbook: "r", targetKey: weird } })
          yield* store.appendJournal({ incidentId: weird, at: T + 1, type: "closed", data: {} })
          const j = yield* store.readJournal(weird)
          assert.deepStrictEqual(j.map((e) => [e.incidentId, e.seq]), [[weird, 1], [weird, 2]])
          const listed = (yield* store.listIncidents({ all: true })).find((i) => i.incidentId === weird)
          assert.strictEqual(listed?.targetKey, weird)
        }
      }))

    // ------------------------------------------------------------------ redaction

    test("writes are redacted: secrets planted in a value, lease data and a journal entry never come back", (store, id) =>
      Effect.gen(function*() {
        const planted = secretsPlanted()
        const key = id("baseline")
        assert.strictEqual(yield* store.compareAndSet(key, 0, planted.value), true)
        const lease = yield* store.acquireLease({ key: id("lease"), holder: "h", ttlMs: 1_000, now: T, data: planted.leaseData })
        const incidentId = id("secret-inc")
        yield* store.appendJournal({ incidentId, at: T, type: "opened", data: { runbook: "r", targetKey: "t", ...planted.leaseData } })
        const back = JSON.stringify([yield* store.get(key), lease, yield* store.getLease(id("lease")), yield* store.readJournal(incidentId)])
        for (const secret of SECRETS) assert.notInclude(back, secret)
        // what is not secret is kept
        assert.deepStrictEqual(((yield* store.get(key))?.value as { baseline: { limitMi: number } }).baseline.limitMi, 512)
        assert.strictEqual((yield* store.getLease(id("lease")))?.data.incidentId, "inc-1")
      }))

    // ------------------------------------------------------------------ JSON isolation

    test("values are JSON round-tripped: no shared mutable references", (store, id) =>
      Effect.gen(function*() {
        const key = id("json")
        const value = { list: [1, "two", null, { deep: true }], nested: { s: "ü\n\"q\"", n: -1.5e-3 } }
        assert.strictEqual(yield* store.compareAndSet(key, 0, value as unknown as Json), true)
        ;(value.list as Array<unknown>).push("mutated")
        value.nested.s = "mutated"
        const read = yield* store.get(key)
        assert.deepStrictEqual(read?.value, { list: [1, "two", null, { deep: true }], nested: { s: "ü\n\"q\"", n: -1.5e-3 } })
        ;((read!.value as { list: Array<unknown> }).list).push("mutated-after-read")
        assert.deepStrictEqual(((yield* store.get(key))?.value as { list: Array<unknown> }).list, [1, "two", null, { deep: true }])

        const data = { pods: ["a", "b"] }
        const lease = yield* store.acquireLease({ key, holder: "h", ttlMs: 1_000, now: T, data })
        data.pods.push("c")
        ;(lease.lease.data.pods as Array<string>).push("d")
        assert.deepStrictEqual((yield* store.getLease(key))?.data, { pods: ["a", "b"] })

        const incidentId = id("json-inc")
        const opened = { runbook: "r", targetKey: "t", extra: { k: [1] } }
        const e = yield* store.appendJournal({ incidentId, at: T, type: "opened", data: opened })
        opened.extra.k.push(2)
        ;(e.data.extra as { k: Array<number> }).k.push(3)
        assert.deepStrictEqual((yield* store.readJournal(incidentId))[0]!.data, { runbook: "r", targetKey: "t", extra: { k: [1] } })

        // Member names that are special in JavaScript objects are plain data.
        const special = JSON.parse("{\"__proto__\":{\"polluted\":true},\"constructor\":1}") as Json
        assert.strictEqual(yield* store.compareAndSet(id("special"), 0, special), true)
        const back = (yield* store.get(id("special")))?.value as Record<string, unknown>
        assert.deepStrictEqual(Object.keys(back).sort(), ["__proto__", "constructor"])
        assert.strictEqual(JSON.stringify(back), JSON.stringify(special))
        assert.strictEqual(({} as Record<string, unknown>).polluted, undefined)

        const notJson = yield* Effect.flip(store.compareAndSet(id("nan"), 0, { n: Number.NaN }))
        assert.strictEqual(notJson._tag, "StoreError")
        assert.strictEqual(yield* store.get(id("nan")), undefined)
      }))
  })
}
