/**
 * db.connections.saturation's golden plans from recorded PostgreSQL incidents: the replay
 * corpus's psql exports (`fixtures/corpus/`, PostgreSQL 14–17 shapes) and a leak exported from the
 * real PostgreSQL 15 (`test/fixtures/recordings/pg15-saturation-leak/`) decoded by `PgRecording`,
 * turned into the runbook's facts as `SaturationDiagnoser` builds them (the seed's reading:
 * client backends / `max_connections` from the recorded `pg_settings`; row-lock holders = the
 * pids some backend waits on), classified and planned by the runbook's own parts.
 * `BYTEPORT_UPDATE_GOLDEN=1` rewrites the golden files.
 */
import { Fact, Plan, Signal, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ConnectionSaturation from "../../src/classifiers/ConnectionSaturation"
import * as Detector from "../../src/detectors/ConnectionSaturation"
import type { SaturationFacts } from "../../src/diagnosers/SaturationDiagnoser"
import * as SaturationRemediator from "../../src/remediators/SaturationRemediator"
import { PgRecording } from "../../src/testing/index"
import * as Utilization from "../../src/Utilization"

const here = path.dirname(fileURLToPath(import.meta.url))
const CORPUS = path.join(here, "../../fixtures/corpus")

/** Recorded incidents, the class each is and the pids the plan must terminate (set from the recording, not from the code). */
const INCIDENTS: ReadonlyArray<{ readonly name: string; readonly class: string; readonly terminates: ReadonlyArray<number>; readonly why: string }> = [
  { name: "idle-in-tx-protected-sessions", class: "load_driven_saturation", terminates: [], why: "9 of 86 idle sessions idle in transaction: a six-class backlog, far from saturation's > 50 % leak share" },
  { name: "idle-in-tx-superusers-only", class: "load_driven_saturation", terminates: [], why: "4 of 84 idle sessions idle in transaction" },
  { name: "lock-chain-idle-in-tx-root", class: "load_driven_saturation", terminates: [], why: "19 active statements waiting on one idle-in-transaction root among 62 idle sessions" },
  { name: "../../test/fixtures/recordings/pg15-saturation-leak", class: "connection_leak", terminates: [20452], why: "recorded on PostgreSQL 15 (SOURCE.md): 6 of 10 idle sessions idle in transaction > 30 s; the longest (20442) holds FOR UPDATE with a waiter, so the next (20452) goes" },
  { name: "long-query-one-over-10-min", class: "load_driven_saturation", terminates: [], why: "one statement over 10 min, no stale transactions" }
]

interface Meta {
  readonly files: { readonly activity: string; readonly roles?: string; readonly blocking?: string; readonly settings: string }
}

const known = <A>(f: Fact.Fact<A> | undefined): A | undefined => (f !== undefined && f._tag === "Known" ? f.value : undefined)

const maxConnectionsOf = (csv: string): number => {
  const line = csv.split("\n").find((l) => l.startsWith("max_connections,"))
  if (line === undefined) throw new Error("max_connections not recorded")
  return Number(line.split(",")[1])
}

describe("db.connections.saturation: golden plans from recorded PostgreSQL incidents (BYTEPORT_UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const incident of INCIDENTS) {
    it.effect(`${path.basename(incident.name)} → ${incident.class}`, () =>
      Effect.gen(function*() {
        const dir = path.join(CORPUS, incident.name)
        const metaFile = path.join(dir, "meta.json")
        const meta: Meta = fs.existsSync(metaFile)
          ? JSON.parse(fs.readFileSync(metaFile, "utf8")) as Meta
          : { files: { activity: "activity.csv", roles: "roles.csv", blocking: "blocking.csv", settings: "settings.csv" } }
        const files = meta.files
        const recorded = yield* PgRecording.facts({
          activity: path.join(dir, files.activity),
          ...(files.roles !== undefined ? { roles: path.join(dir, files.roles) } : {}),
          ...(files.blocking !== undefined ? { blocking: path.join(dir, files.blocking) } : {}),
          settings: path.join(dir, files.settings)
        })
        const sessions = known(recorded.sessions)!
        const max = maxConnectionsOf(fs.readFileSync(path.join(dir, files.settings), "utf8"))
        const holders = [...new Set(sessions.flatMap((s) => s.blocking_pids))]
        const facts: Fact.Facts<SaturationFacts> = {
          utilization: Fact.known(Utilization.connectionsOf(sessions.length, 0, max)),
          sessions: Fact.known(sessions),
          waitEvents: Fact.known([]),
          rowLockHolders: Fact.known(holders)
        }
        const c = ConnectionSaturation.classifier()(facts)
        assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, incident.class, incident.why)
        if (c._tag !== "Classified") return
        const signal = Signal.make({ type: Detector.SIGNAL_TYPE, target: TargetRef.make("database", `corpus/${incident.name}`), observedAt: 0, evidence: {} })
        const plan = SaturationRemediator.planOf(c, facts, signal, {})
        const named = Plan.actions(plan.root).map((a) => Number(a.action.params["pid"]))
        const bySid = new Map(sessions.map((s) => [s.pid, s]))
        for (const pid of named) {
          const s = bySid.get(pid)!
          assert.isFalse(s.rolsuper, `superuser ${pid} named`)
          assert.notInclude(holders, pid, `row-lock holder ${pid} named`)
        }
        assert.deepStrictEqual(named, incident.terminates)
        Testing.expectPlan(plan, path.join(here, "golden", `${path.basename(incident.name)}.plan.txt`))
      }))
  }
})
