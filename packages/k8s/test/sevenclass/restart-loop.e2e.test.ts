/**
 * k8s.restart-loop.container end to end on kube-sim (real client, virtual time, auto mode, the
 * effect read from cluster state): a re-pushed tag is pinned to the digest the Ready pods run; an
 * OOM loop gets ×1.5; config/secret errors and a port conflict not introduced by a rollout
 * escalate and mutate nothing; a dependency failure awaits core's DependencyUnavailable hand-off
 * (nobody owns it here: it times out and escalates, the pod untouched).
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as RestartLoop from "../../src/runbooks/k8s.restart-loop.container"
import { deploymentOf, fast, firstSignal, mutations, podsOf, ready, runWithSim, Scenario, sevenServices, sim, type Sim } from "./harness"

const c3 = () => Scenario.cluster({ nodes: 3 })
const writes = (s: Sim) => mutations(s).real.filter((r) => !r.path.includes("/events"))

const handle = (s: Sim, pred: (x: any) => boolean, mode: "auto" | "dry_run" | "observe" = "auto") => {
  const rb = RestartLoop.make({ verify: fast })
  return runWithSim(
    s,
    Effect.gen(function*() {
      const signal = yield* firstSignal(rb as any, pred)
      return (yield* Runbook.handle(rb, signal, { mode })) as any
    }).pipe(Effect.provide(sevenServices(s))) as Effect.Effect<any>,
    { max: "60 minutes" }
  )
}
const looping = (type: string) => (x: any) => x.type === type && String(x.evidence?.pod ?? "").startsWith("api-")

describe("k8s.restart-loop.container e2e, auto", () => {
  it.effect("image_pull (re-pushed tag): pinned to repo@sha256 of the Ready pods; the pinned digest runs after the re-push", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.repushedTag({ name: "api" })).build())
      const report = yield* handle(s, (x) => looping("k8s.pod.crash_loop_back_off")(x) && x.evidence.lastExitCode === 2)
      assert.strictEqual(report.classification.class, "image_pull", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1) ?? report.escalation?.reason))
      const image = deploymentOf(s).spec.template.spec.containers[0].image as string
      assert.match(image, /^registry\.example\.com\/shop\/api@sha256:[0-9a-f]{64}$/)
      for (const p of podsOf(s)) {
        assert.isTrue(ready(p), `${p.metadata.name} Ready`)
        assert.strictEqual(p.status.containerStatuses[0].imageID.endsWith(image.split("@")[1]), true, "runs the pinned digest")
      }
    }).pipe(Effect.scoped), 120_000)

  it.effect("oom: the restart loop of an OOMKilled container gets ×1.5", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.oomAtStartup({ name: "api", workload: { memory: { kind: "plateau", plateauBytes: Math.round(256 * 2 ** 20 * 1.15), rampSeconds: 8 } } as any })).build())
      const report = yield* handle(s, looping("k8s.pod.restart_loop"))
      assert.strictEqual(report.classification.class, "oom")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1) ?? report.escalation?.reason))
      assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].resources.limits.memory, "384Mi")
    }).pipe(Effect.scoped), 120_000)

  it.effect("config_or_secret: a missing env var escalates naming it; nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.missingEnv({ name: "api" })).build())
      const report = yield* handle(s, looping("k8s.pod.restart_loop"))
      assert.strictEqual(report.classification.class, "config_or_secret")
      assert.strictEqual(report.status, "escalated")
      assert.match(JSON.stringify(report.escalation), /DATABASE_URL/)
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("port_bind from a sidecar present since revision 1: escalates, nothing rolled back", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.portInUse({ name: "api" })).build())
      const report = yield* handle(s, looping("k8s.pod.restart_loop"))
      assert.strictEqual(report.classification.class, "port_bind")
      assert.strictEqual(report.status, "escalated")
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("dependency_failure: an awaited DependencyUnavailable hand-off nobody owns times out and escalates; the pod is not restarted", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.dependencyNotReady({ name: "api" })).build())
      const report = yield* handle(s, looping("k8s.pod.restart_loop"))
      assert.strictEqual(report.classification.class, "dependency_failure")
      assert.strictEqual(report.plan.root.steps[0].signal.type, "dependency.unavailable")
      assert.strictEqual(report.plan.root.steps[0].signal.evidence.dependency, "postgres")
      assert.strictEqual(report.plan.root.steps[1].check.kind, "k8s.dependencyHealthy")
      assert.strictEqual(report.plan.root.steps[2].action.kind, "k8s.restartPod")
      assert.strictEqual(report.status, "escalated")
      assert.deepStrictEqual(writes(s), [])
    }).pipe(Effect.scoped), 120_000)
})

describe("k8s.restart-loop.container e2e, observe and dry_run", () => {
  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: the digest pin is ${mode === "dry_run" ? "only validated with dryRun=All" : "not sent"}; the tag stays`, () =>
      Effect.gen(function*() {
        const s = yield* sim(c3().with(Scenario.crashloop.repushedTag({ name: "api" })).build())
        const report = yield* handle(s, (x) => looping("k8s.pod.crash_loop_back_off")(x) && x.evidence.lastExitCode === 2, mode)
        assert.strictEqual(report.classification.class, "image_pull")
        assert.deepStrictEqual(writes(s), [])
        assert.strictEqual(mutations(s).dryRun.filter((r) => r.path.endsWith("/deployments/api")).length, mode === "dry_run" ? 1 : 0)
        assert.strictEqual(deploymentOf(s).spec.template.spec.containers[0].image, "registry.example.com/shop/api:1.4.2")
      }).pipe(Effect.scoped), 120_000)
  }
})
