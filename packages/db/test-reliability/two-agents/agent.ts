/**
 * One agent process of `two-agents.test.ts`: it shares one PgStore (schema `BP_SCHEMA` on the
 * test PostgreSQL) with its twin. For each scenario of `BP_SCENARIOS` (in order) it prints
 * `ready <scenario>`, waits for `go <scenario>` on stdin, handles that scenario's signals
 * concurrently through `Runbook.handle` and prints one JSON line of counters.
 *
 * Scenarios:
 * - `one-target` / `targets`: signals `BP_SIGNALS` over `BP_TARGETS` targets; the plan applies one
 *   `test.mark` action, which inserts a row into `<schema>.applied` (the mutation, counted by
 *   the parent) under a per-target cap of 1 a minute (a second application would be denied);
 * - `kill-cap`: one signal per session pid of `BP_PIDS` (real idle-in-transaction backends); the
 *   plan terminates that backend with `pg.terminateBackend` under `kills_per_minute_cap` 20,
 *   whose budget (one per database target) the two agents share through the store.
 */
import { Action, Classifier, Diagnoser, Guardrail, Plan, Runbook, type Signal, TargetRef, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import * as readline from "node:readline"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as Postgres from "../../src/Postgres"
import * as PgActivity from "../../src/probes/PgActivity"
import * as PgStore from "../../src/stores/PgStore"

const env = (name: string): string => {
  const v = process.env[name]
  if (v === undefined || v === "") throw new Error(`${name} is not set`)
  return v
}
const schema = env("BP_SCHEMA")
const agent = env("BP_AGENT")
const storeUrl = env("BP_STORE_URL")
const store = PgStore.layer({ url: Redacted.make(storeUrl), schema, poolMax: 8, applicationName: `byteport-store-${agent}` })

const verifyOk = Verifier.fromChecks(() => Effect.succeed([{ name: "done", ok: true, detail: "test" }]))

/** The mark scenarios: one action per incident, its application a row in `<schema>.applied`. */
const marks = (scenario: string, signals: number, targets: number) => {
  const sql = new pg.Pool({ connectionString: storeUrl, max: 2 })
  sql.on("error", () => undefined)
  const handler = Testing.recordingHandler("test.mark", {
    guardrails: [Guardrail.perMinuteCap({ name: "marks_per_minute", key: Guardrail.keys.perTarget("test.mark"), max: 1 })],
    apply: (action) =>
      Effect.promise(() =>
        sql.query(`INSERT INTO ${schema}.applied (target, agent, idempotency_key) VALUES ($1, $2, $3)`, [action.target.ref, agent, action.idempotencyKey])
      ).pipe(Effect.as({ agent }))
  })
  const runbook = Runbook.make<{ readonly target: string }>({
    id: "test.reliability.mark",
    signals: ["test.reliability.signal"],
    diagnose: Diagnoser.make({ target: Diagnoser.probe("target", (s) => Effect.succeed(s.target.ref)) }),
    classify: Classifier.firstMatch([Classifier.rule<{ readonly target: string }>()({ class: "marked", confidence: 0.9, needs: ["target"], when: () => true })]),
    remediate: (_c, _f, signal) =>
      Effect.succeed(Plan.make("test.reliability.mark", "marked", `mark ${signal.target.ref}`, Plan.act(Action.make({ kind: "test.mark", target: signal.target, params: {}, description: `mark ${signal.target.ref}` })))),
    verify: verifyOk,
    verifySchedule: Verifier.once("0 millis"),
    defaultMode: "auto"
  })
  const list: ReadonlyArray<Signal.Signal> = Array.from({ length: signals }, (_, i) => ({
    type: "test.reliability.signal",
    target: TargetRef.make("service", `${schema}/${scenario}/t${i % targets}`),
    observedAt: Date.now(),
    evidence: { agent, n: i }
  }))
  return {
    run: Effect.forEach(list, (s) => Runbook.handle(runbook, s, { mode: "auto" }), { concurrency: "unbounded" }).pipe(
      Effect.provide(Testing.layer({ handlers: [handler], store }))
    ),
    applied: () => handler.writes.length,
    denied: () => 0,
    close: () => sql.end()
  }
}

/** The kill-cap scenario: one incident per backend, each terminating it, under the shared cap of 20. */
const kills = () => {
  const pids = env("BP_PIDS").split(",").map(Number)
  const database = TargetRef.make("database", `${schema}/appdb`)
  type F = { readonly session: PgActivity.PgSession | null }
  const runbook = Runbook.make<F, Postgres.Postgres>({
    id: "test.reliability.kill",
    signals: ["test.reliability.session"],
    diagnose: Diagnoser.make<F, Postgres.Postgres>({
      session: Diagnoser.probe("session", (s) => Effect.map(PgActivity.sessions, (rows) => rows.find((r) => r.pid === Number(s.evidence["pid"])) ?? null))
    }),
    classify: Classifier.firstMatch([Classifier.rule<F>()({ class: "eligible", confidence: 0.9, needs: ["session"], when: (f) => f.session !== null })]),
    remediate: (_c, facts, signal) =>
      Effect.sync(() => {
        const s = facts.session._tag === "Known" ? facts.session.value : null
        const a = s === null ? undefined : PgTerminateBackend.action(database, s, "reliability: two agents, one cap")
        return Plan.make("test.reliability.kill", "eligible", `terminate ${signal.target.ref}`, a === undefined ? Plan.escalate("no session", []) : Plan.fallback(Plan.act(a), Plan.seq(), { on: ["denied"] }))
      }),
    verify: verifyOk,
    verifySchedule: Verifier.once("0 millis"),
    defaultMode: "auto"
  })
  const list: ReadonlyArray<Signal.Signal> = pids.map((pid) => ({
    type: "test.reliability.session",
    target: TargetRef.make("session", `${schema}/appdb/${pid}`),
    observedAt: Date.now(),
    evidence: { pid }
  }))
  let applied = 0
  let denied = 0
  return {
    run: Effect.forEach(list, (s) => Runbook.handle(runbook, s, { mode: "auto" }), { concurrency: 10 }).pipe(
      Effect.tap((rs) =>
        Effect.sync(() => {
          for (const r of rs) {
            if (Runbook.isAwaitingApproval(r)) continue
            applied += r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "applied").length
            denied += r.outcomes.filter((o) => o.kind === "pg.terminateBackend" && o.status === "denied").length
          }
        })
      ),
      Effect.provide(
        Testing.layer<Postgres.Postgres>({ handlers: [PgTerminateBackend.make({ killsPerMinuteCap: 20 })], store }).pipe(
          Layer.provideMerge(Postgres.layer({ url: Redacted.make(env("BP_AGENT_PG_URL")), poolMax: 4 }))
        )
      )
    ),
    applied: () => applied,
    denied: () => denied,
    close: async () => undefined
  }
}

/** What each scenario gives the loop. */
interface Scenario {
  readonly run: Effect.Effect<ReadonlyArray<Runbook.HandleResult>, unknown>
  readonly applied: () => number
  readonly denied: () => number
  readonly close: () => Promise<unknown>
}

const SCENARIOS: Record<string, () => Scenario> = {
  "one-target": () => marks("one-target", 500, 1),
  "targets": () => marks("targets", 500, 50),
  "kill-cap": kills
}

const main = async () => {
  const names = env("BP_SCENARIOS").split(",")
  const rl = readline.createInterface({ input: process.stdin })
  const gos: Array<string> = []
  let waiting: (() => void) | undefined
  rl.on("line", (line) => {
    gos.push(line.trim())
    waiting?.()
  })
  const go = (name: string) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (gos.includes(`go ${name}`)) resolve()
        else waiting = check
      }
      check()
    })
  for (const name of names) {
    const make = SCENARIOS[name]
    if (make === undefined) throw new Error(`unknown scenario ${name}`)
    const s = make()
    process.stdout.write(`ready ${name}\n`)
    await go(name)
    const started = Date.now()
    const results = await Effect.runPromise(s.run)
    const statuses: Record<string, number> = {}
    const incidents: Array<string> = []
    for (const r of results) {
      const status = Runbook.isAwaitingApproval(r) ? "awaiting_approval" : r.status
      statuses[status] = (statuses[status] ?? 0) + 1
      if (status !== "duplicate") incidents.push(r.incidentId)
    }
    process.stdout.write(JSON.stringify({ scenario: name, agent, statuses, incidents, applied: s.applied(), denied: s.denied(), ms: Date.now() - started }) + "\n")
    await s.close()
  }
  rl.close()
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exit(1)
})
