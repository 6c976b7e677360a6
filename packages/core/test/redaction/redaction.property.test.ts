import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, Tracer } from "effect"
import fc from "fast-check"
import * as Audit from "../../src/Audit"
import * as Redactor from "../../src/Redactor"
import * as Report from "../../src/Report"
import * as ConsoleSink from "../../src/sinks/ConsoleSink"
import * as FileSink from "../../src/sinks/FileSink"
import * as PagerDutySink from "../../src/sinks/PagerDutySink"
import * as SlackSink from "../../src/sinks/SlackSink"
import * as SinkMessage from "../../src/sinks/SinkMessage"
import * as TicketWebhookSink from "../../src/sinks/TicketWebhookSink"
import * as WebhookSink from "../../src/sinks/WebhookSink"
import { plantedEscalation, plantedMessages, plantedReport } from "./carriers"
import { assertNoSecrets, asText, plant, type Planted, stringPlant } from "./plant"

const r = Redactor.defaultRedactor

/** All messages and own fields along an Error's cause chain, wherever it sits in a value. */
const errorChain = (v: unknown, depth = 0): string => {
  if (depth > 20 || v === null || typeof v !== "object") return ""
  if (v instanceof Error) return `${v.message} ${JSON.stringify({ ...v })} ${errorChain(v.cause, depth + 1)}`
  if (v instanceof Map) return [...v.values()].map((x) => errorChain(x, depth + 1)).join(" ")
  return Object.values(v).map((x) => errorChain(x, depth + 1)).join(" ")
}
const runs = (n: number) => ({ numRuns: Number(process.env.REDACTION_RUNS ?? n) })

describe("redaction properties", () => {
  it.effect("the generators are not vacuous: every planted secret is in the value before redaction", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plant, (p) => {
          const raw = asText(p) + (p.value instanceof Error ? JSON.stringify(p.value, Object.getOwnPropertyNames(p.value)) : "") +
            errorChain(p.value)
          for (const s of p.secrets) assert.include(raw, s, `form ${p.form}`)
        }),
        runs(200)
      )
    ))

  it.effect("redact: no planted secret survives, and the output is JSON-safe", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plant, (p) => {
          const out = r.redact(p.value)
          const text = JSON.stringify(out)
          assertNoSecrets(p, text, "redact")
          assert.deepStrictEqual(JSON.parse(text), out)
          assert.include(text, "[REDACTED]")
        }),
        runs(400)
      )
    ))

  it.effect("redactString: no planted secret survives in any string form", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(stringPlant, fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (p, pre, post) => {
          const s = `${pre} ${p.value as string} ${post}`
          assertNoSecrets(p, r.redactString(s), "redactString")
          // idempotent: redacting twice changes nothing more
          assert.strictEqual(r.redactString(r.redactString(s)), r.redactString(s))
        }),
        runs(400)
      )
    ))

  it.effect("logger: messages, annotations and causes are redacted before any logger formats them", () =>
    Effect.sync(() => {
      const outputs: Array<string> = []
      const collect = (inner: Logger.Logger<unknown, string>) =>
        Logger.make((o) => void outputs.push(Redactor.logger(r, inner).log(o)))
      const layer = Logger.layer([collect(Logger.formatJson), collect(Logger.formatLogFmt)])
      fc.assert(
        fc.property(plant, (p: Planted) => {
          outputs.length = 0
          const error = p.value instanceof Error ? p.value : new Error(`failed with ${asText(p)}`, { cause: p.value })
          Effect.runSync(
            Effect.gen(function*() {
              yield* Effect.log("observed", p.value)
              yield* Effect.logWarning(asText(p))
              yield* Effect.logError("probe failed", Cause.fail(error))
              yield* Effect.logError("defect", Cause.die(error))
            }).pipe(Effect.annotateLogs({ planted: p.value, text: asText(p) }), Effect.provide(layer))
          )
          assert.strictEqual(outputs.length, 8)
          assertNoSecrets(p, outputs.join("\n"), "logger")
        }),
        runs(150)
      )
    }))

  it.effect("tracer: span names, attributes, events and failure exits are redacted", () =>
    Effect.sync(() => {
      const spans: Array<Tracer.NativeSpan> = []
      const recording = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const tracer = Redactor.tracer(r, recording)
      fc.assert(
        fc.property(plant, (p: Planted) => {
          spans.length = 0
          const attrs = p.value !== null && typeof p.value === "object" && !(p.value instanceof Error) && !(p.value instanceof Map)
            ? (p.value as Record<string, unknown>)
            : { planted: p.value }
          const exit = Effect.runSyncExit(
            Effect.gen(function*() {
              yield* Effect.annotateCurrentSpan("db.connection", p.value)
              yield* Effect.annotateCurrentSpan({ "app.detail": asText(p) })
              return yield* Effect.fail(p.value instanceof Error ? p.value : new Error(asText(p)))
            }).pipe(
              // a scheme-less DSN cut before its `@` is indistinguishable from any `word:value`: not truncated
              Effect.withSpan(`query ${p.form.includes("scheme-less") ? asText(p) : asText(p).slice(0, 200)}`, { attributes: attrs }),
              Effect.provideService(Tracer.Tracer, tracer)
            )
          )
          assert.isTrue(Exit.isFailure(exit))
          assert.strictEqual(spans.length, 1)
          const span = spans[0]!
          const ended = span.status._tag === "Ended" ? span.status.exit : undefined
          const text = [
            span.name,
            JSON.stringify(Object.fromEntries(span.attributes)),
            JSON.stringify(span.events, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
            ended && Exit.isFailure(ended) ? Cause.pretty(ended.cause) : ""
          ].join("\n")
          assert.isTrue(ended !== undefined && Exit.isFailure(ended))
          assertNoSecrets(p, text, "tracer")
        }),
        runs(150)
      )
    }))

  it.effect("audit (memory): recorded entries are redacted", () =>
    Effect.gen(function*() {
      const audit = yield* Audit.makeMemory(r)
      const all: Array<Planted> = []
      fc.assert(
        fc.property(plant, (p: Planted) => {
          all.push(p)
          Effect.runSync(audit.record({ incidentId: "inc-1", runbook: "rb", event: `saw ${asText(p)}`, data: { planted: p.value } }))
        }),
        runs(150)
      )
      const text = JSON.stringify(yield* audit.entries)
      for (const p of all) assertNoSecrets(p, text, "audit memory")
      assert.strictEqual((yield* audit.entries).length, all.length)
    }))

  it.live("audit (JSONL file): the file content never holds a planted secret", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "byteport-audit-prop-"))
      const path = join(dir, "audit.jsonl")
      const all: Array<Planted> = []
      const samples = fc.sample(plant, runs(150).numRuns)
      yield* Effect.scoped(
        Effect.gen(function*() {
          const audit = yield* Audit.makeFile(r, path)
          for (const p of samples) {
            all.push(p)
            yield* audit.record({ incidentId: "inc-1", runbook: "rb", event: `saw ${asText(p)}`, data: p.value })
          }
          assert.strictEqual(yield* audit.failures, 0)
        })
      )
      const text = readFileSync(path, "utf8")
      assert.strictEqual(text.trimEnd().split("\n").length, samples.length)
      for (const p of all) assertNoSecrets(p, text, "audit file")
      rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("reports: toJson, toMarkdown and escalationToMarkdown never show a planted secret", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plant, (p: Planted) => {
          const report = plantedReport(p)
          assertNoSecrets(p, Report.toJson(report), "Report.toJson")
          assertNoSecrets(p, Report.toMarkdown(report), "Report.toMarkdown")
          assertNoSecrets(p, Report.escalationToMarkdown(plantedEscalation(p)), "Report.escalationToMarkdown")
          assertNoSecrets(p, Report.escalationToJson(plantedEscalation(p)), "Report.escalationToJson")
        }),
        runs(120)
      )
    ))

  it.effect("sink encodings (console text, file line, webhook body, Slack payload, PagerDuty event) never show a planted secret", () =>
    Effect.sync(() =>
      fc.assert(
        fc.property(plant, (p: Planted) => {
          for (const m of plantedMessages(p)) {
            assertNoSecrets(p, ConsoleSink.format(m), `console ${m.kind}`)
            assertNoSecrets(p, FileSink.line(m, 0), `file ${m.kind}`)
            assertNoSecrets(p, JSON.stringify(r.redact(WebhookSink.body(m))), `webhook ${m.kind}`)
            assertNoSecrets(p, SlackSink.encode(m), `slack ${m.kind}`)
            if (m.kind === "escalation") {
              const body = PagerDutySink.encode(m.escalation, "R0UTINGKEY")
              assertNoSecrets(p, body, "pagerduty")
              assert.strictEqual(JSON.parse(body).routing_key, "R0UTINGKEY")
            }
            if (m.kind === "ticket") assertNoSecrets(p, TicketWebhookSink.encode(m.ticket), "ticket webhook")
          }
          assert.strictEqual(SinkMessage.title(plantedMessages(p)[0]!).startsWith("[dry_run]"), true)
        }),
        runs(60)
      )
    ))

  it.effect("a layer with extra keys and patterns redacts them too", () =>
    Effect.gen(function*() {
      const redactor = yield* Redactor.Redactor
      fc.assert(
        fc.property(fc.stringMatching(/^[a-z0-9]{12,20}$/), (v) => {
          const out = JSON.stringify(redactor.redact({ vaultRole: v, note: `ticket INTERNAL-${v}` }))
          assert.notInclude(out, v)
          assert.include(out, "\"vaultRole\":\"[REDACTED]\"")
        }),
        runs(100)
      )
    }).pipe(Effect.provide(Redactor.layer({ extraKeys: ["vaultRole"], extraPatterns: [/INTERNAL-[a-z0-9]+/] }))))
})

/** Unused-layer guard: the module's layers compose. */
export const _layers = Layer.mergeAll(Redactor.layerDefault)
