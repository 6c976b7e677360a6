/**
 * End to end through `Runbook.handle`: the command-line and DSN shapes of issue 8 (`--password x`,
 * `-pX`, `PGPASSWORD=x`, `user:pass@tcp(host)/db`, `user:pass@host:5432/db`, URL passwords with
 * `/`, `@`, `:`, argv arrays) are planted in the signal's evidence, in facts (Known values and an
 * Unknown probe's failure), in the classifier's reasons and evidence, in action params, outputs
 * and failures and in the verifier's checks. Nothing secret reaches the rendered report, the
 * escalation, the audit log, what the sinks wrote (ops channel, pager, tickets) or the journal.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import fc from "fast-check"
import {
  Action,
  ActionRegistry,
  Classifier,
  Diagnoser,
  FileStore,
  IncidentBus,
  Notifier,
  Plan,
  Redactor,
  Report,
  Runbook,
  type Signal,
  TargetRef
} from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as Audit from "../../src/Audit"
import * as FileSink from "../../src/sinks/FileSink"
import * as Sink from "../../src/sinks/Sink"
import {
  argvForm,
  asText,
  assertNoSecrets,
  cliFlagForm,
  envAssignForm,
  mysqlPForm,
  type Planted,
  schemelessDsnForm,
  urlSpecialPasswordForm
} from "./plant"

/** Runs per shape. */
const runs = Number(process.env.REDACTION_RUNS ?? 8)
const shapes = [cliFlagForm, mysqlPForm, envAssignForm, schemelessDsnForm, urlSpecialPasswordForm, argvForm]
const target = TargetRef.make("svc", "default/api")

interface Facts {
  readonly cmdline: unknown
  readonly dsn: string
  readonly probeThatFails: string
  readonly down: boolean
}

const runbook = (p: Planted) => {
  const text = asText(p)
  return Runbook.make<Facts>({
    id: "test.redaction.cli",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({
      cmdline: Diagnoser.probe("cmdline", () => Effect.succeed(p.value)),
      dsn: Diagnoser.probe("dsn", () => Effect.succeed(`from config: ${text}`)),
      probeThatFails: Diagnoser.probe("pg", () => Effect.fail(new Error(`connect failed: ${text}`))),
      down: Diagnoser.probe("down", () => Effect.succeed(true))
    }),
    classify: Classifier.firstMatch([
      Classifier.rule<Facts>()({
        class: "w.down",
        confidence: 0.9,
        needs: ["down"],
        when: () => ({ matched: true, reasons: [`the process ran ${text}`], evidence: { cmdline: p.value as never, text } })
      })
    ]),
    remediate: () =>
      Effect.succeed(
        Plan.make(
          "test.redaction.cli",
          "w.down",
          `restart, then reconnect (${text})`,
          Plan.seq(
            Plan.act(Action.make({ kind: "w.restart", target, params: { note: text }, description: `restart after ${text}` })),
            Plan.act(Action.make({ kind: "w.reconnect", target, params: {}, description: "reconnect" }))
          )
        )
      ),
    verify: (ctx) =>
      Effect.succeed({
        _tag: "NotRecovered",
        reason: `still down: ${text}`,
        checks: [{ name: "up", ok: false, detail: `probe said ${text}`, observed: { text } }],
        at: ctx.since
      }),
    verifySchedule: { offsets: [0], description: "once" },
    nextSteps: () => [`rerun ${text} by hand`],
    ticket: () => true,
    postmortem: () => Effect.succeed({ command: text }),
    defaultMode: "auto"
  })
}

/** Every file under `dir`, read as text. */
const allText = (dir: string): string =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => fs.readFileSync(nodePath.join(d.parentPath, d.name), "utf8"))
    .join("\n")

describe("redaction through Runbook.handle", () => {
  it.live("planted CLI flags, -pX, env assignments, scheme-less DSNs and URL passwords never reach any output", () =>
    Effect.gen(function*() {
      const samples = shapes.flatMap((shape) => fc.sample(shape, { numRuns: runs }))
      const forms = new Set<string>()
      for (const [i, p] of samples.entries()) {
        forms.add(p.form.split(" ")[0]!)
        const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-redaction-cli-"))
        const text = asText(p)
        const restart = Testing.recordingHandler("w.restart", { apply: () => Effect.succeed({ stdout: text, argv: p.value as never }) })
        const reconnect = Testing.recordingHandler("w.reconnect", { fail: `reconnect failed: ${text}` })
        const layer = Layer.mergeAll(
          FileStore.layer({ directory: nodePath.join(dir, "store"), fsync: false }).pipe(Layer.orDie),
          ActionRegistry.layer({ handlers: [restart.handler, reconnect.handler] }),
          IncidentBus.layer(),
          Notifier.fromSinks.pipe(
            Layer.provide(Layer.mergeAll(
              Sink.layerOpsChannel(FileSink.make({ path: nodePath.join(dir, "ops.jsonl"), name: "ops" })),
              Sink.layerPager(FileSink.make({ path: nodePath.join(dir, "pager.jsonl"), name: "pager" })),
              Sink.layerTicketSink(FileSink.make({ path: nodePath.join(dir, "tickets.jsonl"), name: "tickets" })),
              Audit.layerFile(nodePath.join(dir, "audit.jsonl")).pipe(Layer.provide(Redactor.layerDefault))
            ))
          )
        )
        const signal: Signal.Signal = {
          type: "svc.down",
          target,
          observedAt: 1_000 + i,
          evidence: { cmdline: p.value as never, log: `exited after ${text}` }
        }
        const result = yield* Effect.scoped(Runbook.handle(runbook(p), signal, { incidentId: `inc-cli-${i}` })).pipe(Effect.provide(layer))
        if (Runbook.isAwaitingApproval(result)) return assert.fail("no approval expected")

        // the run really carried the secret everywhere (so the checks below are not vacuous)
        assert.strictEqual(result.status, "escalated", p.form)
        assert.strictEqual(restart.writes.length, 1, p.form)
        assert.strictEqual(reconnect.runs.length, 1, p.form)
        for (const s of p.secrets) assert.include(JSON.stringify(result.signal) + JSON.stringify(result.facts), s)

        const written = allText(dir)
        for (const f of ["ops.jsonl", "pager.jsonl", "tickets.jsonl", "audit.jsonl"]) assert.isTrue(fs.existsSync(nodePath.join(dir, f)), `${f} written`)
        assert.include(written, "[REDACTED]")
        assertNoSecrets(p, written, "sinks, audit and journal files")
        assertNoSecrets(p, Report.toJson(result), "Report.toJson")
        assertNoSecrets(p, Report.toMarkdown(result), "Report.toMarkdown")
        assert.isDefined(result.escalation)
        assertNoSecrets(p, Report.escalationToJson(result.escalation!), "Report.escalationToJson")
        assertNoSecrets(p, Report.escalationToMarkdown(result.escalation!), "Report.escalationToMarkdown")
        fs.rmSync(dir, { recursive: true, force: true })
      }
      // every shape was exercised
      for (const f of ["cli", "mysql", "env", "scheme-less", "url", "argv"]) assert.isTrue(forms.has(f), `form ${f} sampled`)
    }), { timeout: 120_000 })
})
