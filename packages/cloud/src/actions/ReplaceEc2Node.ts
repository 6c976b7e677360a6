/**
 * `cloud.ec2.replaceNode`: replaces a Kubernetes node's EC2 instance through its Auto Scaling
 * group — `TerminateInstanceInAutoScalingGroup` with `ShouldDecrementDesiredCapacity=false`, so the
 * group launches a replacement at the same capacity. Guardrails of the kind, whoever plans it:
 * `BYTEPORT_AUTO_REPLACE_NODES` must be true (`Guardrail.requireOptIn`, default false), one
 * replacement per group at a time (a store window per group, and a live check that no member of
 * the group is Pending or Terminating), and the instance must still be a running member of the
 * planned group when it acts. A standalone instance is never terminated (the runbook escalates).
 * dry_run sends `TerminateInstances` with `DryRun=true` only (EC2's permission check); observe
 * sends nothing.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, type TargetRef } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import { Ec2 } from "../aws/Ec2"

/** The action kind. */
export const KIND = "cloud.ec2.replaceNode"

/** The opt-in flag (the seed's: node replacement only if `BYTEPORT_AUTO_REPLACE_NODES=true`). */
export const FLAG = "BYTEPORT_AUTO_REPLACE_NODES"

/** The params. */
export const Params = Schema.Struct({
  node: Schema.String,
  providerID: Schema.String,
  instanceId: Schema.String,
  group: Schema.String
})
/** The params. */
export type Params = typeof Params.Type

/** Pure: the availability zone and instance id of an AWS providerID (`aws:///<az>/<instance-id>`), else undefined. */
export const parseProviderID = (providerID: string): { readonly availabilityZone: string; readonly instanceId: string } | undefined => {
  const m = /^aws:\/\/\/([a-z0-9-]+)\/(i-[0-9a-f]{8,17})$/.exec(providerID.trim())
  return m ? { availabilityZone: m[1]!, instanceId: m[2]! } : undefined
}

/** Builds the action. */
export const action = (target: TargetRef.TargetRef, params: Params): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: { ...params },
    precondition: { instanceId: params.instanceId, group: params.group },
    idempotencyKey: `${KIND}:${params.instanceId}`,
    timeoutMs: 60_000,
    description: `replace node ${params.node}: terminate ${params.instanceId} in Auto Scaling group ${params.group} (capacity kept, the group launches a replacement)`
  })

/** Options of the kind's guardrails. */
export interface Options {
  /** How long one replacement holds its group (default 30 minutes). */
  readonly groupWindow?: Duration.Input | undefined
}

const groupOf = (ctx: Guardrail.GuardrailContext) => String(ctx.action.params["group"] ?? "")

/** No other member of the group is being replaced right now (Pending or Terminating members). */
export const groupSettled: Guardrail.Guardrail<Ec2> = Guardrail.make({
  name: "one_replacement_per_group",
  check: (ctx) =>
    Effect.gen(function*() {
      const ec2 = yield* Ec2
      const g = yield* ec2.describeGroup(groupOf(ctx))
      if (g === undefined) return Guardrail.deny(`one_replacement_per_group: Auto Scaling group ${groupOf(ctx)} does not exist`)
      const busy = g.instances.filter((i) => i.instanceId !== ctx.action.params["instanceId"] && !["InService", "Standby"].includes(i.lifecycleState))
      return busy.length === 0
        ? Guardrail.pass
        : Guardrail.deny(`one_replacement_per_group: ${g.name} has members in transition (${busy.map((i) => `${i.instanceId} ${i.lifecycleState}`).join(", ")})`)
    }).pipe(Effect.catch((e) => Effect.succeed(Guardrail.deny(`one_replacement_per_group: could not read group ${groupOf(ctx)} (${e.message})`))))
})

/** The guardrails of the kind. */
export const guardrails = (o: Options = {}): ReadonlyArray<Guardrail.Guardrail<Ec2>> => [
  Guardrail.requireOptIn(FLAG, { what: "cloud-provider node replacement" }),
  Guardrail.rateLimit({ name: "one_replacement_per_group_window", key: (ctx) => `${KIND}:group:${groupOf(ctx)}`, max: 1, window: o.groupWindow ?? "30 minutes" }),
  groupSettled
]

/** The handler. */
export const make = (o: Options = {}): ActionHandler.ActionHandler<Ec2> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, Ec2> {
        const ec2 = yield* Ec2
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, conflict })
        const wrap = <A>(eff: Effect.Effect<A, { readonly message: string }>) => eff.pipe(Effect.mapError((e) => fail(e.message)))
        const instance = yield* wrap(ec2.describeInstance(p.instanceId))
        if (instance === undefined || instance.state !== "running") return yield* fail(`${p.instanceId} is ${instance?.state ?? "gone"}, not running`, true)
        const member = yield* wrap(ec2.groupOf(p.instanceId))
        if (member?.group !== p.group) return yield* fail(`${p.instanceId} is no longer a member of ${p.group} (${member?.group ?? "no group"})`, true)
        if (ctx.dryRun) {
          yield* wrap(ec2.dryRunTerminate(p.instanceId))
          return { detail: `would terminate ${p.instanceId} in ${p.group} (DryRun allowed)`, result: { instanceId: p.instanceId, group: p.group, dryRun: true } }
        }
        const { activityId } = yield* wrap(ec2.terminateInGroup(p.instanceId))
        return { detail: `terminated ${p.instanceId} in ${p.group}; the group launches a replacement`, result: { instanceId: p.instanceId, group: p.group, activityId } }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const i = yield* (yield* Ec2).describeInstance(p.instanceId)
        if (i === undefined) return ActionHandler.unknown(`${p.instanceId} is not known to EC2 any more`)
        return i.state === "shutting-down" || i.state === "terminated"
          ? ActionHandler.applied(`${p.instanceId} is ${i.state}`)
          : i.state === "running"
          ? ActionHandler.notApplied(`${p.instanceId} is still running`)
          : ActionHandler.unknown(`${p.instanceId} is ${i.state}`)
      })
  })
