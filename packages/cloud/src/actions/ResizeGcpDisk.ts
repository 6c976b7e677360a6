/**
 * `cloud.gcp.resizeDisk`: grows a zonal Compute Engine persistent disk (`disks.resize`) and waits
 * for the zone operation to be DONE. Guardrails of the kind: never shrinks (the size must exceed
 * the disk's live `sizeGb`), never above `maxVolumeGb`, one resize per disk per 6 hours
 * (`Guardrail.cooldown`, as for EBS). Compute Engine has no dry-run for `disks.resize`: dry_run
 * reads the disk and sends nothing else; observe reads the disk.
 *
 * @since 0.1.0
 */
import { Action, ActionHandler, Guardrail, type TargetRef } from "@byteport/core"
import { type Duration, Effect, Schedule, Schema } from "effect"
import { GcpCompute } from "../gcp/GcpCompute"
import * as GrowWithinCap from "./GrowWithinCap"

/** The action kind. */
export const KIND = "cloud.gcp.resizeDisk"

/** The params. */
export const Params = Schema.Struct({
  project: Schema.String,
  zone: Schema.String,
  disk: Schema.String,
  fromGb: Schema.Int,
  toGb: Schema.Int,
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
    precondition: { sizeGb: params.fromGb },
    idempotencyKey: `${KIND}:${params.project}/${params.zone}/${params.disk}:${params.toGb}`,
    timeoutMs: 300_000,
    description: `grow GCP disk ${params.project}/${params.zone}/${params.disk} from ${params.fromGb} to ${params.toGb} GB`
  })

/** Options of the kind. */
export interface Options {
  /** Between two resizes of one disk (default 6 hours). */
  readonly cooldown?: Duration.Input | undefined
  /** How often the zone operation is polled (default 2 s) and for how long (default 4 minutes). */
  readonly pollEvery?: Duration.Input | undefined
  readonly pollUpTo?: Duration.Input | undefined
}

const ref = (params: Readonly<Record<string, unknown>>) => ({ project: String(params["project"]), zone: String(params["zone"]), disk: String(params["disk"]) })

/** Never shrinks, never above the cap: the new size against the disk's live size. */
export const growsWithinCap: Guardrail.Guardrail<GcpCompute> = GrowWithinCap.make({
  sizeParam: "toGb",
  unit: "GB",
  name: (p) => `disk ${ref(p).disk}`,
  read: (p) => Effect.gen(function*() {
    return (yield* (yield* GcpCompute).getDisk(ref(p)))?.sizeGb
  })
})

/** The guardrails of the kind. */
export const guardrails = (o: Options = {}): ReadonlyArray<Guardrail.Guardrail<GcpCompute>> => [
  growsWithinCap,
  Guardrail.cooldown({ name: "one_resize_per_disk_6h", key: (ctx) => { const r = ref(ctx.action.params); return `${KIND}:${r.project}/${r.zone}/${r.disk}` }, duration: o.cooldown ?? "6 hours" })
]

/** The handler. */
export const make = (o: Options = {}): ActionHandler.ActionHandler<GcpCompute> =>
  ActionHandler.make({
    kind: KIND,
    params: Params,
    guardrails: guardrails(o),
    apply: (p, ctx) =>
      Effect.gen(function*(): Effect.fn.Return<ActionHandler.HandlerResult, ActionHandler.ActionFailed, GcpCompute> {
        const gcp = yield* GcpCompute
        const fail = (message: string, conflict = false) => new ActionHandler.ActionFailed({ kind: KIND, message, conflict })
        const d = yield* gcp.getDisk(p).pipe(Effect.mapError((e) => fail(e.message)))
        if (d === undefined) return yield* fail(`disk ${p.disk} does not exist`, true)
        if (d.sizeGb !== p.fromGb) return yield* fail(`disk ${p.disk} is ${d.sizeGb} GB, planned from ${p.fromGb}`, true)
        if (ctx.dryRun) return { detail: `would resize ${p.disk} to ${p.toGb} GB (Compute Engine has no dry run: nothing sent)`, result: { disk: p.disk, toGb: p.toGb, dryRun: true } }
        const op = yield* gcp.resize(p, p.toGb).pipe(Effect.mapError((e) => fail(`${e.reason ?? e.status}: ${e.message}`)))
        const done = yield* gcp.getOperation(p.project, p.zone, op.name).pipe(
          Effect.mapError((e) => fail(e.message)),
          Effect.repeat({ schedule: Schedule.spaced(o.pollEvery ?? "2 seconds"), until: (x) => x.status === "DONE" }),
          Effect.timeoutOrElse({ duration: o.pollUpTo ?? "4 minutes", orElse: () => Effect.fail(fail(`operation ${op.name} not DONE in time`)) })
        )
        if (done.error !== undefined) return yield* fail(`operation ${op.name} failed: ${done.error.errors.map((e) => e.message ?? e.code).join("; ")}`)
        return { detail: `resized ${p.disk} ${p.fromGb} → ${p.toGb} GB (operation ${op.name} DONE)`, result: { disk: p.disk, toGb: p.toGb, operation: op.name } }
      }),
    observe: (p) =>
      Effect.gen(function*() {
        const d = yield* (yield* GcpCompute).getDisk(p)
        if (d === undefined) return ActionHandler.unknown(`disk ${p.disk} is gone`)
        return d.sizeGb >= p.toGb ? ActionHandler.applied(`disk is ${d.sizeGb} GB`) : d.sizeGb === p.fromGb ? ActionHandler.notApplied(`disk is still ${d.sizeGb} GB`) : ActionHandler.unknown(`disk is ${d.sizeGb} GB`)
      })
  })
