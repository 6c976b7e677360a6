import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Postgres from "../src/Postgres"
import * as PgActivity from "../src/probes/PgActivity"
import * as PgKill from "../src/sessions/PgKill"
import { closeAll, eventually, openSession, uniqueName } from "./support/pg"
import type { RawSession } from "./support/pg"
import { describeWithServices } from "./support/services"

describeWithServices(["postgres"], "PgKill: conditional terminate / cancel (real PostgreSQL 15)", (env) => {
  const appUrl = () => env.BYTEPORT_TEST_PG_URL ?? ""
  const superUrl = () => env.BYTEPORT_TEST_PG_SUPER_URL ?? ""
  // BytePort runs as a non-superuser member of pg_signal_backend + pg_monitor
  const agent = () => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 2 })
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
  const targetOf = (s: PgActivity.PgSession) => {
    const t = PgKill.targetOf(s)
    if (t === undefined) throw new Error("no target")
    return t
  }
  const stillWorks = (s: RawSession) => Effect.promise(() => s.q("SELECT 1 AS one").then((r) => r.rows[0].one === 1, () => false))
  const exists = (pid: number) =>
    PgActivity.sessions.pipe(Effect.map((rows) => rows.some((r) => r.pid === pid)), Effect.provide(agent()))

  it.live("terminates an idle-in-transaction session it still matches", () =>
    Effect.gen(function*() {
      const victim = yield* Effect.promise(() => openSession(appUrl(), uniqueName("leak")))
      yield* Effect.promise(() => victim.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(victim.pid, "idle in transaction")
      const result = yield* PgKill.terminate(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Signalled", pid: victim.pid, signal: "terminate" })
      assert.isFalse(yield* exists(victim.pid))
      yield* Effect.promise(() => eventually(async () => victim.errors.length > 0, 2_000, "the victim's error event"))
      assert.isFalse(yield* stillWorks(victim))
    }))

  it.live("never terminates a superuser session, even one idle in transaction", () =>
    Effect.gen(function*() {
      const admin = yield* Effect.promise(() => openSession(superUrl(), uniqueName("dba")))
      yield* Effect.promise(() => admin.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(admin.pid, "idle in transaction")
      assert.isTrue(s.rolsuper)
      const result = yield* PgKill.terminate(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Refused", pid: admin.pid, reason: "superuser" })
      // even through a superuser connection of its own, the guard is in the statement
      const viaSuper = yield* PgKill.terminate(targetOf(s)).pipe(
        Effect.provide(Postgres.layer({ url: Redacted.make(superUrl()), poolMax: 1 }))
      )
      assert.strictEqual(viaSuper._tag, "Refused")
      assert.isTrue(yield* stillWorks(admin))
      assert.isTrue(yield* exists(admin.pid))
    }))

  it.live("a session that COMMITs between the read and the kill survives", () =>
    Effect.gen(function*() {
      const victim = yield* Effect.promise(() => openSession(appUrl(), uniqueName("commits")))
      yield* Effect.promise(() => victim.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(victim.pid, "idle in transaction")
      yield* Effect.promise(() => victim.q("COMMIT"))
      const r1 = yield* PgKill.terminate(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r1, { _tag: "Refused", pid: victim.pid, reason: "changed" })
      // back in a *new* transaction, idle again: the state matches but xact_start does not
      yield* Effect.promise(() => victim.q("BEGIN; SELECT 2"))
      yield* sessionOf(victim.pid, "idle in transaction")
      const r2 = yield* PgKill.terminate(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r2, { _tag: "Refused", pid: victim.pid, reason: "changed" })
      assert.isTrue(yield* stillWorks(victim))
      assert.deepStrictEqual(victim.errors, [])
    }))

  it.live("refuses a pid whose backend_start does not match (pid reuse)", () =>
    Effect.gen(function*() {
      const victim = yield* Effect.promise(() => openSession(appUrl(), uniqueName("reuse")))
      yield* Effect.promise(() => victim.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(victim.pid, "idle in transaction")
      const stale = { ...targetOf(s), backendStartUs: String(BigInt(s.backend_start_us ?? "0") - 1n) }
      const result = yield* PgKill.terminate(stale).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Refused", pid: victim.pid, reason: "gone" })
      const wrongPid = { ...targetOf(s), pid: 999_999 }
      const r2 = yield* PgKill.terminate(wrongPid).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r2, { _tag: "Refused", pid: 999_999, reason: "gone" })
      assert.isTrue(yield* stillWorks(victim))
    }))

  it.live("protected application names and users are never signalled", () =>
    Effect.gen(function*() {
      const pgadmin = yield* Effect.promise(() => openSession(appUrl(), `pgAdmin 4 - ${uniqueName("ui")}`))
      yield* Effect.promise(() => pgadmin.q("BEGIN; SELECT 1"))
      const s = yield* sessionOf(pgadmin.pid, "idle in transaction")
      const r1 = yield* PgKill.terminate(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r1, { _tag: "Refused", pid: pgadmin.pid, reason: "protected_application" })
      const other = yield* Effect.promise(() => openSession(appUrl(), uniqueName("by-user")))
      yield* Effect.promise(() => other.q("BEGIN; SELECT 1"))
      const o = yield* sessionOf(other.pid, "idle in transaction")
      const r2 = yield* PgKill.terminate(targetOf(o), { protectedUsers: ["app"] }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r2, { _tag: "Refused", pid: other.pid, reason: "protected_user" })
      assert.isTrue(yield* stillWorks(pgadmin))
      assert.isTrue(yield* stillWorks(other))
      // stillWorks ran a statement in the open transaction: the old target no longer matches
      const r3stale = yield* PgKill.terminate(targetOf(o), { protectedUsers: [] }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r3stale, { _tag: "Refused", pid: other.pid, reason: "changed" })
      // a LIKE wildcard in a protected name is literal, not a pattern
      const fresh = yield* sessionOf(other.pid, "idle in transaction")
      const r3 = yield* PgKill.terminate(targetOf(fresh), { protectedApplications: ["%"], protectedUsers: [] }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(r3, { _tag: "Signalled", pid: other.pid, signal: "terminate" })
    }))

  it.live("cancels the long-running statement it was chosen for; the connection stays usable", () =>
    Effect.gen(function*() {
      const slow = yield* Effect.promise(() => openSession(appUrl(), uniqueName("slow")))
      const running = slow.q("SELECT pg_sleep(30)").then(() => undefined, (e: Error & { code?: string }) => e.code)
      const s = yield* sessionOf(slow.pid, "active")
      // a different statement start (an earlier statement) is refused
      const stale = { ...targetOf(s), queryStartUs: String(BigInt(s.query_start_us ?? "0") - 5n) }
      const refused = yield* PgKill.cancel(stale).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(refused, { _tag: "Refused", pid: slow.pid, reason: "changed" })
      const result = yield* PgKill.cancel(targetOf(s)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Signalled", pid: slow.pid, signal: "cancel" })
      assert.strictEqual(yield* Effect.promise(() => running), "57014")
      assert.isTrue(yield* stillWorks(slow))
    }))

  // "Never a session whose open transaction holds row locks", checked in the kill's own statement
  const lockTable = (setup: RawSession) =>
    Effect.promise(async () => {
      const table = `bp_kill_rl_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
      await setup.q(`CREATE TABLE ${table} (id int PRIMARY KEY, v int); INSERT INTO ${table} VALUES (1, 0), (2, 0)`)
      return table
    })

  it.live("noRowLocks: a session holding SELECT … FOR UPDATE is refused (holds_row_locks) and survives", () =>
    Effect.gen(function*() {
      const setup = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-setup")))
      const table = yield* lockTable(setup)
      const holder = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-holder")))
      yield* Effect.promise(() => holder.q(`BEGIN; SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`))
      const s = yield* sessionOf(holder.pid, "idle in transaction")
      const result = yield* PgKill.terminate(targetOf(s), { noRowLocks: true }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Refused", pid: holder.pid, reason: "holds_row_locks" })
      assert.isTrue(yield* exists(holder.pid))
      assert.deepStrictEqual(holder.errors, [])
      // without the option (db.pool.six-class's behaviour) the same session is terminated
      const fresh = yield* sessionOf(holder.pid, "idle in transaction")
      const plain = yield* PgKill.terminate(targetOf(fresh)).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(plain, { _tag: "Signalled", pid: holder.pid, signal: "terminate" })
      yield* Effect.promise(() => setup.q(`DROP TABLE ${table}`))
    }))

  it.live("noRowLocks: an idle-in-transaction session that wrote (UPDATE) is refused", () =>
    Effect.gen(function*() {
      const setup = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-setup")))
      const table = yield* lockTable(setup)
      const writer = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-writer")))
      yield* Effect.promise(() => writer.q(`BEGIN; UPDATE ${table} SET v = 1 WHERE id = 2`))
      const s = yield* sessionOf(writer.pid, "idle in transaction")
      const result = yield* PgKill.terminate(targetOf(s), { noRowLocks: true }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Refused", pid: writer.pid, reason: "holds_row_locks" })
      assert.isTrue(yield* stillWorks(writer))
      yield* Effect.promise(() => writer.q("ROLLBACK"))
      yield* Effect.promise(() => setup.q(`DROP TABLE ${table}`))
    }))

  it.live("noRowLocks: a plain idle-in-transaction SELECT (no xid, blocks nobody) is terminated", () =>
    Effect.gen(function*() {
      const setup = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-setup")))
      const table = yield* lockTable(setup)
      const reader = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-reader")))
      yield* Effect.promise(() => reader.q(`BEGIN; SELECT * FROM ${table} WHERE id = 1`))
      const s = yield* sessionOf(reader.pid, "idle in transaction")
      const result = yield* PgKill.terminate(targetOf(s), { noRowLocks: true }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Signalled", pid: reader.pid, signal: "terminate" })
      assert.isFalse(yield* exists(reader.pid))
      yield* Effect.promise(() => setup.q(`DROP TABLE ${table}`))
    }))

  it.live("noRowLocks: a session another backend waits on (pg_blocking_pids) is refused, even without an xid", () =>
    Effect.gen(function*() {
      const setup = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-setup")))
      const table = yield* lockTable(setup)
      // a plain SELECT takes AccessShareLock (no xid); an ALTER then waits on it
      const reader = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-blocker")))
      yield* Effect.promise(() => reader.q(`BEGIN; SELECT * FROM ${table} WHERE id = 1`))
      const s = yield* sessionOf(reader.pid, "idle in transaction")
      const migration = yield* Effect.promise(() => openSession(appUrl(), uniqueName("rl-alter")))
      const alter = migration.q(`ALTER TABLE ${table} ADD COLUMN note text`).then(() => "done", (e: Error) => e.message)
      yield* Effect.promise(() =>
        eventually(async () => (await setup.q("SELECT $1::int = ANY(pg_blocking_pids($2::int)) AS b", [reader.pid, migration.pid])).rows[0].b === true, 5_000, "the ALTER waits")
      )
      const result = yield* PgKill.terminate(targetOf(s), { noRowLocks: true }).pipe(Effect.provide(agent()))
      assert.deepStrictEqual(result, { _tag: "Refused", pid: reader.pid, reason: "holds_row_locks" })
      assert.isTrue(yield* exists(reader.pid))
      yield* Effect.promise(() => reader.q("COMMIT"))
      assert.strictEqual(yield* Effect.promise(() => alter), "done")
      yield* Effect.promise(() => setup.q(`DROP TABLE ${table}`))
    }))
})
