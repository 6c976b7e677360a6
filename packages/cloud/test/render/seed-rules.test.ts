/**
 * deploy.render.rollback's seed rules, each attacked on the Render fake on virtual time:
 * "poll health endpoint every 15 s for up to 90 s" (a rollback live at 89 s verifies, at 91 s the
 * runbook gives up and escalates), "fetch last 5 deploy SHAs" (a green deploy 6th back is not a
 * target), and "writes a structured postmortem stub" (its fields).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { RenderRollbackRunbook } from "@byteport/cloud"
import type { RenderFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const CRASH: RenderFake.CommitBehaviour = { crash: { afterMs: 20_000, everyMs: 30_000 } }

/** A crash-looping BAD deploy on top of GOOD (after `failedBuilds` commits whose builds failed), detected and handled (auto). */
const badDeployHandled = (fake: RenderFake.RenderFake, failedBuilds = 0) =>
  Effect.gen(function*() {
    yield* TestClock.adjust("10 minutes")
    for (let i = 0; i < failedBuilds; i++) {
      fake.push(H.SERVICE, `f${String(i).repeat(39)}`.slice(0, 40), { buildFails: true }, `wip ${i}`)
      yield* TestClock.adjust("61 seconds")
    }
    const bad = yield* H.deployBad(fake, CRASH)
    const signals = yield* H.pollUntilSignal(new Map())
    assert.strictEqual(signals.length, 1)
    const report = yield* H.handle(RenderRollbackRunbook.make(H.options()), signals[0]!, "auto")
    return { bad, report }
  })

describe("deploy.render.rollback seed rules (Render fake, auto)", () => {
  const verifyCase = (liveAfterS: number, recovered: boolean) =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const { report } = yield* badDeployHandled(fake)
        assert.strictEqual(report.status, recovered ? "recovered" : "escalated", JSON.stringify(report.verdicts.map((v) => [v._tag, v.poll?.offsetMs])))
        const last = report.verdicts[report.verdicts.length - 1]!
        assert.strictEqual(last.poll?.offsetMs, 90_000, "the last poll is the one at 90 s")
        assert.strictEqual(last._tag === "Recovered", recovered)
        // the probes of the verification: 15 s apart, none after 90 s
        const rolledBackAt = Date.parse(String(fake.deploys(H.SERVICE)[0]!["createdAt"]))
        const probes = fake.healthRequests.filter((p) => p.at >= rolledBackAt).map((p) => p.at - rolledBackAt)
        assert.isAtLeast(probes.length, 1)
        assert.isAtMost(Math.max(...probes), 90_000 + 1_000)
        for (let i = 1; i < probes.length; i++) assert.strictEqual(Math.round((probes[i]! - probes[i - 1]!) / 1000) % 15, 0, `probes ${probes.join(", ")}`)
        assert.strictEqual(fake.liveCommit(H.SERVICE), recovered ? H.GOOD : H.BAD)
        // one rollback either way (giving up does not roll back again)
        assert.strictEqual(fake.writes.filter((w) => w.path.endsWith("/rollback")).length, 1)
      }).pipe(Effect.provide(H.layer(fake))), { rollbackMs: liveAfterS * 1000 })

  it.effect("health polled every 15 s up to 90 s: the rollback live after 89 s → recovered at the 90 s poll", () => verifyCase(89, true))
  it.effect("health polled every 15 s up to 90 s: the rollback live after 91 s → gave up at 90 s, escalated", () => verifyCase(91, false))

  it.effect("only the last 5 deploys count: the green deploy 5th back is the target; 6th back it is ignored → escalate, no write", () =>
    Effect.gen(function*() {
      yield* H.withFake((fake) =>
        Effect.gen(function*() {
          const green = fake.deploys(H.SERVICE)[0]!["id"] as string
          const { report } = yield* badDeployHandled(fake, 3)
          assert.strictEqual(report.status, "recovered", JSON.stringify(report.escalation))
          const rollback = fake.writes.find((w) => w.path.endsWith("/rollback"))
          assert.deepStrictEqual(rollback?.body, { deployId: green })
        }).pipe(Effect.provide(H.layer(fake))))
      yield* H.withFake((fake) =>
        Effect.gen(function*() {
          const { report } = yield* badDeployHandled(fake, 4)
          assert.strictEqual(report.status, "escalated")
          assert.match(report.escalation?.reason ?? "", /no earlier deploy among the last 5 went live/)
          assert.deepStrictEqual(fake.writes, [])
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.BAD)
        }).pipe(Effect.provide(H.layer(fake))))
    }))

  it.effect("the postmortem stub: title, class, detectedBy, suspect deploy, went live, detected, reasons, actions, verification, follow-ups", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const { bad, report } = yield* badDeployHandled(fake)
        const pm = report.postmortem!
        assert.deepStrictEqual(Object.keys(pm).sort(), ["actions", "class", "detectedAt", "detectedBy", "followUps", "reasons", "suspectDeploy", "title", "verification", "wentLiveAt"])
        assert.strictEqual(pm["title"], "Bad deploy on Render service shop")
        assert.strictEqual(pm["class"], "crash_loop")
        assert.strictEqual(pm["detectedBy"], "crash_loop")
        assert.match(String(pm["suspectDeploy"]), new RegExp(`^${bad} ${H.BAD.slice(0, 7)} `))
        assert.strictEqual(pm["wentLiveAt"], new Date(H.T0 + 10 * 60_000 + 60_000).toISOString())
        assert.isTrue(Date.parse(String(pm["detectedAt"])) > Date.parse(String(pm["wentLiveAt"])))
        assert.isAbove((pm["reasons"] as ReadonlyArray<string>).length, 0)
        assert.deepStrictEqual((pm["actions"] as ReadonlyArray<string>).map((a) => a.split(":")[0]), ["render.setAutoDeploy", "render.rollback"])
        assert.strictEqual(pm["verification"], "Recovered")
        assert.include(JSON.stringify(pm["followUps"]), "autoDeploy is frozen")
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})
