/**
 * Cross-check: `k8s.rollbackDeployment` does what `kubectl rollout undo --to-revision=1` does.
 * Two simulators in the same state; kubectl rolls one back, the action the other; the
 * Deployments end with the same template, annotations, revision history and pods — and the
 * action's patch is kubectl's patch plus its `test` preconditions.
 */
import { rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Classification, Plan, Runbook } from "@byteport/core"
import { Effect } from "effect"
import { kubectlAvailable, runner } from "../../../kube-sim/test/kubectl/kubectl"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as Targets from "../../src/targets/Targets"
import { deploymentOf, mutations, rolloutServices, runWithSim, Scenario, sim, type Sim, split } from "./harness"

const enabled = kubectlAvailable()

const undo = Runbook.make<{}, never>({
  id: "test.rollback",
  signals: ["test.rollback"],
  diagnose: () => Effect.succeed({}),
  classify: () => Classification.classified("rollback", 0.9, ["cross-check"]),
  remediate: (_c, _f, signal) =>
    Effect.succeed(Plan.make("test.rollback", "rollback", "undo", Plan.act(RollbackDeployment.action({
      target: signal.target,
      toRevision: 1,
      fromRevision: 2,
      resourceVersion: String(signal.evidence["resourceVersion"]),
      failingImages: [{ container: "api", image: "registry.example.com/shop/api:1.5.0" }]
    }))))
})

/** kubectl serialises Go's zero ObjectMeta (`creationTimestamp: null`); the apiserver ignores it in a template. */
const withoutNullTimestamps = (v: any): any =>
  Array.isArray(v) ? v.map(withoutNullTimestamps)
  : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === "creationTimestamp" && x === null)).map(([k, x]) => [k, withoutNullTimestamps(x)]))
  : v

const state = (s: Sim) => {
  const d = deploymentOf(s)
  const rs = (s.api.store.list({ group: "apps", version: "v1", resource: "replicasets" }) as Array<any>)
    .map((r) => `${r.metadata.annotations["deployment.kubernetes.io/revision"]}:${r.spec.template.spec.containers[0].image}:${r.spec.replicas}`)
    .sort()
  const pods = (s.api.store.list({ group: "", version: "v1", resource: "pods" }) as Array<any>)
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => p.spec.containers[0].image)
    .sort()
  return { template: withoutNullTimestamps(d.spec.template), annotations: d.metadata.annotations, replicaSets: rs, pods }
}

describe.runIf(enabled)("k8s.rollbackDeployment vs kubectl rollout undo", () => {
  it.effect("same Deployment, ReplicaSets and pods afterwards; the same patch plus the preconditions", () =>
    Effect.gen(function*() {
      const sc = split(Scenario.rollout.errorSpike({ name: "api" }))
      const a = yield* sim(sc.initial)
      const b = yield* sim(sc.initial)
      for (const s of [a, b]) {
        s.apply(sc.rollout)
        s.advance("3m")
      }
      assert.deepStrictEqual(state(a), state(b), "the same state before the rollback")
      // kubectl on a
      const kubeconfig = join(tmpdir(), `byteport-rollout-undo-${process.pid}.kubeconfig`)
      a.api.writeKubeconfig(kubeconfig)
      const k = runner(kubeconfig)
      const res = yield* Effect.promise(() => k.run(["rollout", "undo", "deployment/api", "--to-revision=1"]))
      k.cleanup()
      rmSync(kubeconfig, { force: true })
      assert.strictEqual(res.code, 0, res.stderr)
      // the action on b
      const report: any = yield* runWithSim(b, Runbook.handle(undo, {
        type: "test.rollback",
        target: Targets.workload({ cluster: "kube-sim", namespace: "default", kind: "Deployment", name: "api" }),
        observedAt: b.now(),
        evidence: { resourceVersion: deploymentOf(b).metadata.resourceVersion }
      }, { mode: "auto" }).pipe(Effect.provide(rolloutServices(b))))
      assert.strictEqual(report.outcomes[0].status, "applied", report.outcomes[0].detail)
      const until = b.now() + 120_000
      a.advance(until - a.now())
      b.advance(until - b.now())
      assert.deepStrictEqual(state(b), state(a))
      assert.strictEqual(deploymentOf(b).metadata.annotations["deployment.kubernetes.io/revision"], "3")
      // the patches: kubectl's operations are ours minus the `test`s
      const patchOf = (s: Sim) => JSON.parse(mutations(s).real.find((r) => r.method === "PATCH" && r.path.endsWith("/deployments/api"))!.body) as Array<any>
      const ours = patchOf(b)
      const theirs = patchOf(a)
      assert.deepStrictEqual(ours.filter((o) => o.op !== "test"), withoutNullTimestamps(theirs))
      assert.deepStrictEqual(ours.filter((o) => o.op === "test").map((o) => o.path), ["/metadata/resourceVersion", "/spec/template/spec/containers/0/image"])
    }).pipe(Effect.scoped), 60_000)
})
