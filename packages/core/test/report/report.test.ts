import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { IncidentReport } from "../../src/IncidentReport"
import * as Redactor from "../../src/Redactor"
import * as Report from "../../src/Report"
import { bundle, PLANTED, report } from "./fixture"

const GOLDEN = join(__dirname, "__golden__")
const update = process.env.UPDATE_GOLDEN === "1"

/** Compares `actual` with the golden file; UPDATE_GOLDEN=1 rewrites it. */
const golden = (name: string, actual: string): void => {
  const path = join(GOLDEN, name)
  if (update || !existsSync(path)) {
    if (!update && process.env.CI === "true") assert.fail(`golden file ${name} is missing (run with UPDATE_GOLDEN=1)`)
    mkdirSync(GOLDEN, { recursive: true })
    writeFileSync(path, actual)
  }
  assert.strictEqual(actual, readFileSync(path, "utf8"), `${name} differs from its golden file (UPDATE_GOLDEN=1 to accept)`)
}

describe("Report", () => {
  it.effect("the fixture is a valid IncidentReport", () =>
    Effect.gen(function*() {
      const decoded = yield* Schema.decodeUnknownEffect(IncidentReport)(JSON.parse(JSON.stringify(report)))
      assert.strictEqual(decoded.incidentId, report.incidentId)
    }))

  it.effect("toMarkdown matches the golden postmortem", () =>
    Effect.sync(() => golden("report.md", Report.toMarkdown(report))))

  it.effect("toJson matches the golden JSON", () => Effect.sync(() => golden("report.json", Report.toJson(report))))

  it.effect("escalationToMarkdown matches the golden bundle", () =>
    Effect.sync(() => golden("escalation.md", Report.escalationToMarkdown(bundle))))

  it.effect("no planted secret appears in any rendering", () =>
    Effect.sync(() => {
      for (const text of [Report.toMarkdown(report), Report.toJson(report), Report.escalationToMarkdown(bundle), Report.escalationToJson(bundle)]) {
        for (const s of PLANTED) assert.isFalse(text.includes(s), `leaked ${s}`)
        assert.include(text, "[REDACTED]")
      }
    }))

  it.effect("toJson has sorted keys, is stable under key reordering and stays a redacted IncidentReport", () =>
    Effect.gen(function*() {
      const reordered = Object.fromEntries(Object.entries(report).reverse()) as typeof report
      assert.strictEqual(Report.toJson(reordered), Report.toJson(report))
      const parsed = JSON.parse(Report.toJson(report))
      assert.deepStrictEqual(Object.keys(parsed), [...Object.keys(parsed)].sort())
      assert.deepStrictEqual(Object.keys(parsed.signal), [...Object.keys(parsed.signal)].sort())
      const decoded = yield* Schema.decodeUnknownEffect(IncidentReport)(parsed)
      assert.strictEqual(decoded.status, "escalated")
      assert.strictEqual((decoded.signal.evidence.env as any)[0].value, "postgres://ledger:[REDACTED]@ledger-db:5432/ledger")
      // a secretKeyRef is a reference and is kept
      assert.deepStrictEqual((decoded.signal.evidence.env as any)[3].valueFrom, { secretKeyRef: { key: "password", name: "ledger-db" } })
    }))

  it.effect("the postmortem renders arrays of flat objects as tables, escaping pipes", () =>
    Effect.sync(() => {
      const md = Report.toMarkdown(report)
      assert.include(md, "### Query fingerprints\n\n| Fingerprint | Query | Calls | Mean ms |\n|---|---|---|---|")
      assert.include(md, "| 77ab03 | UPDATE ledger SET amount = amount \\| $1 | 930 | 11.9 |")
      assert.include(md, "- no HPA on the workload")
    }))

  it.effect("timeline is sorted by time in UTC ISO and the overview shows duration and links", () =>
    Effect.sync(() => {
      const shuffled = { ...report, timeline: [...report.timeline].reverse() }
      const md = Report.toMarkdown(shuffled)
      assert.strictEqual(md, Report.toMarkdown(report))
      assert.include(md, "| 2026-11-28T03:14:00.000Z | detect | OOMKilled ledger-7d9f8b6c4-x2x9q (7 restarts) |")
      assert.include(md, "| Duration | 2m 12s |")
      assert.include(md, "- Child: `inc-20261128-0314-b`")
    }))

  it.effect("a custom redactor's extra patterns apply to renderings", () =>
    Effect.sync(() => {
      const redactor = Redactor.make({ extraPatterns: [/ledger-7d9f8b6c4-\w+/] })
      const md = Report.toMarkdown(report, { redactor })
      assert.notInclude(md, "ledger-7d9f8b6c4-x2x9q")
      assert.include(Report.toMarkdown(report), "ledger-7d9f8b6c4-x2x9q")
    }))

  it.effect("parent and duplicate links", () =>
    Effect.sync(() => {
      const child = { ...report, incidentId: "inc-child", parent: { incidentId: "inc-parent", runbook: "k8s.oom.six-signal", hop: 1 }, children: [], duplicateOf: "inc-other" }
      const md = Report.toMarkdown(child)
      assert.include(md, "| Parent incident | `inc-parent` (k8s.oom.six-signal, hop 1) |")
      assert.include(md, "- Parent: `inc-parent` — runbook `k8s.oom.six-signal`, hop 1")
      assert.include(md, "- Duplicate of: `inc-other`")
    }))

  it.effect("the Effect variants use the Redactor service's extra patterns", () =>
    Effect.gen(function*() {
      const md = yield* Report.markdown(report)
      const json = yield* Report.json(report)
      const esc = yield* Report.escalationMarkdown(bundle)
      for (const text of [md, json, esc]) assert.notInclude(text, "ledger-7d9f8b6c4-x2x9q")
    }).pipe(Effect.provide(Redactor.layer({ extraPatterns: [/ledger-7d9f8b6c4-\w+/] }))))

  it.effect("minimal reports render every section with placeholders", () =>
    Effect.sync(() => {
      const minimal = {
        ...report,
        status: "observed" as const,
        mode: "observe" as const,
        classification: { _tag: "Indeterminate" as const, rule: "prometheus-trend", missing: ["memoryTrend"], reasons: [] },
        decisions: [],
        outcomes: [],
        verdicts: [],
        proposals: [],
        children: [],
        timeline: []
      }
      const { escalation: _e, plan: _p, planDigest: _d, postmortem: _m, ...rest } = minimal
      const md = Report.toMarkdown(rest)
      assert.include(md, "**Indeterminate** — rule `prometheus-trend` needed unknown facts: `memoryTrend`")
      assert.include(md, "## Plan\n\n_no plan_")
      assert.include(md, "## Outcomes\n\n_none_")
      assert.notInclude(md, "## Postmortem")
      assert.include(md, "Observe mode: nothing was changed.")
    }))

  it.effect("duration formats", () =>
    Effect.sync(() => {
      assert.strictEqual(Report.duration(450), "450ms")
      assert.strictEqual(Report.duration(132_000), "2m 12s")
      assert.strictEqual(Report.duration(3_600_000), "1h")
      assert.strictEqual(Report.duration(-1), "—")
    }))
})
