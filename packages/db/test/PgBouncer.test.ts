import { assert, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { Effect, Layer, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import pg from "pg"
import * as PgBouncer from "../src/PgBouncer"
import * as PgBouncerIni from "../src/pgbouncer/PgBouncerIni"
import * as Postgres from "../src/Postgres"
import * as PgBouncerStats from "../src/probes/PgBouncerStats"
import * as Utilization from "../src/Utilization"
import { eventually } from "./support/pg"
import * as PrivateBouncer from "./pool/privateBouncer"
import { configFrom, describeWithServices } from "./support/services"

describeWithServices(["postgres", "pgbouncer"], "PgBouncer admin console, saturation and pool-size RELOAD (real pgbouncer)", (sharedEnv) => {
  // A private pgbouncer (the same binary, configured like the shared one): this file saturates
  // appdb's pool and RELOADs an edited ini, and other test files use the shared pgbouncer's pools
  // concurrently — their clients and RELOADs changed cl_waiting under the saturation reads.
  let bouncerProcess: PrivateBouncer.PrivateBouncer | undefined
  beforeAll(async () => {
    bouncerProcess = await PrivateBouncer.start(sharedEnv)
    Object.assign(env, {
      BYTEPORT_TEST_PGBOUNCER_URL: bouncerProcess.url,
      BYTEPORT_TEST_PGBOUNCER_ADMIN_URL: bouncerProcess.adminUrl,
      BYTEPORT_TEST_PGBOUNCER_INI: bouncerProcess.iniPath
    })
  }, 30_000)
  afterAll(() => bouncerProcess?.stop())
  const env: Record<string, string> = { ...sharedEnv }
  const iniPath = () => env.BYTEPORT_TEST_PGBOUNCER_INI ?? ""
  const bouncer = () =>
    PgBouncer.layer({ adminUrl: Redacted.make(env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? ""), iniPath: iniPath() })
  const both = () =>
    Layer.mergeAll(bouncer(), Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 1 }))

  it.live("SHOW CONFIG / DATABASES / STATS decode; bad names are refused before sending", () =>
    Effect.gen(function*() {
      const config = yield* PgBouncerStats.config
      assert.strictEqual(config.pool_mode, "transaction")
      assert.match(config.default_pool_size ?? "", /^\d+$/)
      const dbs = yield* PgBouncerStats.databases
      const appdb = dbs.find((d) => d.name === "appdb")
      assert.strictEqual(appdb?.pool_size, Number(config.default_pool_size))
      assert.isUndefined(dbs.find((d) => d.name === "pgbouncer"))
      const stats = yield* PgBouncerStats.stats
      assert.isTrue(stats.every((s) => typeof s.total_query_count === "number"))
      const b = yield* PgBouncer.PgBouncer
      const bad = yield* Effect.flip(b.pause("appdb; SHUTDOWN"))
      assert.strictEqual(bad._tag, "DbInvalidInput")
      const version = yield* b.show("VERSION")
      assert.isTrue(version.length === 1)
    }).pipe(Effect.provide(bouncer())))

  it.live("saturation: more clients than the pool shows cl_waiting > 0 and utilization above 1", () =>
    Effect.gen(function*() {
      const dbs = yield* PgBouncerStats.databases
      const poolSize = dbs.find((d) => d.name === "appdb")?.pool_size ?? 0
      assert.isTrue(poolSize > 0)
      const clients = poolSize + 4
      // The clients block on an advisory lock held over a direct connection, so the saturation lasts
      // until the reads below are done however loaded the machine is (a fixed sleep raced them).
      // Released even when an assertion fails, so a retry does not find the lock still held.
      const holder = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const c = new pg.Client({ connectionString: env.BYTEPORT_TEST_PG_URL })
          await c.connect()
          return c
        }),
        (c) => Effect.promise(() => c.end().catch(() => undefined))
      )
      yield* Effect.promise(() => holder.query("SELECT pg_advisory_lock(424242)"))
      const pool = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const p = new pg.Pool({ connectionString: env.BYTEPORT_TEST_PGBOUNCER_URL, max: clients })
          p.on("error", () => undefined)
          return p
        }),
        (p) => Effect.promise(() => p.end().catch(() => undefined))
      )
      const queries = Array.from({ length: clients }, () => pool.query("SELECT pg_advisory_xact_lock_shared(424242)").catch((e: Error) => e))
      let rows: ReadonlyArray<PgBouncerStats.PoolRow> = []
      yield* Effect.promise(() =>
        eventually(async () => {
          rows = await Effect.runPromise(PgBouncerStats.pools.pipe(Effect.provide(bouncer())))
          return (rows.find((r) => r.database === "appdb" && r.user === "app")?.cl_waiting ?? 0) > 0
        }, 5_000, "waiting clients")
      )
      const p = rows.find((r) => r.database === "appdb" && r.user === "app")
      assert.isTrue((p?.sv_active ?? 0) <= poolSize)
      assert.isTrue(PgBouncerStats.waitingClientsOf(rows) >= 1)
      const u = (yield* Utilization.pgbouncer).find((x) => x.database === "appdb" && x.user === "app")
      assert.strictEqual(u?.poolSize, poolSize)
      assert.isTrue((u?.clientsWaiting ?? 0) >= 1)
      assert.isTrue((u?.ratio ?? 0) > 1)
      yield* Effect.promise(() => holder.query("SELECT pg_advisory_unlock(424242)"))
      const results = yield* Effect.promise(() => Promise.all(queries))
      assert.isTrue(results.every((r) => !(r instanceof Error)))
      const idle = (yield* PgBouncerStats.pools).find((r) => r.database === "appdb" && r.user === "app")
      assert.strictEqual(idle?.cl_waiting, 0)
    }).pipe(Effect.scoped, Effect.provide(bouncer())), { timeout: 20_000 })

  it.live("raises default_pool_size and a database's pool_size in pgbouncer.ini, RELOADs, sees it in SHOW CONFIG / DATABASES", () => {
    let original = ""
    return Effect.gen(function*() {
      original = yield* PgBouncerIni.readFile(iniPath())
      const before = yield* PgBouncerIni.readPoolSizes(original)
      const raised = before.defaultPoolSize + 3
      const capacity = yield* PgBouncerIni.checkCapacity({ defaultPoolSize: raised })
      assert.strictEqual(capacity.available, 97)
      assert.isTrue(capacity.fits)
      const refused = yield* Effect.flip(PgBouncerIni.applyAndReload({ defaultPoolSize: before.defaultPoolSize - 1 }, { raiseOnly: true }))
      assert.strictEqual(refused._tag, "DbInvalidInput")
      assert.strictEqual(yield* PgBouncerIni.readFile(iniPath()), original) // nothing written

      const applied = yield* PgBouncerIni.applyAndReload({ defaultPoolSize: raised }, { raiseOnly: true })
      assert.isTrue(applied.verified)
      assert.strictEqual(applied.live.appdb, raised)
      assert.strictEqual((yield* PgBouncerStats.config).default_pool_size, String(raised))
      // the backup is the original, beside the file, timestamped
      assert.strictEqual(path.dirname(applied.backupPath), path.dirname(iniPath()))
      assert.match(path.basename(applied.backupPath), /^pgbouncer\.ini\.bak-\d{8}T\d{6}\d{3}Z/)
      assert.strictEqual(yield* Effect.promise(() => fs.readFile(applied.backupPath, "utf8")), original)
      // only the one line changed
      const now = yield* PgBouncerIni.readFile(iniPath())
      const diff = now.split("\n").map((l, i) => [l, original.split("\n")[i]] as const).filter(([a, b]) => a !== b)
      assert.deepStrictEqual(diff, [[`default_pool_size = ${raised}`, `default_pool_size = ${before.defaultPoolSize}`]])

      const perDb = yield* PgBouncerIni.applyAndReload({ databases: { postgres: raised + 2 } })
      assert.strictEqual(perDb.live.postgres, raised + 2)
      assert.strictEqual(perDb.live.appdb, raised)
      assert.isTrue(perDb.verified)
    }).pipe(
      Effect.ensuring(Effect.gen(function*() {
        if (original === "") return
        yield* PgBouncerIni.writeWithBackup(iniPath(), original).pipe(
          Effect.flatMap((b) => Effect.promise(() => fs.rm(b))),
          Effect.andThen(PgBouncer.PgBouncer.use((b) => b.reload)),
          Effect.orDie
        )
        const dir = path.dirname(iniPath())
        const backups = (yield* Effect.promise(() => fs.readdir(dir))).filter((f) => f.startsWith("pgbouncer.ini.bak-"))
        yield* Effect.promise(() => Promise.all(backups.map((f) => fs.rm(path.join(dir, f)))))
      })),
      Effect.provide(both())
    )
  }, 20_000)

  it.effect("the ini editor is lossless and validates its input", () =>
    Effect.gen(function*() {
      const text = [
        ";; comment with default_pool_size = 99",
        "[databases]",
        "appdb = host=127.0.0.1 port=5432 dbname=appdb",
        "reports=host=10.0.0.1 dbname='my reports' pool_size=3   ",
        "",
        "%include /etc/pgbouncer/extra.ini",
        "[pgbouncer]",
        "  Default_Pool_Size   =   5",
        "# pool_mode = session",
        "pool_mode = transaction"
      ].join("\n")
      const sizes = yield* PgBouncerIni.readPoolSizes(text)
      assert.strictEqual(sizes.defaultPoolSize, 5)
      assert.deepStrictEqual(sizes.databases, { appdb: { poolSize: undefined, effective: 5 }, reports: { poolSize: 3, effective: 3 } })
      const raised = yield* PgBouncerIni.setDefaultPoolSize(text, 12)
      assert.strictEqual(raised, text.replace("  Default_Pool_Size   =   5", "  Default_Pool_Size   =   12"))
      const db = yield* PgBouncerIni.setDatabasePoolSize(text, "reports", 8)
      assert.strictEqual(db, text.replace("pool_size=3   ", "pool_size=8   "))
      const added = yield* PgBouncerIni.setDatabasePoolSize(text, "appdb", 4)
      assert.include(added, "appdb = host=127.0.0.1 port=5432 dbname=appdb pool_size=4\n")
      const noDefault = yield* PgBouncerIni.setDefaultPoolSize("[pgbouncer]\r\nlisten_port = 6432\r\n", 7)
      assert.strictEqual(noDefault, "[pgbouncer]\r\ndefault_pool_size = 7\r\nlisten_port = 6432\r\n")
      assert.strictEqual((yield* PgBouncerIni.readPoolSizes("[pgbouncer]\n")).defaultPoolSize, 20)
      assert.strictEqual((yield* Effect.flip(PgBouncerIni.setDefaultPoolSize(text, 0)))._tag, "DbInvalidInput")
      assert.strictEqual((yield* Effect.flip(PgBouncerIni.setDatabasePoolSize(text, "nope", 3)))._tag, "DbInvalidInput")
      assert.strictEqual((yield* Effect.flip(PgBouncerIni.readPoolSizes("[pgbouncer]\ndefault_pool_size = lots\n")))._tag, "DbInvalidInput")
      assert.deepStrictEqual(PgBouncerIni.capacityOf([{ poolSize: 50 }, { poolSize: 40, reservePool: 10 }], 100, 3), { total: 100, available: 97, fits: false })
    }))

  it.live("layerConfig: a stats user reads SHOW POOLS but RELOAD is refused with a typed error", () =>
    Effect.gen(function*() {
      const b = yield* PgBouncer.PgBouncer
      assert.strictEqual(b.iniPath._tag, "Some")
      const pools = yield* PgBouncerStats.pools
      assert.isArray(pools)
      const denied = yield* Effect.flip(b.reload)
      assert.strictEqual(denied._tag, "DbQueryError")
      assert.notInclude(JSON.stringify(denied), "pgAgentTest7")
    }).pipe(
      Effect.provide(PgBouncer.layerConfig),
      Effect.provide(configFrom({
        BYTEPORT_PGBOUNCER_ADMIN_URL: (env.BYTEPORT_TEST_PGBOUNCER_ADMIN_URL ?? "").replace("pgbouncer_admin:pgbAdminTest7", "byteport_agent:pgAgentTest7"),
        BYTEPORT_PGBOUNCER_INI: iniPath()
      }))
    ))
})
