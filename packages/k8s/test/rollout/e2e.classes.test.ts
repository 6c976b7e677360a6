/**
 * k8s.deploy.failed-rollout end to end on kube-sim (the real client, Prometheus through the
 * simulator), each class in auto mode, the effect read from cluster state. The cluster runs its
 * first revision while the runbook's detector watches (so BytePort sees it fully Available), then
 * the catalogue's rollout is applied.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runbook } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"
import * as RolloutVerifier from "../../src/verifiers/rollout"
import { deploymentOf, imageOf, mutations, rolloutServices, runWithSim, Scenario, signalAfterRollout, sim, type Sim, split } from "./harness"

// the seed's 5-minute hold is exercised by the 5xx test; the others hold 1 minute to stay fast
const short = { ...RolloutVerifier.defaults, windowSeconds: 60 }

const podsOf = (s: Sim, prefix = "api-") =>
  (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>).filter((p) => p.metadata.name.startsWith(prefix) && !p.metadata.name.startsWith("api-canary") && !p.metadata.deletionTimestamp)
const ready = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")
const patches = (s: Sim, name = "api") => mutations(s).real.filter((r) => r.method === "PATCH" && r.path.endsWith(`/deployments/${name}`))

const handle = (part: any, o: { readonly type: string; readonly before?: Duration.Input; readonly verify?: RolloutVerifier.VerifySettings; readonly mode?: "auto" | "dry_run" | "observe" }) =>
  Effect.gen(function*() {
    const sc = split(part)
    const s = yield* sim(sc.initial)
    const rb = FailedRollout.make({ verify: o.verify ?? short })
    const report: any = yield* runWithSim(
      s,
      Effect.gen(function*() {
        const signal = yield* signalAfterRollout(s, rb, sc.rollout, (x) => x.type === o.type, o.before ?? "1 minute")
        return yield* Runbook.handle(rb, signal, { mode: o.mode ?? "auto" })
      }).pipe(Effect.provide(rolloutServices(s))),
      { max: "60 minutes" }
    )
    return { s, report }
  })

const assertRolledBack = (s: Sim, report: any, cls: string) => {
  assert.strictEqual(report.classification.class, cls)
  assert.strictEqual(report.status, "recovered", JSON.stringify(report.verdicts?.at(-1)))
  assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.4.2", "the template of revision 1 again")
  const d = deploymentOf(s)
  assert.strictEqual(d.metadata.annotations["kubernetes.io/change-cause"], "deploy api 1.4.2 (commit 3f9c2ab)")
  assert.strictEqual(d.status.readyReplicas, d.spec.replicas)
  const pods = podsOf(s)
  assert.isAbove(pods.length, 0)
  for (const p of pods) {
    assert.isTrue(ready(p), `${p.metadata.name} Ready`)
    assert.strictEqual(p.spec.containers[0].image, "registry.example.com/shop/api:1.4.2")
  }
  const ps = patches(s)
  assert.strictEqual(ps.length, 1, "one rollback patch")
  assert.strictEqual(ps[0]!.contentType, "application/json-patch+json")
  const ops = JSON.parse(ps[0]!.body)
  assert.strictEqual(ops[0].op, "test")
  assert.strictEqual(ops[0].path, "/metadata/resourceVersion")
  assert.deepStrictEqual(ops[1], { op: "test", path: "/spec/template/spec/containers/0/image", value: "registry.example.com/shop/api:1.5.0" })
  const events = (s.api.store.list({ group: "", version: "v1", resource: "events" }) as Array<any>).filter((e) => e.reason === "RolledBack")
  assert.strictEqual(events.length, 1)
  assert.match(events[0].message, /from revision 2 to 1/)
}

describe("k8s.deploy.failed-rollout e2e: each class, auto", () => {
  it.effect("deploy_5xx_spike: rolled back to revision 1; 5xx back to baseline, held 5 minutes", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.errorSpike({ name: "api" }), { type: "k8s.deploy.deploy_5xx_spike", verify: RolloutVerifier.defaults })
      assertRolledBack(s, report, "deploy_5xx_spike")
      const last = report.verdicts.at(-1)
      assert.strictEqual(last.poll.window.forMs, 300_000, "held for the seed's 5 minutes")
      assert.isTrue(report.verdicts.every((v: any) => v.poll.attempt === 1 && v._tag === "Recovered"), "recovered in the first window, every poll passing")
      assert.strictEqual(report.verdicts.length, 11, "a poll every 30 s for 5 minutes")
      assert.isTrue(last.checks.some((c: any) => c.name === "5xx and p95 back to baseline" && c.ok))
      assert.strictEqual(report.facts.history.value.sha, "5e5e5e5")
    }).pipe(Effect.scoped), 120_000)

  it.effect("rollout_stuck: ProgressDeadlineExceeded, 0 ready (Recreate): rolled back, pods Ready", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.stuck({ name: "api" }), { type: "k8s.deploy.rollout_stuck" })
      assertRolledBack(s, report, "rollout_stuck")
    }).pipe(Effect.scoped), 120_000)

  it.effect("readiness_never_ready: the new ReplicaSet fails readiness: rolled back, pods Ready", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.neverReady({ name: "api" }), { type: "k8s.deploy.readiness_probe_failure_post_deploy" })
      assertRolledBack(s, report, "readiness_never_ready")
    }).pipe(Effect.scoped), 120_000)

  it.effect("deploy_health_regression: p95 ×15: rolled back, p95 back under 1.5× the baseline", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.latencyRegression({ name: "api" }), { type: "k8s.deploy.deploy_health_regression" })
      assertRolledBack(s, report, "deploy_health_regression")
    }).pipe(Effect.scoped), 120_000)

  it.effect("do_not_rollback: the 5xx began 10 minutes before the rollout: escalated, nothing written", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.falseAttribution({ name: "api" }), { type: "k8s.deploy.deploy_5xx_spike", before: "10 minutes" })
      assert.strictEqual(report.classification.class, "do_not_rollback")
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(mutations(s).real.filter((r) => !r.path.includes("/events")).length, 0, "false attribution touches nothing")
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.5.0")
    }).pipe(Effect.scoped), 120_000)

  it.effect("canary_slo_burn: the canary burns its budget; it has no older revision: escalated with the SHA, nothing written", () =>
    Effect.gen(function*() {
      const { s, report } = yield* handle(Scenario.rollout.canarySloBurn({ name: "api" }), { type: "k8s.deploy.canary_slo_burn" })
      assert.strictEqual(report.classification.class, "canary_slo_burn")
      assert.strictEqual(report.status, "escalated")
      assert.match(JSON.stringify(report.outcomes), /no rollback target can be safely determined: the Deployment is at revision 1/)
      assert.match(JSON.stringify(report.outcomes), /suspect commit 8b8b8b8/)
      assert.strictEqual(patches(s, "api-canary").length, 0)
    }).pipe(Effect.scoped), 120_000)
})
