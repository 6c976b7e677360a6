/**
 * The rollback's verification on kube-sim: held 5 minutes, retried once 60 s after a failing
 * poll, a double failure escalates with the bundle — here the 5xx outlive the rollback (the
 * rollout was not the cause after all).
 */
import { assert, describe, it } from "@effect/vitest"
import { Notifier, Runbook } from "@byteport/core"
import { Effect } from "effect"
import * as FailedRollout from "../../src/runbooks/k8s.deploy.failed-rollout"
import { imageOf, rolloutServices, runWithSim, Scenario, signalAfterRollout, sim, split } from "./harness"

describe("k8s.deploy.failed-rollout e2e: verification", () => {
  it.effect("5xx that outlive the rollback: the window fails, the retry 60 s later fails too, escalated with the bundle", () =>
    Effect.gen(function*() {
      const sc = split(Scenario.rollout.errorSpike({ name: "api" }))
      const s = yield* sim(sc.initial)
      const base = FailedRollout.make()
      // as the plan is made, every pod of the workload starts failing 30% of requests, whatever its revision
      const rb = {
        ...base,
        remediate: (c: any, f: any, sig: any) =>
          Effect.tap(base.remediate(c, f, sig), () => Effect.sync(() => s.setBehaviour({ namespace: "default", workload: "api", container: "api" }, { errorRatio: 0.3 })))
      }
      const { report, rec } = yield* runWithSim(s, Effect.gen(function*() {
        const report: any = yield* Runbook.handle(rb, yield* signalAfterRollout(s, base, sc.rollout, (x) => x.type === "k8s.deploy.deploy_5xx_spike"), { mode: "auto" })
        return { report, rec: yield* (yield* Notifier.NotifierRecording).get }
      }).pipe(Effect.provide(rolloutServices(s))), { max: "60 minutes" })
      assert.strictEqual(imageOf(s), "registry.example.com/shop/api:1.4.2", "the rollback itself was applied")
      assert.strictEqual(report.status, "escalated")
      const v = report.verdicts as Array<any>
      assert.deepStrictEqual([...new Set(v.map((x) => x.poll.attempt))], [1, 2], "retried once")
      const failed1 = v.filter((x) => x.poll.attempt === 1).at(-1)
      const first2 = v.find((x) => x.poll.attempt === 2)
      assert.strictEqual(failed1._tag, "NotRecovered")
      assert.strictEqual(first2.poll.offsetMs - failed1.poll.offsetMs, 60_000, "the retry starts 60 s after the failing poll")
      assert.strictEqual(first2.poll.window.forMs, 300_000)
      assert.strictEqual(v.at(-1)._tag, "NotRecovered")
      assert.match(v.at(-1).reason, /5xx and p95 back to baseline/)
      const esc = rec.escalations.at(-1)!
      assert.isAtLeast(esc.verdicts.length, 2)
      assert.strictEqual((esc.facts as any).history.value.sha, "5e5e5e5")
    }).pipe(Effect.scoped), 120_000)
})
