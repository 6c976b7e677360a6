/**
 * LeaderElection on kube-sim (real client-node over HTTP) under TestClock: two electors in one
 * process, each behind its own gate on the Kube service (a closed gate blocks its requests like a
 * SIGSTOPped process), stepped through virtual time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Keys } from "@byteport/kube-sim"
import type { KubeSimInstance } from "@byteport/kube-sim"
import { Clock, ConfigProvider, Context, Effect, Exit, Fiber, Latch, Layer, Option, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Kube } from "../../src/Kube"
import type { KubeShape } from "../../src/Kube"
import * as LeaderElection from "../../src/leader/LeaderElection"
import { kubeLayer, sim } from "../foundation/helpers"

const NS = "byteport"
const LEASE = 15_000
const DEADLINE = 10_000
const RETRY = 2_000

/** A Kube whose Lease calls pass a gate (before sending and before answering) and are counted while on the wire. */
const gated = (kube: KubeShape) =>
  Effect.gen(function*() {
    const gate = yield* Latch.make(true)
    const wire = { n: 0 }
    const pass = <A, E>(eff: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      gate.await.pipe(
        Effect.andThen(Effect.sync(() => wire.n++)),
        Effect.andThen(eff.pipe(Effect.ensuring(Effect.sync(() => wire.n--)))),
        Effect.tap(() => gate.await)
      )
    const shape: KubeShape = {
      ...kube,
      getLease: (ns, name) => pass(kube.getLease(ns, name)),
      createLease: (ns, l, o) => pass(kube.createLease(ns, l, o)),
      replaceLease: (ns, l, o) => pass(kube.replaceLease(ns, l, o))
    }
    return { shape, gate, wire }
  })

interface Gated { readonly wire: { n: number } }

/** Two electors `a` and `b` on one Lease, each behind its own gate. */
const pair = (s: KubeSimInstance, name: string) =>
  Effect.gen(function*() {
    const kube = yield* Effect.provide(Effect.gen(function*() { return yield* Kube }), kubeLayer(s))
    const make = (identity: string) =>
      Effect.gen(function*() {
        const g = yield* gated(kube)
        const e = yield* LeaderElection.make({ name, namespace: NS, identity }).pipe(Effect.provideService(Kube, g.shape))
        return { ...g, e, identity, paused: false }
      })
    const a = yield* make("agent-a")
    const b = yield* make("agent-b")
    const all = [a, b]
    const lease = () => s.store.list(Keys.leases, { namespace: NS }).find((l) => l.metadata.name === name) as unknown as { spec: Record<string, unknown> } | undefined
    /** Exactly-one check: never two electors leading at one virtual instant. */
    const check = Effect.gen(function*() {
      const leading = yield* Effect.forEach(all, (x) => x.e.isLeader)
      assert.isAtMost(leading.filter(Boolean).length, 1, `both lead at ${yield* Clock.currentTimeMillis}`)
    })
    /** Lets every unpaused request finish (real time), checking the invariant on the way. */
    const settle = Effect.gen(function*() {
      let quiet = 0
      while (quiet < 4) {
        yield* check
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 1)))
        quiet = all.every((x: Gated) => x.wire.n === 0) ? quiet + 1 : 0
      }
      yield* check
    })
    const step = (ms: number) => TestClock.adjust(ms).pipe(Effect.andThen(settle))
    const pause = (x: typeof a) => x.gate.close.pipe(Effect.andThen(Effect.sync(() => (x.paused = true))))
    const resume = (x: typeof a) => x.gate.open.pipe(Effect.andThen(Effect.sync(() => (x.paused = false))))
    const leaders = Effect.forEach(all, (x) => x.e.isLeader.pipe(Effect.map((l) => (l ? [x.identity] : [])))).pipe(Effect.map((xs) => xs.flat()))
    /** Steps `dt` until `cond` holds; the virtual time it took. */
    const until = (cond: Effect.Effect<boolean>, limitMs: number, dt = 100) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        while (!(yield* cond)) {
          if ((yield* Clock.currentTimeMillis) - start > limitMs) assert.fail(`condition not reached within ${limitMs} ms virtual`)
          yield* step(dt)
        }
        return (yield* Clock.currentTimeMillis) - start
      })
    yield* settle
    return { a, b, all, lease, check, settle, step, pause, resume, leaders, until }
  })

const renewTime = (spec: Record<string, unknown> | undefined): number => new Date(String(spec?.renewTime)).getTime()

describe("LeaderElection (kube-sim, TestClock)", () => {
  it.effect("one elector leads, the other follows; the Lease carries client-go's record", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const p = yield* pair(s, "leader-basic")
      yield* p.step(RETRY)
      const leaders = yield* p.leaders
      assert.strictEqual(leaders.length, 1)
      const leader = leaders[0] === "agent-a" ? p.a : p.b
      const follower = leader === p.a ? p.b : p.a
      assert.deepStrictEqual(yield* leader.e.epoch, Option.some(0))
      assert.deepStrictEqual(yield* follower.e.epoch, Option.none())
      const spec = p.lease()!.spec
      assert.strictEqual(spec.holderIdentity, leader.identity)
      assert.strictEqual(spec.leaseDurationSeconds, 15)
      assert.strictEqual(spec.leaseTransitions, 0)
      assert.match(String(spec.acquireTime), /^1970-01-01T00:00:00\.000000Z$/)
      // renewals every retry period keep it: the follower never takes over while the leader renews
      for (let i = 0; i < 30; i++) yield* p.step(RETRY)
      assert.deepStrictEqual(yield* p.leaders, [leader.identity])
      assert.strictEqual(renewTime(p.lease()!.spec), 31 * RETRY)
      assert.strictEqual(p.lease()!.spec.leaseTransitions, 0)
      assert.strictEqual((yield* follower.e.status).holder, leader.identity)
      // only the leader starts steps
      const ran = yield* leader.e.whileLeader((epoch) => Effect.succeed(`step@${epoch}`))
      assert.strictEqual(ran, "step@0")
      const refused = yield* Effect.flip(follower.e.whileLeader(() => Effect.succeed("never")))
      assert.strictEqual(refused._tag, "NotLeader")
      assert.strictEqual(refused.reason, "not-leading")
    }).pipe(Effect.scoped))

  it.effect("the follower takes over within lease + retry after the leader stops renewing; leaseTransitions increments on each takeover", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const p = yield* pair(s, "leader-takeover")
      yield* p.step(RETRY)
      let leader = (yield* p.a.e.isLeader) ? p.a : p.b
      let follower = leader === p.a ? p.b : p.a
      for (let takeover = 1; takeover <= 3; takeover++) {
        yield* p.step(3 * RETRY + 700)
        const changes = yield* follower.e.changes.pipe(Stream.filter((x) => x.leading), Stream.take(1), Stream.runCollect, Effect.forkScoped)
        yield* p.pause(leader)
        const lastRenew = renewTime(p.lease()!.spec)
        // the renew that did not happen was due one retry period after the last one
        const stopped = lastRenew + RETRY
        const pausedAt = yield* Clock.currentTimeMillis
        yield* p.until(Effect.map(leader.e.isLeader, (l) => !l), DEADLINE)
        const steppedDown = yield* Clock.currentTimeMillis
        assert.isAtMost(steppedDown, lastRenew + DEADLINE, "the paused leader stops leading by its renew deadline")
        yield* p.until(follower.e.isLeader, LEASE + 2 * RETRY)
        const tookOver = yield* Clock.currentTimeMillis
        assert.isAtMost(tookOver - stopped, LEASE + RETRY, `takeover ${tookOver} after stop ${stopped} (paused at ${pausedAt})`)
        assert.isAtLeast(tookOver, lastRenew + LEASE, "never before the lease ran out")
        const spec = p.lease()!.spec
        assert.strictEqual(spec.holderIdentity, follower.identity)
        assert.strictEqual(spec.leaseTransitions, takeover)
        assert.deepStrictEqual(yield* follower.e.epoch, Option.some(takeover))
        const seen = yield* Fiber.join(changes)
        assert.deepStrictEqual(seen, [{ leading: true, epoch: takeover, holder: follower.identity }])
        // the old leader comes back: its stale write is refused (409) or it sees the new holder; it follows
        yield* p.resume(leader)
        for (let i = 0; i < 5; i++) yield* p.step(RETRY)
        assert.deepStrictEqual(yield* p.leaders, [follower.identity])
        assert.strictEqual((yield* leader.e.status).holder, follower.identity)
        ;[leader, follower] = [follower, leader]
      }
    }).pipe(Effect.scoped))

  it.effect("a leader whose renews fail (kube-sim 500) steps down by the renew deadline; whileLeader is interrupted", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const p = yield* pair(s, "leader-fault")
      yield* p.step(RETRY)
      const leader = (yield* p.a.e.isLeader) ? p.a : p.b
      const follower = leader === p.a ? p.b : p.a
      yield* p.step(RETRY)
      const lastRenew = renewTime(p.lease()!.spec)
      const work = yield* leader.e.whileLeader(() => Effect.never).pipe(Effect.forkScoped)
      const fault = s.faults.error({ status: 500, verb: "update", resource: "leases" })
      yield* p.until(Effect.map(leader.e.isLeader, (l) => !l), DEADLINE + RETRY)
      const steppedDown = yield* Clock.currentTimeMillis
      assert.isAtMost(steppedDown, lastRenew + DEADLINE)
      assert.isAtLeast(steppedDown, lastRenew + DEADLINE - 100, "it kept leading while within the deadline")
      assert.isAbove(s.recorder.count({ method: "PUT", status: 500 }), 3, "the renews really failed")
      const exit = yield* Fiber.await(work)
      assert.isTrue(Exit.isFailure(exit))
      const err = yield* Effect.flip(Fiber.join(work))
      assert.strictEqual(err._tag, "NotLeader")
      assert.strictEqual(err.reason, "term-ended")
      assert.strictEqual(err.epoch, 0)
      assert.deepStrictEqual(yield* p.leaders, [])
      // the API server heals: someone leads again, in a new epoch
      fault.remove()
      yield* p.until(Effect.map(p.leaders, (l) => l.length === 1), LEASE + 2 * RETRY)
      assert.strictEqual(p.lease()!.spec.leaseTransitions, 1)
      assert.strictEqual(yield* Effect.map(p.leaders, (l) => l.length), 1)
      void follower
    }).pipe(Effect.scoped))

  it.effect("a 409 Conflict on renew is handled as lost: the term ends at once, the next acquire is a new epoch", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      const p = yield* pair(s, "leader-conflict")
      yield* p.step(RETRY)
      const leader = (yield* p.a.e.isLeader) ? p.a : p.b
      yield* p.pause(leader === p.a ? p.b : p.a)
      const work = yield* leader.e.whileLeader(() => Effect.never).pipe(Effect.forkScoped)
      s.faults.error({ status: 409, verb: "update", resource: "leases", times: 1 })
      yield* p.step(RETRY)
      // one renew later, far before the deadline: not leading any more
      assert.isFalse(yield* leader.e.isLeader)
      const err = yield* Effect.flip(Fiber.join(work))
      assert.strictEqual(err.reason, "term-ended")
      // it holds the record still and takes it again next retry, as a new term
      yield* p.step(RETRY)
      assert.deepStrictEqual(yield* leader.e.epoch, Option.some(1))
      assert.strictEqual(p.lease()!.spec.leaseTransitions, 1)
      assert.strictEqual(p.lease()!.spec.holderIdentity, leader.identity)
    }).pipe(Effect.scoped))

  it.effect("property: exactly one leader at any virtual instant over random pause/resume schedules of the two", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", NS] })
      // per 500 ms step: does each elector flip between paused and running?
      const schedules = fc.sample(fc.array(fc.tuple(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 9 })), { minLength: 60, maxLength: 100 }), { seed: 18, numRuns: 8 })
      let run = 0
      let takeovers = 0
      for (const schedule of schedules) {
        run++
        yield* Effect.scoped(Effect.gen(function*() {
          const p = yield* pair(s, `leader-prop-${run}`)
          for (const [fa, fb, r] of schedule) {
            // flips are rare (one step in five), so pauses last long enough to lose the lease
            if (fa && r < 2) yield* (p.a.paused ? p.resume(p.a) : p.pause(p.a))
            if (fb && r >= 8) yield* (p.b.paused ? p.resume(p.b) : p.pause(p.b))
            yield* p.step(500)
          }
          // both run again: exactly one leads within lease + retry + renew deadline
          yield* p.resume(p.a)
          yield* p.resume(p.b)
          yield* p.until(Effect.map(p.leaders, (l) => l.length === 1), LEASE + DEADLINE + 2 * RETRY, 500)
          takeovers += Number(p.lease()!.spec.leaseTransitions)
        }))
      }
      assert.isAbove(takeovers, 0, "the schedules really moved the lease")
    }).pipe(Effect.scoped), 60_000)
  it.effect("configured from BYTEPORT_LEADER_*; an old renewTime alone never expires a record; a released Lease is taken at the next retry", () =>
    Effect.gen(function*() {
      const s = yield* sim({ namespaces: ["default", "ops"] })
      const env = ConfigProvider.layer(ConfigProvider.fromEnv({
        env: {
          BYTEPORT_LEADER_LEASE_NAME: "agents",
          BYTEPORT_LEADER_NAMESPACE: "ops",
          BYTEPORT_LEADER_IDENTITY: "agent-a",
          BYTEPORT_LEADER_LEASE_DURATION: "6 seconds",
          BYTEPORT_LEADER_RENEW_DEADLINE: "4 seconds",
          BYTEPORT_LEADER_RETRY_PERIOD: "1 second"
        }
      }))
      const lease = () => s.store.list(Keys.leases, { namespace: "ops" }).find((l) => l.metadata.name === "agents") as unknown as { spec: Record<string, unknown> } | undefined
      const tick = (ms: number) => TestClock.adjust(ms).pipe(Effect.andThen(Effect.promise(() => new Promise((r) => setTimeout(r, 40)))))
      // a record another agent wrote long ago (renewTime 1970): still waited out from its observation
      s.store.create(Keys.leases, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "agents", namespace: "ops" }, spec: { holderIdentity: "gone", leaseDurationSeconds: 6, renewTime: "1970-01-01T00:00:00.000000Z", leaseTransitions: 4 } } as never)
      yield* TestClock.adjust(3_600_000)
      const scopeA = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(LeaderElection.layerConfig.pipe(Layer.provide(kubeLayer(s)), Layer.provide(env)), scopeA)
      const a = Context.get(ctx, LeaderElection.LeaderElection)
      yield* tick(0)
      for (let i = 0; i < 5; i++) yield* tick(1000)
      assert.isFalse(yield* a.isLeader, "not before 6 s of observing the record unchanged")
      assert.strictEqual(lease()!.spec.holderIdentity, "gone")
      for (let i = 0; i < 2; i++) yield* tick(1000)
      assert.isTrue(yield* a.isLeader)
      assert.strictEqual(a.identity, "agent-a")
      assert.strictEqual(lease()!.spec.leaseDurationSeconds, 6)
      assert.strictEqual(lease()!.spec.leaseTransitions, 5)
      assert.deepStrictEqual(yield* a.epoch, Option.some(5))
      // a second elector with the same timings follows; a's scope closes: the Lease is released
      const b = yield* LeaderElection.make({ name: "agents", namespace: "ops", identity: "agent-b", leaseDuration: "6 seconds", renewDeadline: "4 seconds", retryPeriod: "1 second" }).pipe(
        Effect.provide(kubeLayer(s))
      )
      yield* tick(0)
      for (let i = 0; i < 3; i++) yield* tick(1000)
      assert.isFalse(yield* b.isLeader)
      yield* Scope.close(scopeA, Exit.void)
      assert.strictEqual(lease()!.spec.holderIdentity, "")
      assert.isFalse(yield* a.isLeader)
      yield* tick(1000)
      assert.isTrue(yield* b.isLeader, "a released Lease is taken at the next retry, without waiting the lease out")
      assert.strictEqual(lease()!.spec.leaseTransitions, 6)
    }).pipe(Effect.scoped))
})
