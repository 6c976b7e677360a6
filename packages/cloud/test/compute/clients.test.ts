/**
 * The EC2 / Auto Scaling and Compute Engine fakes through the official clients (only the
 * endpoint changes): shapes decode, DryRun answers DryRunOperation and changes nothing, state
 * moves by cause and effect on the fake's clock, errors arrive typed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { Ec2, GcpCompute } from "@byteport/cloud"
import { AwsComputeFake, GcpComputeFake } from "@byteport/cloud/testing"

const withAws = <A, E>(o: AwsComputeFake.Options, f: (fake: AwsComputeFake.AwsComputeFake, ec2: Ec2.Shape) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => AwsComputeFake.start(o)),
    (fake) => f(fake, Ec2.make({ region: "us-east-1", endpoint: fake.endpoint, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: Redacted.make("secret") } })),
    (fake) => Effect.promise(() => fake.close())
  )

describe("EC2 + Auto Scaling fake through @aws-sdk/client-ec2 and client-auto-scaling", () => {
  it.live("instances, group membership, DryRun, terminate-in-group launching a replacement over time", () => {
    let t = 1_000_000
    return withAws({ now: () => t, terminateMillis: 30_000, launchMillis: 60_000 }, (fake, ec2) =>
      Effect.gen(function*() {
        const [a, b] = fake.addGroup({ name: "workers", size: 2 })
        const lone = fake.addInstance({ tags: { Name: "bastion" } })
        const ia = yield* ec2.describeInstance(a!)
        assert.strictEqual(ia?.state, "running")
        assert.strictEqual(ia?.tags["aws:autoscaling:groupName"], "workers")
        assert.match(ia?.privateDnsName ?? "", /^ip-10-0-0-\d+\.ec2\.internal$/)
        assert.deepStrictEqual(yield* ec2.groupOf(a!), { group: "workers", lifecycleState: "InService" })
        assert.isUndefined(yield* ec2.groupOf(lone))
        assert.isUndefined(yield* ec2.describeInstance("i-0123456789abcdef0"))

        yield* ec2.dryRunTerminate(a!)
        assert.strictEqual(fake.instance(a!)?.state, "running")
        assert.deepStrictEqual(fake.writes(), [])
        assert.isTrue(fake.requests().some((r) => r.action === "TerminateInstances" && r.dryRun))

        yield* ec2.terminateInGroup(a!)
        const w = fake.writes()
        assert.deepStrictEqual(w.map((x) => [x.action, x.params["ShouldDecrementDesiredCapacity"]]), [["TerminateInstanceInAutoScalingGroup", "false"]])
        const g1 = yield* ec2.describeGroup("workers")
        assert.strictEqual(g1?.desired, 2)
        assert.sameMembers(g1!.instances.map((i) => i.lifecycleState), ["Terminating", "InService", "Pending"])
        t += 30_000
        assert.strictEqual((yield* ec2.describeInstance(a!))?.state, "terminated")
        t += 30_000
        const g2 = yield* ec2.describeGroup("workers")
        assert.deepStrictEqual(g2!.instances.map((i) => i.lifecycleState), ["InService", "InService"])
        assert.include(g2!.instances.map((i) => i.instanceId), b!)
        assert.notInclude(g2!.instances.map((i) => i.instanceId), a!)
      }))
  })

  it.live("volumes: modify grows (modifying → optimizing → completed), DryRun changes nothing, shrink and a 2nd within 6 h refused", () => {
    let t = 5_000_000
    return withAws({ now: () => t, modifyMillis: 10_000, optimizeMillis: 20_000 }, (fake, ec2) =>
      Effect.gen(function*() {
        const vol = fake.addVolume({ sizeGiB: 100 })
        assert.deepStrictEqual(yield* ec2.describeVolume(vol), { volumeId: vol, sizeGiB: 100, availabilityZone: "us-east-1a" })
        assert.isUndefined(yield* ec2.modifyVolume(vol, 125, true))
        assert.strictEqual(fake.volume(vol)?.sizeGiB, 100)
        assert.isUndefined(yield* ec2.volumeModification(vol))
        const shrink = yield* Effect.flip(ec2.modifyVolume(vol, 80, false))
        assert.strictEqual(shrink.code, "InvalidParameterValue")
        const m = yield* ec2.modifyVolume(vol, 125, false)
        assert.deepStrictEqual([m?.state, m?.originalSize, m?.targetSize], ["modifying", 100, 125])
        t += 10_000
        assert.strictEqual((yield* ec2.volumeModification(vol))?.state, "optimizing")
        t += 20_000
        assert.strictEqual((yield* ec2.volumeModification(vol))?.state, "completed")
        const again = yield* Effect.flip(ec2.modifyVolume(vol, 150, false))
        assert.strictEqual(again.code, "VolumeModificationRateExceeded")
        t += 6 * 3_600_000
        assert.strictEqual((yield* ec2.modifyVolume(vol, 150, false))?.targetSize, 150)
        assert.isUndefined(yield* ec2.describeVolume("vol-0123456789abcdef0"))
      }))
  })

  it.live("IAM denial arrives typed (UnauthorizedOperation, 403)", () =>
    withAws({ deny: ["TerminateInstances"] }, (fake, ec2) =>
      Effect.gen(function*() {
        const [a] = fake.addGroup({ name: "workers", size: 1 })
        const e = yield* Effect.flip(ec2.dryRunTerminate(a!))
        assert.strictEqual(e.code, "UnauthorizedOperation")
        assert.strictEqual(e.status, 403)
      })))
})

describe("Compute Engine fake through fetch (GcpCompute)", () => {
  it.live("disks.get, disks.resize → operation PENDING → RUNNING → DONE, size changes when DONE; smaller refused; bad token 401", () => {
    let t = 0
    return Effect.acquireUseRelease(
      Effect.promise(() => GcpComputeFake.start({ now: () => t, runningMillis: 1_000, doneMillis: 5_000 })),
      (fake) =>
        Effect.gen(function*() {
          fake.addDisk({ project: "shop-prod", zone: "europe-west1-b", name: "data-1", sizeGb: 200 })
          const gcp = GcpCompute.make({ baseUrl: fake.url, token: Redacted.make("test-token") })
          const ref = { project: "shop-prod", zone: "europe-west1-b", disk: "data-1" }
          assert.deepStrictEqual((yield* gcp.getDisk(ref))?.sizeGb, 200)
          assert.isUndefined(yield* gcp.getDisk({ ...ref, disk: "nope" }))
          const op = yield* gcp.resize(ref, 250)
          assert.strictEqual(op.status, "PENDING")
          assert.strictEqual(op.operationType, "resizeDisk")
          t = 1_000
          assert.strictEqual((yield* gcp.getOperation(ref.project, ref.zone, op.name)).status, "RUNNING")
          assert.strictEqual((yield* gcp.getDisk(ref))?.sizeGb, 200)
          t = 5_000
          assert.strictEqual((yield* gcp.getOperation(ref.project, ref.zone, op.name)).status, "DONE")
          assert.strictEqual((yield* gcp.getDisk(ref))?.sizeGb, 250)
          const smaller = yield* Effect.flip(gcp.resize(ref, 100))
          assert.deepStrictEqual([smaller.status, smaller.reason], [400, "invalid"])
          const bad = GcpCompute.make({ baseUrl: fake.url, token: Redacted.make("wrong") })
          const e = yield* Effect.flip(bad.getDisk(ref))
          assert.strictEqual(e.status, 401)
          assert.notInclude(JSON.stringify(e), "wrong")
        }),
      (fake) => Effect.promise(() => fake.close())
    )
  })
})
