import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Redacted, Schema, Stream } from "effect"
import {
  Action,
  ActionHandler,
  Approval,
  Classifier,
  Detector,
  Diagnoser,
  Guardrail,
  GuardrailStore,
  Notifier,
  Plan,
  Runbook,
  TargetRef
} from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { FileStore } from "@byteport/core"

const target = TargetRef.make("node", "prod/node-7")
interface Facts {
  readonly pods: number
}
interface World {
  pods: number
  drained: Array<string>
}

const drain = (world: World) =>
  ActionHandler.make({
    kind: "t.drain",
    params: Schema.Struct({ pods: Schema.Number }),
    apply: (p, ctx) =>
      Effect.sync((): ActionHandler.HandlerResult => {
        if (ctx.dryRun) return { detail: `would drain ${p.pods} pods`, result: {} }
        world.drained.push(`drain ${p.pods}`)
        return { detail: `drained ${p.pods} pods`, result: { pods: p.pods } }
      })
  })

/** Draining a node always needs a human; the plan names how many pods move, so it changes when they do. */
const runbook = (world: World) => Runbook.make<Facts>(runbookOptions(world))

const runbookOptions = (world: World): Runbook.MakeOptions<Facts, never> => ({
    id: "test.node.drain",
    signals: ["node.unhealthy"],
    diagnose: Diagnoser.make<Facts>({ pods: Diagnoser.probe("pods", () => Effect.sync(() => world.pods)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "bad_node", confidence: 0.9, needs: ["pods"], when: () => true })]),
    remediate: (_c, facts) =>
      Effect.succeed(
        Plan.make(
          "test.node.drain",
          "bad_node",
          `drain ${(facts.pods as any).value} pods`,
          Plan.act(Action.make({ kind: "t.drain", target, params: { pods: (facts.pods as any).value }, description: "drain the node" }))
        )
      ),
    guardrails: [Guardrail.approval({ reason: "draining a node moves every pod on it" })],
    verify: () => Effect.sync(() => ({ _tag: "Recovered" as const, checks: [], at: 0 })),
    defaultMode: "auto",
    approvalTimeout: "10 minutes"
})

const signal = { type: "node.unhealthy", target, observedAt: 0, evidence: {} }
const token = "s3cret-approval-token"

const post = (url: string, body: unknown, headers: Record<string, string> = { [Approval.tokenHeader]: token }) =>
  Effect.promise(async () => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  })

const paused = (r: Runbook.HandleResult): Runbook.AwaitingApproval => {
  if (!Runbook.isAwaitingApproval(r)) throw new Error(`expected a pause, got ${r.status}`)
  return r
}

describe("approval", () => {
  it.live("pause → approve through the HTTP channel → resume runs; bad requests get 400/401/404/409", () => {
    const world: World = { pods: 12, drained: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal))
      assert.strictEqual(p.planDigest, Plan.digest(p.plan))
      assert.match(p.reason, /draining a node moves every pod/)
      assert.deepStrictEqual(world.drained, [])
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.match(rec.plans[0]!.rendered, new RegExp(`Approve digest ${p.planDigest}`))

      const server = yield* Approval.serveHttp({ token: Redacted.make(token) })
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const url = `${server.url}/approvals/${p.incidentId}`
      const good = { planDigest: p.planDigest, approver: "alice" }
      assert.strictEqual((yield* post(url, good, {})).status, 401)
      assert.strictEqual((yield* post(url, good, { [Approval.tokenHeader]: "wrong" })).status, 401)
      assert.strictEqual((yield* post(url, "{not json")).status, 400)
      const noApprover = yield* post(url, { planDigest: p.planDigest })
      assert.strictEqual(noApprover.status, 400)
      assert.match(noApprover.body["message"], /approver/)
      assert.strictEqual((yield* post(url, { ...good, expiresAt: "not a date" })).status, 400)
      assert.strictEqual((yield* post(`${server.url}/approvals/inc_unknown`, good)).status, 404)
      const stale = yield* post(url, { ...good, planDigest: "0".repeat(64) })
      assert.strictEqual(stale.status, 409)
      assert.strictEqual(stale.body["current"], p.planDigest)
      // Nothing ran so far, and resuming without an approval pauses again.
      const stillPaused = yield* Runbook.resume(rb, p.incidentId)
      assert.isTrue(Runbook.isAwaitingApproval(stillPaused))
      assert.deepStrictEqual(world.drained, [])

      const ok = yield* post(url, good)
      assert.strictEqual(ok.status, 202)
      assert.strictEqual(ok.body["approval"]["approver"], "alice")
      const r = yield* Approval.awaitDecision(rb, p, { pollEvery: "10 millis" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("should have run")
      assert.strictEqual(r.status, "recovered")
      assert.deepStrictEqual(world.drained, ["drain 12"])
      const store = yield* GuardrailStore.GuardrailStore
      const types = (yield* store.readJournal(p.incidentId)).map((e) => e.type)
      assert.include(types, "approved")
      // Approving a closed incident is a conflict.
      assert.strictEqual((yield* post(url, good)).status, 409)
    }).pipe(Effect.scoped, Effect.provide(Testing.layer({ handlers: [drain(world)] })))
  })

  it.live("layerHttp takes its token from BYTEPORT_APPROVAL_TOKEN and refuses to start without one", () => {
    const world: World = { pods: 2, drained: [] }
    const config = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
    return Effect.gen(function*() {
      const p = paused(yield* Runbook.handle(runbook(world), signal))
      // The server lives as long as the layer: use it inside.
      yield* Effect.gen(function*() {
        const channel = yield* Approval.ApprovalChannel
        assert.strictEqual(channel.name, "http")
        const text = channel.instructions(p)
        assert.notInclude(text, token) // the secret is never printed
        const url = /POST (\S+)/.exec(text)![1]!
        assert.strictEqual((yield* post(url, { planDigest: p.planDigest, approver: "frank" }, { [Approval.tokenHeader]: "nope" })).status, 401)
        assert.strictEqual((yield* post(url, { planDigest: p.planDigest, approver: "frank" })).status, 202)
      }).pipe(Effect.provide(Approval.layerHttp.pipe(Layer.provide(config({ BYTEPORT_APPROVAL_TOKEN: token })))))
      const missing = yield* Effect.exit(
        Effect.service(Approval.ApprovalChannel).pipe(Effect.provide(Approval.layerHttp.pipe(Layer.provide(config({})))))
      )
      assert.strictEqual(missing._tag, "Failure")
    }).pipe(Effect.scoped, Effect.provide(Testing.layer({ handlers: [drain(world)] })))
  })

  it.effect("a plan changed before any approval asks again: the old digest is stale, the new one runs", () => {
    const world: World = { pods: 12, drained: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const first = paused(yield* Runbook.handle(rb, signal))
      world.pods = 15 // the node gained pods while we waited: the plan changes
      // Nobody approved yet: resuming re-diagnoses, sees another plan and asks again instead of running.
      // (Approved, then changed: escalated, see approval-binds.test.ts.)
      const second = paused(yield* Runbook.resume(rb, first.incidentId))
      assert.notStrictEqual(second.planDigest, first.planDigest)
      const requests = (yield* (yield* Notifier.NotifierRecording).get).plans
      assert.strictEqual(requests.length, 2, "a second request, for the new plan")
      assert.include(requests[1]!.rendered, second.planDigest)
      assert.deepStrictEqual(world.drained, [])
      // The old digest is now stale.
      const stale = yield* Effect.flip(Approval.approve(first.incidentId, { planDigest: first.planDigest, approver: "bob" }))
      assert.strictEqual(stale._tag, "StaleDigest")
      yield* Approval.approve(first.incidentId, { planDigest: second.planDigest, approver: "bob" })
      const r = yield* Runbook.resume(rb, first.incidentId)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("should have run")
      assert.strictEqual(r.status, "recovered")
      assert.deepStrictEqual(world.drained, ["drain 15"])
    }).pipe(Effect.provide(Testing.layer({ handlers: [drain(world)] })))
  })

  it.effect("a timeout escalates", () => {
    const world: World = { pods: 3, drained: [] }
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal))
      assert.strictEqual(p.expiresAt, 10 * 60_000)
      const r = yield* Testing.runAdvancing(Approval.awaitDecision(rb, p, { pollEvery: "30 seconds" }), { step: "30 seconds" })
      if (Runbook.isAwaitingApproval(r)) return assert.fail("should have escalated")
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation!.reason, /approval timed out/)
      assert.deepStrictEqual(world.drained, [])
      const late = yield* Effect.flip(Approval.approve(p.incidentId, { planDigest: p.planDigest, approver: "carol" }))
      assert.strictEqual(late._tag, "NotAwaiting")
    }).pipe(Effect.provide(Testing.layer({ handlers: [drain(world)] })))
  })

  it.effect("Runbook.run follows a pause: the request names the channel, the approval resumes it, and run ends when it is decided", () => {
    const world: World = { pods: 6, drained: [] }
    return Effect.gen(function*() {
      const rb = Runbook.make({ ...runbookOptions(world), detector: Detector.fromStream("once", Stream.make(signal)) })
      const results: Array<Runbook.HandleResult> = []
      const fiber = yield* Effect.forkChild(
        Runbook.run(rb, { handOffs: false, approvals: { pollEvery: "5 seconds" }, onResult: (r) => Effect.sync(() => void results.push(r)) })
      )
      for (let i = 0; i < 1000 && results.length === 0; i++) yield* Effect.yieldNow
      const p = paused(results[0]!)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.include(rec.plans[0]!.rendered, `Approve (cli): byteport approve ${p.incidentId} --digest ${p.planDigest}`)
      yield* Testing.advance("1 minute")
      assert.strictEqual(results.length, 1) // still waiting
      yield* Approval.approve(p.incidentId, { planDigest: p.planDigest, approver: "erin" })
      yield* Testing.advance("5 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(results.map((r) => (Runbook.isAwaitingApproval(r) ? "paused" : r.status)), ["paused", "recovered"])
      assert.deepStrictEqual(world.drained, ["drain 6"])
    }).pipe(Effect.provide(Layer.merge(Testing.layer({ handlers: [drain(world)] }), Approval.cli)))
  })

  it.live("a restart while paused keeps the pause; `byteport approve` (CLI, FileStore) then lets it run", () => {
    const world: World = { pods: 4, drained: [] }
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "byteport-approval-"))
    const layer = () => Testing.layer({ handlers: [drain(world)], store: FileStore.layer({ directory: dir, fsync: false }) })
    return Effect.gen(function*() {
      const rb = runbook(world)
      const p = paused(yield* Runbook.handle(rb, signal).pipe(Effect.provide(layer())))
      // "Restart": a fresh store over the same directory; the journal still holds the pause.
      const again = paused(yield* Runbook.resume(rb, p.incidentId).pipe(Effect.provide(layer())))
      assert.strictEqual(again.planDigest, p.planDigest)
      assert.strictEqual(again.expiresAt, p.expiresAt)
      const open = yield* Effect.flatMap(GuardrailStore.GuardrailStore, (s) => s.listIncidents()).pipe(Effect.provide(layer()))
      assert.deepStrictEqual(open.map((i) => i.incidentId), [p.incidentId])

      const stale = yield* cli(["approve", p.incidentId, "--digest", "f".repeat(64), "--approver", "dave"], dir)
      assert.strictEqual(stale.code, 3)
      assert.match(stale.stderr, /StaleDigest/)
      const unknown = yield* cli(["approve", "inc_nope", "--digest", p.planDigest, "--approver", "dave"], dir)
      assert.strictEqual(unknown.code, 2)
      const ok = yield* cli(["approve", p.incidentId, "--digest", p.planDigest, "--approver", "dave", "--ttl", "15m"], dir)
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.match(ok.stdout, new RegExp(`approved ${p.incidentId}: plan ${p.planDigest} by dave`))

      const r = yield* Runbook.resume(rb, p.incidentId).pipe(Effect.provide(layer()))
      if (Runbook.isAwaitingApproval(r)) return assert.fail("should have run")
      assert.strictEqual(r.status, "recovered")
      assert.deepStrictEqual(world.drained, ["drain 4"])
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))))
  }, { timeout: 60_000 })
})

const repoRoot = nodePath.resolve(__dirname, "../../../..")
const cliPath = nodePath.resolve(__dirname, "../../../cli/src/main.ts") // the `byteport` command line (@byteport/cli)

/** Runs the `byteport` CLI from source in a child process (argv array, no shell). */
const cli = (args: ReadonlyArray<string>, storeDir: string) =>
  Effect.callback<{ code: number; stdout: string; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@byteport/source", cliPath, ...args], {
      cwd: repoRoot,
      env: { ...process.env, BYTEPORT_STORE_DIR: storeDir },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("close", (code) => resume(Effect.succeed({ code: code ?? -1, stdout, stderr })))
  })
