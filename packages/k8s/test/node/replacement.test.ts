/**
 * The node-replacement step (§3): after the drain, a guarded reservation then core's
 * node-replacement hand-off, awaited. Opt-in off → no hand-off, an escalation saying why; opt-in
 * on → the owner's child incident runs and the parent sees its verdict; nobody owns it → the
 * Catalog escalates and reports back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Catalog, Classification, Diagnoser, Fact, HandOffs, Notifier, Plan, Runbook, Verifier, type Signal } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import type { V1Node } from "@kubernetes/client-node"
import { ConfigProvider, Deferred, Effect, Fiber, Layer, Stream } from "effect"
import * as RequestNodeReplacement from "../../src/actions/requestNodeReplacement"
import * as NodeReplacement from "../../src/remediators/nodeReplacement"
import * as Targets from "../../src/targets/Targets"
import { fakeKube, node } from "./helpers"

const T0 = Date.parse("2026-01-01T00:00:00Z")
const target = Targets.node({ cluster: "prod", name: "node-2" })
const broken: Signal.Signal = { type: "test.node.hardware", target, observedAt: T0, evidence: { node: "node-2" } }

/** A parent that always wants node-2 replaced (its plan: only the shared step). */
const parent = Runbook.make<{ readonly ok: boolean }>({
  id: "test.node.replace",
  family: "test.node",
  signals: ["test.node.hardware"],
  diagnose: Diagnoser.make({ ok: Diagnoser.probe("noop", () => Effect.succeed(true)) }),
  classify: () => Classification.classified("hardware_cloud_failure", 0.94),
  remediate: (_c, _f, signal) => Effect.succeed(Plan.make("test.node.replace", "hardware_cloud_failure", "replace node-2", NodeReplacement.stepOrEscalate({ node: "node-2", cluster: "prod", reason: "machine check exception", observedAt: signal.observedAt, await: "10 minutes" }))),
  defaultMode: "auto"
})

/** The owner of the hand-off (the cloud package's role): replaces and recovers. */
const owner = Runbook.make<{ readonly reason: string }>({
  id: "test.cloud.replace-node",
  family: "test.cloud",
  signals: [HandOffs.NodeReplacementRequested.type],
  diagnose: Diagnoser.make({ reason: Diagnoser.probe("request", (s) => Effect.map(HandOffs.decode(HandOffs.NodeReplacementRequested, s), (e) => e.reason)) }),
  classify: (facts) => (Fact.value(facts.reason) ? Classification.classified("replace", 0.9) : Classification.unclassified(["no reason"])),
  remediate: () => Effect.succeed(Plan.make("test.cloud.replace-node", "replace", "replaced", Plan.seq())),
  verify: Verifier.fromChecks(() => Effect.succeed([{ name: "new node Ready", ok: true, detail: "node-7 Ready" }])),
  defaultMode: "auto"
})

const withFlag = (value: string | undefined) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: value === undefined ? {} : { BYTEPORT_AUTO_REPLACE_NODES: value } })))

const services = (nodes: Map<string, V1Node>) => Testing.layer({ handlers: [RequestNodeReplacement.make()] }).pipe(Layer.provide(fakeKube(nodes)))
const nodes = () => new Map([["node-2", node("node-2", { providerID: "aws:///eu-west-1a/i-0abc", cordoned: true })]])
const auto = { mode: "auto" as const }

describe("node replacement: the shared step", () => {
  it.effect("opt-in off (the default): no hand-off, an escalation that says the node needs a replacement", () =>
    Effect.gen(function*() {
      const r = (yield* Testing.runAdvancing(Runbook.handle(parent, broken, auto))) as any
      assert.strictEqual(r.status, "escalated")
      assert.match(r.escalation.reason, /node node-2 needs a replacement .*BytePort did not request one/)
      assert.isFalse(r.outcomes.some((o: any) => o.kind === "handoff"))
      assert.isTrue(r.decisions.some((d: any) => d.decision === "deny" && d.guardrail === "opt_in(BYTEPORT_AUTO_REPLACE_NODES)"))
    }).pipe(withFlag(undefined), Effect.provide(services(nodes()))))

  it.effect("opt-in on: reserved, handed off and awaited; the owner's child recovers and the parent sees it", () =>
    Effect.gen(function*() {
      const loop = yield* Effect.forkChild(Runbook.run(owner, { resumeOpen: false }))
      yield* Effect.yieldNow
      const r = (yield* Testing.runAdvancing(Runbook.handle(parent, broken, auto))) as any
      yield* Fiber.interrupt(loop)
      const reserve = r.outcomes.find((o: any) => o.kind === RequestNodeReplacement.KIND)
      assert.strictEqual(reserve.status, "applied")
      assert.strictEqual(reserve.result.providerID, "aws:///eu-west-1a/i-0abc")
      const handoff = r.outcomes.find((o: any) => o.kind === "handoff")
      assert.strictEqual(handoff.status, "handed_off")
      assert.match(handoff.detail, /ended recovered/)
      assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
    }).pipe(withFlag("true"), Effect.provide(services(nodes()))))

  it.effect("opt-in on, nobody owns the hand-off: the Catalog escalates it and the awaiting parent escalates too", () =>
    Effect.gen(function*() {
      const results: Array<any> = []
      const done = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(Catalog.run(Catalog.make([parent, owner], { disable: [owner.id] }), {
        sources: [Stream.fromIterable([broken])],
        onResult: (x) => Effect.andThen(Effect.sync(() => void results.push(x)), Deferred.succeed(done, undefined))
      }))
      for (let i = 0; i < 2000 && !(yield* Deferred.isDone(done)); i++) {
        yield* Effect.yieldNow
        yield* Testing.advance("1 second")
      }
      yield* Fiber.interrupt(fiber)
      const rec = yield* (yield* Notifier.NotifierRecording).get
      assert.isTrue(rec.escalations.some((e) => e.reason === "no enabled runbook owns hand-off k8s.node-replacement.requested on k8s.node prod/node-2"), JSON.stringify(rec.escalations.map((e) => e.reason)))
      assert.strictEqual(results.length, 1)
      assert.strictEqual(results[0].status, "escalated")
      assert.isBelow(results[0].endedAt - results[0].startedAt, 10 * 60_000, "reported back at once, not at the await deadline")
    }).pipe(withFlag("true"), Effect.provide(services(nodes()))))
})
