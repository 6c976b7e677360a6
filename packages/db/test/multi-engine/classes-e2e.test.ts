/**
 * db.pool.multi-engine, the classes × engines the other end-to-end files do not cover, each on
 * the real server (the MongoDB fake for MongoDB) in auto mode, the server's state asserted after:
 * PostgreSQL app-side leak and traffic spike; MariaDB long-running query, app-side leak and
 * traffic spike; MongoDB undersized pool. The trend is built from real polls of the diagnoser
 * (3 polls, the request rate from a pluggable source the test sets).
 */
import { IncidentBus, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { afterEach, assert, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { MongoClient } from "mongodb"
import * as MySql from "../../src/MySql"
import * as Mongo from "../../src/mongo/Mongo"
import * as MongoKill from "../../src/mongo/MongoKill"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as MultiEngineFacts from "../../src/runbooks/multi-engine/Facts"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"
import { MongoFake } from "../../src/testing/index"
import { agentPg, alive, reportOf, signal, target } from "../pool/world"
import { closeAllMySql, openConnection, type RawConnection } from "../support/mysql"
import { closeAll, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

const once = { offsets: [0], description: "check once (test)" }
const classOf = (r: ReturnType<typeof reportOf>) => (r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag ?? "")
const kills = (r: ReturnType<typeof reportOf>) => r.outcomes.filter((o) => /^(pg|mysql|mongo)\.(terminate|cancel|kill)/.test(o.kind) && o.status === "applied")

describeWithServices(["postgres"], "db.pool.multi-engine classes (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  afterEach(() => closeAll())
  const world = () =>
    Testing.layer<any>({
      handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 }), PgCancelBackend.make({ killsPerMinuteCap: 20 })] as any,
      checks: PoolMultiEngineRunbook.checks() as any
    }).pipe(Layer.provideMerge(agentPg(env)))
  const maxConnections = Effect.promise(async () => {
    const s = await openSession(appUrl, uniqueName("me-show"))
    const r = await s.q("SHOW max_connections")
    await s.client.end()
    return Number(r.rows[0].max_connections)
  })

  /** Three polls; before each, `perPoll` more sessions of `app`; `rate(i)` is the request rate at poll i. */
  const polls = (app: string, perPoll: number, rate: (i: number) => number, t: TargetRef.TargetRef, trend: MultiEngineFacts.TrendStore) =>
    Effect.gen(function*() {
      const opened: Array<RawSession> = []
      let i = 0
      const options = { trend, requestRate: () => Effect.succeed(rate(i)), pool: { timeout: "10 seconds" as const } }
      for (; i < 2; i++) {
        opened.push(...(yield* Effect.promise(() => Promise.all(Array.from({ length: perPoll }, () => openSession(appUrl, app))))))
        yield* MultiEngineFacts.postgres(options)(signal(t))
      }
      opened.push(...(yield* Effect.promise(() => Promise.all(Array.from({ length: perPoll }, () => openSession(appUrl, app))))))
      return { opened, options }
    })

  it.live("app_side_leak: one application's idle connections rise over 3 polls, the request rate flat → rollout-restart hand-off of its workload; nothing terminated", () =>
    Effect.gen(function*() {
      const app = uniqueName("leaky")
      const t = target("me-pg-appleak")
      const trend = MultiEngineFacts.memoryTrend()
      const { opened, options } = yield* polls(app, 3, () => 100, t, trend)
      const rb = PoolMultiEngineRunbook.make({ ...options, workloads: { [app]: "prod/shop/Deployment/leaky" }, verifySchedule: once, defaultMode: "auto" })
      const r = reportOf(yield* Runbook.handle(rb, signal(t), { mode: "auto" }))
      assert.strictEqual(classOf(r), "app_side_leak", JSON.stringify(r.classification))
      assert.strictEqual(r.outcomes.find((o) => o.kind === "handoff")?.status, "handed_off")
      const published = (yield* (yield* IncidentBus.IncidentBus).published).filter((x) => x.type === "k8s.rollout-restart.requested")
      assert.deepStrictEqual(published.map((p) => p.target), [TargetRef.make("k8s.workload", "prod/shop/Deployment/leaky")])
      assert.deepStrictEqual(kills(r), [])
      assert.strictEqual((yield* Effect.promise(() => alive(env, opened.map((s) => s.pid)))).size, opened.length, "every session survives")
    }).pipe(Effect.provide(world())), 60_000)

  it.live("traffic_spike (no pgbouncer): connections rise with the request rate → a max_connections ChangeProposal ≤ 1.2×; nothing terminated, nothing changed", () =>
    Effect.gen(function*() {
      const before = yield* maxConnections
      const t = target("me-pg-spike")
      const trend = MultiEngineFacts.memoryTrend()
      const { opened, options } = yield* polls(uniqueName("spiky"), 8, (i) => 100 * (i + 1), t, trend)
      const rb = PoolMultiEngineRunbook.make({ ...options, verifySchedule: once, defaultMode: "auto" })
      const r = reportOf(yield* Runbook.handle(rb, signal(t), { mode: "auto" }))
      assert.strictEqual(classOf(r), "traffic_spike", JSON.stringify(r.classification))
      assert.strictEqual(r.plan?.root._tag, "Propose")
      const m = /max_connections = (\d+)/.exec(JSON.stringify(r.plan))
      assert.isNotNull(m)
      assert.isAtMost(Number(m![1]), Math.floor(1.2 * before))
      assert.deepStrictEqual(kills(r), [])
      assert.strictEqual(yield* maxConnections, before, "a proposal changes nothing on the server")
      assert.strictEqual((yield* Effect.promise(() => alive(env, opened.map((s) => s.pid)))).size, opened.length)
    }).pipe(Effect.provide(world())), { timeout: 60_000, retry: 2 }) // traffic_spike reads the server-wide total, which other test files' sessions move between polls
})

describeWithServices(["mariadb"], "db.pool.multi-engine classes (real MariaDB)", (env) => {
  const appUrl = env.BYTEPORT_TEST_MYSQL_URL ?? ""
  const adminUrl = env.BYTEPORT_TEST_MYSQL_ADMIN_URL ?? ""
  afterEach(() => closeAllMySql())
  const world = (url: string) =>
    Testing.layer<MySql.MySql>({
      handlers: [...PoolSixClassRunbook.mysqlHandlers({ killsPerMinuteCap: 20 }), ...PoolMultiEngineRunbook.mysqlHandlers()] as any,
      checks: PoolMultiEngineRunbook.mysqlChecks() as any
    }).pipe(Layer.provideMerge(MySql.layer({ url: Redacted.make(url), poolMax: 3 })))
  const maxConnections = Effect.promise(async () => {
    const c = await openConnection(adminUrl)
    const rows = (await c.q("SELECT @@GLOBAL.max_connections AS v")) as Array<{ v: number }>
    return Number(rows[0]!.v)
  })
  const setMax = (v: number) => Effect.promise(async () => (await openConnection(adminUrl)).q(`SET GLOBAL max_connections = ${v}`))
  const connected = (c: RawConnection) => Effect.promise(() => c.q("SELECT 1").then(() => true, () => false))

  /** Three polls of the diagnoser; before each, `perPoll` more idle `app` connections. */
  const polls = (perPoll: number, rate: (i: number) => number, t: TargetRef.TargetRef, trend: MultiEngineFacts.TrendStore) =>
    Effect.gen(function*() {
      const opened: Array<RawConnection> = []
      let i = 0
      const options = { trend, requestRate: () => Effect.succeed(rate(i)), pool: { timeout: "10 seconds" as const } }
      const more = Effect.promise(() => Promise.all(Array.from({ length: perPoll }, () => openConnection(appUrl))))
      for (; i < 2; i++) {
        opened.push(...(yield* more))
        yield* MultiEngineFacts.mysql(options)(signal(t))
      }
      opened.push(...(yield* more))
      return { opened, options }
    })

  it.live("long_running_query: KILL QUERY of both statements over budget; the statements end, their connections stay", () =>
    Effect.gen(function*() {
      const conns = yield* Effect.promise(() => Promise.all([openConnection(appUrl), openConnection(appUrl)]))
      const running = conns.map((c) => c.q("SELECT SLEEP(20) AS s").then(() => Date.now(), (e: Error) => Date.now() + (e.message.includes("interrupted") ? 0 : 1e9)))
      yield* Effect.sleep("900 millis")
      const ids = new Set(conns.map((c) => c.id))
      const rb = PoolMultiEngineRunbook.makeMySql({
        sessions: (s) => s.pg !== undefined && ids.has(s.pg.pid),
        thresholds: { queryBudgetMs: 300 },
        stopBelowRatio: 0, // the shared server reads far below 70 %: both statements are stopped
        pool: { timeout: "10 seconds" },
        verifySchedule: once,
        defaultMode: "auto"
      })
      const started = Date.now()
      const r = reportOf(yield* Runbook.handle(rb, signal(target("me-my-long")), { mode: "auto" }).pipe(Effect.provide(world(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""))))
      assert.strictEqual(classOf(r), "long_running_query", JSON.stringify(r.classification))
      assert.deepStrictEqual(kills(r).map((o) => o.kind), ["mysql.killQuery", "mysql.killQuery"])
      const ended = yield* Effect.promise(() => Promise.all(running))
      for (const at of ended) assert.isBelow(at - started, 15_000, "the SLEEP(20) ended early")
      for (const c of conns) assert.isTrue(yield* connected(c), `connection ${c.id} survives a KILL QUERY`)
    }), 60_000)

  it.live("app_side_leak: the app user's idle connections rise over 3 polls, the request rate flat → rollout-restart hand-off; nothing killed", () =>
    Effect.gen(function*() {
      const t = target("me-my-appleak")
      const trend = MultiEngineFacts.memoryTrend()
      const { opened, options } = yield* polls(3, () => 50, t, trend)
      // MySQL has no application_name without performance_schema: the user stands in for it
      const rb = PoolMultiEngineRunbook.makeMySql({ ...options, workloads: { app: "prod/shop/Deployment/orders-api" }, verifySchedule: once, defaultMode: "auto" })
      const r = reportOf(yield* Runbook.handle(rb, signal(t), { mode: "auto" }))
      assert.strictEqual(classOf(r), "app_side_leak", JSON.stringify(r.classification))
      const published = (yield* (yield* IncidentBus.IncidentBus).published).filter((x) => x.type === "k8s.rollout-restart.requested")
      assert.deepStrictEqual(published.map((p) => p.target), [TargetRef.make("k8s.workload", "prod/shop/Deployment/orders-api")])
      assert.deepStrictEqual(kills(r), [])
      for (const c of opened) assert.isTrue(yield* connected(c))
    }).pipe(Effect.provide(world(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""))), 60_000)

  it.live("traffic_spike: connections rise with the request rate → SET GLOBAL max_connections ⌊1.2×⌋ plus a config-file ChangeProposal; a second incident cannot compound it (≤ 1.2× the first lease's baseline); nothing killed", () =>
    Effect.gen(function*() {
      const before = yield* maxConnections
      yield* Effect.addFinalizer(() => setMax(before).pipe(Effect.ignore))
      const t = target("me-my-spike")
      const trend = MultiEngineFacts.memoryTrend()
      let rate = 100
      const { opened, options } = yield* polls(4, (i) => 100 * (i + 1), t, trend)
      const rb = PoolMultiEngineRunbook.makeMySql({ ...options, verifySchedule: once, defaultMode: "auto" })
      // one incident per target per cooldown: without one, the second incident below is its own
      const r = reportOf(yield* Runbook.handle({ ...rb, cooldown: Duration.zero }, signal(t), { mode: "auto" }))
      assert.strictEqual(classOf(r), "traffic_spike", JSON.stringify(r.classification))
      assert.strictEqual(yield* maxConnections, Math.floor(before * 1.2))
      assert.strictEqual(r.proposals.length, 1)
      assert.include(JSON.stringify(r.proposals), `max_connections = ${Math.floor(before * 1.2)}`)
      assert.deepStrictEqual(kills(r), [])
      for (const c of opened) assert.isTrue(yield* connected(c))
      // the spike goes on: a second incident on the same target plans ⌊1.2 × the raised value⌋, which the
      // lease-time baseline (the value before the first raise) denies — raises never compound
      rate = 400
      opened.push(...(yield* Effect.promise(() => Promise.all(Array.from({ length: 4 }, () => openConnection(appUrl))))))
      const rb2 = PoolMultiEngineRunbook.makeMySql({ ...options, requestRate: () => Effect.succeed(rate), verifySchedule: once, defaultMode: "auto" })
      const r2 = reportOf(yield* Runbook.handle({ ...rb2, cooldown: Duration.zero }, { ...signal(t), observedAt: Date.now() + 5 }, { mode: "auto" }))
      assert.strictEqual(classOf(r2), "traffic_spike", JSON.stringify({ status: r2.status, c: r2.classification, e: r2.escalation?.reason }))
      assert.include(JSON.stringify(r2.plan), `${Math.floor(before * 1.2)} → ${Math.floor(Math.floor(before * 1.2) * 1.2)}`)
      assert.isTrue(r2.decisions.some((d) => d.decision === "deny" && (d.guardrail ?? "").includes("1.2×")), JSON.stringify(r2.decisions))
      assert.strictEqual(yield* maxConnections, Math.floor(before * 1.2), "not compounded")
    }).pipe(Effect.provide(world(adminUrl)), Effect.scoped), 60_000)
})

it.live("db.pool.multi-engine classes (MongoDB fake): undersized_pool at ≥ 85 % with no dominant cause → a maxPoolSize ChangeProposal ≤ 1.2×; nothing killed", () =>
  Effect.scoped(Effect.gen(function*() {
    const fake = yield* Effect.acquireRelease(Effect.promise(() => MongoFake.start({ maxConnections: 100 })), (f) => Effect.promise(() => f.close()))
    const clients: Array<MongoClient> = []
    yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(clients.map((c) => c.close(true).catch(() => undefined)))))
    // 44 application clients of 2 connections each (a monitor + one pooled): 88 of 100, idle, outside any transaction
    yield* Effect.promise(() =>
      Promise.all(Array.from({ length: 44 }, async () => {
        const c = new MongoClient(fake.url("orders-api"), { maxPoolSize: 1 })
        clients.push(c)
        await c.db("admin").command({ ping: 1 })
      }))
    )
    const rb = PoolMultiEngineRunbook.makeMongo({ mongoMaxPoolSize: 40, verifySchedule: once, defaultMode: "auto" })
    const layer = Testing.layer<any>({ handlers: MongoKill.handlers() as any, checks: PoolMultiEngineRunbook.mongoChecks() as any }).pipe(
      Layer.provideMerge(Mongo.layer({ url: Redacted.make(fake.url()) }))
    )
    const r = reportOf(yield* Runbook.handle(rb, signal(TargetRef.make("database", `test/mongo-undersized-${process.pid}`)), { mode: "auto" }).pipe(Effect.provide(layer)))
    assert.strictEqual(classOf(r), "undersized_pool", JSON.stringify(r.classification))
    assert.strictEqual(r.plan?.root._tag, "Propose")
    assert.include(JSON.stringify(r.plan), "maxPoolSize=48")
    assert.deepStrictEqual(fake.killedSessions(), [])
    assert.deepStrictEqual(fake.killedOps(), [])
    assert.deepStrictEqual(kills(r), [])
    assert.strictEqual(fake.refused(), 0)
    assert.isAtLeast(fake.connections(), 88, "every application connection is still open")
  })))
