/**
 * `cloud.handoff.node-replacement`: the owner of core's *node replacement requested* hand-off
 * (`HandOffs.NodeReplacementRequested`, sent by the Kubernetes node runbooks once a node is
 * cordoned and drained) for nodes on EC2.
 *
 * - Detect: the hand-off signal (its evidence: reason, cordoned, drained, the node's providerID).
 * - Diagnose: the instance from the providerID (`aws:///<az>/<instance-id>`), read from EC2, and
 *   its Auto Scaling group (`DescribeAutoScalingInstances`; EC2 also tags members
 *   `aws:autoscaling:groupName`).
 * - Classify (first match): `asg_member` (0.95: a running member of a group), `standalone_instance`
 *   (0.95: running, in no group), `instance_gone` (0.90: EC2 no longer runs it).
 * - Remediate: `asg_member` → one `cloud.ec2.replaceNode` (opt-in `BYTEPORT_AUTO_REPLACE_NODES`,
 *   one per group at a time: the kind's guardrails); a standalone instance is never terminated:
 *   escalate; a gone instance: escalate (nothing to replace, check the group).
 * - Verify (every 15 s up to 10 min by default): the old instance is terminated and the group has
 *   as many InService members other than it as its desired capacity.
 *
 * @since 0.1.0
 */
import { type ActionHandler, Classifier, Diagnoser, Fact, HandOffs, Plan, Runbook, type Signal, TargetRef, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as ReplaceEc2Node from "../actions/ReplaceEc2Node"
import { Ec2 } from "../aws/Ec2"

/** The runbook id. */
export const RUNBOOK_ID = "cloud.handoff.node-replacement"

/** The hand-off signal type this runbook owns (defined in core). */
export const SIGNAL_TYPE = HandOffs.NodeReplacementRequested.type

/** What the runbook knows about the instance behind the node. */
export interface InstanceFacts {
  readonly node: string
  readonly providerID: string
  readonly instanceId: string
  readonly availabilityZone: string
  /** EC2's state name, or `absent` when EC2 does not know the instance. */
  readonly state: string
  readonly group: string | null
  readonly lifecycleState: string | null
}

/** The runbook's facts. */
export interface Facts {
  readonly request: HandOffs.Evidence<typeof HandOffs.NodeReplacementRequested>
  readonly instance: InstanceFacts
}

/** The probe: providerID → the EC2 instance and its Auto Scaling group. Not an AWS providerID → the probe fails (Unknown). */
export const instanceProbe = Diagnoser.probe("instance", (signal: Signal.Signal) =>
  Effect.gen(function*() {
    const providerID = typeof signal.evidence["providerID"] === "string" ? signal.evidence["providerID"] : ""
    const node = signal.target.ref.split("/").pop() ?? signal.target.ref
    const parsed = ReplaceEc2Node.parseProviderID(providerID)
    if (parsed === undefined) return yield* Effect.fail(new Error(`node ${node}: providerID ${JSON.stringify(providerID)} is not an EC2 instance (aws:///<az>/<instance-id>)`))
    const ec2 = yield* Ec2
    const instance = yield* ec2.describeInstance(parsed.instanceId)
    const member = instance === undefined || instance.state === "terminated" ? undefined : yield* ec2.groupOf(parsed.instanceId)
    return {
      node,
      providerID,
      instanceId: parsed.instanceId,
      availabilityZone: parsed.availabilityZone,
      state: instance?.state ?? "absent",
      group: member?.group ?? null,
      lifecycleState: member?.lifecycleState ?? null
    } satisfies InstanceFacts
  }))

/** The diagnoser. */
export const diagnose = Diagnoser.make<Facts, Ec2>({ request: HandOffs.probe(HandOffs.NodeReplacementRequested), instance: instanceProbe })

/** The classifier (first match). */
export const classify = Classifier.firstMatch<Facts>([
  Classifier.rule<Facts>()({
    class: "instance_gone",
    confidence: 0.9,
    needs: ["instance"],
    when: (f) => ({ matched: f.instance.state !== "running" && f.instance.state !== "pending", reasons: [`${f.instance.instanceId} is ${f.instance.state}`] })
  }),
  Classifier.rule<Facts>()({
    class: "asg_member",
    confidence: 0.95,
    needs: ["instance"],
    when: (f) => ({ matched: f.instance.group !== null, reasons: [`${f.instance.instanceId} is a member of Auto Scaling group ${f.instance.group} (${f.instance.lifecycleState})`] })
  }),
  Classifier.rule<Facts>()({
    class: "standalone_instance",
    confidence: 0.95,
    needs: ["instance"],
    when: (f) => ({ matched: f.instance.group === null, reasons: [`${f.instance.instanceId} belongs to no Auto Scaling group`] })
  })
])

/** The instance as a target (the node's lease stays with the parent runbook). */
export const instanceTarget = (i: Pick<InstanceFacts, "availabilityZone" | "instanceId">): TargetRef.TargetRef =>
  TargetRef.make("aws.ec2.instance", `${i.availabilityZone}/${i.instanceId}`)

/** The plan for a class. */
export const plan = (cls: string, facts: Fact.Facts<Facts>): Plan.Plan => {
  const i = Fact.value(facts.instance)!
  switch (cls) {
    case "asg_member":
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `replace node ${i.node} through Auto Scaling group ${i.group}`,
        Plan.act(ReplaceEc2Node.action(instanceTarget(i), { node: i.node, providerID: i.providerID, instanceId: i.instanceId, group: i.group! }))
      )
    case "standalone_instance":
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `node ${i.node} runs on a standalone instance`,
        Plan.escalate(`node ${i.node} (${i.instanceId}) needs a replacement but belongs to no Auto Scaling group: BytePort never terminates a standalone instance`, [
          `launch a replacement for ${i.instanceId} (${i.availabilityZone}) and join it to the cluster`,
          `then terminate ${i.instanceId}`
        ])
      )
    default:
      return Plan.make(
        RUNBOOK_ID,
        cls,
        `node ${i.node}'s instance is ${i.state}`,
        Plan.escalate(`node ${i.node}'s instance ${i.instanceId} is ${i.state}: nothing to replace`, [`check why ${i.instanceId} is ${i.state} and whether its group replaced it`, `remove the Node object ${i.node} once gone`])
      )
  }
}

/** The checks after a replacement: old instance terminated, the group back at its desired InService count without it. */
export const verify = Verifier.fromChecks<Facts, Ec2>((ctx) =>
  Effect.gen(function*() {
    const i = Fact.value(ctx.facts.instance)!
    const ec2 = yield* Ec2
    const old = yield* ec2.describeInstance(i.instanceId)
    const group = yield* ec2.describeGroup(i.group ?? "")
    const inService = (group?.instances ?? []).filter((m) => m.instanceId !== i.instanceId && m.lifecycleState === "InService")
    return [
      { name: "old instance terminated", ok: old === undefined || old.state === "terminated", detail: `${i.instanceId} ${old?.state ?? "absent"}` },
      {
        name: "replacement InService",
        ok: group !== undefined && inService.length >= group.desired,
        detail: `${inService.length} InService of desired ${group?.desired ?? "?"} in ${i.group}`
      }
    ]
  }).pipe(Effect.orElseSucceed(() => [{ name: "EC2 readable", ok: false, detail: "could not read the instance or its group" }]))
)

/** Options of the runbook. */
export interface Options {
  /** The mode when configuration says nothing (default `dry_run`). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  /** When to verify (default: every 15 s up to 10 minutes). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** How long the instance stays leased after an incident (default 10 minutes). */
  readonly cooldown?: Duration.Input
}

/** The services the runbook needs. */
export type Services = Ec2

/** The `cloud.handoff.node-replacement` runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Facts, Services> =>
  Runbook.make<Facts, Services>({
    id: RUNBOOK_ID,
    family: "cloud.node",
    description: "Replaces a Kubernetes node's EC2 instance through its Auto Scaling group, requested by a node runbook",
    signals: [SIGNAL_TYPE],
    precedence: 50,
    diagnose,
    classify,
    remediate: (c, facts) => Effect.sync(() => plan(c.class, facts)),
    verify,
    verifySchedule: options.verifySchedule ?? Verifier.every("15 seconds", "10 minutes"),
    nextSteps: (c) => (c._tag === "Classified" ? [`class ${c.class}`] : ["the node's providerID is not an EC2 instance this agent can read"]),
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "10 minutes"
  })

/** The handlers of the runbook's action kinds. */
export const handlers = (o: ReplaceEc2Node.Options = {}): ReadonlyArray<ActionHandler.ActionHandler<Ec2>> => [ReplaceEc2Node.make(o)]
