/**
 * The incident journal is redacted before it reaches the store (stores may be remote: PostgreSQL,
 * Kubernetes Lease annotations). Secrets planted in a signal's evidence, in facts and in an
 * action's params never appear in a FileStore's files, and an interrupted incident still resumes
 * from the redacted journal.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { Action, Classifier, Diagnoser, FileStore, GuardrailStore, Plan, Runbook, type Signal, type Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "../engine/resumeWorld"
import * as W from "../engine/world"

const PASSWORD = "hunter2-Zq9vK3"
const DSN_PASSWORD = "pa55-Xw7Lm2"
const DSN = `postgres://app:${DSN_PASSWORD}@db.internal:5432/orders`
const secrets = [PASSWORD, DSN_PASSWORD]

interface Facts {
  readonly env: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly connection: string
  readonly down: boolean
}

const signal = (): Signal.Signal => ({
  ...W.signal(),
  evidence: { env: [{ name: "DB_PASSWORD", value: PASSWORD }], dsn: DSN, log: `connect failed: ${DSN}` }
})

/** A runbook whose facts carry the secrets; `withDsnParam` also puts the DSN in the action's params. */
const runbook = (verify: Verifier.Verifier<Facts>, options: { readonly withDsnParam?: boolean; readonly replica?: () => number } = {}) =>
  Runbook.make<Facts>({
    id: "test.redaction.journal",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({
      env: Diagnoser.probe("env", () => Effect.succeed([{ name: "DB_PASSWORD", value: PASSWORD }, { name: "LOG_LEVEL", value: "info" }])),
      connection: Diagnoser.probe("connection", () => Effect.succeed(DSN)),
      down: Diagnoser.probe("down", () => Effect.succeed(true))
    }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () =>
      Effect.succeed(Plan.make("test.redaction.journal", "w.down", "restart once", Plan.act(Action.make({
        kind: "w.restart",
        target: W.target,
        params: options.withDsnParam ? { n: options.replica?.() ?? 1, dsn: DSN } : { n: 1 },
        description: "restart the service"
      })))),
    verify,
    defaultMode: "auto"
  })

/** Every file under `dir`, read as text. */
const allText = (dir: string): string =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => fs.readFileSync(nodePath.join(d.parentPath, d.name), "utf8"))
    .join("\n")

/** Starts an incident and interrupts it once verification starts (after "applied", before "verdict"). */
const interruptedIncident = (dir: string, incidentId: string, options: { readonly withDsnParam?: boolean } = {}) =>
  Effect.gen(function*() {
    const verifying = yield* Deferred.make<void>()
    const handler = R.restartHandler(Effect.void)
    const hanging = runbook(() => Deferred.succeed(verifying, undefined).pipe(Effect.andThen(Effect.never)), options)
    yield* Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Runbook.handle(hanging, signal(), { incidentId }))
      yield* Deferred.await(verifying)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Testing.layer({ handlers: [handler], store: FileStore.layer({ directory: dir, fsync: false }) })))
    assert.strictEqual(handler.writes.length, 1)
    // the handler itself saw the real values
    assert.strictEqual(handler.runs[0]?.action.params["dsn"] ?? DSN, DSN)
  })

describe("journal redaction", () => {
  it.effect("secrets in the signal's evidence and in facts never reach the FileStore's files; resume still works", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-journal-redaction-"))
      const incidentId = "inc-redact-1"
      yield* interruptedIncident(dir, incidentId)
      const written = allText(dir)
      assert.include(written, "[REDACTED]")
      assert.include(written, "postgres://app:[REDACTED]@db.internal:5432/orders") // readable, password gone
      for (const s of secrets) assert.notInclude(written, s)

      const second = R.restartHandler(Effect.void)
      const store = FileStore.layer({ directory: dir, fsync: false })
      const r = yield* Runbook.resume(runbook(R.recovered as unknown as Verifier.Verifier<Facts>), incidentId).pipe(
        Effect.provide(Testing.layer({ handlers: [second], store }))
      )
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(second.runs.length, 0) // the applied step is not run again
      assert.strictEqual(r.outcomes[0]?.status, "applied")
      assert.strictEqual(r.classification?._tag, "Classified")
      // facts read back from the redacted journal: shape and non-secret values kept, secrets masked
      assert.deepStrictEqual(r.facts["down"], { _tag: "Known", value: true })
      assert.deepStrictEqual(r.facts["env"], { _tag: "Known", value: [{ name: "DB_PASSWORD", value: "[REDACTED]" }, { name: "LOG_LEVEL", value: "info" }] })
      assert.deepStrictEqual(r.facts["connection"], { _tag: "Known", value: "postgres://app:[REDACTED]@db.internal:5432/orders" })
      assert.deepStrictEqual(r.signal.evidence["env"], [{ name: "DB_PASSWORD", value: "[REDACTED]" }])

      // The closed report is read back from the journal too, and nothing secret was written since.
      const again = yield* Runbook.resume(runbook(R.recovered as unknown as Verifier.Verifier<Facts>), incidentId).pipe(
        Effect.provide(Testing.layer({ handlers: [second], store }))
      )
      assert.strictEqual((again as { readonly status: string }).status, "recovered")
      const journal = yield* Effect.gen(function*() {
        const s = yield* GuardrailStore.GuardrailStore
        return yield* s.readJournal(incidentId)
      }).pipe(Effect.provide(Testing.layer({ store })))
      assert.deepStrictEqual(journal.slice(-2).map((e) => e.type), ["verdict", "closed"])
      for (const s of secrets) assert.notInclude(allText(dir), s)
      fs.rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("a plan whose params carried a secret is rebuilt on resume; its steps resume only if it is the same plan", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-journal-plan-"))
      const store = FileStore.layer({ directory: dir, fsync: false })
      yield* interruptedIncident(dir, "inc-redact-2", { withDsnParam: true })
      yield* interruptedIncident(dir + "-b", "inc-redact-3", { withDsnParam: true })
      for (const s of secrets) assert.notInclude(allText(dir), s)

      // Same diagnosis, same plan: the journaled digest matches the rebuilt plan, the applied step is skipped.
      const second = R.restartHandler(Effect.void)
      const same = yield* Runbook.resume(runbook(R.recovered as unknown as Verifier.Verifier<Facts>, { withDsnParam: true }), "inc-redact-2").pipe(
        Effect.provide(Testing.layer({ handlers: [second], store }))
      )
      if (Runbook.isAwaitingApproval(same)) return assert.fail("no approval expected")
      assert.strictEqual(same.status, "recovered")
      assert.strictEqual(second.runs.length, 0)
      assert.strictEqual(same.plan?.root._tag === "Act" ? same.plan.root.action.params["dsn"] : undefined, DSN)

      // A rebuilt plan that differs is not resumed step by step: it escalates for a human.
      const third = R.restartHandler(Effect.void)
      const changed = yield* Runbook.resume(
        runbook(R.recovered as unknown as Verifier.Verifier<Facts>, { withDsnParam: true, replica: () => 2 }),
        "inc-redact-3"
      ).pipe(Effect.provide(Testing.layer({ handlers: [third], store: FileStore.layer({ directory: dir + "-b", fsync: false }) })))
      if (Runbook.isAwaitingApproval(changed)) return assert.fail("no approval expected")
      assert.strictEqual(changed.status, "escalated")
      assert.match(changed.escalation!.reason, /cannot resume: the journaled plan .* was redacted/)
      assert.strictEqual(third.runs.length, 0)
      for (const s of secrets) assert.notInclude(allText(dir + "-b"), s)
      fs.rmSync(dir, { recursive: true, force: true })
      fs.rmSync(dir + "-b", { recursive: true, force: true })
    }))
})
