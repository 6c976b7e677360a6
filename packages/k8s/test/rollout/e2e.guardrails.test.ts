/**
 * k8s.rollbackDeployment's contract on kube-sim, attacked: one rollback per workload per hour
 * (enforced on the kind: from this runbook, from a pod-family runbook, after an agent restart),
 * a failing rollback escalates after one request (500, a concurrent template change), a paused
 * Deployment is never rolled back nor resumed, observe and dry_run write only with dryRun=All.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, FileStore, GuardrailStore as GS, MemoryStore, Notifier, Plan, Runbook } from "@byteport/core"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as RollbackDeployment from "../../src/actions/rollbackDeployment"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"
import * as RolloutVerifier from "../../src/verifiers/rollout"
import { advance, deploymentOf, firstSignal, imageOf, mutations, rolloutServices, rolloutStep, runWithSim, Scenario, signalAfterRollout, sim, type Sim, split } from "./harness"

const short = { ...RolloutVerifier.defaults, windowSeconds: 60 }
const DEPLOYMENTS = { group: "apps", version: "v1", resource: "deployments" }
const patches = (s: Sim) => mutations(s).real.filter((r) => r.method === "PATCH" && r.path.endsWith("/deployments/api"))
const spike = () => split(Scenario.rollout.errorSpike({ name: "api" }))
const secondBadRollout = rolloutStep({ image: "registry.example.com/shop/api:1.6.0", behaviour: { errorRatio: 0.3 }, changeCause: "deploy api 1.6.0 (commit 6a6a6a6)" })

/** A pod-family runbook (as crash-loop runbooks use it): one rollback of the workload, planned from its live state. */
const podFamily = Runbook.make<{}, never>({
  id: "test.pod-family.rollback",
  signals: ["test.pod-family"],
  diagnose: () => Effect.succeed({}),
  classify: () => Classification.classified("image_pull_failure", 0.9, ["the last rollout changed the image"]),
  remediate: (_c, _f, signal) =>
    Effect.succeed(Plan.make("test.pod-family.rollback", "image_pull_failure", "roll back", Plan.act(RollbackDeployment.action({
      target: signal.target,
      toRevision: Number(signal.evidence["toRevision"]),
      fromRevision: Number(signal.evidence["fromRevision"]),
      resourceVersion: String(signal.evidence["resourceVersion"]),
      failingImages: [{ container: "api", image: String(signal.evidence["image"]) }]
    }))))
})

describe("k8s.rollbackDeployment e2e: guardrails and failures", () => {
  const stores = {
    "the same agent (MemoryStore)": () => {
      const store = Layer.succeed(GS.GuardrailStore, Effect.runSync(MemoryStore.make()))
      return { first: store, second: store }
    },
    "an agent restart (FileStore)": () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "byteport-rollout-"))
      return { first: FileStore.layer({ directory: dir }), second: FileStore.layer({ directory: dir }) }
    }
  }
  for (const [name, make] of Object.entries(stores)) {
    it.effect(`a second rollback of the workload within the hour is denied, from this runbook and from a pod-family runbook — ${name}`, () =>
      Effect.gen(function*() {
        const sc = spike()
        const s = yield* sim(sc.initial)
        const st = make()
        const rb = FailedRollout.make({ verify: short })
        const first: any = yield* runWithSim(s, Effect.gen(function*() {
          return yield* Runbook.handle(rb, yield* signalAfterRollout(s, rb, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
        }).pipe(Effect.provide(rolloutServices(s, { store: st.first }))), { max: "60 minutes" })
        assert.strictEqual(first.status, "recovered")
        assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.4.2")
        yield* advance(s, "6 minutes") // past the lease cooldown
        // a new bad revision 4 within the hour: a fresh runbook instance (a restarted agent) sees 3 fully Available
        const rb2 = FailedRollout.make({ verify: short })
        const second: any = yield* runWithSim(s, Effect.gen(function*() {
          return yield* Runbook.handle(rb2, yield* signalAfterRollout(s, rb2, secondBadRollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
        }).pipe(Effect.provide(rolloutServices(s, { store: st.second }))), { max: "60 minutes" })
        assert.strictEqual(second.classification.class, "deploy_5xx_spike")
        assert.strictEqual(second.status, "escalated")
        const denial = second.decisions.find((d: any) => d.decision === "deny")
        assert.strictEqual(denial?.guardrail, "rollback_per_workload")
        assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.6.0", "no second rollback")
        // the pod-family runbook's rollback of the same workload counts against the same budget
        // (while the incident's lease holds the workload, the pod runbook is a duplicate: they never act together)
        yield* advance(s, "6 minutes")
        const d = deploymentOf(s)
        const fromPods: any = yield* runWithSim(s, Runbook.handle(podFamily, {
          type: "test.pod-family",
          target: second.signal.target,
          observedAt: s.now(),
          evidence: { toRevision: 3, fromRevision: Number(d.metadata.annotations["deployment.kubernetes.io/revision"]), resourceVersion: d.metadata.resourceVersion, image: "registry.example.com/shop/api:1.6.0" }
        }, { mode: "auto" }).pipe(Effect.provide(rolloutServices(s, { store: st.second }))))
        assert.strictEqual(fromPods.status, "escalated")
        assert.strictEqual(fromPods.decisions.find((x: any) => x.decision === "deny")?.guardrail, "rollback_per_workload")
        assert.strictEqual(patches(s).length, 1, "one rollback in the hour, whoever asks")
        assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.6.0")
      }).pipe(Effect.scoped), 180_000)
  }

  it.effect("a 500 on the rollback patch escalates after that one request, with the bundle and the suspect SHA; no retry", () =>
    Effect.gen(function*() {
      const sc = spike()
      const s = yield* sim(sc.initial)
      const fault = s.api.faults.error({ method: "PATCH", resource: "deployments", status: 500 })
      const rb = FailedRollout.make({ verify: short })
      const { report, rec } = yield* runWithSim(s, Effect.gen(function*() {
        const report: any = yield* Runbook.handle(rb, yield* signalAfterRollout(s, rb, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
        return { report, rec: yield* (yield* Notifier.NotifierRecording).get }
      }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(fault.hits, 1, "exactly one PATCH reached the apiserver")
      assert.strictEqual(report.outcomes[0].status, "failed")
      assert.match(report.outcomes[0].detail, /suspect commit 5e5e5e5/)
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.5.0")
      const esc = rec.escalations.at(-1)!
      assert.match(JSON.stringify(esc.outcomes), /suspect commit 5e5e5e5/)
      assert.strictEqual((esc.facts as any).history._tag, "Known", "the bundle carries the diagnosis")
      assert.strictEqual(esc.verdicts.length, 0, "nothing verified, nothing retried")
    }).pipe(Effect.scoped), 120_000)

  it.effect("a template changed after the plan (someone else's deploy): the test op fails, escalated after one request, their change kept", () =>
    Effect.gen(function*() {
      const sc = spike()
      const s = yield* sim(sc.initial)
      const base = FailedRollout.make({ verify: short })
      // between the plan and its execution, someone deploys 1.5.1
      const rb = {
        ...base,
        remediate: (c: any, f: any, sig: any) =>
          Effect.tap(base.remediate(c, f, sig), () =>
            Effect.sync(() =>
              s.api.store.mutate(DEPLOYMENTS as any, "default", "api", (o: any) => {
                o.spec.template.spec.containers[0].image = "registry.example.com/shop/api:1.5.1"
              })
            ))
      }
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* signalAfterRollout(s, base, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
      }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(patches(s).length, 1)
      assert.match(report.outcomes[0].detail, /changed since the plan/)
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.5.1", "the other deploy is not overwritten")
    }).pipe(Effect.scoped), 120_000)

  it.effect("paused: a Deployment paused before the plan escalates; paused between plan and execution, the kind's guardrail denies; never resumed", () =>
    Effect.gen(function*() {
      const sc = spike()
      const s = yield* sim(sc.initial)
      const base = FailedRollout.make({ verify: short })
      const pause = () => s.api.store.mutate(DEPLOYMENTS as any, "default", "api", (o: any) => { o.spec.paused = true })
      const rb = { ...base, remediate: (c: any, f: any, sig: any) => Effect.tap(base.remediate(c, f, sig), () => Effect.sync(pause)) }
      const report: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(rb, yield* signalAfterRollout(s, base, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
      }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
      assert.strictEqual(report.status, "escalated")
      assert.strictEqual(report.decisions.find((d: any) => d.decision === "deny")?.guardrail, "never_paused_deployment")
      yield* advance(s, "6 minutes")
      // paused before the plan: the plan itself escalates
      const again: any = yield* runWithSim(s, Effect.gen(function*() {
        return yield* Runbook.handle(base, yield* firstSignal(base, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
      }).pipe(Effect.provide(rolloutServices(s))), { max: "30 minutes" })
      assert.strictEqual(again.status, "escalated")
      assert.match(JSON.stringify(again.outcomes), /is paused/)
      assert.strictEqual(patches(s).length, 0)
      assert.isTrue(deploymentOf(s).spec.paused, "never resumed")
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.5.0")
    }).pipe(Effect.scoped), 120_000)

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode} writes nothing (only dryRun=All requests)${mode === "dry_run" ? "; the plan is posted to the ops channel" : ""}`, () =>
      Effect.gen(function*() {
        const sc = spike()
        const s = yield* sim(sc.initial)
        const rb = FailedRollout.make({ verify: short })
        const { report, rec, before } = yield* runWithSim(s, Effect.gen(function*() {
          const signal = yield* signalAfterRollout(s, rb, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike")
          const before = mutations(s)
          const report: any = yield* Runbook.handle(rb, signal, { mode })
          return { report, before, rec: yield* (yield* Notifier.NotifierRecording).get }
        }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
        const after = mutations(s)
        assert.strictEqual(report.classification.class, "deploy_5xx_spike")
        assert.strictEqual(after.real.length, before.real.length, "no persisted write")
        assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.5.0")
        if (mode === "dry_run") {
          assert.strictEqual(report.status, "dry_run")
          const dry = after.dryRun.filter((r) => r.path.endsWith("/deployments/api"))
          assert.strictEqual(dry.length, 1, "the apiserver validated the rollback patch with dryRun=All")
          assert.strictEqual(dry[0]!.contentType, "application/json-patch+json")
          assert.strictEqual(rec.plans.length, 1)
          const posted = JSON.stringify(rec.plans[0])
          for (const part of ["kubectl rollout undo deployment/api -n default --to-revision=1", "expected pod churn", "estimated duration", "suspect commit 5e5e5e5", "tripwire: rollback fails"]) assert.include(posted, part)
        } else {
          assert.strictEqual(report.status, "observed")
          assert.strictEqual(after.dryRun.length, before.dryRun.length)
          assert.strictEqual(rec.plans.length, 0)
        }
      }).pipe(Effect.scoped), 120_000)
  }
})
