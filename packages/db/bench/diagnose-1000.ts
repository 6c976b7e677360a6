/**
 * Benchmark (not a test): the db.pool.six-class diagnosis against 1,000 real connections.
 *
 *   npm run bench -w @byteport/db            (or: npx tsx --conditions=@byteport/source packages/db/bench/diagnose-1000.ts)
 *
 * It starts its own throwaway PostgreSQL with `scripts/services.sh` (BYTEPORT_SERVICES=postgres,
 * a temp BYTEPORT_SERVICES_DIR, a free port, BYTEPORT_PG_MAX_CONNECTIONS=1100), so the shared
 * test instance is never touched; opens 1,000 connections in mixed states (idle, idle in
 * transaction, active `pg_sleep`, from several application names); runs PoolDiagnoser (every
 * probe: utilization, pg_stat_activity, the idle-in-transaction trend, deploy marker, pool
 * settings), the PoolSixClass classifier and the postmortem (fingerprints + permanent fix) a few
 * times; prints p50 / p95 and memory; then stops the instance and deletes its directory.
 *
 * Knobs (env): BENCH_CONNECTIONS (1000), BENCH_RUNS (10), BENCH_PORT (first free of 25500–25599).
 *
 * The baseline: the SQL one diagnosis issues (recorded from the `pg` client during the warm-up
 * run: text and parameters) issued again raw through one `pg` client, sequentially, in the same
 * run — the SDK's overhead ratio. The queries are listed. Every figure of the combined table is
 * also printed as a `BENCH {json}` row for `scripts/bench.ts` (`npm run bench`).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Signal, TargetRef } from "@byteport/core"
import { Effect, Redacted } from "effect"
import pg from "pg"
import * as PoolSixClass from "../src/classifiers/PoolSixClass"
import * as PoolDiagnoser from "../src/diagnosers/PoolDiagnoser"
import * as Postmortem from "../src/postmortem/Postmortem"
import * as Postgres from "../src/Postgres"
import * as PgActivity from "../src/probes/PgActivity"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")
const servicesSh = path.join(repo, "scripts", "services.sh")

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1000)
const RUNS = Number(process.env.BENCH_RUNS ?? 10)

const run = (file: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, timeoutMs: number) =>
  new Promise<string>((resolve, reject) => {
    execFile(file, [...args], { env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

const pickPort = async (): Promise<number> => {
  if (process.env.BENCH_PORT !== undefined) return Number(process.env.BENCH_PORT)
  for (let p = 25500; p < 25600; p++) if (await portFree(p)) return p
  throw new Error("no free port in 25500-25599")
}

const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const ms = (x: number) => `${x.toFixed(1)} ms`

/**
 * The postmaster and its children: summed VmRSS (shared memory counted once per process that
 * touched it) and summed Pss (shared pages split between their users: the real footprint).
 */
const serverRss = (postmasterPid: number): { readonly processes: number; readonly rssBytes: number; readonly pssBytes: number } => {
  let processes = 0
  let rssBytes = 0
  let pssBytes = 0
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = fs.readFileSync(`/proc/${entry}/status`, "utf8")
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1])
      if (ppid !== postmasterPid && Number(entry) !== postmasterPid) continue
      processes++
      rssBytes += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
      const rollup = fs.readFileSync(`/proc/${entry}/smaps_rollup`, "utf8")
      pssBytes += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024
    } catch {
      // the process ended meanwhile
    }
  }
  return { processes, rssBytes, pssBytes }
}

/** The mix: [application_name, state, share]. */
const MIX: ReadonlyArray<readonly [string, "idle" | "idle in transaction" | "active", number]> = [
  ["web", "idle", 0.45],
  ["checkout", "idle in transaction", 0.3],
  ["api", "active", 0.15],
  ["nightly-cron", "active", 0.1]
]

const main = async () => {
  const dir = fs.mkdtempSync("/tmp/bpb-")
  const port = await pickPort()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BYTEPORT_SERVICES: "postgres",
    BYTEPORT_SERVICES_DIR: dir,
    BYTEPORT_PG_PORT: String(port),
    BYTEPORT_PG_MAX_CONNECTIONS: String(CONNECTIONS + 100),
    BYTEPORT_SKIP_INSTALL: "1"
  }
  const clients: Array<pg.Client> = []
  let started = false
  const cleanup = async () => {
    // Stop the instance first: its fast shutdown ends every backend, pg_sleep included (a client's
    // own Terminate message is read only after its statement finishes).
    if (started) await run("bash", [servicesSh, "down"], env, 120_000).catch((e) => console.error(String(e)))
    await Promise.all(
      clients.splice(0).map((c) => Promise.race([c.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]))
    )
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130))
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  try {
    // A throwaway instance. The shared instance's pristine template (same script, same server
    // version) is copied when present, which saves an initdb.
    const shared = path.join(repo, ".services", "template")
    const template = fs.existsSync(shared) ? fs.readdirSync(shared).find((d) => d.startsWith("pg-")) : undefined
    if (template !== undefined) {
      fs.mkdirSync(path.join(dir, "template"), { recursive: true })
      await run("cp", ["-a", path.join(shared, template), path.join(dir, "template", template)], env, 120_000)
    }
    let t = performance.now()
    started = true
    await run("bash", [servicesSh, "up"], env, 300_000)
    const settings = Object.fromEntries(
      (await run("bash", [servicesSh, "env"], env, 60_000)).split("\n").filter((l) => l.includes("=")).map((l) => {
        const i = l.indexOf("=")
        return [l.slice(0, i), l.slice(i + 1)] as const
      })
    )
    const appUrl = settings.BYTEPORT_TEST_PG_URL!
    const agentUrl = settings.BYTEPORT_TEST_PG_AGENT_URL!
    const postmasterPid = Number(settings.BYTEPORT_TEST_PG_PID)
    console.log(`throwaway PostgreSQL on 127.0.0.1:${port} (max_connections ${CONNECTIONS + 100}) up in ${ms(performance.now() - t)}`)

    // 1,000 connections in mixed states
    t = performance.now()
    const plan = MIX.flatMap(([app, state, share]) => Array.from({ length: Math.round(share * CONNECTIONS) }, () => [app, state] as const))
      .slice(0, CONNECTIONS)
    let next = 0
    let absorbed = 0
    const opener = async () => {
      while (next < plan.length) {
        const i = next++
        const [app, state] = plan[i]!
        const c = new pg.Client({ connectionString: appUrl, application_name: app })
        c.on("error", () => {
          absorbed++
        })
        await c.connect()
        clients.push(c)
        if (state === "idle") await c.query(`SELECT ${i} AS n /* idle ${i} */`)
        else if (state === "idle in transaction") {
          await c.query("BEGIN")
          await c.query(`SELECT relname FROM pg_class WHERE oid = ${i} AND relkind IN ('r', 'i', 'v')`)
        } else void c.query(`SELECT pg_sleep(${600 + (i % 7)})`).catch(() => undefined)
      }
    }
    await Promise.all(Array.from({ length: 32 }, opener))
    console.log(`opened ${clients.length} connections in ${ms(performance.now() - t)}`)

    const agent = Postgres.layer({ url: Redacted.make(agentUrl), poolMax: 4, statementTimeoutMillis: 30_000 })
    // wait until pg_stat_activity shows the mix
    for (;;) {
      const rows = await Effect.runPromise(PgActivity.sessions.pipe(Effect.provide(agent)))
      const active = rows.filter((r) => r.state === "active").length
      if (rows.length >= CONNECTIONS && active >= plan.filter(([, s]) => s === "active").length) break
      await new Promise((r) => setTimeout(r, 100))
    }

    const signal = Signal.make({
      type: "db.pool.exhaustion",
      target: TargetRef.make("database", "bench/appdb"),
      observedAt: Date.now(),
      evidence: { lastDeploy: { sha: "bench000", at: Date.now() - 60_000 } }
    })
    // the trend's samples back to back: what is measured is the probes, not the 1 s spacing
    const diagnose = PoolDiagnoser.make({ trendSamples: 3, trendInterval: "0 millis", timeout: "60 seconds" })
    const classify = PoolSixClass.classifier()
    const timings = { sessions: [] as Array<number>, diagnose: [] as Array<number>, classify: [] as Array<number>, postmortem: [] as Array<number>, raw: [] as Array<number> }
    // the SQL of one diagnosis, recorded from the pg client during the warm-up run
    const recorded: Array<{ readonly text: string; readonly values: Array<unknown> | undefined }> = []
    let recording = false
    const proto = pg.Client.prototype as unknown as { query: (...args: Array<unknown>) => unknown }
    const origQuery = proto.query
    proto.query = function(this: unknown, ...args: Array<unknown>) {
      if (recording) {
        const a = args[0] as string | { text?: string; values?: Array<unknown> }
        const text = typeof a === "string" ? a : a?.text
        const values = typeof a === "string" ? args[1] : a?.values
        if (typeof text === "string") recorded.push({ text, values: Array.isArray(values) ? values : undefined })
      }
      return origQuery.apply(this, args)
    }
    const raw = new pg.Client({ connectionString: agentUrl, application_name: "bench-raw" })
    await raw.connect()
    let heapPeak = 0
    let rssPeak = 0
    let last: { facts: unknown; cls: string; groups: number; sessions: number; utilization: string } | undefined
    const before = process.memoryUsage()
    const program = Effect.gen(function*() {
      for (let r = 0; r <= RUNS; r++) {
        const t0 = performance.now()
        const rows = yield* PgActivity.sessions
        const t1 = performance.now()
        recording = r === 0
        const facts = yield* diagnose(signal)
        recording = false
        const t2 = performance.now()
        const classification = classify(facts)
        const t3 = performance.now()
        const known = Object.fromEntries(Object.entries(facts).map(([k, f]) => [k, (f as { _tag: string; value?: unknown }).value]))
        const postmortem = Postmortem.make(classification, known as unknown as PoolDiagnoser.PoolFacts)
        const t4 = performance.now()
        const mem = process.memoryUsage()
        heapPeak = Math.max(heapPeak, mem.heapUsed)
        rssPeak = Math.max(rssPeak, mem.rss)
        if (r > 0) {
          // run 0 is the warm-up
          timings.sessions.push(t1 - t0)
          timings.diagnose.push(t2 - t1)
          timings.classify.push(t3 - t2)
          timings.postmortem.push(t4 - t3)
          const r0 = performance.now()
          for (const q of recorded) yield* Effect.promise(() => raw.query(q.text, q.values))
          timings.raw.push(performance.now() - r0)
        }
        const u = facts.utilization._tag === "Known" ? facts.utilization.value : undefined
        last = {
          facts,
          cls: classification._tag === "Classified" ? `${classification.class} (${classification.confidence})` : classification._tag,
          groups: (postmortem.query_fingerprints as ReadonlyArray<unknown>).length,
          sessions: rows.length,
          utilization: u === undefined ? "unknown" : `${u.clientBackends}/${u.available} = ${(u.ratio * 100).toFixed(1)}%`
        }
      }
    }).pipe(Effect.provide(agent))
    await Effect.runPromise(program)
    await raw.end()
    proto.query = origQuery
    const server = serverRss(postmasterPid)

    console.log("")
    console.log(`sessions seen: ${last!.sessions}; utilization ${last!.utilization}; class: ${last!.cls}; fingerprint groups: ${last!.groups}`)
    console.log(`runs: ${RUNS} (after 1 warm-up)`)
    console.log("| step | p50 | p95 | max |")
    console.log("|---|---|---|---|")
    for (const [name, xs] of Object.entries(timings)) {
      console.log(`| ${name} | ${ms(quantile(xs, 0.5))} | ${ms(quantile(xs, 0.95))} | ${ms(Math.max(...xs))} |`)
    }
    const total = timings.diagnose.map((d, i) => d + timings.classify[i]! + timings.postmortem[i]!)
    console.log(`| diagnose + classify + postmortem | ${ms(quantile(total, 0.5))} | ${ms(quantile(total, 0.95))} | ${ms(Math.max(...total))} |`)
    console.log("")
    console.log(`bench process: heapUsed ${mb(before.heapUsed)} before the runs, peak ${mb(heapPeak)}; rss peak ${mb(rssPeak)} (includes the ${clients.length} client connections)`)
    console.log(`facts of one diagnosis as JSON: ${(JSON.stringify(last!.facts).length / 1024).toFixed(0)} KiB`)
    console.log(`server: ${server.processes} postgres processes, Pss sum ${mb(server.pssBytes)} (VmRSS sum ${mb(server.rssBytes)}, shared memory counted per process)`)
    console.log(`connection errors absorbed during the bench: ${absorbed}`)
    console.log(`the SQL of one diagnosis (${recorded.length} statements, issued raw as the baseline):`)
    for (const q of recorded) console.log(`  ${q.text.replace(/\s+/g, " ").slice(0, 160)}${q.text.length > 160 ? " …" : ""}`)
    const emit = (row: Record<string, unknown>) => console.log(`BENCH ${JSON.stringify(row)}`)
    const spread = (xs: Array<number>) => `p99 ${ms(quantile(xs, 0.99))}`
    emit({ metric: `PostgreSQL diagnose p50 (${last!.sessions} connections)`, byteport: quantile(timings.diagnose, 0.5), baseline: quantile(timings.raw, 0.5), unit: "ms", runs: timings.diagnose.length, spread: `${spread(timings.diagnose)} vs ${spread(timings.raw)}`, note: `baseline: the same ${recorded.length} statements raw through pg, sequentially` })
    emit({ metric: `PostgreSQL diagnose p99 (${last!.sessions} connections)`, byteport: quantile(timings.diagnose, 0.99), baseline: quantile(timings.raw, 0.99), unit: "ms", runs: timings.diagnose.length })
    emit({ metric: `PoolSixClass classify, one diagnosis (${last!.sessions} sessions)`, byteport: quantile(timings.classify, 0.5), unit: "ms", runs: timings.classify.length, spread: spread(timings.classify) })
    emit({ metric: `statements per diagnosis`, byteport: recorded.length, unit: "statements", runs: 1 })
  } finally {
    const t = performance.now()
    await cleanup()
    console.log(`cleaned up (connections closed, instance stopped, ${dir} removed) in ${ms(performance.now() - t)}`)
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(1)
  }
)
