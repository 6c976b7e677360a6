/**
 * A loopback fake of the EC2 and Auto Scaling Query APIs in their real wire shapes, so
 * `@aws-sdk/client-ec2` (the `ec2` protocol: form-encoded `Action=…&Version=2016-11-15`, XML
 * responses in the `http://ec2.amazonaws.com/doc/2016-11-15/` namespace, errors as
 * `<Response><Errors><Error><Code>`) and `@aws-sdk/client-auto-scaling` (the `awsQuery` protocol:
 * `Version=2011-01-01`, `<…Response><…Result>` bodies, errors as `<ErrorResponse><Error>`) run
 * unmodified but for `endpoint`. Both clients may share the fake's one endpoint: it routes by
 * `Version`.
 *
 * Operations: EC2 DescribeInstances, TerminateInstances, DescribeVolumes, ModifyVolume,
 * DescribeVolumesModifications; Auto Scaling DescribeAutoScalingInstances,
 * DescribeAutoScalingGroups, TerminateInstanceInAutoScalingGroup. Every EC2 mutation honours
 * `DryRun=true` as EC2 does: HTTP 412 `DryRunOperation` ("Request would have succeeded, but DryRun
 * flag is set.") and no change.
 *
 * State moves by cause and effect on the fake's clock (`now`, default `Date.now`): a terminated
 * instance is `shutting-down` for `terminateMillis`, then `terminated`; an Auto Scaling group whose
 * member was terminated without decrementing launches a replacement (`Pending` for
 * `launchMillis`, then `InService`, EC2 `pending` → `running`); a modified volume is `modifying`
 * for `modifyMillis`, `optimizing` for `optimizeMillis`, then `completed`. A second ModifyVolume of
 * a volume within 6 hours of the last fails `VolumeModificationRateExceeded` as EC2 does; a
 * smaller size fails `InvalidParameterValue`.
 *
 * Left out: request signatures and IAM (every request is allowed unless `deny` names its action:
 * then `UnauthorizedOperation` / `AccessDenied`), filters other than ids, pagination tokens,
 * lifecycle hooks, instance protection, warm pools, volume types and IOPS changes, multi-attach.
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/** An EC2 instance's state name. */
export type InstanceState = "pending" | "running" | "shutting-down" | "terminated" | "stopped"

/** One instance the fake holds. */
export interface FakeInstance {
  readonly instanceId: string
  readonly availabilityZone: string
  readonly privateDnsName: string
  state: InstanceState
  /** When the current state began (fake clock, ms). */
  since: number
  readonly tags: Record<string, string>
  /** The Auto Scaling group it belongs to, if any. */
  readonly group?: string | undefined
}

/** One Auto Scaling group. */
export interface FakeGroup {
  readonly name: string
  desired: number
  readonly min: number
  readonly max: number
  readonly availabilityZones: ReadonlyArray<string>
}

/** One EBS volume. */
export interface FakeVolume {
  readonly volumeId: string
  sizeGiB: number
  readonly availabilityZone: string
  readonly attachedTo?: string | undefined
  /** The last modification (EC2 keeps it for DescribeVolumesModifications). */
  modification?: { readonly originalSize: number; readonly targetSize: number; readonly startedAt: number } | undefined
}

/** A request the fake received: the service (ec2 / autoscaling), the action and its parameters. */
export interface Received {
  readonly service: "ec2" | "autoscaling"
  readonly action: string
  readonly params: Readonly<Record<string, string>>
  /** Whether it was a DryRun request. */
  readonly dryRun: boolean
}

/** Options of `start`. */
export interface Options {
  /** The clock (epoch ms; default Date.now). */
  readonly now?: () => number
  /** How long a terminated instance stays `shutting-down` (default 0: terminated at once). */
  readonly terminateMillis?: number
  /** How long a replacement stays `Pending` (default 0). */
  readonly launchMillis?: number
  /** How long a modification stays `modifying`, then `optimizing` (defaults 0 and 0). */
  readonly modifyMillis?: number
  readonly optimizeMillis?: number
  /** Actions refused as IAM would (`UnauthorizedOperation` / `AccessDenied`). */
  readonly deny?: ReadonlyArray<string>
}

/** A running fake. */
export interface AwsComputeFake {
  /** `http://127.0.0.1:PORT` (both clients' `endpoint`). */
  readonly endpoint: string
  /** Requests received so far, in order. */
  readonly requests: () => ReadonlyArray<Received>
  /** The requests that changed state (no DryRun, a mutating action, answered 200). */
  readonly writes: () => ReadonlyArray<Received>
  /** Adds an Auto Scaling group with `size` running InService members; returns their ids. */
  readonly addGroup: (o: { readonly name: string; readonly size: number; readonly availabilityZone?: string; readonly min?: number; readonly max?: number }) => ReadonlyArray<string>
  /** Adds a standalone running instance; returns its id. */
  readonly addInstance: (o?: { readonly availabilityZone?: string; readonly tags?: Record<string, string> }) => string
  /** Adds an EBS volume; returns its id. */
  readonly addVolume: (o: { readonly sizeGiB: number; readonly availabilityZone?: string; readonly attachedTo?: string }) => string
  /** Live state (after the clock's transitions). */
  readonly instance: (id: string) => FakeInstance | undefined
  readonly group: (name: string) => FakeGroup | undefined
  readonly volume: (id: string) => FakeVolume | undefined
  /** The group's members, in launch order. */
  readonly members: (group: string) => ReadonlyArray<FakeInstance>
  readonly close: () => Promise<void>
}

const EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
const ASG_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
const SIX_HOURS = 6 * 3_600_000

const MUTATING = new Set(["TerminateInstances", "ModifyVolume", "TerminateInstanceInAutoScalingGroup"])

class FakeError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message)
  }
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** A tiny XML writer: `el("a", el("b", "text"))`; arrays are concatenated; undefined drops the element. */
const el = (name: string, ...children: ReadonlyArray<string | number | boolean | undefined | ReadonlyArray<string>>): string => {
  const body = children.map((c) => (Array.isArray(c) ? c.join("") : typeof c === "string" && c.startsWith("<") ? c : c === undefined ? "" : esc(String(c)))).join("")
  return `<${name}>${body}</${name}>`
}

/** The ids of a Query API list parameter (`InstanceId.1`, `InstanceIds.member.1`, …), in order. */
const listParam = (params: Record<string, string>, prefix: string): Array<string> =>
  Object.keys(params)
    .filter((k) => k.startsWith(`${prefix}.`) && /\.\d+$/.test(k))
    .sort((a, b) => Number(a.slice(a.lastIndexOf(".") + 1)) - Number(b.slice(b.lastIndexOf(".") + 1)))
    .map((k) => params[k]!)

const STATE_CODES: Record<InstanceState, number> = { pending: 0, running: 16, "shutting-down": 32, terminated: 48, stopped: 80 }

/** Starts the fake on 127.0.0.1 (a free port). */
export const start = async (options: Options = {}): Promise<AwsComputeFake> => {
  const now = options.now ?? Date.now
  const terminateMs = options.terminateMillis ?? 0
  const launchMs = options.launchMillis ?? 0
  const modifyMs = options.modifyMillis ?? 0
  const optimizeMs = options.optimizeMillis ?? 0
  const deny = new Set(options.deny ?? [])
  const instances = new Map<string, FakeInstance>()
  const groups = new Map<string, FakeGroup>()
  const volumes = new Map<string, FakeVolume>()
  const received: Array<Received> = []
  const written: Array<Received> = []
  const newId = (prefix: string) => `${prefix}-${crypto.randomBytes(8).toString("hex").slice(0, 17)}`
  let ip = 10

  const launch = (az: string, group?: string, tags: Record<string, string> = {}, state: InstanceState = "running"): FakeInstance => {
    const i: FakeInstance = {
      instanceId: newId("i"),
      availabilityZone: az,
      privateDnsName: `ip-10-0-0-${ip++}.ec2.internal`,
      state,
      since: now(),
      tags: { ...tags, ...(group !== undefined ? { "aws:autoscaling:groupName": group } : {}) },
      group
    }
    instances.set(i.instanceId, i)
    return i
  }

  /** The clock's transitions, evaluated at every request and read. */
  const settle = () => {
    const t = now()
    for (const i of instances.values()) {
      if (i.state === "shutting-down" && t - i.since >= terminateMs) {
        i.state = "terminated"
        i.since = i.since + terminateMs
      }
      if (i.state === "pending" && t - i.since >= launchMs) {
        i.state = "running"
        i.since = i.since + launchMs
      }
    }
  }

  const lifecycle = (i: FakeInstance): string =>
    i.state === "pending" ? "Pending" : i.state === "running" ? "InService" : i.state === "shutting-down" ? "Terminating" : "Terminated"

  const modificationState = (m: NonNullable<FakeVolume["modification"]>): { readonly state: string; readonly progress: number } => {
    const age = now() - m.startedAt
    if (age < modifyMs) return { state: "modifying", progress: 10 }
    if (age < modifyMs + optimizeMs) return { state: "optimizing", progress: 50 }
    return { state: "completed", progress: 100 }
  }

  const iso = (ms: number) => new Date(ms).toISOString()

  const instanceXml = (i: FakeInstance) =>
    el(
      "item",
      el("instanceId", i.instanceId),
      el("imageId", "ami-0abcdef1234567890"),
      el("instanceState", el("code", STATE_CODES[i.state]), el("name", i.state)),
      el("privateDnsName", i.state === "terminated" ? "" : i.privateDnsName),
      el("instanceType", "m6i.large"),
      el("launchTime", iso(i.since)),
      el("placement", el("availabilityZone", i.availabilityZone), el("tenancy", "default")),
      el("tagSet", Object.entries(i.tags).map(([k, v]) => el("item", el("key", k), el("value", v))))
    )

  const modificationXml = (v: FakeVolume) => {
    const m = v.modification!
    const s = modificationState(m)
    return el(
      "item",
      el("volumeId", v.volumeId),
      el("modificationState", s.state),
      el("targetSize", m.targetSize),
      el("targetIops", 3000),
      el("targetVolumeType", "gp3"),
      el("originalSize", m.originalSize),
      el("originalIops", 3000),
      el("originalVolumeType", "gp3"),
      el("progress", s.progress),
      el("startTime", iso(m.startedAt)),
      s.state === "completed" ? el("endTime", iso(m.startedAt + modifyMs + optimizeMs)) : undefined
    )
  }

  const volumeFor = (id: string | undefined): FakeVolume => {
    const v = id !== undefined ? volumes.get(id) : undefined
    if (v === undefined) throw new FakeError("InvalidVolume.NotFound", `The volume '${id ?? ""}' does not exist.`)
    return v
  }

  const ec2: Record<string, (p: Record<string, string>) => string> = {
    DescribeInstances: (p) => {
      const ids = listParam(p, "InstanceId")
      for (const id of ids) if (!instances.has(id)) throw new FakeError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`)
      const list = ids.length > 0 ? ids.map((id) => instances.get(id)!) : [...instances.values()]
      return el(
        "reservationSet",
        list.map((i) => el("item", el("reservationId", `r-${i.instanceId.slice(2)}`), el("ownerId", "123456789012"), el("instancesSet", instanceXml(i))))
      )
    },
    TerminateInstances: (p) => {
      const ids = listParam(p, "InstanceId")
      if (ids.length === 0) throw new FakeError("MissingParameter", "The request must contain the parameter InstanceId")
      const list = ids.map((id) => {
        const i = instances.get(id)
        if (i === undefined) throw new FakeError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`)
        return i
      })
      if (p["DryRun"] === "true") throw new FakeError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
      return el(
        "instancesSet",
        list.map((i) => {
          const before = i.state
          if (i.state !== "terminated" && i.state !== "shutting-down") {
            i.state = "shutting-down"
            i.since = now()
          }
          return el("item", el("instanceId", i.instanceId), el("currentState", el("code", STATE_CODES[i.state]), el("name", i.state)), el("previousState", el("code", STATE_CODES[before]), el("name", before)))
        })
      )
    },
    DescribeVolumes: (p) => {
      const ids = listParam(p, "VolumeId")
      const list = ids.length > 0 ? ids.map((id) => volumeFor(id)) : [...volumes.values()]
      return el(
        "volumeSet",
        list.map((v) =>
          el(
            "item",
            el("volumeId", v.volumeId),
            el("size", v.sizeGiB),
            el("availabilityZone", v.availabilityZone),
            el("status", v.attachedTo !== undefined ? "in-use" : "available"),
            el("createTime", iso(0)),
            el("volumeType", "gp3"),
            el("iops", 3000),
            el("encrypted", false),
            el("attachmentSet", v.attachedTo !== undefined ? el("item", el("volumeId", v.volumeId), el("instanceId", v.attachedTo), el("device", "/dev/xvda"), el("status", "attached")) : undefined)
          )
        )
      )
    },
    ModifyVolume: (p) => {
      const v = volumeFor(p["VolumeId"])
      const size = p["Size"] !== undefined ? Number(p["Size"]) : undefined
      if (size !== undefined && (!Number.isInteger(size) || size < v.sizeGiB)) {
        throw new FakeError("InvalidParameterValue", `New size cannot be smaller than existing size: ${v.sizeGiB} GiB`)
      }
      if (size === v.sizeGiB) throw new FakeError("InvalidParameterCombination", "New size must differ from the existing size.")
      if (v.modification !== undefined && now() - v.modification.startedAt < SIX_HOURS) {
        throw new FakeError("VolumeModificationRateExceeded", "You've reached the maximum modification rate per volume limit. Wait at least 6 hours between modifications per EBS volume.")
      }
      if (p["DryRun"] === "true") throw new FakeError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
      v.modification = { originalSize: v.sizeGiB, targetSize: size ?? v.sizeGiB, startedAt: now() }
      v.sizeGiB = size ?? v.sizeGiB
      return el("volumeModification", modificationXml(v).replace(/^<item>|<\/item>$/g, ""))
    },
    DescribeVolumesModifications: (p) => {
      const ids = listParam(p, "VolumeId")
      const list = (ids.length > 0 ? ids.map((id) => volumeFor(id)) : [...volumes.values()]).filter((v) => v.modification !== undefined)
      return el("volumeModificationSet", list.map(modificationXml))
    }
  }

  const asgInstanceXml = (i: FakeInstance) =>
    el(
      "member",
      el("InstanceId", i.instanceId),
      el("InstanceType", "m6i.large"),
      el("AvailabilityZone", i.availabilityZone),
      el("LifecycleState", lifecycle(i)),
      el("HealthStatus", "HEALTHY"),
      el("ProtectedFromScaleIn", false)
    )

  const membersOf = (g: string) => [...instances.values()].filter((i) => i.group === g && i.state !== "terminated")

  const asg: Record<string, (p: Record<string, string>) => string> = {
    DescribeAutoScalingInstances: (p) => {
      const ids = listParam(p, "InstanceIds.member")
      const list = (ids.length > 0 ? ids.flatMap((id) => (instances.has(id) ? [instances.get(id)!] : [])) : [...instances.values()]).filter(
        (i) => i.group !== undefined && i.state !== "terminated"
      )
      return el(
        "AutoScalingInstances",
        list.map((i) =>
          el(
            "member",
            el("InstanceId", i.instanceId),
            el("InstanceType", "m6i.large"),
            el("AutoScalingGroupName", i.group!),
            el("AvailabilityZone", i.availabilityZone),
            el("LifecycleState", lifecycle(i)),
            el("HealthStatus", "HEALTHY"),
            el("ProtectedFromScaleIn", false)
          )
        )
      )
    },
    DescribeAutoScalingGroups: (p) => {
      const names = listParam(p, "AutoScalingGroupNames.member")
      const list = names.length > 0 ? names.flatMap((n) => (groups.has(n) ? [groups.get(n)!] : [])) : [...groups.values()]
      return el(
        "AutoScalingGroups",
        list.map((g) =>
          el(
            "member",
            el("AutoScalingGroupName", g.name),
            el("AutoScalingGroupARN", `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:${crypto.createHash("sha1").update(g.name).digest("hex").slice(0, 8)}:autoScalingGroupName/${g.name}`),
            el("MinSize", g.min),
            el("MaxSize", g.max),
            el("DesiredCapacity", g.desired),
            el("DefaultCooldown", 300),
            el("AvailabilityZones", g.availabilityZones.map((z) => el("member", z))),
            el("HealthCheckType", "EC2"),
            el("HealthCheckGracePeriod", 300),
            el("Instances", membersOf(g.name).map(asgInstanceXml)),
            el("CreatedTime", iso(0))
          )
        )
      )
    },
    TerminateInstanceInAutoScalingGroup: (p) => {
      const i = instances.get(p["InstanceId"] ?? "")
      if (i === undefined || i.group === undefined || i.state === "terminated") throw new FakeError("ValidationError", `Instance Id not found - No managed instance found for instance ID: ${p["InstanceId"] ?? ""}`)
      const decrement = p["ShouldDecrementDesiredCapacity"]
      if (decrement !== "true" && decrement !== "false") throw new FakeError("ValidationError", "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
      const g = groups.get(i.group)!
      i.state = "shutting-down"
      i.since = now()
      if (decrement === "true") g.desired = Math.max(g.min, g.desired - 1)
      else launch(i.availabilityZone, g.name, {}, "pending")
      const activity = crypto.randomUUID()
      return el(
        "Activity",
        el("ActivityId", activity),
        el("AutoScalingGroupName", g.name),
        el("Description", `Terminating EC2 instance: ${i.instanceId}`),
        el("Cause", `At ${iso(now())} instance ${i.instanceId} was taken out of service in response to a user request${decrement === "true" ? ", shrinking the capacity" : ""}.`),
        el("StartTime", iso(now())),
        el("StatusCode", "InProgress"),
        el("Progress", 0)
      )
    }
  }

  const reply = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { "content-type": "text/xml;charset=UTF-8", "x-amzn-requestid": crypto.randomUUID() })
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`)
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")))
      const action = params["Action"] ?? ""
      const service = params["Version"] === "2011-01-01" ? "autoscaling" : "ec2"
      const entry: Received = { service, action, params, dryRun: params["DryRun"] === "true" }
      received.push(entry)
      const requestId = crypto.randomUUID()
      settle()
      try {
        if (deny.has(action)) {
          throw service === "ec2"
            ? new FakeError("UnauthorizedOperation", `You are not authorized to perform this operation. User: arn:aws:iam::123456789012:user/byteport is not authorized to perform: ec2:${action}`, 403)
            : new FakeError("AccessDenied", `User: arn:aws:iam::123456789012:user/byteport is not authorized to perform: autoscaling:${action}`, 403)
        }
        const op = (service === "ec2" ? ec2 : asg)[action]
        if (op === undefined) throw new FakeError(service === "ec2" ? "InvalidAction" : "InvalidAction", `The action ${action} is not valid for this web service.`)
        const result = op(params)
        if (MUTATING.has(action)) written.push(entry)
        if (service === "ec2") reply(res, 200, `<${action}Response xmlns="${EC2_NS}">${el("requestId", requestId)}${result}</${action}Response>`)
        else reply(res, 200, `<${action}Response xmlns="${ASG_NS}"><${action}Result>${result}</${action}Result>${el("ResponseMetadata", el("RequestId", requestId))}</${action}Response>`)
      } catch (e) {
        const err = e instanceof FakeError ? e : new FakeError("InternalError", String(e), 500)
        if (service === "ec2") reply(res, err.status, `<Response><Errors><Error>${el("Code", err.code)}${el("Message", err.message)}</Error></Errors>${el("RequestID", requestId)}</Response>`)
        else reply(res, err.status, `<ErrorResponse xmlns="${ASG_NS}"><Error>${el("Type", err.status >= 500 ? "Receiver" : "Sender")}${el("Code", err.code)}${el("Message", err.message)}</Error>${el("RequestId", requestId)}</ErrorResponse>`)
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => [...received],
    writes: () => [...written],
    addGroup: (o) => {
      const az = o.availabilityZone ?? "us-east-1a"
      groups.set(o.name, { name: o.name, desired: o.size, min: o.min ?? 0, max: o.max ?? Math.max(o.size * 2, 1), availabilityZones: [az] })
      return Array.from({ length: o.size }, () => launch(az, o.name).instanceId)
    },
    addInstance: (o = {}) => launch(o.availabilityZone ?? "us-east-1a", undefined, o.tags ?? {}).instanceId,
    addVolume: (o) => {
      const v: FakeVolume = { volumeId: newId("vol"), sizeGiB: o.sizeGiB, availabilityZone: o.availabilityZone ?? "us-east-1a", attachedTo: o.attachedTo }
      volumes.set(v.volumeId, v)
      return v.volumeId
    },
    instance: (id) => {
      settle()
      return instances.get(id)
    },
    group: (name) => groups.get(name),
    volume: (id) => volumes.get(id),
    members: (group) => {
      settle()
      return [...instances.values()].filter((i) => i.group === group)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
