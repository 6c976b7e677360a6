/**
 * db.pool.six-class end to end on the real PostgreSQL 15: each class produced for real, the
 * runbook in auto mode, the database state asserted afterwards. Every test acts only on the
 * sessions it opened (the runbook is scoped to their pids), and closes them.
 */
import { IncidentBus, Runbook } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber } from "effect"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as SessionGuardrails from "../../src/actions/SessionGuardrails"
import { closeAll, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { alive, pgWorld, terminateAll, reportOf, restarter, runbook, signal, target } from "./world"
import { Plan } from "@byteport/core"

describeWithServices(["postgres"], "db.pool.six-class end to end (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  const superUrl = env.BYTEPORT_TEST_PG_SUPER_URL ?? ""
  afterEach(() => closeAll())

  const open = (n: number, name: string, url = appUrl) => Effect.promise(() => Promise.all(Array.from({ length: n }, () => openSession(url, name))))
  const idleInTx = (sessions: ReadonlyArray<RawSession>) =>
    Effect.promise(() => Promise.all(sessions.map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))))
  const pidsOf = (xs: ReadonlyArray<RawSession>) => new Set(xs.map((s) => s.pid))
  const usable = (s: RawSession) => Effect.promise(() => s.q("SELECT 1").then(() => true, () => false))

  it.live("idle_in_tx_backlog: terminates the old idle-in-transaction sessions; a superuser, pgAdmin and a session that committed between plan and kill survive", () =>
    Effect.gen(function*() {
      const name = uniqueName("orders-api")
      const leaky = yield* open(3, name)
      const [su] = yield* open(1, name, superUrl)
      const [pgadmin] = yield* open(1, "pgAdmin 4 - DB:appdb")
      const [committer] = yield* open(1, name)
      const all = [...leaky, su!, pgadmin!, committer!]
      yield* idleInTx(all)
      yield* Effect.sleep("500 millis")
      const base = runbook(pidsOf(all))
      // the committer commits (and opens a new transaction) after the plan was made, before the kill
      const rb = {
        ...base,
        remediate: (c: any, f: any, s: any) =>
          Effect.tap(base.remediate(c, f, s), () => Effect.promise(() => committer!.q("COMMIT; BEGIN; SELECT 2")))
      }
      const r = reportOf(yield* Runbook.handle(rb, signal(target("backlog")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "idle_in_tx_backlog")
      const planned = Plan.actions(r.plan!.root).map((a) => a.action.params["pid"])
      assert.sameMembers(planned as Array<number>, [...leaky.map((s) => s.pid), committer!.pid]) // superuser and pgAdmin never planned
      assert.strictEqual(r.status, "recovered")
      assert.isUndefined(r.escalation)
      const byPid = new Map(r.outcomes.map((o) => [o.result?.["pid"], o]))
      for (const s of leaky) assert.match(byPid.get(s.pid)?.detail ?? "", /^terminated backend/)
      assert.match(byPid.get(committer!.pid)?.detail ?? "", /^skipped: session changed/)
      const left = yield* Effect.promise(() => alive(env, all.map((s) => s.pid)))
      for (const s of leaky) assert.isFalse(left.has(s.pid), `backend ${s.pid} was terminated`)
      for (const s of [su!, pgadmin!, committer!]) assert.isTrue(left.has(s.pid), `backend ${s.pid} survived`)
      assert.isTrue(yield* usable(committer!))
      assert.isFalse(yield* usable(leaky[0]!))
      const pm = r.postmortem as any
      assert.strictEqual(pm.class, "idle_in_tx_backlog")
      assert.isAbove(pm.query_fingerprints.length, 0)
      assert.deepStrictEqual(pm.actions, { applied: 3, skipped_session_changed: 1, denied: 0, failed: 0 })
      assert.strictEqual(r.verdicts.at(-1)?._tag, "Recovered")
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  it.live("the kill cap: 25 eligible sessions → 20 terminated within the minute, 5 rejected and escalated by name", () =>
    Effect.gen(function*() {
      const sessions = yield* open(25, uniqueName("billing-api"))
      yield* idleInTx(sessions)
      yield* Effect.sleep("500 millis")
      const r = reportOf(yield* Runbook.handle(runbook(pidsOf(sessions)), signal(target("cap")), { mode: "auto" }))
      const applied = r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "applied")
      const denied = r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "denied")
      assert.strictEqual(applied.length, 20)
      assert.strictEqual(denied.length, 5)
      assert.isBelow(Math.max(...applied.map((o) => o.at)) - Math.min(...applied.map((o) => o.at)), 60_000)
      for (const d of denied) assert.match(d.detail, /kills_per_minute_cap 20 reached/)
      assert.strictEqual(r.status, "recovered") // verification decides the status …
      assert.isDefined(r.escalation) // … and the rejected excess is escalated
      for (const d of denied) assert.include(r.escalation!.reason, d.idempotencyKey!)
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      assert.strictEqual(sessions.filter((s) => !left.has(s.pid)).length, 20)
      assert.strictEqual(sessions.filter((s) => left.has(s.pid)).length, 5)
      const deniedPids = new Set(r.plan && Plan.actions(r.plan.root).filter((a) => denied.some((d) => d.idempotencyKey === a.action.idempotencyKey)).map((a) => a.action.params["pid"] as number))
      for (const s of sessions) assert.strictEqual(left.has(s.pid), deniedPids.has(s.pid))
    }).pipe(Effect.provide(pgWorld(env))), 90_000)

  it.live("dry_run terminates nothing and posts the plan", () =>
    Effect.gen(function*() {
      const sessions = yield* open(3, uniqueName("dry-api"))
      yield* idleInTx(sessions)
      yield* Effect.sleep("500 millis")
      const r = reportOf(yield* Runbook.handle(runbook(pidsOf(sessions)), signal(target("dry")), { mode: "dry_run" }))
      assert.strictEqual(r.status, "dry_run")
      assert.deepStrictEqual(r.outcomes.map((o) => o.status), ["dry_run", "dry_run", "dry_run"])
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      assert.strictEqual(left.size, 3)
      for (const s of sessions) assert.isTrue(yield* usable(s))
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  it.live("long_running_query: pg_sleep statements are cancelled (sessions live on); one that swallows the cancel is terminated; query text kept for EXPLAIN", () =>
    Effect.gen(function*() {
      const name = uniqueName("reports")
      const sleepers = yield* open(2, name)
      const [stubborn] = yield* open(1, name)
      const running = sleepers.map((s) => s.q("SELECT pg_sleep(60) /* bp-report */").then(() => "done", (e: any) => String(e.code)))
      const swallow = stubborn!.q(
        "DO $$ BEGIN FOR i IN 1..600 LOOP BEGIN PERFORM pg_sleep(0.1); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$"
      ).then(() => "done", (e: any) => String(e.code ?? e.message))
      yield* Effect.sleep("700 millis")
      const all = [...sleepers, stubborn!]
      const r = reportOf(yield* Runbook.handle(runbook(pidsOf(all)), signal(target("long")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "long_running_query")
      const codes = yield* Effect.promise(() => Promise.all(running))
      assert.deepStrictEqual(codes, ["57014", "57014"]) // query_canceled
      for (const s of sleepers) assert.isTrue(yield* usable(s))
      const st = yield* Effect.promise(() => swallow)
      assert.notStrictEqual(st, "done")
      const left = yield* Effect.promise(() => alive(env, all.map((s) => s.pid)))
      assert.isFalse(left.has(stubborn!.pid))
      const kinds = r.outcomes.map((o) => [o.kind, o.status, o.result?.["pid"]])
      assert.deepInclude(kinds, ["pg.cancelBackend", "failed", undefined])
      assert.deepInclude(kinds, ["pg.terminateBackend", "applied", stubborn!.pid])
      assert.strictEqual(r.outcomes.filter((o) => o.kind === "pg.cancelBackend" && o.status === "applied").length, 2)
      const pm = r.postmortem as any
      assert.strictEqual(pm.explain_queries.length, 2)
      for (const q of pm.explain_queries) assert.include(q.query, "pg_sleep(60)")
      assert.strictEqual(r.status, "recovered")
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  it.live("a termination after a failed cancel counts against kills_per_minute_cap", () =>
    Effect.gen(function*() {
      const stubborn = yield* open(2, uniqueName("stubborn"))
      const runs = stubborn.map((s) =>
        s.q("DO $$ BEGIN FOR i IN 1..600 LOOP BEGIN PERFORM pg_sleep(0.1); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$")
          .catch(() => undefined)
      )
      yield* Effect.sleep("700 millis")
      const r = reportOf(yield* Runbook.handle(runbook(pidsOf(stubborn)), signal(target("cap-after-cancel")), { mode: "auto" }))
      const terminations = r.outcomes.filter((o) => o.kind === "pg.terminateBackend")
      assert.deepStrictEqual(terminations.map((o) => o.status), ["applied", "denied"])
      assert.match(terminations[1]!.detail, /kills_per_minute_cap 1 reached/)
      assert.isDefined(r.escalation)
      const left = yield* Effect.promise(() => alive(env, stubborn.map((s) => s.pid)))
      assert.strictEqual(left.size, 1)
      // the survivor still runs its loop: end it (as the superuser) so no state is left behind
      yield* Effect.promise(() => terminateAll(env, [...left]))
      yield* Effect.promise(() => Promise.all(runs))
    }).pipe(Effect.provide(pgWorld(env, { cap: 1 }))), 90_000)

  it.live("runaway_cron_fanout: 15 connections of one batch application are escalated with the recommended cap; nothing is killed", () =>
    Effect.gen(function*() {
      const sessions = yield* open(15, `nightly-cron-${uniqueName("export")}`)
      const r = reportOf(yield* Runbook.handle(runbook(pidsOf(sessions)), signal(target("fanout")), { mode: "auto" }))
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "runaway_cron_fanout")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /holds 15 connections/)
      assert.isTrue(r.escalation!.nextSteps.some((s) => /CONNECTION LIMIT|pool_size/.test(s)))
      const left = yield* Effect.promise(() => alive(env, sessions.map((s) => s.pid)))
      assert.strictEqual(left.size, 15)
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  const restart = restarter()
  it.live("leak_after_deploy: terminates the old idle-in-transaction sessions, then hands off the rollout restart (recorded by the restart's owner)", () =>
    Effect.gen(function*() {
      const name = uniqueName("checkout")
      const old = yield* open(2, name)
      yield* idleInTx(old)
      yield* Effect.sleep("500 millis")
      const fresh = yield* open(2, name)
      const scope = new Set([...pidsOf(old), ...pidsOf(fresh)])
      const workload = `test/shop/Deployment/checkout-${process.pid}`
      // more sessions leak while the trend is sampled
      const leak = yield* Effect.forkChild(Effect.promise(async () => {
        await new Promise((res) => setTimeout(res, 120))
        await fresh[0]!.q("BEGIN; SELECT 1")
        await new Promise((res) => setTimeout(res, 300))
        await fresh[1]!.q("BEGIN; SELECT 1")
      }))
      const rb = runbook(scope, { diagnose: { trendSamples: 3, trendInterval: "300 millis", timeout: "10 seconds" } })
      const r = reportOf(yield* Runbook.handle(rb, signal(target("leak"), { lastDeploy: { sha: "d3adb33", at: Date.now() - 60_000 }, deployment: workload }), { mode: "auto" }))
      yield* Fiber.join(leak)
      assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "leak_after_deploy")
      const left = yield* Effect.promise(() => alive(env, [...scope]))
      for (const s of old) assert.isFalse(left.has(s.pid))
      const handoff = r.outcomes.find((o) => o.kind === "handoff")
      assert.strictEqual(handoff?.status, "handed_off")
      const bus = yield* IncidentBus.IncidentBus
      const published = (yield* bus.published).filter((s) => s.type === "k8s.rollout-restart.requested")
      assert.strictEqual(published.length, 1)
      assert.strictEqual(published[0]!.parent?.incidentId, r.incidentId)
      const child = reportOf(yield* Runbook.handle(restart.runbook, published[0]!, { mode: "auto" }))
      assert.strictEqual(child.status, "recovered")
      assert.deepStrictEqual(restart.handler.writes.map((w) => w.action.target), [{ kind: "k8s.workload", ref: workload }])
      assert.match(String(restart.handler.writes[0]!.action.params["reason"]), /d3adb33/)
    }).pipe(Effect.provide(pgWorld(env, { extra: [restart.handler] }))), 60_000)

  it.live("action-kind guardrails: a plan naming a superuser or pgAdmin session is denied; a plan that lies about a superuser is stopped by the in-statement re-check", () =>
    Effect.gen(function*() {
      const [su] = yield* open(1, uniqueName("psql"), superUrl)
      const [admin] = yield* open(1, "pgAdmin 4 - Query Tool")
      yield* idleInTx([su!, admin!])
      yield* Effect.sleep("500 millis")
      const base = runbook(pidsOf([su!, admin!]), { thresholds: { idleInTxMinSessions: 1 } })
      const rb = {
        ...base,
        remediate: (c: any, f: any, s: any) =>
          Effect.sync(() => {
            const sessions = f.sessions.value as ReadonlyArray<any>
            const honest = sessions.map((x) => Plan.fallback(Plan.act(PgTerminateBackend.action(s.target, x, "test")!), Plan.seq(), { on: ["denied"] }))
            const suRow = sessions.find((x) => x.pid === su!.pid)
            const lying = Plan.act(PgTerminateBackend.action(s.target, { ...suRow, rolsuper: false }, "a plan that lies")!)
            return Plan.make("db.pool.six-class", c.class, "guardrail test", Plan.seq(...honest, lying))
          })
      }
      const r = reportOf(yield* Runbook.handle(rb, signal(target("guards")), { mode: "auto" }))
      const denied = r.outcomes.filter((o) => o.status === "denied").map((o) => o.detail)
      assert.strictEqual(denied.length, 2)
      assert.isTrue(denied.some((d) => /never kill a superuser session/.test(d)))
      assert.isTrue(denied.some((d) => /application "pgAdmin 4 - Query Tool" is protected/.test(d)))
      const lied = r.outcomes.at(-1)!
      assert.strictEqual(lied.status, "applied")
      assert.match(lied.detail, /^skipped: refused at signal time \(superuser\)/)
      const left = yield* Effect.promise(() => alive(env, [su!.pid, admin!.pid]))
      assert.strictEqual(left.size, 2)
    }).pipe(Effect.provide(pgWorld(env))), 60_000)

  it.effect("the cap reads kills_per_minute_cap from configuration (BYTEPORT_KILLS_PER_MINUTE_CAP accepted too)", () =>
    Effect.gen(function*() {
      const read = (record: Record<string, string>) =>
        Effect.gen(function*() { return yield* SessionGuardrails.killsPerMinuteCapConfig }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(record))))
      assert.strictEqual(yield* read({}), 20)
      assert.strictEqual(yield* read({ kills_per_minute_cap: "7" }), 7)
      assert.strictEqual(yield* read({ BYTEPORT_KILLS_PER_MINUTE_CAP: "9" }), 9)
      assert.strictEqual(yield* read({ kills_per_minute_cap: "7", BYTEPORT_KILLS_PER_MINUTE_CAP: "9" }), 7)
    }))
})
