/**
 * The hand-offs as their requesters send them, awaited: a parent runbook (standing in for
 * k8s.node.not-ready and host.disk.reclaim, which this package never imports) plans core's
 * hand-off step; the cloud runbooks, running as loops on the IncidentBus, own the child incident,
 * act on the fakes and report back; the parent sees the child's verdict.
 */
import { assert, describe, it } from "@effect/vitest"
import { Classification, Diagnoser, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { Effect, Fiber } from "effect"
import { NodeReplacement, VolumeGrow } from "@byteport/cloud"
import { AwsComputeFake } from "@byteport/cloud/testing"
import * as H from "./harness"

/** A parent whose whole plan is one awaited hand-off of `request`. */
const parentOf = (request: Signal.Signal) =>
  Runbook.make<{ readonly ok: boolean }>({
    id: "test.parent",
    family: "test.parent",
    signals: ["test.parent"],
    diagnose: Diagnoser.make({ ok: Diagnoser.probe("noop", () => Effect.succeed(true)) }),
    classify: () => Classification.classified("needs_cloud", 0.9),
    remediate: () => Effect.succeed(Plan.make("test.parent", "needs_cloud", "ask the cloud", Plan.handOff(request, { await: "30 seconds", reason: "the cloud owns it" }))),
    defaultMode: "auto"
  })

const trigger: Signal.Signal = { type: "test.parent", target: { kind: "test", ref: "parent" }, observedAt: Date.now(), evidence: {} }

describe("cloud hand-offs, awaited by their requester", () => {
  it.live("node replacement requested → cloud.handoff.node-replacement replaces through the group; the parent recovers", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => AwsComputeFake.start({})),
      (fake) =>
        Effect.gen(function*() {
          const [a] = fake.addGroup({ name: "workers", size: 2 })
          const owner = NodeReplacement.make({ defaultMode: "auto", verifySchedule: Verifier.every("20 millis", "5 seconds") })
          const loop = yield* Effect.forkChild(Runbook.run(owner, { resumeOpen: false }))
          yield* Effect.sleep("20 millis")
          const request = H.replacementRequest("node-a", `aws:///us-east-1a/${a!}`)
          const r = yield* H.handle(parentOf(request), trigger, "auto")
          yield* Fiber.interrupt(loop)
          const handoff = r.outcomes.find((o) => o.kind === "handoff")
          assert.strictEqual(handoff?.status, "handed_off")
          assert.match(handoff?.detail ?? "", /ended recovered/)
          assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
          assert.strictEqual(fake.instance(a!)?.state, "terminated")
          assert.deepStrictEqual(fake.writes().map((w) => w.action), ["TerminateInstanceInAutoScalingGroup"])
        }).pipe(Effect.provide(H.layer(fake, { env: { BYTEPORT_AUTO_REPLACE_NODES: "true" } }))),
      (fake) => Effect.promise(() => fake.close())
    ))

  it.live("volume grow requested → cloud.handoff.volume-grow grows the EBS volume; the parent recovers", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => AwsComputeFake.start({})),
      (fake) =>
        Effect.gen(function*() {
          const vol = fake.addVolume({ sizeGiB: 40 })
          const owner = VolumeGrow.make({ defaultMode: "auto", verifySchedule: Verifier.every("20 millis", "5 seconds") })
          const loop = yield* Effect.forkChild(Runbook.run(owner, { resumeOpen: false }))
          yield* Effect.sleep("20 millis")
          const r = yield* H.handle(parentOf(H.growRequest(vol, 40, 50)), trigger, "auto")
          yield* Fiber.interrupt(loop)
          assert.strictEqual(r.status, "recovered", JSON.stringify(r.escalation))
          assert.strictEqual(fake.volume(vol)?.sizeGiB, 50)
        }).pipe(Effect.provide(H.layer(fake))),
      (fake) => Effect.promise(() => fake.close())
    ))
})
