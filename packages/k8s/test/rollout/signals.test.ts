/**
 * The seed's 5 signals and core's deployment-regression hand-off: the runbook owns them (the
 * Catalog routes them to it), the detector's cluster findings at each side of their thresholds,
 * and a `deployment.regression` hand-off raised by another runbook rolls the Deployment back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Catalog, HandOffs, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as RolloutDetector from "../../src/detectors/rollout"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"
import * as RolloutVerifier from "../../src/verifiers/rollout"
import { imageOf, rolloutServices, runWithSim, Scenario, signalAfterRollout, sim, split } from "./harness"

const T0 = Date.parse("2026-01-01T00:10:00Z")
const tpl = (image: string) => ({ metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "api", image }] } })
const rs = (name: string, revision: number, o: { created: number; desired: number; ready: number }) => ({
  metadata: { name, creationTimestamp: new Date(o.created).toISOString(), labels: { "pod-template-hash": name.slice(4) }, annotations: { [RollbackDeployment.REVISION]: String(revision), "kubernetes.io/change-cause": "deploy (commit abcdef1)" }, ownerReferences: [{ kind: "Deployment", name: "api", uid: "u" }] },
  spec: { replicas: o.desired, template: tpl(`api:${revision}`) },
  status: { replicas: o.desired, readyReplicas: o.ready, availableReplicas: o.ready }
})
const deployment = (o: { ready: number; updated: number; progressing?: [string, string]; paused?: boolean }) => ({
  metadata: { name: "api", namespace: "default", uid: "u", generation: 2, annotations: { [RollbackDeployment.REVISION]: "2" } },
  spec: { replicas: 3, paused: o.paused ?? false, template: tpl("api:2") },
  status: { observedGeneration: 2, replicas: 3, readyReplicas: o.ready, availableReplicas: o.ready, updatedReplicas: o.updated, conditions: [{ type: "Progressing", status: o.progressing?.[0] ?? "True", reason: o.progressing?.[1] ?? "ReplicaSetUpdated" }] }
})
const types = (fs: ReadonlyArray<RolloutDetector.Finding>) => fs.map((f) => f.type)

describe("k8s.deploy.failed-rollout: signals", () => {
  it("owns the seed's 5 signals and core's deployment.regression hand-off; the Catalog routes them to it", () => {
    assert.deepStrictEqual([...FailedRollout.SIGNALS].sort(), [
      "deployment.regression",
      "k8s.deploy.canary_slo_burn",
      "k8s.deploy.deploy_5xx_spike",
      "k8s.deploy.deploy_health_regression",
      "k8s.deploy.readiness_probe_failure_post_deploy",
      "k8s.deploy.rollout_stuck"
    ])
    const rb = FailedRollout.make()
    const catalog = Catalog.make([rb])
    for (const t of FailedRollout.SIGNALS) assert.deepStrictEqual(Catalog.owners(catalog, t).map((r) => r.id), [FailedRollout.ID])
    assert.strictEqual(rb.family, "k8s.deploy")
  })

  it("rollout_stuck on ProgressDeadlineExceeded; readiness after 120 s not ready (119 s: nothing); a complete or paused rollout: nothing", () => {
    const rsList = [rs("api-old", 1, { created: T0 - 3_600_000, desired: 3, ready: 3 }), rs("api-new", 2, { created: T0, desired: 1, ready: 0 })]
    const rolling = deployment({ ready: 3, updated: 1 })
    assert.deepStrictEqual(types(RolloutDetector.clusterFindings(rolling, rsList, T0 + 119_000)), [])
    assert.deepStrictEqual(types(RolloutDetector.clusterFindings(rolling, rsList, T0 + 120_000)), [RolloutDetector.RolloutSignals.readinessFailure])
    assert.deepStrictEqual(types(RolloutDetector.clusterFindings(deployment({ ready: 3, updated: 1, paused: true }), rsList, T0 + 600_000)), [])
    const stuck = deployment({ ready: 3, updated: 1, progressing: ["False", "ProgressDeadlineExceeded"] })
    assert.deepStrictEqual(types(RolloutDetector.clusterFindings(stuck, rsList, T0 + 60_000)), [RolloutDetector.RolloutSignals.rolloutStuck])
    const done = [rs("api-old", 1, { created: T0 - 3_600_000, desired: 0, ready: 0 }), rs("api-new", 2, { created: T0, desired: 3, ready: 3 })]
    assert.deepStrictEqual(types(RolloutDetector.clusterFindings(deployment({ ready: 3, updated: 3 }), done, T0 + 600_000)), [])
  })

  it.effect("a deployment.regression hand-off from another runbook rolls the Deployment back", () =>
    Effect.gen(function*() {
      const sc = split(Scenario.rollout.errorSpike({ name: "api" }))
      const s = yield* sim(sc.initial)
      const rb = FailedRollout.make({ verify: { ...RolloutVerifier.defaults, windowSeconds: 60 } })
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        // the detector's own signal is awaited only so that the rollout happened and BytePort saw revision 1 Available
        const seen = yield* signalAfterRollout(s, rb, sc.rollout, (x) => x.type === RolloutDetector.RolloutSignals.errorSpike)
        const handOff = yield* HandOffs.signal(HandOffs.DeploymentRegression, {
          target: seen.target,
          observedAt: seen.observedAt,
          source: "test.sentry",
          evidence: { revision: "2", previousRevision: "1", deployedAt: seen.observedAt - 60_000, symptom: "error rate ×100 after the deploy" }
        })
        return yield* Runbook.handle(rb, handOff, { mode: "auto" })
      }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
      assert.strictEqual(report.signal.type, "deployment.regression")
      assert.strictEqual(report.classification.class, "deploy_5xx_spike")
      assert.strictEqual(report.status, "recovered")
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.4.2")
    }).pipe(Effect.scoped), 120_000)
})
