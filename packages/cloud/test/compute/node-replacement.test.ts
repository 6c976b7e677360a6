/**
 * cloud.handoff.node-replacement end to end on the EC2 + Auto Scaling fake, auto mode unless
 * said, state asserted after: an ASG member is replaced at the same capacity and verified; the
 * opt-in, one-per-group and standalone rules hold; observe and dry_run send no write (dry_run only
 * a DryRun request).
 */
import { assert, describe, it } from "@effect/vitest"
import { Fact, Verifier } from "@byteport/core"
import * as Testing from "@byteport/core/testing"
import * as path from "node:path"
import { Effect } from "effect"
import { NodeReplacement, ReplaceEc2Node } from "@byteport/cloud"
import { AwsComputeFake } from "@byteport/cloud/testing"
import * as H from "./harness"

const ON = { BYTEPORT_AUTO_REPLACE_NODES: "true" }
const fast = NodeReplacement.make({ verifySchedule: Verifier.every("20 millis", "5 seconds") })

const withFake = <A, E, R>(o: AwsComputeFake.Options, f: (fake: AwsComputeFake.AwsComputeFake) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.promise(() => AwsComputeFake.start(o)), f, (fake) => Effect.promise(() => fake.close()))

const providerOf = (fake: AwsComputeFake.AwsComputeFake, id: string) => `aws:///${fake.instance(id)!.availabilityZone}/${id}`

describe("cloud.handoff.node-replacement on the EC2 + Auto Scaling fake", () => {
  it.live("asg_member, opted in: TerminateInstanceInAutoScalingGroup (capacity kept), replacement InService, recovered", () =>
    withFake({ terminateMillis: 50, launchMillis: 150 }, (fake) =>
      Effect.gen(function*() {
        const [a, b] = fake.addGroup({ name: "workers", size: 2 })
        const r = yield* H.handle(fast, H.replacementRequest("node-a", providerOf(fake, a!)), "auto")
        assert.strictEqual(H.classOf(r), "asg_member")
        assert.strictEqual(r.status, "recovered")
        assert.deepStrictEqual(fake.writes().map((w) => [w.action, w.params["InstanceId"], w.params["ShouldDecrementDesiredCapacity"]]), [["TerminateInstanceInAutoScalingGroup", a, "false"]])
        assert.strictEqual(fake.instance(a!)?.state, "terminated")
        const live = fake.members("workers").filter((i) => i.state === "running")
        assert.strictEqual(live.length, 2)
        assert.include(live.map((i) => i.instanceId), b!)
        assert.strictEqual(fake.group("workers")?.desired, 2)
      }).pipe(Effect.provide(H.layer(fake, { env: ON })))))

  it.live("opt-in unset (default false): denied by the kind's guardrail, escalated, no write", () =>
    withFake({}, (fake) =>
      Effect.gen(function*() {
        const [a] = fake.addGroup({ name: "workers", size: 2 })
        const r = yield* H.handle(fast, H.replacementRequest("node-a", providerOf(fake, a!)), "auto")
        assert.strictEqual(H.classOf(r), "asg_member")
        assert.strictEqual(r.status, "escalated")
        assert.match(JSON.stringify(r), /BYTEPORT_AUTO_REPLACE_NODES/)
        assert.deepStrictEqual(fake.writes(), [])
        assert.strictEqual(fake.instance(a!)?.state, "running")
      }).pipe(Effect.provide(H.layer(fake)))))

  it.live("standalone instance: escalated, never terminated", () =>
    withFake({}, (fake) =>
      Effect.gen(function*() {
        const lone = fake.addInstance()
        const r = yield* H.handle(fast, H.replacementRequest("node-b", providerOf(fake, lone)), "auto")
        assert.strictEqual(H.classOf(r), "standalone_instance")
        assert.strictEqual(r.status, "escalated")
        assert.match(r.escalation?.reason ?? "", /never terminates a standalone instance/)
        assert.deepStrictEqual(fake.writes(), [])
      }).pipe(Effect.provide(H.layer(fake, { env: ON })))))

  it.live("no or foreign providerID: unclassified, escalated, no request at all", () =>
    withFake({}, (fake) =>
      Effect.gen(function*() {
        for (const [i, p] of [undefined, "gce://shop-prod/europe-west1-b/node-c", "aws:///us-east-1a/not-an-instance"].entries()) {
          const r = yield* H.handle(fast, H.replacementRequest(`node-c${i}`, p), "auto")
          assert.strictEqual(r.status, "escalated")
          assert.notStrictEqual(r.classification?._tag, "Classified")
        }
        assert.deepStrictEqual(fake.requests(), [])
      }).pipe(Effect.provide(H.layer(fake, { env: ON })))))

  it.live("one replacement per group at a time: a second member's request while the first is Pending is denied", () =>
    withFake({ terminateMillis: 60_000, launchMillis: 60_000 }, (fake) =>
      Effect.gen(function*() {
        const [a, b] = fake.addGroup({ name: "workers", size: 3 })
        const slow = NodeReplacement.make({ verifySchedule: Verifier.every("20 millis", "100 millis") })
        const first = yield* H.handle(slow, H.replacementRequest("node-a", providerOf(fake, a!)), "auto")
        assert.notStrictEqual(first.status, "recovered") // the replacement is still Pending
        const second = yield* H.handle(slow, H.replacementRequest("node-b", providerOf(fake, b!)), "auto")
        assert.strictEqual(second.status, "escalated")
        assert.match(JSON.stringify(second), /one_replacement_per_group/)
        assert.deepStrictEqual(fake.writes().map((w) => w.params["InstanceId"]), [a])
        assert.strictEqual(fake.instance(b!)?.state, "running")
      }).pipe(Effect.provide(H.layer(fake, { env: ON })))))

  it.live("dry_run sends only TerminateInstances DryRun=true; observe sends no write", () =>
    withFake({}, (fake) =>
      Effect.gen(function*() {
        const [a] = fake.addGroup({ name: "workers", size: 2 })
        const dry = yield* H.handle(fast, H.replacementRequest("node-a", providerOf(fake, a!)), "dry_run")
        assert.strictEqual(H.classOf(dry), "asg_member")
        assert.deepStrictEqual(fake.writes(), [])
        const mutating = fake.requests().filter((r) => ["TerminateInstances", "TerminateInstanceInAutoScalingGroup"].includes(r.action))
        assert.deepStrictEqual(mutating.map((r) => [r.action, r.dryRun]), [["TerminateInstances", true]])
        const before = fake.requests().length
        yield* H.handle(fast, H.replacementRequest("node-a", providerOf(fake, a!)), "observe")
        assert.isTrue(fake.requests().slice(before).every((r) => r.action.startsWith("Describe")))
        assert.strictEqual(fake.instance(a!)?.state, "running")
      }).pipe(Effect.provide(H.layer(fake, { env: ON })))))

  const instance = (over: Partial<NodeReplacement.InstanceFacts>): NodeReplacement.InstanceFacts => ({
    node: "node-a", providerID: "aws:///us-east-1a/i-0abc1234def567890", instanceId: "i-0abc1234def567890", availabilityZone: "us-east-1a",
    state: "running", group: "workers", lifecycleState: "InService", ...over
  })
  const request = { reason: "hardware_cloud_failure: MCE errors", cordoned: true, drained: true, providerID: "aws:///us-east-1a/i-0abc1234def567890" }
  for (const [cls, over] of [["asg_member", {}], ["standalone_instance", { group: null, lifecycleState: null }], ["instance_gone", { state: "terminated", group: null, lifecycleState: null }]] as const) {
    it.effect(`${cls}: classified first-match, the golden plan`, () =>
      Effect.gen(function*() {
        const facts = { request: Fact.known(request), instance: Fact.known(instance(over)) }
        const c = NodeReplacement.classify(facts)
        assert.strictEqual(c._tag === "Classified" ? c.class : c._tag, cls)
        Testing.expectPlan(NodeReplacement.plan(cls, facts), path.join(import.meta.dirname, "golden", `node-replacement.${cls}.plan.txt`))
      }))
  }
  it.effect("near miss: a Pending member is still an asg_member; a stopping instance is instance_gone", () =>
    Effect.gen(function*() {
      const pending = NodeReplacement.classify({ request: Fact.known(request), instance: Fact.known(instance({ state: "pending", lifecycleState: "Pending" })) })
      assert.strictEqual(pending._tag === "Classified" ? pending.class : pending._tag, "asg_member")
      const stopping = NodeReplacement.classify({ request: Fact.known(request), instance: Fact.known(instance({ state: "stopping" })) })
      assert.strictEqual(stopping._tag === "Classified" ? stopping.class : stopping._tag, "instance_gone")
    }))

  it("parseProviderID: only aws:///<az>/<instance-id>", () => {
    assert.deepStrictEqual(ReplaceEc2Node.parseProviderID("aws:///eu-west-1b/i-0123456789abcdef0"), { availabilityZone: "eu-west-1b", instanceId: "i-0123456789abcdef0" })
    for (const bad of ["aws:///eu-west-1b/", "aws://eu-west-1b/i-0123456789abcdef0", "gce://p/z/n", "aws:///eu-west-1b/i-01234567/../x", ""]) assert.isUndefined(ReplaceEc2Node.parseProviderID(bad))
  })
})
