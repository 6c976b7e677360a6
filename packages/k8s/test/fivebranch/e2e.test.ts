/**
 * k8s.crashloop.five-branch end to end on kube-sim (real client-node), each class alone, auto
 * mode, the effect read from cluster state.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { deploymentOf, handleFirst, mark, podsOf, ready, restarts, Scenario, sim, writesSince } from "./world"

const c3 = () => Scenario.cluster({ nodes: 3 })

describe("k8s.crashloop.five-branch e2e per class (auto)", () => {
  it.effect("oom_at_startup: ×1.5 via PatchMemoryLimit; no startup OOMs afterwards; verified held", () =>
    Effect.gen(function*() {
      // start-up demand 1.1× the 256Mi limit: OOMKilled within seconds; 73% of the bumped 384Mi
      const s = yield* sim(c3().with(Scenario.crashloop.oomAtStartup({ name: "api", limit: "256Mi", workload: { memory: { kind: "plateau", plateauBytes: Math.round(256 * 2 ** 20 * 1.1), rampSeconds: 8 } } })).build())
      s.advance("3m")
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "oom_at_startup", JSON.stringify(report.classification))
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].resources.limits.memory, "384Mi")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      const held = report.verdicts.at(-1).checks[0]
      assert.isTrue(held.ok && held.observed.requiredMs >= 120_000, JSON.stringify(held))
      assert.isTrue(report.verdicts.at(-1).checks.some((c: any) => c.name === "0 OOMKilled since the action" && c.ok), "memoryBump's checks ran after the hold")
      const r0 = restarts(s, "api")
      s.advance("15m")
      assert.strictEqual(restarts(s, "api"), r0, "no startup OOMs after the bump")
      assert.isTrue(podsOf(s, "api").every(ready))
    }).pipe(Effect.scoped), 120_000)

  it.effect("liveness_probe_misconfigured (killed before first Ready): a same-handler startupProbe at 2× the budget; no liveness kills afterwards", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.probeMisconfigured({ name: "api", startupSeconds: 30 })).build())
      s.advance("4m")
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "liveness_probe_misconfigured", JSON.stringify(report.classification))
      assert.isTrue(report.classification.evidence.beforeFirstReady)
      const c = deploymentOf(s, "api").spec.template.spec.containers[0]
      assert.deepStrictEqual(c.startupProbe.httpGet, c.livenessProbe.httpGet, "the startupProbe calls the liveness handler")
      assert.strictEqual(c.livenessProbe.timeoutSeconds, 1, "the liveness probe itself is untouched")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      const r0 = restarts(s, "api")
      s.advance("15m")
      assert.strictEqual(restarts(s, "api"), r0, "no liveness kills after the loosening")
      assert.isTrue(podsOf(s, "api").every(ready))
    }).pipe(Effect.scoped), 120_000)

  it.effect("liveness_probe_misconfigured (timeouts after Ready): timeoutSeconds 1 → 2; no liveness kills afterwards", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.probeMisconfigured({
        name: "api",
        workload: {
          behaviour: { startupSeconds: 2, probeLatencyMs: 1500 },
          readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
          livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 }
        }
      })).build())
      s.advance("4m")
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "liveness_probe_misconfigured", JSON.stringify(report.classification))
      assert.strictEqual(report.classification.evidence.failure, "timeout")
      assert.isFalse(report.classification.evidence.beforeFirstReady)
      assert.strictEqual(deploymentOf(s, "api").spec.template.spec.containers[0].livenessProbe.timeoutSeconds, 2)
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      const r0 = restarts(s, "api")
      s.advance("15m")
      assert.strictEqual(restarts(s, "api"), r0)
    }).pipe(Effect.scoped), 120_000)

  it.effect("image_pull_failure: the rollout changed the image and the old one ran → rollback to revision 1; readyReplicas == replicas", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.badImageTag({ name: "api" })).build())
      s.advance("6m")
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "image_pull_failure", JSON.stringify(report.classification))
      assert.isTrue(report.outcomes.some((o: any) => o.kind === "k8s.rollbackDeployment" && o.status === "applied"), JSON.stringify(report.outcomes))
      const d = deploymentOf(s, "api")
      assert.strictEqual(d.spec.template.spec.containers[0].image, "registry.example.com/shop/api:1.4.2")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      s.advance("2m")
      assert.strictEqual(deploymentOf(s, "api").status.readyReplicas, 2)
      assert.isTrue(podsOf(s, "api").every(ready))
    }).pipe(Effect.scoped), 120_000)

  it.effect("image_pull_failure without a rollout (the first revision cannot pull): escalates, nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.registryUnreachable({ name: "api" })).build())
      s.advance("6m")
      const m = mark(s)
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "image_pull_failure")
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation.reason, /not changed by the last rollout|no revision|not a Deployment/)
      assert.deepStrictEqual(writesSince(s, m).real.filter((r: any) => !r.path.includes("/events")), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("config_error_missing_env: escalates naming the variable and its source; the cluster is not mutated", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.missingEnv({ name: "api", env: "DATABASE_URL" })).build())
      s.advance("3m")
      const m = mark(s)
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "config_error_missing_env", JSON.stringify(report.classification))
      assert.strictEqual(report.status, "escalated")
      assert.include(report.escalation.reason, "DATABASE_URL")
      assert.include(report.escalation.reason, "not declared in the container spec")
      const w = writesSince(s, m)
      assert.deepStrictEqual([...w.real, ...w.dry].filter((r: any) => !r.path.includes("/events")), [], "escalate-only: nothing but Events")
    }).pipe(Effect.scoped), 120_000)

  it.effect("dependency_not_ready: holds the workload unchanged until the Service has ready endpoints, then one restartPod; the held pod is released", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.dependencyNotReady({ name: "api", dependency: "postgres" })).build())
      s.advance("4m")
      const before = JSON.stringify(deploymentOf(s, "api").spec)
      const held = podsOf(s, "api").map((p) => p.metadata.uid)
      let fixAt = Infinity
      // the dependency comes back 3 virtual minutes into the hold
      yield* Effect.forkScoped(Effect.gen(function*() {
        while (s.now() < fixAt) yield* Effect.promise(() => new Promise<void>((r) => setTimeout(r, 2)))
        s.makeDependencyReady({ service: "postgres" })
      }))
      const report = yield* handleFirst(s, "auto", { before: (sim) => void (fixAt = sim.now() + 180_000) })
      assert.strictEqual(report.classification?.class, "dependency_not_ready", JSON.stringify(report.classification))
      assert.strictEqual(report.classification.evidence.service, "postgres")
      const wait = report.outcomes.find((o: any) => o.kind === "wait:k8s.dependencyHealthy")
      assert.strictEqual(wait?.status, "check_passed", JSON.stringify(report.outcomes))
      const restartsDone = report.outcomes.filter((o: any) => o.kind === "k8s.restartPod" && o.status === "applied")
      assert.strictEqual(restartsDone.length, 1, "one restartPod")
      assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.map((v: any) => v.checks)))
      assert.strictEqual(JSON.stringify(deploymentOf(s, "api").spec), before, "the workload is unchanged")
      assert.isTrue(podsOf(s, "api").every(ready), "the held pod is released")
      assert.isFalse(podsOf(s, "api").some((p) => p.metadata.uid === held.find((u) => u === report.facts.container.value.uid)), "the held pod was replaced")
    }).pipe(Effect.scoped), 120_000)

  it.effect("dependency_not_ready: the dependency stays down → escalates after 10 min; no restart, the workload unchanged", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.dependencyNotReady({ name: "api", dependency: "postgres" })).build())
      s.advance("4m")
      const before = JSON.stringify(deploymentOf(s, "api").spec)
      const m = mark(s)
      const report = yield* handleFirst(s)
      assert.strictEqual(report.classification?.class, "dependency_not_ready")
      assert.strictEqual(report.status, "escalated")
      assert.match(report.escalation.reason, /did not become healthy within 10 min/)
      assert.strictEqual(report.outcomes.find((o: any) => o.kind === "wait:k8s.dependencyHealthy")?.status, "check_failed")
      assert.isFalse(report.outcomes.some((o: any) => o.kind === "k8s.restartPod"))
      assert.strictEqual(JSON.stringify(deploymentOf(s, "api").spec), before)
      const w = writesSince(s, m)
      assert.deepStrictEqual(w.real.filter((r: any) => !r.path.includes("/events")), [])
    }).pipe(Effect.scoped), 120_000)

  it.effect("near miss: connection refused logged, but the Service has ready endpoints by diagnosis → not dependency_not_ready; escalates, nothing written", () =>
    Effect.gen(function*() {
      const s = yield* sim(c3().with(Scenario.crashloop.dependencyNotReady({ name: "api", dependency: "postgres" })).build())
      s.advance("4m")
      const m = mark(s)
      const report = yield* handleFirst(s, "auto", {
        before: (sim) => {
          sim.makeDependencyReady({ service: "postgres" })
          sim.advance("20s")
        }
      })
      assert.strictEqual(report.facts.dependency.value.service.name, "postgres")
      assert.isAbove(report.facts.dependency.value.service.readyEndpoints, 0)
      assert.match(report.facts.previousLog.value.lines.join("\n"), /connection refused/)
      assert.notStrictEqual(report.classification?.class, "dependency_not_ready")
      assert.strictEqual(report.status, "escalated")
      const w = writesSince(s, m)
      assert.deepStrictEqual(w.real.filter((r: any) => !r.path.includes("/events") && !r.path.includes("/postgres")), [])
    }).pipe(Effect.scoped), 120_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: every acting class (bump, loosen, rollback, hold + restart) writes only with dryRun=All`, () =>
      Effect.gen(function*() {
        for (const part of [
          Scenario.crashloop.oomAtStartup({ name: "api", limit: "256Mi" }),
          Scenario.crashloop.probeMisconfigured({ name: "api", startupSeconds: 30 }),
          Scenario.crashloop.badImageTag({ name: "api" }),
          Scenario.crashloop.dependencyNotReady({ name: "api" })
        ]) {
          const s = yield* sim(c3().with(part).build())
          s.advance("6m")
          const m = mark(s)
          const spec = JSON.stringify(deploymentOf(s, "api").spec)
          const report = yield* handleFirst(s, mode)
          assert.oneOf(report.classification?.class, ["oom_at_startup", "liveness_probe_misconfigured", "image_pull_failure", "dependency_not_ready"])
          const w = writesSince(s, m)
          assert.deepStrictEqual(w.real.filter((r: any) => !r.path.includes("/events")), [], `${mode}: no real writes`)
          if (mode === "dry_run") assert.isAbove(w.dry.length, 0, "dry_run validates with dryRun=All")
          else assert.strictEqual(w.dry.length, 0)
          assert.strictEqual(JSON.stringify(deploymentOf(s, "api").spec), spec)
        }
      }).pipe(Effect.scoped), 120_000)
  }
})
