/**
 * db.pool.six-class driven by its own detector: `Runbook.run` (core's run loop) consumes
 * `PoolExhaustion.postgres` polling the real PostgreSQL 15 every 100 ms, in auto mode, while a
 * real idle-in-transaction backlog sits on the server.
 *
 * The servers are shared by concurrent test runs, so everything here is named after one unique
 * application_name prefix (`bp-run-<pid>-<random>`): the backlog (`<prefix>-app`, role `app`), a
 * superuser session (`<prefix>-psql`), the agent's pool (`<prefix>-agent`, role `byteport_agent`),
 * and a database target of its own (`test/run-<pid>-…`, its own lease and kill budget). The
 * runbook only sees and acts on the prefix's sessions, and the assertions only look at them.
 *
 * The threshold, configured for the test: production fires at 80 % of
 * `max_connections − superuser_reserved_connections`, which a handful of sessions on a shared
 * server with 97 ordinary slots never reaches. The test sets the detector's threshold to the
 * utilization its own sessions guarantee while the backlog exists — (backlog + superuser session
 * + the detector's own probe connection) / available — so the signal fires because of this
 * test's backlog whatever other runs hold (they can only add to the count). The run loop is
 * started only once the backlog is in place (older than the test's 300 ms idle-in-transaction
 * threshold), so the first incident sees it.
 */
import { Detector, Runbook, type Signal } from "@byteport/core"
import { afterEach, assert, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Fiber, Layer, Redacted, Schedule, Stream } from "effect"
import pg from "pg"
import * as Postgres from "../../src/Postgres"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as PoolExhaustion from "../../src/detectors/PoolExhaustion"
import * as Testing from "@byteport/core/testing"
import { closeAll, eventually, openSession, type RawSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"
import { alive, runbook, target } from "./world"

/** The backends whose application_name starts with `prefix` (read as the superuser, so nothing is hidden). */
const sessionsOf = async (superUrl: string, prefix: string): Promise<ReadonlyArray<{ pid: number; application_name: string; state: string | null }>> => {
  const c = new pg.Client({ connectionString: superUrl, application_name: "bp-pool-test-observer" })
  await c.connect()
  try {
    const r = await c.query(
      "SELECT pid, application_name, state FROM pg_stat_activity WHERE starts_with(application_name, $1) AND pid <> pg_backend_pid()",
      [prefix]
    )
    return r.rows
  } finally {
    await c.end()
  }
}

/** `max_connections − superuser_reserved_connections`, the denominator of the PostgreSQL reading. */
const availableSlots = async (superUrl: string): Promise<number> => {
  const c = new pg.Client({ connectionString: superUrl, application_name: "bp-pool-test-observer" })
  await c.connect()
  try {
    const r = await c.query(
      "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS available"
    )
    return r.rows[0].available as number
  } finally {
    await c.end()
  }
}

const BACKLOG = 4

describeWithServices(["postgres"], "db.pool.six-class under Runbook.run with its PoolExhaustion detector (real PostgreSQL)", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  const superUrl = env.BYTEPORT_TEST_PG_SUPER_URL ?? ""
  afterEach(() => closeAll())

  it.live("the detector's signal opens exactly one incident (de-duplicated while it polls on), the backlog is terminated, the superuser survives, a malformed element is recorded, and interruption leaves nothing behind", () =>
    Effect.gen(function*() {
      const prefix = uniqueName("run")
      const appName = `${prefix}-app`
      const suName = `${prefix}-psql`
      const agentName = `${prefix}-agent`
      const tgt = target("run")

      // A real backlog: BACKLOG sessions idle in transaction, plus a superuser session idle in transaction.
      const backlog: Array<RawSession> = yield* Effect.promise(() => Promise.all(Array.from({ length: BACKLOG }, () => openSession(appUrl, appName))))
      const su = yield* Effect.promise(() => openSession(superUrl, suName))
      yield* Effect.promise(() => Promise.all([...backlog, su].map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1"))))
      yield* Effect.sleep("500 millis") // older than the test's idle-in-transaction threshold (300 ms)
      const before = yield* Effect.promise(() => sessionsOf(superUrl, prefix))
      assert.strictEqual(before.filter((s) => s.state === "idle in transaction").length, BACKLOG + 1)

      // The threshold this test's own sessions reach (see the module docs): backlog + superuser + the probe.
      const available = yield* Effect.promise(() => availableSlots(superUrl))
      const threshold = (BACKLOG + 2) / available

      // The detector, polling every 100 ms; its emissions are timestamped to show it polls on during the incident.
      const emitted: Array<{ readonly at: number; readonly signal: Signal.Signal }> = []
      const polling = PoolExhaustion.postgres({ target: tgt, threshold, schedule: Schedule.spaced("100 millis") })
      const tapped = Detector.fromStream(
        polling.name,
        polling.signals.pipe(Stream.tap((s) => Effect.sync(() => void emitted.push({ at: Date.now(), signal: s as Signal.Signal }))))
      )
      // A raw object that is not a Signal, merged into the detector's stream.
      const bad = Detector.fromStream("bad-element", Stream.make<Array<unknown>>({ type: PoolExhaustion.SIGNAL_TYPE, target: tgt.ref, observedAt: "now" }))
      const detector = Detector.merge("db.pool.exhaustion/postgres+bad", [tapped, bad])

      const rb = runbook({ has: () => false }, {
        sessions: (s) => s.application_name.startsWith(appName) || s.application_name.startsWith(suName),
        detector,
        diagnose: { trendSamples: 3, trendInterval: "200 millis", timeout: "10 seconds" },
        verifySchedule: { offsets: [0, 1_000], description: "check, then retry once at 1 s (test)" }
      })

      const events: Array<string> = []
      const results: Array<Runbook.HandleResult> = []
      const malformed: Array<Runbook.MalformedSignal> = []

      const world = Testing.layer<any>({
        handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 }), PgCancelBackend.make({ killsPerMinuteCap: 20, graceMillis: 1_000 })] as any
      }).pipe(
        Layer.provideMerge(Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 3, applicationName: agentName })),
        Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_MODE_DB_POOL_SIX_CLASS: "auto" })))
      )

      const observed = yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Runbook.run(rb, {
          handOffs: false,
          resumeOpen: false,
          onResult: (r) => Effect.sync(() => void (events.push("report"), results.push(r))),
          onMalformed: (e) => Effect.sync(() => void (events.push("malformed"), malformed.push(e)))
        }))
        // Wait for the first incident's report, let the detector poll on, then interrupt the loop.
        yield* Effect.promise(() => eventually(async () => results.some((r) => !Runbook.isAwaitingApproval(r) && r.status !== "duplicate"), 45_000, "the incident's report"))
        const suAliveAfterIncident = (yield* Effect.promise(() => alive(env, [su.pid]))).has(su.pid)
        yield* Effect.sleep("500 millis")
        yield* Fiber.interrupt(fiber)
        const exit = yield* Effect.exit(Fiber.join(fiber))
        const emittedAtInterrupt = emitted.length
        yield* Effect.sleep("400 millis")
        return { exit, emittedAtInterrupt, emittedLater: emitted.length, suAliveAfterIncident }
      }).pipe(Effect.provide(world))

      // The detector emitted; the malformed element was recorded, and the loop went on to the incident.
      assert.isAbove(emitted.length, 0)
      for (const e of emitted) {
        assert.strictEqual(e.signal.type, PoolExhaustion.SIGNAL_TYPE)
        assert.deepStrictEqual(e.signal.target, tgt)
        assert.isAtLeast(e.signal.evidence["clientBackends"] as number, 1)
      }
      assert.strictEqual(malformed.length, 1)
      assert.strictEqual(malformed[0]!._tag, "MalformedSignal")
      assert.strictEqual(malformed[0]!.detector, "db.pool.exhaustion/postgres+bad")
      assert.match(malformed[0]!.message, /\["target"\]|\["observedAt"\]/)
      assert.isBelow(events.indexOf("malformed"), events.indexOf("report"), "the loop kept going after the malformed element")

      // Exactly one incident for the target, although the detector kept polling while it ran.
      const reports = results.map((r) => {
        assert.isFalse(Runbook.isAwaitingApproval(r))
        return r as Exclude<Runbook.HandleResult, Runbook.AwaitingApproval>
      })
      const incidents = reports.filter((r) => r.status !== "duplicate")
      assert.strictEqual(incidents.length, 1, JSON.stringify(reports.map((r) => r.status)))
      const report = incidents[0]!
      // Signals after it closed meet the target's cooldown lease ("duplicate"); none reached `handle` while it ran.
      for (const d of reports.filter((r) => r.status === "duplicate")) {
        assert.strictEqual(d.duplicateOf, report.incidentId)
        assert.isAtLeast(d.startedAt, report.endedAt)
      }
      assert.deepStrictEqual(report.signal.target, tgt)
      assert.strictEqual(report.signal.source, "db.PoolExhaustion.postgres")
      const during = emitted.filter((e) => e.at > report.startedAt && e.at < report.endedAt)
      assert.isAtLeast(during.length, 1, "the detector polled on (and fired) while the incident ran")

      // The incident: classified, the backlog terminated, the superuser left alone, recovered.
      assert.strictEqual(report.mode, "auto")
      assert.strictEqual(report.classification?._tag === "Classified" ? report.classification.class : "", "idle_in_tx_backlog")
      const terminated = report.outcomes.filter((o) => o.kind === "pg.terminateBackend")
      assert.sameMembers(terminated.map((o) => o.result?.["pid"] as number), backlog.map((s) => s.pid))
      for (const o of terminated) {
        assert.strictEqual(o.status, "applied")
        assert.match(o.detail, /^terminated backend/)
      }
      assert.strictEqual(report.status, "recovered")
      assert.isUndefined(report.escalation)
      assert.strictEqual(report.verdicts.at(-1)?._tag, "Recovered")
      assert.strictEqual((report.postmortem as any)?.class, "idle_in_tx_backlog")
      assert.isTrue(observed.suAliveAfterIncident, "the superuser session survived the incident")
      assert.isTrue(yield* Effect.promise(() => su.q("SELECT 1").then(() => true, () => false)))
      for (const s of backlog) assert.isFalse(yield* Effect.promise(() => s.q("SELECT 1").then(() => true, () => false)))

      // A clean stop: the loop ended by interruption, the detector stopped polling, the agent's pool is closed.
      assert.isTrue(Exit.hasInterrupts(observed.exit))
      assert.strictEqual(observed.emittedLater, observed.emittedAtInterrupt)
      yield* Effect.promise(() => closeAll())
      yield* Effect.promise(() =>
        eventually(async () => (await sessionsOf(superUrl, prefix)).length === 0, 10_000, `no backend named ${prefix}* left`)
      )
    }), 90_000)
})
