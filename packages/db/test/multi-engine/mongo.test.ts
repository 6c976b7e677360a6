/**
 * The MongoDB wire-protocol FAKE (`@byteport/db/testing`, not MongoDB) driven by the official
 * `mongodb` driver, and the Mongo service, probes and detector of db.pool.multi-engine over it.
 */
import { assert, describe, it } from "@effect/vitest"
import { TargetRef } from "@byteport/core"
import { Effect, Redacted } from "effect"
import { MongoClient } from "mongodb"
import * as Mongo from "../../src/mongo/Mongo"
import * as MongoActivity from "../../src/mongo/MongoActivity"
import * as MongoPoolExhaustion from "../../src/mongo/MongoPoolExhaustion"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import { Verifier } from "@byteport/core"
import { MongoFake } from "../../src/testing/index"

const fakeFor = (options: MongoFake.Options = {}) =>
  Effect.acquireRelease(Effect.promise(() => MongoFake.start(options)), (f) => Effect.promise(() => f.close()))

const clientOf = (url: string, maxPoolSize = 10) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const c = new MongoClient(url, { maxPoolSize, serverSelectionTimeoutMS: 1_500 })
      await c.connect()
      return c
    }),
    (c) => Effect.promise(() => c.close(true).catch(() => undefined))
  )

const mongo = (url: string) => Mongo.layer({ url: Redacted.make(url), connectTimeoutMillis: 1_500 })

const waitFor = (cond: () => boolean, what: string) =>
  Effect.promise(async () => {
    const start = Date.now()
    while (!cond()) {
      if (Date.now() - start > 5_000) throw new Error(`timed out: ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
  })

describe("MongoFake (a fake, not MongoDB) + Mongo probes", () => {
  it.live("serverStatus counts each TCP connection; past the maximum a connection is refused as mongod does", () =>
    Effect.scoped(Effect.gen(function*() {
      const fake = yield* fakeFor({ maxConnections: 4 })
      const a = yield* clientOf(fake.url("orders-api"))
      yield* Effect.promise(() => a.db("admin").command({ ping: 1 }))
      const before = fake.connections()
      assert.isAtLeast(before, 1)
      const status = yield* MongoActivity.serverStatus.pipe(Effect.provide(mongo(fake.url())))
      // the probe's own connections are open while it reads
      assert.strictEqual(status.current + status.available, 4)
      assert.isAbove(status.current, before)
      assert.strictEqual(status.max, 4)
      // fill the server up, then one more client cannot get in
      const b = yield* clientOf(fake.url("filler"))
      yield* Effect.promise(() => b.db("admin").command({ ping: 1 }))
      yield* waitFor(() => fake.connections() >= 3, "filler connected")
      const extra = [] as Array<MongoClient>
      while (fake.connections() < 4) {
        const c = new MongoClient(fake.url("more"), { serverSelectionTimeoutMS: 500 })
        extra.push(c)
        yield* Effect.promise(() => c.connect().catch(() => undefined))
      }
      const refusedBefore = fake.refused()
      const late = new MongoClient(fake.url("late"), { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 })
      const err = yield* Effect.promise(() => late.db("admin").command({ ping: 1 }).then(() => undefined, (e: Error) => e))
      assert.isDefined(err, "a connection past the maximum must fail")
      assert.isAbove(fake.refused(), refusedBefore)
      yield* Effect.promise(() => Promise.all([late, ...extra].map((c) => c.close(true).catch(() => undefined))))
    })))

  it.live("currentOp ($all, idleSessions): a long op and an idle transaction; killOp interrupts, killSessions aborts", () =>
    Effect.scoped(Effect.gen(function*() {
      let t = 1_000_000
      const fake = yield* fakeFor({ now: () => t })
      const app = yield* clientOf(fake.url("orders-api"))
      const orders = app.db("shop").collection("orders")
      const session = app.startSession()
      session.startTransaction()
      yield* Effect.promise(() => orders.insertOne({ sku: "a" }, { session }))
      const long = orders.find({ $where: "sleep(600000)" }).toArray().then(() => "done", (e: { code?: number }) => `error ${e.code}`)
      yield* waitFor(() => true, "")
      yield* Effect.sleep("50 millis")
      t += 45_000
      const ops = yield* MongoActivity.currentOp.pipe(Effect.provide(mongo(fake.url())))
      const running = ops.filter((o) => o.active && o.opid !== undefined)
      assert.strictEqual(running.length, 1)
      assert.strictEqual(running[0]!.commandName, "find")
      assert.strictEqual(running[0]!.ns, "shop.orders")
      assert.strictEqual(running[0]!.appName, "orders-api")
      assert.approximately(running[0]!.secsRunning, 45, 0.5)
      assert.notInclude(running[0]!.commandShape ?? "", "600000", "command values never reach reports")
      const idle = ops.filter((o) => o.type === "idleSession")
      assert.strictEqual(idle.length, 1)
      assert.isTrue(idle[0]!.inTransaction)
      assert.approximately(idle[0]!.txnIdleSecs, 45, 0.5)
      assert.strictEqual(idle[0]!.lsid, Buffer.from(session.id!.id.buffer).toString("hex"))
      assert.isTrue(ops.some((o) => o.type === "op" && !o.active), "$all lists idle connections")
      // without idleSessions the idle transaction is not listed
      const svc = yield* Effect.promise(() => app.db("admin").command({ currentOp: 1, $all: true, idleSessions: false }))
      assert.isFalse((svc["inprog"] as Array<{ type: string }>).some((o) => o.type === "idleSession"))
      yield* Effect.promise(() => app.db("admin").command({ killOp: 1, op: running[0]!.opid }))
      assert.strictEqual(yield* Effect.promise(() => long), "error 11601")
      yield* Effect.promise(() => app.db("admin").command({ killSessions: [session.id] }))
      const commit = yield* Effect.promise(() => session.commitTransaction().then(() => "committed", (e: { code?: number }) => `error ${e.code}`))
      assert.strictEqual(commit, "error 251")
      assert.deepStrictEqual(fake.killedOps(), [running[0]!.opid!])
      yield* Effect.promise(() => session.endSession())
    })))

  it.live("buildInfo, listDatabases and endSessions answer as mongod's do (the fake's version; databases written to; a session in a transaction outlives endSessions, killSessions aborts it)", () =>
    Effect.scoped(Effect.gen(function*() {
      const fake = yield* fakeFor({ version: "7.0.2-byteport-fake" })
      const app = yield* clientOf(fake.url("orders-api"))
      const admin = app.db("admin")
      const info = yield* Effect.promise(() => admin.command({ buildInfo: 1 }))
      assert.strictEqual(info["version"], "7.0.2-byteport-fake")
      assert.deepStrictEqual((info["versionArray"] as Array<number>).slice(0, 3), [7, 0, 2])
      const names = () => Effect.promise(() => admin.admin().listDatabases()).pipe(Effect.map((r) => r.databases.map((d) => d.name).sort()))
      assert.deepStrictEqual(yield* names(), ["admin"])
      yield* Effect.promise(() => app.db("shop").collection("orders").insertOne({ sku: "a" }))
      yield* Effect.promise(() => app.db("billing").collection("invoices").insertOne({ n: 1 }))
      assert.deepStrictEqual(yield* names(), ["admin", "billing", "shop"])
      // a session idle in a transaction: endSessions does not end it (mongod leaves the
      // transaction to its timeout); it stays listed until killSessions aborts it
      const s = app.startSession()
      s.startTransaction()
      yield* Effect.promise(() => app.db("shop").collection("orders").insertOne({ sku: "b" }, { session: s }))
      const idleCount = () => Effect.promise(() => admin.command({ currentOp: 1, $all: true, idleSessions: true })).pipe(
        Effect.map((r) => (r["inprog"] as Array<{ type: string }>).filter((o) => o.type === "idleSession").length)
      )
      assert.strictEqual(yield* idleCount(), 1)
      assert.strictEqual((yield* Effect.promise(() => admin.command({ endSessions: [s.id] })))["ok"], 1)
      assert.strictEqual(yield* idleCount(), 1)
      yield* Effect.promise(() => admin.command({ killSessions: [s.id] }))
      assert.strictEqual(yield* idleCount(), 0)
      // a session without a transaction ends; its next transaction starts afresh
      const plain = app.startSession()
      yield* Effect.promise(() => app.db("shop").collection("orders").find({}, { session: plain }).toArray())
      assert.strictEqual((yield* Effect.promise(() => admin.command({ endSessions: [plain.id] })))["ok"], 1)
      yield* Effect.promise(() => Promise.all([s.endSession().catch(() => undefined), plain.endSession()]))
    })))

  it.live("PoolExhaustion (MongoDB): fires at ≥ 80 % (BytePort's own connections not counted), not at 60 %", () =>
    Effect.scoped(Effect.gen(function*() {
      const fake = yield* fakeFor({ maxConnections: 10 })
      const target = TargetRef.make("database", "orders-mongo")
      const apps: Array<MongoClient> = []
      const open = (n: number) =>
        Effect.promise(async () => {
          for (let i = 0; i < n; i++) {
            const c = new MongoClient(fake.url("orders-api"), { maxPoolSize: 1 })
            apps.push(c)
            await c.db("admin").command({ ping: 1 })
          }
        })
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(apps.map((c) => c.close(true).catch(() => undefined)))))
      // each app client holds 2 connections (its monitor + one pooled)
      yield* open(3)
      const low = yield* MongoPoolExhaustion.poll({ target }).pipe(Effect.provide(mongo(fake.url())))
      assert.deepStrictEqual(low, [])
      yield* open(1)
      const reading = yield* MongoActivity.utilization.pipe(Effect.provide(mongo(fake.url())))
      assert.strictEqual(reading.current - reading.own, 8)
      assert.strictEqual(reading.ratio, 0.8)
      const fired = yield* MongoPoolExhaustion.poll({ target }).pipe(Effect.provide(mongo(fake.url())))
      assert.strictEqual(fired.length, 1)
      assert.strictEqual(fired[0]!.type, "db.pool.exhaustion")
      assert.strictEqual((fired[0]!.evidence as { engine: string }).engine, "mongodb")
      assert.strictEqual((fired[0]!.evidence as { maxConnections: number }).maxConnections, 10)
    })))

  it.live("the Mongo service never leaks its URL or password in errors", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = "mongodb://admin:s3cr3t-pw@127.0.0.1:1/?directConnection=true"
      const e = yield* MongoActivity.serverStatus.pipe(Effect.provide(mongo(url)), Effect.flip)
      assert.strictEqual(e._tag, "DbConnectionError")
      assert.notInclude(e.message, "s3cr3t-pw")
      assert.strictEqual((e as { engine: string }).engine, "mongodb")
    })))

  it.live("the probes read serverStatus and currentOp from a real mongod when BYTEPORT_TEST_MONGODB_URL is set, else from the fake", () =>
    Effect.scoped(Effect.gen(function*() {
      const real = process.env.BYTEPORT_TEST_MONGODB_URL
      const url = real !== undefined && real !== "" ? real : (yield* fakeFor({ maxConnections: 50 })).url()
      const layer = mongo(url)
      const status = yield* MongoActivity.serverStatus.pipe(Effect.provide(layer))
      assert.isAtLeast(status.current, 1)
      assert.strictEqual(status.max, status.current + status.available)
      const ops = yield* MongoActivity.currentOp.pipe(Effect.provide(layer))
      // $all lists BytePort's own connection (appName "byteport")
      assert.isTrue(ops.some((o) => o.appName === "byteport"))
      const u = yield* MongoActivity.utilization.pipe(Effect.provide(layer))
      assert.isAtLeast(u.own, 1)
      assert.isAtMost(u.ratio, 1)
    })))

  it.live("verify: the 30/90/180 s re-poll by default; a poll ≥ 80 % fails and is flagged, < 70 % passes", () =>
    Effect.scoped(Effect.gen(function*() {
      assert.deepStrictEqual(PoolMultiEngineRunbook.makeMongo().verifySchedule("undersized_pool"), Verifier.schedules.repoll30_90_180)
      const fake = yield* fakeFor({ maxConnections: 10 })
      const apps: Array<MongoClient> = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(apps.map((c) => c.close(true).catch(() => undefined)))))
      for (let i = 0; i < 4; i++) {
        const c = new MongoClient(fake.url("orders-api"), { maxPoolSize: 1 })
        apps.push(c)
        yield* Effect.promise(() => c.db("admin").command({ ping: 1 }))
      }
      const verify = PoolMultiEngineRunbook.mongoBelow()
      const high = yield* verify(undefined as never).pipe(Effect.provide(mongo(fake.url())))
      assert.strictEqual(high._tag, "NotRecovered")
      assert.strictEqual((high.checks[0]!.observed as { flagged: boolean }).flagged, true)
      yield* Effect.promise(() => Promise.all(apps.splice(0, 2).map((c) => c.close(true))))
      yield* Effect.sleep("100 millis")
      const low = yield* verify(undefined as never).pipe(Effect.provide(mongo(fake.url())))
      assert.strictEqual(low._tag, "Recovered", JSON.stringify(low.checks))
      assert.strictEqual((low.checks[0]!.observed as { flagged: boolean }).flagged, false)
    })))
})
