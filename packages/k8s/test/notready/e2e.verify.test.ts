import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { ConfigProvider, Effect, Layer } from "effect"
import * as NodeNotReady from "../../src/runbooks/k8s.node.not-ready"
import * as Remediator from "../../src/remediators/nodeNotReady"
import { firstSignal, nodeServices, runWithSim, runWithSimHook, Scenario, sim } from "./harness"
import * as SimShell from "./simNodeShell"

const runbook = (o: Partial<Remediator.NodeRemediation> = {}) => NodeNotReady.make({ remediation: { ...Remediator.defaults, uncordon: false, ...o } })

describe("k8s.node.not-ready verification and the gated paths", () => {
  it.effect("a flap inside the hold window: NotRecovered, the retry 15 s later fails too → escalation; one restart only", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.node.notReady({ cause: "kubelet-stopped" })).build())
      s.advance("4m")
      const log: Array<string> = []
      let restartedAt: number | undefined
      let flapped = false
      const rb = runbook()
      const report: any = yield* runWithSimHook(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), () => {
        if (restartedAt === undefined && log.includes("node-2: systemctl restart kubelet")) restartedAt = s.now()
        if (!flapped && restartedAt !== undefined && s.now() - restartedAt >= 90_000) {
          flapped = true
          s.controllers.stopKubelet("node-2")
        }
      })
      assert.isTrue(flapped)
      assert.strictEqual(report.classification?.class, "transient_kubelet_hang")
      assert.strictEqual(report.status, "escalated", JSON.stringify(report.verdicts))
      const verdicts = report.verdicts.map((v: any) => v._tag)
      assert.isAtLeast(verdicts.filter((t: string) => t === "NotRecovered").length, 2, JSON.stringify(verdicts))
      assert.lengthOf(log.filter((l) => l.includes("systemctl restart")), 1, "a retry re-checks, never re-acts")
    }).pipe(Effect.scoped), 90_000)

  it.effect("resource_pressure_mem_pid: memory still ≥ 95% after the drain and restart → escalate, no replacement (off)", () =>
    Effect.gen(function*() {
      // the api workload with its PDB, but no kubelet stop: memory wedges the node instead
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ ...Scenario.node.notReady({ cause: "kubelet-stopped" }), steps: [] }).build())
      s.advance("30s")
      // a host process holds 15.5 of the node's 16 GiB: the kubelet reports MemoryPressure and is wedged
      s.setNodeHost("node-2", { hostMemoryBytes: 15.5 * 2 ** 30 })
      s.setNodeCondition("node-2", "MemoryPressure", "True")
      s.setNodeCondition("node-2", "Ready", "False")
      s.advance("3m")
      const log: Array<string> = []
      const rb = runbook()
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, log) }))), { step: "5 seconds" })
      assert.strictEqual(report.classification?.class, "resource_pressure_mem_pid", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "escalated", JSON.stringify(report.outcomes))
      assert.match(report.escalation.reason, /memory still ≥ 95%.*automatic node replacement is off/)
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "k8s.drainNode" && o.status === "applied"))
      assert.include(log, "node-2: free -b")
      assert.isFalse(report.outcomes.some((o: any) => /handoff|replacement-requested/.test(o.kind)))
    }).pipe(Effect.scoped), 90_000)

  it.effect("resource_pressure_mem_pid with BYTEPORT_AUTO_REPLACE_NODES=true: reservation and the node-replacement hand-off after the drain; nobody owns it here → escalate", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ ...Scenario.node.notReady({ cause: "kubelet-stopped" }), steps: [] }).build())
      s.api.store.mutate({ group: "", version: "v1", resource: "nodes" }, undefined, "node-2", (o: any) => {
        o.spec = { ...(o.spec ?? {}), providerID: "aws:///eu-west-1a/i-0abc" }
      })
      s.advance("30s")
      s.setNodeHost("node-2", { hostMemoryBytes: 15.5 * 2 ** 30 })
      s.setNodeCondition("node-2", "MemoryPressure", "True")
      s.setNodeCondition("node-2", "Ready", "False")
      s.advance("3m")
      const rb = runbook({ autoReplaceNodes: true, replaceAwaitSeconds: 300 })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(
        Effect.provide(nodeServices(s, { shell: SimShell.layer(s, []) })),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { BYTEPORT_AUTO_REPLACE_NODES: "true" } })))
      ), { step: "5 seconds" })
      assert.strictEqual(report.status, "escalated")
      const kinds = report.outcomes.map((o: any) => `${o.kind}:${o.status}`)
      const drainAt = kinds.indexOf("k8s.drainNode:applied")
      assert.isAtLeast(drainAt, 0, JSON.stringify(kinds))
      assert.deepStrictEqual(kinds.slice(drainAt + 1), ["k8s.restartNodeUnit:applied", "check:k8s.node.memory-below:check_failed", "k8s.requestNodeReplacement:applied", "handoff:escalated"])
      assert.include(JSON.stringify(report.outcomes.at(-1)), "node-2")
    }).pipe(Effect.scoped), 90_000)

  it.effect("resource_pressure_mem_pid with auto-replace planned but the opt-in off at run time: the reservation is denied → escalate, no hand-off", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with({ ...Scenario.node.notReady({ cause: "kubelet-stopped" }), steps: [] }).build())
      s.advance("30s")
      s.setNodeHost("node-2", { hostMemoryBytes: 15.5 * 2 ** 30 })
      s.setNodeCondition("node-2", "MemoryPressure", "True")
      s.setNodeCondition("node-2", "Ready", "False")
      s.advance("3m")
      const rb = runbook({ autoReplaceNodes: true, replaceAwaitSeconds: 300 })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })
      }).pipe(Effect.provide(nodeServices(s, { shell: SimShell.layer(s, []) }))), { step: "5 seconds" })
      assert.strictEqual(report.status, "escalated")
      const kinds = report.outcomes.map((o: any) => `${o.kind}:${o.status}`)
      assert.include(kinds, "k8s.requestNodeReplacement:denied")
      assert.isFalse(kinds.some((k: string) => k.startsWith("handoff:")))
      assert.match(report.escalation.reason, /did not request one/)
    }).pipe(Effect.scoped), 90_000)

  it.effect("fromConfig: BYTEPORT_AUTO_REPLACE_NODES must be a boolean; thresholds and the verify window are read", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(NodeNotReady.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_AUTO_REPLACE_NODES: "maybe" })))))
      assert.match(String(bad), /BYTEPORT_AUTO_REPLACE_NODES/)
      const badWindow = yield* Effect.flip(NodeNotReady.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_NODE_NOT_READY_VERIFY_WINDOW_SECONDS: "10", BYTEPORT_NODE_NOT_READY_VERIFY_POLL_SECONDS: "30" })))))
      assert.match(String(badWindow), /at least/)
      const rb = yield* NodeNotReady.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_AUTO_REPLACE_NODES: "true", BYTEPORT_NODE_NOT_READY_DISK_USED_PERCENT: "80" }))))
      assert.strictEqual(rb.id, "k8s.node.not-ready")
      assert.strictEqual(rb.family, "k8s.node")
      const badPct = yield* Effect.flip(NodeNotReady.fromConfig().pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ BYTEPORT_NODE_NOT_READY_CONFIDENCE_RUNTIME_CRASH: "1.5" })))))
      assert.match(String(badPct), /BYTEPORT_NODE_NOT_READY_CONFIDENCE_RUNTIME_CRASH/)
    }).pipe(Effect.provide(Layer.empty)))
})
