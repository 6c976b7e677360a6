import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import * as ConsoleSink from "../../src/sinks/ConsoleSink"
import * as FileSink from "../../src/sinks/FileSink"
import * as SinkMessage from "../../src/sinks/SinkMessage"
import { bundle, PLANTED, report } from "../report/fixture"

const escMsg = SinkMessage.escalation(bundle)

describe("ConsoleSink", () => {
  it.effect("prints a title line and the redacted Markdown body", () =>
    Effect.gen(function*() {
      yield* ConsoleSink.make().post(escMsg)
      yield* ConsoleSink.make().post(SinkMessage.notice({ title: "runbook paused", text: "token=abcdef123456 rotated", severity: "warning" }))
      const out = (yield* TestConsole.logLines).map(String)
      assert.strictEqual(out.length, 2)
      assert.isTrue(out[0]!.startsWith(`[byteport] CRITICAL escalation: [critical] k8s.oom.six-signal: ${bundle.reason}\n`))
      assert.include(out[0]!, "## Suggested next steps")
      for (const s of PLANTED) assert.notInclude(out[0]!, s)
      const head = "[byteport] WARNING notice: runbook paused"
      assert.strictEqual(out[1], `${head}\n${"-".repeat(head.length)}\ntoken=[REDACTED] rotated`)
    }))
})

describe("FileSink", () => {
  it.live("appends one redacted JSON line per message", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "byteport-filesink-"))
      const path = join(dir, "sub", "messages.jsonl")
      const sink = FileSink.make({ path })
      yield* sink.post(escMsg)
      yield* sink.post(SinkMessage.report(report))
      const lines = readFileSync(path, "utf8").trimEnd().split("\n")
      assert.strictEqual(lines.length, 2)
      const first = JSON.parse(lines[0]!)
      assert.deepStrictEqual(Object.keys(first), ["at", "kind", "title", "incidentId", "runbook", "message"])
      assert.strictEqual(first.kind, "escalation")
      assert.strictEqual(first.incidentId, bundle.incidentId)
      assert.strictEqual(first.message.escalation.severity, "critical")
      assert.strictEqual(JSON.parse(lines[1]!).kind, "report")
      for (const s of PLANTED) assert.notInclude(lines.join("\n"), s)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("an unwritable path is a typed io SinkError", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "byteport-filesink-"))
      writeFileSync(join(dir, "file"), "")
      const err = yield* Effect.flip(FileSink.make({ path: join(dir, "file", "x.jsonl"), name: "archive" }).post(escMsg))
      assert.strictEqual(err._tag, "SinkError")
      assert.strictEqual(err.reason, "io")
      assert.strictEqual(err.sink, "archive")
      rmSync(dir, { recursive: true, force: true })
    }))
})

describe("SinkMessage", () => {
  it.effect("ticketFromEscalation, titles and severities", () =>
    Effect.sync(() => {
      const t = SinkMessage.ticketFromEscalation(bundle, { labels: ["leak"] })
      assert.deepStrictEqual(t.labels, ["leak"])
      assert.strictEqual(t.severity, "critical")
      assert.notInclude(t.body, "hunter2-Pg-Sx9")
      assert.strictEqual(SinkMessage.severity(SinkMessage.report(report)), "warning")
      assert.strictEqual(SinkMessage.severity(SinkMessage.report({ ...report, status: "recovered" })), "info")
      assert.strictEqual(SinkMessage.title(SinkMessage.report(report)), "[escalated] k8s.oom.six-signal: incident inc-20261128-0314-a")
      assert.strictEqual(SinkMessage.incidentId(SinkMessage.ticket(t)), bundle.incidentId)
    }))
})
