/**
 * cloud.handoff.volume-grow end to end on the EC2 and Compute Engine fakes, auto mode unless said,
 * state asserted after: EBS and Compute Engine grow to the requested whole GiB, capped, verified;
 * a second modification within 6 h is denied; never shrinks (property); observe sends no write,
 * dry_run only DryRun (EBS) or nothing (Compute Engine).
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as path from "node:path"
import { VolumeGrow } from "@byteport/cloud"
import { AwsComputeFake, GcpComputeFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const fast = (o: VolumeGrow.Options = {}) => VolumeGrow.make({ verifySchedule: Verifier.every("20 millis", "5 seconds"), ...o })

const withFakes = <A, E, R>(f: (aws: AwsComputeFake.AwsComputeFake, gcp: GcpComputeFake.GcpComputeFake) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => Promise.all([AwsComputeFake.start({ modifyMillis: 50, optimizeMillis: 100_000 }), GcpComputeFake.start({ runningMillis: 20, doneMillis: 80 })])),
    ([aws, gcp]) => f(aws, gcp),
    ([aws, gcp]) => Effect.promise(() => Promise.all([aws.close(), gcp.close()]))
  )

const GCP = { project: "shop-prod", zone: "europe-west1-b" }

describe("cloud.handoff.volume-grow on the EC2 and Compute Engine fakes", () => {
  it.live("ebs_volume: ModifyVolume to the requested whole GiB, verified once optimizing; a 2nd within 6 h denied", () =>
    withFakes((aws, gcp) =>
      Effect.gen(function*() {
        const vol = aws.addVolume({ sizeGiB: 100 })
        const r = yield* H.handle(fast({ cooldown: "1 millis" }), H.growRequest(vol, 100, 125), "auto")
        assert.strictEqual(H.classOf(r), "ebs_volume")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(aws.writes().map((w) => [w.action, w.params["VolumeId"], w.params["Size"]]), [["ModifyVolume", vol, "125"]])
        assert.strictEqual(aws.volume(vol)?.sizeGiB, 125)
        // the host asks again (its filesystem still full): the kind's 6 h cooldown denies, whoever plans it
        const again = yield* H.handle(fast({ cooldown: "1 millis" }), H.growRequest(vol, 125, 157), "auto")
        assert.strictEqual(again.status, "escalated")
        assert.match(JSON.stringify(again), /one_modification_per_volume_6h/)
        assert.strictEqual(aws.writes().length, 1)
      }).pipe(Effect.provide(H.layer(aws, { gcp })))))

  it.live("gcp_disk: disks.resize, zone operation DONE, disk at the new size", () =>
    withFakes((aws, gcp) =>
      Effect.gen(function*() {
        gcp.addDisk({ ...GCP, name: "data-1", sizeGb: 200 })
        const r = yield* H.handle(fast({ gcp: GCP }), H.growRequest("data-1", 200, 250), "auto")
        assert.strictEqual(H.classOf(r), "gcp_disk")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(gcp.writes().map((w) => [w.path, w.body]), [[`/compute/v1/projects/shop-prod/zones/europe-west1-b/disks/data-1/resize`, { sizeGb: "250" }]])
        assert.strictEqual(gcp.disk(GCP.project, GCP.zone, "data-1")?.sizeGb, 250)
      }).pipe(Effect.provide(H.layer(aws, { gcp })))))

  it.live("capped at maxVolumeGb; at the cap → escalation naming the cap, no write", () =>
    withFakes((aws, gcp) =>
      Effect.gen(function*() {
        const capped = aws.addVolume({ sizeGiB: 900 })
        const r = yield* H.handle(fast({ maxVolumeGb: 1000 }), H.growRequest(capped, 900, 1125), "auto")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(aws.writes().map((w) => w.params["Size"]), ["1000"])
        const full = aws.addVolume({ sizeGiB: 1000 })
        const at = yield* H.handle(fast({ maxVolumeGb: 1000 }), H.growRequest(full, 1000, 1250), "auto")
        assert.strictEqual(at.status, "escalated")
        assert.match(at.escalation?.reason ?? "", /policy\.maxVolumeGb 1000 does not grow it \(never shrinks\)/)
        assert.strictEqual(aws.writes().length, 1)
      }).pipe(Effect.provide(H.layer(aws, { gcp })))))

  it.live("unknown volume, or a disk name without a configured project: escalated, no write", () =>
    withFakes((aws, gcp) =>
      Effect.gen(function*() {
        const r1 = yield* H.handle(fast(), H.growRequest("vol-0123456789abcdef0", 100, 125), "auto")
        const r2 = yield* H.handle(fast(), H.growRequest("data-9", 100, 125), "auto")
        for (const r of [r1, r2]) {
          assert.strictEqual(r.status, "escalated")
          assert.notStrictEqual(r.classification?._tag, "Classified")
        }
        assert.deepStrictEqual([aws.writes(), gcp.writes()], [[], []])
      }).pipe(Effect.provide(H.layer(aws, { gcp })))))

  it.live("observe sends no write; dry_run sends ModifyVolume DryRun=true only (EBS) and nothing (Compute Engine)", () =>
    withFakes((aws, gcp) =>
      Effect.gen(function*() {
        const vol = aws.addVolume({ sizeGiB: 100 })
        gcp.addDisk({ ...GCP, name: "data-2", sizeGb: 40 })
        yield* H.handle(fast({ gcp: GCP, cooldown: "1 millis" }), H.growRequest(vol, 100, 125), "observe")
        yield* H.handle(fast({ gcp: GCP, cooldown: "1 millis" }), H.growRequest("data-2", 40, 50), "observe")
        assert.isTrue(aws.requests().every((r) => r.action.startsWith("Describe")))
        assert.isTrue(gcp.requests().every((r) => r.method === "GET"))
        const dryEbs = yield* H.handle(fast({ gcp: GCP, cooldown: "1 millis" }), H.growRequest(vol, 100, 126), "dry_run")
        const dryGcp = yield* H.handle(fast({ gcp: GCP, cooldown: "1 millis" }), H.growRequest("data-2", 40, 51), "dry_run")
        assert.deepStrictEqual([H.classOf(dryEbs), H.classOf(dryGcp)], ["ebs_volume", "gcp_disk"])
        assert.deepStrictEqual(aws.requests().filter((r) => r.action === "ModifyVolume").map((r) => [r.params["Size"], r.dryRun]), [["126", true]])
        assert.deepStrictEqual([aws.writes(), gcp.writes()], [[], []])
        assert.deepStrictEqual([aws.volume(vol)?.sizeGiB, gcp.disk(GCP.project, GCP.zone, "data-2")?.sizeGb], [100, 40])
      }).pipe(Effect.provide(H.layer(aws, { gcp })))))

  it("never shrinks, never above the cap (property over sizes, requests and caps)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 1, max: 40_000 * 1024 }), fc.integer({ min: 1, max: 20_000 }), (current, requestedMiB, cap) => {
        const requested = requestedMiB * 1024 ** 2
        const facts = {
          request: Fact.known({ reason: "full", capacityBytes: current * H.GiB, requestedBytes: requested }),
          volume: Fact.known({ provider: "ebs" as const, volumeId: "vol-0123456789abcdef0", sizeGiB: current, availabilityZone: "us-east-1a" })
        }
        const plan = VolumeGrow.plan("ebs_volume", facts, H.growRequest("vol-0123456789abcdef0", current, current + 1), { maxVolumeGb: cap })
        const act = plan.root._tag === "Act" ? plan.root.action : undefined
        if (act === undefined) return plan.root._tag === "Escalate" && VolumeGrow.targetGiB(requested, current, cap) === undefined
        const to = act.params["toGiB"] as number
        return Number.isInteger(to) && to > current && to <= cap && to >= Math.min(cap, Math.ceil(requested / H.GiB))
      }),
      { numRuns: 2_000 }
    )
  })

  for (const [cls, volume] of [
    ["ebs_volume", { provider: "ebs", volumeId: "vol-0a1b2c3d4e5f67890", sizeGiB: 100, availabilityZone: "us-east-1a" }],
    ["gcp_disk", { provider: "gcp", project: "shop-prod", zone: "europe-west1-b", disk: "data-1", sizeGiB: 200 }]
  ] as const) {
    it.effect(`${cls}: the golden plan (+25 % requested by the host)`, () =>
      Effect.sync(() => {
        const facts = { request: Fact.known({ reason: "/var at 91% after every safe step", capacityBytes: volume.sizeGiB * H.GiB, requestedBytes: Math.ceil(volume.sizeGiB * 1.25) * H.GiB }), volume: Fact.known(volume) }
        assert.strictEqual(VolumeGrow.classify(facts)._tag, "Classified")
        const target = volume.provider === "ebs" ? volume.volumeId : volume.disk
        Testing.expectPlan(VolumeGrow.plan(cls, facts, H.growRequest(target, volume.sizeGiB, volume.sizeGiB + 1), {}), path.join(import.meta.dirname, "golden", `volume-grow.${cls}.plan.txt`))
      }))
  }
})
