/**
 * `cloud.handoff.volume-grow`: the owner of core's *volume grow requested* hand-off
 * (`HandOffs.VolumeGrowRequested`, sent by `host.disk.reclaim` as its last, opt-in step) for EBS
 * volumes and Compute Engine zonal persistent disks. The host grows the filesystem once this
 * runbook reports the volume grown.
 *
 * - Detect: the hand-off signal (target `host.volume`, ref the volume id: `vol-…` for EBS, the
 *   disk name for Compute Engine; evidence: capacity and requested bytes).
 * - Diagnose: the volume's live size (DescribeVolumes, or disks.get in the configured project and
 *   zone).
 * - Classify (first match): `ebs_volume` (0.95), `gcp_disk` (0.95).
 * - Remediate: one `cloud.ebs.modifyVolume` or `cloud.gcp.resizeDisk` to the requested size in
 *   whole GiB (the host asks +25 %), capped at `maxVolumeGb` (`policy.maxVolumeGb`, default
 *   1000); at the cap, or not above the live size → escalate (never shrinks). The kinds'
 *   guardrails hold whoever plans them: 6 h between modifications of a volume.
 * - Verify (every 15 s up to 10 min by default): EBS modification `optimizing` or `completed` at
 *   the new size; the Compute Engine disk at the new size.
 *
 * @since 0.1.0
 */
import { type ActionHandler, Classifier, Diagnoser, Fact, HandOffs, Plan, Runbook, type Signal, Verifier } from "@byteport/core"
import { type Duration, Effect } from "effect"
import * as ModifyEbsVolume from "../actions/ModifyEbsVolume"
import * as ResizeGcpDisk from "../actions/ResizeGcpDisk"
import { Ec2 } from "../aws/Ec2"
import { GcpCompute } from "../gcp/GcpCompute"

/** The runbook id. */
export const RUNBOOK_ID = "cloud.handoff.volume-grow"

/** The hand-off signal type this runbook owns (defined in core). */
export const SIGNAL_TYPE = HandOffs.VolumeGrowRequested.type

/** The default `policy.maxVolumeGb` (GiB), as host.disk.reclaim's. */
export const DEFAULT_MAX_VOLUME_GB = 1000

const GiB = 1024 ** 3

/** The volume as read from its cloud. */
export type VolumeFacts =
  | { readonly provider: "ebs"; readonly volumeId: string; readonly sizeGiB: number; readonly availabilityZone: string }
  | { readonly provider: "gcp"; readonly project: string; readonly zone: string; readonly disk: string; readonly sizeGiB: number }

/** The runbook's facts. */
export interface Facts {
  readonly request: HandOffs.Evidence<typeof HandOffs.VolumeGrowRequested>
  readonly volume: VolumeFacts
}

/** Options of the runbook. */
export interface Options {
  /** `policy.maxVolumeGb` (default 1000). */
  readonly maxVolumeGb?: number
  /** Compute Engine: the project and zone of the disks this agent grows (none: EBS only). */
  readonly gcp?: { readonly project: string; readonly zone: string } | undefined
  /** The mode when configuration says nothing (default `dry_run`). */
  readonly defaultMode?: Runbook.Runbook["defaultMode"]
  /** When to verify (default: every 15 s up to 10 minutes). */
  readonly verifySchedule?: Verifier.VerifySchedule
  /** How long the volume stays leased after an incident (default 10 minutes). */
  readonly cooldown?: Duration.Input
}

/** Pure: whether a volume id is an EBS volume's. */
export const isEbsVolumeId = (id: string): boolean => /^vol-[0-9a-f]{8,17}$/.test(id)

/** Pure: the new size in whole GiB: the request rounded up, capped; undefined when that does not grow the volume. */
export const targetGiB = (requestedBytes: number, currentGiB: number, maxVolumeGb: number): number | undefined => {
  const want = Math.min(Math.ceil(requestedBytes / GiB), maxVolumeGb)
  return want > currentGiB ? want : undefined
}

/** The probe: the volume's live size from its cloud. */
export const volumeProbe = (o: Options) =>
  Diagnoser.probe("volume", (signal: Signal.Signal) =>
    Effect.gen(function*(): Effect.fn.Return<VolumeFacts, Error, Ec2 | GcpCompute> {
      const id = signal.target.ref
      if (isEbsVolumeId(id)) {
        const v = yield* (yield* Ec2).describeVolume(id)
        if (v === undefined) return yield* Effect.fail(new Error(`EBS volume ${id} does not exist`))
        return { provider: "ebs", volumeId: id, sizeGiB: v.sizeGiB, availabilityZone: v.availabilityZone }
      }
      if (o.gcp === undefined) return yield* Effect.fail(new Error(`volume ${id} is not an EBS volume and no Compute Engine project/zone is configured`))
      const d = yield* (yield* GcpCompute).getDisk({ ...o.gcp, disk: id })
      if (d === undefined) return yield* Effect.fail(new Error(`disk ${id} does not exist in ${o.gcp.project}/${o.gcp.zone}`))
      return { provider: "gcp", project: o.gcp.project, zone: o.gcp.zone, disk: id, sizeGiB: d.sizeGb }
    }))

/** The classifier (first match). */
export const classify = Classifier.firstMatch<Facts>([
  Classifier.rule<Facts>()({
    class: "ebs_volume",
    confidence: 0.95,
    needs: ["volume", "request"],
    when: (f) => ({ matched: f.volume.provider === "ebs", reasons: [`EBS volume of ${f.volume.sizeGiB} GiB`] })
  }),
  Classifier.rule<Facts>()({
    class: "gcp_disk",
    confidence: 0.95,
    needs: ["volume", "request"],
    when: (f) => ({ matched: f.volume.provider === "gcp", reasons: [`Compute Engine disk of ${f.volume.sizeGiB} GB`] })
  })
])

/** The plan for a class. */
export const plan = (cls: string, facts: Fact.Facts<Facts>, signal: Signal.Signal, o: Options): Plan.Plan => {
  const v = Fact.value(facts.volume)!
  const r = Fact.value(facts.request)!
  const cap = o.maxVolumeGb ?? DEFAULT_MAX_VOLUME_GB
  const to = targetGiB(r.requestedBytes, v.sizeGiB, cap)
  const name = v.provider === "ebs" ? v.volumeId : `${v.project}/${v.zone}/${v.disk}`
  if (to === undefined) {
    return Plan.make(
      RUNBOOK_ID,
      cls,
      `${name} cannot grow`,
      Plan.escalate(`${name} is ${v.sizeGiB} GiB; the request (${Math.ceil(r.requestedBytes / GiB)} GiB) capped at policy.maxVolumeGb ${cap} does not grow it (never shrinks)`, [
        `raise policy.maxVolumeGb above ${cap} or free space on the volume`,
        r.reason
      ])
    )
  }
  const step = v.provider === "ebs"
    ? Plan.act(ModifyEbsVolume.action(signal.target, { volumeId: v.volumeId, fromGiB: v.sizeGiB, toGiB: to, maxVolumeGb: cap }))
    : Plan.act(ResizeGcpDisk.action(signal.target, { project: v.project, zone: v.zone, disk: v.disk, fromGb: v.sizeGiB, toGb: to, maxVolumeGb: cap }))
  return Plan.make(RUNBOOK_ID, cls, `grow ${name} from ${v.sizeGiB} to ${to} GiB`, step)
}

/** The checks: the volume at its new size (EBS: modification optimizing or completed). */
export const verify = Verifier.fromChecks<Facts, Ec2 | GcpCompute>((ctx) =>
  Effect.gen(function*() {
    const v = Fact.value(ctx.facts.volume)!
    const to = ctx.outcomes.flatMap((o) => (o.status === "applied" && typeof o.result?.["toGiB"] === "number" ? [o.result["toGiB"]] : typeof o.result?.["toGb"] === "number" ? [o.result["toGb"]] : []))[0]
    if (v.provider === "ebs") {
      const m = yield* (yield* Ec2).volumeModification(v.volumeId)
      return [{ name: "EBS modification optimizing or completed at the new size", ok: m !== undefined && m.targetSize === to && ModifyEbsVolume.isDone(m.state), detail: m ? `${m.state} → ${m.targetSize} GiB` : "no modification" }]
    }
    const d = yield* (yield* GcpCompute).getDisk(v)
    return [{ name: "disk at the new size", ok: d !== undefined && to !== undefined && d.sizeGb >= to, detail: `${d?.sizeGb ?? "?"} GB (want ${to ?? "?"})` }]
  }).pipe(Effect.orElseSucceed(() => [{ name: "volume readable", ok: false, detail: "could not read the volume" }]))
)

/** The services the runbook needs (a `GcpCompute` layer that is never called costs nothing). */
export type Services = Ec2 | GcpCompute

/** The `cloud.handoff.volume-grow` runbook. */
export const make = (options: Options = {}): Runbook.Runbook<Facts, Services> =>
  Runbook.make<Facts, Services>({
    id: RUNBOOK_ID,
    family: "cloud.volume",
    description: "Grows an EBS volume or a Compute Engine disk, requested by host.disk.reclaim",
    signals: [SIGNAL_TYPE],
    precedence: 50,
    diagnose: Diagnoser.make<Facts, Services>({ request: HandOffs.probe(HandOffs.VolumeGrowRequested), volume: volumeProbe(options) }),
    classify,
    remediate: (c, facts, signal) => Effect.sync(() => plan(c.class, facts, signal, options)),
    verify,
    verifySchedule: options.verifySchedule ?? Verifier.every("15 seconds", "10 minutes"),
    nextSteps: (c) => (c._tag === "Classified" ? [`class ${c.class}`] : ["the volume is neither an EBS volume nor a disk in the configured Compute Engine project and zone"]),
    defaultMode: options.defaultMode ?? "dry_run",
    cooldown: options.cooldown ?? "10 minutes"
  })

/** The handlers of the runbook's action kinds. */
export const handlers = (o: { readonly ebs?: ModifyEbsVolume.Options; readonly gcp?: ResizeGcpDisk.Options } = {}): ReadonlyArray<ActionHandler.ActionHandler<Services>> => [ModifyEbsVolume.make(o.ebs), ResizeGcpDisk.make(o.gcp)]
