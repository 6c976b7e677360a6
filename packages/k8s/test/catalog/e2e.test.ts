/**
 * Issue 11 §7, across runbooks: the default catalog with every pod runbook in main and
 * k8s.oom.six-signal enabled, on kube-sim through the real client, auto mode.
 *
 * - two agents (two `Catalog.run`s with their own identities, informers and clients) share the
 *   Lease store: one OOM crash loop → exactly one memory-limit patch;
 * - a second bump within 24 h is denied — from k8s.oom.exit-137 too (the budget is on the
 *   kind), and after an agent restart (a fresh agent on the same Lease store);
 * - a second rollback within 1 h is denied after an agent restart (five-branch's
 *   image_pull_failure; failed-rollout and a pod-family runbook share the kind's budget, see
 *   test/rollout/e2e.guardrails.test.ts);
 * - one watch per kind and 0 non-watch requests in 10 idle virtual minutes with everything
 *   enabled (the TimedUndo loop reads the store once at start-up and then sleeps 30 min).
 */
import { AgentId, Catalog, Runbook } from "@byteport/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { scenario } from "../../../kube-sim/src/scenario/index"
import * as K8sCatalog from "../../src/catalog"
import * as Kube from "../../src/Kube"
import * as Remediator from "../../src/remediators/oom"
import * as Exit137 from "../../src/runbooks/k8s.oom.exit-137"
import * as FiveBranch from "../../src/runbooks/k8s.crashloop.five-branch"
import * as LeaseStore from "../../src/stores/LeaseStore"
import { until } from "../foundation/helpers"
import { firstSignal, runWithSim, Scenario, services, sim, type Sim } from "./world"

const realDelay = (ms: number) => Effect.promise(() => new Promise<void>((r) => setTimeout(r, ms)))
const POD_RUNBOOKS = ["k8s.oom.six-signal", "k8s.oom.exit-137", "k8s.image-pull", "k8s.pending", "k8s.crashloop.five-branch", "k8s.crashloop.seven-class", "k8s.crashloop.exit-code", "k8s.restart-loop.container"]
const DEPLOYMENTS = { group: "apps", version: "v1", resource: "deployments" }
const limitOf = (s: Sim) => (s.api.store.get(DEPLOYMENTS, "default", "api") as any).spec.template.spec.containers[0].resources.limits.memory
const patchAttempts = (s: Sim) => s.api.recorder.requests().filter((r) => r.method === "PATCH" && !r.dryRun && r.path.endsWith("/deployments/api"))
/** The patches the API server applied (a retried conditional patch refused with 409 changed nothing). */
const limitPatches = (s: Sim) => patchAttempts(s).filter((r) => r.status >= 200 && r.status < 300)
const leaseStore = (s: Sim) => LeaseStore.layer({ namespace: "default" }).pipe(Layer.provide(Layer.orDie(Kube.layerFromString(s.kubeconfig()))))
/** An agent: its own identity, client, informers and registry; the cluster's Lease store. */
const agent = (s: Sim, id: string) => Layer.mergeAll(services(s, { store: leaseStore(s) }), AgentId.layer(id))

// ×1.25 keeps a second bump (640Mi → 800Mi) under the 2× ceiling: only the 24 h budget can deny it
const catalog = () =>
  K8sCatalog.make({
    enable: POD_RUNBOOKS,
    runbooks: { "k8s.oom.six-signal": { defaultMode: "auto", remediation: { ...Remediator.defaults, bumpFactor: 1.25 } } },
    settle: "2 seconds"
  })

describe("K8sCatalog e2e (kube-sim, two agents, Lease store)", () => {
  it.effect("one OOM crash loop, two agents, every pod runbook enabled: exactly one patch; a second bump within 24 h is denied from exit-137 and after a restart", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.oom.undersizedLimit({ name: "api", limit: "512Mi" })).build())
      s.advance("6m")
      // containers started from now on (the bump's replacement pods) settle at 105% of 640Mi
      s.setMemoryModel({ namespace: "default", workload: "api", container: "api" }, { kind: "plateau", plateauBytes: Math.round(640 * 2 ** 20 * 1.05), startBytes: 300 * 2 ** 20, rampSeconds: 120 })
      const c = catalog()
      assert.includeMembers([...K8sCatalog.enabledIds(c)], POD_RUNBOOKS)
      const results: Array<any> = []
      yield* TestClock.setTime(s.now())
      const run = (id: string) =>
        Catalog.run(c, { onResult: (r) => Effect.sync(() => void results.push({ agent: id, r })) }).pipe(Effect.provide(agent(s, id)), Effect.forkChild)
      const a = yield* run("agent-a")
      const b = yield* run("agent-b")
      // both agents see the same crash loop; drive virtual time until one incident closes
      for (let i = 0; i < 1200 && !results.some((x) => x.r.status === "recovered" || x.r.status === "escalated"); i++) {
        yield* realDelay(4)
        s.advance(1000)
        yield* TestClock.adjust("1 second")
      }
      const acted = results.filter((x) => (x.r.outcomes ?? []).some((o: any) => o.kind === "k8s.patchMemoryLimit" && o.status === "applied"))
      assert.strictEqual(acted.length, 1, JSON.stringify(results.map((x) => [x.agent, x.r.runbook, x.r.status, x.r.reason])))
      assert.strictEqual(acted[0].r.runbook, "k8s.oom.six-signal", "OOM outranks the crash-loop runbooks")
      if (patchAttempts(s).length !== limitPatches(s).length) console.log("refused patch attempts:", JSON.stringify(patchAttempts(s).map((r) => [r.seq, r.status, r.body.slice(0, 200)])))
      assert.strictEqual(limitPatches(s).length, 1, "exactly one patch of the Deployment: " + JSON.stringify({
        patches: patchAttempts(s).map((r) => ({ seq: r.seq, status: r.status, contentType: r.contentType, body: r.body.slice(0, 400), time: r.time })),
        results: results.map((x) => [x.agent, x.r.runbook, x.r.status, (x.r.outcomes ?? []).map((o: any) => [o.kind, o.status, o.detail])])
      }))
      assert.strictEqual(limitOf(s), "640Mi")
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)

      // the replacement pods outgrow the bump and OOM again; past the lease cooldown
      for (let i = 0; i < 20; i++) {
        s.advance(30_000)
        yield* TestClock.adjust("30 seconds")
        yield* realDelay(5)
      }
      // a restarted agent (new identity, same Lease store) handles the new OOM with k8s.oom.exit-137
      const exit137 = Exit137.make({ defaultMode: "auto" } as never)
      const second: any = yield* runWithSim(s, Effect.gen(function*() {
        const sig = yield* firstSignal(exit137)
        return yield* Runbook.handle(exit137, sig, { mode: "auto" })
      }).pipe(Effect.provide(agent(s, "agent-c"))))
      assert.strictEqual(second.runbook, "k8s.oom.exit-137")
      assert.strictEqual(limitOf(s), "640Mi", "no second bump: " + JSON.stringify(second.decisions))
      assert.strictEqual(limitPatches(s).length, 1)
      const denial = (second.decisions ?? []).find((d: any) => d.decision === "deny")
      assert.isDefined(denial, JSON.stringify({ status: second.status, reason: second.reason, outcomes: second.outcomes }))
      assert.match(denial.guardrail, /memory_bumps_per_workload_container/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("a second rollback of the workload within the hour is denied after an agent restart (Lease store)", () =>
    Effect.gen(function*() {
      const s = yield* sim(Scenario.cluster({ nodes: 3 }).with(Scenario.crashloop.badImageTag({ name: "api" })).build())
      s.advance("6m")
      const rollbacks = () => s.api.recorder.requests().filter((r) => r.method === "PATCH" && !r.dryRun && r.path.endsWith("/deployments/api") && r.contentType === "application/json-patch+json")
      const handle = (id: string) => {
        const rb = FiveBranch.make()
        return runWithSim(s, Effect.gen(function*() {
          return (yield* Runbook.handle(rb, yield* firstSignal(rb), { mode: "auto" })) as any
        }).pipe(Effect.provide(agent(s, id))), { max: "60 minutes" })
      }
      const first = yield* handle("agent-a")
      assert.strictEqual(first.classification?.class, "image_pull_failure")
      assert.isTrue(first.outcomes.some((o: any) => o.kind === "k8s.rollbackDeployment" && o.status === "applied"), JSON.stringify(first.outcomes))
      const imageOf = () => (s.api.store.get(DEPLOYMENTS, "default", "api") as any).spec.template.spec.containers[0].image
      assert.strictEqual(imageOf(), "registry.example.com/shop/api:1.4.2")
      assert.strictEqual(rollbacks().length, 1)
      // within the hour, a new bad tag is rolled out; a restarted agent (new identity) handles it
      s.advance("6m")
      const bad = "registry.example.com/shop/api:1.4.4-rc1"
      s.setImage(bad, "notFound")
      s.api.store.mutate(DEPLOYMENTS, "default", "api", (o: any) => {
        o.metadata.annotations = { ...o.metadata.annotations, "kubernetes.io/change-cause": "deploy api 1.4.4-rc1 (commit 7c7c7c7)" }
        o.spec.template.spec.containers[0].image = bad
      })
      s.advance("3m")
      const second = yield* handle("agent-b")
      assert.strictEqual(second.classification?.class, "image_pull_failure")
      const denial = (second.decisions ?? []).find((d: any) => d.decision === "deny")
      assert.strictEqual(denial?.guardrail, "rollback_per_workload", JSON.stringify({ status: second.status, outcomes: second.outcomes, decisions: second.decisions }))
      assert.strictEqual(imageOf(), bad, "no second rollback within the hour")
      assert.strictEqual(rollbacks().length, 1)
    }).pipe(Effect.scoped), 120_000)

  it.effect("everything enabled on the Lease store: one watch per kind, 0 non-watch requests in 10 idle virtual minutes", () =>
    Effect.gen(function*() {
      const s = yield* sim(scenario({ nodes: 2, workloads: [{ name: "web", replicas: 2 }] }))
      s.advance("2m")
      s.api.recorder.clear()
      const all = K8sCatalog.make({ only: [...K8sCatalog.ids] })
      assert.strictEqual(K8sCatalog.enabledIds(all).length, K8sCatalog.ids.length)
      const results: Array<unknown> = []
      yield* TestClock.setTime(s.now())
      const fiber = yield* Catalog.run(all, { onResult: (r) => Effect.sync(() => void results.push(r)) }).pipe(Effect.provide(agent(s, "agent-idle")), Effect.forkChild)
      yield* until(() => s.api.openWatches >= 5, 20_000, "the watches open")
      yield* realDelay(500)
      const startup = s.api.recorder.requests()
      const watches = startup.filter((r) => r.watch).map((r) => r.path)
      assert.deepStrictEqual(watches.length, new Set(watches).size, `one watch per kind: ${watches.join(", ")}`)
      const mark = startup.at(-1)!.seq
      const t0 = s.now()
      for (let i = 0; i < 60; i++) {
        s.advance(10_000)
        yield* TestClock.adjust("10 seconds")
        yield* realDelay(15)
      }
      assert.strictEqual(s.now() - t0, 600_000)
      const idle = s.api.recorder.requests().filter((r) => r.seq > mark)
      assert.deepStrictEqual(idle.filter((r) => !r.watch).map((r) => `${r.method} ${r.path}`), [], "zero non-watch requests")
      const after = s.api.recorder.requests({ watch: true }).map((r) => r.path)
      assert.deepStrictEqual([...new Set(after)].sort(), [...new Set(watches)].sort(), "the same watches")
      assert.strictEqual(after.length, new Set(after).size, "still one watch per kind")
      assert.deepStrictEqual(results, [])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.scoped), 90_000)
})
