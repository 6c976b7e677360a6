/**
 * deploy.render.rollback end to end on the Render fake, on virtual time: a bad commit goes live,
 * the detector sees it, the runbook freezes autoDeploy, rolls back to the last green deploy and
 * verifies (every 15 s up to 90 s) that the rollback deploy is live and the health endpoint 2xx.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { RenderActions, RenderDeploys, RenderRollbackRunbook } from "@byteport/cloud"
import type { RenderFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const cases: ReadonlyArray<[string, RenderFake.CommitBehaviour, RenderDeploys.Trigger]> = [
  ["error_rate_spike", { errorRate: 0.2 }, "error_rate"],
  ["health_check_failing", { health: "error" }, "health"],
  ["crash_loop", { crash: { afterMs: 20_000, everyMs: 30_000 } }, "crash_loop"]
]

describe("deploy.render.rollback on the Render fake (auto)", () => {
  for (const [cls, behaviour, trigger] of cases) {
    it.effect(`${cls}: detected, autoDeploy frozen, rolled back to the last green deploy, healthy within 90 s`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("10 minutes")
          const green = fake.deploys(H.SERVICE)[0]!["id"] as string
          const bad = yield* H.deployBad(fake, behaviour)
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.BAD)
          const signals = yield* H.pollUntilSignal(new Map())
          assert.strictEqual(signals.length, 1)
          assert.strictEqual(signals[0]!.evidence["deployId"], bad)
          assert.strictEqual(signals[0]!.evidence["trigger"], trigger)
          const r = yield* H.handle(RenderRollbackRunbook.make(H.options()), signals[0]!, "auto")
          assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : r.classification?._tag, cls)
          assert.strictEqual(r.status, "recovered")
          // state after: frozen, rolled back by the rollback endpoint to the green deploy, healthy
          assert.strictEqual(fake.service(H.SERVICE)["autoDeploy"], "no")
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.GOOD)
          const newest = fake.deploys(H.SERVICE)[0]!
          assert.strictEqual(newest["trigger"], "rollback")
          assert.strictEqual(newest["status"], "live")
          assert.deepStrictEqual(fake.writes.map((w) => [w.method, w.path, w.body]), [
            ["PATCH", `/v1/services/${H.SERVICE}`, { autoDeploy: "no" }],
            ["POST", `/v1/services/${H.SERVICE}/rollback`, { deployId: green }]
          ])
          const last = r.verdicts[r.verdicts.length - 1]!
          assert.strictEqual(last._tag, "Recovered")
          assert.isAtMost(last.poll?.offsetMs ?? Infinity, 90_000)
          assert.deepStrictEqual(last.checks.map((c) => c.name), ["rollback_deploy_live", "health_2xx"])
          // the postmortem stub
          assert.strictEqual(r.postmortem?.["class"], cls)
          assert.strictEqual(r.postmortem?.["detectedBy"], trigger)
          assert.include(String(r.postmortem?.["suspectDeploy"]), bad)
          assert.include(JSON.stringify(r.postmortem?.["followUps"]), "autoDeploy is frozen")
          // a push now is not deployed (the freeze holds)
          assert.isUndefined(fake.push(H.SERVICE, "0123456789abcdef0123456789abcdef01234567", { health: "error" }))
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.GOOD)
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }

  it.effect("the rollback endpoint fails: the last green commit is deployed instead (POST /deploys {commitId}), verified", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("10 minutes")
        yield* H.deployBad(fake, { health: "error" })
        const signals = yield* H.pollUntilSignal(new Map())
        fake.fail({ method: "POST", path: "/rollback", status: 500 })
        const r = yield* H.handle(RenderRollbackRunbook.make(H.options()), signals[0]!, "auto")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(fake.writes.map((w) => [w.method, w.path, w.status]), [
          ["PATCH", `/v1/services/${H.SERVICE}`, 200],
          ["POST", `/v1/services/${H.SERVICE}/rollback`, 500],
          ["POST", `/v1/services/${H.SERVICE}/deploys`, 201]
        ])
        assert.deepStrictEqual(fake.writes[2]!.body, { clearCache: "do_not_clear", commitId: H.GOOD })
        assert.strictEqual(fake.liveCommit(H.SERVICE), H.GOOD)
        assert.isTrue(r.outcomes.some((o) => o.kind === RenderActions.DEPLOY_COMMIT && o.status === "applied"))
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  for (const mode of ["observe", "dry_run"] as const) {
    it.effect(`${mode}: no write request reaches Render (the fake's log)`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("10 minutes")
          yield* H.deployBad(fake, { crash: { afterMs: 10_000, everyMs: 20_000 } })
          const signals = yield* H.pollUntilSignal(new Map())
          const r = yield* H.handle(RenderRollbackRunbook.make(H.options()), signals[0]!, mode)
          assert.strictEqual(r.status, mode === "observe" ? "observed" : "dry_run")
          assert.deepStrictEqual(fake.writes, [])
          assert.isTrue(fake.requests.every((x) => x.method === "GET"))
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.BAD)
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }

  it.effect("the failing deploy is no longer the newest: escalate, no write", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("10 minutes")
        yield* H.deployBad(fake, { health: "error" })
        const signals = yield* H.pollUntilSignal(new Map())
        fake.push(H.SERVICE, "feedface00112233445566778899aabbccddeeff", {}, "fix: forward")
        const r = yield* H.handle(RenderRollbackRunbook.make(H.options()), signals[0]!, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation?.reason ?? "", /not the newest/)
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("no earlier deploy went live (a new service whose first deploy is bad): escalate with diagnostics, no write", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const api = "srv-api0123456789abcdef0"
        fake.commit(H.BAD, { health: "error" }, "feat: first")
        fake.addService({ name: "api", id: api }, H.BAD)
        const signals = yield* H.pollUntilSignal(new Map(), { options: { services: [api], healthUrls: { [api]: `${fake.appUrl}/healthz?service=${api}` }, probeTimeoutMs: 150 } })
        assert.strictEqual(signals[0]!.evidence["trigger"], "health")
        const r = yield* H.handle(RenderRollbackRunbook.make(H.options({ services: [api], healthUrls: { [api]: `${fake.appUrl}/healthz?service=${api}` } })), signals[0]!, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation?.reason ?? "", /no earlier deploy among the last 1 went live/)
        assert.include(r.escalation?.nextSteps.join("\n") ?? "", "health: failing for")
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})

describe("deploy.render.rollback thresholds on the fake", () => {
  for (const [rate, fires] of [[0.049, false], [0.051, true]] as const) {
    it.effect(`error rate ${rate / 0.01}× the baseline → ${fires ? "a signal at the end of the 5-minute window" : "no signal"}`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("10 minutes")
          yield* H.deployBad(fake, { errorRate: rate })
          const state: RenderDeploys.PollState = new Map()
          const early = yield* H.pollUntilSignal(state, { max: 19 })
          assert.deepStrictEqual(early, [], "nothing before the window ends (4 min 45 s)")
          yield* TestClock.adjust("15 seconds")
          const atEnd = yield* RenderDeploys.pollOnce({ services: [H.SERVICE], probeTimeoutMs: 150 }, state)
          assert.strictEqual(atEnd.length, fires ? 1 : 0)
          if (!fires) return
          const r = yield* H.handle(RenderRollbackRunbook.make(H.options()), atEnd[0]!, "auto")
          assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "error_rate_spike")
          assert.strictEqual(r.status, "recovered")
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }

  for (const [seconds, fires] of [[119, false], [121, true]] as const) {
    it.effect(`health failing on every probe for ${seconds} s → ${fires ? "health_check_failing, rolled back" : "no signal"}`, () =>
      H.withFake((fake) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("10 minutes")
          yield* H.deployBad(fake, { health: "timeout", errorRate: 0.01 })
          const state: RenderDeploys.PollState = new Map()
          const opts = { services: [H.SERVICE], probeTimeoutMs: 100 }
          assert.deepStrictEqual(yield* RenderDeploys.pollOnce(opts, state), [])
          yield* TestClock.adjust(`${seconds} seconds`)
          const s = yield* RenderDeploys.pollOnce(opts, state)
          assert.strictEqual(s.length, fires ? 1 : 0)
          assert.deepStrictEqual(fake.healthRequests.map((h) => h.status), ["timeout", "timeout"])
          if (!fires) return
          const r = yield* H.handle(RenderRollbackRunbook.make(H.options({ probeTimeoutMs: 100 })), s[0]!, "auto")
          assert.strictEqual(r.classification?._tag === "Classified" ? r.classification.class : "", "health_check_failing")
          assert.strictEqual(r.status, "recovered")
          assert.strictEqual(fake.liveCommit(H.SERVICE), H.GOOD)
        }).pipe(Effect.provide(H.layer(fake)))
      ))
  }

  it.effect("a deploy is emitted once (claimed in the store): a second poller sharing the store sees nothing", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("10 minutes")
        yield* H.deployBad(fake, { crash: { afterMs: 1000, everyMs: 1000 } })
        yield* TestClock.adjust("5 seconds")
        const a = yield* RenderDeploys.pollOnce({ services: [H.SERVICE], probeTimeoutMs: 150 }, new Map())
        const b = yield* RenderDeploys.pollOnce({ services: [H.SERVICE], probeTimeoutMs: 150 }, new Map())
        assert.strictEqual(a.length, 1)
        assert.strictEqual(b.length, 0)
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})
