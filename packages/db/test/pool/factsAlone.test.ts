/**
 * Facts fail alone (issue 9, item 4, db half): every db probe of the six-class diagnosis read
 * against the real servers with one query made to fail at a time. One failing query makes only
 * the facts read from it Unknown; the unrelated facts stay Known.
 *
 * | failing | Unknown | note |
 * |---|---|---|
 * | pg_stat_activity ⋈ pg_roles | sessions, idleInTxTrend | the trend counts the same sessions |
 * | the utilization query | utilization | |
 * | query_id / pg_locks.waitstart (PostgreSQL ≤ 13: 42703) | — | read without them (query_id, lock_wait_ms null) |
 * | the deploy-marker source | lastDeploy | the trend falls back to its look-back window |
 * | the GuardrailStore (history) / Prometheus series | — | the short samples / the stored history decide |
 * | the app env source | poolSettings | |
 * | pgbouncer SHOW DATABASES | — | pool sizes from SHOW CONFIG default_pool_size |
 * | pgbouncer SHOW POOLS | pgbouncer | |
 * | MySQL USER_PRIVILEGES | — | sessions known, every user counted as a superuser (never killed) |
 */
import { GuardrailStore, MemoryStore, TargetRef, type Signal } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { DbQueryError } from "../../src/DbError"
import * as MySqlPoolDiagnoser from "../../src/diagnosers/MySqlPoolDiagnoser"
import * as PoolDiagnoser from "../../src/diagnosers/PoolDiagnoser"
import * as DeployMarkers from "../../src/history/DeployMarkers"
import * as MySql from "../../src/MySql"
import * as PgBouncer from "../../src/PgBouncer"
import * as PgActivity from "../../src/probes/PgActivity"
import * as Postgres from "../../src/Postgres"
import { closeAllMySql, openConnection } from "../support/mysql"
import { closeAll, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { agentPg, bouncer } from "./world"

const KEYS = ["utilization", "sessions", "idleInTxTrend", "lastDeploy", "pgbouncer", "poolSettings"] as const

const injected = (engine: "postgres" | "mysql" | "pgbouncer", code?: string) =>
  new DbQueryError({ engine, message: "injected failure", ...(code !== undefined ? { code } : {}) })

/** The agent's PostgreSQL, with every statement matching `failing` failing (SQLSTATE `code`). */
const pgFailing = (env: Readonly<Record<string, string>>, failing: RegExp | undefined, code?: string) =>
  Layer.effect(
    Postgres.Postgres,
    Effect.map(Effect.service(Postgres.Postgres), (api): Postgres.PostgresApi => ({
      ...api,
      query: (text, params) => (failing?.test(text) ? Effect.fail(injected("postgres", code)) : api.query(text, params)),
      queryAs: (schema, text, params) => (failing?.test(text) ? Effect.fail(injected("postgres", code)) : api.queryAs(schema, text, params))
    }))
  ).pipe(Layer.provide(agentPg(env)))

const bouncerFailing = (env: Readonly<Record<string, string>>, failing: PgBouncer.ShowCommand) =>
  Layer.effect(
    PgBouncer.PgBouncer,
    Effect.map(Effect.service(PgBouncer.PgBouncer), (api): PgBouncer.PgBouncerApi => ({
      ...api,
      show: (what) => (what === failing ? Effect.fail(injected("pgbouncer")) : api.show(what))
    }))
  ).pipe(Layer.provide(bouncer(env)))

const failingStore = Layer.succeed(GuardrailStore.GuardrailStore, {
  ...Effect.runSync(MemoryStore.make()),
  get: () => Effect.fail(new GuardrailStore.StoreError({ store: "broken", operation: "get", message: "injected failure" }))
})

interface Row {
  readonly name: string
  readonly failingSql?: RegExp
  readonly code?: string
  readonly bouncer?: PgBouncer.ShowCommand | "ok"
  readonly options?: PoolDiagnoser.Options
  readonly markers?: DeployMarkers.Shape
  readonly store?: "broken"
  readonly unknown: ReadonlyArray<typeof KEYS[number]>
}

const deployed = DeployMarkers.staticSource([{ sha: "abc123", at: 0 }])

const TABLE: ReadonlyArray<Row> = [
  { name: "nothing fails", unknown: [] },
  { name: "pg_stat_activity ⋈ pg_roles fails", failingSql: /LEFT JOIN pg_roles/, unknown: ["sessions", "idleInTxTrend"] },
  { name: "the utilization query fails", failingSql: /max_connections/, unknown: ["utilization"] },
  { name: "query_id / waitstart missing (PostgreSQL 13: 42703)", failingSql: /a\.query_id::text|waitstart/, code: "42703", unknown: [] },
  { name: "a syntax error elsewhere in the sessions query is not retried as 42703", failingSql: /a\.query_id::text/, code: "42601", unknown: ["sessions", "idleInTxTrend"] },
  { name: "the deploy-marker source fails", markers: DeployMarkers.fromFunction(() => Effect.fail("deploy api down")), unknown: ["lastDeploy"] },
  { name: "the GuardrailStore (history) fails", store: "broken", unknown: [] },
  { name: "the Prometheus series fail", options: { history: { series: () => Effect.fail("prometheus down") } }, unknown: [] },
  { name: "the app env source fails", options: { appEnv: () => Effect.fail("kube api down") }, unknown: ["poolSettings"] },
  { name: "pgbouncer SHOW DATABASES fails", bouncer: "DATABASES", unknown: [] },
  { name: "pgbouncer SHOW POOLS fails", bouncer: "POOLS", unknown: ["pgbouncer"] }
]

describeWithServices(["postgres", "pgbouncer"], "facts fail alone: PostgreSQL + pgbouncer probes (real servers)", (env) => {
  afterEach(() => closeAll())
  const signal: Signal.Signal = { type: "db.pool.exhaustion", target: TargetRef.make("database", `test/alone-${process.pid}`), observedAt: 1_000, evidence: {} }

  for (const row of TABLE) {
    it.live(`${row.name} → Unknown: ${row.unknown.length === 0 ? "none" : row.unknown.join(", ")}`, () =>
      Effect.gen(function*() {
        // one session idle in transaction of our own, so sessions are never vacuous
        const s = yield* Effect.promise(() => openSession(env.BYTEPORT_TEST_PG_URL ?? "", uniqueName("alone")))
        yield* Effect.promise(() => s.q("BEGIN; SELECT 1"))
        const diagnose = PoolDiagnoser.make({
          trendSamples: 2,
          trendInterval: "10 millis",
          appEnv: () => Effect.succeed({ SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE: "10" }),
          ...row.options
        })
        const pg = pgFailing(env, row.failingSql, row.code)
        const pgb = row.bouncer === undefined || row.bouncer === "ok" ? bouncer(env) : bouncerFailing(env, row.bouncer)
        const facts = yield* diagnose(signal).pipe(
          Effect.provide(Layer.mergeAll(pg, pgb, row.store === "broken" ? failingStore : MemoryStore.layer, DeployMarkers.layer(row.markers ?? deployed)))
        )
        for (const k of KEYS) {
          const f = facts[k]
          assert.strictEqual(f._tag, row.unknown.includes(k) ? "Unknown" : "Known", `${k}: ${JSON.stringify(f)}`)
        }
        if (facts.sessions._tag === "Known") {
          const mine = facts.sessions.value.find((x) => x.pid === s.pid)
          assert.strictEqual(mine?.state, "idle in transaction")
          if (row.code === "42703") {
            assert.ok(facts.sessions.value.every((x) => x.query_id === null && x.lock_wait_ms === null))
          }
        }
        if (row.bouncer === "DATABASES" && facts.pgbouncer._tag === "Known") {
          assert.ok(facts.pgbouncer.value!.pools.every((p) => p.poolSize > 0), "sizes from SHOW CONFIG default_pool_size")
        }
        if (facts.lastDeploy._tag === "Known") assert.strictEqual(facts.lastDeploy.value?.sha, "abc123")
      }), 30_000)
  }

  it("the compatibility SQL reads neither query_id nor pg_locks.waitstart", () => {
    assert.notInclude(PgActivity.SESSIONS_SQL_COMPAT, "a.query_id")
    assert.notInclude(PgActivity.SESSIONS_SQL_COMPAT, "waitstart")
    assert.include(PgActivity.SESSIONS_SQL, "waitstart")
  })
})

describeWithServices(["mariadb"], "facts fail alone: MySQL / MariaDB probes (real server)", (env) => {
  afterEach(() => closeAllMySql())
  const mysql = (failing: RegExp | undefined) =>
    Layer.effect(
      MySql.MySql,
      Effect.map(Effect.service(MySql.MySql), (api): MySql.MySqlApi => ({
        ...api,
        query: (text, params) => (failing?.test(text) ? Effect.fail(injected("mysql")) : api.query(text, params)),
        queryAs: (schema, text, params) => (failing?.test(text) ? Effect.fail(injected("mysql")) : api.queryAs(schema, text, params))
      }))
    ).pipe(Layer.provide(MySql.layer({ url: Redacted.make(env.BYTEPORT_TEST_MYSQL_AGENT_URL ?? ""), poolMax: 3 })))
  const signal: Signal.Signal = { type: "db.pool.exhaustion", target: TargetRef.make("database", "test/alone-mysql"), observedAt: 1_000, evidence: {} }
  const diagnose = MySqlPoolDiagnoser.make({ trendSamples: 2, trendInterval: "150 millis" })

  for (const row of [
    { name: "USER_PRIVILEGES fails: sessions stay known, every user counted as a superuser", failing: /USER_PRIVILEGES/, unknown: [] as ReadonlyArray<string> },
    { name: "the utilization query fails", failing: /THREADS_CONNECTED/, unknown: ["utilization"] },
    { name: "the deploy-marker source fails", failing: undefined, markers: DeployMarkers.fromFunction(() => Effect.fail("down")), unknown: ["lastDeploy"] }
  ]) {
    it.live(row.name, () =>
      Effect.gen(function*() {
        const c = yield* Effect.promise(() => openConnection(env.BYTEPORT_TEST_MYSQL_URL ?? ""))
        yield* Effect.promise(() => c.q("SELECT 1"))
        const facts = yield* diagnose(signal).pipe(
          Effect.provide(Layer.mergeAll(mysql(row.failing), DeployMarkers.layer(row.markers ?? deployed)))
        )
        for (const k of KEYS) {
          if (k === "poolSettings" || k === "pgbouncer") continue
          assert.strictEqual(facts[k]._tag, row.unknown.includes(k) ? "Unknown" : "Known", `${k}: ${JSON.stringify(facts[k])}`)
        }
        if (row.failing?.source === "USER_PRIVILEGES" && facts.sessions._tag === "Known") {
          assert.isAbove(facts.sessions.value.length, 0)
          assert.ok(facts.sessions.value.every((x) => x.rolsuper), "unknown privileges: nobody may be killed")
        }
      }), 30_000)
  }
})
