import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { AgentId, FileStore, GuardrailStore, Runbook } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as R from "./resumeWorld"
import * as W from "./world"

const runbook = R.runbook
const restartHandler = R.restartHandler

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

  it.live("a process killed (SIGKILL) after `applied` resumes at verification in a fresh process", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-kill-"))
      const marker = nodePath.join(dir, "marker.log")
      const incidentId = "inc-killed-1"
      yield* Effect.callback<void, Error>((resume) => {
        const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", nodePath.join(__dirname, "scripts/crashAfterApplied.ts"), nodePath.join(dir, "store"), incidentId, marker], {
          cwd: nodePath.resolve(__dirname, "../../../.."),
          env: { ...process.env, BYTEPORT_AGENT_ID: "replica-1" },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let err = ""
        child.stderr.on("data", (c) => (err += c))
        child.stdout.on("data", (c) => {
          if (String(c).includes("VERIFYING")) child.kill("SIGKILL")
        })
        child.on("close", (_code, sig) => resume(sig === "SIGKILL" ? Effect.void : Effect.fail(new Error(`child ended without being killed: ${err}`))))
      })
      assert.strictEqual(fs.readFileSync(marker, "utf8"), "applied\n")
      const again = R.restartHandler(Effect.sync(() => fs.appendFileSync(marker, "applied again\n")))
      const r = yield* Runbook.resume(R.runbook(R.recovered), incidentId).pipe(
        Effect.provide(Testing.layer({ handlers: [again], store: FileStore.layer({ directory: nodePath.join(dir, "store"), fsync: false }) })),
        // the same replica, restarted: its own lease is renewed at once (another agent would wait for it to expire)
        Effect.provide(AgentId.layer("replica-1"))
      )
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(r.escalation, undefined)
      assert.deepStrictEqual(again.runs, [])
      assert.strictEqual(fs.readFileSync(marker, "utf8"), "applied\n") // exactly one action, ever
      fs.rmSync(dir, { recursive: true, force: true })
    }), { timeout: 60_000 })

  it.effect("an unknown incident is a typed IncidentNotFound", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Runbook.resume(runbook(() => Effect.never), "nope"))
      assert.strictEqual(e._tag, "IncidentNotFound")
    }).pipe(Effect.provide(Testing.layer())))
})

