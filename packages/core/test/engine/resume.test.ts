import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { Classifier, Diagnoser, FileStore, Guardrail, GuardrailStore, Plan, Runbook, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as W from "./world"

interface Facts {
  readonly down: boolean
}

const runbook = (verify: Verifier.Verifier<Facts>) =>
  Runbook.make<Facts>({
    id: "test.world.resume",
    signals: ["svc.down"],
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.world.resume", "w.down", "restart once", Plan.act(W.action("w.restart", { n: 1 })))),
    verify,
    defaultMode: "auto"
  })

/** One restart per target per hour: a second acquire after the restart would be denied and escalated. */
const restartHandler = (onApply: Effect.Effect<void>) =>
  Testing.recordingHandler("w.restart", {
    guardrails: [Guardrail.rateLimit({ name: "restarts per hour", key: Guardrail.keys.perTarget("w.restart"), max: 1, window: "1 hour" })],
    apply: () => onApply
  })

describe("resume after a crash", () => {
  it.effect("a crash after `applied` and before `verdict` resumes at verification: no second action, no false rate-limit escalation", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-resume-"))
      const store = () => FileStore.layer({ directory: dir, fsync: false })
      const incidentId = "inc-crash-1"

      // 1st process: the action is applied (and journaled), the verifier starts and hangs; the process
      // "dies" there (the fiber is interrupted): after "applied", before "verdict".
      const verifying = yield* Deferred.make<void>()
      const first = restartHandler(Effect.void)
      const hanging = runbook(() => Deferred.succeed(verifying, undefined).pipe(Effect.andThen(Effect.never)))
      const firstLayer = Testing.layer({ handlers: [first], store: store() })
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Runbook.handle(hanging, W.signal(), { incidentId }))
        yield* Deferred.await(verifying)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(firstLayer))
      assert.strictEqual(first.writes.length, 1)

      // 2nd process: a fresh store instance over the same directory, fresh handlers.
      const second = restartHandler(Effect.void)
      const recovered = runbook((ctx) => Effect.succeed({ _tag: "Recovered" as const, checks: [{ name: "up", ok: true, detail: `since ${ctx.since}` }], at: ctx.since }))
      const secondLayer = Testing.layer({ handlers: [second], store: store() })
      const r = yield* Effect.gen(function*() {
        const s = yield* GuardrailStore.GuardrailStore
        const journal = yield* s.readJournal(incidentId)
        const types = journal.map((e) => e.type)
        assert.include(types, "applied")
        assert.notInclude(types, "verdict")
        assert.notInclude(types, "closed")
        const open = yield* s.listIncidents()
        assert.deepStrictEqual(open.map((i) => i.incidentId), [incidentId])
        return yield* Runbook.resume(recovered, incidentId)
      }).pipe(Effect.provide(secondLayer))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(second.runs.length, 0) // no second action
      assert.strictEqual(r.escalation, undefined) // no false rate-limit escalation
      assert.isFalse(r.decisions.some((d) => d.decision === "deny"))
      assert.strictEqual(r.outcomes[0]?.status, "applied")
      assert.match(r.outcomes[0]!.detail, /before resume/)
      assert.strictEqual(r.verdicts[0]?._tag, "Recovered")
      assert.isTrue(r.timeline.some((t) => t.phase === "resume"))

      // The journal now ends closed, and a further resume returns the recorded report without acting.
      const again = yield* Runbook.resume(recovered, incidentId).pipe(Effect.provide(Testing.layer({ handlers: [second], store: store() })))
      assert.strictEqual((again as any).status, "recovered")
      assert.strictEqual(second.runs.length, 0)
      fs.rmSync(dir, { recursive: true, force: true })
    }))

  it.effect("an unknown incident is a typed IncidentNotFound", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Runbook.resume(runbook(() => Effect.never), "nope"))
      assert.strictEqual(e._tag, "IncidentNotFound")
    }).pipe(Effect.provide(Testing.layer())))
})

void Layer
