import { assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import pg from "pg"
import * as Postgres from "../src/Postgres"
import { configFrom, describeWithServices } from "./support/services"

describeWithServices(["postgres", "pgbouncer"], "Postgres service (real PostgreSQL 15)", (env) => {
  const url = () => Redacted.make(env.BYTEPORT_TEST_PG_URL ?? "")
  const superUrl = () => env.BYTEPORT_TEST_PG_SUPER_URL ?? ""
  const password = () => new URL(env.BYTEPORT_TEST_PG_URL ?? "postgres://x:y@h/d").password
  const withPg = <A, E>(eff: Effect.Effect<A, E, Postgres.Postgres>, appName = `bp-test-${process.pid}`) =>
    eff.pipe(Effect.provide(Postgres.layer({ url: url(), applicationName: appName, poolMax: 2 })))

  it.live("runs parameterised and simple queries and decodes rows", () =>
    withPg(Effect.gen(function*() {
      const db = yield* Postgres.Postgres
      const rows = yield* db.queryAs(
        Schema.Struct({ n: Schema.Number, who: Schema.String }),
        "SELECT $1::int + 1 AS n, current_user AS who",
        [41]
      )
      assert.deepStrictEqual(rows, [{ n: 42, who: "app" }])
      const simple = yield* db.query("SELECT 1 AS one; SELECT 2 AS two")
      assert.deepStrictEqual(simple, [{ two: 2 }])
    })))

  it.live("maps server errors to DbQueryError with the SQLSTATE", () =>
    withPg(Effect.gen(function*() {
      const db = yield* Postgres.Postgres
      const e = yield* Effect.flip(db.query("SELECT * FROM no_such_table"))
      assert.strictEqual(e._tag, "DbQueryError")
      assert.strictEqual(e._tag === "DbQueryError" ? e.code : "", "42P01")
      const zero = yield* Effect.flip(db.query("SELECT 1/0"))
      assert.strictEqual(zero._tag === "DbQueryError" ? zero.code : zero._tag, "22012")
      const denied = yield* Effect.flip(db.query("CREATE ROLE bp_never_created"))
      assert.strictEqual(denied._tag === "DbQueryError" ? denied.code : denied._tag, "42501")
    })))

  it.live("a statement over statement_timeout fails with DbTimeout and the pool stays usable", () =>
    Effect.gen(function*() {
      const db = yield* Postgres.Postgres
      const e = yield* Effect.flip(db.query("SELECT pg_sleep(5)"))
      assert.strictEqual(e._tag, "DbTimeout")
      const rows = yield* db.query("SELECT 7 AS n")
      assert.deepStrictEqual(rows, [{ n: 7 }])
    }).pipe(Effect.provide(Postgres.layer({ url: url(), statementTimeoutMillis: 300 }))))

  it.live("a wrong password or unreachable server gives DbConnectionError without the password", () =>
    Effect.gen(function*() {
      const secret = "s3cr3t-Pa55word-never-printed"
      const bad = new URL(env.BYTEPORT_TEST_PG_URL ?? "")
      bad.password = secret
      const e1 = yield* Effect.flip(
        Postgres.Postgres.use((db) => db.query("SELECT 1")).pipe(
          Effect.provide(Postgres.layer({ url: Redacted.make(bad.toString()) }))
        )
      )
      assert.strictEqual(e1._tag, "DbConnectionError")
      assert.strictEqual(e1._tag === "DbConnectionError" ? e1.code : "", "28P01")
      assert.notInclude(e1.message, secret)
      assert.notInclude(JSON.stringify(e1), secret)
      const closed = new URL(bad.toString())
      closed.port = "1"
      const e2 = yield* Effect.flip(
        Postgres.Postgres.use((db) => db.query("SELECT 1")).pipe(
          Effect.provide(Postgres.layer({ url: Redacted.make(closed.toString()), connectTimeoutMillis: 1000 }))
        )
      )
      assert.strictEqual(e2._tag, "DbConnectionError")
      assert.notInclude(e2.message, secret)
      assert.notInclude(String(e2), secret)
    }))

  it.live("survives the termination of its own backend and reconnects", () =>
    Effect.gen(function*() {
      const appName = `bp-survive-${process.pid}-${Date.now()}`
      yield* withPg(Effect.gen(function*() {
        const db = yield* Postgres.Postgres
        // make sure the pooled connection exists, then kill it from another session
        const [me] = yield* db.query("SELECT pg_backend_pid() AS pid")
        const killer = new pg.Client({ connectionString: superUrl() })
        yield* Effect.promise(() => killer.connect())
        const killed = yield* Effect.promise(() =>
          killer.query("SELECT pg_terminate_backend(pid, 5000) AS ok FROM pg_stat_activity WHERE application_name = $1", [appName])
        )
        yield* Effect.promise(() => killer.end())
        assert.isTrue(killed.rows.length >= 1 && killed.rows.every((r) => r.ok === true))
        yield* Effect.sleep("100 millis")
        const [after] = yield* db.query("SELECT pg_backend_pid() AS pid")
        assert.notStrictEqual(after?.pid, me?.pid)
        assert.isTrue((yield* db.backgroundErrors) >= 1)
        // a dedicated connection killed mid-transaction fails typed; the service still works
        const failed = yield* Effect.flip(db.withConnection((c) =>
          Effect.gen(function*() {
            yield* c.query("BEGIN")
            const k = new pg.Client({ connectionString: superUrl() })
            yield* Effect.promise(() => k.connect())
            yield* Effect.promise(() => k.query("SELECT pg_terminate_backend($1::int, 5000)", [c.processId]))
            yield* Effect.promise(() => k.end())
            yield* Effect.sleep("50 millis")
            return yield* c.query("SELECT 1")
          })
        ))
        assert.strictEqual(failed._tag, "DbConnectionError")
        const [again] = yield* db.query("SELECT 1 AS one")
        assert.strictEqual(again?.one, 1)
      }), appName)
      assert.isString(password())
    }))

  it.live("layerConfig reads BYTEPORT_PG_*; through pgbouncer no startup statement_timeout is sent", () =>
    Effect.gen(function*() {
      const rows = yield* Postgres.Postgres.use((db) => db.query("SELECT current_user AS u, current_setting('application_name') AS app"))
      assert.deepStrictEqual(rows, [{ u: "app", app: "bp-config" }])
      const slow = yield* Effect.flip(Postgres.Postgres.use((db) => db.query("SELECT pg_sleep(3)")))
      assert.strictEqual(slow._tag, "DbTimeout")
      const again = yield* Postgres.Postgres.use((db) => db.query("SELECT 1 AS one"))
      assert.deepStrictEqual(again, [{ one: 1 }])
    }).pipe(
      Effect.provide(Postgres.layerConfig),
      Effect.provide(configFrom({
        BYTEPORT_PG_URL: env.BYTEPORT_TEST_PGBOUNCER_URL ?? "",
        BYTEPORT_PG_VIA_PGBOUNCER: "true",
        BYTEPORT_PG_APPLICATION_NAME: "bp-config",
        BYTEPORT_PG_STATEMENT_TIMEOUT_MS: "400"
      }))
    ), 15_000)
})
