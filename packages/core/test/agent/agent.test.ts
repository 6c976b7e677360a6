/**
 * Agent.layer / Agent.run: production wiring from configuration. A ConfigProvider with the
 * BYTEPORT_* keys builds a working layer (FileStore journal, audit log, ops webhook on loopback,
 * agent identity on the lease); an invalid value is a typed ConfigError when the layer is built,
 * before any incident runs.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, Stream } from "effect"
import {
  Agent,
  AgentId,
  Approval,
  Catalog,
  Classifier,
  Detector,
  Diagnoser,
  GuardrailStore,
  MemoryStore,
  Plan,
  Runbook,
  TargetRef
} from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as Loopback from "../sinks/loopback"
import * as W from "../engine/world"

interface Facts {
  readonly down: boolean
}

const runbook = (detector?: Detector.Detector<never, never>) =>
  Runbook.make<Facts>({
    id: "test.agent.restart",
    signals: ["svc.down"],
    ...(detector ? { detector } : {}),
    diagnose: Diagnoser.make<Facts>({ down: Diagnoser.probe("down", () => Effect.succeed(true)) }),
    classify: Classifier.firstMatch([Classifier.rule<Facts>()({ class: "w.down", confidence: 0.9, needs: ["down"], when: (f) => f.down })]),
    remediate: () => Effect.succeed(Plan.make("test.agent.restart", "w.down", "restart once", Plan.act(W.action("w.restart", { n: 1 })))),
    verify: (ctx) => Effect.succeed({ _tag: "Recovered" as const, checks: [], at: ctx.since })
  })

const withConfig = (env: Record<string, string>) => <A, E, R>(eff: Effect.Effect<A, E, R>) =>
  eff.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))

const tmp = (prefix: string) => fs.mkdtempSync(nodePath.join(os.tmpdir(), prefix))

describe("Agent", () => {
  it.live("a ConfigProvider with the BYTEPORT_* keys builds a working layer: store, audit log, sinks, identity, mode", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = tmp("byteport-agent-")
      const ops = yield* Loopback.scoped([{ status: 200, body: "ok" }])
      const handler = Testing.recordingHandler("w.restart")
      const env = {
        BYTEPORT_STORE_DIR: nodePath.join(dir, "store"),
        BYTEPORT_AUDIT_LOG: nodePath.join(dir, "audit", "audit.jsonl"),
        BYTEPORT_OPS_WEBHOOK_URL: ops.url("/ops"),
        BYTEPORT_SINK_RETRIES: "0",
        BYTEPORT_AGENT_ID: "agent-prod-1",
        BYTEPORT_MODE_TEST_AGENT_RESTART: "auto"
      }
      const r = yield* Effect.gen(function*() {
        const report = yield* Runbook.handle(runbook(), W.signal(), { incidentId: "inc-agent-1" })
        const store = yield* GuardrailStore.GuardrailStore
        const lease = yield* store.getLease(`target:${TargetRef.key(W.target)}`)
        const channel = yield* Approval.ApprovalChannel
        return { report, lease, store: store.name, channel: channel.name }
      }).pipe(Effect.provide(Agent.layer({ handlers: [handler.handler] })), withConfig(env))
      if (Runbook.isAwaitingApproval(r.report)) return assert.fail("no approval expected")
      assert.strictEqual(r.report.mode, "auto") // BYTEPORT_MODE_<ID>
      assert.strictEqual(r.report.status, "recovered")
      assert.strictEqual(handler.writes.length, 1)
      assert.match(r.store, /^file:/)
      assert.strictEqual(r.channel, "cli") // no BYTEPORT_APPROVAL_TOKEN
      assert.strictEqual(r.lease?.holder, AgentId.holder("agent-prod-1", "inc-agent-1"))
      // the FileStore journal is in BYTEPORT_STORE_DIR, the audit log at BYTEPORT_AUDIT_LOG
      assert.isTrue(fs.readdirSync(env.BYTEPORT_STORE_DIR, { recursive: true }).length > 0)
      const audit = fs.readFileSync(env.BYTEPORT_AUDIT_LOG, "utf8").trim().split("\n").map((l) => JSON.parse(l))
      assert.isTrue(audit.some((l) => l.event === "report" && l.incidentId === "inc-agent-1"))
      // the report went to the ops webhook
      assert.isTrue(ops.requests.some((q) => q.url === "/ops" && JSON.parse(q.body).kind === "report"))
      fs.rmSync(dir, { recursive: true, force: true })
    })))

  it.live("Agent.run runs a catalog with the configured services and another store layer when given", () =>
    Effect.scoped(Effect.gen(function*() {
      const dir = tmp("byteport-agent-run-")
      const ops = yield* Loopback.scoped([{ status: 200, body: "ok" }])
      const handler = Testing.recordingHandler("w.restart")
      const done = yield* Deferred.make<Runbook.HandleResult>()
      const catalog = Catalog.make([runbook(Detector.fromStream("once", Stream.make(W.signal())))], { settle: "10 millis" })
      const store = yield* MemoryStore.make()
      const fiber = yield* Effect.forkChild(
        Agent.run(catalog, {
          handlers: [handler.handler],
          store: Layer.succeed(GuardrailStore.GuardrailStore, store),
          onResult: (r) => Effect.asVoid(Deferred.succeed(done, r))
        }).pipe(withConfig({
          BYTEPORT_MODE: "auto",
          BYTEPORT_AUDIT_LOG: nodePath.join(dir, "audit.jsonl"),
          BYTEPORT_AGENT_ID: "agent-run",
          BYTEPORT_OPS_WEBHOOK_URL: ops.url("/ops")
        }))
      )
      const r = yield* Deferred.await(done)
      yield* Fiber.interrupt(fiber)
      if (Runbook.isAwaitingApproval(r)) return assert.fail("no approval expected")
      assert.strictEqual(r.status, "recovered")
      assert.strictEqual(handler.writes.length, 1)
      const incidents = yield* store.listIncidents({ all: true })
      assert.deepStrictEqual(incidents.map((i) => i.incidentId), [r.incidentId]) // the given store, not a FileStore
      assert.strictEqual((yield* store.getLease(`target:${TargetRef.key(W.target)}`))?.holder, AgentId.holder("agent-run", r.incidentId))
      fs.rmSync(dir, { recursive: true, force: true })
    })))

  for (const [key, value] of [
    ["BYTEPORT_SINK_TIMEOUT_MS", "ten seconds"],
    ["BYTEPORT_SINK_RETRIES", "-"],
    ["BYTEPORT_APPROVAL_PORT", "http"]
  ] as const) {
    it.live(`an invalid ${key} is a typed ConfigError at startup, before any incident runs`, () =>
      Effect.gen(function*() {
        const dir = tmp("byteport-agent-bad-")
        const handler = Testing.recordingHandler("w.restart")
        const catalog = Catalog.make([runbook(Detector.fromStream("once", Stream.make(W.signal())))], { settle: "10 millis" })
        const env: Record<string, string> = {
          BYTEPORT_STORE_DIR: nodePath.join(dir, "store"),
          BYTEPORT_AUDIT_LOG: nodePath.join(dir, "audit.jsonl"),
          BYTEPORT_MODE: "auto",
          [key]: value
        }
        if (key === "BYTEPORT_APPROVAL_PORT") env["BYTEPORT_APPROVAL_TOKEN"] = "t0k3n-for-the-test"
        const e = yield* Effect.flip(Agent.run(catalog, { handlers: [handler.handler] }).pipe(withConfig(env)))
        assert.strictEqual(e._tag, "ConfigError")
        assert.include(e.message, key)
        assert.strictEqual(handler.runs.length, 0)
        assert.isFalse(fs.existsSync(nodePath.join(dir, "store", "journal")) && fs.readdirSync(nodePath.join(dir, "store", "journal")).length > 0)
        fs.rmSync(dir, { recursive: true, force: true })
      }))
  }
})
