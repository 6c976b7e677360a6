/**
 * The seed's reading of db.connections.saturation on the real PostgreSQL 15 with its streaming
 * replica attached (scripts/services.sh, service pgreplica): the primary then runs a walsender
 * (and, as always, background workers), and neither is a client backend the reading counts;
 * BytePort's own sessions (its probe, application names starting with `byteport`) are counted
 * apart as `own`.
 */
import { afterEach, assert, it } from "@effect/vitest"
import { Effect } from "effect"
import pg from "pg"
import * as Utilization from "../../src/Utilization"
import { agentPg } from "../pool/world"
import { closeAll, eventually, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

describeWithServices(["postgres", "pgreplica"], "db.connections.saturation reading: client backends only (real PostgreSQL + replica)", (env) => {
  afterEach(() => closeAll())

  it.live("walsenders and background workers are not counted; two application sessions add two, a byteport-named one counts as own", () =>
    Effect.gen(function*() {
      const su = new pg.Client({ connectionString: env.BYTEPORT_TEST_PG_SUPER_URL ?? "", application_name: "bp-reading-observer" })
      yield* Effect.promise(() => su.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => su.end().catch(() => undefined)))
      const counts = () =>
        su.query(
          `SELECT count(*) FILTER (WHERE backend_type = 'client backend' AND application_name NOT LIKE 'byteport%')::int AS clients,
                  count(*) FILTER (WHERE backend_type = 'walsender')::int AS walsenders,
                  count(*) FILTER (WHERE backend_type <> 'client backend')::int AS others
             FROM pg_stat_activity`
        ).then((r) => r.rows[0] as { clients: number; walsenders: number; others: number })
      // the replica streams from the primary: a walsender is there
      yield* Effect.promise(() => eventually(async () => (await counts()).walsenders >= 1, 10_000, "a walsender on the primary"))
      const read = Utilization.postgresConnections().pipe(Effect.provide(agentPg(env)))
      const before = yield* read
      const name = uniqueName("reading")
      yield* Effect.promise(async () => {
        await openSession(env.BYTEPORT_TEST_PG_URL ?? "", name)
        await openSession(env.BYTEPORT_TEST_PG_URL ?? "", name)
        await openSession(env.BYTEPORT_TEST_PG_URL ?? "", `byteport-sidecar-${name}`)
      })
      const after = yield* read
      const c = yield* Effect.promise(counts)
      assert.isAtLeast(c.others, 2, "walsender and background workers present")
      assert.strictEqual(after.clientBackends - before.clientBackends, 2)
      assert.strictEqual(after.own - before.own, 1)
      // exactly the application's client backends (the probe's connection is closed by now):
      // none of the walsenders or background workers
      assert.strictEqual(after.clientBackends, c.clients)
      assert.strictEqual(after.ratio, after.clientBackends / after.maxConnections)
    }).pipe(Effect.scoped), 30_000)
})
