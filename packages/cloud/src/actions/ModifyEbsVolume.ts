/**
 * `cloud.ebs.modifyVolume`: grows an EBS volume to a size in whole GiB (`ModifyVolume`). Guardrails
 * of the kind: never shrinks (the size must exceed the volume's current size, read live), never
 * above `maxVolumeGb`, and one modification per volume per 6 hours (`Guardrail.cooldown`, EC2's
 * own limit). dry_run sends `ModifyVolume` with `DryRun=true` only; observe reads
 * DescribeVolumesModifications. Done once the modification is `optimizing` or `completed` at the
 * new size (the filesystem can be grown from `optimizing` on).
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, type TargetRef } from "@byteport/core"
import { type Duration, Effect, Schema } from "effect"
import { Ec2 } from "../aws/Ec2"
import * as GrowWithinCap from "./GrowWithinCap"

/** The action kind. */
export const KIND = "cloud.ebs.modifyVolume"

/** The params. */
export const Params = Schema.Struct({
  volumeId: Schema.String,
  /** The size planned from (GiB). */
  fromGiB: Schema.Int,
  /** The new size (GiB). */
  toGiB: Schema.Int,
  /** The cap (`policy.maxVolumeGb`). */
  maxVolumeGb: Schema.Int
})
/** The params. */
export type Params = typeof Params.Type

/** Builds the action. */
export const action = (target: TargetRef.TargetRef, params: Params): Action.Action =>
  Action.make({
    kind: KIND,
    target,
    params: { ...params },
    precondition: { sizeGiB: params.fromGiB },
    idempotencyKey: `${KIND}:${params.volumeId}:${params.toGiB}`,
    timeoutMs: 60_000,
    description: `grow EBS volume ${params.volumeId} from ${params.fromGiB} to ${params.toGiB} GiB`
  })

/** Options of the kind's guardrails. */
export interface Options {
  /** Between two modifications of one volume (default 6 hours). */
  readonly cooldown?: Duration.Input | undefined
}

/** Never shrinks, never above the cap: the new size against the volume's live size. */
export const growsWithinCap: Guardrail.Guardrail<Ec2> = GrowWithinCap.make({
  sizeParam: "toGiB",
  unit: "GiB",
  name: (p) => `volume ${String(p["volumeId"])}`,
  read: (p) => Effect.gen(function*() {
    return (yield* (yield* Ec2).describeVolume(String(p["volumeId"])))?.sizeGiB
  })
})

/** The guardrails of the kind. */
export const guardrails = (o: Options = {}): ReadonlyArray<Guardrail.Guardrail<Ec2>> => [
  growsWithinCap,
  Guardrail.cooldown({ name: "one_modification_per_volume_6h", key: (ctx) => `${KIND}:${String(ctx.action.params["volumeId"])}`, duration: o.cooldown ?? "6 hours" })
]

/** Whether a modification state counts as done for the new size. */
export const isDone = (state: string): boolean => state === "optimizing" || state === "completed"

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
        const v = yield* ec2.describeVolume(p.volumeId).pipe(Effect.mapError((e) => fail(e.message)))
        if (v === undefined) return yield* fail(`volume ${p.volumeId} does not exist`, true)
        if (v.sizeGiB !== p.fromGiB) return yield* fail(`volume ${p.volumeId} is ${v.sizeGiB} GiB, planned from ${p.fromGiB}`, true)
        const m = yield* ec2.modifyVolume(p.volumeId, p.toGiB, ctx.dryRun).pipe(Effect.mapError((e) => fail(`${e.code}: ${e.message}`)))
        return ctx.dryRun
          ? { detail: `would grow ${p.volumeId} to ${p.toGiB} GiB (DryRun allowed)`, result: { volumeId: p.volumeId, toGiB: p.toGiB, dryRun: true } }
          : { detail: `growing ${p.volumeId} ${p.fromGiB} → ${p.toGiB} GiB (${m?.state ?? "modifying"})`, result: { volumeId: p.volumeId, toGiB: p.toGiB, state: m?.state ?? "modifying" } }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const m = yield* (yield* Ec2).volumeModification(p.volumeId)
        if (m !== undefined && m.targetSize === p.toGiB && m.state !== "failed") return ActionHandler.applied(`modification to ${m.targetSize} GiB is ${m.state}`)
        const v = yield* (yield* Ec2).describeVolume(p.volumeId)
        return v?.sizeGiB === p.fromGiB ? ActionHandler.notApplied(`volume is still ${v.sizeGiB} GiB`) : ActionHandler.unknown(`volume is ${v?.sizeGiB ?? "gone"}; no modification to ${p.toGiB} GiB`)
      })
  })
