/**
 * db.pool.multi-engine's golden plans from recorded PostgreSQL incidents: the replay corpus's
 * psql exports (`fixtures/corpus/`, PostgreSQL 14–17 shapes, never BytePort's own simulators)
 * decoded by `PgRecording`, turned into the runbook's engine-neutral facts exactly as its
 * PostgreSQL diagnoser does (`MultiEngineFacts.fromSql`), classified and planned by the
 * runbook's own parts. `BYTEPORT_UPDATE_GOLDEN=1` rewrites the golden files.
 */
import { Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as PoolExhaustion from "../../src/detectors/PoolExhaustion"
import * as MultiEngineClassifier from "../../src/runbooks/multi-engine/Classifier"
import * as MultiEngineFacts from "../../src/runbooks/multi-engine/Facts"
import * as MultiEngineRemediator from "../../src/runbooks/multi-engine/Remediator"
import { PgRecording } from "../../src/testing/index"

const here = path.dirname(fileURLToPath(import.meta.url))
const CORPUS = path.join(here, "../../fixtures/corpus")

/** Recorded incidents and the multi-engine class each is (set from the incident, not from the code). */
const INCIDENTS: ReadonlyArray<{ readonly name: string; readonly class: string; readonly why: string }> = [
  { name: "idle-in-tx-protected-sessions", class: "idle_in_transaction_leak", why: "≥ 3 application sessions idle in transaction past 30 s; pgAdmin / pgbouncer ones among them" },
  { name: "deploy-recent-flat-idle-in-tx", class: "idle_in_transaction_leak", why: "a flat backlog of sessions idle in transaction (no deploy class in this runbook)" },
  { name: "long-query-one-over-10-min", class: "long_running_query", why: "one statement over 10 min" },
  { name: "utilization-85pct-pgbouncer", class: "undersized_pool", why: "85 % with no dominant cause, behind pgbouncer" }
]

interface Meta {
  readonly files: { readonly activity: string | ReadonlyArray<string>; readonly roles?: string; readonly blocking?: string; readonly settings?: string; readonly pools?: string; readonly config?: string }
  readonly pgbouncer?: "absent"
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

describe("db.pool.multi-engine: golden plans from recorded PostgreSQL incidents (BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const incident of INCIDENTS) {
    it.effect(`${incident.name} → ${incident.class}`, () =>
      Effect.gen(function*() {
        const meta = JSON.parse(fs.readFileSync(path.join(CORPUS, incident.name, "meta.json"), "utf8")) as Meta
        const f = (file: string) => path.join(CORPUS, incident.name, file)
        const files = meta.files
        const recorded = yield* PgRecording.facts({
          activity: typeof files.activity === "string" ? f(files.activity) : files.activity.map(f),
          ...(files.roles !== undefined ? { roles: f(files.roles) } : {}),
          ...(files.blocking !== undefined ? { blocking: f(files.blocking) } : {}),
          ...(files.settings !== undefined ? { settings: f(files.settings) } : {}),
          ...(files.pools !== undefined ? { pools: f(files.pools) } : {}),
          ...(files.config !== undefined ? { config: f(files.config) } : {}),
          ...(meta.pgbouncer !== undefined ? { pgbouncer: meta.pgbouncer } : {})
        })
        const u = known(recorded.utilization)!
        const sessions = known(recorded.sessions)!
        const bouncer = known(recorded.pgbouncer) ?? null
        // as MultiEngineFacts.postgres builds them from the six-class diagnosis
        const facts: Fact.Facts<MultiEngineFacts.MultiEngineFacts> = {
          engine: Fact.known("postgres" as const),
          utilization: Fact.known({ ratio: u.ratio, connections: u.clientBackends, max: u.available }),
          sessions: Fact.known(sessions.map((s) => MultiEngineFacts.fromSql("postgres", s))),
          trend: Fact.known([]),
          ceiling: Fact.known<MultiEngineFacts.Ceiling>(bouncer !== null && bouncer.pools.length > 0
            ? { kind: "pgbouncer", defaultPoolSize: bouncer.pools.reduce((m, p) => Math.max(m, p.poolSize), 0), pools: bouncer.pools.length, capacity: u.available }
            : { kind: "max_connections", engine: "postgres", value: u.available })
        }
        const c = MultiEngineClassifier.classifier()(facts)
        assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, incident.class, incident.why)
        if (c._tag !== "Classified") return
        const signal = Signal.make({ type: PoolExhaustion.SIGNAL_TYPE, target: TargetRef.make("database", `corpus/${incident.name}`), observedAt: 0, evidence: {} })
        const plan = yield* MultiEngineRemediator.planOf(c, facts, signal)
        // never a superuser or a protected session
        const bySid = new Map(sessions.map((s) => [s.pid, s]))
        for (const { action } of Plan.actions(plan.root)) {
          const s = bySid.get(Number(action.params["pid"]))
          if (s === undefined) continue
          assert.isFalse(s.rolsuper, `superuser ${s.pid} named`)
          assert.notMatch(s.application_name, /^(pgbouncer|admin-proxy|pgadmin)/i, `protected ${s.pid} named`)
        }
        Testing.expectPlan(plan, path.join(here, "golden", "recorded", `${incident.name}.plan.txt`))
      }))
  }
})
