/**
 * The agent process of the db kill -9 test (`../kill9.test.ts`): db.pool.six-class (scoped to the
 * test's sessions) over a PgStore journal, against the real PostgreSQL the test's sessions live on.
 *
 * Environment: `BYTEPORT_STORE_PG_URL`, `BYTEPORT_STORE_SCHEMA` (the PgStore),
 * `BYTEPORT_AGENT_ID`; `KILL9_PG_URL` (the agent's connection, possibly through the test's
 * proxy), `KILL9_PIDS` (comma-separated: the sessions in scope), `KILL9_TARGET` (the database
 * target's ref), `KILL9_INCIDENT`; `KILL9_MODE` `handle` | `resume`; `KILL9_APPROVAL=1` adds an
 * `approval` guardrail; `BYTEPORT_KILL9_AT` — `intent`, `acquired`, `applied` (right after that
 * entry is durable), `window` (right after the first step's `kills_per_minute_cap` unit was
 * taken, before `acquired` is journaled), `verify` (right after the first verification poll's `verdict`) or `approval`
 * (paused, polling for the approval): it prints `BOUNDARY <name>` and waits for its SIGKILL.
 *
 * Prints `RESULT <json>` and exits 0.
 */
import { AgentId, Guardrail, GuardrailStore, Runbook, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect, Layer, Redacted } from "effect"
import * as Postgres from "../../src/Postgres"
import * as PgCancelBackend from "../../src/actions/PgCancelBackend"
import * as PgTerminateBackend from "../../src/actions/PgTerminateBackend"
import * as PgStore from "../../src/stores/PgStore"
import * as PoolSixClassRunbook from "../../src/runbooks/db.pool.six-class"

const env = (k: string): string => {
  const v = process.env[k]
  if (v === undefined || v === "") throw new Error(`${k} is not set`)
  return v
}
const incidentId = env("KILL9_INCIDENT")
const at = process.env["BYTEPORT_KILL9_AT"] ?? ""
const pids = new Set((process.env["KILL9_PIDS"] ?? "").split(",").filter((x) => x !== "").map(Number))

const boundary = (name: string) =>
  Effect.sync(() => void process.stdout.write(`BOUNDARY ${name}\n`)).pipe(Effect.andThen(Effect.never))

const journalAt: Record<string, string> = { intent: "intent", acquired: "acquired", applied: "applied", verify: "verdict" }

/** The PgStore, stopping right after the boundary's entry is durable. */
const store = Layer.effect(
  GuardrailStore.GuardrailStore,
  Effect.gen(function*() {
    const s = yield* PgStore.make({ url: Redacted.make(env("BYTEPORT_STORE_PG_URL")), schema: env("BYTEPORT_STORE_SCHEMA"), poolMax: 4 })
    return {
      ...s,
      acquireWindow: (r: Parameters<typeof s.acquireWindow>[0]) =>
        s.acquireWindow(r).pipe(Effect.tap((res) => (res._tag === "Acquired" && at === "window" && r.key.startsWith("db.kills:") ? boundary("window") : Effect.void))),
      appendJournal: (e: Parameters<typeof s.appendJournal>[0]) =>
        s.appendJournal(e).pipe(Effect.tap((written) => (journalAt[at] === written.type ? boundary(at) : Effect.void)))
    }
  })
)

const guard = { killsPerMinuteCap: 20, graceMillis: 1_000 }
const services = Testing.layer<any>({ handlers: [PgTerminateBackend.make(guard), PgCancelBackend.make(guard)] as any, store: store as any }).pipe(
  Layer.provideMerge(Postgres.layer({ url: Redacted.make(env("KILL9_PG_URL")), poolMax: 3 })),
  Layer.provideMerge(Layer.orDie(AgentId.layerConfig))
)

const base = PoolSixClassRunbook.make({
  sessions: (s) => pids.has(s.pid),
  diagnose: { trendSamples: 2, trendInterval: "50 millis", timeout: "10 seconds" },
  verifySchedule: { offsets: [0, 1_500], description: "check, then again at 1.5 s (test)" },
  defaultMode: "auto",
  thresholds: { idleInTxMs: 300, queryBudgetMs: 300 }
})
const runbook = process.env["KILL9_APPROVAL"] === "1"
  ? { ...base, guardrails: [...base.guardrails, Guardrail.approval({ reason: "kill -9 test: a human approves every plan" })] }
  : base

const print = (r: Runbook.HandleResult) =>
  Effect.sync(() => {
    const x = r as any
    process.stdout.write(`RESULT ${JSON.stringify({
      tag: x._tag ?? "IncidentReport",
      status: x.status,
      class: x.classification?.class,
      outcomes: (x.outcomes ?? []).map((o: any) => ({ kind: o.kind, status: o.status, pid: o.result?.pid, detail: String(o.detail).slice(0, 300) })),
      escalation: x.escalation?.reason
    })}\n`)
  })

const program = Effect.gen(function*() {
  if (env("KILL9_MODE") === "handle") {
    const signal = { type: "db.pool.exhaustion", target: TargetRef.make("database", env("KILL9_TARGET")), observedAt: Date.now(), evidence: {} }
    const r = yield* Runbook.handle(runbook, signal, { incidentId, mode: "auto" })
    yield* print(r)
    if (Runbook.isAwaitingApproval(r) && at === "approval") {
      yield* Effect.forkChild(Runbook.awaitApproval(runbook, r, { pollEvery: "200 millis" }))
      yield* Effect.sleep("500 millis")
      yield* boundary("approval")
    }
  } else {
    yield* print(yield* Runbook.resume(runbook, incidentId, { mode: "auto" }))
  }
})

Effect.runPromise(Effect.scoped(Effect.provide(program, services)) as Effect.Effect<void, unknown>).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`agent died: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exit(1)
  }
)
