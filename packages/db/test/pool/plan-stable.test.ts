/**
 * A plan of db.pool.six-class is the same when the same sessions are diagnosed again seconds later:
 * the actions describe when a session went idle or a statement started, not its age. An approval
 * is bound to the plan's digest, and a resume (after a restart, or after the approval) diagnoses
 * again: with ages in the descriptions the digest changed every second, the approved plan never
 * matched and the incident asked for approval forever (found by the kill -9 reliability test,
 * `packages/db/test-reliability/kill9.test.ts`, "while awaiting approval").
 */
import { Plan } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import * as PoolSixClass from "../../src/classifiers/PoolSixClass"
import type { PoolFacts } from "../../src/diagnosers/PoolDiagnoser"
import * as PoolRemediator from "../../src/remediators/PoolRemediator"
import { Schema } from "effect"
import { PgSession } from "../../src/probes/PgActivity"

const here = path.dirname(new URL(import.meta.url).pathname)
const decodeSessions = Schema.decodeUnknownSync(Schema.Array(PgSession))

/** The fixture's plan, with every session `laterMs` older (ages grown, times unchanged). */
const planAt = (name: string, laterMs: number) => {
  const raw = JSON.parse(fs.readFileSync(path.join(here, "fixtures", `${name}.json`), "utf8"))
  const grow = (v: unknown) => (typeof v === "number" ? v + laterMs : v)
  raw.facts.sessions = raw.facts.sessions.map((s: any) => ({ ...s, state_age_ms: grow(s.state_age_ms), query_age_ms: grow(s.query_age_ms), xact_age_ms: grow(s.xact_age_ms) }))
  const facts = Testing.facts({ ...raw.facts, sessions: decodeSessions(raw.facts.sessions) } as unknown as PoolFacts)
  const c = PoolSixClass.classifier()(facts)
  if (c._tag !== "Classified") throw new Error(`${name}: ${c._tag}`)
  return PoolRemediator.planOf(c, facts, raw.signal)
}

describe("db.pool.six-class plans do not change with the sessions' ages", () => {
  for (const name of ["idle_in_tx_backlog", "long_running_query"]) {
    it(`${name}: the plan 7 s later has the same digest`, () => {
      const now = planAt(name, 0)
      const later = planAt(name, 7_000)
      assert.isAbove(Plan.actions(now.root).length, 0)
      assert.strictEqual(Plan.digest(later), Plan.digest(now))
      for (const a of Plan.actions(now.root)) assert.match(a.action.description, / since \d{4}-\d\d-\d\dT/)
    })
  }
})
