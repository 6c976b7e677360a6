/**
 * Issue 17 §1, second bullet: two agent processes (children, tsx) sharing one PgStore on the test
 * PostgreSQL (`scripts/services.sh`, service postgres, under its own lease). Each child prints
 * `ready`, both get `go` at once, and each handles its signals concurrently through
 * `Runbook.handle` (no in-process de-duplication: the store alone must hold the line):
 *
 * - 1,000 concurrent signals on one target (500 each) → one incident, one plan, one applied
 *   action (one row written by the action, one journal `applied`, one cap unit), 999 duplicates;
 * - 1,000 signals over 50 targets (500 each), at most one incident per target → exactly 50 of each;
 * - 50 eligible real sessions (idle in transaction), both agents racing for each → one incident
 *   per session and exactly 20 (`kills_per_minute_cap`, one budget per database, shared through
 *   the store) terminated in the minute, the server's own view asserted.
 */
import { assert, describe, it } from "@effect/vitest"
import { afterAll, beforeAll } from "vitest"
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import pg from "pg"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../../..")
const SERVICES = path.join(root, "scripts/services.sh")
const LEASE = `two-agents-${process.pid}`
const schema = `bp_two_${process.pid}_${randomBytes(3).toString("hex")}`

const SCENARIOS = ["one-target", "targets", "kill-cap"] as const
const APP = `two-agents-${process.pid}`

let env: Record<string, string> = {}
let admin: pg.Pool
const sessions: Array<pg.Client> = []
let pids: ReadonlyArray<number> = []

interface Counters {
  readonly scenario: string
  readonly agent: string
  readonly statuses: Readonly<Record<string, number>>
  readonly incidents: ReadonlyArray<string>
  readonly applied: number
  readonly denied: number
  readonly ms: number
}

/** One agent child: its `ready <scenario>` and counter lines, in order. */
interface AgentChild {
  readonly process: ChildProcessWithoutNullStreams
  readonly next: (prefix: string) => Promise<string>
}

const agents: Array<AgentChild> = []

const services = (...args: ReadonlyArray<string>) =>
  execFileSync("bash", [SERVICES, ...args], { cwd: root, env: { ...process.env, BYTEPORT_SERVICES: "postgres" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const startAgent = (agent: string): AgentChild => {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", path.join(here, "two-agents/agent.ts")], {
    cwd: root,
    env: {
      ...process.env,
      BP_SCENARIOS: SCENARIOS.join(","),
      BP_SCHEMA: schema,
      BP_AGENT: agent,
      BP_STORE_URL: env["BYTEPORT_TEST_PG_SUPER_URL"] ?? "",
      BP_AGENT_PG_URL: env["BYTEPORT_TEST_PG_AGENT_URL"] ?? "",
      BP_PIDS: pids.join(","),
      BYTEPORT_AGENT_ID: `reliability-${agent}`
    }
  })
  let stderr = ""
  child.stderr.on("data", (d) => (stderr += String(d)))
  const lines: Array<string> = []
  const waiters: Array<() => void> = []
  let exited: string | undefined
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line)
    for (const w of waiters.splice(0)) w()
  })
  child.on("exit", (code) => {
    exited = `agent ${agent} exited ${code}: ${stderr.slice(-2000)}`
    for (const w of waiters.splice(0)) w()
  })
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const i = lines.findIndex((l) => l.startsWith(prefix))
        if (i >= 0) return resolve(lines.splice(i, 1)[0]!)
        if (exited !== undefined) return reject(new Error(exited))
        waiters.push(check)
      }
      check()
    })
  return { process: child, next }
}

/** Releases both agents on one scenario at once; their counters. */
const runScenario = async (scenario: string): Promise<ReadonlyArray<Counters>> => {
  await Promise.all(agents.map((a) => a.next(`ready ${scenario}`)))
  for (const a of agents) a.process.stdin.write(`go ${scenario}\n`)
  return Promise.all(agents.map(async (a) => JSON.parse(await a.next(`{"scenario":"${scenario}"`)) as Counters))
}

beforeAll(async () => {
  services("up", "--lease", LEASE, "--pid", String(process.pid))
  env = Object.fromEntries(services("env").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))
  admin = new pg.Pool({ connectionString: env["BYTEPORT_TEST_PG_SUPER_URL"], max: 2 })
  admin.on("error", () => undefined)
  await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  await admin.query(`CREATE TABLE ${schema}.applied (target text NOT NULL, agent text NOT NULL, idempotency_key text NOT NULL)`)
  // 50 eligible sessions: idle in transaction, an application user's, no row locks
  for (let i = 0; i < 50; i++) {
    const c = new pg.Client({ connectionString: env["BYTEPORT_TEST_PG_URL"], application_name: APP })
    c.on("error", () => undefined)
    await c.connect()
    await c.query("BEGIN; SELECT 1 FROM pg_class LIMIT 1")
    sessions.push(c)
  }
  pids = (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", [APP])).rows.map((r) => r.pid)
  agents.push(startAgent("a"), startAgent("b"))
}, 120_000)

afterAll(async () => {
  for (const a of agents) if (a.process.exitCode === null) a.process.kill("SIGKILL")
  await Promise.all(sessions.map((c) => c.end().catch(() => undefined)))
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
  await admin?.end()
  try {
    services("down", "--lease", LEASE)
  } catch {
    // another lease keeps the servers
  }
})

const count = async (sql: string, params: ReadonlyArray<unknown> = []): Promise<number> =>
  Number((await admin.query<{ n: string }>(sql, [...params])).rows[0]?.n ?? -1)
const sum = (cs: ReadonlyArray<Counters>, status: string) => cs.reduce((n, c) => n + (c.statuses[status] ?? 0), 0)

describe("two agent processes sharing one PgStore (real PostgreSQL)", () => {
  it("1,000 concurrent signals on one target (500 each) → one incident, one plan, one applied action, 999 duplicates", async () => {
    const cs = await runScenario("one-target")
    const target = `service:${schema}/one-target/t0`
    assert.strictEqual(sum(cs, "duplicate"), 999, JSON.stringify(cs.map((c) => [c.statuses, c.ms])))
    assert.strictEqual(sum(cs, "recovered"), 1)
    assert.strictEqual(cs.reduce((n, c) => n + c.incidents.length, 0), 1)
    assert.strictEqual(cs.reduce((n, c) => n + c.applied, 0), 1)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.applied`), 1)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.incidents WHERE target_key = $1`, [target]), 1)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.journal WHERE type = 'planned'`), 1)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.journal WHERE type = 'applied'`), 1)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.windows WHERE key LIKE 'test.mark%'`), 1)
  }, 60_000)

  it("1,000 signals over 50 targets (500 each), at most one incident per target → exactly 50", async () => {
    await admin.query(`TRUNCATE ${schema}.applied`)
    const cs = await runScenario("targets")
    assert.strictEqual(sum(cs, "recovered"), 50, JSON.stringify(cs.map((c) => c.statuses)))
    assert.strictEqual(sum(cs, "duplicate"), 950)
    assert.strictEqual(cs.reduce((n, c) => n + c.applied, 0), 50)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.applied`), 50)
    assert.strictEqual(await count(`SELECT count(DISTINCT target) AS n FROM ${schema}.applied`), 50)
    // with the first test's one incident
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.incidents WHERE runbook = 'test.reliability.mark'`), 51)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.journal WHERE type = 'applied'`), 51)
  }, 60_000)

  it("50 eligible real sessions, both agents racing → exactly 20 terminated in the minute (kills_per_minute_cap)", async () => {
    assert.strictEqual(pids.length, 50)
    const cs = await runScenario("kill-cap")
    assert.strictEqual(sum(cs, "duplicate"), 50, JSON.stringify(cs.map((c) => c.statuses)))
    assert.strictEqual(cs.reduce((n, c) => n + c.incidents.length, 0), 50)
    assert.strictEqual(cs.reduce((n, c) => n + c.applied, 0), 20)
    assert.strictEqual(cs.reduce((n, c) => n + c.denied, 0), 30)
    assert.strictEqual(await count("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [APP]), 30)
    assert.strictEqual(await count(`SELECT count(*) AS n FROM ${schema}.windows WHERE key LIKE 'db.kills%'`), 20)
  }, 60_000)
})
