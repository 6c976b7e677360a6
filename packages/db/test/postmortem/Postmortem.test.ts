import { Classification, Report } from "@byteport/core"
import type { Json } from "@byteport/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import pg from "pg"
import type { PoolFacts } from "../../src/diagnosers/PoolDiagnoser"
import * as Postmortem from "../../src/postmortem/Postmortem"
import * as Postgres from "../../src/Postgres"
import * as PgActivity from "../../src/probes/PgActivity"
import { closeAll, eventually, openSession, uniqueName } from "../support/pg"
import { describeWithServices } from "../support/services"

const cls = (name: string, confidence = 0.9) => Classification.classified(name, confidence, [`rule ${name} matched`])
const setting = (fix: Postmortem.PermanentFix, name: string) => fix.settings.find((s) => s.setting === name)

describe("Postmortem.permanentFix", () => {
  interface Case {
    readonly title: string
    readonly classification: Classification.Classification
    readonly facts: Postmortem.FixFacts
    readonly expect: (fix: Postmortem.PermanentFix) => void
  }
  const cases: ReadonlyArray<Case> = [
    {
      title: "idle_in_tx_backlog: idle_in_transaction_session_timeout = '60s' on the application's role",
      classification: cls("idle_in_tx_backlog"),
      facts: { role: "app", database: "appdb", idleInTxMs: 30_000 },
      expect: (fix) => {
        assert.deepInclude(fix.settings, {
          system: "postgresql",
          setting: "idle_in_transaction_session_timeout",
          value: "60s",
          scope: "role app",
          reason: "sessions sat idle in transaction beyond 30s; the server then ends them itself"
        })
        assert.match(fix.summary, /idle_in_transaction_session_timeout = '60s'/)
      }
    },
    {
      title: "idle_in_tx_backlog: a longer threshold gives twice the threshold, on the database when no role is known",
      classification: cls("idle_in_tx_backlog"),
      facts: { database: "appdb", idleInTxMs: 45_000 },
      expect: (fix) => {
        assert.strictEqual(setting(fix, "idle_in_transaction_session_timeout")?.value, "90s")
        assert.strictEqual(setting(fix, "idle_in_transaction_session_timeout")?.scope, "database appdb")
      }
    },
    {
      title: "long_running_query: statement_timeout = the query budget, and EXPLAIN of the slow fingerprints",
      classification: cls("long_running_query"),
      facts: {
        role: "app",
        queryBudgetMs: 120_000,
        groups: Postmortem.group([{ query: "SELECT * FROM big WHERE x = 1", durationMs: 300_000, state: "active" }])
      },
      expect: (fix) => {
        assert.strictEqual(setting(fix, "statement_timeout")?.value, "120s")
        assert.strictEqual(setting(fix, "statement_timeout")?.scope, "role app")
        assert.match(fix.actions[0]!, /EXPLAIN \(ANALYZE, BUFFERS\).*select \* from big where x = \?/)
      }
    },
    {
      title: "undersized_pool without pgbouncer: per-process pool from the budget; max_connections from the peak",
      classification: cls("undersized_pool", 0.75),
      facts: { capacity: 97, superuserReserved: 3, observedPeak: 90, processes: 8, appPoolPerProcess: 12, pgbouncer: null },
      expect: (fix) => {
        // budget = floor(97 × 0.8) = 77; 77 / 8 processes = 9; peak 90 > 77 → ceil(90 / 0.8) + 3 = 116
        assert.deepStrictEqual(fix.computed, { capacity: 97, budget: 77, observed_peak: 90, app_pool_per_process: 9, max_connections: 116 })
        assert.strictEqual(setting(fix, "maximum pool size")?.value, "9")
        assert.match(setting(fix, "maximum pool size")!.reason, /8 process\(es\) × 9 ≤ budget 77.*now 12 per process/)
        assert.strictEqual(setting(fix, "max_connections")?.value, "116")
        assert.isTrue(fix.actions.some((a) => a.startsWith("put pgbouncer (pool_mode = transaction, default_pool_size ≤ 77)")))
      }
    },
    {
      title: "undersized_pool with pgbouncer: default_pool_size raised by the waiting clients, within the budget",
      classification: cls("undersized_pool", 0.75),
      facts: { capacity: 97, observedPeak: 60, pgbouncer: { pools: 2, poolSize: 20, waiting: 10 } },
      expect: (fix) => {
        // ceiling floor(77 / 2) = 38; wanted 20 + ceil(10 / 2) = 25
        assert.strictEqual(setting(fix, "default_pool_size")?.value, "25")
        assert.strictEqual(setting(fix, "pool_mode")?.value, "transaction")
        assert.strictEqual(setting(fix, "max_connections"), undefined)
        assert.strictEqual(fix.computed.pgbouncer_pool_ceiling, 38)
      }
    },
    {
      title: "missing_pgbouncer (clients waiting): a transaction pool sized for the waiters",
      classification: cls("missing_pgbouncer", 0.8),
      facts: { capacity: 97, observedPeak: 10, pgbouncer: { pools: 1, poolSize: 4, waiting: 7 } },
      expect: (fix) => {
        assert.strictEqual(setting(fix, "default_pool_size")?.value, "11")
        assert.match(setting(fix, "default_pool_size")!.reason, /7 client\(s\) waited on 1 pool\(s\) of 4; 1 × 11 stays within the budget of 77 of 97/)
        assert.match(fix.summary, /raise pgbouncer's pool/)
      }
    },
    {
      title: "missing_pgbouncer at the ceiling: no raise, the advice says why",
      classification: cls("missing_pgbouncer", 0.8),
      facts: { capacity: 97, pgbouncer: { pools: 4, poolSize: 19, waiting: 3 } },
      expect: (fix) => {
        assert.strictEqual(setting(fix, "default_pool_size"), undefined)
        assert.isTrue(fix.actions.some((a) => a.includes("already at the ceiling 19")))
      }
    },
    {
      title: "missing_pgbouncer with no pgbouncer at all: deploy one",
      classification: cls("missing_pgbouncer", 0.8),
      facts: { capacity: 97, processes: 7, pgbouncer: null },
      expect: (fix) => {
        assert.strictEqual(fix.summary, "put pgbouncer in transaction pooling in front of the database")
        assert.strictEqual(setting(fix, "maximum pool size")?.value, "11")
      }
    },
    {
      title: "runaway_cron_fanout: a dedicated pgbouncer transaction pool and a role connection limit of 10% of the budget",
      classification: cls("runaway_cron_fanout", 0.82),
      facts: { capacity: 97, topApplication: { name: "nightly-cron", connections: 40, role: "batch" } },
      expect: (fix) => {
        assert.strictEqual(setting(fix, "pool_size")?.value, "7")
        assert.match(setting(fix, "pool_size")!.scope, /nightly-cron.*pool_mode = transaction/)
        assert.deepInclude(fix.settings, {
          system: "postgresql",
          setting: "CONNECTION LIMIT",
          value: "7",
          scope: "role batch",
          reason: "a hard server-side cap on the batch role"
        })
        assert.match(fix.actions[0]!, /limit the job's worker concurrency to 7/)
      }
    },
    {
      title: "leak_after_deploy: restart + fix the connection leak in release <sha>",
      classification: cls("leak_after_deploy", 0.88),
      facts: { role: "app", lastDeploySha: "9f3c2ab", idleInTxMs: 30_000 },
      expect: (fix) => {
        assert.strictEqual(fix.summary, "restart + fix the connection leak in release 9f3c2ab")
        assert.match(fix.actions[0]!, /restart the deployment running 9f3c2ab/)
        assert.strictEqual(setting(fix, "idle_in_transaction_session_timeout")?.value, "60s")
      }
    },
    {
      title: "pool sizing without capacity asks for it instead of guessing",
      classification: cls("undersized_pool", 0.75),
      facts: { processes: 4 },
      expect: (fix) => {
        assert.deepStrictEqual(fix.settings, [])
        assert.match(fix.actions[0]!, /measure max_connections/)
      }
    },
    {
      title: "Unclassified: no settings",
      classification: Classification.unclassified(["nothing matched"]),
      facts: { capacity: 97 },
      expect: (fix) => {
        assert.strictEqual(fix.class, null)
        assert.deepStrictEqual(fix.settings, [])
        assert.match(fix.summary, /no class matched/)
      }
    },
    {
      title: "Indeterminate: names what is missing",
      classification: Classification.indeterminate("idle_in_tx_backlog", ["sessions"]),
      facts: {},
      expect: (fix) => assert.match(fix.summary, /missing sessions/)
    }
  ]
  for (const c of cases) it(c.title, () => c.expect(Postmortem.permanentFix(c.classification, c.facts)))
})

describe("Postmortem.group", () => {
  it("groups by fingerprint with counts, total and max durations, states and applications", () => {
    const groups = Postmortem.group([
      { query: "SELECT * FROM orders WHERE id = 1", durationMs: 100, state: "active", application: "web" },
      { query: "select * from orders where id = 2", durationMs: 300, state: "idle in transaction", application: "web" },
      { query: "SELECT * FROM orders WHERE id = 3 ", durationMs: 50, state: "active", application: "api" },
      { query: "UPDATE t SET a = 1", durationMs: 5_000, state: "active", application: "cron" },
      { query: "", durationMs: 1, state: "idle" },
      { query: null, durationMs: null, state: "idle" }
    ])
    assert.deepStrictEqual(groups.map((g) => [g.fingerprint, g.count, g.totalMs, g.maxMs]), [
      ["select * from orders where id = ?", 3, 450, 300],
      ["update t set a = ?", 1, 5_000, 5_000]
    ])
    assert.deepStrictEqual(groups[0]!.states, { active: 2, "idle in transaction": 1 })
    assert.deepStrictEqual(groups[0]!.applications, ["api", "web"])
    assert.deepStrictEqual(Postmortem.groupRows(groups)[0], {
      fingerprint: "select * from orders where id = ?",
      id: groups[0]!.id,
      count: 3,
      total_ms: 450,
      max_ms: 300,
      states: "active: 2, idle in transaction: 1",
      applications: "api, web"
    })
  })

  it("orders ties by total duration and honours the limit", () => {
    const groups = Postmortem.group([
      { query: "SELECT 1 FROM a", durationMs: 10 },
      { query: "SELECT 1 FROM b", durationMs: 20 },
      { query: "SELECT 1 FROM c", durationMs: 5 }
    ], { limit: 2 })
    assert.deepStrictEqual(groups.map((g) => g.fingerprint), ["select ? from b", "select ? from a"])
  })
})

describe("Postmortem.make", () => {
  const at = new Date("2026-11-28T08:00:00Z")
  const session = (pid: number, app: string, state: string, query: string, ageMs: number): PgActivity.PgSession => ({
    pid,
    usename: "app",
    rolsuper: false,
    datname: "appdb",
    application_name: app,
    client_addr: "127.0.0.1",
    backend_start: at,
    xact_start: state === "idle" ? null : at,
    query_start: at,
    state_change: new Date(at.getTime() + 40),
    state,
    wait_event_type: null,
    wait_event: null,
    query,
    query_id: null,
    blocking_pids: [],
    backend_start_us: null,
    xact_start_us: null,
    query_start_us: null,
    xact_age_ms: state === "idle" ? null : ageMs,
    query_age_ms: ageMs,
    state_age_ms: ageMs
  })
  const facts: PoolFacts = {
    utilization: { engine: "postgres", ratio: 0.9, clientBackends: 87, available: 97 },
    sessions: [
      session(1, "web", "idle in transaction", "SELECT * FROM carts WHERE user_id = 17 FOR UPDATE", 95_000),
      session(2, "web", "idle in transaction", "SELECT * FROM carts WHERE user_id = 18 FOR UPDATE", 65_000),
      session(3, "web", "idle in transaction", "SELECT * FROM carts WHERE user_id = 'x' FOR UPDATE", 40_000),
      session(4, "web", "idle", "SELECT 1", 0)
    ],
    idleInTxTrend: { samples: [3, 3, 3], sampledAt: at.getTime(), rising: false },
    lastDeploy: null,
    pgbouncer: null,
    poolSettings: null
  }

  it("is a JSON object core's report renders as tables: fix settings and fingerprints", () => {
    const pm = Postmortem.make(cls("idle_in_tx_backlog", 0.91), facts)
    assert.deepStrictEqual(JSON.parse(JSON.stringify(pm)), pm)
    assert.strictEqual(pm.class, "idle_in_tx_backlog")
    assert.strictEqual(pm.confidence, 0.91)
    const rows = pm.query_fingerprints as ReadonlyArray<Record<string, Json.Json>>
    assert.deepStrictEqual(rows.map((r) => [r.fingerprint, r.count, r.total_ms, r.max_ms]), [
      ["select * from carts where user_id = ? for update", 3, 200_000, 95_000],
      ["select ?", 1, 40, 40]
    ])
    const md = Report.jsonToMarkdown(pm as Json.Json, 3)
    assert.include(md, "| Fingerprint | Id | Count | Total ms | Max ms | States | Applications |")
    assert.include(md, "| select * from carts where user_id = ? for update |")
    assert.include(md, "| postgresql | idle_in_transaction_session_timeout | 60s | role app |")
    assert.notInclude(md, "17")
  })
})

describeWithServices(["postgres"], "Postmortem from real pg_stat_activity rows (PostgreSQL 15)", (env) => {
  const agent = () => Postgres.layer({ url: Redacted.make(env.BYTEPORT_TEST_PG_AGENT_URL ?? ""), poolMax: 1 })
  const pids: Array<number> = []
  afterAll(async () => {
    // end the sleepers server-side (a closed socket is noticed only when pg_sleep returns)
    const c = new pg.Client({ connectionString: env.BYTEPORT_TEST_PG_SUPER_URL })
    c.on("error", () => undefined)
    await c.connect()
    await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1::int[])", [pids]).catch(() => undefined)
    await c.end()
    await closeAll()
  })

  it.live("groups real sessions by fingerprint and recommends the idle-in-transaction timeout", () =>
    Effect.gen(function*() {
      const app = uniqueName("pm")
      const url = env.BYTEPORT_TEST_PG_URL ?? ""
      yield* Effect.promise(async () => {
        const sessions = await Promise.all(Array.from({ length: 5 }, () => openSession(url, app)))
        pids.push(...sessions.map((s) => s.pid))
        // three sleepers with different literals, two idle in transaction after the same lookup shape
        for (const [i, s] of sessions.slice(0, 3).entries()) void s.q(`SELECT pg_sleep(${20 + i}) /* sleeper ${i} */`).catch(() => undefined)
        for (const [i, s] of sessions.slice(3).entries()) {
          await s.q("BEGIN")
          await s.q(`SELECT relname FROM pg_class WHERE oid = ${1000 + i} AND relkind IN ('r', 'v', 'm')`)
        }
      })
      let mine: ReadonlyArray<PgActivity.PgSession> = []
      yield* Effect.promise(() =>
        eventually(async () => {
          const rows = await Effect.runPromise(PgActivity.sessions.pipe(Effect.provide(agent())))
          mine = rows.filter((r) => r.application_name === app)
          return mine.filter((r) => r.state === "active").length === 3 && mine.filter((r) => r.state === "idle in transaction").length === 2
        }, 10_000, "3 active sleepers and 2 idle-in-transaction sessions"))
      const groups = Postmortem.group(mine.map(Postmortem.sampleOfSession))
      assert.deepStrictEqual(groups.map((g) => [g.fingerprint, g.count, g.states, g.applications]), [
        ["select pg_sleep(?)", 3, { active: 3 }, [app]],
        ["select relname from pg_class where oid = ? and relkind in (?+)", 2, { "idle in transaction": 2 }, [app]]
      ])
      for (const g of groups) assert.isAtLeast(g.maxMs, 0)
      assert.isAtLeast(groups[0]!.totalMs, groups[0]!.maxMs)

      const fix = Postmortem.permanentFix(cls("idle_in_tx_backlog", 0.91), {
        ...Postmortem.fixFactsOf({
          utilization: { engine: "postgres", ratio: 0.05, clientBackends: mine.length, available: 97 },
          sessions: mine,
          idleInTxTrend: { samples: [2, 2], sampledAt: Date.now(), rising: false },
          lastDeploy: null,
          pgbouncer: null,
          poolSettings: null
        })
      })
      assert.strictEqual(setting(fix, "idle_in_transaction_session_timeout")?.scope, "role app")
      assert.match(fix.actions[0]!, /select relname from pg_class where oid = \? and relkind in \(\?\+\)/)
    }), 60_000)
})
