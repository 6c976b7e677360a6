/**
 * `@byteport/db/testing`: recordings decode as psql exports them. The `pg15-lock-wait` recording
 * was exported from a real PostgreSQL 15 (`psql --csv -c "SELECT * FROM pg_stat_activity"` and
 * `\copy (SELECT json_agg(t) FROM (SELECT * FROM pg_stat_activity) t) TO 'activity.json'`, with
 * `pg_roles`, `pg_blocking_pids`, `pg_settings`, pgbouncer `SHOW CONFIG`) while one session held
 * a table lock, another waited on it and one with an empty application_name slept; the tables
 * below are real-shaped exports for the edge cases, and every bad input names file, row, column.
 */
import { Fact, Plan, Signal, TargetRef } from "@byteport/core"
import { DecodeError, PgRecording, Table } from "@byteport/db/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import * as PoolSixClass from "../../src/classifiers/PoolSixClass"
import * as PoolRemediator from "../../src/remediators/PoolRemediator"

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "../fixtures/recordings/pg15-lock-wait")
const f = (name: string) => path.join(dir, name)

const ACTIVITY_HEADER =
  "datid,datname,pid,leader_pid,usesysid,usename,application_name,client_addr,client_hostname,client_port,backend_start,xact_start,query_start,state_change,wait_event_type,wait_event,state,backend_xid,backend_xmin,query_id,query,backend_type"
const csv = (file: string, ...lines: ReadonlyArray<string>) => Table.parse(file, [ACTIVITY_HEADER, ...lines].join("\n") + "\n")
const LAUNCHER = ",,9253,,,,,,,,2026-12-07 13:23:25.460405+00,,,,Activity,AutoVacuumMain,,,,,,autovacuum launcher"

describe("PgRecording: the real PostgreSQL 15 recording", () => {
  it.effect("CSV and \\copy JSON decode to the same client sessions: background workers left out, empty application_name, exact query_id and microseconds", () =>
    Effect.gen(function*() {
      const options = { roles: f("roles.csv"), blocking: f("blocking.csv") }
      const fromCsv = yield* PgRecording.sessions(f("activity.csv"), options)
      const fromJson = yield* PgRecording.sessions(f("activity.json"), { roles: f("roles.json"), blocking: f("blocking.csv") })
      assert.deepStrictEqual(fromCsv.map((s) => s.pid), [31473, 31479, 31480, 31490]) // no autovacuum launcher, walwriter, checkpointer …
      assert.deepStrictEqual(fromJson.map((s) => s.pid), [31473, 31479, 31480, 31499]) // the JSON export ran in its own psql session
      const a = fromCsv[0]!
      assert.strictEqual(a.application_name, "orders-api")
      assert.strictEqual(a.query_id, "440101247839410938") // beyond 2^53: exact, as text, from both formats
      assert.strictEqual(fromJson[0]!.query_id, "440101247839410938")
      assert.strictEqual(a.backend_start_us, "1796650184211478") // 2026-12-07 13:29:44.211478+00
      assert.strictEqual(fromJson[0]!.backend_start_us, a.backend_start_us)
      assert.strictEqual(fromCsv[1]!.application_name, "") // psql --csv prints the empty string as an empty field
      assert.strictEqual(fromJson[1]!.application_name, "")
      assert.strictEqual(fromCsv[3]!.query_id, "-6815546958608512757")
      assert.deepStrictEqual(fromCsv.map((s) => s.rolsuper), [false, false, false, true]) // the psql session is postgres
      assert.deepStrictEqual(fromJson.map((s) => s.rolsuper), [false, false, false, true])
      assert.deepStrictEqual(fromCsv.map((s) => s.blocking_pids), [[], [], [31473], []])
      assert.deepStrictEqual(fromCsv.map((s) => s.wait_event_type), ["Timeout", "Timeout", "Lock", null])
      // capture time: the latest timestamp (the export's own statement, 13:29:46.332385)
      assert.strictEqual(fromCsv[0]!.query_age_ms, 1796650186332.385 - 1796650184263.506)
      for (const [i, s] of fromCsv.slice(0, 3).entries()) {
        const j = fromJson[i]!
        assert.deepStrictEqual({ ...s, lock_wait_ms: null }, { ...j, lock_wait_ms: null, query_age_ms: s.query_age_ms, state_age_ms: s.state_age_ms, xact_age_ms: s.xact_age_ms }, `pid ${s.pid}`)
      }
    }))

  it.effect("the whole recording → facts → the real classifier and remediator: the lock root and the sleeper are cancelled, the waiter left alone", () =>
    Effect.gen(function*() {
      const facts = yield* PgRecording.facts({
        activity: f("activity.csv"),
        roles: f("roles.csv"),
        blocking: f("blocking.csv"),
        settings: f("settings.csv"),
        pgbouncer: "absent"
      })
      assert.deepStrictEqual(facts.utilization, Fact.known({ engine: "postgres", ratio: 4 / 97, clientBackends: 4, available: 97 }))
      assert.deepStrictEqual(facts.pgbouncer, Fact.known(null))
      assert.deepStrictEqual(facts.idleInTxTrend._tag === "Known" ? facts.idleInTxTrend.value.samples : [], [0])
      const c = PoolSixClass.classifier({ queryBudgetMs: 1_000 })(facts)
      if (c._tag !== "Classified") throw new Error(c._tag)
      assert.strictEqual(c.class, "long_running_query")
      const plan = PoolRemediator.planOf(c, facts, Signal.make({ type: "db.pool.exhaustion", target: TargetRef.make("database", "rec/appdb"), observedAt: 0, evidence: {} }), {
        thresholds: { queryBudgetMs: 1_000 }
      })
      assert.deepStrictEqual(Plan.actions(plan.root).filter((a) => a.action.kind === "pg.cancelBackend").map((a) => a.action.params["pid"]), [31473, 31479])
      assert.match(plan.summary, /1 waiter\(s\) over budget left alone/)
    }))

  it.effect("missing optional parts become Unknown facts; no pg_roles → everyone counts as a superuser (never named by a plan)", () =>
    Effect.gen(function*() {
      const facts = yield* PgRecording.facts({ activity: f("activity.json") })
      assert.strictEqual(facts.utilization._tag, "Unknown")
      assert.strictEqual(facts.pgbouncer._tag, "Unknown")
      assert.deepStrictEqual(facts.lastDeploy, Fact.known(null))
      assert.deepStrictEqual(facts.poolSettings, Fact.known(null))
      const sessions = facts.sessions._tag === "Known" ? facts.sessions.value : []
      assert.isTrue(sessions.every((s) => s.rolsuper))
      assert.isTrue(sessions.every((s) => s.blocking_pids.length === 0))
      // Unknown pgbouncer ahead of the match: the classifier says so rather than guessing
      assert.strictEqual(PoolSixClass.classifier()(facts)._tag, "Indeterminate")
    }))

  it.effect("SHOW POOLS (real header) + SHOW CONFIG: the admin pool left out, pools sized by default_pool_size", () =>
    Effect.gen(function*() {
      const header = "database,user,cl_active,cl_waiting,cl_active_cancel_req,cl_waiting_cancel_req,sv_active,sv_active_cancel,sv_being_canceled,sv_idle,sv_used,sv_tested,sv_login,maxwait,maxwait_us,pool_mode"
      const showPools = yield* Table.parse("pools.csv", [
        header,
        "appdb,app,4,7,0,0,4,0,0,0,0,0,0,3,250000,transaction",
        "appdb,reporting,1,0,0,0,1,0,0,2,0,0,0,0,0,transaction",
        "pgbouncer,pgbouncer,1,0,0,0,0,0,0,0,0,0,0,0,0,statement"
      ].join("\n"))
      const pools = yield* PgRecording.pools(showPools, { config: f("config.csv") })
      assert.deepStrictEqual(pools.map((p) => [p.database, p.user, p.clientsWaiting, p.poolSize, p.serverConnections]), [
        ["appdb", "app", 7, 4, 4],
        ["appdb", "reporting", 0, 4, 3]
      ])
      const facts = yield* PgRecording.facts({ activity: f("activity.csv"), roles: f("roles.csv"), settings: f("settings.csv"), pools: showPools, config: f("config.csv") })
      assert.deepStrictEqual(facts.pgbouncer._tag === "Known" ? facts.pgbouncer.value?.waiting : -1, 7)
      const json = yield* Table.parse("pools.json", JSON.stringify([{ database: "appdb", user: "app", cl_active: 2, cl_waiting: 1, sv_active: 2, sv_idle: 0, sv_used: 0 }]))
      const fromJson = yield* PgRecording.pools(json, { databases: yield* Table.parse("databases.csv", "name,host,port,database,pool_size\nappdb,127.0.0.1,5432,appdb,10\n") })
      assert.deepStrictEqual(fromJson.map((p) => p.poolSize), [10])
    }))
})

describe("PgRecording: real-shaped edge cases", () => {
  const rows: ReadonlyArray<{ readonly name: string; readonly lines: ReadonlyArray<string>; readonly check: (s: ReadonlyArray<PgRecording.PgSession>) => void }> = [
    {
      name: "backend_type rows other than client backend are left out",
      lines: [LAUNCHER, ",,9254,,10,postgres,,,,,2026-12-07 13:23:25.460854+00,,,,Activity,LogicalLauncherMain,,,,,,logical replication launcher"],
      check: (s) => assert.deepStrictEqual(s, [])
    },
    {
      name: "nulls: a session that never ran a statement (no xact/query, no state_change) decodes with null ages",
      lines: ["16386,appdb,500,,16384,app,web,10.0.0.7,,50000,2026-12-07 13:00:00.5+00,,,,Client,ClientRead,idle,,,,,client backend"],
      check: (s) => {
        assert.strictEqual(s[0]!.state, "idle")
        assert.isNull(s[0]!.query_start)
        assert.isNull(s[0]!.query_age_ms)
        assert.strictEqual(s[0]!.query, "")
        assert.strictEqual(s[0]!.backend_start_us, "1796648400500000")
      }
    },
    {
      name: "timestamps in other zones and with fewer fractional digits are exact",
      lines: [
        "16386,appdb,501,,16384,app,web,10.0.0.7,,50000,2026-12-07 18:30:00.25+05:30,2026-12-07 07:59:59-05,2026-12-07 08:00:00.000001-05,2026-12-07 13:00:00+00,,,idle in transaction,,,,BEGIN,client backend"
      ],
      check: (s) => {
        assert.strictEqual(s[0]!.backend_start_us, "1796648400250000")
        assert.strictEqual(s[0]!.xact_start_us, "1796648399000000")
        assert.strictEqual(s[0]!.query_start_us, "1796648400000001")
        assert.strictEqual(s[0]!.state_age_ms, 250) // the capture time is the latest timestamp: backend_start, 13:00:00.25 UTC
      }
    },
    {
      name: "quoted fields: a query with commas, quotes and newlines; a quoted empty application_name",
      lines: ["16386,appdb,502,,16384,app,\"\",10.0.0.7,,50000,2026-12-07 13:00:00+00,,2026-12-07 13:00:01+00,2026-12-07 13:00:01+00,,,active,,,,\"SELECT a, \"\"b\"\"\nFROM t\",client backend"],
      check: (s) => {
        assert.strictEqual(s[0]!.application_name, "")
        assert.strictEqual(s[0]!.query, "SELECT a, \"b\"\nFROM t")
      }
    },
    {
      name: "an IPv6 client and a Unix-socket client (client_addr null)",
      lines: [
        "16386,appdb,503,,16384,app,web,::1,,50000,2026-12-07 13:00:00+00,,,,,,idle,,,,,client backend",
        "16386,appdb,504,,16384,app,web,,,-1,2026-12-07 13:00:00+00,,,,,,idle,,,,,client backend"
      ],
      check: (s) => assert.deepStrictEqual(s.map((x) => x.client_addr), ["::1", null])
    }
  ]
  for (const row of rows) {
    it.effect(row.name, () =>
      Effect.gen(function*() {
        const t = yield* csv("activity.csv", ...row.lines)
        row.check(yield* PgRecording.sessions(t, { roles: yield* Table.parse("roles.csv", "rolname,rolsuper,oid\napp,f,16384\n") }))
      }))
  }

  it.effect("a \\copy of json_agg: literal \\n between elements and doubled backslashes are undone", () =>
    Effect.gen(function*() {
      const json = JSON.stringify([
        { pid: 600, usesysid: "16384", usename: "app", application_name: "etl", backend_start: "2026-12-07T13:00:00.123456+00:00", xact_start: null, query_start: "2026-12-07T13:00:01+00:00", state_change: "2026-12-07T13:00:01+00:00", state: "active", wait_event_type: "Lock", wait_event: "transactionid", query: "SELECT '\\d' -- tab\there", query_id: null, backend_type: "client backend" },
        { pid: 601, usesysid: "16384", usename: "app", application_name: "etl", backend_start: "2026-12-07T13:00:00+00:00", xact_start: "2026-12-07T12:59:00+00:00", query_start: "2026-12-07T12:59:00+00:00", state_change: "2026-12-07T12:59:00+00:00", state: "active", wait_event_type: null, wait_event: null, query: "UPDATE t SET x = 1", query_id: "__QID__", backend_type: "client backend" }
      ])
      const copied = json.replace("\"__QID__\"", "1234567890123456789").replace(/\\/g, "\\\\").replace("},{", "}, \\n {") // what COPY's text format writes
      const t = yield* Table.parse("activity.json", copied)
      const blocking = yield* Table.parse("blocking.json", "[{\"pid\":600,\"pg_blocking_pids\":[601],\"waitstart\":\"2026-12-07T13:00:01.5+00:00\"}, \\n {\"pid\":601,\"pg_blocking_pids\":[]}]")
      const s = yield* PgRecording.sessions(t, { blocking, capturedAt: Date.UTC(2026, 11, 7, 13, 0, 3) })
      assert.strictEqual(s[0]!.query, "SELECT '\\d' -- tab\there")
      assert.strictEqual(s[1]!.query_id, "1234567890123456789")
      assert.deepStrictEqual(s[0]!.blocking_pids, [601])
      assert.strictEqual(s[0]!.lock_wait_ms, 1_500)
      assert.strictEqual(s[0]!.query_age_ms, 2_000)
      assert.isNull(s[1]!.lock_wait_ms)
      assert.strictEqual(s[1]!.query_age_ms, 63_000)
    }))

  it.effect("older and reordered shapes: no query_id / leader_pid columns (PostgreSQL 13), JSON keys in any order, unknown extra columns", () =>
    Effect.gen(function*() {
      const t = yield* Table.parse("pg13.csv", [
        "datid,datname,pid,usesysid,usename,application_name,client_addr,client_hostname,client_port,backend_start,xact_start,query_start,state_change,wait_event_type,wait_event,state,backend_xid,backend_xmin,query,backend_type",
        "16386,appdb,700,16384,app,web,10.0.0.7,,50000,2026-12-07 13:00:00+00,2026-12-07 13:00:00+00,2026-12-07 13:00:00+00,2026-12-07 13:00:10+00,Client,ClientRead,idle in transaction,,,SELECT 1,client backend"
      ].join("\n"))
      const [s] = yield* PgRecording.sessions(t)
      assert.isNull(s!.query_id)
      assert.strictEqual(s!.state_age_ms, 0)
      assert.strictEqual(s!.xact_age_ms, 10_000)
      const j = yield* Table.parse("pg17.json", JSON.stringify([{ backend_type: "client backend", query: "SELECT 2", state: "active", pid: 701, some_future_column: 1, query_start: "2026-12-07T13:00:00+00:00", state_change: "2026-12-07T13:00:00+00:00", usename: "app" }]))
      const [k] = yield* PgRecording.sessions(j, { capturedAt: Date.UTC(2026, 11, 7, 13, 0, 5) })
      assert.deepStrictEqual([k!.pid, k!.query_age_ms, k!.application_name, k!.backend_start_us], [701, 5_000, "", null])
    }))

  it.effect("several activity exports build the idle-in-transaction trend", () =>
    Effect.gen(function*() {
      const idle = (pid: number, at: string) => `16386,appdb,${pid},,16384,app,web,10.0.0.7,,50000,${at},${at},${at},${at},Client,ClientRead,idle in transaction,,,,SELECT 1,client backend`
      const s1 = yield* csv("t1.csv", idle(1, "2026-12-07 13:00:00+00"))
      const s2 = yield* csv("t2.csv", idle(1, "2026-12-07 13:00:00+00"), idle(2, "2026-12-07 13:01:00+00"))
      const s3 = yield* csv("t3.csv", idle(1, "2026-12-07 13:00:00+00"), idle(2, "2026-12-07 13:01:00+00"), idle(3, "2026-12-07 13:02:00+00"))
      const facts = yield* PgRecording.facts({ activity: [s1, s2, s3], pgbouncer: "absent" })
      assert.deepStrictEqual(facts.idleInTxTrend._tag === "Known" ? [facts.idleInTxTrend.value.samples, facts.idleInTxTrend.value.rising] : [], [[1, 2, 3], true])
    }))

  it.effect("PostgreSQL 16+ pg_settings: reserved_connections is not the application's either (max_connections − superuser_reserved − reserved)", () =>
    Effect.gen(function*() {
      const client = (pid: number) => `16386,appdb,${pid},,16384,app,web,10.0.0.7,,50000,2026-12-07 13:00:00+00,,2026-12-07 13:00:00+00,2026-12-07 13:00:00+00,Client,ClientRead,idle,,,,SELECT 1,client backend`
      const activity = yield* csv("a16.csv", ...Array.from({ length: 76 }, (_, i) => client(100 + i)))
      const settings = (...rows: ReadonlyArray<string>) => Table.parse("s16.csv", ["name,setting,unit", ...rows].join("\n") + "\n")
      const pg16 = yield* PgRecording.facts({ activity, settings: yield* settings("max_connections,100,", "reserved_connections,10,", "superuser_reserved_connections,3,"), pgbouncer: "absent" })
      assert.deepStrictEqual(pg16.utilization, Fact.known({ engine: "postgres", ratio: 76 / 87, clientBackends: 76, available: 87 }))
      const pg15 = yield* PgRecording.facts({ activity, settings: yield* settings("max_connections,100,", "superuser_reserved_connections,3,"), pgbouncer: "absent" })
      assert.deepStrictEqual(pg15.utilization, Fact.known({ engine: "postgres", ratio: 76 / 97, clientBackends: 76, available: 97 }))
    }))

  it.effect("postgres_exporter series (Prometheus query_range): the idle-in-transaction trend is decided over the history since the deploy, as the diagnoser decides it", () =>
    Effect.gen(function*() {
      const at = Date.UTC(2026, 11, 7, 13, 0, 0)
      const idle = (pid: number) => `16386,appdb,${pid},,16384,app,billing,10.0.0.7,,50000,2026-12-07 12:50:00+00,2026-12-07 12:50:00+00,2026-12-07 12:50:00+00,2026-12-07 12:50:00+00,Client,ClientRead,idle in transaction,,,,SELECT 1,client backend`
      const activity = yield* csv("one.csv", ...[1, 2, 3, 4, 5, 6, 7, 8].map(idle))
      // one sample a minute for 12 minutes: the billing application leaks about one session every 1.5 minutes (0 → 8)
      const points = (f: (i: number) => number) => Array.from({ length: 12 }, (_, i) => [(at - (12 - i) * 60_000) / 1000, String(f(i))] as const)
      const body = {
        status: "success",
        data: {
          resultType: "matrix",
          result: [
            { metric: { __name__: "pg_stat_activity_count", datname: "appdb", state: "idle in transaction", usename: "app", application_name: "billing" }, values: points((i) => Math.floor((i * 2) / 3)) },
            { metric: { __name__: "pg_stat_activity_count", datname: "appdb", state: "idle", usename: "app", application_name: "billing" }, values: points(() => 20) },
            { metric: { __name__: "pg_stat_activity_count", datname: "other", state: "idle in transaction", usename: "app", application_name: "billing" }, values: points((i) => 30 - i) }
          ]
        }
      }
      const deploy = { sha: "c01d2b7", at: at - 13 * 60_000 }
      const withSeries = yield* PgRecording.facts({ activity, capturedAt: at, series: body, datname: "appdb", lastDeploy: deploy, pgbouncer: "absent" })
      const trend = withSeries.idleInTxTrend._tag === "Known" ? withSeries.idleInTxTrend.value : undefined
      assert.deepStrictEqual([trend?.source, trend?.application, trend?.rising, trend?.since, trend?.samples.at(-1)], ["history", "billing", true, deploy.at, 8])
      // the export alone is one sample: never rising
      const alone = yield* PgRecording.facts({ activity, capturedAt: at, lastDeploy: deploy, pgbouncer: "absent" })
      assert.deepStrictEqual(alone.idleInTxTrend._tag === "Known" ? [alone.idleInTxTrend.value.source, alone.idleInTxTrend.value.rising] : [], [undefined, false])
      // the other database's falling series is not this database's history
      const unfiltered = yield* PgRecording.facts({ activity, capturedAt: at, series: body, lastDeploy: deploy, pgbouncer: "absent" })
      assert.isFalse(unfiltered.idleInTxTrend._tag === "Known" && unfiltered.idleInTxTrend.value.application === "*" && unfiltered.idleInTxTrend.value.rising)
      const e = yield* Effect.flip(PgRecording.facts({ activity, series: { data: { resultType: "vector", result: [] } } }))
      assert.strictEqual(e._tag, "DecodeError")
      assert.match(e.message, /query_range/)
    }))

  const bad: ReadonlyArray<{ readonly name: string; readonly run: Effect.Effect<unknown, DecodeError>; readonly file: string; readonly row: number | null; readonly column: string | null }> = [
    {
      name: "a timestamp that is not one",
      run: Effect.flatMap(csv("a.csv", LAUNCHER, "16386,appdb,7,,16384,app,web,,,,2026-12-07 13:00:00+00,,yesterday,,,,active,,,,SELECT 1,client backend"), (t) => PgRecording.sessions(t)),
      file: "a.csv", row: 2, column: "query_start"
    },
    {
      name: "a timestamp without a time zone",
      run: Effect.flatMap(csv("b.csv", "16386,appdb,7,,16384,app,web,,,,2026-12-07 13:00:00,,,,,,idle,,,,,client backend"), (t) => PgRecording.sessions(t)),
      file: "b.csv", row: 1, column: "backend_start"
    },
    {
      name: "a pid that is not an integer",
      run: Effect.flatMap(csv("c.csv", "16386,appdb,x7,,16384,app,web,,,,2026-12-07 13:00:00+00,,,,,,idle,,,,,client backend"), (t) => PgRecording.sessions(t)),
      file: "c.csv", row: 1, column: "pid"
    },
    {
      name: "a CSV row with a missing field",
      run: csv("d.csv", "16386,appdb,7,,16384,app,web"),
      file: "d.csv", row: 1, column: null
    },
    {
      name: "not a pg_stat_activity export",
      run: Effect.flatMap(Table.parse("e.csv", "name,setting\nmax_connections,100\n"), (t) => PgRecording.sessions(t)),
      file: "e.csv", row: null, column: "pid"
    },
    {
      name: "pg_roles with a rolsuper that is not a boolean",
      run: PgRecording.sessions(f("activity.csv"), { roles: Effect.runSync(Table.parse("roles.csv", "rolname,rolsuper,oid\napp,f,16384\npostgres,maybe,10\n")) }),
      file: "roles.csv", row: 2, column: "rolsuper"
    },
    {
      name: "pg_blocking_pids that are not integers",
      run: PgRecording.sessions(f("activity.csv"), { blocking: Effect.runSync(Table.parse("blocking.csv", "pid,pg_blocking_pids\n31480,\"{31473,x}\"\n")) }),
      file: "blocking.csv", row: 1, column: "pg_blocking_pids"
    },
    {
      name: "pg_settings without max_connections",
      run: PgRecording.facts({ activity: f("activity.csv"), settings: Effect.runSync(Table.parse("settings.csv", "name,setting\nsuperuser_reserved_connections,3\n")) }),
      file: "settings.csv", row: null, column: "setting"
    },
    {
      name: "SHOW POOLS with no pool size anywhere",
      run: PgRecording.pools(Effect.runSync(Table.parse("pools.csv", "database,user,cl_active,cl_waiting,sv_active,sv_idle,sv_used\nappdb,app,1,0,1,0,0\n"))),
      file: "pools.csv", row: null, column: null
    },
    {
      name: "SHOW POOLS with a count that is not one",
      run: PgRecording.pools(Effect.runSync(Table.parse("pools.csv", "database,user,cl_active,cl_waiting,sv_active,sv_idle,sv_used\nappdb,app,1,-,1,0,0\n")), { config: f("config.csv") }),
      file: "pools.csv", row: 1, column: "cl_waiting"
    },
    { name: "JSON that is not an array of rows", run: Table.parse("f.json", "{\"pid\": 1}"), file: "f.json", row: null, column: null },
    { name: "JSON that is not JSON", run: Table.parse("g.json", "[{\"pid\": 1"), file: "g.json", row: null, column: null },
    { name: "an unterminated quoted CSV field", run: Table.parse("h.csv", "a,b\n1,\"x\n"), file: "h.csv", row: 1, column: null },
    { name: "a missing file", run: PgRecording.sessions(f("nope.csv")), file: f("nope.csv"), row: null, column: null }
  ]
  for (const b of bad) {
    it.effect(`DecodeError: ${b.name}`, () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(b.run)
        assert.instanceOf(e, DecodeError)
        assert.strictEqual(e._tag, "DecodeError")
        assert.deepStrictEqual([e.file, e.row, e.column], [b.file, b.row, b.column], e.message)
        assert.include(e.message, b.file)
      }))
  }
})
