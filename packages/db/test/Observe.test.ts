/**
 * `observe` of every db action kind against the real servers: before the action runs it is
 * NotApplied, after a real run (through the executor, with a genuine permit) it is Applied.
 */
import * as fs from "node:fs"
import { afterAll, afterEach, assert, beforeAll, it } from "@effect/vitest"
import { Action, type ActionHandler, Classification, Executor, GuardrailStore, Plan, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted } from "effect"
import * as MySqlKillConnection from "../src/actions/MySqlKillConnection"
import * as MySqlKillQuery from "../src/actions/MySqlKillQuery"
import * as PgBouncerRaisePoolSize from "../src/actions/PgBouncerRaisePoolSize"
import * as PgCancelBackend from "../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../src/actions/PgTerminateBackend"
import * as MySql from "../src/MySql"
import * as PgBouncer from "../src/PgBouncer"
import * as PgBouncerIni from "../src/pgbouncer/PgBouncerIni"
import * as Postgres from "../src/Postgres"
import * as MySqlActivity from "../src/probes/MySqlActivity"
import * as PgActivity from "../src/probes/PgActivity"
import { closeAllMySql, openConnection } from "./support/mysql"
import { closeAll, eventually, openSession, uniqueName } from "./support/pg"
import * as PrivateBouncer from "./pool/privateBouncer"
import { describeWithServices } from "./support/services"

const target = TargetRef.make("db", "test/appdb")
let seq = 0

/** Runs one action through the executor in auto (a genuine permit, journaled). */
const run = (action: Action.Action) =>
  Effect.gen(function*() {
    const store = yield* GuardrailStore.GuardrailStore
    const incidentId = `inc-db-observe-${process.pid}-${++seq}`
    yield* Effect.orDie(store.appendJournal({ incidentId, at: 0, type: "opened", data: { runbook: "db.observe.test", targetKey: TargetRef.key(target) } }))
    return yield* Executor.execute({
      incidentId,
      runbook: "db.observe.test",
      mode: "auto",
      signal: { type: "test", target, observedAt: 0, evidence: {} },
      classification: Classification.classified("test", 0.9, ["test"]),
      facts: {},
      plan: Plan.make("db.observe.test", "test", action.description, Plan.act(action)),
      baseline: {},
      guardrails: []
    })
  })

const observeWith = <R>(handler: ActionHandler.ActionHandler<R>, action: Action.Action) =>
  Effect.gen(function*() {
    assert.isDefined(handler.observe, `${handler.kind} declares observe`)
    return yield* handler.observe!(action, { incidentId: "inc-x", since: 0 })
  })

describeWithServices(["postgres"], "observe: pg.terminateBackend and pg.cancelBackend (real PostgreSQL)", (env) => {
  const agent = () => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 })
  const terminate = PgTerminateBackend.make()
  const cancel = PgCancelBackend.make({ graceMillis: 2_000 })
  const services = () => Testing.layer<Postgres.Postgres>({ handlers: [terminate, cancel] }).pipe(Layer.provideMerge(agent()))
  afterEach(() => closeAll())

  const sessionOf = (pid: number, state: string) =>
    Effect.promise(async () => {
      let found: PgActivity.PgSession | undefined
      await eventually(async () => {
        const rows = await Effect.runPromise(PgActivity.sessions.pipe(Effect.provide(agent())))
        found = rows.find((r) => r.pid === pid && r.state === state)
        return found !== undefined
      }, 5_000, `pid ${pid} in state ${state}`)
      return found!
    })

  it.live("pg.terminateBackend: a live backend is not applied; terminated, it is applied", () =>
    Effect.gen(function*() {
      const victim = yield* Effect.promise(() => openSession(env.BYTEPORT_TEST_PG_URL ?? "", uniqueName("observe-term")))
      yield* Effect.promise(() => victim.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(victim.pid, "idle in transaction")
      const action = PgTerminateBackend.action(target, s, "test")!
      assert.strictEqual((yield* observeWith(terminate, action))._tag, "NotApplied")
      const r = yield* run(action)
      assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
      assert.match(r.outcomes[0]!.detail, /^terminated/)
      const after = yield* observeWith(terminate, action)
      assert.strictEqual(after._tag, "Applied")
      assert.match(after.detail, /no longer exists/)
    }).pipe(Effect.provide(services())), 20_000)

  it.live("pg.cancelBackend: a running statement is not applied; cancelled, it is applied", () =>
    Effect.gen(function*() {
      const slow = yield* Effect.promise(() => openSession(env.BYTEPORT_TEST_PG_URL ?? "", uniqueName("observe-cancel")))
      const sleeping = slow.q("SELECT pg_sleep(30)").catch((e: unknown) => e)
      const s = yield* sessionOf(slow.pid, "active")
      const action = PgCancelBackend.action(target, s, "test")!
      assert.strictEqual((yield* observeWith(cancel, action))._tag, "NotApplied")
      const r = yield* run(action)
      assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
      yield* Effect.promise(() => sleeping)
      assert.strictEqual((yield* observeWith(cancel, action))._tag, "Applied")
    }).pipe(Effect.provide(services())), 20_000)
})

describeWithServices(["mariadb"], "observe: mysql.killConnection and mysql.killQuery (real MariaDB)", (env) => {
  const agent = () => MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 2 })
  const killConnection = MySqlKillConnection.make()
  const killQuery = MySqlKillQuery.make()
  const services = () => Testing.layer<MySql.MySql>({ handlers: [killConnection, killQuery] }).pipe(Layer.provideMerge(agent()))
  const table = `bp_observe_${process.pid}`
  afterEach(() => closeAllMySql())

  const sessionOf = (id: number, pred: (s: MySqlActivity.MySqlSession) => boolean) =>
    Effect.promise(async () => {
      let found: MySqlActivity.MySqlSession | undefined
      await eventually(async () => {
        const rows = await Effect.runPromise(MySqlActivity.sessions.pipe(Effect.provide(agent())))
        found = rows.find((r) => r.id === id && pred(r))
        return found !== undefined
      }, 5_000, `thread ${id}`, 150)
      return found!
    })
  const actionOf = (kind: string, s: MySqlActivity.MySqlSession, state: string) =>
    Action.make({
      kind,
      target,
      params: { id: s.id, user: s.user, applicationName: s.user ?? "", state, commandStartedMs: s.command_started_ms, commandMs: s.command_ms, superuser: false, info: null },
      precondition: { id: s.id, state, commandStartedMs: s.command_started_ms },
      description: `${kind} ${s.id}`
    })

  it.live("mysql.killConnection: a thread still there is not applied; killed, it is applied", () =>
    Effect.gen(function*() {
      const victim = yield* Effect.promise(async () => {
        const c = await openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? "")
        await c.q(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`)
        await c.q("BEGIN")
        await c.q(`INSERT INTO ${table} VALUES (${c.id}, 1)`)
        return c
      })
      const s = yield* sessionOf(victim.id, (x) => MySqlActivity.isSleepingInTransaction(x))
      const action = actionOf(MySqlKillConnection.KIND, s, "idle in transaction")
      assert.strictEqual((yield* observeWith(killConnection, action))._tag, "NotApplied")
      const r = yield* run(action)
      assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
      assert.match(r.outcomes[0]!.detail, /^killed connection/)
      yield* Effect.promise(() => eventually(async () => victim.errors.length > 0, 2_000, "the victim's error event"))
      assert.strictEqual((yield* observeWith(killConnection, action))._tag, "Applied")
    }).pipe(Effect.provide(services())), 20_000)

  it.live("mysql.killQuery: a running statement is not applied; killed, it is applied", () =>
    Effect.gen(function*() {
      const slow = yield* Effect.promise(() => openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? ""))
      const sleeping = slow.q("SELECT SLEEP(30)").catch((e: unknown) => e)
      const s = yield* sessionOf(slow.id, (x) => x.command === "Query" && (x.info ?? "").includes("SLEEP"))
      const action = actionOf(MySqlKillQuery.KIND, s, "active")
      assert.strictEqual((yield* observeWith(killQuery, action))._tag, "NotApplied")
      const r = yield* run(action)
      assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
      assert.match(r.outcomes[0]!.detail, /^killed the statement/)
      yield* Effect.promise(() => sleeping)
      assert.strictEqual((yield* observeWith(killQuery, action))._tag, "Applied")
    }).pipe(Effect.provide(services())), 20_000)
})

describeWithServices(["postgres", "pgbouncer"], "observe: pgbouncer.raisePoolSize (a private pgbouncer)", (sharedEnv) => {
  let bouncer: PrivateBouncer.PrivateBouncer | undefined
  beforeAll(async () => {
    bouncer = await PrivateBouncer.start(sharedEnv)
  }, 30_000)
  afterAll(() => bouncer?.stop())
  const raise = PgBouncerRaisePoolSize.make()
  const services = () => {
    const env: Readonly<Record<string, string>> = { ...sharedEnv, BYTEPORT_TEST_PGBOUNCER_URL: bouncer!.url, BYTEPORT_TEST_PGBOUNCER_ADMIN_URL: bouncer!.adminUrl, BYTEPORT_TEST_PGBOUNCER_INI: bouncer!.iniPath }
    const deps = Layer.mergeAll(
      Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 }),
      Layer.orDie(PgBouncer.layer({ adminUrl: Redacted.make(env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? ""), iniPath: env.BYTEPORT_TEST_PGBOUNCER_INI }))
    )
    return Testing.layer<Postgres.Postgres | PgBouncer.PgBouncer>({ handlers: [raise] }).pipe(Layer.provideMerge(deps))
  }
  const raiseAction = (from: number, to: number) =>
    PgBouncerRaisePoolSize.action(target, { from, to, projectedTotal: 20, available: 90 }, "test")

  it.live("the ini at the planned-from size is not applied; raised and RELOADed it is applied; another size is unknown", () =>
    Effect.gen(function*() {
      const original = fs.readFileSync(bouncer!.iniPath, "utf8")
      const before = (yield* PgBouncerIni.readPoolSizes(original)).defaultPoolSize
      const action = raiseAction(before, before + 1)
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* observeWith(raise, action))._tag, "NotApplied")
        // written but not reloaded: still not applied (running it again is safe)
        fs.writeFileSync(bouncer!.iniPath, yield* PgBouncerIni.setDefaultPoolSize(original, before + 1))
        const written = yield* observeWith(raise, action)
        assert.strictEqual(written._tag, "NotApplied")
        assert.match(written.detail, /not live yet/)
        fs.writeFileSync(bouncer!.iniPath, original)
        const r = yield* run(action)
        assert.strictEqual(r.status, "completed", JSON.stringify(r.outcomes))
        assert.strictEqual((yield* observeWith(raise, action))._tag, "Applied")
        assert.strictEqual((yield* observeWith(raise, raiseAction(before + 5, before + 6)))._tag, "Unknown")
      }).pipe(Effect.ensuring(Effect.gen(function*() {
        fs.writeFileSync(bouncer!.iniPath, original)
        yield* PgBouncer.PgBouncer.use((b) => b.reload).pipe(Effect.ignore)
        const dir = bouncer!.iniPath.replace(/[^/]+$/, "")
        for (const f of fs.readdirSync(dir)) if (f.includes(".bak-")) fs.rmSync(dir + f)
      })))
    }).pipe(Effect.provide(services())), 30_000)
})

