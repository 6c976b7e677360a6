/**
 * kill -9 mid-remediation, db.pool.six-class (issue 17 §1, fourth bullet): the agent is a child
 * process (`kill9/pool-agent.ts`: the real runbook over a PgStore journal, the real PostgreSQL),
 * killed with SIGKILL at each journal boundary of an idle_in_tx_backlog incident — after intent,
 * after the kill cap's window acquire but before `acquired` is journaled, after acquire, with `pg_terminate_backend` in flight (the server ran it, the answer never
 * reached the agent: a proxy in this process holds it), after applied, during verification,
 * while awaiting approval — and a new process resumes it (`Runbook.resume`). The database state
 * decides: every planned session terminated once, the others alive, one unit of
 * `kills_per_minute_cap` spent per terminated session (never twice for one step), one `applied`
 * per step in the journal. `pg.terminateBackend`'s `observe` always can tell (the backend, pid
 * and backend_start, exists or not); "outcome unknown" is exercised by the k8s kill -9 test.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as net from "node:net"
import * as nodePath from "node:path"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { GuardrailStore } from "@byteport/core"
import { Effect, Redacted } from "effect"
import pg from "pg"
import * as ApprovalRecord from "../../core/src/guardrails/approvalRecord"
import * as PgStore from "../src/stores/PgStore"
import { closeAll, openSession, type RawSession, uniqueName } from "../test/support/pg"
import { describeWithServices } from "../test/support/services"
import { alive } from "../test/pool/world"

const AGENT = nodePath.join(__dirname, "kill9/pool-agent.ts")
const schema = `byteport_kill9_${randomUUID().replace(/-/g, "").slice(0, 12)}`

describeWithServices(["postgres"], "kill -9 mid-remediation: db.pool.six-class over a PgStore, real PostgreSQL", (env) => {
  const appUrl = env.BYTEPORT_TEST_PG_URL ?? ""
  const agentUrl = env.BYTEPORT_TEST_PG_AGENT_URL ?? ""
  afterEach(() => closeAll())
  afterAll(async () => {
    const c = new pg.Client({ connectionString: appUrl })
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await c.end()
  })

  interface Run {
    readonly child: ChildProcess
    readonly lines: Array<string>
    readonly exited: Promise<number | null>
    readonly waitFor: (prefix: string, ms?: number) => Promise<string>
  }
  const agent = (vars: Record<string, string>): Run => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", AGENT], {
      cwd: nodePath.join(__dirname, "../../.."),
      env: { ...process.env, BYTEPORT_STORE_PG_URL: appUrl, BYTEPORT_STORE_SCHEMA: schema, BYTEPORT_AGENT_ID: "agent-a", KILL9_PG_URL: agentUrl, ...vars },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const lines: Array<string> = []
    let buf = ""
    let err = ""
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split("\n")
      buf = parts.pop()!
      lines.push(...parts)
    })
    child.stderr!.on("data", (d: Buffer) => void (err += d.toString()))
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
    const waitFor = async (prefix: string, ms = 60_000) => {
      const t0 = Date.now()
      for (;;) {
        const hit = lines.find((l) => l.startsWith(prefix))
        if (hit) return hit
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`agent exited (${child.exitCode ?? child.signalCode}) before "${prefix}": ${lines.join("\n")}\n${err.slice(-3000)}`)
        if (Date.now() - t0 > ms) throw new Error(`no "${prefix}" after ${ms} ms: ${lines.join("\n")}\n${err.slice(-3000)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    return { child, lines, exited, waitFor }
  }
  const kill9 = async (r: Run) => {
    r.child.kill("SIGKILL")
    await r.exited
    expect(r.child.signalCode).toBe("SIGKILL")
  }
  type Result = { tag: string; status?: string; class?: string; outcomes: Array<{ kind: string; status: string; pid?: number; detail: string }>; escalation?: string }
  const result = (line: string) => JSON.parse(line.slice("RESULT ".length)) as Result

  const withStore = <A>(f: Effect.Effect<A, unknown, any>) =>
    Effect.runPromise(Effect.provide(f, PgStore.layer({ url: Redacted.make(appUrl), schema, poolMax: 2 })) as Effect.Effect<A, unknown>)
  const stepEntries = async (incidentId: string) => {
    const c = new pg.Client({ connectionString: appUrl })
    await c.connect()
    try {
      const r = await c.query(`SELECT type, step_path FROM ${schema}.journal WHERE incident_id = $1 ORDER BY seq`, [incidentId])
      return r.rows as Array<{ type: string; step_path: string | null }>
    } finally {
      await c.end()
    }
  }
  /** Units of `kills_per_minute_cap` spent on the target (the store's window rows). */
  const killsSpent = async (ref: string) => {
    const c = new pg.Client({ connectionString: appUrl })
    await c.connect()
    try {
      const r = await c.query(`SELECT coalesce(sum(weight), 0)::int AS n FROM ${schema}.windows WHERE key LIKE 'db.kills:%' AND key LIKE $1`, [`%${ref}%`])
      return r.rows[0].n as number
    } finally {
      await c.end()
    }
  }

  /** Three sessions idle in transaction past the threshold (`idleInTxMinSessions`): the backlog the runbook terminates. */
  const backlog = async (label: string) => {
    const name = uniqueName(label)
    const sessions: Array<RawSession> = await Promise.all([openSession(appUrl, name), openSession(appUrl, name), openSession(appUrl, name)])
    await Promise.all(sessions.map((s) => s.q("BEGIN; SELECT 1 FROM pg_class LIMIT 1")))
    await new Promise((r) => setTimeout(r, 500))
    return sessions
  }
  const vars = (c: string, sessions: ReadonlyArray<RawSession>, extra: Record<string, string> = {}) => ({
    KILL9_PIDS: sessions.map((s) => s.pid).join(","),
    KILL9_TARGET: `kill9/${c}-${schema}`,
    KILL9_INCIDENT: `inc-${c}`,
    ...extra
  })
  const handleUntil = async (c: string, sessions: ReadonlyArray<RawSession>, at: string, extra: Record<string, string> = {}) => {
    const a = agent({ ...vars(c, sessions, extra), KILL9_MODE: "handle", BYTEPORT_KILL9_AT: at })
    await a.waitFor(`BOUNDARY ${at}`, 90_000)
    await kill9(a)
  }
  const resume = async (c: string, sessions: ReadonlyArray<RawSession>, extra: Record<string, string> = {}) => {
    const a = agent({ ...vars(c, sessions, extra), KILL9_MODE: "resume" })
    const r = result(await a.waitFor("RESULT", 90_000))
    expect(await a.exited).toBe(0)
    return r
  }
  /** After the resume: every session terminated, each step applied once, one kill unit per session. */
  const terminatedOnce = async (c: string, sessions: ReadonlyArray<RawSession>, r: Result) => {
    expect(r.class, JSON.stringify(r)).toBe("idle_in_tx_backlog")
    expect(r.status, JSON.stringify(r)).toBe("recovered")
    const left = await alive(env, sessions.map((s) => s.pid))
    expect(left.size).toBe(0)
    const applied = (await stepEntries(`inc-${c}`)).filter((e) => e.type === "applied").map((e) => e.step_path)
    expect(applied.length).toBe(3)
    expect(new Set(applied).size, "one applied entry per step").toBe(3)
    expect(await killsSpent(`kill9/${c}-`), "one kills_per_minute_cap unit per terminated session").toBe(3)
  }

  it("after intent", async () => {
    const s = await backlog("k9-intent")
    await handleUntil("intent", s, "intent")
    expect((await stepEntries("inc-intent")).filter((e) => e.step_path !== null).map((e) => e.type)).toEqual(["intent"])
    expect((await alive(env, s.map((x) => x.pid))).size).toBe(3)
    await terminatedOnce("intent", s, await resume("intent", s))
  })

  it("after the kill cap's window acquire, before `acquired` is journaled: the resume finds the unit by its token, one unit per session", async () => {
    const s = await backlog("k9-window")
    await handleUntil("window", s, "window")
    expect((await stepEntries("inc-window")).filter((e) => e.step_path !== null).map((e) => e.type)).toEqual(["intent"])
    expect(await killsSpent("kill9/window-"), "the dead agent's unit is in the store").toBe(1)
    expect((await alive(env, s.map((x) => x.pid))).size).toBe(3)
    await terminatedOnce("window", s, await resume("window", s))
  })

  it("after acquire", async () => {
    const s = await backlog("k9-acquired")
    await handleUntil("acquired", s, "acquired")
    expect(await killsSpent("kill9/acquired-")).toBe(1)
    expect((await alive(env, s.map((x) => x.pid))).size).toBe(3)
    await terminatedOnce("acquired", s, await resume("acquired", s))
  })

  it("pg_terminate_backend in flight: the server ran it, the agent never saw the answer; observe settles the step", async () => {
    const s = await backlog("k9-inflight")
    const upstream = new URL(agentUrl)
    let held = false
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port || 5432), upstream.hostname)
      client.on("data", (d) => {
        if (d.toString("latin1").includes("pg_terminate_backend")) held = true
        server.write(d)
      })
      server.on("data", (d) => void (held ? undefined : client.write(d)))
      client.on("error", () => server.destroy())
      server.on("error", () => client.destroy())
      client.on("close", () => server.destroy())
      server.on("close", () => client.destroy())
    })
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()))
    const via = new URL(agentUrl)
    via.hostname = "127.0.0.1"
    via.port = String((proxy.address() as net.AddressInfo).port)
    try {
      const a = agent({ ...vars("inflight", s), KILL9_MODE: "handle", KILL9_PG_URL: via.toString() })
      const t0 = Date.now()
      while (!held) {
        if (Date.now() - t0 > 90_000 || a.child.exitCode !== null) throw new Error(`no pg_terminate_backend sent: ${a.lines.join("\n")}`)
        await new Promise((r) => setTimeout(r, 10))
      }
      // the server terminates the backend; its answer is held
      const t1 = Date.now()
      while ((await alive(env, s.map((x) => x.pid))).size === 3 && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 20))
      await kill9(a)
    } finally {
      proxy.close()
    }
    const steps = (await stepEntries("inc-inflight")).filter((e) => e.step_path !== null)
    expect(steps.map((e) => e.type)).toEqual(["intent", "acquired"])
    expect((await alive(env, s.map((x) => x.pid))).size, "the server terminated the first backend").toBe(2)
    const r = await resume("inflight", s)
    expect(r.outcomes.filter((o) => o.kind === "pg.terminateBackend").map((o) => o.detail)[0]).toContain("observed applied after the restart")
    await terminatedOnce("inflight", s, r)
  })

  it("after applied", async () => {
    const s = await backlog("k9-applied")
    await handleUntil("applied", s, "applied")
    expect((await alive(env, s.map((x) => x.pid))).size).toBe(2)
    await terminatedOnce("applied", s, await resume("applied", s))
  })

  it("during verification", async () => {
    const s = await backlog("k9-verify")
    await handleUntil("verify", s, "verify")
    const types = (await stepEntries("inc-verify")).map((e) => e.type)
    expect(types).toContain("verdict")
    expect(types).not.toContain("closed")
    await terminatedOnce("verify", s, await resume("verify", s))
  })

  it("while awaiting approval: nothing terminated until approved, then each session once", async () => {
    const s = await backlog("k9-approval")
    await handleUntil("approval", s, "approval", { KILL9_APPROVAL: "1" })
    expect((await stepEntries("inc-approval")).some((e) => e.step_path !== null)).toBe(false)
    expect((await alive(env, s.map((x) => x.pid))).size).toBe(3)
    const journal = await withStore(Effect.flatMap(Effect.service(GuardrailStore.GuardrailStore), (st) => st.readJournal("inc-approval")))
    const awaiting = journal.find((e) => e.type === "awaiting_approval")!
    await withStore(ApprovalRecord.grant("inc-approval", { planDigest: String(awaiting.data["planDigest"]), approver: "oncall", expiresAt: Date.now() + 3600_000 }))
    await terminatedOnce("approval", s, await resume("approval", s, { KILL9_APPROVAL: "1" }))
  })
})
