/**
 * db.pool.multi-engine end to end on the MongoDB wire-protocol FAKE (not MongoDB): the runbook in
 * auto mode through the official driver, the fake's state asserted afterwards; observe and
 * dry_run kill nothing; 25 eligible sessions → 20 killed in the minute (kills_per_minute_cap).
 */
import { Annotations, IncidentBus, Runbook, TargetRef } from "@byteport/core"
import * as MultiEngineFacts from "../../src/runbooks/multi-engine/Facts"
import { restarter } from "../pool/world"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { MongoClient, type ClientSession } from "mongodb"
import * as Mongo from "../../src/mongo/Mongo"
import * as MongoKill from "../../src/mongo/MongoKill"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import { MongoFake } from "../../src/testing/index"

const target = (label: string) => TargetRef.make("database", `test/mongo-${label}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`)
const signal = (t: TargetRef.TargetRef) => ({ type: "db.pool.exhaustion", target: t, observedAt: Date.now(), evidence: { engine: "mongodb" } })

const world = (url: string, cap = 20) =>
  Testing.layer<any>({ handlers: MongoKill.handlers({ killsPerMinuteCap: cap }) as any, checks: PoolMultiEngineRunbook.mongoChecks() as any }).pipe(
    Layer.provideMerge(Mongo.layer({ url: Redacted.make(url), connectTimeoutMillis: 2_000 }))
  )

const runbook = () =>
  PoolMultiEngineRunbook.makeMongo({ stopBelowRatio: 0, verifySchedule: { offsets: [0], description: "check once (test)" }, defaultMode: "auto" })

/** A fake with a clock the test moves, an app client, and `n` sessions left idle inside a transaction. */
const scenario = (n: number) =>
  Effect.gen(function*() {
    const clock = { t: 1_000_000 }
    const fake = yield* Effect.acquireRelease(Effect.promise(() => MongoFake.start({ now: () => clock.t, maxConnections: 200 })), (f) => Effect.promise(() => f.close()))
    const app = yield* Effect.acquireRelease(
      Effect.promise(() => new MongoClient(fake.url("orders-api"), { maxPoolSize: 5 }).connect()),
      (c) => Effect.promise(() => c.close(true).catch(() => undefined))
    )
    const sessions: Array<ClientSession> = []
    for (let i = 0; i < n; i++) {
      const s = app.startSession()
      s.startTransaction()
      yield* Effect.promise(() => app.db("shop").collection("orders").insertOne({ i }, { session: s }))
      sessions.push(s)
    }
    return { clock, fake, app, sessions }
  })

const commit = (s: ClientSession) => Effect.promise(() => s.commitTransaction().then(() => "committed", (e: { code?: number }) => `error ${e.code}`))
const hex = (s: ClientSession) => Buffer.from(s.id!.id.buffer).toString("hex")

describe("db.pool.multi-engine on the MongoDB fake (auto)", () => {
  it.live("idle_in_transaction_leak: killSessions of each session idle in a transaction over 30 s; their transactions are gone", () =>
    Effect.scoped(Effect.gen(function*() {
      const { clock, fake, sessions } = yield* scenario(3)
      clock.t += 45_000
      const r = yield* Runbook.handle(runbook(), signal(target("idle")), { mode: "auto" }).pipe(Effect.provide(world(fake.url())))
      assert.isFalse(Runbook.isAwaitingApproval(r))
      const report = r as Exclude<typeof r, { _tag: "AwaitingApproval" }>
      assert.strictEqual(report.classification?._tag === "Classified" ? report.classification.class : "", "idle_in_transaction_leak")
      assert.sameMembers([...fake.killedSessions()], sessions.map(hex))
      for (const s of sessions) assert.strictEqual(yield* commit(s), "error 251")
      assert.deepStrictEqual(report.outcomes.filter((o) => o.kind === "mongo.killSessions").map((o) => o.status), ["applied", "applied", "applied"])
      const pm = report.postmortem as { engine: string; query_fingerprints: ReadonlyArray<unknown>; permanent_fix: string; polls: ReadonlyArray<unknown> }
      assert.strictEqual(pm.engine, "mongodb")
      assert.include(pm.permanent_fix, "transaction")
      assert.strictEqual(pm.polls.length, 1)
    })))

  it.live("long_running_query: killOp of the operation over 10 min; the client sees Interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const { clock, fake, app } = yield* scenario(0)
      const long = app.db("shop").collection("orders").find({ $where: "sleep(3600000)" }).toArray().then(() => "done", (e: { code?: number }) => `error ${e.code}`)
      yield* Effect.sleep("100 millis")
      clock.t += 11 * 60_000
      const r = yield* Runbook.handle(runbook(), signal(target("long")), { mode: "auto" }).pipe(Effect.provide(world(fake.url())))
      const report = r as Exclude<typeof r, { _tag: "AwaitingApproval" }>
      assert.strictEqual(report.classification?._tag === "Classified" ? report.classification.class : "", "long_running_query")
      assert.strictEqual(fake.killedOps().length, 1)
      assert.strictEqual(yield* Effect.promise(() => long), "error 11601")
    })))

  for (const mode of ["observe", "dry_run"] as const) {
    it.live(`${mode}: nothing is killed`, () =>
      Effect.scoped(Effect.gen(function*() {
        const { clock, fake, sessions } = yield* scenario(3)
        clock.t += 45_000
        yield* Runbook.handle(runbook(), signal(target(mode)), { mode }).pipe(Effect.provide(world(fake.url())))
        assert.deepStrictEqual(fake.killedSessions(), [])
        for (const s of sessions) assert.strictEqual(yield* commit(s), "committed")
      })))
  }

  it.live("25 eligible sessions → 20 killed in the minute; the 5 denied stay open and are escalated", () =>
    Effect.scoped(Effect.gen(function*() {
      const { clock, fake, sessions } = yield* scenario(25)
      clock.t += 45_000
      const r = yield* Runbook.handle(runbook(), signal(target("cap")), { mode: "auto" }).pipe(Effect.provide(world(fake.url())))
      const report = r as Exclude<typeof r, { _tag: "AwaitingApproval" }>
      assert.strictEqual(fake.killedSessions().length, 20)
      const kills = report.outcomes.filter((o) => o.kind === "mongo.killSessions")
      assert.strictEqual(kills.filter((o) => o.status === "applied").length, 20)
      assert.strictEqual(kills.filter((o) => o.status === "denied").length, 5)
      const results = yield* Effect.forEach(sessions, commit)
      assert.strictEqual(results.filter((x) => x === "committed").length, 5)
      assert.isDefined(report.escalation)
    })))

  it.live("app_side_leak: one application's idle connections rise over 3 polls without traffic → rollout-restart hand-off of the workload owning its address", () =>
    Effect.scoped(Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => MongoFake.start({ maxConnections: 200 })), (f) => Effect.promise(() => f.close()))
      const clients: Array<MongoClient> = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(clients.map((c) => c.close(true).catch(() => undefined)))))
      const leakOne = Effect.promise(async () => {
        const c = new MongoClient(fake.url("orders-api"), { maxPoolSize: 1 })
        clients.push(c)
        await c.db("admin").command({ ping: 1 })
      })
      const trend = MultiEngineFacts.memoryTrend()
      const t = target("app-leak")
      const restart = restarter()
      const source = Annotations.layerConfiguration({ addresses: { "127.0.0.1": { kind: "Deployment", namespace: "shop", name: "orders-api" } } })
      const layer = Layer.mergeAll(
        Testing.layer<any>({ handlers: [...MongoKill.handlers(), restart.handler] as any }).pipe(Layer.provideMerge(Mongo.layer({ url: Redacted.make(fake.url()) }))),
        source
      )
      yield* Effect.gen(function*() {
        const rb = PoolMultiEngineRunbook.makeMongo({ trend, cluster: "prod", verifySchedule: { offsets: [0], description: "once" }, defaultMode: "auto" })
        for (let poll = 0; poll < 2; poll++) {
          yield* leakOne
          yield* MultiEngineFacts.mongodb({ trend })(signal(t))
        }
        yield* leakOne
        const r = yield* Runbook.handle(rb, signal(t), { mode: "auto" })
        const report = r as Exclude<typeof r, { _tag: "AwaitingApproval" }>
        assert.strictEqual(report.classification?._tag === "Classified" ? report.classification.class : "", "app_side_leak")
        const samples = yield* trend.samples(t, 3)
        assert.deepStrictEqual(samples.map((x) => x.byApplication["orders-api"]?.total), [2, 4, 6])
        assert.strictEqual(report.outcomes.find((o) => o.kind === "handoff")?.status, "handed_off")
        const bus = yield* IncidentBus.IncidentBus
        const published = (yield* bus.published).filter((x) => x.type === "k8s.rollout-restart.requested")
        assert.strictEqual(published.length, 1)
        assert.deepStrictEqual(published[0]!.target, TargetRef.make("k8s.workload", "prod/shop/Deployment/orders-api"))
        const child = yield* Runbook.handle(restart.runbook, published[0]!, { mode: "auto" })
        assert.strictEqual((child as { status: string }).status, "recovered")
        assert.strictEqual(restart.handler.writes.length, 1)
        assert.deepStrictEqual(fake.killedSessions(), [])
      }).pipe(Effect.provide(layer))
    })))

  it.live("traffic_spike: connections rise with the request rate → a maxPoolSize ChangeProposal within 20 % headroom; nothing killed, nothing applied", () =>
    Effect.scoped(Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => MongoFake.start({ maxConnections: 200 })), (f) => Effect.promise(() => f.close()))
      const clients: Array<MongoClient> = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(clients.map((c) => c.close(true).catch(() => undefined)))))
      const more = Effect.promise(async () => {
        const c = new MongoClient(fake.url("orders-api"), { maxPoolSize: 1 })
        clients.push(c)
        await c.db("admin").command({ ping: 1 })
      })
      let rate = 100
      const trend = MultiEngineFacts.memoryTrend()
      const options = { trend, requestRate: () => Effect.succeed(rate), mongoMaxPoolSize: 50 }
      const t = target("spike")
      yield* Effect.gen(function*() {
        for (let poll = 0; poll < 2; poll++) {
          yield* more
          yield* MultiEngineFacts.mongodb(options)(signal(t))
          rate += 100
        }
        yield* more
        const rb = PoolMultiEngineRunbook.makeMongo({ ...options, verifySchedule: { offsets: [0], description: "once" }, defaultMode: "auto" })
        const r = yield* Runbook.handle(rb, signal(t), { mode: "auto" })
        const report = r as Exclude<typeof r, { _tag: "AwaitingApproval" }>
        assert.strictEqual(report.classification?._tag === "Classified" ? report.classification.class : "", "traffic_spike")
        assert.strictEqual(report.plan?.root._tag, "Propose")
        assert.include(JSON.stringify(report.plan), "maxPoolSize=60")
        assert.deepStrictEqual(fake.killedSessions(), [])
        assert.deepStrictEqual(fake.killedOps(), [])
      }).pipe(Effect.provide(world(fake.url())))
    })))
})
