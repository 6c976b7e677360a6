/**
 * db.pool.multi-engine's ceiling on a real pgbouncer (a private one, see ../pool/privateBouncer.ts):
 * undersized_pool raises default_pool_size to ⌊1.2×⌋ and RELOADs in auto; dry_run writes nothing.
 */
import { Runbook } from "@byteport/core"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import pg from "pg"
import * as PgBouncer from "../../src/PgBouncer"
import * as PgBouncerIni from "../../src/pgbouncer/PgBouncerIni"
import * as PgBouncerStats from "../../src/probes/PgBouncerStats"
import * as PoolMultiEngineRunbook from "../../src/runbooks/db.pool.multi-engine"
import { describeWithServices } from "../support/services"
import * as PrivateBouncer from "../pool/privateBouncer"
import { pgWorld, reportOf, signal, target } from "../pool/world"

describeWithServices(["postgres", "pgbouncer"], "db.pool.multi-engine on a real pgbouncer", (sharedEnv) => {
  let bouncer: PrivateBouncer.PrivateBouncer | undefined
  beforeAll(async () => {
    bouncer = await PrivateBouncer.start(sharedEnv)
  }, 30_000)
  afterAll(() => bouncer?.stop())
  const penv = (): Readonly<Record<string, string>> => ({
    ...sharedEnv,
    BYTEPORT_TEST_PGBOUNCER_URL: bouncer!.url,
    BYTEPORT_TEST_PGBOUNCER_ADMIN_URL: bouncer!.adminUrl,
    BYTEPORT_TEST_PGBOUNCER_INI: bouncer!.iniPath
  })
  const rb = () =>
    PoolMultiEngineRunbook.make({ sessions: () => false, thresholds: { undersizedRatio: 0 }, pool: { timeout: "10 seconds" }, verifySchedule: { offsets: [0], description: "once" }, defaultMode: "auto" })
  const poolSize = () => Effect.map(PgBouncerIni.readPoolSizes(fs.readFileSync(bouncer!.iniPath, "utf8")), (p) => p.defaultPoolSize)

  it.live("undersized_pool: default_pool_size 10 → 12 (⌊1.2×⌋) and RELOADed in auto; dry_run writes nothing; restored afterwards", () =>
    Effect.gen(function*() {
      const ini = bouncer!.iniPath
      const original = fs.readFileSync(ini, "utf8")
      const dir = ini.replace(/[^/]+$/, "")
      const files = new Set(fs.readdirSync(dir))
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          fs.writeFileSync(ini, original)
          yield* PgBouncer.PgBouncer.use((b) => b.reload).pipe(Effect.ignore)
          for (const f of fs.readdirSync(dir)) if (!files.has(f) && f.includes(".bak-")) fs.rmSync(dir + f)
        })
      )
      fs.writeFileSync(ini, original.replace(/^default_pool_size\s*=.*$/m, "default_pool_size = 10"))
      yield* PgBouncer.PgBouncer.use((b) => b.reload)
      assert.strictEqual(yield* poolSize(), 10)
      // a client through pgbouncer: SHOW POOLS lists a pool once it has been used
      const client = new pg.Client({ connectionString: penv().BYTEPORT_TEST_PGBOUNCER_URL ?? "" })
      yield* Effect.promise(() => client.connect().then(() => client.query("SELECT 1")))
      yield* Effect.addFinalizer(() => Effect.promise(() => client.end().catch(() => undefined)))
      const text = fs.readFileSync(ini, "utf8")
      yield* Runbook.handle(rb(), signal(target("me-bouncer-dry")), { mode: "dry_run" })
      assert.strictEqual(fs.readFileSync(ini, "utf8"), text, "dry_run wrote nothing")
      const r = reportOf(yield* Runbook.handle(rb(), signal(target("me-bouncer")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "undersized_pool")
      const o = r.outcomes.find((x) => x.kind === "pgbouncer.raisePoolSize")
      assert.strictEqual(o?.status, "applied", `${o?.detail}; plan: ${r.plan?.summary}; ceiling: ${JSON.stringify(r.facts["ceiling"])}`)
      assert.strictEqual(yield* poolSize(), 12)
      assert.strictEqual(Number((yield* PgBouncerStats.config)["default_pool_size"]), 12)
    }).pipe(Effect.scoped, Effect.provide(pgWorld(penv(), { withBouncer: true }))), 60_000)
})
