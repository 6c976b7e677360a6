/**
 * EC2 and Auto Scaling as BytePort reads and changes them: the official `@aws-sdk/client-ec2` and
 * `@aws-sdk/client-auto-scaling` behind one `Context.Service`, each call narrowed to the fields
 * the cloud action kinds use and its failure typed (`AwsError`: the AWS error code, the HTTP
 * status, the operation). Credentials come from the SDK's default provider chain unless given;
 * they never reach a log, an error or a report.
 *
 * Permissions the action kinds need: `ec2:DescribeInstances`, `ec2:TerminateInstances` (DryRun
 * only: dry_run's permission check), `autoscaling:DescribeAutoScalingInstances`,
 * `autoscaling:DescribeAutoScalingGroups`, `autoscaling:TerminateInstanceInAutoScalingGroup`,
 * `ec2:DescribeVolumes`, `ec2:ModifyVolume`, `ec2:DescribeVolumesModifications`.
 *
 * @example
 * ```ts no-run
 * import { Ec2 } from "@byteport/cloud"
 * const layer = Ec2.layer({ region: "eu-west-1" })
 * ```
 *
 * @since 0.1.0
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand
} from "@aws-sdk/client-auto-scaling"
import {
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DescribeVolumesModificationsCommand,
  EC2Client,
  ModifyVolumeCommand,
  TerminateInstancesCommand
} from "@aws-sdk/client-ec2"
import { Config, Context, Effect, Layer, Option, Redacted, Schema } from "effect"

/** An EC2 or Auto Scaling call failed. */
export class AwsError extends Schema.TaggedError<AwsError>()("AwsError", {
  operation: Schema.String,
  /** The AWS error code (`InvalidInstanceID.NotFound`, `UnauthorizedOperation`, …; `NetworkError` without a response). */
  code: Schema.String,
  /** HTTP status (0: no response). */
  status: Schema.Number,
  message: Schema.String
}) {}

/** An instance, as BytePort reads it. */
export interface Instance {
  readonly instanceId: string
  /** `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`. */
  readonly state: string
  readonly availabilityZone: string
  readonly privateDnsName: string
  readonly tags: Readonly<Record<string, string>>
}

/** An Auto Scaling group, as BytePort reads it. */
export interface Group {
  readonly name: string
  readonly desired: number
  /** Its members: id and lifecycle state (`Pending`, `InService`, `Terminating`, …). */
  readonly instances: ReadonlyArray<{ readonly instanceId: string; readonly lifecycleState: string }>
}

/** An EBS volume's size and zone. */
export interface Volume {
  readonly volumeId: string
  readonly sizeGiB: number
  readonly availabilityZone: string
}

/** The newest modification of a volume (`modifying`, `optimizing`, `completed`, `failed`). */
export interface VolumeModification {
  readonly volumeId: string
  readonly state: string
  readonly targetSize: number
  readonly originalSize: number
  readonly startTime?: number | undefined
}

/** The service's shape. */
export interface Shape {
  /** The instance, or undefined when EC2 does not know it. */
  readonly describeInstance: (instanceId: string) => Effect.Effect<Instance | undefined, AwsError>
  /** The instance's Auto Scaling group, or undefined when it belongs to none. */
  readonly groupOf: (instanceId: string) => Effect.Effect<{ readonly group: string; readonly lifecycleState: string } | undefined, AwsError>
  readonly describeGroup: (name: string) => Effect.Effect<Group | undefined, AwsError>
  /** TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity=false: the group replaces it. */
  readonly terminateInGroup: (instanceId: string) => Effect.Effect<{ readonly activityId: string }, AwsError>
  /** TerminateInstances with DryRun=true: succeeds when EC2 answers DryRunOperation (allowed), else fails. */
  readonly dryRunTerminate: (instanceId: string) => Effect.Effect<void, AwsError>
  readonly describeVolume: (volumeId: string) => Effect.Effect<Volume | undefined, AwsError>
  /** ModifyVolume to `sizeGiB`; with `dryRun`, DryRun=true (DryRunOperation is success). */
  readonly modifyVolume: (volumeId: string, sizeGiB: number, dryRun: boolean) => Effect.Effect<VolumeModification | undefined, AwsError>
  readonly volumeModification: (volumeId: string) => Effect.Effect<VolumeModification | undefined, AwsError>
}

/** EC2 and Auto Scaling. */
export class Ec2 extends Context.Service<Ec2, Shape>()("@byteport/cloud/Ec2") {}

/** Options of {@link make}. */
export interface Options {
  readonly region: string
  /** An endpoint for both clients (tests: the fake's). Default: AWS's regional endpoints. */
  readonly endpoint?: string | undefined
  /** Static credentials; default: the SDK's provider chain (environment, profile, IMDS, …). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: Redacted.Redacted<string> } | undefined
}

const errorOf = (operation: string, e: unknown): AwsError => {
  const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } }
  return new AwsError({
    operation,
    code: err.Code ?? err.name ?? "Error",
    status: err.$metadata?.httpStatusCode ?? 0,
    message: String(err.message ?? e).slice(0, 500)
  })
}

const NOT_FOUND = new Set(["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed", "InvalidVolume.NotFound", "InvalidVolumeID.Malformed"])

/** Builds the service from the official clients. */
export const make = (options: Options): Shape => {
  const common = {
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined
      ? { credentials: { accessKeyId: options.credentials.accessKeyId, secretAccessKey: Redacted.value(options.credentials.secretAccessKey) } }
      : {}),
    maxAttempts: 3
  }
  const ec2 = new EC2Client(common)
  const asg = new AutoScalingClient(common)
  const call = <A>(operation: string, f: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: (signal) => f(signal), catch: (e) => errorOf(operation, e) })
  const orUndefined = <A>(eff: Effect.Effect<A, AwsError>) =>
    eff.pipe(Effect.catchIf((e) => NOT_FOUND.has(e.code), () => Effect.succeed(undefined)))
  const modificationOf = (m: { VolumeId?: string | undefined; ModificationState?: string | undefined; TargetSize?: number | undefined; OriginalSize?: number | undefined; StartTime?: Date | undefined } | undefined): VolumeModification | undefined =>
    m === undefined || m.VolumeId === undefined
      ? undefined
      : { volumeId: m.VolumeId, state: m.ModificationState ?? "unknown", targetSize: m.TargetSize ?? 0, originalSize: m.OriginalSize ?? 0, startTime: m.StartTime?.getTime() }

  return {
    describeInstance: (instanceId) =>
      orUndefined(
        call("DescribeInstances", (abortSignal) => ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal })).pipe(
          Effect.map((out) => {
            const i = out.Reservations?.flatMap((r) => r.Instances ?? []).find((x) => x.InstanceId === instanceId)
            if (i === undefined) return undefined
            return {
              instanceId,
              state: i.State?.Name ?? "unknown",
              availabilityZone: i.Placement?.AvailabilityZone ?? "",
              privateDnsName: i.PrivateDnsName ?? "",
              tags: Object.fromEntries((i.Tags ?? []).flatMap((t) => (t.Key !== undefined ? [[t.Key, t.Value ?? ""]] : [])))
            }
          })
        )
      ),
    groupOf: (instanceId) =>
      call("DescribeAutoScalingInstances", (abortSignal) => asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal })).pipe(
        Effect.map((out) => {
          const m = out.AutoScalingInstances?.find((x) => x.InstanceId === instanceId)
          return m?.AutoScalingGroupName !== undefined ? { group: m.AutoScalingGroupName, lifecycleState: m.LifecycleState ?? "unknown" } : undefined
        })
      ),
    describeGroup: (name) =>
      call("DescribeAutoScalingGroups", (abortSignal) => asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }), { abortSignal })).pipe(
        Effect.map((out) => {
          const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name)
          if (g === undefined) return undefined
          return {
            name,
            desired: g.DesiredCapacity ?? 0,
            instances: (g.Instances ?? []).flatMap((i) => (i.InstanceId !== undefined ? [{ instanceId: i.InstanceId, lifecycleState: i.LifecycleState ?? "unknown" }] : []))
          }
        })
      ),
    terminateInGroup: (instanceId) =>
      call("TerminateInstanceInAutoScalingGroup", (abortSignal) =>
        asg.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: false }), { abortSignal })
      ).pipe(Effect.map((out) => ({ activityId: out.Activity?.ActivityId ?? "" }))),
    dryRunTerminate: (instanceId) =>
      call("TerminateInstances", (abortSignal) => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId], DryRun: true }), { abortSignal })).pipe(
        Effect.flatMap(() => Effect.fail(new AwsError({ operation: "TerminateInstances", code: "DryRunIgnored", status: 200, message: "EC2 answered a DryRun request without DryRunOperation" }))),
        Effect.catchIf((e) => e.code === "DryRunOperation", () => Effect.void)
      ),
    describeVolume: (volumeId) =>
      orUndefined(
        call("DescribeVolumes", (abortSignal) => ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }), { abortSignal })).pipe(
          Effect.map((out) => {
            const v = out.Volumes?.find((x) => x.VolumeId === volumeId)
            return v === undefined ? undefined : { volumeId, sizeGiB: v.Size ?? 0, availabilityZone: v.AvailabilityZone ?? "" }
          })
        )
      ),
    modifyVolume: (volumeId, sizeGiB, dryRun) =>
      call("ModifyVolume", (abortSignal) => ec2.send(new ModifyVolumeCommand({ VolumeId: volumeId, Size: sizeGiB, DryRun: dryRun }), { abortSignal })).pipe(
        Effect.map((out) => modificationOf(out.VolumeModification)),
        Effect.catchIf((e) => dryRun && e.code === "DryRunOperation", () => Effect.succeed(undefined))
      ),
    volumeModification: (volumeId) =>
      orUndefined(
        call("DescribeVolumesModifications", (abortSignal) => ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [volumeId] }), { abortSignal })).pipe(
          Effect.map((out) => {
            const all = (out.VolumesModifications ?? []).filter((m) => m.VolumeId === volumeId)
            const newest = all.sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0))[0]
            return modificationOf(newest)
          })
        )
      )
  }
}

/** The service from options. */
export const layer = (options: Options): Layer.Layer<Ec2> => Layer.sync(Ec2, () => make(options))

/** The region's configuration key. */
export const REGION_KEY = "BYTEPORT_AWS_REGION"
/** An endpoint override's configuration key (tests, VPC endpoints). */
export const ENDPOINT_KEY = "BYTEPORT_AWS_ENDPOINT"

/** The service from configuration (`BYTEPORT_AWS_REGION`, optional `BYTEPORT_AWS_ENDPOINT`; credentials from the SDK chain). */
export const layerConfig: Layer.Layer<Ec2, Config.ConfigError> = Layer.effect(
  Ec2,
  Effect.gen(function*() {
    const region = yield* Config.String(REGION_KEY)
    const endpoint = yield* Config.option(Config.String(ENDPOINT_KEY))
    return make({ region, endpoint: Option.getOrUndefined(endpoint) })
  })
)
