/**
 * Fuzzing `db.pool.six-class` from the recorded corpus (issue 17 §1): `fixtures/corpus/<incident>`
 * holds real-shape `pg_stat_activity`, `pg_roles`, `pg_blocking_pids`, `pg_settings`, pgbouncer
 * `SHOW POOLS / CONFIG / DATABASES` and postgres_exporter exports. Each case takes one export of
 * one incident, mutates its rows (scripts/fuzz-harness.ts: dropped and retyped columns, nulls,
 * huge and non-UTF-8 text, NaN and overflowing numbers, bad timestamps, deep nesting, 100-fold
 * rows, truncated files), parses it back as a file would be (`Table.parse`) and runs the rest of
 * the incident through the runbook's own parts: `PgRecording.facts` → classifier → remediator →
 * `Plan.validate`. Every case ends as a typed `DecodeError`, or a Classification with a plan only
 * when Classified, and no plan kills a superuser or a protected session; no defect, no case over
 * the budget. The seed is printed; BYTEPORT_FUZZ_SEED replays.
 */
import { Plan, Signal, TargetRef } from "@byteport/core"
import { PoolSixClassRunbook, SessionGuardrails } from "@byteport/db"
import { PgRecording, Table } from "@byteport/db/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertDepth, assertWithRegressions, encode, type Ended, judge, mutate, mutations, regressions, report, Tally, truncate } from "../../../scripts/fuzz-harness"

const CORPUS = path.join(import.meta.dirname, "../fixtures/corpus")

type Key = "activity" | "roles" | "blocking" | "settings" | "pools" | "config" | "databases" | "series"

interface Incident {
  readonly name: string
  /** Every recorded export by role (activity may be several). */
  readonly exports: ReadonlyArray<{ readonly key: Key; readonly index: number; readonly file: string; readonly table: Table.Table | null; readonly json: unknown }>
  readonly meta: any
}

const load = (name: string): Incident => {
  const meta = JSON.parse(fs.readFileSync(path.join(CORPUS, name, "meta.json"), "utf8"))
  const exports: Array<Incident["exports"][number]> = []
  for (const [key, v] of Object.entries(meta.files as Record<string, string | ReadonlyArray<string>>)) {
    const files = typeof v === "string" ? [v] : v
    files.forEach((file, index) => {
      const p = path.join(CORPUS, name, file)
      if (key === "series") exports.push({ key, index, file, table: null, json: JSON.parse(fs.readFileSync(p, "utf8")) })
      else {
        const table = Effect.runSync(Table.read(p))
        exports.push({ key: key as Key, index, file, table, json: table.rows })
      }
    })
  }
  return { name, exports, meta }
}

const incidents = fs.readdirSync(CORPUS).filter((d) => fs.statSync(path.join(CORPUS, d)).isDirectory()).sort().map(load)

const PROTECTED = ["pgbouncer", "admin-proxy", "pgadmin"]

/** The incident through the runbook's parts, with one export replaced by `bytes` (parsed as its file would be). */
const pipeline = (incident: Incident, replaced: number, bytes: Buffer | null): Effect.Effect<Ended, unknown> =>
  Effect.gen(function*() {
    const sources = new Map<string, Array<PgRecording.Source>>()
    let series: { readonly data?: unknown } | undefined
    for (const [i, e] of incident.exports.entries()) {
      let table = e.table
      let json = e.json
      if (i === replaced && bytes !== null) {
        const text = bytes.toString("utf8")
        if (e.key === "series") json = yield* Effect.try({ try: () => JSON.parse(text), catch: () => new Table.DecodeError({ file: e.file, row: null, column: null, message: `${e.file}: not JSON` }) })
        else table = yield* Table.parse(e.file.replace(/\.csv$/, ".json"), text)
      }
      if (e.key === "series") series = json as { readonly data?: unknown }
      else sources.set(e.key, [...(sources.get(e.key) ?? []), table!])
    }
    const m = incident.meta
    const one = (k: Key) => sources.get(k)?.[0]
    const opt = <K extends string, V>(k: K, v: V | undefined) => (v === undefined ? {} : { [k]: v } as { [P in K]: V })
    const facts = yield* PgRecording.facts({
      activity: sources.get("activity") ?? [],
      ...(m.capturedAt !== undefined ? { capturedAt: (m.capturedAt as ReadonlyArray<string>).map((t) => Date.parse(t)) } : {}),
      ...opt("roles", one("roles")),
      ...opt("blocking", one("blocking")),
      ...opt("settings", one("settings")),
      ...opt("pools", one("pools")),
      ...opt("config", one("config")),
      ...opt("databases", one("databases")),
      ...opt("series", series),
      ...opt("datname", m.datname as string | undefined),
      ...(m.pgbouncer !== undefined ? { pgbouncer: "absent" as const } : {}),
      lastDeploy: m.lastDeploy === undefined ? null : { ...m.lastDeploy, at: Date.parse(m.lastDeploy.at) }
    })
    const runbook = PoolSixClassRunbook.make()
    const c = runbook.classify(facts)
    if (c._tag !== "Classified") return { classification: c, plan: null, actions: 0 }
    const signal = Signal.make({ type: "db.pool.exhaustion", target: TargetRef.make("database", `corpus/${incident.name}`), observedAt: 0, evidence: {} })
    const plan = yield* (runbook.remediate(c, facts, signal) as unknown as Effect.Effect<Plan.Plan, unknown>)
    yield* Effect.orDie(Plan.validate(plan))
    // the seed's "never" rules hold on mutated input too: no kill of a superuser or a protected session
    const sessions = facts.sessions._tag === "Known" ? facts.sessions.value : []
    for (const a of Plan.actions(plan.root).map((x) => x.action).filter((x) => x.kind.startsWith("pg."))) {
      const s = sessions.find((x) => x.pid === a.params["pid"])
      if (s === undefined || s.rolsuper || SessionGuardrails.isProtectedApplication(s.application_name, PROTECTED) || s.usename === "pgbouncer") {
        return yield* Effect.die(new Error(`${a.kind} ${String(a.params["pid"])}: not a killable client backend (${JSON.stringify(s ?? null).slice(0, 200)})`))
      }
    }
    return { classification: c, plan, actions: Plan.actions(plan.root).length }
  })

describe("fuzz: db.pool.six-class from the recorded corpus", () => {
  it("every mutation of pg_stat_activity, roles, settings, pgbouncer and exporter rows ends typed, classified or escalated", { timeout: 600_000 }, () => {
    expect(incidents.length).toBeGreaterThan(12)
    for (const inc of incidents) expect(judge(`${inc.name} unmutated`, () => pipeline(inc, -1, null))._tag, inc.name).not.toBe("Error")
    const tally = new Tally()
    try {
      assertWithRegressions(
        regressions(import.meta.dirname, "db.pool.six-class"),
        fc.record({
            incident: fc.nat({ max: incidents.length - 1 }),
            file: fc.nat(),
            mutations,
            truncate
          }),
          (k) => {
            const inc = incidents[k.incident]!
            const i = k.file % inc.exports.length
            const bytes = encode(mutate(inc.exports[i]!.json as any, k.mutations), k.truncate)
            tally.add(judge(`${inc.name}/${inc.exports[i]!.file} ${JSON.stringify(k.mutations).slice(0, 300)} truncate=${k.truncate}`, () => pipeline(inc, i, bytes), bytes.length))
          }
      )
    } finally {
      report("db.pool.six-class", tally)
    }
    expect(tally.decoded).toBeGreaterThan(0)
    assertDepth("db.pool.six-class", tally)
  })
})
