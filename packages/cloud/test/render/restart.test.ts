/** cloud.handoff.render-restart: core's "rollout restart requested" for a Render service, on the fake. */
import { assert, describe, it } from "@effect/vitest"
import { HandOffs, TargetRef } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { RenderActions, RenderRestart } from "@byteport/cloud"
import * as H from "./harness"

describe("cloud.handoff.render-restart", () => {
  it.effect("a restart request (core's hand-off shape) restarts the service by the restart endpoint and verifies it", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const req = RenderRestart.request(H.SERVICE, { reason: "connection leak since the 14:02 deploy", observedAt: H.T0 })
        assert.strictEqual(req.type, HandOffs.RolloutRestartRequested.type)
        yield* HandOffs.validate(req, "emit")
        const r = yield* H.handle(RenderRestart.make(), req, "auto")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(fake.writes.map((w) => [w.method, w.path]), [["POST", `/v1/services/${H.SERVICE}/restart`]])
        Testing.expectPlan(r.plan!, new URL("golden/render_restart.restart_requested.plan.txt", import.meta.url).pathname)
        assert.strictEqual(fake.restarts(H.SERVICE).length, 1)
        assert.include(r.outcomes.find((o) => o.kind === RenderActions.RESTART)?.detail ?? "", "restarted")
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("a second request within 30 minutes is denied by the action kind's guardrail (escalated), no second restart", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const rb = RenderRestart.make({ cooldown: "0 seconds" })
        const first = yield* H.handle(rb, RenderRestart.request(H.SERVICE, { observedAt: H.T0 }), "auto")
        assert.strictEqual(first.status, "recovered")
        yield* TestClock.adjust("10 minutes")
        const second = yield* H.handle(rb, RenderRestart.request(H.SERVICE, { observedAt: H.T0 + 600_000 }), "auto")
        assert.strictEqual(second.status, "escalated")
        assert.match(second.escalation?.reason ?? "", /render_restart_1_per_30min/)
        assert.strictEqual(fake.restarts(H.SERVICE).length, 1)
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("dry_run and observe: no restart request reaches Render", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        for (const mode of ["dry_run", "observe"] as const) {
          const r = yield* H.handle(RenderRestart.make({ cooldown: "0 seconds" }), RenderRestart.request(H.SERVICE, { observedAt: H.T0 }), mode)
          assert.strictEqual(r.status, mode === "observe" ? "observed" : "dry_run")
        }
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))

  it.effect("a request for another platform's target (a k8s.workload) is not a Render restart: escalated, no write", () =>
    H.withFake((fake) =>
      Effect.gen(function*() {
        const req = { ...RenderRestart.request(H.SERVICE, { observedAt: H.T0 }), target: TargetRef.make("k8s.workload", "default/shop/Deployment/web") }
        const r = yield* H.handle(RenderRestart.make(), req, "auto")
        assert.strictEqual(r.status, "escalated")
        assert.deepStrictEqual(fake.writes, [])
      }).pipe(Effect.provide(H.layer(fake)))
    ))
})
