/**
 * The `db.pool.six-class` replay corpus (`fixtures/corpus/<incident>/`): recorded-shape incidents
 * assembled from PostgreSQL / pgbouncer / postgres_exporter export shapes (each incident's
 * `SOURCE.md` says which), never from BytePort's own simulators or recorders. Each incident is
 * replayed through the runbook's own parts — the recording decoded into the diagnoser's facts
 * (`@byteport/db/testing`), the detector's reading (`PoolExhaustion.postgresSignals`) where the
 * recording has `pg_settings`, the runbook's classifier and its remediator — and must classify
 * exactly as `meta.json` says, with no plan the seed forbids:
 *
 * - for every incident: no plan unless Classified ("never act on unknown"); only the action kinds
 *   the seed gives the class; no kill of a superuser, pgbouncer / admin-proxy / pgadmin session,
 *   protected user or non-client backend (walsender, autovacuum …); no pool raise past the cap
 *   (pools × new size ≤ 80 % of `max_connections − reserved`);
 * - per incident: the `forbidden` entries of its `meta.json`, and the plan it `expected`.
 */
import { Plan, Signal, TargetRef } from "@byteport/core"
import type { Classification, Fact } from "@byteport/core"
import { PoolExhaustion, PoolSixClassRunbook, Postmortem, SessionGuardrails, Utilization } from "@byteport/db"
import { PgRecording, Table } from "@byteport/db/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const CORPUS = path.join(path.dirname(new URL(import.meta.url).pathname), "../../fixtures/corpus")

const Files = Schema.Struct({
  activity: Schema.Union([Schema.String, Schema.Array(Schema.String)]),
  roles: Schema.optionalKey(Schema.String),
  blocking: Schema.optionalKey(Schema.String),
  settings: Schema.optionalKey(Schema.String),
  pools: Schema.optionalKey(Schema.String),
  config: Schema.optionalKey(Schema.String),
  databases: Schema.optionalKey(Schema.String),
  series: Schema.optionalKey(Schema.String)
})

const Outcome = Schema.Literals([
  "leak_after_deploy",
  "idle_in_tx_backlog",
  "long_running_query",
  "missing_pgbouncer",
  "runaway_cron_fanout",
  "undersized_pool",
  "Unclassified",
  "Indeterminate"
])

const Forbidden = Schema.Union([
  Schema.Struct({ rule: Schema.Literal("never_signal"), pids: Schema.Array(Schema.Int), why: Schema.String }),
  Schema.Struct({ rule: Schema.Literal("no_kind"), kinds: Schema.Array(Schema.String), why: Schema.String })
])

const Meta = Schema.Struct({
  runbook: Schema.Literal("db.pool.six-class"),
  postgres: Schema.String,
  files: Files,
  capturedAt: Schema.optionalKey(Schema.Array(Schema.String)),
  datname: Schema.optionalKey(Schema.String),
  pgbouncer: Schema.optionalKey(Schema.Literal("absent")),
  lastDeploy: Schema.optionalKey(Schema.Struct({ sha: Schema.String, at: Schema.String, workload: Schema.optionalKey(Schema.String), application: Schema.optionalKey(Schema.String) })),
  expected: Schema.Struct({
    class: Outcome,
    /** Does the runbook's detector fire on the recording (null: no pg_settings, the detector cannot read it)? */
    signal: Schema.NullOr(Schema.Boolean),
    plan: Schema.optionalKey(Schema.Struct({
      terminates: Schema.optionalKey(Schema.Array(Schema.Int)),
      cancels: Schema.optionalKey(Schema.Array(Schema.Int)),
      handoff: Schema.optionalKey(Schema.String),
      raise: Schema.optionalKey(Schema.Struct({ from: Schema.Int, to: Schema.Int })),
      escalates: Schema.optionalKey(Schema.Boolean)
    }))
  }),
  forbidden: Schema.Array(Forbidden),
  near_miss: Schema.String
})
type Meta = typeof Meta.Type

/** The action kinds (and hand-offs) the seed gives each class. */
const ALLOWED: Readonly<Record<string, ReadonlyArray<string>>> = {
  leak_after_deploy: ["pg.terminateBackend", "handoff"],
  idle_in_tx_backlog: ["pg.terminateBackend"],
  long_running_query: ["pg.cancelBackend", "pg.terminateBackend"],
  missing_pgbouncer: ["pgbouncer.raisePoolSize"],
  undersized_pool: ["pgbouncer.raisePoolSize"],
  runaway_cron_fanout: []
}

const incidents = fs.readdirSync(CORPUS).filter((d) => fs.statSync(path.join(CORPUS, d)).isDirectory()).sort()

const metaOf = (name: string): Meta => Schema.decodeUnknownSync(Meta)(JSON.parse(fs.readFileSync(path.join(CORPUS, name, "meta.json"), "utf8")))

const outcomeOf = (c: Classification.Classification): string => (c._tag === "Classified" ? c.class : c._tag)

/** What a plan does, read off its steps: the first attempt of each fallback is what it does; the whole tree is what it may do. */
interface Reading {
  readonly first: ReadonlyArray<{ readonly kind: string; readonly params: Readonly<Record<string, unknown>> }>
  readonly handoffs: ReadonlyArray<Signal.Signal>
  readonly escalations: number
}

const read = (root: Plan.Step): Reading => {
  const first: Array<{ kind: string; params: Readonly<Record<string, unknown>> }> = []
  const handoffs: Array<Signal.Signal> = []
  let escalations = 0
  const walk = (s: Plan.Step, primary: boolean): void => {
    switch (s._tag) {
      case "Act":
        if (primary) first.push({ kind: s.action.kind, params: s.action.params })
        return
      case "Seq":
      case "Until":
        return s.steps.forEach((x) => walk(x, primary))
      case "Fallback":
        walk(s.primary, primary)
        return walk(s.otherwise, false)
      case "HandOff":
        handoffs.push(s.signal)
        return
      case "Escalate":
        escalations++
        return
      default:
        return
    }
  }
  walk(root, true)
  return { first, handoffs, escalations }
}

const known = <A>(f: Fact.Fact<A>): A | undefined => (f._tag === "Known" ? f.value : undefined)

const settingOf = (table: Table.Table, name: string): number | undefined => {
  const r = table.rows.find((x) => x["name"] === name)
  return r === undefined ? undefined : Number(r["setting"])
}

describe("db.pool.six-class replay corpus", () => {
  it("holds at least 12 incidents, each with meta.json and SOURCE.md, every class and both sides of the rules", () => {
    assert.isAtLeast(incidents.length, 12)
    const outcomes = new Set<string>()
    for (const name of incidents) {
      assert.isTrue(fs.existsSync(path.join(CORPUS, name, "SOURCE.md")), `${name}/SOURCE.md`)
      const m = metaOf(name)
      outcomes.add(m.expected.class)
    }
    for (const c of [...Object.keys(ALLOWED), "Unclassified", "Indeterminate"]) assert.isTrue(outcomes.has(c), `no incident classifies ${c}`)
  })

  it("is not shipped: the package's files leave fixtures out", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(CORPUS, "../../package.json"), "utf8")) as { files: ReadonlyArray<string> }
    assert.isFalse(pkg.files.some((f) => f === "fixtures" || f.startsWith("fixtures/")))
  })

  for (const name of incidents) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const meta = metaOf(name)
        const f = (file: string) => path.join(CORPUS, name, file)
        const files = meta.files
        const activity = typeof files.activity === "string" ? f(files.activity) : files.activity.map(f)
        const facts = yield* PgRecording.facts({
          activity,
          ...(meta.capturedAt !== undefined ? { capturedAt: meta.capturedAt.map((t) => Date.parse(t)) } : {}),
          ...(files.roles !== undefined ? { roles: f(files.roles) } : {}),
          ...(files.blocking !== undefined ? { blocking: f(files.blocking) } : {}),
          ...(files.settings !== undefined ? { settings: f(files.settings) } : {}),
          ...(files.pools !== undefined ? { pools: f(files.pools) } : {}),
          ...(files.config !== undefined ? { config: f(files.config) } : {}),
          ...(files.databases !== undefined ? { databases: f(files.databases) } : {}),
          ...(files.series !== undefined ? { series: f(files.series) } : {}),
          ...(meta.datname !== undefined ? { datname: meta.datname } : {}),
          ...(meta.pgbouncer !== undefined ? { pgbouncer: meta.pgbouncer } : {}),
          lastDeploy: meta.lastDeploy === undefined ? null : {
            sha: meta.lastDeploy.sha,
            at: Date.parse(meta.lastDeploy.at),
            ...(meta.lastDeploy.workload !== undefined ? { workload: meta.lastDeploy.workload } : {}),
            ...(meta.lastDeploy.application !== undefined ? { application: meta.lastDeploy.application } : {})
          }
        })
        const trend = known(facts.idleInTxTrend)
        const observedAt = trend?.sampledAt ?? 0
        const target = TargetRef.make("database", `corpus/${name}`)

        // Detect: the runbook's detector on the recorded reading (pg_settings + the client backends, pgbouncer's pools).
        const utilization = known(facts.utilization)
        const bouncer = known(facts.pgbouncer)
        let signal: Signal.Signal
        if (files.settings === undefined || utilization === undefined) {
          assert.isNull(meta.expected.signal, "without pg_settings the detector cannot read the recording")
          signal = Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target, observedAt, evidence: {} })
        } else {
          const settings = yield* Table.read(f(files.settings))
          const max = settingOf(settings, "max_connections")!
          const reading: Utilization.PostgresUtilization = {
            ...Utilization.postgresOf(utilization.clientBackends, max, max - utilization.available),
            ratio: utilization.ratio
          }
          const signals = PoolExhaustion.postgresSignals(reading, bouncer?.pools, { target }, observedAt)
          assert.strictEqual(signals.length > 0, meta.expected.signal, `detector: ${JSON.stringify(signals[0]?.evidence ?? { ratio: reading.ratio })}`)
          signal = signals[0] ?? Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target, observedAt, evidence: {} })
        }

        // Classify with the runbook's own classifier.
        const runbook = PoolSixClassRunbook.make()
        const classification = runbook.classify(facts)
        assert.strictEqual(outcomeOf(classification), meta.expected.class, classification.reasons.join("; "))
        if (classification._tag !== "Classified") return // never act on unknown: no plan at all

        // Plan with the runbook's own remediator (pure: it reads no service).
        const plan = yield* (runbook.remediate(classification, facts, signal) as Effect.Effect<Plan.Plan>)
        yield* Plan.validate(plan)
        assert.strictEqual(plan.class, meta.expected.class)
        const all = Plan.actions(plan.root).map((a) => a.action)
        const r = read(plan.root)
        const sessions = known(facts.sessions) ?? []
        const byPid = new Map(sessions.map((s) => [s.pid, s]))

        // The seed's rules for every incident.
        const allowed = ALLOWED[classification.class]!
        for (const a of all) assert.include(allowed, a.kind, `${classification.class} never plans ${a.kind}`)
        if (r.handoffs.length > 0) assert.include(allowed, "handoff", `${classification.class} never hands off`)
        for (const a of all.filter((x) => x.kind.startsWith("pg."))) {
          const pid = a.params["pid"] as number
          const s = byPid.get(pid)
          assert.isDefined(s, `pid ${pid} is not a client backend of the recording`)
          assert.isFalse(s!.rolsuper, `pid ${pid} is a superuser`)
          assert.strictEqual(a.params["superuser"], false)
          assert.isFalse(SessionGuardrails.isProtectedApplication(s!.application_name, ["pgbouncer", "admin-proxy", "pgadmin"]), `pid ${pid} (${s!.application_name}) is protected`)
          assert.notStrictEqual(s!.usename, "pgbouncer")
        }
        for (const a of all.filter((x) => x.kind === "pgbouncer.raisePoolSize")) {
          const to = a.params["defaultPoolSize"] as number
          const from = a.params["from"] as number
          const pools = bouncer?.pools.length ?? 0
          assert.isAbove(to, from)
          assert.isAtMost(to * pools, Math.floor(utilization!.available * (1 - Postmortem.HEADROOM)), "raise past the cap")
          assert.isAtMost(a.params["projectedTotal"] as number, utilization!.available)
        }

        // This incident's forbidden plans.
        for (const rule of meta.forbidden) {
          if (rule.rule === "never_signal") {
            for (const a of all) assert.notInclude(rule.pids, a.params["pid"], `${a.kind} ${String(a.params["pid"])}: ${rule.why}`)
          } else {
            for (const k of rule.kinds) {
              if (k === "handoff") assert.strictEqual(r.handoffs.length, 0, rule.why)
              else assert.isFalse(all.some((a) => a.kind === k), `${k}: ${rule.why}`)
            }
          }
        }

        // The plan this incident expects.
        const e = meta.expected.plan ?? {}
        const pids = (kind: string) => r.first.filter((a) => a.kind === kind).map((a) => a.params["pid"] as number).sort((a, b) => a - b)
        if (e.terminates !== undefined) assert.deepStrictEqual(pids("pg.terminateBackend"), [...e.terminates].sort((a, b) => a - b))
        if (e.cancels !== undefined) assert.deepStrictEqual(pids("pg.cancelBackend"), [...e.cancels].sort((a, b) => a - b))
        if (e.handoff !== undefined) assert.deepStrictEqual(r.handoffs.map((h) => h.target.ref), [e.handoff])
        if (e.raise !== undefined) {
          const raise = r.first.filter((a) => a.kind === "pgbouncer.raisePoolSize").map((a) => ({ from: a.params["from"], to: a.params["defaultPoolSize"] }))
          assert.deepStrictEqual(raise, [e.raise])
        }
        if (e.escalates === true) {
          assert.strictEqual(all.length, 0, "an escalation only")
          assert.isAbove(r.escalations, 0)
        }
      }))
  }
})
