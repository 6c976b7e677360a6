import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { GuardrailStore } from "@byteport/core"
import { storeContract, storeSecrets, storeSecretsPlanted } from "@byteport/core/testing"
import { afterAll, assert, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import * as PgStore from "../../src/stores/PgStore"
import { configFrom, describeWithServices } from "../support/services"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "../../../..")
const childScript = path.join(here, "fixtures", "pg-store-child.ts")
const T = 1_700_000_000_000

describeWithServices(["postgres"], "PgStore (real PostgreSQL 15)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  const superUrl = env.BYTEPORT_TEST_PG_SUPER_URL ?? ""
  // A fresh schema per run: runs of several engineers on one server never see each other's rows.
  const schema = `byteport_test_${randomUUID().replace(/-/g, "").slice(0, 12)}`
  const otherSchemas: Array<string> = []
  const storeLayer = (extra: Partial<PgStore.PgStoreConfig> = {}) =>
    PgStore.layer({ url: Redacted.make(appUrl), schema, poolMax: 6, clock: "caller", ...extra })

  afterAll(async () => {
    const client = new pg.Client({ connectionString: appUrl })
    client.on("error", () => undefined)
    await client.connect()
    try {
      for (const s of [schema, ...otherSchemas]) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`)
    } finally {
      await client.end()
    }
  })

  storeContract("PgStore", () => storeLayer(), { timeoutMs: 60_000 })

  const withStore = <A, E>(f: (store: PgStore.PgStoreShape) => Effect.Effect<A, E>, extra: Partial<PgStore.PgStoreConfig> = {}) =>
    Effect.scoped(Effect.flatMap(PgStore.make({ url: Redacted.make(appUrl), schema, poolMax: 4, clock: "caller", ...extra }), f))

  it.live("writes are redacted: no planted secret in any row of kv, leases or journal", () =>
    Effect.gen(function*() {
      const k = `secret-${randomUUID()}`
      const planted = storeSecretsPlanted()
      yield* withStore((s) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* s.compareAndSet(`baseline:${k}`, 0, planted.value), true)
          yield* s.acquireLease({ key: `target:${k}`, holder: "h", ttlMs: 60_000, now: T, data: planted.leaseData, parents: [`target:${k}-parent`] })
          yield* s.appendJournal({ incidentId: k, at: T, type: "opened", data: { runbook: "r", targetKey: "t", evidence: planted.value } })
        }))
      const raw = yield* Effect.promise(async () => {
        const c = new pg.Client({ connectionString: appUrl })
        await c.connect()
        try {
          const kv = await c.query(`SELECT key, value::text AS v FROM ${schema}.kv WHERE key = $1`, [`baseline:${k}`])
          const leases = await c.query(`SELECT key, holder, data::text AS d, parents::text AS p FROM ${schema}.leases WHERE key = $1`, [`target:${k}`])
          const journal = await c.query(`SELECT data::text AS d FROM ${schema}.journal WHERE incident_id = $1`, [k])
          return JSON.stringify([kv.rows, leases.rows, journal.rows])
        } finally {
          await c.end()
        }
      })
      assert.include(raw, "limitMi") // the rows are really there
      assert.include(raw, `${k}-parent`)
      for (const secret of storeSecrets) assert.notInclude(raw, secret)
    }))

  it.live("hierarchical leases: two stores (two agents) racing on a parent and its children never both hold", () =>
    Effect.gen(function*() {
      const k = `family-${randomUUID()}`
      const shapes = [{ key: k }, { key: `${k}/a`, parents: [k] }, { key: `${k}/b`, parents: [k] }, { key: `${k}/a/x`, parents: [`${k}/a`, k] }]
      const results = yield* withStore((a) =>
        withStore((b) =>
          Effect.forEach(
            Array.from({ length: 400 }, (_, i) => i),
            (i) => Effect.map((i % 2 === 0 ? a : b).acquireLease({ ...shapes[i % shapes.length]!, holder: `h${i}`, ttlMs: 60_000, now: T }), (r) => ({ i, r })),
            { concurrency: "unbounded" }
          )))
      const won = results.filter((x) => x.r._tag === "Acquired").map((x) => ({ ...shapes[x.i % shapes.length]!, holder: `h${x.i}` }))
      assert.isAbove(won.length, 0)
      for (const x of won) {
        for (const y of won) {
          if (x === y) continue
          assert.isFalse(x.key === y.key || (x.parents ?? []).includes(y.key) || (y.parents ?? []).includes(x.key), `${x.holder}@${x.key} and ${y.holder}@${y.key}`)
        }
      }
    }))

  it.live("creates its tables idempotently, also when many agents start at once", () =>
    Effect.gen(function*() {
      const fresh = `byteport_test_${randomUUID().replace(/-/g, "").slice(0, 12)}`
      otherSchemas.push(fresh)
      const names = yield* Effect.forEach(
        Array.from({ length: 5 }),
        () => Effect.scoped(Effect.map(PgStore.make({ url: Redacted.make(appUrl), schema: fresh, poolMax: 1 }), (s) => s.name)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(names, Array.from({ length: 5 }, () => `postgres:${fresh}`))
      const tables = yield* Effect.promise(async () => {
        const c = new pg.Client({ connectionString: appUrl })
        await c.connect()
        try {
          return (await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [fresh])).rows
            .map((r) => r.table_name as string)
        } finally {
          await c.end()
        }
      })
      assert.deepStrictEqual(tables, ["fences", "incidents", "journal", "kv", "leases", "windows"])
    }))

  it.live("state survives the store: a new pool on the same schema sees windows, values, leases and journals", () =>
    Effect.gen(function*() {
      const k = `persist-${randomUUID()}`
      yield* withStore((s) =>
        Effect.gen(function*() {
          yield* s.acquireWindow({ key: k, max: 2, windowMs: 60_000, now: T })
          yield* s.compareAndSet(k, 0, { baseline: 512 })
          yield* s.acquireLease({ key: k, holder: "agent-a", ttlMs: 60_000, now: T, data: { pods: ["a"] } })
          yield* s.appendJournal({ incidentId: k, at: T, type: "opened", data: { runbook: "db.pool.six-class", targetKey: "database/appdb" } })
        }))
      yield* withStore((s) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* s.peekWindow(k, 60_000, T + 1), { count: 1, oldestAt: T })
          assert.deepStrictEqual(yield* s.get(k), { value: { baseline: 512 }, version: 1 })
          assert.strictEqual((yield* s.acquireLease({ key: k, holder: "agent-b", ttlMs: 1_000, now: T + 1 }))._tag, "Held")
          assert.strictEqual((yield* s.appendJournal({ incidentId: k, at: T + 2, type: "closed", data: {} })).seq, 2)
        }))
    }))

  it.live("gc deletes only units that slid out of the window they were taken with", () =>
    Effect.gen(function*() {
      const k = `gc-${randomUUID()}`
      yield* withStore((s) =>
        Effect.gen(function*() {
          yield* s.acquireWindow({ key: `${k}-short`, max: 5, windowMs: 1_000, now: T })
          yield* s.acquireWindow({ key: `${k}-long`, max: 5, windowMs: 60_000, now: T })
          const removed = yield* s.gc(T + 1_000)
          assert.isAtLeast(removed, 1)
          assert.strictEqual((yield* s.peekWindow(`${k}-short`, 10_000, T + 1_000)).count, 0)
          assert.strictEqual((yield* s.peekWindow(`${k}-long`, 60_000, T + 1_000)).count, 1)
        }))
    }))

  it.live("acquires collect other keys' expired units every gcEvery acquires", () =>
    Effect.gen(function*() {
      const k = `autogc-${randomUUID()}`
      const rowsOf = (key: string) =>
        Effect.promise(async () => {
          const c = new pg.Client({ connectionString: appUrl })
          await c.connect()
          try {
            return (await c.query(`SELECT count(*)::int AS n FROM ${schema}.windows WHERE key = $1`, [key])).rows[0].n as number
          } finally {
            await c.end()
          }
        })
      yield* withStore((s) =>
        Effect.gen(function*() {
          yield* s.acquireWindow({ key: `${k}-old`, max: 5, windowMs: 1_000, now: T })
          yield* s.acquireWindow({ key: `${k}-old`, max: 5, windowMs: 1_000, now: T + 1 })
          assert.strictEqual(yield* rowsOf(`${k}-old`), 2)
          // the 3rd acquire (another key, later) triggers the collection
          yield* s.acquireWindow({ key: `${k}-new`, max: 5, windowMs: 1_000, now: T + 5_000 })
          assert.strictEqual(yield* rowsOf(`${k}-old`), 0)
          assert.strictEqual(yield* rowsOf(`${k}-new`), 1)
        }), { gcEvery: 3 })
    }))

  it.live("a terminated backend never crashes the process; the next operation succeeds on a fresh connection", () =>
    Effect.gen(function*() {
      const app = `byteport-store-${randomUUID().slice(0, 8)}`
      const k = `term-${randomUUID()}`
      yield* withStore((s) =>
        Effect.gen(function*() {
          // open a few connections, then kill them all from outside
          yield* Effect.forEach(Array.from({ length: 4 }), (_, i) => s.compareAndSet(`${k}-${i}`, 0, i), { concurrency: 4 })
          const killed = yield* Effect.promise(async () => {
            const c = new pg.Client({ connectionString: superUrl })
            await c.connect()
            try {
              return (await c.query(
                "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
                [app]
              )).rows[0].n as number
            } finally {
              await c.end()
            }
          })
          assert.isAtLeast(killed, 1)
          yield* Effect.sleep("200 millis")
          assert.deepStrictEqual(yield* s.get(`${k}-0`), { value: 0, version: 1 })
          assert.strictEqual((yield* s.acquireWindow({ key: k, max: 1, windowMs: 1_000, now: T }))._tag, "Acquired")
          assert.isAtLeast(yield* s.backgroundErrors, 1)
        }), { applicationName: app })
    }))

  it.live("errors are StoreErrors that never carry the password", () =>
    Effect.gen(function*() {
      const url = new URL(appUrl)
      const password = "Wr0ngSecret-" + randomUUID().slice(0, 8)
      url.password = password
      const badAuth = yield* Effect.flip(Effect.scoped(PgStore.make({ url: Redacted.make(url.toString()), schema, connectTimeoutMillis: 5_000 })))
      assert.strictEqual(badAuth._tag, "StoreError")
      assert.strictEqual(badAuth.operation, "connect")
      assert.match(badAuth.message, /password authentication failed/)
      const everything = JSON.stringify(badAuth) + String(badAuth.cause) + badAuth.message
      assert.notInclude(everything, password)
      assert.notInclude(everything, url.toString())

      const badSchema = yield* Effect.flip(Effect.scoped(PgStore.make({ url: Redacted.make(appUrl), schema: "x; DROP TABLE y" })))
      assert.strictEqual(badSchema._tag, "StoreError")
      assert.match(badSchema.message, /invalid schema name/)
      const badUrl = yield* Effect.flip(Effect.scoped(PgStore.make({ url: Redacted.make("not a url :secret@"), schema })))
      assert.notInclude(badUrl.message, "secret")
    }))

  it.live("layerConfig reads BYTEPORT_STORE_PG_URL and BYTEPORT_STORE_SCHEMA", () =>
    Effect.gen(function*() {
      const store = yield* GuardrailStore.GuardrailStore
      assert.strictEqual(store.name, `postgres:${schema}`)
      const k = `cfg-${randomUUID()}`
      assert.strictEqual(yield* store.compareAndSet(k, 0, "v"), true)
    }).pipe(
      Effect.provide(
        PgStore.layerConfig.pipe(
          Layer.provide(configFrom({ BYTEPORT_STORE_PG_URL: appUrl, BYTEPORT_STORE_SCHEMA: schema, BYTEPORT_STORE_PG_POOL_MAX: "2" }))
        )
      )
    ))

  it.live("2 OS processes × 500 concurrent acquires on one key with max 37 → exactly 37 acquired", () =>
    Effect.gen(function*() {
      const key = `mp-${randomUUID()}`
      const max = 37
      // the window must exist before the children race (tables), so connect once here
      // the children (layerConfig) run on the database's clock: so do these peeks
      yield* withStore((s) => s.peekWindow(key, 60_000, T), { clock: "database" })
      const results = yield* Effect.promise(() => runChildren(2, [key, String(max), "500", "60000", String(T)]))
      const acquired = results.flatMap((r) => r.acquiredCounts)
      for (const r of results) assert.deepStrictEqual(r.errors, [], `child ${r.pid} had errors`)
      assert.strictEqual(acquired.length, max)
      assert.deepStrictEqual([...acquired].sort((a, b) => a - b), Array.from({ length: max }, (_, i) => i + 1))
      assert.strictEqual(results.reduce((n, r) => n + r.exhausted, 0), 1000 - max)
      // every one of each process's 500 requests got an answer
      for (const r of results) assert.strictEqual(r.acquiredCounts.length + r.exhausted, 500)
      assert.notStrictEqual(results[0]!.pid, results[1]!.pid)
      yield* withStore((s) => Effect.map(s.peekWindow(key, 60_000, T), (p) => assert.strictEqual(p.count, max)), { clock: "database" })
    }), 120_000)

  interface ChildOut {
    readonly pid: number
    readonly acquiredCounts: ReadonlyArray<number>
    readonly exhausted: number
    readonly errors: ReadonlyArray<string>
    readonly elapsedMs: number
  }

  /** Starts `n` children (argv arrays, the URL in their environment), releases them together, collects RESULT lines. */
  const runChildren = async (n: number, args: ReadonlyArray<string>): Promise<ReadonlyArray<ChildOut>> => {
    const children = Array.from({ length: n }, () =>
      spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", childScript, ...args], {
        cwd: repoRoot,
        stdio: ["pipe", "pipe", "pipe"],
        timeout: 90_000,
        env: { ...process.env, BYTEPORT_STORE_PG_URL: appUrl, BYTEPORT_STORE_SCHEMA: schema, BYTEPORT_STORE_PG_POOL_MAX: "4" }
      }))
    const outputs = children.map((child) => {
      let stdout = ""
      let stderr = ""
      const ready = new Promise<void>((resolve) => {
        child.stdout!.on("data", (d) => {
          stdout += d
          if (stdout.includes("READY")) resolve()
        })
      })
      child.stderr!.on("data", (d) => (stderr += d))
      const done = new Promise<ChildOut>((resolve, reject) => {
        child.on("error", reject)
        child.on("close", (code) => {
          const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
          if (code !== 0 || line === undefined) reject(new Error(`child failed (code ${code}): ${stderr}\n${stdout}`))
          else resolve(JSON.parse(line.slice("RESULT ".length)) as ChildOut)
        })
      })
      return { ready: Promise.race([ready, done.then(() => undefined)]), done }
    })
    await Promise.all(outputs.map((o) => o.ready))
    for (const child of children) child.stdin!.end("go\n")
    return Promise.all(outputs.map((o) => o.done))
  }
})


